"""nnfast.sklearn.Perceptron's native epochs: one core call runs a block of epochs for every
one-vs-rest class (ops.perceptron_sgd_fit / _sparse.perceptron_sgd_fit), the stopping rule and
the finiteness check in C, the classes on the core's threads. The coefficients are those of
the per-epoch driver it replaces (an epoch a core call, the rule in Python), bit for bit."""
import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.linear_model._base import SPARSE_INTERCEPT_DECAY
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight

import nnfast
from nnfast import _sparse, ops
from nnfast.sklearn import Perceptron
from nnfast.sklearn._perceptron import L1_RATIOS, MAX_INT, shuffle_seed


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


def per_epoch_fit(X, y, sw, *, shuffle, penalty, class_weight, tol, max_iter,
                  alpha=1e-4, l1_ratio=0.15, eta0=1.0, n_iter_no_change=5, random_state=0):
    """The native path an epoch a core call, the class's state (its scale, norms and stopping
    rule) carried from call to call: (coef, intercept, n_iter)."""
    classes = np.unique(y)
    cw = (compute_class_weight(class_weight, classes=classes, y=y) if class_weight
          else np.ones(len(classes)))
    binary = len(classes) == 2
    rs = check_random_state(random_state)
    # scikit-learn's shuffle seeds (no validation split): fit_binary's, after make_dataset's
    seeds = ([shuffle_seed(rs)] if binary else
             [shuffle_seed(np.random.RandomState(s))
              for s in rs.randint(MAX_INT, size=len(classes))])
    ratio = L1_RATIOS[penalty]
    alpha, l1_ratio = (0.0, 0.0) if ratio is None else (alpha, ratio(l1_ratio))
    csr = sp.issparse(X)
    rows = _sparse.as_csr(X, np.float64) if csr else np.ascontiguousarray(X, dtype=np.float64)
    n, k = X.shape
    coef, intercepts, n_iter = [], [], 0
    for j, seed in enumerate(seeds):
        positive = 1 if binary else j
        y_j = np.where(y == classes[positive], 1.0, -1.0)
        pos, neg = (cw[1], cw[0]) if binary else (cw[j], 1.0)
        weights = np.where(y_j > 0, pos, neg) * sw
        w = np.zeros(k)
        Q = np.zeros((1, k)) if alpha and l1_ratio else None
        state = ops.perceptron_sgd_classes([0.0], w[None])
        stream = ops.SGDDatasetOrders([seed], n)
        fit = _sparse.perceptron_sgd_fit if csr else ops.perceptron_sgd_fit
        decay = {"intercept_decay": SPARSE_INTERCEPT_DECAY} if csr else {}
        for epoch in range(max_iter):
            order = None
            if shuffle:
                order = np.empty((1, 1, n), dtype=np.int64)
                stream.fill(order)
            fit(w[None], Q, state, rows, y_j[None], weights[None], order, eta0, alpha,
                l1_ratio, True, -np.inf if tol is None else tol, n_iter_no_change, max_iter,
                n_epochs=1, **decay)
            if state["status"][0] != ops.SGD_TRAINING:
                break
        b = state["b"][0]
        coef.append(w)
        intercepts.append(b)
        n_iter = max(n_iter, epoch + 1)
    return np.array(coef), np.array(intercepts), n_iter


GRID = list(itertools.product(["dense", "csr"], [True, False], [None, "l2", "l1", "elasticnet"],
                              [False, True], [None, "balanced"], [None, 1e-3]))


