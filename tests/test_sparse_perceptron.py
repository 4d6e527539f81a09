"""nnfast.sklearn.Perceptron on sparse X: scikit-learn's Perceptron on the same sparse data
(its sparse rule: the L1 step on each row's nonzeros, the intercept moved by 0.01 of each
step), sparse X never densified, and the core's CSR epoch against its dense epoch."""
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model

from nnfast import _sparse, ops
from nnfast.sklearn import Perceptron

from helpers import assert_close


def text_like(n, k, seed, n_classes=3):
    """Rows of a few positive counts, classes told apart by which columns they use."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    rows, cols = [], []
    for i in range(n):
        m = rng.integers(1, 12)
        base = y[i] * (k // n_classes)
        cols.extend(np.unique(np.concatenate([rng.integers(base, base + k // n_classes, m),
                                              rng.integers(0, k, 2)])))
        rows.extend([i] * (len(cols) - len(rows)))
    data = rng.integers(1, 4, len(cols)).astype(float)
    X = sp.csr_matrix((data, (rows, cols)), shape=(n, k))
    return X, y


SETTINGS = [dict(), dict(penalty="l2", alpha=1e-3), dict(penalty="l1", alpha=1e-4),
            dict(penalty="elasticnet", alpha=1e-3, l1_ratio=0.3),
            dict(class_weight="balanced", fit_intercept=False), dict(eta0=0.3, max_iter=7),
            dict(early_stopping=True, n_iter_no_change=2)]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # max_iter=7
@pytest.mark.parametrize("kw", SETTINGS, ids=lambda kw: ",".join(kw) or "default")
@pytest.mark.parametrize("n_classes", [2, 4])
def test_fit_matches_scikit_learn_on_sparse_data(kw, n_classes):
    X, y = text_like(300, 500, seed=n_classes, n_classes=n_classes)
    ours = Perceptron(shuffle=False, random_state=0, **kw).fit(X, y)
    theirs = linear_model.Perceptron(shuffle=False, random_state=0, **kw).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert_close("coef_", ours.coef_, theirs.coef_, 1e-7, 1e-9)
    assert_close("intercept_", ours.intercept_, theirs.intercept_, 1e-7, 1e-9)
    assert np.array_equal(ours.predict(X), theirs.predict(X))
    assert_close("decision_function", ours.decision_function(X), theirs.decision_function(X),
                 1e-7, 1e-9)


def test_sample_weight_and_csc_input_match_scikit_learn():
    X, y = text_like(200, 300, seed=11)
    sw = np.random.default_rng(0).uniform(0.2, 2.0, 200)
    ours = Perceptron(shuffle=False).fit(X.tocsc(), y, sample_weight=sw)
    theirs = linear_model.Perceptron(shuffle=False).fit(X.tocsc(), y, sample_weight=sw)
    assert ours.n_iter_ == theirs.n_iter_
    assert_close("coef_", ours.coef_, theirs.coef_, 1e-7, 1e-9)


@pytest.mark.parametrize("penalty", [None, "l2", "elasticnet"])
def test_partial_fit_matches_scikit_learn_on_sparse_batches(penalty):
    X, y = text_like(400, 600, seed=5)
    classes = np.unique(y)
    ours = Perceptron(shuffle=False, penalty=penalty, alpha=1e-4)
    theirs = linear_model.Perceptron(shuffle=False, penalty=penalty, alpha=1e-4)
    for start in range(0, 400, 80):
        batch = slice(start, start + 80)
        ours.partial_fit(X[batch], y[batch], classes=classes)
        theirs.partial_fit(X[batch], y[batch], classes=classes)
    assert_close("coef_", ours.coef_, theirs.coef_, 1e-7, 1e-9)
    assert_close("intercept_", ours.intercept_, theirs.intercept_, 1e-7, 1e-9)


def test_shuffled_sparse_fit_is_scikit_learns():
    """Shuffled epochs visit the rows in scikit-learn's orders: the same bits for any seed."""
    X, y = text_like(400, 300, seed=8)
    for s in range(5):
        ours = Perceptron(random_state=s).fit(X[:300], y[:300])
        theirs = linear_model.Perceptron(random_state=s).fit(X[:300], y[:300])
        np.testing.assert_array_equal(ours.coef_, theirs.coef_)
        np.testing.assert_array_equal(ours.intercept_, theirs.intercept_)
        assert ours.score(X[300:], y[300:]) == theirs.score(X[300:], y[300:])


