"""nnfast.sklearn's fit extras: MLPClassifier(class_weight=...) and validation_loss_curve_."""
import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.utils.class_weight import compute_sample_weight  # noqa: E402

from nnfast.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def data(n=150, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = np.where(X[:, 0] > 0.6, "rare", np.where(X[:, 1] > 0, "up", "down"))
    return X, y


def same_fit(a, b):
    for W, W_b in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(W, W_b)
    assert a.loss_curve_ == b.loss_curve_


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("class_weight", ["balanced", {"rare": 3.0, "up": 0.5}])
def test_class_weight_is_the_same_fit_as_its_sample_weight(solver, class_weight):
    X, y = data()
    sw = np.linspace(0.5, 1.5, len(y))
    kw = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=15, random_state=0)
    weighted = MLPClassifier(class_weight=class_weight, **kw).fit(X, y, sample_weight=sw)
    expected = MLPClassifier(**kw).fit(X, y,
                                       sample_weight=sw * compute_sample_weight(class_weight, y))
    if solver == "lbfgs":
        for W, W_b in zip(weighted.coefs_, expected.coefs_):
            np.testing.assert_array_equal(W, W_b)
    else:
        same_fit(weighted, expected)
    unweighted = MLPClassifier(**kw).fit(X, y, sample_weight=sw)
    assert not np.array_equal(weighted.coefs_[0], unweighted.coefs_[0])


def test_class_weight_none_changes_nothing():
    X, y = data()
    kw = dict(hidden_layer_sizes=(6,), max_iter=10, random_state=0)
    same_fit(MLPClassifier(class_weight=None, **kw).fit(X, y), MLPClassifier(**kw).fit(X, y))
    assert MLPClassifier().get_params()["class_weight"] is None


def test_a_class_weight_label_that_is_not_a_class_is_an_error():
    X, y = data()
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=5, random_state=0).fit(X, y)
    before = [W.copy() for W in clf.coefs_]
    clf.set_params(class_weight={"sideways": 2.0})
    with pytest.raises(ValueError, match="class_weight"):
        clf.fit(X, y)
    for W, W_before in zip(clf.coefs_, before):
        np.testing.assert_array_equal(W, W_before)
    with pytest.raises(ValueError, match="class_weight"):
        MLPClassifier(class_weight="even").fit(X, y)
    with pytest.raises(ValueError, match="partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=np.unique(y))


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_validation_loss_curve_with_early_stopping(solver):
    X, y = data()
    clf = MLPClassifier(hidden_layer_sizes=(6,), solver=solver, early_stopping=True,
                        max_iter=40, random_state=0).fit(X, y)
    assert len(clf.validation_loss_curve_) == len(clf.loss_curve_) == len(clf.validation_scores_)
    assert np.all(np.isfinite(clf.validation_loss_curve_))
    assert MLPClassifier(hidden_layer_sizes=(6,), max_iter=5).fit(X, y).validation_loss_curve_ \
        is None


def test_validation_loss_is_the_held_out_squared_error():
    # scikit-learn's validation score of a regressor is R^2 = 1 - mean((y - p)^2) / var(y_val)
    # and its loss 1/2 mean((y - p)^2): loss / (1 - R^2) is var(y_val) / 2, the same each epoch
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=120)
    reg = MLPRegressor(hidden_layer_sizes=(5,), early_stopping=True, max_iter=30,
                       random_state=0, learning_rate_init=0.01).fit(X, y)
    ratio = np.array(reg.validation_loss_curve_) / (1 - np.array(reg.validation_scores_))
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)
    assert len(ratio) == reg.n_iter_


def test_warm_start_continues_the_validation_loss_curve():
    X, y = data()
    clf = MLPClassifier(hidden_layer_sizes=(6,), early_stopping=True, max_iter=5,
                        n_iter_no_change=100, warm_start=True, random_state=0).fit(X, y)
    clf.fit(X, y)
    assert len(clf.validation_loss_curve_) == len(clf.loss_curve_) == 10
