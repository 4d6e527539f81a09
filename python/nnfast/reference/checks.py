"""What the reference models accept, and the targets they train on.

The argument checks (shapes, types, ranges: a clear error naming the problem, before any
state changes) and how targets y of shape (n,) or (n, K) become the (n, K) matrix Y the
losses read, by loss (VECTOR_TARGETS).
"""

import math
import numbers


# ---------------------------------------------------------------- arguments

def is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def is_vector(x):
    """True when x is a non-empty sequence of numbers (one sample, or y of shape (n,))."""
    return len(x) > 0 and all(is_number(v) for v in x)


def as_matrix(X, name="X"):
    """Copy X into a non-empty rectangle of finite floats. X (n, d) -> list of n rows."""
    try:
        rows = [list(row) for row in X]
    except TypeError:
        raise TypeError(f"{name} must be a 2-D list of rows (n_samples, n_columns)") from None
    if not rows or not rows[0]:
        raise ValueError(f"{name} is empty")
    for i, row in enumerate(rows):
        if len(row) != len(rows[0]):
            raise ValueError(f"{name} is not rectangular: row 0 has {len(rows[0])} values, "
                             f"row {i} has {len(row)}")
        for v in row:
            if not is_number(v):
                raise TypeError(f"{name}[{i}] holds {v!r}, which is not a number")
            if not math.isfinite(v):
                raise ValueError(f"{name}[{i}] holds {v}: {name} must not contain NaN or infinity")
    return [[float(v) for v in row] for row in rows]


def check_features(X, n_inputs):
    """X as a matrix with n_inputs columns."""
    X = as_matrix(X, "X")
    if len(X[0]) != n_inputs:
        raise ValueError(f"X has {len(X[0])} features, the network expects {n_inputs}")
    return X


def check_int(name, value, low=1, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return int(value)


def check_float(name, value, low=0.0, high=math.inf, low_open=False):
    """value as a float: finite, low <= value <= high (low < value when low_open)."""
    if not is_number(value):
        raise TypeError(f"{name} must be a number, got {value!r}")
    above = value > low if low_open else value >= low
    if not (math.isfinite(value) and above and value <= high):
        bounds = f"{'>' if low_open else '>='} {low}"
        bounds += f" and <= {high}" if high < math.inf else ""
        raise ValueError(f"{name} must be finite and {bounds}, got {value}")
    return float(value)


def check_bool(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_weights(sample_weight, n):
    """None, or n finite weights >= 0 with a positive sum, as a list of floats."""
    if sample_weight is None:
        return None
    weights = [float(w) for w in sample_weight]
    if len(weights) != n:
        raise ValueError(f"sample_weight has {len(weights)} values for {n} samples")
    if not all(math.isfinite(w) and w >= 0 for w in weights) or not sum(weights) > 0:
        raise ValueError("sample_weight must be finite, >= 0 and have a positive sum")
    return weights


def check_layers(layers):
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__"):
        raise TypeError(f"layers must be a list of ints like [2, 4, 1], got {layers!r}")
    if len(layers) < 2:
        raise ValueError(f"layers needs at least 2 sizes (inputs and outputs), got {list(layers)}")
    return [check_int(f"layers[{i}]", n) for i, n in enumerate(layers)]


# ---------------------------------------------------------------- targets

def one_hot(y, K):
    """Class indices (n,) -> one-hot rows (n, K)."""
    rows = []
    for i, c in enumerate(y):
        if c != int(c):
            raise ValueError(f"y[{i}] = {c} is not a class index (an integer)")
        if not 0 <= c < K:
            raise ValueError(f"class index y[{i}] = {c} is out of range for {K} outputs "
                             f"(0..{K - 1})")
        rows.append([1.0 if k == c else 0.0 for k in range(K)])
    return rows


def column(y, K):
    """Values (n,) -> one-column rows (n, 1); only when the network has K = 1 output."""
    if K != 1:
        raise ValueError(f"y has shape (n,) but the network has {K} outputs: "
                         f"pass y of shape (n, {K})")
    return [[float(v)] for v in y]


VECTOR_TARGETS = {  # how y of shape (n,) becomes (n, K), by loss
    "cross_entropy": one_hot,
    "binary_cross_entropy": column,
    "mse": column,
    "mae": column,
    "huber": column,
    "poisson": column,
}


def check_counts(Y, loss):
    """poisson's targets are counts or rates: y >= 0 (y log a has no meaning below 0)."""
    if loss == "poisson" and any(v < 0 for row in Y for v in row):
        raise ValueError("y holds a negative value: the poisson loss needs targets y >= 0")
    return Y


def check_targets(y, n, K, loss):
    """y (n,) or (n, K) -> a matrix (n, K) of finite floats, by VECTOR_TARGETS[loss]."""
    try:
        vector = is_vector(y)
    except TypeError:
        raise TypeError(f"y must be a list of shape (n,) or (n, K), got {y!r}") from None
    if vector:
        if any(not math.isfinite(v) for v in y):
            raise ValueError("y must not contain NaN or infinity")
        Y = VECTOR_TARGETS[loss](list(y), K)
    else:
        Y = as_matrix(y, "y")
        if len(Y[0]) != K:
            raise ValueError(f"y has {len(Y[0])} columns, the network has {K} outputs")
    if len(Y) != n:
        raise ValueError(f"X has {n} rows but y has {len(Y)}")
    return check_counts(Y, loss)
