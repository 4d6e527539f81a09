"""Agreement with scikit-learn: the same loss curves from the same weights, and test scores
within 1 point on digits, Iris and a regression set for the same hyperparameters.

Every test here also proves the nnfast estimators trained and predicted in the core:
scikit-learn's numpy forward and backward passes are counted and must never run for them."""
import warnings

import numpy as np
import pytest
from sklearn import linear_model, neural_network
from sklearn.datasets import load_diabetes, load_digits, load_iris, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import nnfast
from nnfast.sklearn import MLPClassifier, MLPRegressor, Perceptron

from helpers import assert_close


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Results are bit-identical for any thread count; one thread (ours and NumPy's BLAS) keeps
    # these small fits fast on a loaded machine, where waiting OpenMP threads spin.
    before = nnfast.get_num_threads()
    nnfast.set_num_threads(1)
    with threadpool_limits(1):
        yield
    nnfast.set_num_threads(before)


@pytest.fixture(autouse=True)
def native_only(monkeypatch):
    """Fails the test if scikit-learn's own arithmetic ran for an nnfast estimator."""
    calls = []
    base = neural_network._multilayer_perceptron.BaseMultilayerPerceptron
    for name in ("_backprop", "_forward_pass", "_forward_pass_fast"):
        original = getattr(base, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            if type(self).__module__.startswith("nnfast"):
                calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(base, name, counted)
    yield
    assert calls == [], f"scikit-learn's own code ran for nnfast: {sorted(set(calls))}"


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kw)


def digits(n=600):
    X, y = load_digits(return_X_y=True)
    return X[:n] / 16.0, y[:n]


def regression(n=300):
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X[:n]), (y[:n] - y.mean()) / y.std()


CASES = {
    "classifier": (MLPClassifier, neural_network.MLPClassifier, digits),
    "regressor": (MLPRegressor, neural_network.MLPRegressor, regression),
}


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("solver,params", [
    ("sgd", dict(learning_rate_init=0.05)),
    ("sgd", dict(learning_rate_init=0.05, nesterovs_momentum=False, alpha=0.01)),
    ("adam", dict(learning_rate_init=0.003))])
def test_same_weights_give_the_same_loss_curve_for_20_epochs(kind, solver, params):
    ours_cls, theirs_cls, load = CASES[kind]
    X, y = load()
    kw = dict(hidden_layer_sizes=(32, 16), activation="tanh", solver=solver, shuffle=False,
              batch_size=64, tol=0.0, random_state=1, **params)
    theirs = theirs_cls(**kw)
    ours = ours_cls(**kw)
    first = dict(classes=np.unique(y)) if kind == "classifier" else {}
    theirs.partial_fit(X, y, **first)
    ours.partial_fit(X, y, **first)
    # start from scikit-learn's weights after its first epoch (and reset both optimizers)
    ours.coefs_ = [W.copy() for W in theirs.coefs_]
    ours.intercepts_ = [b.copy() for b in theirs.intercepts_]
    theirs.set_params(warm_start=True, max_iter=20)
    ours.set_params(warm_start=True, max_iter=20)
    quiet(theirs.fit, X, y)
    quiet(ours.fit, X, y)
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 21
    assert_close("loss_curve_", ours.loss_curve_[1:], theirs.loss_curve_[1:], 1e-6)
    assert theirs.loss_curve_[-1] < 0.9 * theirs.loss_curve_[1]  # it trained
    for l, (W, W_theirs) in enumerate(zip(ours.coefs_, theirs.coefs_)):
        assert_close(f"coefs_[{l}]", W, W_theirs, 1e-6, 1e-9)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("outputs", [2, 3])
