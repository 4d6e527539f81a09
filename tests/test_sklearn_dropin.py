"""nnfast.sklearn as a drop-in for what code reaches beyond the public API: the dtype of X,
scikit-learn's private surface (the optimizer object, L-BFGS's packing and objective), a
diverging run, and the warning filters written for scikit-learn.

Each comparison runs scikit-learn's own estimator beside ours on the same data and seed; the
`native_only` fixture proves that ours trained in the core (scikit-learn's numpy forward and
backward passes are never called for an nnfast estimator)."""
import itertools
import warnings

import nnfast
import numpy as np
import pytest
from sklearn import linear_model, neural_network
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer
from sklearn.preprocessing import LabelBinarizer, StandardScaler

from nnfast.sklearn import MLPClassifier, MLPRegressor, Perceptron

from helpers import assert_close

NON_FINITE = ("Solver produced non-finite parameter weights. The input data may contain large"
              " values and need to be preprocessed.")
SCIKIT_LEARN = {MLPClassifier: neural_network.MLPClassifier,
                MLPRegressor: neural_network.MLPRegressor}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Results are bit-identical for any thread count; one thread keeps these small fits fast
    # on a loaded machine, where waiting OpenMP threads spin.
    before = nnfast.get_num_threads()
    nnfast.set_num_threads(1)
    yield
    nnfast.set_num_threads(before)


@pytest.fixture
def native_only(monkeypatch):
    """Counts the calls of scikit-learn's numpy arithmetic made for nnfast estimators; the
    test fails unless it stays at zero."""
    calls = {}
    base = neural_network._multilayer_perceptron.BaseMultilayerPerceptron
    for name in ("_backprop", "_forward_pass", "_forward_pass_fast"):
        original = getattr(base, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            if type(self).__module__.startswith("nnfast"):
                calls[_name] = calls.get(_name, 0) + 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(base, name, counted)
    yield calls
    assert calls == {}, f"scikit-learn's own code trained or predicted: {calls}"


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kw)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


def target(estimator, X, y):
    return y if estimator is MLPClassifier else X[:, 0]


def test_native_only_counts_scikit_learn_arithmetic(iris):
    """The fixture can fail: weights that are not finite (a diverged run being scored) go
    through scikit-learn's own forward pass, and it is counted."""
    X, _ = iris
    calls = {}
    base = neural_network._multilayer_perceptron.BaseMultilayerPerceptron
    original = base._forward_pass_fast

    def counted(self, *args, **kwargs):
        calls["_forward_pass_fast"] = calls.get("_forward_pass_fast", 0) + 1
        return original(self, *args, **kwargs)

    base._forward_pass_fast = counted
    try:
        estimator = quiet(MLPRegressor(loss="poisson", max_iter=2).fit, X, np.abs(X[:, 0]))
        assert calls == {}  # poisson trains and predicts in the core
        estimator.coefs_[0][0, 0] = np.nan
        estimator.predict(X)
    finally:
        base._forward_pass_fast = original
    assert calls["_forward_pass_fast"] > 0


# ---- 1. the dtype of X ---------------------------------------------------------------------

@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_follow_x_as_in_scikit_learn(iris, estimator, solver, dtype, native_only):
    X, y = iris
    X = X.astype(dtype)
    kw = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=5, random_state=0)
    ours = quiet(estimator(**kw).fit, X, target(estimator, X, y))
    theirs = quiet(SCIKIT_LEARN[estimator](**kw).fit, X, target(estimator, X, y))
    for name in ("coefs_", "intercepts_"):
        assert [a.dtype for a in getattr(ours, name)] == [a.dtype for a in getattr(theirs, name)]
    # sgd/adam keep float32 X's float32; L-BFGS trains in float64 (scipy's vectors)
    assert ours.coefs_[0].dtype == (dtype if solver != "lbfgs" else np.float64)
    assert ours.predict(X).dtype == theirs.predict(X).dtype
    if estimator is MLPClassifier:
        assert ours.predict_proba(X).dtype == theirs.predict_proba(X).dtype
    # np.float64, but float32 for a regression on float32 X and y, in scikit-learn as here
    assert type(ours.loss_) is type(theirs.loss_)
    assert type(ours.loss_) is (np.float32 if dtype == np.float32 and estimator is MLPRegressor
                                else np.float64)
    if solver != "lbfgs":
        assert type(ours.loss_curve_[-1]) is type(theirs.loss_curve_[-1])


