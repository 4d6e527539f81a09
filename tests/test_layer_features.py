"""Per-layer activations and dropout: the reference and the native core build and train the
same network (docs/semantics.md, "Activations" and "Dropout"), bad descriptions are refused by
name, and model files keep every new field."""
import json
import os
import zipfile

import numpy as np
import pytest

import nnfast
from nnfast import reference
from nnfast.reference.rng import GOLDEN_GAMMA, MASK64
from cli_helpers import assert_one_line_error, run_nnfast
from helpers import classification_data

LAYERS = [4, 7, 5, 3]
DATA = os.path.join(os.path.dirname(__file__), "data")


def fit_pair(layers, X, y, fit, **model):
    """The native and the reference model after the same fit (float64)."""
    native = nnfast.MLP(layers, **model)
    ref = nnfast.MLP(layers, backend="reference", **model)
    native.fit(X, y, **fit)
    ref.fit(X, y, **fit)
    return native, ref


def assert_same_run(native, ref, tol=1e-9):
    np.testing.assert_allclose(native._params, ref._params, rtol=tol, atol=tol)
    np.testing.assert_allclose(native.loss_curve_, ref.loss_curve_, rtol=tol, atol=tol)
    assert native.rng_state == ref.rng_state


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("model", [
    dict(activation=["relu", "tanh"]),
    dict(activation=["tanh", "sigmoid"], dropout=0.3),
    dict(activation=["relu", "identity"], dropout=[0.5, 0.0]),
    dict(activation="tanh", dropout=[0.0, 0.25]),
], ids=["acts", "acts+dropout", "dropout-first", "dropout-second"])
def test_whole_runs_agree_with_the_reference(model, optimizer):
    X, y = classification_data(n=41, n_features=4, n_classes=3, seed=3)
    native, ref = fit_pair(LAYERS, X, y, dict(epochs=4, batch_size=9, optimizer=optimizer,
                                              lr=0.05, shuffle=True), seed=11, **model)
    assert_same_run(native, ref)
    assert native.loss_curve_[-1] != native.loss_curve_[0]


def test_dropout_masks_follow_the_documented_draw_order():
    """One epoch without shuffle: the stream advances by one draw per unit of each dropout
    layer and row (SplitMix64 adds its gamma per draw), and by nothing for a rate of 0."""
    X, y = classification_data(n=10, n_features=4, n_classes=3, seed=1)
    for dropout, units in (([0.4, 0.0], 7), ([0.0, 0.2], 5), ([0.1, 0.1], 12)):
        model = nnfast.MLP(LAYERS, "tanh", seed=5, dropout=dropout)
        before = model.rng_state
        model.fit(X, y, epochs=1, batch_size=4, shuffle=False)
        assert model.rng_state == (before + GOLDEN_GAMMA * units * len(X)) & MASK64


def test_dropout_masks_drop_at_the_rate_and_scale_the_kept_units():
    rng = reference.SplitMix64(9)
    S = reference.ops.dropout_mask(rng, 200, 50, 0.3)
    values = {v for row in S for v in row}
    assert values == {0.0, 1 / 0.7}
    dropped = sum(v == 0 for row in S for v in row) / 10000
    assert abs(dropped - 0.3) < 0.02
    # nnfast.ops draws the same mask from the same stream
    again = reference.SplitMix64(9)
    np.testing.assert_array_equal(nnfast.ops.dropout_mask(again, 200, 50, 0.3), S)
    assert again.state == rng.state


