"""Model files: round trips, and a clear error for every kind of bad file."""
import json
import zipfile

import numpy as np
import pytest

import nnfast


def trained(dtype="float64"):
    X, y = nnfast.data.logic_gate("xor")
    return nnfast.MLP([2, 4, 1], "tanh", seed=1, dtype=dtype).fit(X, y, epochs=50, lr=0.5), X


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_round_trip_restores_everything(tmp_path, dtype):
    model, X = trained(dtype)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = nnfast.load(path)
    assert isinstance(loaded, nnfast.MLP) and loaded.dtype == dtype
    assert loaded.layers == model.layers and loaded.activation == model.activation
    assert np.array_equal(loaded.forward(X), model.forward(X))
    assert loaded.loss_curve_ == model.loss_curve_
    assert loaded._rng_state == model._rng_state
    # The loaded model continues training exactly like the original.
    y = nnfast.data.logic_gate("xor")[1]
    model.fit(X, y, epochs=3)
    loaded.fit(X, y, epochs=3)
    assert np.array_equal(loaded.forward(X), model.forward(X))


def test_perceptron_round_trip(tmp_path):
    X, y = nnfast.data.logic_gate("or")
    model = nnfast.Perceptron(2).fit(X, y)
    model.save(tmp_path / "p.npz")
    loaded = nnfast.load(tmp_path / "p.npz")
    assert isinstance(loaded, nnfast.Perceptron)
    assert loaded.errors_ == model.errors_
    assert loaded.predict(X).tolist() == [0, 1, 1, 1]


def rewrite(path, out, change_meta=None, change_arrays=None):
    """Copy a model file, editing its meta record and arrays."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(arrays["meta"].tobytes())
    if change_meta:
        change_meta(meta)
    if change_arrays:
        change_arrays(arrays)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(out, **arrays)
    return out


def edit(key, value):
    def change(meta):
        meta[key] = value
    return change


def set_config(key, value):
    def change(meta):
        meta["config"][key] = value
    return change


BAD_FILES = {
    "another format version": (dict(change_meta=edit("format_version", 99)), "format version 99"),
    "not nnfast": (dict(change_meta=edit("format", "other")), "not an nnfast model"),
    "unknown kind": (dict(change_meta=edit("kind", "Transformer")), "unknown model kind"),
    "huge declared layer": (dict(change_meta=set_config("layers", [2, 10**12, 1])), "invalid layer sizes"),
    "shape mismatch": (dict(change_meta=set_config("layers", [2, 5, 1])), "architecture needs"),
    "wrong dtype": (dict(change_arrays=lambda a: a.update(W0=a["W0"].astype(np.float32))), "architecture needs"),
    "missing array": (dict(change_arrays=lambda a: a.pop("b1")), "b1 is missing"),
    "unknown activation": (dict(change_meta=set_config("activation", "swish")), "unknown activation"),
    "bad rng state": (dict(change_meta=edit("rng_state", "-5")), "rng_state"),
    "NaN weights": (dict(change_arrays=lambda a: a["W0"].__setitem__((0, 0), np.nan)), "NaN"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_refused_with_a_clear_error(tmp_path, case):
    model, _ = trained()
    good = tmp_path / "good.npz"
    model.save(good)
    kwargs, message = BAD_FILES[case]
    bad = rewrite(good, tmp_path / "bad.npz", **kwargs)
    with pytest.raises(nnfast.ModelFileError, match=message):
        nnfast.load(bad)


def test_truncated_garbage_and_pickle_files_are_refused(tmp_path):
    model, _ = trained()
    good = tmp_path / "good.npz"
    model.save(good)
    raw = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "garbage.npz").write_bytes(b"\x00not a zip file at all" * 10)
    with zipfile.ZipFile(tmp_path / "pickle.npz", "w") as zf:  # an object array needs pickle
        import io
        buf = io.BytesIO()
        np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
        zf.writestr("meta.npy", buf.getvalue())
    for name in ("trunc.npz", "garbage.npz", "pickle.npz"):
        with pytest.raises(nnfast.ModelFileError):
            nnfast.load(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        nnfast.load(tmp_path / "missing.npz")


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    model, _ = trained()
    model.save(tmp_path / "m.npz")
    model.save(tmp_path / "m.npz")  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