def test_float32_run_is_scikit_learns_float32_run(digits, native_only):
    X, y = digits
    X = X.astype(np.float32)
    kw = dict(hidden_layer_sizes=(16,), solver="sgd", shuffle=False, max_iter=5,
              random_state=0, learning_rate_init=0.05)
    ours = quiet(MLPClassifier(**kw).fit, X, y)
    theirs = quiet(neural_network.MLPClassifier(**kw).fit, X, y)
    assert_close("loss_curve_", ours.loss_curve_, theirs.loss_curve_, 1e-4)
    proba, proba_theirs = ours.predict_proba(X), theirs.predict_proba(X)
    assert proba.dtype == np.float32
    assert_close("predict_proba", proba, proba_theirs, 1e-3, 1e-5)


# ---- 2. the private surface ----------------------------------------------------------------

@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_optimizer_is_scikit_learns_with_its_state(digits, estimator, solver, native_only):
    X, y = digits
    Y = y if estimator is MLPClassifier else np.c_[X[:, 10], X[:, 20]]  # two outputs: c = 1
    kw = dict(hidden_layer_sizes=(12,), solver=solver, shuffle=False, random_state=0,
              learning_rate_init=0.01, batch_size=50, alpha=0.0)
    ours, theirs = estimator(**kw), SCIKIT_LEARN[estimator](**kw)
    first = dict(classes=np.arange(10)) if estimator is MLPClassifier else {}
    for _ in range(3):
        ours.partial_fit(X, Y, **first)
        theirs.partial_fit(X, Y, **first)
    optimizer, expected = ours._optimizer, theirs._optimizer
    assert type(optimizer) is type(expected)
    assert isinstance(optimizer, SGDOptimizer if solver == "sgd" else AdamOptimizer)
    for name in ("learning_rate_init", "momentum", "nesterov", "power_t", "lr_schedule",
                 "beta_1", "beta_2", "epsilon", "t"):
        assert getattr(optimizer, name, None) == getattr(expected, name, None), name
    assert_close("learning_rate", optimizer.learning_rate, expected.learning_rate, 1e-12)
    for name in ("velocities", "ms", "vs"):
        for i, (a, b) in enumerate(zip(getattr(optimizer, name, []), getattr(expected, name, []))):
            assert a.shape == b.shape
            assert_close(f"{name}[{i}]", a, b, 1e-6, 1e-12)
    if solver == "adam":
        assert optimizer.t == 3 * 6  # 6 batches of 50 per call
        assert np.abs(optimizer.vs[0]).max() > 0


def test_optimizer_state_set_by_hand_is_the_one_trained_on(digits, native_only):
    """The optimizer object is the state, not a copy of it: a velocity set in it is used."""
    X, y = digits
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", shuffle=False, random_state=0,
              learning_rate_init=0.01)
    a, b = MLPClassifier(**kw), MLPClassifier(**kw)
    a.partial_fit(X, y, classes=np.arange(10))
    b.partial_fit(X, y, classes=np.arange(10))
    b._optimizer.velocities = [np.zeros_like(v) for v in b._optimizer.velocities]
    b._optimizer.learning_rate = 0.02
    a.partial_fit(X, y)
    b.partial_fit(X, y)
    assert not np.allclose(a.coefs_[0], b.coefs_[0])


def test_adaptive_schedule_divides_the_optimizers_rate(native_only):
    # scikit-learn's test_adaptive_learning_rate
    X, y = [[3, 2], [1, 6]], [1, 0]
    clf = MLPClassifier(tol=0.5, max_iter=3000, solver="sgd", learning_rate="adaptive")
    clf.fit(X, y)
    assert clf.max_iter > clf.n_iter_
    assert 1e-6 > clf._optimizer.learning_rate


@pytest.mark.parametrize("learning_rate", ["invscaling", "constant"])
def test_learning_rate_through_a_warm_start(learning_rate, native_only):
    # scikit-learn's test_learning_rate_warmstart: a warm start makes a new optimizer, whose
    # invscaling rate follows t_ (samples seen over both fits)
    X, y = [[3, 2], [1, 6], [5, 6], [-2, -4]], [1, 1, 1, 0]
    mlp = MLPClassifier(solver="sgd", hidden_layer_sizes=4, learning_rate=learning_rate,
                        max_iter=1, power_t=0.25, warm_start=True)
    quiet(mlp.fit, X, y)
    prev_eta = mlp._optimizer.learning_rate
    quiet(mlp.fit, X, y)
    post_eta = mlp._optimizer.learning_rate
    if learning_rate == "constant":
        assert prev_eta == post_eta
    else:
        assert mlp.learning_rate_init / pow(8 + 1, mlp.power_t) == post_eta


