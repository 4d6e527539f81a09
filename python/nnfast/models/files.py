"""Model files: a NumPy .npz holding each parameter array and a JSON `meta` record.

Layout (format_version 1):
    meta  uint8 array: UTF-8 JSON {format, format_version, nnfast_version, kind, config,
          rng_state, history}
    W0, b0, W1, b1, ...  the parameters, in the model's dtype

Nothing is ever unpickled: arrays are read with allow_pickle=False, and every field, shape and
dtype is checked against the declared architecture before any parameter data is read.
Compatibility rule: a file is readable by any nnfast that knows its format_version; a newer
format_version is refused with a message naming both versions.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
import zlib
from typing import TYPE_CHECKING, List, Tuple, Union

import numpy as np

from .._validation import allocation
from .._version import __version__
from .parameters import count_parameters

if TYPE_CHECKING:
    from .mlp import MLP
    from .perceptron import Perceptron

FORMAT = "nnfast"
FORMAT_VERSION = 1
MAX_META_BYTES = 1 << 20


class ModelFileError(ValueError):
    """A model file that is not a valid nnfast model (corrupt, truncated, another version)."""


def _network(model):
    """The MLP holding the parameters: the model itself, or a Perceptron's single layer."""
    return getattr(model, "_mlp", model)


def save_model(model, path):
    """Write model to path atomically (a temporary file in the same folder, then a rename)."""
    net = _network(model)
    weights, biases = net.weights, net.biases
    arrays = {}
    for l, (W, b) in enumerate(zip(weights, biases)):
        arrays[f"W{l}"], arrays[f"b{l}"] = W, b
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "nnfast_version": __version__,
        "kind": type(model).__name__, "config": model._config(),
        "rng_state": str(net._rng_state),
        "history": {"loss_curve": net._loss_curve,
                    "errors": getattr(model, "_errors", None)},
    }
    # Optional records the command line keeps beside the network (see _optional_records).
    for key in OPTIONAL_RECORDS:
        if getattr(model, key, None) is not None:
            meta[key] = getattr(model, key)
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


OPTIONAL_RECORDS = ("preprocessing", "classes", "validation")


def _finite_number(v):
    try:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    except OverflowError:  # a JSON integer beyond the float range
        return False


def _numbers(values, length, positive=False):
    return (isinstance(values, list) and len(values) == length
            and all(_finite_number(v) and (v > 0 or not positive) for v in values))


def _optional_records(meta, layers, path):
    """The optional records, checked: preprocessing {"standardize": {"mean", "std"} of one
    number per input, "target_scale": {"mean", "std"}, "columns": {"features", "target"}},
    classes (one distinct label per class) and validation {"metric", "scores"}."""
    records = {key: meta.get(key) for key in OPTIONAL_RECORDS}
    pre, classes, validation = records["preprocessing"], records["classes"], records["validation"]
    problems = []
    if pre is not None:
        standardize = pre.get("standardize") if isinstance(pre, dict) else None
        target_scale = pre.get("target_scale") if isinstance(pre, dict) else None
        columns = pre.get("columns") if isinstance(pre, dict) else None
        if not isinstance(pre, dict):
            problems.append("preprocessing is not a record")
        elif standardize is not None and not (
                isinstance(standardize, dict) and _numbers(standardize.get("mean"), layers[0])
                and _numbers(standardize.get("std"), layers[0], positive=True)):
            problems.append(f"preprocessing.standardize needs {layers[0]} means and positive stds")
        elif target_scale is not None and not (
                isinstance(target_scale, dict) and _numbers([target_scale.get("mean")], 1)
                and _numbers([target_scale.get("std")], 1, positive=True)):
            problems.append("preprocessing.target_scale needs a mean and a positive std")
        elif columns is not None and not (
                isinstance(columns, dict) and isinstance(columns.get("features"), list)
                and len(columns["features"]) == layers[0]
                and all(isinstance(c, str) for c in columns["features"])):
            problems.append(f"preprocessing.columns needs {layers[0]} feature names")
    if classes is not None:
        n_classes = max(layers[-1], 2)
        if not (isinstance(classes, list) and len(classes) == n_classes
                and all(isinstance(c, (str, int, float)) and not isinstance(c, bool)
                        for c in classes) and len(set(classes)) == n_classes):
            problems.append(f"classes must list {n_classes} distinct labels")
    if validation is not None and not (
            isinstance(validation, dict) and isinstance(validation.get("metric"), str)
            and isinstance(validation.get("scores"), list)
            and _numbers(validation["scores"], len(validation["scores"]))):
        problems.append("validation needs a metric name and a list of scores")
    if problems:
        raise ModelFileError(f"{path}: invalid model description ({problems[0]})")
    return records


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
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path}: model file format version {version!r}; this nnfast "
                             f"{__version__} reads version {FORMAT_VERSION}")
    return meta


def load(path: Union[str, os.PathLike[str]]) -> Union[MLP, Perceptron]:
    """Read a model written by save(). Raises ModelFileError (a ValueError) for a file that
    is not a valid nnfast model; FileNotFoundError when there is no file."""
    from .mlp import MLP
    from .perceptron import Perceptron

    kinds = {"MLP": MLP, "Perceptron": Perceptron}
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
        layers = config.get("layers") or [config.get("n_inputs"), config.get("n_outputs")]
        if not isinstance(layers, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 1 << 31
                for n in layers):
            raise ModelFileError(f"{path}: invalid layer sizes {layers!r}")
        dtype = config.get("dtype")
        if dtype not in ("float32", "float64"):
            raise ModelFileError(f"{path}: invalid dtype {dtype!r}")
        try:  # a declared shape too large for this machine is refused before reading
            allocation(count_parameters(layers), np.dtype(dtype).itemsize, f"layers {layers}")
        except (ValueError, MemoryError) as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        # Check every array header before constructing (and allocating) the model.
        shapes: List[Tuple[str, Tuple[int, ...]]] = [
            (f"W{l}", (a, b)) for l, (a, b) in enumerate(zip(layers[:-1], layers[1:]))]
        shapes += [(f"b{l}", (b,)) for l, b in enumerate(layers[1:])]
        unexpected = set(zf.namelist()) - {"meta.npy"} - {name + ".npy" for name, _ in shapes}
        if unexpected:
            raise ModelFileError(f"{path}: arrays {sorted(unexpected)} do not belong to "
                                 f"layers {layers}")
        arrays = {name: _read_member(zf, name, shape, dtype, path) for name, shape in shapes}
        records = _optional_records(meta, layers, path)
        try:
            model = kinds[kind](**config)
            net = _network(model)
            n = len(layers) - 1
            net.set_parameters([arrays[f"W{l}"] for l in range(n)],
                               [arrays[f"b{l}"] for l in range(n)])
            state = int(meta["rng_state"])
            if not 0 <= state < 2**64:
                raise ValueError("rng_state out of range")
            history = meta.get("history") or {}
            if not isinstance(history, dict):
                raise TypeError("history must be a record")
            curve, errors = history.get("loss_curve"), history.get("errors")
            if curve is not None:
                curve = [float(v) for v in curve]
                if not np.isfinite(curve).all():
                    raise ValueError("the loss curve holds NaN or infinity")
            if errors is not None:
                errors = [int(v) for v in errors]
        except (TypeError, ValueError, KeyError) as exc:
            raise ModelFileError(f"{path}: invalid model description ({exc})") from None
        net._rng_state, net._loss_curve = state, curve
        if hasattr(model, "_errors"):
            model._errors = errors
        for key, record in records.items():
            setattr(model, key, record)
        return model
