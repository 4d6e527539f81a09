"""The mae, huber and poisson losses (and poisson's exp output): their values and gradients in
the reference and the core, whole training runs of both, bad targets, the CLI, ONNX export and
nnfast.sklearn's MLPRegressor against scikit-learn's own."""
import math
import warnings

import numpy as np
import pytest

import nnfast
from nnfast import reference
from cli_helpers import run_nnfast

RNG = np.random.default_rng(21)
X = RNG.normal(size=(37, 4))
Y_REAL = RNG.normal(size=(37, 2))
Y_COUNTS = RNG.poisson(np.exp(0.4 * X[:, :2] + 0.3)).astype(float)

# (loss, output, targets): each new loss with the outputs it takes
CASES = [
    ("mae", "identity", Y_REAL),
    ("mae", "tanh", np.tanh(Y_REAL)),
    ("huber", "identity", 2 * Y_REAL),
    ("huber", "sigmoid", 1 / (1 + np.exp(-Y_REAL))),
    ("poisson", "exp", Y_COUNTS),
]
IDS = [f"{loss}-{output}" for loss, output, _ in CASES]


def model(loss, output, **kwargs):
    return nnfast.MLP([4, 6, 2], ["tanh"], output=output, loss=loss, huber_delta=0.6, seed=3,
                      **kwargs)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("loss,output,Y", CASES, ids=IDS)
def test_whole_runs_agree_with_the_reference(loss, output, Y, optimizer):
    fit = dict(epochs=4, batch_size=10, optimizer=optimizer, lr=0.02, shuffle=True)
    native, ref = model(loss, output), model(loss, output, backend="reference")
    native.fit(X, Y, **fit)
    ref.fit(X, Y, **fit)
    np.testing.assert_allclose(native._params, ref._params, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(native.loss_curve_, ref.loss_curve_, rtol=1e-9, atol=1e-9)
    assert native.loss_curve_[-1] < native.loss_curve_[0]


@pytest.mark.parametrize("loss,output,Y", CASES, ids=IDS)
def test_losses_equal_their_formulas(loss, output, Y):
    net = model(loss, output)
    A = net.forward(X)
    R = A - Y
    want = {
        "mae": np.abs(R).mean(axis=1).mean(),
        "huber": np.where(np.abs(R) <= 0.6, 0.5 * R ** 2, 0.6 * (np.abs(R) - 0.3))
        .mean(axis=1).mean(),
        # e^z - y z with z = log a
        "poisson": (A - Y * np.log(A)).sum(axis=1).mean(),
    }[loss]
    assert math.isclose(net.loss(X, Y), want, rel_tol=1e-12)
    ref = model(loss, output, backend="reference")
    assert math.isclose(ref.loss(X, Y), want, rel_tol=1e-12)


@pytest.mark.parametrize("backend", ["native", "reference"])
@pytest.mark.parametrize("loss,output,Y", CASES, ids=IDS)
def test_gradients_match_finite_differences(loss, output, Y, backend):
    net = model(loss, output, backend=backend)
    Xs, Ys = X[:7], Y[:7]
    dW, db = net.gradients(Xs, Ys, alpha=0.05)
    analytic = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in zip(dW, db)])
    base, numeric, h = net._params.copy(), np.empty_like(analytic), 1e-6
    for i in range(len(base)):
        values = []
        for sign in (1, -1):
            net._params[:] = base
            net._params[i] += sign * h
            values.append(net.loss(Xs, Ys, alpha=0.05))
        numeric[i] = (values[0] - values[1]) / (2 * h)
    net._params[:] = base
    # mae's kink at a = y is nowhere near these points; tolerance for the central difference
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_mae_derivative_is_zero_where_the_output_equals_the_target():
    A = [[0.5, -1.0, 2.0]]
    Y = [[0.5, 0.0, 2.5]]
    assert reference.ops.mae_gradient(A, Y) == [[0.0, -1 / 3, -1 / 3]]
    np.testing.assert_array_equal(nnfast.ops.output_delta(A, A, Y, "identity", "mae"),
                                  [[0.0, -1 / 3, -1 / 3]])