def test_wide_sparse_fit_and_partial_fit_are_never_densified():
    """2^18 hashed features, 3 classes: a dense copy of the 200 rows is 400 MiB; the fit needs
    the coefficients (3 x 2^18 doubles, 6 MiB) and per-class work arrays, not the copy."""
    X, y = text_like(200, 2 ** 18, seed=2)
    dense_bytes = 200 * 2 ** 18 * 8
    tracemalloc.start()
    try:
        model = Perceptron(max_iter=5, tol=None).fit(X, y)
        for start in range(0, 200, 40):
            model.partial_fit(X[start:start + 40], y[start:start + 40])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < dense_bytes / 8, peak
    assert model.coef_.shape == (3, 2 ** 18)
    assert model.score(X, y) > 0.9


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("alpha, l1_ratio, counts", [(0.0, 0.0, True), (0.0, 0.0, False),
                                                     (1e-3, 0.0, False), (1e-3, 1.0, False)])
def test_csr_epoch_against_the_dense_epoch(dtype, alpha, l1_ratio, counts):
    """The core's CSR epoch with intercept_decay 1 is the dense epoch: bit-identical without a
    penalty on small counts (every sum exact), else up to the rounding of the dot product's
    order and of scale * v against w shrunk in place; with L1 only rows without zeros see the
    same rule (the dense L1 step touches every column, the CSR one the row's nonzeros)."""
    rng = np.random.default_rng(3)
    if counts:
        dense = rng.integers(0, 4, size=(80, 13)).astype(dtype)
        sw, eta = np.ones(80, dtype), 1.0
    else:
        dense = rng.normal(size=(80, 13)).astype(dtype)
        sw, eta = rng.uniform(0.5, 1.5, 80).astype(dtype), 0.5
    if l1_ratio == 0 and not counts:
        dense[rng.random(dense.shape) < 0.6] = 0
    X = _sparse.as_csr(sp.csr_matrix(dense), dtype)
    y = np.where(rng.random(80) < 0.5, -1.0, 1.0).astype(dtype)
    w_d, q_d = np.zeros(13, dtype), np.zeros(13, dtype)
    w_s, q_s = np.zeros(13, dtype), np.zeros(13, dtype)
    norms = _sparse.weight_norms(w_s)
    b_d = u_d = b_s = u_s = 0.0
    order = rng.permutation(80).astype(np.int64)
    for _ in range(3):
        b_d, u_d, obj_d = ops.perceptron_sgd_epoch(w_d, b_d, u_d, q_d, dense, y, sw, eta,
                                                   alpha, l1_ratio, True, order)
        b_s, u_s, obj_s = _sparse.perceptron_sgd_epoch(w_s, b_s, u_s, q_s, norms, X, y, sw,
                                                       eta, alpha, l1_ratio, True, order)
    if counts:
        assert np.array_equal(w_s, w_d) and b_s == b_d and obj_s == obj_d
        assert np.any(w_s != 0)
    else:
        tol = 1e-12 if dtype == np.float64 else 1e-5
        assert_close("w", w_s, w_d, tol, tol)
        assert_close("b", b_s, b_d, tol, tol)


def test_bad_sparse_input_to_fit_is_refused():
    X, y = text_like(30, 40, seed=1)
    bad = X.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Perceptron().fit(bad, y)
    model = Perceptron().fit(X, y)
    coef = model.coef_.copy()
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(sp.csr_matrix(np.ones((2, 41))), y[:2])
    assert np.array_equal(model.coef_, coef)  # the failed call changed nothing
    with pytest.raises(ValueError, match="column index"):
        _sparse.as_csr(sp.csr_matrix((np.ones(1), np.array([40], dtype=np.int32),
                                      np.array([0, 1], dtype=np.int32)), shape=(1, 40)),
                       np.float64)


@pytest.mark.parametrize("kw", [dict(), dict(penalty="l2", alpha=1e-3),
                                dict(penalty="elasticnet", alpha=1e-3)])
def test_float32_sparse_fit_matches_scikit_learn(kw):
    """scikit-learn trains float32 CSR in float32 (its WeightVector32): so does nnfast."""
    X, y = text_like(300, 500, seed=2)
    X = X.astype(np.float32)
    ours = Perceptron(shuffle=False, **kw).fit(X, y)
    theirs = linear_model.Perceptron(shuffle=False, **kw).fit(X, y)
    assert ours.coef_.dtype == theirs.coef_.dtype == np.float32
    assert ours.n_iter_ == theirs.n_iter_
    assert_close("coef_", ours.coef_, theirs.coef_, 1e-5, 1e-5)


def test_classes_in_threads_give_the_same_sparse_fit():
    X, y = text_like(200, 400, seed=6, n_classes=4)
    one = Perceptron(shuffle=False, penalty="l1", alpha=1e-4).fit(X, y)
    two = Perceptron(shuffle=False, penalty="l1", alpha=1e-4, n_jobs=2).fit(X, y)
    assert np.array_equal(one.coef_, two.coef_)
    assert np.array_equal(one.intercept_, two.intercept_)