@pytest.mark.parametrize("fmt,shuffle,penalty,binary,class_weight,tol", GRID)
def test_coefficients_equal_the_per_epoch_driver(digits, fmt, shuffle, penalty, binary,
                                                 class_weight, tol):
    X, y = digits
    y = (y > 4).astype(int) if binary else y
    X = sp.csr_matrix(X) if fmt == "csr" else X
    sw = np.linspace(0.5, 1.5, len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Perceptron(max_iter=15, tol=tol, shuffle=shuffle, penalty=penalty,
                           class_weight=class_weight, random_state=0).fit(X, y, sample_weight=sw)
    coef, intercept, n_iter = per_epoch_fit(X, y, sw, shuffle=shuffle, penalty=penalty,
                                            class_weight=class_weight, tol=tol, max_iter=15)
    np.testing.assert_array_equal(model.coef_, coef)
    np.testing.assert_array_equal(model.intercept_, intercept)
    assert model.n_iter_ == n_iter
    assert model.t_ == n_iter * X.shape[0] + 1


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_identical_for_any_thread_count_and_n_jobs(digits, fmt, early_stopping):
    X, y = digits
    X = sp.csr_matrix(X) if fmt == "csr" else X
    fits = []
    try:
        for threads, n_jobs in [(1, None), (2, None), (3, None), (1, 2)]:
            nnfast.set_num_threads(threads)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = Perceptron(max_iter=30, penalty="elasticnet", n_jobs=n_jobs,
                               early_stopping=early_stopping, random_state=1).fit(X, y)
            fits.append((m.coef_, m.intercept_, m.n_iter_))
    finally:
        nnfast.set_num_threads(None)
    for coef, intercept, n_iter in fits[1:]:
        np.testing.assert_array_equal(coef, fits[0][0])
        np.testing.assert_array_equal(intercept, fits[0][1])
        assert n_iter == fits[0][2]


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_one_core_call_runs_every_class_and_epoch(digits, fmt, monkeypatch):
    """The counter: fit calls the native driver once (50 epochs x 10 classes fit one block)
    and never the one-epoch kernel."""
    X, y = digits
    X = sp.csr_matrix(X) if fmt == "csr" else X
    module = _sparse if fmt == "csr" else ops
    calls = []
    native = module.perceptron_sgd_fit

    def counting(*args, **kwargs):
        calls.append(kwargs.get("n_epochs"))
        return native(*args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("the per-epoch kernel ran")

    monkeypatch.setattr(module, "perceptron_sgd_fit", counting)
    monkeypatch.setattr(module, "perceptron_sgd_epoch", refuse)
    model = Perceptron(max_iter=50, tol=None, random_state=0).fit(X, y)
    assert calls == [50]
    assert model.n_iter_ == 50


def test_partial_fit_runs_natively_and_matches_fit_for_one_epoch(digits, monkeypatch):
    X, y = digits
    calls = []
    native = ops.perceptron_sgd_fit
    monkeypatch.setattr(ops, "perceptron_sgd_fit",
                        lambda *a, **kw: calls.append(1) or native(*a, **kw))
    model = Perceptron(random_state=0, shuffle=False).partial_fit(X, y, classes=np.unique(y))
    assert calls == [1]
    coef, intercept, _ = per_epoch_fit(X, y, np.ones(len(y)), shuffle=False, penalty=None,
                                       class_weight=None, tol=None, max_iter=1)
    np.testing.assert_array_equal(model.coef_, coef)
    np.testing.assert_array_equal(model.intercept_, intercept)


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_overflow_is_a_clear_error_and_leaves_the_model_alone(fmt):
    X = np.array([[1e308, -1e308], [-1e308, 1e308], [1e308, 1e308]])
    y = np.array([0, 1, 2])
    X = sp.csr_matrix(X) if fmt == "csr" else X
    model = Perceptron(eta0=1e10, max_iter=5, tol=None)
    with pytest.raises(ValueError, match=r"under-/overflow occurred at epoch #1"):
        model.fit(X, y)
    assert not hasattr(model, "coef_") or np.isfinite(model.coef_).all()


def native_arguments(c=2, n=6, k=3):
    rng = np.random.default_rng(0)
    W = np.zeros((c, k))
    X = rng.normal(size=(n, k))
    Y = np.where(rng.random((c, n)) > 0.5, 1.0, -1.0)
    SW = np.ones((c, n))
    return W, X, Y, SW, ops.perceptron_sgd_classes(np.zeros(c), W)


def test_driver_matches_its_own_epochs_and_stops_by_the_rule():
    W, X, Y, SW, state = native_arguments()
    orders = np.stack([np.stack([np.random.RandomState(j * 10 + e).permutation(6)
                                 for e in range(4)]) for j in range(2)])
    ops.perceptron_sgd_fit(W, None, state, X, Y, SW, orders, 0.5, tol=1e9,
                           n_iter_no_change=3, max_iter=100)
    # tol 1e9: after the first epoch (which improves on +inf) none improves by tol, so each
    # class stops n_iter_no_change epochs later
    assert state["epochs"].tolist() == [4, 4]
    assert state["status"].tolist() == [ops.SGD_CONVERGED] * 2
    for j in range(2):
        w, b, u = np.zeros(3), 0.0, 0.0
        for e in range(4):
            b, u, _ = ops.perceptron_sgd_epoch(w, b, u, np.zeros(3), X, Y[j], SW[j], 0.5,
                                               order=orders[j, e])
        np.testing.assert_array_equal(W[j], w)
        assert state["b"][j] == b
    # max_iter caps the epochs of a later call too
    W, X, Y, SW, state = native_arguments()
    ops.perceptron_sgd_fit(W, None, state, X, Y, SW, None, 0.5, max_iter=2, n_epochs=5)
    assert state["epochs"].tolist() == [2, 2]
    assert state["status"].tolist() == [ops.SGD_TRAINING] * 2


@pytest.mark.parametrize("change,error,match", [
    (lambda a: a.update(Y=a["Y"] * 2), ValueError, "-1/\\+1"),
    (lambda a: a.update(orders=np.full((2, 1, 6), 6, np.int64)), ValueError, "row index"),
    (lambda a: a.update(orders=np.zeros((2, 1, 5), np.int64)), ValueError, "orders must be"),
    (lambda a: a.update(orders=np.zeros((2, 1, 6), np.int32)), TypeError, "int64"),
    (lambda a: a.update(state=np.zeros(2)), TypeError, "PERCEPTRON_SGD_CLASS"),
    (lambda a: a.update(X=a["X"][:, :2]), ValueError, "features"),
    (lambda a: a.update(SW=a["SW"][:1]), ValueError, "SW"),
    (lambda a: a.update(eta=0.0), ValueError, "eta"),
    (lambda a: a.update(tol=float("nan")), ValueError, "tol"),
    (lambda a: a.update(n_iter_no_change=0), ValueError, "n_iter_no_change"),
    (lambda a: a.update(Q=np.zeros((2, 3), np.float32)), TypeError, "one dtype"),
    (lambda a: a.update(alpha=0.1, l1_ratio=0.5), ValueError, "nncore"),  # L1 without Q
])
def test_driver_refuses_bad_input_untouched(change, error, match):
    W, X, Y, SW, state = native_arguments()
    args = dict(W=W, Q=None, state=state, X=X, Y=Y, SW=SW, orders=None, eta=0.5)
    change(args)
    before = (args["W"].copy(), np.array(args["state"]).copy())
    with pytest.raises(error, match=match):
        ops.perceptron_sgd_fit(**args)
    np.testing.assert_array_equal(args["W"], before[0])
    np.testing.assert_array_equal(np.array(args["state"]), before[1])


def test_csr_driver_refuses_bad_input():
    W, X, Y, SW, state = native_arguments()
    rows = _sparse.as_csr(sp.csr_matrix(X), np.float64)
    with pytest.raises(ValueError, match="features"):
        _sparse.perceptron_sgd_fit(W[:, :2].copy(), None, state, rows, Y, SW, None, 0.5)
    with pytest.raises(ValueError, match="-1/\\+1"):
        _sparse.perceptron_sgd_fit(W, None, state, rows, Y * 0, SW, None, 0.5)
    bad = state.copy()
    bad["norms"][0] = np.nan
    with pytest.raises(ValueError, match="nncore"):
        _sparse.perceptron_sgd_fit(W, None, bad, rows, Y, SW, None, 0.5)
    assert not W.any()


# ---- the shuffled orders: numpy.random.RandomState's, drawn by the core --------------------

@pytest.mark.parametrize("n", [1, 2, 3, 700, 1347])
def test_random_state_orders_are_numpys_permutations(n):
    """Each seed's stream gives the orders RandomState(seed).permutation(n) gives, call after
    call (past the 624 words of a twist), whatever the number of threads; a stream that is not
    active is neither written nor advanced."""
    seeds = [0, 1, 12345, 2**32 - 1]
    expected = [np.random.RandomState(seed) for seed in seeds]
    streams = ops.RandomStateOrders(seeds)
    untouched = np.full((5, n), -7, dtype=np.int64)
    try:
        for call, threads in enumerate([1, 2, 2]):
            nnfast.set_num_threads(threads)
            active = [True, call != 1, True, True]
            orders = np.full((len(seeds), 5, n), -7, dtype=np.int64)
            streams.fill(orders, active)
            for s, rng in enumerate(expected):
                expect = [rng.permutation(n) for _ in range(5)] if active[s] else untouched
                np.testing.assert_array_equal(orders[s], expect)
    finally:
        nnfast.set_num_threads(None)


def test_random_state_orders_refuse_bad_arrays():
    streams = ops.RandomStateOrders([0, 1])
    for bad in (np.zeros((2, 3, 4), dtype=np.int32), np.zeros((2, 3, 4))[:, :, ::2],
                np.zeros((3, 4), dtype=np.int64)):
        with pytest.raises(ValueError, match="orders must be"):
            streams.fill(bad)
    with pytest.raises(ValueError, match="one MT19937 state per stream"):
        streams.fill(np.zeros((3, 2, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="one flag per stream"):
        streams.fill(np.zeros((2, 2, 4), dtype=np.int64), [True])