def test_huber_is_quadratic_inside_delta_and_linear_beyond():
    A, Y = [[0.3, 5.0, -5.0]], [[0.0, 0.0, 0.0]]
    want = (0.5 * 0.09 + 2.0 * (5.0 - 1.0) + 2.0 * (5.0 - 1.0)) / 3
    assert math.isclose(reference.ops.huber(A, Y, 2.0), want)
    assert math.isclose(nnfast.ops.huber(A, Y, 2.0), want)
    np.testing.assert_allclose(nnfast.ops.output_delta(A, A, Y, "identity", "huber", 2.0),
                               [[0.1, 2 / 3, -2 / 3]])


def test_poisson_is_computed_from_the_logit():
    """e^z - y z: finite wherever e^z is, even where a = e^z underflows to 0 (log a would be
    -inf) or is near the largest double."""
    Z = [[700.0, -800.0]]
    Y = [[2.0, 3.0]]
    want = math.exp(700.0) - 1400.0 + 0.0 + 2400.0
    for ops in (reference.ops, nnfast.ops):
        value = ops.poisson(Z, Y)
        assert math.isfinite(value) and math.isclose(value, want, rel_tol=1e-12)


@pytest.mark.parametrize("backend", ["native", "reference"])
def test_poisson_refuses_a_negative_target_and_leaves_the_model(backend):
    net = model("poisson", "exp", backend=backend)
    before = net._params.copy()
    Y = Y_COUNTS.copy()
    Y[3, 1] = -1.0
    for call in (lambda: net.fit(X, Y, epochs=2), lambda: net.loss(X, Y),
                 lambda: net.gradients(X, Y)):
        with pytest.raises(ValueError, match="y"):
            call()
    np.testing.assert_array_equal(net._params, before)
    with pytest.raises(ValueError, match="negative"):
        net.fit(X, Y, epochs=1)


def test_poisson_needs_the_exp_output_and_exp_is_an_output_only():
    with pytest.raises(ValueError, match="exp"):
        nnfast.MLP([4, 6, 2], output="identity", loss="poisson")
    with pytest.raises(ValueError, match="activation"):
        nnfast.MLP([4, 6, 2], activation="exp", output="identity")
    assert nnfast.MLP([4, 2], output="exp").loss_name == "poisson"  # its natural loss


@pytest.mark.parametrize("loss,output,Y", CASES, ids=IDS)
def test_float32_stays_close_to_float64(loss, output, Y):
    runs = {}
    for dtype in ("float32", "float64"):
        net = model(loss, output, dtype=dtype)
        net.fit(X.astype(dtype), Y.astype(dtype), epochs=5, batch_size=8, lr=0.02)
        runs[dtype] = net
    np.testing.assert_allclose(runs["float32"]._params, runs["float64"]._params, atol=1e-4)
    np.testing.assert_allclose(runs["float32"].loss_curve_, runs["float64"].loss_curve_,
                               rtol=1e-4)


def test_predict_returns_the_outputs_of_a_regression_loss():
    for loss, output, Y in CASES:
        net = model(loss, output)
        np.testing.assert_array_equal(net.predict(X), net.forward(X))


def test_onnx_export_of_an_exp_output_and_per_layer_activations():
    ort = pytest.importorskip("onnxruntime")
    net = nnfast.MLP([4, 6, 5, 2], ["relu", "tanh"], output="exp", seed=2)
    proto = net.to_onnx()
    session = ort.InferenceSession(proto.SerializeToString())
    got = session.run(["variable"], {"input": X})[0]
    np.testing.assert_allclose(got, net.forward(X), rtol=1e-12)


def test_cli_trains_and_describes_the_new_losses(tmp_path):
    data = tmp_path / "counts.npy"
    np.save(data, np.column_stack([X, Y_COUNTS[:, 0]]))
    out = tmp_path / "m.npz"
    result = run_nnfast("train", data, "--task", "regression", "--layers", "6", "--loss",
                        "poisson", "--epochs", "4", "--lr", "0.01", "--out", out, "--quiet",
                        check=0)
    assert "output exp, loss poisson" in result.stdout
    trained = nnfast.load(out)
    assert (trained.output, trained.loss_name) == ("exp", "poisson")
    run_nnfast("train", data, "--task", "regression", "--layers", "6", "--loss", "huber",
               "--huber-delta", "0.25", "--epochs", "2", "--out", out, "--quiet", check=0)
    assert nnfast.load(out).huber_delta == 0.25
    info = run_nnfast("info", out, check=0).stdout
    assert "loss huber (delta 0.25)" in info and "task: regression" in info
    predicted = run_nnfast("predict", out, data, check=0).stdout.split()
    assert predicted[0] == "prediction" and len(predicted) == len(X) + 1


