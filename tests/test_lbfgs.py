"""MLP.fit(optimizer="lbfgs") and its driver, nnfast.models.lbfgs.minimize_lbfgs.

The reference has no L-BFGS (it needs SciPy): the native run is held to SciPy run over the
reference's loss and gradient, and to scikit-learn's lbfgs solver from the same start."""
import sys
import warnings

import numpy as np
import pytest

import nnfast
from nnfast import reference
from nnfast.models.lbfgs import minimize_lbfgs
from nnfast.models.parameters import split_parameters

from helpers import assert_close

pytest.importorskip("scipy.optimize")


def binary_data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + X[:, 1] ** 2 - 0.5 * X[:, 2] > 0.5).astype(int)
    return X, y


def flat_params(model):
    return np.concatenate([a.ravel() for pair in zip(model.weights, model.biases) for a in pair])


def reference_loss_and_gradient(layers, X, y, alpha, **kw):
    """params -> (loss, gradient) computed by the reference, in the native parameter order."""
    model = reference.MLP(layers, init="zeros", **kw)

    def loss_and_gradient(params):
        weights, biases = split_parameters(np.asarray(params, dtype=np.float64), layers)
        model.weights = [W.tolist() for W in weights]
        model.biases = [b.tolist() for b in biases]
        dW, db = model.gradients(X.tolist(), y.tolist(), alpha=alpha)
        gradient = np.concatenate([np.ravel(a) for pair in zip(dW, db) for a in pair])
        return model.loss(X.tolist(), y.tolist(), alpha=alpha), gradient
    return loss_and_gradient


def test_native_lbfgs_follows_scipy_over_the_reference():
    X, y = binary_data()
    layers = [3, 4, 1]
    model = nnfast.MLP(layers, activation="tanh", seed=4)
    start = flat_params(model)
    model.fit(X, y, optimizer="lbfgs", max_iter=12, alpha=0.1)
    result = minimize_lbfgs(reference_loss_and_gradient(layers, X, y, 0.1, activation="tanh"),
                            start, 12)
    assert result.n_iter == len(model.loss_curve_) == len(result.loss_curve) == 12
    assert_close("loss_curve_", model.loss_curve_, result.loss_curve, 1e-7)
    assert_close("params", flat_params(model), result.params, 1e-6, 1e-9)
    assert_close("final loss", model.loss(X, y, alpha=0.1), result.loss, 1e-9)


def sklearn_lbfgs_from(model, X, y, alpha, max_iter):
    """scikit-learn's MLPClassifier(solver="lbfgs") trained from the weights of model."""
    neural_network = pytest.importorskip("sklearn.neural_network")
    clf = neural_network.MLPClassifier(hidden_layer_sizes=(model.layers[1],),
                                       activation=model.activation, solver="lbfgs",
                                       alpha=alpha, max_iter=1, warm_start=True,
                                       random_state=0, tol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)  # sets up the estimator; its weights are replaced below
        clf.coefs_ = [W.copy() for W in model.weights]
        clf.intercepts_ = [b.copy() for b in model.biases]
        clf.set_params(max_iter=max_iter)
        clf.fit(X, y)
    return clf


@pytest.mark.parametrize("max_iter, rtol", [(20, 1e-9), (300, 1e-4)])
def test_lbfgs_reaches_scikit_learns_lbfgs_loss_from_the_same_start(max_iter, rtol):
    # 20 iterations: the same path, to rounding; 300: both converge (rounding differences
    # steer the two runs apart over a hundred iterations, to nearly the same minimum)
    X, y = binary_data()
    alpha = 0.01
    model = nnfast.MLP([3, 5, 1], activation="tanh", seed=1)
    clf = sklearn_lbfgs_from(model, X, y, alpha, max_iter)
    model.fit(X, y, optimizer="lbfgs", max_iter=max_iter, alpha=alpha)
    # scikit-learn's log-loss with its L2 term alpha / 2 * sum W^2 / n is the native loss
    assert_close("loss", model.loss(X, y, alpha=alpha), clf.loss_, rtol)
    assert_close("loss_curve_[-1]", model.loss_curve_[-1], clf.loss_, rtol)
    if max_iter == 20:
        assert clf.n_iter_ == len(model.loss_curve_) == 20
        assert_close("coefs_[0]", model.weights[0], clf.coefs_[0], 1e-7, 1e-9)


def test_max_iter_bounds_the_iterations_and_epochs_is_the_default():
    X, y = binary_data()
    model = nnfast.MLP([3, 6, 1], seed=2)
    model.fit(X, y, optimizer="lbfgs", max_iter=5)
    assert len(model.loss_curve_) == 5
    model.fit(X, y, optimizer="lbfgs", epochs=7)
    assert len(model.loss_curve_) == 7
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_lbfgs_records_the_validation_loss_of_each_iteration():
    X, y = binary_data(n=80)
    model = nnfast.MLP([3, 4, 1], seed=2).fit(X, y, optimizer="lbfgs", max_iter=10,
                                             validation_fraction=0.25)
    assert len(model.validation_loss_curve_) == len(model.loss_curve_) == 10
    assert model.best_epoch_ == int(np.argmin(model.validation_loss_curve_))


