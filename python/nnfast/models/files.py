"""Model files: a NumPy .npz holding each parameter array and a JSON `meta` record.

Layout (format_version 3; version 2 is the same without the config dtype "bfloat16"; version
1 also without the config's "dropout" and "huber_delta", whose defaults then apply, and with
one hidden activation name):
    meta  uint8 array: UTF-8 JSON {format, format_version, nnfast_version, kind, config,
          rng_state, history}
    W0, b0, W1, b1, ...  the parameters, in the model's dtype (float32 for "bfloat16")

Nothing is ever unpickled: arrays are read with allow_pickle=False, and every field, shape and
dtype is checked against the declared architecture before any parameter data is read.
Compatibility rule: a file is readable by any nnfast that knows its format_version; a newer
format_version is refused with a message naming both versions. A file is written with the
lowest version that holds it (3 only for a "bfloat16" model), so an older nnfast still reads
every file it can understand.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

from .._validation import PRECISIONS, allocation
from .._version import __version__
from .parameters import count_parameters
from .preprocessing import OPTIONAL_RECORDS

FORMAT = "nnfast"
FORMAT_VERSION = 3  # 2: an MLP's config may hold per-layer activations, dropout, huber_delta
#                     3: its dtype may be "bfloat16"
READABLE_VERSIONS = (1, 2, 3)
MAX_META_BYTES = 1 << 20


class ModelFileError(ValueError):
    """A model file that is not a valid nnfast model (corrupt, truncated, another version)."""


@dataclass
class ModelRecord:
    """A model as data: what a model file holds (see Model.to_record / from_record).

    Attributes
    ----------
    kind : str
        The model's class name ("MLP", "Perceptron").
    config : dict
        Its constructor's arguments; "layers", or "n_inputs" and "n_outputs", give the sizes.
    weights, biases : list of ndarray
        W[l] of shape (n_l, n_{l+1}) and b[l] of shape (n_{l+1},), in the model's dtype.
    rng_state : int
        The random stream's state, in [0, 2**64).
    loss_curve, errors : list or None
        The training history: the loss of each epoch, the perceptron rule's mistakes.
    validation_loss_curve : list or None
        The validation loss of each epoch of the last fit, when it had validation rows.
    best_epoch : int or None
        The 0-based epoch of its lowest validation loss.
    records : dict
        The optional records (nnfast.models.preprocessing): preprocessing, classes,
        validation; absent ones are None.
    """

    kind: str
    config: Dict[str, Any]
    weights: List[np.ndarray]
    biases: List[np.ndarray]
    rng_state: int
    loss_curve: Optional[List[float]] = None
    errors: Optional[List[int]] = None
    records: Optional[Dict[str, Any]] = None
    validation_loss_curve: Optional[List[float]] = None
    best_epoch: Optional[int] = None


def lowest_version(config: Dict[str, Any]) -> int:
    """The lowest format_version that holds config (the compatibility rule above)."""
    return 3 if config.get("dtype") == "bfloat16" else 2


def write_record(record: ModelRecord, path: Union[str, os.PathLike[str]]) -> None:
    """Write record to path atomically (a temporary file in the same folder, then a rename)."""
    arrays: Dict[str, Any] = {}
    for l, (W, b) in enumerate(zip(record.weights, record.biases)):
        arrays[f"W{l}"], arrays[f"b{l}"] = W, b
    meta = {
        "format": FORMAT, "format_version": lowest_version(record.config),
        "nnfast_version": __version__,
        "kind": record.kind, "config": record.config, "rng_state": str(record.rng_state),
        "history": {"loss_curve": record.loss_curve, "errors": record.errors,
                    "validation_loss_curve": record.validation_loss_curve,
                    "best_epoch": record.best_epoch},
    }
    meta.update({key: value for key, value in (record.records or {}).items()
                 if value is not None})
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".nnfast-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _read_member(zf, name, shape, dtype, path):
    """Read one .npy member after checking its header against the expected shape/dtype."""
    try:
        with zf.open(name + ".npy") as f:
            version = np.lib.format.read_magic(f)
            header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)
            found_shape, fortran, found_dtype = header(f)
            if found_shape != tuple(shape) or found_dtype != np.dtype(dtype) or fortran:
                raise ModelFileError(f"{path}: array {name} is {found_dtype}{list(found_shape)}, "
                                     f"the architecture needs {np.dtype(dtype)}{list(shape)}")
            # The member's declared size must be exactly header + data: no trailing payload,
            # and a compressed member cannot inflate beyond what the architecture needs.
            needed = f.tell() + math.prod(shape) * np.dtype(dtype).itemsize
            if zf.getinfo(name + ".npy").file_size != needed:
                raise ModelFileError(f"{path}: array {name} declares "
                                     f"{zf.getinfo(name + '.npy').file_size} bytes, its shape "
                                     f"needs {needed}")
        with zf.open(name + ".npy") as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except KeyError:
        raise ModelFileError(f"{path}: array {name} is missing") from None
    except ModelFileError:
        raise
    except UNREADABLE as exc:
        raise ModelFileError(f"{path}: array {name} is unreadable ({exc})") from None


# What reading a damaged archive member raises: bad headers or CRC, a corrupt deflate stream,
# an unsupported compression method, an encrypted member (RuntimeError), a short read.
UNREADABLE = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error,
              NotImplementedError, RuntimeError)


def _read_meta(zf, path):
    try:
        info = zf.getinfo("meta.npy")
    except KeyError:
        raise ModelFileError(f"{path}: no 'meta' record; not an nnfast model file") from None
    if info.file_size > MAX_META_BYTES:
        raise ModelFileError(f"{path}: the meta record is {info.file_size} bytes, too large")
    try:
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)
            shape, _, dtype = header(f)
    except UNREADABLE as exc:
        raise ModelFileError(f"{path}: the meta record is corrupt ({exc})") from None
    if dtype != np.uint8 or len(shape) != 1:
        raise ModelFileError(f"{path}: the meta record must be a uint8 vector")
    raw = _read_member(zf, "meta", shape, np.uint8, path)
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: the meta record is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an nnfast model file")
    version = meta.get("format_version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise ModelFileError(f"{path}: model file format version {version!r}; this nnfast "
                             f"{__version__} reads versions {READABLE_VERSIONS[0]} to "
                             f"{FORMAT_VERSION}")
    return meta


def _layers(config, path):
    """The layer sizes a config declares: "layers", or a single layer's n_inputs, n_outputs."""
    layers = config.get("layers") or [config.get("n_inputs"), config.get("n_outputs")]
    if not isinstance(layers, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 1 << 31
            for n in layers):
        raise ModelFileError(f"{path}: invalid layer sizes {layers!r}")
    return layers