def test_dropout_changes_training_only():
    X, y = classification_data(n=30, n_features=4, n_classes=3, seed=2)
    plain = nnfast.MLP(LAYERS, "relu", seed=4)
    dropped = nnfast.MLP(LAYERS, "relu", seed=4, dropout=0.5)
    np.testing.assert_array_equal(plain.forward(X), dropped.forward(X))
    assert plain.loss(X, y) == dropped.loss(X, y)
    for a, b in zip(plain.gradients(X, y)[0], dropped.gradients(X, y)[0]):
        np.testing.assert_array_equal(a, b)
    plain.fit(X, y, epochs=2, batch_size=8)
    dropped.fit(X, y, epochs=2, batch_size=8)
    assert not np.allclose(plain._params, dropped._params)
    # a rate of 0 everywhere is the network without dropout, draw for draw
    zero = nnfast.MLP(LAYERS, "relu", seed=4, dropout=[0.0, 0.0])
    zero.fit(X, y, epochs=2, batch_size=8)
    np.testing.assert_array_equal(zero._params, plain._params)
    assert zero.rng_state == plain.rng_state


def test_general_and_small_engine_paths_agree_with_per_layer_activations(monkeypatch):
    X, y = classification_data(n=33, n_features=4, n_classes=3, seed=6)
    fused = nnfast.MLP(LAYERS, ["relu", "sigmoid"], seed=2)
    fused.fit(X, y, epochs=3, batch_size=8)
    monkeypatch.setenv("NNFAST_SMALL_ENGINE", "0")
    general = nnfast.MLP(LAYERS, ["relu", "sigmoid"], seed=2)
    general.fit(X, y, epochs=3, batch_size=8)
    np.testing.assert_allclose(fused._params, general._params, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("backend", ["native", "reference"])
def test_gradients_of_per_layer_activations_match_finite_differences(backend):
    X, y = classification_data(n=6, n_features=4, n_classes=3, seed=8)
    model = nnfast.MLP(LAYERS, ["tanh", "sigmoid"], seed=1, backend=backend)
    dW, db = model.gradients(X, y, alpha=0.1)
    analytic = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in zip(dW, db)])
    numeric = np.empty_like(analytic)
    base = model._params.copy()
    for i in range(len(base)):
        for sign in (1, -1):
            model._params[:] = base
            model._params[i] += sign * 1e-6
            value = model.loss(X, y, alpha=0.1)
            numeric[i] = value if sign == 1 else (numeric[i] - value) / 2e-6
    model._params[:] = base
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_float32_runs_stay_close_to_float64():
    X, y = classification_data(n=40, n_features=4, n_classes=3, seed=4)
    runs = {}
    for dtype in ("float32", "float64"):
        model = nnfast.MLP(LAYERS, ["relu", "tanh"], seed=3, dtype=dtype, dropout=[0.2, 0.1])
        model.fit(X.astype(dtype), y, epochs=5, batch_size=10, optimizer="adam", lr=0.01)
        runs[dtype] = model
    np.testing.assert_allclose(runs["float32"]._params, runs["float64"]._params, atol=2e-4)
    np.testing.assert_allclose(runs["float32"].loss_curve_, runs["float64"].loss_curve_,
                               rtol=1e-4)


@pytest.mark.parametrize("arguments,name", [
    (dict(dropout=1.0), "dropout"),
    (dict(dropout=-0.1), "dropout"),
    (dict(dropout=[0.1, 1.0]), "dropout"),
    (dict(dropout=[0.1]), "dropout"),
    (dict(dropout="0.2"), "dropout"),
    (dict(activation=["relu"]), "activation"),
    (dict(activation=["relu", "tanh", "relu"]), "activation"),
    (dict(activation=["relu", "swish"]), "activation[1]"),
    (dict(activation=["relu", "softmax"]), "activation[1]"),
    (dict(loss="hinge"), "loss"),
    (dict(output="identity", loss="huber", huber_delta=0.0), "huber_delta"),
    (dict(output="identity", loss="huber", huber_delta=-1.0), "huber_delta"),
    (dict(output="identity", loss="poisson"), "poisson"),
], ids=lambda v: str(v))
@pytest.mark.parametrize("backend", ["native", "reference"])
def test_bad_descriptions_are_refused_by_name(arguments, name, backend):
    with pytest.raises((ValueError, TypeError), match=name.replace("[", r"\[")):
        nnfast.MLP(LAYERS, backend=backend, **arguments)