def test_lbfgs_callback_stops_the_run():
    X, y = binary_data()
    seen = []
    model = nnfast.MLP([3, 4, 1], seed=2).fit(
        X, y, optimizer="lbfgs", max_iter=50,
        callback=lambda i, loss, forward: seen.append(loss) or i == 2)
    assert len(seen) == len(model.loss_curve_) == 3
    assert_close("loss at stop", model.loss(X, y), seen[-1], 1e-12)


def blas_threads():
    """{library file: its thread count} of the BLAS libraries loaded (SciPy's among them)."""
    from threadpoolctl import threadpool_info
    return {info["filepath"]: info["num_threads"] for info in threadpool_info()
            if info["user_api"] == "blas"}


def test_scipy_runs_with_its_blas_at_one_thread_and_the_counts_come_back():
    # SciPy's OpenBLAS threads spin after each small call and take the cores the fit's own
    # threads need (models/lbfgs.py); during the run every BLAS library is at one thread
    import scipy.optimize  # noqa: F401  (its BLAS loaded before the counts are read)
    from threadpoolctl import threadpool_limits
    X, y = binary_data()
    with threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        assert before and set(before.values()) == {2}
        during = []
        loss_and_gradient = reference_loss_and_gradient([3, 4, 1], X, y, 0.0)

        def watched(params):
            during.append(blas_threads())
            return loss_and_gradient(params)

        minimize_lbfgs(watched, flat_params(nnfast.MLP([3, 4, 1], seed=1)), 3)
        assert during and all(set(counts.values()) == {1} for counts in during)
        assert blas_threads() == before
        # a run that stops on an exception restores them too
        with pytest.raises(RuntimeError):
            minimize_lbfgs(lambda params: (_ for _ in ()).throw(RuntimeError("stop")),
                           flat_params(nnfast.MLP([3, 4, 1], seed=1)), 3)
        assert blas_threads() == before


def test_nnfast_sklearns_lbfgs_runs_scipy_with_its_blas_at_one_thread(monkeypatch):
    import scipy.optimize
    from threadpoolctl import threadpool_limits
    from nnfast.sklearn import MLPClassifier
    from nnfast.sklearn import _base
    X, y = binary_data()
    during = []
    real_minimize = scipy.optimize.minimize

    def watched(*args, **kwargs):
        during.append(blas_threads())
        return real_minimize(*args, **kwargs)

    monkeypatch.setattr(_base.scipy.optimize, "minimize", watched)
    with threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=5,
                          random_state=0).fit(X, np.ravel(y))
        assert len(during) == 1 and set(during[0].values()) == {1}
        assert blas_threads() == before and set(before.values()) == {2}


def test_lbfgs_trains_float32_models():
    X, y = binary_data()
    model = nnfast.MLP([3, 4, 1], seed=2, dtype="float32").fit(X, y, optimizer="lbfgs",
                                                              max_iter=20)
    assert model.weights[0].dtype == np.float32
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_missing_scipy_is_an_import_error_naming_the_extra(monkeypatch):
    X, y = binary_data()
    model = nnfast.MLP([3, 4, 1], seed=2)
    before = flat_params(model).copy()
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)  # import scipy.optimize fails
    with pytest.raises(ImportError, match=r"nnfast\[lbfgs\]"):
        model.fit(X, y, optimizer="lbfgs")
    np.testing.assert_array_equal(flat_params(model), before)
    with pytest.raises(Exception):
        model.loss_curve_


def test_a_non_finite_lbfgs_run_leaves_the_model_unchanged():
    X, y = binary_data()
    model = nnfast.MLP([3, 4, 1], activation="relu", output="identity", loss="mse", seed=2)
    model.fit(X, y, epochs=2)
    before, state = flat_params(model).copy(), model.rng_state

    def poisoned(params):
        return np.nan, np.zeros_like(params)
    result = minimize_lbfgs(poisoned, before, 5)
    assert not np.isfinite(result.loss)
    with pytest.raises(FloatingPointError, match="left as it was"):
        model.fit(X * 1e200, y * 1e200, optimizer="lbfgs", max_iter=20)
    np.testing.assert_array_equal(flat_params(model), before)
    assert model.rng_state == state and len(model.loss_curve_) == 2


def test_lbfgs_early_stopping_keeps_the_best_iteration():
    X, y = binary_data(n=80)
    X_val, y_val = binary_data(n=40, seed=3)
    y_val = 1 - y_val  # the better the fit, the worse the validation loss
    model = nnfast.MLP([3, 4, 1], seed=2).fit(X, y, optimizer="lbfgs", max_iter=100,
                                             validation_data=(X_val, y_val),
                                             early_stopping=True, patience=3)
    best = model.best_epoch_
    assert len(model.loss_curve_) == best + 1 + 3 < 100
    direct = nnfast.MLP([3, 4, 1], seed=2).fit(X, y, optimizer="lbfgs", max_iter=best + 1)
    assert_close("params", flat_params(model), flat_params(direct), 1e-12, 1e-15)


def test_lbfgs_refuses_a_model_with_dropout_and_leaves_it_unchanged():
    X, y = np.random.default_rng(4).normal(size=(40, 3)), np.arange(40) % 2
    model = nnfast.MLP([3, 6, 2], activation="relu", dropout=0.25, seed=1)
    before = [W.copy() for W in model.weights]
    with pytest.raises(ValueError, match="dropout"):
        model.fit(X, y, optimizer="lbfgs", max_iter=5)
    after = [W.copy() for W in model.weights]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
