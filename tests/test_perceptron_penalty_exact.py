"""nnfast.sklearn.Perceptron with a penalty gives scikit-learn's coef_, intercept_, n_iter_ and
t_ bit for bit: its epochs follow scikit-learn's WeightVector arithmetic (w = wscale * v, the
running norms, the scale folded in below 1e-9 / 1e-6 and at the end) in the element type's
precision, dense and CSR, with and without early stopping (whose score scikit-learn takes on
the unscaled weights)."""
import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.linear_model import Perceptron as SklearnPerceptron

from nnfast.sklearn import Perceptron
from test_perceptron_shuffle import assert_same_fit


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def fit_both(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
        return SklearnPerceptron(**params).fit(X, y), Perceptron(**params).fit(X, y)


def assert_identical(theirs, ours):
    assert_same_fit(ours, theirs)


def as_input(X, dtype, fmt):
    X = X.astype(dtype)
    return sp.csr_matrix(X) if fmt == "csr" else X


PENALTIES = [("l2", 0.15), ("elasticnet", 0.15), ("elasticnet", 0.5), ("elasticnet", 0.9),
             ("l1", 0.15)]
GRID = list(itertools.product(PENALTIES, [1e-4, 1e-2], [np.float64, np.float32],
                              ["dense", "csr"], [False, True], [False, True]))


@pytest.mark.parametrize("penalty,alpha,dtype,fmt,binary,early_stopping", GRID, ids=[
    f"{p}-{r}-{a}-{np.dtype(d).name}-{f}-{'binary' if b else 'multiclass'}-"
    f"{'early' if e else 'objective'}" for (p, r), a, d, f, b, e in GRID])
def test_penalized_fit_is_sklearns(digits, penalty, alpha, dtype, fmt, binary, early_stopping):
    X, y = digits
    X, y = X[:700], y[:700]
    y = (y == 3).astype(int) if binary else y
    name, l1_ratio = penalty
    # shuffled (random_state 0) for even-numbered cases, in row order for the others
    shuffle = GRID.index((penalty, alpha, dtype, fmt, binary, early_stopping)) % 2 == 0
    theirs, ours = fit_both(as_input(X, dtype, fmt), y, penalty=name, l1_ratio=l1_ratio,
                            alpha=alpha, max_iter=30, shuffle=shuffle, random_state=0,
                            early_stopping=early_stopping)
    assert_identical(theirs, ours)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_digits_elasticnet_is_sklearns(digits, dtype, fmt):
    # the case whose last rounding difference used to flip a decision: coef_ differed by 3.0
    X, y = digits
    theirs, ours = fit_both(as_input(X, dtype, fmt), y, penalty="elasticnet", alpha=1e-4,
                            random_state=0, max_iter=50)
    assert_identical(theirs, ours)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_scale_folded_below_the_threshold_is_sklearns(digits, dtype, fmt, early_stopping):
    # eta0 alpha = 0.05: the scale shrinks by 0.95 a row and crosses 1e-9 (1e-6 for float32)
    # every few hundred rows, many times an epoch, for many epochs
    X, y = digits
    X, y = X[:500], y[:500]
    theirs, ours = fit_both(as_input(X, dtype, fmt), y, penalty="l2", alpha=0.05, eta0=1.0,
                            max_iter=40, tol=None, random_state=1,
                            early_stopping=early_stopping)
    assert_identical(theirs, ours)
    if not early_stopping:
        assert ours.n_iter_ == 40
    assert np.abs(ours.coef_).max() > 0


def test_shrink_to_zero_is_sklearns(digits):
    # eta0 alpha > 1: scikit-learn scales by max(0, 1 - eta0 alpha) = 0, every row
    X, y = digits
    theirs, ours = fit_both(X[:200], y[:200], penalty="l2", alpha=2.0, max_iter=5, tol=None)
    assert_identical(theirs, ours)


def test_class_record_carries_the_scale_between_calls(digits):
    # an epoch a call (the scale in state["wscale"], W unscaled meanwhile) gives the bits of
    # all epochs in one call, and W holds the plain weights once the class is done
    from nnfast import ops
    X, y = digits
    X, y = np.ascontiguousarray(X[:300]), np.where(y[:300] == 3, 1.0, -1.0)
    runs = []
    for per_call in (1, 6):
        W = np.zeros((1, 64))
        state = ops.perceptron_sgd_classes([0.0], W)
        scales = []
        while state["epochs"][0] < 6:
            ops.perceptron_sgd_fit(W, None, state, X, y[None], np.ones((1, 300)), None, 1.0,
                                   alpha=1e-3, max_iter=6, n_epochs=per_call)
            scales.append(float(state["wscale"][0]))
        runs.append((W, state["b"][0], scales))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    assert runs[0][2][0] < 1.0 and runs[0][2][-1] == 1.0  # carried, then folded at the end


def test_bad_scale_in_the_record_is_refused():
    from nnfast import ops
    W = np.zeros((1, 2))
    X, y = np.eye(2), np.array([[1.0, -1.0]])
    for bad in (0.0, -1.0, np.nan, np.inf):
        state = ops.perceptron_sgd_classes([0.0], W)
        state["wscale"] = bad
        with pytest.raises(ValueError):
            ops.perceptron_sgd_fit(W, None, state, X, y, np.ones((1, 2)), None, 1.0,
                                   alpha=1e-3)
    np.testing.assert_array_equal(W, 0.0)