def test_the_reference_model_refuses_the_same_descriptions():
    for arguments, name in ((dict(dropout=1), "dropout"), (dict(activation=["relu"]), "activation"),
                            (dict(huber_delta=0, loss="huber", output="identity"), "huber_delta")):
        with pytest.raises((ValueError, TypeError), match=name):
            reference.MLP(LAYERS, **arguments)


def test_attributes_name_each_hidden_layer():
    model = nnfast.MLP(LAYERS, ["relu", "tanh"], dropout=0.2)
    assert model.activations == ["relu", "tanh"] and model.activation == ["relu", "tanh"]
    assert model.dropout == [0.2, 0.2] and model.huber_delta == 1.0
    single = nnfast.MLP(LAYERS, "tanh")
    assert single.activation == "tanh" and single.activations == ["tanh", "tanh"]
    assert single.dropout == [0.0, 0.0]
    assert "dropout=[0.2, 0.2]" in repr(model)


def test_model_files_round_trip_the_new_fields(tmp_path):
    X, y = classification_data(n=20, n_features=4, n_classes=3, seed=5)
    model = nnfast.MLP(LAYERS, ["relu", "tanh"], dropout=[0.3, 0.1], seed=6, dtype="float32")
    model.fit(X.astype(np.float32), y, epochs=2, batch_size=5)
    model.save(tmp_path / "m.npz")
    loaded = nnfast.load(tmp_path / "m.npz")
    assert (loaded.activations, loaded.dropout, loaded.dtype) == (["relu", "tanh"],
                                                                  [0.3, 0.1], "float32")
    np.testing.assert_array_equal(loaded.forward(X.astype(np.float32)),
                                  model.forward(X.astype(np.float32)))
    assert loaded.rng_state == model.rng_state
    # training goes on identically, masks included
    model.fit(X.astype(np.float32), y, epochs=1, batch_size=5)
    loaded.fit(X.astype(np.float32), y, epochs=1, batch_size=5)
    np.testing.assert_array_equal(loaded._params, model._params)
    with zipfile.ZipFile(tmp_path / "m.npz") as zf, zf.open("meta.npy") as f:
        meta = json.loads(np.lib.format.read_array(f).tobytes())
    assert meta["format_version"] == 2
    assert meta["config"]["dropout"] == [0.3, 0.1]


def test_reference_files_round_trip_the_new_fields(tmp_path):
    model = reference.MLP([3, 4, 2, 1], ["relu", "tanh"], output="identity", loss="huber",
                          dropout=[0.2, 0.0], huber_delta=0.5, seed=2)
    model.save(tmp_path / "m.json")
    loaded = reference.load(tmp_path / "m.json")
    assert (loaded.activations, loaded.dropout, loaded.huber_delta, loaded.loss_name) == \
        (["relu", "tanh"], [0.2, 0.0], 0.5, "huber")
    assert loaded.weights == model.weights
    # a version 1 file (no dropout, no huber_delta) still loads
    data = json.loads((tmp_path / "m.json").read_text())
    for key in ("dropout", "huber_delta"):
        del data[key]
    data.update(format_version=1, activation="tanh", loss="mse")
    (tmp_path / "v1.json").write_text(json.dumps(data))
    old = reference.load(tmp_path / "v1.json")
    assert old.activations == ["tanh", "tanh"] and old.dropout == [0.0, 0.0]


def test_a_version_1_file_still_loads():
    """tests/data/mlp_format_v1.npz was written by nnfast before format version 2: a
    [3, 4, 1] tanh network, seed 5, fit 3 epochs (batch 5) on the data below."""
    model = nnfast.load(os.path.join(DATA, "mlp_format_v1.npz"))
    assert model.layers == [3, 4, 1] and model.activations == ["tanh"]
    assert model.dropout == [0.0] and model.huber_delta == 1.0
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    np.testing.assert_allclose(model.forward(X[:2]).ravel(),
                               [0.4339439820030128, 0.47258818544630393], rtol=1e-12)
    np.testing.assert_allclose(model.loss_curve_,
                               [0.72908584980139, 0.6884920179322901, 0.6516423429802928])


