"""Argument checks shared by the models, nnfast.ops and the command line.

Each check raises a ValueError or TypeError whose message names the argument and the problem,
before anything is computed or changed. An array already in the form a check returns (a
C-contiguous ndarray of the right dtype and shape) is checked in one native call
(nnfast._core.ready_matrix, ready_indices): the same checks, without the Python-level steps,
which cost tens of microseconds on the small arrays a training loop passes every epoch.
"""
import math
import numbers
import os

import numpy as np

from . import _core, vocabulary

DTYPES = {"float64": np.float64, "float32": np.float32}
PRECISIONS = vocabulary.PRECISIONS
# The core's largest buffer (src/nncore/internal.h, NNI_MAX_ELEMS): 16 bytes per element must
# fit in a ptrdiff_t, so no size computation in the core can overflow.
MAX_ELEMENTS = (2**63 - 1) // 16


def lookup(table, name, what):
    """Return table[name], or raise vocabulary.check_name's ValueError listing the names."""
    vocabulary.check_name(what, name, table)
    return table[name]


def dtype_of(name):
    """The NumPy type for a dtype name ("float64" or "float32")."""
    return lookup(DTYPES, np.dtype(name).name if _is_dtype_like(name) else name, "dtype")


def precision_of(name):
    """The precision name for a model's dtype argument: "float64", "float32" (or a NumPy type
    naming one of them) or "bfloat16"."""
    key = np.dtype(name).name if _is_dtype_like(name) else name
    lookup(PRECISIONS, key, "dtype")
    return key


def storage_dtype_of(name):
    """The NumPy type of a model's parameters, inputs and outputs for its dtype argument
    (precision_of): float32 for "bfloat16"."""
    return DTYPES[PRECISIONS[precision_of(name)][0]]


def _is_dtype_like(value):
    try:
        np.dtype(value)
    except TypeError:
        return False
    return True


def physical_memory():
    """Bytes of memory this machine has, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def allocation(count, itemsize, what):
    """Refuse, before allocating it, a buffer of `count` values that cannot exist: more values
    than the core can index (ValueError), or more bytes than this machine's memory
    (MemoryError). `what` names the argument the buffer comes from."""
    n_bytes, memory = count * itemsize, physical_memory()
    if count > MAX_ELEMENTS:
        raise ValueError(f"{what} needs {count:,} values, more than the core can index "
                         f"({MAX_ELEMENTS:,})")
    if memory is not None and n_bytes > memory:
        raise MemoryError(f"{what} needs {count:,} values ({n_bytes / 2**30:.3g} GiB), more "
                          f"than this machine's {memory / 2**30:.3g} GiB of memory")
    return count


def as_array(value, name) -> np.ndarray:
    """np.asarray(value), with an error naming the argument when it is not array-like (ragged
    nested lists, for instance)."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not a rectangular array of numbers ({exc})") from None


