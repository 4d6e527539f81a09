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
import json
import os
import tempfile
import zipfile

import numpy as np

from .._version import __version__

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
        with zf.open(name + ".npy") as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except KeyError:
        raise ModelFileError(f"{path}: array {name} is missing") from None
    except ModelFileError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path}: array {name} is unreadable ({exc})") from None


def _read_meta(zf, path):
    try:
        info = zf.getinfo("meta.npy")
    except KeyError:
        raise ModelFileError(f"{path}: no 'meta' record; not an nnfast model file") from None
    if info.file_size > MAX_META_BYTES:
        raise ModelFileError(f"{path}: the meta record is {info.file_size} bytes, too large")
    with zf.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)
            shape, _, dtype = header(f)
        except ValueError as exc:
            raise ModelFileError(f"{path}: the meta record is corrupt ({exc})") from None
    if dtype != np.uint8 or len(shape) != 1:
        raise ModelFileError(f"{path}: the meta record must be a uint8 vector")
    raw = _read_member(zf, "meta", shape, np.uint8, path)
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: the meta record is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an nnfast model file")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path}: model file format version {version!r}; this nnfast "
                             f"{__version__} reads version {FORMAT_VERSION}")
    return meta


def load(path):
    """Read a model written by save(). Raises ModelFileError (a ValueError) for a file that
    is not a valid nnfast model; FileNotFoundError when there is no file."""
    from .mlp import MLP
    from .perceptron import Perceptron

    kinds = {"MLP": MLP, "Perceptron": Perceptron}
    path = os.fspath(path)
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ModelFileError(f"{path}: not a model file (not a .npz archive, or truncated)") from None
    with zf:
        meta = _read_meta(zf, path)
        kind, config = meta.get("kind"), meta.get("config")
        if kind not in kinds or not isinstance(config, dict):
            raise ModelFileError(f"{path}: unknown model kind {kind!r}")
        layers = config.get("layers") or [config.get("n_inputs"), config.get("n_outputs")]
        if not all(isinstance(n, int) and 0 < n <= 1 << 31 for n in layers):
            raise ModelFileError(f"{path}: invalid layer sizes {layers!r}")
        dtype = config.get("dtype")
        if dtype not in ("float32", "float64"):
            raise ModelFileError(f"{path}: invalid dtype {dtype!r}")
        # Check every array header before constructing (and allocating) the model.
        shapes = [(f"W{l}", (a, b)) for l, (a, b) in enumerate(zip(layers[:-1], layers[1:]))]
        shapes += [(f"b{l}", (b,)) for l, b in enumerate(layers[1:])]
        arrays = {name: _read_member(zf, name, shape, dtype, path) for name, shape in shapes}
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
            curve, errors = history.get("loss_curve"), history.get("errors")
            if curve is not None:
                curve = [float(v) for v in curve]
            if errors is not None:
                errors = [int(v) for v in errors]
        except (TypeError, ValueError, KeyError) as exc:
            raise ModelFileError(f"{path}: invalid model description ({exc})") from None
        net._rng_state, net._loss_curve = state, curve
        if hasattr(model, "_errors"):
            model._errors = errors
        return model