def test_cli_trains_per_layer_activations_and_dropout(tmp_path):
    out = tmp_path / "m.npz"
    result = run_nnfast("train", "iris", "--layers", "8,6", "--activation", "relu,tanh",
                        "--dropout", "0.2,0.1", "--epochs", "3", "--out", out, "--quiet",
                        check=0)
    assert "hidden relu,tanh" in result.stdout and "dropout 0.2,0.1" in result.stdout
    model = nnfast.load(out)
    assert model.activations == ["relu", "tanh"] and model.dropout == [0.2, 0.1]
    info = run_nnfast("info", out, check=0).stdout
    assert "hidden relu,tanh" in info and "dropout: 0.2, 0.1" in info
    # one rate for every layer
    run_nnfast("train", "iris", "--layers", "8,6", "--dropout", "0.3", "--epochs", "1",
               "--out", out, "--quiet", check=0)
    assert nnfast.load(out).dropout == [0.3, 0.3]


@pytest.mark.parametrize("flags,words", [
    (["--activation", "relu,tanh"], ["activation", "1 hidden layer"]),
    (["--dropout", "0.1,0.2"], ["dropout", "1 hidden layer"]),
    (["--loss", "poisson"], ["--loss", "regression"]),
])
def test_cli_refuses_bad_flags_in_one_line(tmp_path, flags, words):
    result = run_nnfast("train", "iris", "--layers", "8", "--epochs", "1", *flags,
                        "--out", tmp_path / "m.npz", "--quiet")
    assert_one_line_error(result, *words)
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("flags,words", [
    (["--activation", "relu,swish"], ["--activation", "swish"]),
    (["--dropout", "1"], ["--dropout", "[0, 1)"]),
    (["--huber-delta", "0"], ["--huber-delta", "> 0"]),
])
def test_cli_refuses_malformed_flags_as_usage_errors(tmp_path, flags, words):
    """argparse's usage message, then one line naming the flag; no traceback."""
    result = run_nnfast("train", "iris", "--layers", "8", "--epochs", "1", *flags,
                        "--out", tmp_path / "m.npz", "--quiet")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert all(word in last for word in words), last
    assert not (tmp_path / "m.npz").exists()


def test_c_header_export_has_per_layer_activations(tmp_path):
    model = nnfast.MLP([3, 4, 5, 2], ["relu", "sigmoid"], output="exp", loss="poisson")
    model.save(tmp_path / "m.npz")
    run_nnfast("export", tmp_path / "m.npz", "--c", tmp_path / "m.h", check=0)
    text = (tmp_path / "m.h").read_text()
    assert "relu, sigmoid, exp" in text and "exp(z[j])" in text


def test_dropout_masks_are_the_same_for_any_thread_count():
    # 64 rows x 256 units = 16384 draws a batch: the layer's masks are drawn in parallel
    # chunks; each value's draw is the stream's draw at its index, so every count trains the
    # same network and leaves the same stream state
    rng = np.random.default_rng(5)
    X = rng.normal(size=(192, 20)).astype(np.float32)
    y = rng.integers(0, 3, 192)
    runs = []
    previous = nnfast.get_num_threads()
    try:
        for threads in (1, 2, 3):
            nnfast.set_num_threads(threads)
            model = nnfast.MLP([20, 256, 3], activation="relu", dropout=0.3, seed=2,
                               dtype="float32")
            model.fit(X, y, epochs=2, batch_size=64, lr=0.05)
            runs.append(([W.copy() for W in model.weights], model.rng_state))
    finally:
        nnfast.set_num_threads(previous)
    for weights, state in runs[1:]:
        assert state == runs[0][1]
        assert all(np.array_equal(a, b) for a, b in zip(weights, runs[0][0]))