def real_array(value, name) -> np.ndarray:
    """value as an ndarray of real numbers (bool, integer or float; converted exactly later)."""
    arr = as_array(value, name)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def convert(arr, dtype) -> np.ndarray:
    """arr as C-contiguous, aligned `dtype` (a block a dask worker receives may sit unaligned in
    its message buffer; the core reads only aligned arrays); values beyond float32's range
    become inf, which the caller's finiteness check reports (without numpy's overflow
    warning)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.require(arr, dtype=dtype, requirements=["C", "A"])


def as_matrix(X, name, dtype, n_features=None, what="the network") -> np.ndarray:
    """X as a C-contiguous finite 2-D array of `dtype`, copied only when it must be.

    Raises TypeError for non-numeric data and ValueError for a wrong rank, an empty array,
    a wrong number of columns or NaN/inf.
    """
    if _core.ready_matrix(X, dtype, -1, -1 if n_features is None else n_features):
        return X
    arr = real_array(X, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{name} has {arr.shape[1]} features, {what} expects {n_features}")
    return finite(convert(arr, dtype), arr, name)


def ready_rows(X, n_features) -> bool:
    """True when X passes as_matrix as it is in its own dtype: an ndarray of float32 or
    float64, C-contiguous and aligned, of n_features columns and at least one row, every
    value finite (one native pass; False says nothing about X)."""
    return bool(_core.ready_matrix(X, getattr(X, "dtype", None), -1, n_features))


def all_finite(arr) -> bool:
    """True when arr holds no NaN or inf. min and max propagate NaN and show an inf, so this
    reads the array twice and allocates nothing (np.isfinite(arr).all() would build a bool
    copy of X on every call)."""
    if type(arr) is np.ndarray and arr.ndim == 1 and _core.ready_vector(arr, arr.dtype):
        return True  # a contiguous float vector (a model's parameters): one native pass
    arr = np.asarray(arr)
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return True
    return bool(np.isfinite(arr.min()) and np.isfinite(arr.max()))


def finite(out, original, name) -> np.ndarray:
    """out, after checking that every value is finite (naming a float32 overflow as such)."""
    if not all_finite(out):
        overflow = out.dtype == np.float32 and all_finite(np.asarray(original))
        raise ValueError(f"{name} contains NaN or infinity"
                         + (" after conversion to float32 (a value beyond +-3.4e38)"
                            if overflow else ""))
    return out


def as_vector(x, name, dtype, length=None) -> np.ndarray:
    """x as a C-contiguous finite 1-D array of `dtype`."""
    if _core.ready_vector(x, dtype, -1 if length is None else length):
        return x
    arr = real_array(x, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name} has length {arr.shape[0]}, expected {length}")
    return finite(convert(arr, dtype), arr, name)


def positive_int(value, name, allow_none=False, high=2**63 - 1):
    """A positive integer no larger than `high` (by default, the core's int64_t)."""
    if value is None and allow_none:
        return None
    # type(value) is int first: the abstract-class check costs a microsecond a call
    if (type(value) is not int and (isinstance(value, bool)
                                    or not isinstance(value, numbers.Integral))) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value > high:
        raise ValueError(f"{name} must be at most {high}, got {value!r}")
    return int(value)


def row_order(order, n_rows, name="order") -> np.ndarray:
    """order as n_rows int64 row indices in [0, n_rows): the order a caller visits rows in."""
    if _core.ready_indices(order, n_rows):
        return order
    arr = as_array(order, name)
    if arr.dtype.kind not in "iu" or arr.shape != (n_rows,):
        raise ValueError(f"{name} must be {n_rows} integer sample indices, got {arr.dtype} of "
                         f"shape {arr.shape}")
    if arr.min() < 0 or arr.max() >= n_rows:
        raise ValueError(f"{name} holds indices in [{arr.min()}, {arr.max()}], X has {n_rows} "
                         f"rows")
    return np.ascontiguousarray(arr, dtype=np.int64)


def seed(value, name="seed"):
    """A SplitMix64 state: an integer in [0, 2**64)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < 2**64:
        raise ValueError(f"{name} must be an integer in [0, 2**64), got {value!r}")
    return int(value)


def real_in(value, name, low, high=np.inf, low_open=False, high_open=True):
    """A finite real number in [low, high) (open/closed ends as given)."""
    if type(value) is not float and (isinstance(value, bool)
                                     or not isinstance(value, numbers.Real)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if not math.isfinite(value) or too_low or too_high:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name} must be a finite number in {left}{low}, {high}{right}, got {value}")
    return value


def flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def targets(y, n_rows, n_outputs, loss, dtype) -> np.ndarray:
    """y as the (n, n_outputs) target matrix the core trains on.

    cross_entropy takes class indices (n,) in [0, n_outputs) or a (n, n_outputs) matrix;
    binary_cross_entropy and mse take (n,) when n_outputs == 1, or (n, n_outputs).
    """
    low, high = (0.0, 1.0) if loss in PROBABILITY_TARGETS else (-np.inf, np.inf)
    if _core.ready_matrix(y, dtype, n_rows, n_outputs, low, high):
        return y
    ready = _ready_target_vector(y, n_rows, n_outputs, loss, dtype, low, high)
    if ready is not None:
        return ready
    arr = real_array(y, "y")
    if arr.dtype.kind == "b" and arr.shape == (n_rows, n_outputs):
        return np.ascontiguousarray(arr, dtype=dtype)  # 0/1: finite, in every loss's range
    if arr.ndim not in (1, 2):
        raise ValueError(f"y must have shape ({n_rows},) or ({n_rows}, {n_outputs}), "
                         f"got shape {arr.shape}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"y has {arr.shape[0]} rows, X has {n_rows}")
    if not np.isfinite(arr).all():
        raise ValueError("y contains NaN or infinity")
    if arr.ndim == 1 and loss == "cross_entropy":
        if np.any(arr != np.round(arr)):
            raise ValueError("y holds class indices for cross_entropy, and they must be integers")
        if arr.min() < 0 or arr.max() >= n_outputs:
            raise ValueError(f"y holds class indices in [{arr.min():g}, {arr.max():g}], "
                             f"the network has {n_outputs} classes (0..{n_outputs - 1})")
        onehot = np.zeros((n_rows, n_outputs), dtype=dtype)
        onehot[np.arange(n_rows), arr.astype(np.int64)] = 1
        return onehot
    if arr.ndim == 1 and n_outputs == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] != n_outputs:
        accepted = f"({n_rows},) or " if n_outputs == 1 or loss == "cross_entropy" else ""
        raise ValueError(f"y has shape {arr.shape}; the network has {n_outputs} outputs, "
                         f"so y must be {accepted}({n_rows}, {n_outputs})")
    if loss in PROBABILITY_TARGETS and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"y holds values in [{arr.min():g}, {arr.max():g}]; {loss} takes "
                         f"0/1 labels or probabilities in [0, 1]")
    return finite(convert(arr, dtype), arr, "y")


def _ready_target_vector(y, n_rows, n_outputs, loss, dtype, low, high):
    """targets() of a 1-D ndarray y of n_rows numbers in one or two native calls, when it
    passes every check: integer class indices of cross_entropy as one-hot rows, or the
    values of a one-output network as a column (converted as the general path converts
    them, so the same bits). None otherwise: the general path then names the problem."""
    if type(y) is not np.ndarray or y.shape != (n_rows,) or n_rows == 0:
        return None
    if loss == "cross_entropy":
        return _core.one_hot(y, n_outputs, dtype)
    if n_outputs != 1 or y.dtype.kind not in "biuf":
        return None
    # integers and bools convert exactly or round, never overflow: no errstate needed
    column = (y.astype(dtype) if y.dtype.kind in "biu" else convert(y, dtype)).reshape(n_rows, 1)
    return column if _core.ready_matrix(column, dtype, n_rows, 1, low, high) else None


# Losses whose targets are probabilities: outside [0, 1] their loss has no minimum.
PROBABILITY_TARGETS = ("binary_cross_entropy", "cross_entropy")