def _curve(values, name):
    """A recorded curve: None, or a list of finite floats."""
    if values is None:
        return None
    curve = [float(v) for v in values]
    if not np.isfinite(curve).all():
        raise ValueError(f"the {name} holds NaN or infinity")
    return curve


def _fit_results(history):
    """(validation_loss_curve, best_epoch) of the history record, checked: both absent (a fit
    without validation, or a file written before they were recorded) or a curve and an epoch
    within it."""
    curve = _curve(history.get("validation_loss_curve"), "validation loss curve")
    best = history.get("best_epoch")
    if (curve is None) != (best is None):
        raise ValueError("the validation loss curve and best_epoch come together")
    if best is not None and (isinstance(best, bool) or not isinstance(best, int)
                             or not 0 <= best < len(curve)):
        raise ValueError(f"best_epoch {best!r} is not an epoch of the validation loss curve")
    return curve, best


def _history(meta):
    """(rng_state, loss_curve, errors) of the meta record, checked."""
    state = int(meta["rng_state"])
    if not 0 <= state < 2**64:
        raise ValueError("rng_state out of range")
    history = meta.get("history") or {}
    if not isinstance(history, dict):
        raise TypeError("history must be a record")
    curve, errors = _curve(history.get("loss_curve"), "loss curve"), history.get("errors")
    if errors is not None:
        errors = [int(v) for v in errors]
    return state, curve, errors


def read_record(path: Union[str, os.PathLike[str]], kinds: Iterable[str]) -> ModelRecord:
    """Read the record of a file written by write_record, for a model of one of `kinds`.

    Every header field, size and array header is checked before any parameter data is read.
    Raises ModelFileError (a ValueError) for a file that is not a valid nnfast model;
    FileNotFoundError when there is no file.
    """
    path = os.fspath(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError):
        raise ModelFileError(f"{path}: not a model file (not a .npz archive, or truncated)") from None
    with zf:
        meta = _read_meta(zf, path)
        kind, config = meta.get("kind"), meta.get("config")
        if not isinstance(kind, str) or kind not in kinds or not isinstance(config, dict):
            raise ModelFileError(f"{path}: unknown model kind {kind!r}")
        layers = _layers(config, path)
        precision = config.get("dtype")
        if not isinstance(precision, str) or precision not in PRECISIONS:
            raise ModelFileError(f"{path}: invalid dtype {precision!r}")
        dtype = PRECISIONS[precision][0]
        try:  # a declared shape too large for this machine is refused before reading
            allocation(count_parameters(layers), np.dtype(dtype).itemsize, f"layers {layers}")
        except (ValueError, MemoryError) as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        # Check every array header before reading (and allocating) any of them.
        shapes: List[Tuple[str, Tuple[int, ...]]] = [
            (f"W{l}", (a, b)) for l, (a, b) in enumerate(zip(layers[:-1], layers[1:]))]
        shapes += [(f"b{l}", (b,)) for l, b in enumerate(layers[1:])]
        unexpected = set(zf.namelist()) - {"meta.npy"} - {name + ".npy" for name, _ in shapes}
        if unexpected:
            raise ModelFileError(f"{path}: arrays {sorted(unexpected)} do not belong to "
                                 f"layers {layers}")
        arrays = {name: _read_member(zf, name, shape, dtype, path) for name, shape in shapes}
        try:
            state, curve, errors = _history(meta)
            validation_curve, best_epoch = _fit_results(meta.get("history") or {})
        except (TypeError, ValueError, KeyError) as exc:
            raise ModelFileError(f"{path}: invalid model description ({exc})") from None
    n = len(layers) - 1
    return ModelRecord(kind, config, [arrays[f"W{l}"] for l in range(n)],
                       [arrays[f"b{l}"] for l in range(n)], state, curve, errors,
                       {key: meta.get(key) for key in OPTIONAL_RECORDS}, validation_curve,
                       best_epoch)