def test_lbfgs_packing_and_objective_are_scikit_learns(native_only):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(6, 5), solver="lbfgs", max_iter=3, random_state=0,
              alpha=0.01)
    ours = quiet(MLPClassifier(**kw).fit, X, y)
    theirs = quiet(neural_network.MLPClassifier(**kw).fit, X, y)
    assert ours._coef_indptr == theirs._coef_indptr
    assert ours._intercept_indptr == theirs._intercept_indptr
    packed = np.hstack([a.ravel() for a in theirs.coefs_ + theirs.intercepts_])
    Y = LabelBinarizer().fit_transform(y)
    grads_ours, grads_theirs = ([None] * 3, [None] * 3), ([None] * 3, [None] * 3)
    loss, grad = ours._loss_grad_lbfgs(packed, X, Y, None, [X, None, None, None], [None] * 3,
                                       *grads_ours)
    native_only.clear()  # scikit-learn's own objective below is not ours
    loss_theirs, grad_theirs = theirs._loss_grad_lbfgs(
        packed, X, Y, None, [X, None, None, None], [None] * 3, *grads_theirs)
    assert_close("loss", loss, loss_theirs, 1e-12)
    assert_close("grad", grad, grad_theirs, 1e-10, 1e-14)
    assert np.abs(grad).max() > 0
    for l in range(3):
        assert_close(f"coef_grads[{l}]", grads_ours[0][l], grads_theirs[0][l], 1e-10, 1e-14)
        assert_close(f"intercept_grads[{l}]", grads_ours[1][l], grads_theirs[1][l], 1e-10,
                     1e-14)
    # _unpack set coefs_ / intercepts_ from the packed vector, as scikit-learn's does
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert np.array_equal(a, b)
    ours._unpack(np.arange(packed.size, dtype=float))
    assert ours.coefs_[0][0, 1] == 1.0 and ours.intercepts_[0][0] == ours._intercept_indptr[0][0]


def test_lbfgs_gradient_by_central_differences(native_only):
    # scikit-learn's test_gradient: its objective against central differences
    rng = np.random.RandomState(42)
    X = rng.rand(5, 10)
    y = 1 + np.mod(np.arange(5) + 1, 3)
    Y = LabelBinarizer().fit_transform(y)
    for activation in ("identity", "logistic", "tanh", "relu"):
        mlp = quiet(MLPClassifier(activation=activation, hidden_layer_sizes=10, solver="lbfgs",
                                  alpha=1e-5, max_iter=1, random_state=1).fit, X, y)
        theta = np.hstack([a.ravel() for a in mlp.coefs_ + mlp.intercepts_])
        grads = ([None, None], [None, None])

        def loss(t):
            return mlp._loss_grad_lbfgs(t, X, Y, None, [X, None, None], [None] * 2, *grads)

        _, grad = loss(theta)
        eye = np.eye(theta.size) * 1e-5
        numerical = np.array([(loss(theta + e)[0] - loss(theta - e)[0]) / 2e-5 for e in eye])
        assert np.abs(grad).max() > 0
        assert_close(f"gradient ({activation})", grad, numerical, 1e-4, 1e-7)


# ---- 3. divergence -------------------------------------------------------------------------