# ---- nnfast.sklearn ---------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_sklearn_poisson_regressor_matches_scikit_learn(solver):
    from sklearn.neural_network import MLPRegressor as Theirs

    from nnfast.sklearn import MLPRegressor

    y = Y_COUNTS[:, 0]
    settings = dict(loss="poisson", hidden_layer_sizes=(8,), random_state=0, max_iter=15,
                    solver=solver, learning_rate_init=0.01, batch_size=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = Theirs(**settings).fit(X, y)
        ours = MLPRegressor(**settings).fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    assert math.isclose(ours.loss_, theirs.loss_, rel_tol=1e-9)
    if solver != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-8)


def test_sklearn_poisson_with_sample_weights_matches_scikit_learn():
    from sklearn.neural_network import MLPRegressor as Theirs

    from nnfast.sklearn import MLPRegressor

    y, weights = Y_COUNTS[:, 1], RNG.uniform(0.5, 2.0, size=len(X))
    settings = dict(loss="poisson", hidden_layer_sizes=(5,), random_state=1, max_iter=6,
                    batch_size=8, learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = Theirs(**settings).fit(X, y, sample_weight=weights)
        ours = MLPRegressor(**settings).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)


@pytest.mark.parametrize("loss,core", [("absolute_error", "mae"), ("huber", "huber")])
def test_sklearn_regression_extras_report_the_core_loss(loss, core):
    from nnfast.sklearn import MLPRegressor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MLPRegressor(loss=loss, huber_delta=0.5, hidden_layer_sizes=(6,),
                           random_state=0, max_iter=20, solver="lbfgs", alpha=0.0).fit(
            X, Y_REAL[:, 0])
    assert est.out_activation_ == "identity"
    net = nnfast.MLP([4, 6, 1], "relu", output="identity", loss=core, huber_delta=0.5)
    net.set_parameters(est.coefs_, est.intercepts_)
    assert math.isclose(est.loss_, net.loss(X, Y_REAL[:, 0]), rel_tol=1e-9)
    assert est.score(X, Y_REAL[:, 0]) > -1.0


def test_sklearn_defaults_are_scikit_learns_and_dropout_is_an_extra():
    from sklearn.neural_network import MLPClassifier as TheirClassifier

    from nnfast.sklearn import MLPClassifier, MLPRegressor

    assert MLPRegressor().get_params()["loss"] == "squared_error"
    assert MLPRegressor().get_params()["dropout"] == 0.0
    assert MLPClassifier().get_params()["dropout"] == 0.0
    y = (X[:, 0] > 0).astype(int)
    settings = dict(hidden_layer_sizes=(6, 5), random_state=0, max_iter=8, batch_size=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = TheirClassifier(**settings).fit(X, y)
        plain = MLPClassifier(**settings).fit(X, y)
        dropped = MLPClassifier(dropout=[0.3, 0.1], **settings).fit(X, y)
        again = MLPClassifier(dropout=[0.3, 0.1], **settings).fit(X, y)
    np.testing.assert_allclose(plain.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert dropped.loss_curve_ != plain.loss_curve_
    assert dropped.loss_curve_ == again.loss_curve_  # random_state seeds the masks


@pytest.mark.parametrize("arguments,match", [
    (dict(dropout=1.0), "dropout"), (dict(dropout=-0.1), "dropout"),
    (dict(dropout=[0.1, 0.2]), "dropout"), (dict(loss="hinge"), "loss"),
    (dict(loss="huber", huber_delta=0.0), "huber_delta"),
    (dict(dropout=0.2, solver="lbfgs"), "dropout"),
])
def test_sklearn_refuses_bad_extras_by_name(arguments, match):
    from nnfast.sklearn import MLPRegressor

    est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, **arguments)
    with pytest.raises(ValueError, match=match):
        est.fit(X, Y_REAL[:, 0])
    assert not hasattr(est, "coefs_")


def test_sklearn_poisson_refuses_negative_targets():
    from nnfast.sklearn import MLPRegressor

    with pytest.raises(ValueError, match="y"):
        MLPRegressor(loss="poisson", hidden_layer_sizes=(4,), max_iter=2).fit(X, Y_REAL[:, 0])