@pytest.mark.parametrize("sparse", [False, True])
def test_several_outputs_with_alpha_report_scikit_learns_loss(solver, outputs, sparse):
    # scikit-learn's reported loss, 1/2 mean_k (a-y)^2 + alpha/2 sum W^2 / n, is not the loss
    # it differentiates when there are several outputs; the loss curve is still its own
    import scipy.sparse

    X, y = regression(240)
    Y = np.column_stack([y * (j + 1) - j for j in range(outputs)])
    X = scipy.sparse.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0)) if sparse else X
    kw = dict(hidden_layer_sizes=(16,), solver=solver, shuffle=True, batch_size=50, alpha=0.5,
              max_iter=8, tol=0.0, random_state=2, learning_rate_init=0.01)
    ours = quiet(MLPRegressor(**kw).fit, X, Y)
    theirs = quiet(neural_network.MLPRegressor(**kw).fit, X, Y)
    penalty = 0.5 * 0.5 * sum(float(np.sum(W * W)) for W in theirs.coefs_) / 240
    assert penalty > 1e-3 * theirs.loss_curve_[-1]  # the L2 term is a visible part of it
    assert_close("loss_curve_", ours.loss_curve_, theirs.loss_curve_, 1e-9)
    for l, (W, W_theirs) in enumerate(zip(ours.coefs_, theirs.coefs_)):
        assert_close(f"coefs_[{l}]", W, W_theirs, 1e-9, 1e-12)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_streams_agree(solver):
    X, y = digits(400)
    kw = dict(hidden_layer_sizes=(20,), solver=solver, shuffle=False, random_state=3,
              learning_rate_init=0.01)
    ours, theirs = MLPClassifier(**kw), neural_network.MLPClassifier(**kw)
    for chunk in range(8):
        rows = slice(50 * chunk, 50 * chunk + 50)
        ours.partial_fit(X[rows], y[rows], classes=np.arange(10))
        theirs.partial_fit(X[rows], y[rows], classes=np.arange(10))
    assert_close("loss_curve_", ours.loss_curve_, theirs.loss_curve_, 1e-6)


def test_lbfgs_agrees():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=50, random_state=0)
    ours, theirs = quiet(MLPClassifier(**kw).fit, X, y), quiet(
        neural_network.MLPClassifier(**kw).fit, X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert_close("loss_", ours.loss_, theirs.loss_, 1e-5)
    Xr, yr = regression(200)
    kw = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=30, random_state=0, alpha=0.1)
    ours = quiet(MLPRegressor(**kw).fit, Xr, np.c_[yr, -yr])  # two outputs: the loss is exact
    theirs = quiet(neural_network.MLPRegressor(**kw).fit, Xr, np.c_[yr, -yr])
    assert_close("loss_", ours.loss_, theirs.loss_, 1e-5)


def split(X, y):
    return train_test_split(X, y, test_size=0.3, random_state=0)


@pytest.mark.parametrize("name", ["digits", "iris", "friedman1"])
def test_test_scores_within_one_point_of_scikit_learn(name):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
    elif name == "iris":
        X, y = load_iris(return_X_y=True)
        X = StandardScaler().fit_transform(X)
    else:
        X, y = make_friedman1(n_samples=500, noise=1.0, random_state=0)
    X_train, X_test, y_train, y_test = split(X, y)
    kw = dict(hidden_layer_sizes=(64,), max_iter=150 if name != "digits" else 40,
              random_state=0, learning_rate_init=0.01)
    ours_cls, theirs_cls = ((MLPRegressor, neural_network.MLPRegressor) if name == "friedman1"
                            else (MLPClassifier, neural_network.MLPClassifier))
    ours = quiet(ours_cls(**kw).fit, X_train, y_train).score(X_test, y_test)
    theirs = quiet(theirs_cls(**kw).fit, X_train, y_train).score(X_test, y_test)
    assert abs(ours - theirs) <= 0.01, (ours, theirs)
    assert theirs > (0.9 if name != "friedman1" else 0.6)


def test_perceptron_matches_scikit_learn_without_shuffling_and_scores_alike():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = split(X / 16.0, y)
    for kw in (dict(), dict(penalty="l2", alpha=1e-4), dict(penalty="elasticnet", alpha=1e-4),
               dict(class_weight="balanced", fit_intercept=False)):
        ours = Perceptron(shuffle=False, **kw).fit(X_train, y_train)
        theirs = linear_model.Perceptron(shuffle=False, **kw).fit(X_train, y_train)
        assert ours.n_iter_ == theirs.n_iter_
        assert_close("coef_", ours.coef_, theirs.coef_, 1e-7, 1e-9)
        assert_close("intercept_", ours.intercept_, theirs.intercept_, 1e-7, 1e-9)
    # shuffled epochs visit the rows in scikit-learn's orders: the same scores for any seed
    for s in range(8):
        ours = Perceptron(random_state=s).fit(X_train, y_train)
        theirs = linear_model.Perceptron(random_state=s).fit(X_train, y_train)
        assert ours.score(X_test, y_test) == theirs.score(X_test, y_test)