def test_diverging_sgd_with_early_stopping_records_nan_and_stops(native_only):
    # scikit-learn's non-regression test for scikit-learn#29504
    X, y = load_iris(return_X_y=True)
    kw = dict(hidden_layer_sizes=100, activation="identity", solver="sgd", alpha=0.0001,
              learning_rate="constant", learning_rate_init=1, shuffle=True, max_iter=20,
              early_stopping=True, n_iter_no_change=10, random_state=0)
    mlp, theirs = MLPRegressor(**kw), neural_network.MLPRegressor(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
        native_only.clear()  # scoring NaN weights is scikit-learn's own forward pass
        theirs.fit(X, y)
    assert str(mlp.validation_scores_[-1]) == str(np.nan)
    assert isinstance(mlp.validation_scores_[-1], float)
    assert mlp.n_iter_ == theirs.n_iter_ == 20
    assert_close("best_validation_score_", mlp.best_validation_score_,
                 theirs.best_validation_score_, 1e-9)
    for a, b in zip(mlp.coefs_, theirs.coefs_):  # the best weights, finite
        assert_close("coefs_", a, b, 1e-9, 1e-12)


def test_non_finite_weights_raise_scikit_learns_error(native_only):
    # scikit-learn's test_nonfinite_params
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    y = rng.standard_normal(size=10)
    for estimator in (MLPRegressor(), neural_network.MLPRegressor()):
        with pytest.raises(ValueError, match=NON_FINITE):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                estimator.fit(X, y)


FITTED = ("coefs_", "intercepts_", "loss_curve_", "n_iter_", "t_", "loss_", "best_loss_",
          "_no_improvement_count")


def fitted_state(est):
    state = {name: getattr(est, name) for name in FITTED}
    state["coefs_"] = [W.copy() for W in est.coefs_]
    state["intercepts_"] = [b.copy() for b in est.intercepts_]
    state["loss_curve_"] = list(est.loss_curve_)
    state["learning_rate"] = est._optimizer.learning_rate
    state["velocities"] = [v.copy() for v in est._optimizer.velocities]
    state["random_state"] = est._random_state.get_state()[1].copy()
    return state


def assert_same_state(after, before):
    for name, value in before.items():
        if isinstance(value, (list, np.ndarray)) and len(value) and isinstance(value[0],
                                                                               np.ndarray):
            assert all(np.array_equal(a, b) for a, b in zip(after[name], value)), name
        else:
            assert np.array_equal(after[name], value), name


@pytest.mark.parametrize("call", ["fit", "partial_fit"])
def test_a_failed_fit_leaves_everything_as_it_was(iris, call, native_only):
    X, _ = iris
    reg = quiet(MLPRegressor(solver="sgd", max_iter=3, random_state=0, warm_start=True).fit,
                X, X[:, 0])
    before = fitted_state(reg)
    reg.set_params(learning_rate_init=10.0, momentum=0.0, max_iter=50)
    with pytest.raises(ValueError, match=NON_FINITE):
        quiet(getattr(reg, call), X * 1e150, X[:, 0] * 1e300)
    assert_same_state(fitted_state(reg), before)
    assert len(reg.loss_curve_) == 3 and reg.n_iter_ == 3 and reg.t_ == 3 * 150
    # and it goes on from there as if the failed call had not happened
    twin = quiet(MLPRegressor(solver="sgd", max_iter=3, random_state=0, warm_start=True).fit,
                 X, X[:, 0])
    reg.set_params(learning_rate_init=0.001, momentum=0.9, max_iter=3)
    quiet(reg.fit, X, X[:, 0])
    quiet(twin.fit, X, X[:, 0])
    assert_same_state(fitted_state(reg), fitted_state(twin))


def test_a_failed_first_fit_leaves_the_estimator_unfitted(iris, native_only):
    X, _ = iris
    reg = MLPRegressor(solver="sgd", learning_rate_init=10.0, momentum=0.0, max_iter=20)
    with pytest.raises(ValueError, match=NON_FINITE):
        quiet(reg.fit, X * 1e3, X[:, 0] * 1e6)
    assert not hasattr(reg, "coefs_") and not hasattr(reg, "n_iter_")


# ---- 4. warning filters written for scikit-learn -------------------------------------------

def fit_warnings(fit, **filters):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if filters:
            warnings.filterwarnings("ignore", **filters)
        fit()
    return [w for w in caught if not issubclass(w.category, DeprecationWarning)]


@pytest.mark.parametrize("make", [
    lambda: MLPClassifier(solver="sgd", max_iter=2, random_state=0),
    lambda: MLPClassifier(solver="adam", max_iter=2, random_state=0),
    lambda: MLPClassifier(solver="lbfgs", max_iter=2, random_state=0),
    lambda: MLPRegressor(max_iter=2, random_state=0),
    lambda: Perceptron(max_iter=1, tol=1e-9)])
def test_convergence_warning_is_silenced_by_the_filter_for_scikit_learn(iris, make):
    X, y = iris
    y = X[:, 0] if isinstance(make(), MLPRegressor) else y
    warned = fit_warnings(lambda: make().fit(X, y))
    assert [w.category for w in warned] == [ConvergenceWarning]  # it warns ...
    # ... and the filter of scikit-learn's own examples silences it
    assert fit_warnings(lambda: make().fit(X, y), category=ConvergenceWarning,
                        module="sklearn") == []


def test_other_warnings_are_attributed_to_scikit_learn_too(iris):
    X, y = iris

    def fit():
        MLPClassifier(max_iter=200, batch_size=1000, random_state=0).fit(X, y)

    messages = [str(w.message)[:20] for w in fit_warnings(fit)]
    assert messages == ["Got `batch_size` les", "Stochastic Optimizer"]
    assert fit_warnings(fit, category=UserWarning, module="sklearn") == []
    # a filter for another module does not catch them
    assert len(fit_warnings(fit, category=UserWarning, module="numpy")) == 2


def test_scikit_learns_own_estimator_is_silenced_alike(iris):
    X, y = iris
    theirs = lambda: neural_network.MLPClassifier(max_iter=2).fit(X, y)  # noqa: E731
    assert fit_warnings(theirs, category=ConvergenceWarning, module="sklearn") == []
    assert len(fit_warnings(theirs)) == 1
    linear = lambda: linear_model.Perceptron(max_iter=1, tol=1e-9).fit(X, y)  # noqa: E731
    assert fit_warnings(linear, category=ConvergenceWarning, module="sklearn") == []


def test_lbfgs_convergence_warning_reads_as_scikit_learns(iris):
    X, y = iris
    kw = dict(solver="lbfgs", max_iter=2, random_state=0)
    ours = fit_warnings(lambda: MLPClassifier(**kw).fit(X, y))
    theirs = fit_warnings(lambda: neural_network.MLPClassifier(**kw).fit(X, y))
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    assert [w.filename for w in ours] == [neural_network._multilayer_perceptron.__file__]


# ---- scikit-learn's own tests, with the import switched --------------------------------------

def scikit_learn_tests(module, replacements, leave_out=()):
    """pytest.params (test, kwargs) of the test functions of one of scikit-learn's test
    modules, with their parametrizations, scikit-learn's estimator classes in the parameters
    replaced by ours (`replacements`: theirs -> ours)."""
    for name, test in sorted(vars(module).items()):
        if not name.startswith("test_") or name in leave_out:
            continue
        grids = [([n.strip() for n in mark.args[0].split(",")], mark.args[1])
                 for mark in getattr(test, "pytestmark", []) if mark.name == "parametrize"]
        for index, combination in enumerate(itertools.product(*(v for _, v in grids))):
            params = {}
            for (names, _), value in zip(grids, combination):
                values = value if len(names) > 1 else (value,)
                params.update(zip(names, (replacements.get(v, v) if isinstance(v, type) else v
                                          for v in values)))
            yield pytest.param(test, params, id=f"{name}-{index}")


def run_scikit_learn_test(module, replacements, test, params, request):
    """Run one of scikit-learn's tests with `module`'s names rebound to our classes; the
    pytest fixtures it asks for (capsys, tmp_path) are ours."""
    for theirs, ours in replacements.items():
        request.getfixturevalue("monkeypatch").setattr(module, theirs.__name__, ours)
    code = test.__code__
    for name in code.co_varnames[:code.co_argcount]:
        if name not in params:
            params[name] = request.getfixturevalue(name)
    test(**params)


from sklearn.neural_network.tests import test_mlp  # noqa: E402

MLP_REPLACEMENTS = {neural_network.MLPClassifier: MLPClassifier,
                    neural_network.MLPRegressor: MLPRegressor}
# left out: scikit-learn's slowest (10-25 s here: thousands of epochs or many partial_fit
# calls; their behaviour is checked above and in test_sklearn_agreement.py) and its Poisson
# test (it needs its global_random_seed fixture)
SLOW_OR_NOT_OURS = {"test_n_iter_no_change_inf", "test_partial_fit_classification",
                    "test_multioutput_regression", "test_mlp_vs_poisson_glm_equivalent"}


@pytest.mark.parametrize("test,params", scikit_learn_tests(test_mlp, MLP_REPLACEMENTS,
                                                           SLOW_OR_NOT_OURS))
def test_scikit_learns_mlp_tests_with_the_import_switched(test, params, request):
    run_scikit_learn_test(test_mlp, MLP_REPLACEMENTS, test, params, request)
