"""nnfast.sklearn.Perceptron with shuffle=True: scikit-learn's epoch orders (its seeds drawn as
fit_binary draws them, its SequentialDataset's xorshift32 shuffle made by the core,
nnfast.ops.SGDDatasetOrders), so coef_, intercept_, n_iter_ and t_ are scikit-learn's bit for
bit: dense and CSR, binary and multiclass, float32 and float64, with and without early
stopping, fit and partial_fit, integer, RandomState and global random_state, n_jobs None and 2."""
import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import _stochastic_gradient
from sklearn.utils._seq_dataset import ArrayDataset64

import nnfast
from nnfast import _sparse, ops
from nnfast.sklearn import Perceptron


def dataset_shuffle(index, seed):
    """scikit-learn's SequentialDataset.shuffle(seed), transcribed: Fisher-Yates with
    our_rand_r (xorshift32, 0 taken as 1, the result mod 2^31), all in uint32."""
    seed = seed & 0xFFFFFFFF
    n = len(index)
    for i in range(n - 1):
        if seed == 0:
            seed = 1
        seed ^= (seed << 13) & 0xFFFFFFFF
        seed ^= seed >> 17
        seed ^= (seed << 5) & 0xFFFFFFFF
        j = i + (seed % 2 ** 31) % (n - i)
        index[i], index[j] = index[j], index[i]


# ---- the orders ------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 257])
def test_orders_are_the_recurrence_call_after_call(n):
    """Each stream's orders are its index shuffled again and again with its seed (the seed by
    value), across fill calls, whatever the number of threads; a stream that is not active
    is neither written nor advanced."""
    seeds = [0, 1, 12345, 2 ** 31 - 2, 2 ** 32 - 1]
    expected = [list(range(n)) for _ in seeds]
    streams = ops.SGDDatasetOrders(seeds, n)
    try:
        for call, threads in enumerate([1, 2, 2]):
            nnfast.set_num_threads(threads)
            active = [True, call != 1, True, True, call != 0]
            orders = np.full((len(seeds), 3, n), -7, dtype=np.int64)
            streams.fill(orders, active)
            for s, seed in enumerate(seeds):
                if not active[s]:
                    assert (orders[s] == -7).all()
                    continue
                for r in range(3):
                    dataset_shuffle(expected[s], seed)
                    assert orders[s, r].tolist() == expected[s]
    finally:
        nnfast.set_num_threads(None)


def test_orders_are_scikit_learns_sequential_dataset():
    """The orders against scikit-learn's own dataset: its _shuffle_py then n _next_py calls
    visit the rows of one epoch."""
    n, seed = 41, 987654321
    X = np.zeros((n, 1))
    dataset = ArrayDataset64(X, np.zeros(n), np.ones(n), seed=1)
    orders = np.empty((1, 4, n), dtype=np.int64)
    ops.SGDDatasetOrders([seed], n).fill(orders)
    for epoch in range(4):
        dataset._shuffle_py(seed)
        visited = [dataset._next_py()[3] for _ in range(n)]
        assert visited == orders[0, epoch].tolist()


def test_perceptron_sgd_fit_with_streams_equals_the_drawn_orders():
    """perceptron_sgd_fit shuffling each class's index as its epochs run gives the bits of
    the same fit on the orders drawn ahead, and leaves the index where the draws leave it."""
    rng = np.random.RandomState(0)
    X = rng.randn(60, 7)
    Y = np.where(rng.rand(3, 60) > 0.5, 1.0, -1.0)
    SW = np.ones_like(Y)
    seeds = [3, 5, 8]
    fits = []
    for way in ("streams", "drawn"):
        W = np.zeros((3, 7))
        state = ops.perceptron_sgd_classes([0.0] * 3, W)
        streams = ops.SGDDatasetOrders(seeds, 60)
        orders = streams
        if way == "drawn":
            orders = np.empty((3, 6, 60), dtype=np.int64)
            streams.fill(orders)
        ops.perceptron_sgd_fit(W, None, state, X, Y, SW, orders, 1.0, tol=None, max_iter=6,
                               n_epochs=6)
        fits.append((W, state["b"].copy(), streams.index.copy()))
    np.testing.assert_array_equal(fits[0][0], fits[1][0])
    np.testing.assert_array_equal(fits[0][1], fits[1][1])
    np.testing.assert_array_equal(fits[0][2], fits[1][2])
    assert fits[0][0].any()


def test_bad_streams_are_refused():
    for seeds in ([], [-1], [2 ** 32], [1.5], [[1, 2]], "ab"):
        with pytest.raises(ValueError, match="seeds must be"):
            ops.SGDDatasetOrders(seeds, 5)
    for n in (0, -3):
        with pytest.raises(ValueError, match="n"):
            ops.SGDDatasetOrders([1], n)
    with pytest.raises(ValueError, match="below 2\\*\\*31"):
        ops.SGDDatasetOrders([1], 2 ** 31)
    streams = ops.SGDDatasetOrders([0, 1], 4)
    for bad in (np.zeros((2, 3, 4), dtype=np.int32), np.zeros((2, 3, 8), dtype=np.int64)[:, :, ::2],
                np.zeros((3, 4), dtype=np.int64)):
        with pytest.raises(ValueError, match="orders must be"):
            streams.fill(bad)
    with pytest.raises(ValueError, match="one dataset stream per stream"):
        streams.fill(np.zeros((3, 2, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="one dataset stream per stream"):
        streams.fill(np.zeros((2, 2, 5), dtype=np.int64))
    with pytest.raises(ValueError, match="one flag per stream"):
        streams.fill(np.zeros((2, 2, 4), dtype=np.int64), [True])
    streams.index[1, 2] = 4  # not a row number: the core refuses it, nothing written
    orders = np.full((2, 1, 4), -7, dtype=np.int64)
    with pytest.raises(ValueError, match="nncore"):
        streams.fill(orders)
    assert (orders == -7).all()


def test_perceptron_sgd_fit_refuses_streams_that_do_not_fit():
    X = np.random.RandomState(1).randn(6, 3)
    Y = np.ones((2, 6))
    W = np.zeros((2, 3))
    state = ops.perceptron_sgd_classes([0.0, 0.0], W)
    with pytest.raises(ValueError, match="one stream per class"):
        ops.perceptron_sgd_fit(W, None, state, X, Y, Y, ops.SGDDatasetOrders([1, 2, 3], 6), 1.0)
    with pytest.raises(ValueError, match="of 6 rows"):
        ops.perceptron_sgd_fit(W, None, state, X, Y, Y, ops.SGDDatasetOrders([1, 2], 7), 1.0)
    corrupt = ops.SGDDatasetOrders([1, 2], 6)
    corrupt.index[0, 0] = -1
    with pytest.raises(ValueError, match="nncore"):
        ops.perceptron_sgd_fit(W, None, state, X, Y, Y, corrupt, 1.0)
    assert not W.any() and (state["epochs"] == 0).all()
    rows = _sparse.as_csr(sp.csr_matrix(X), np.float64)
    with pytest.raises(TypeError, match="SGDDatasetOrders"):
        _sparse.perceptron_sgd_fit(W, None, state, rows, Y, Y, ops.SGDDatasetOrders([1, 2], 6),
                                   1.0)


# ---- the fits: scikit-learn's, bit for bit ---------------------------------------------------

def sparse_data():
    rng = np.random.RandomState(4)
    X = sp.random(150, 60, density=0.1, format="csr", random_state=rng)
    y = rng.randint(0, 4, 150)
    return X, y


def datasets():
    X_iris, y_iris = load_iris(return_X_y=True)
    X_digits, y_digits = load_digits(return_X_y=True)
    X_digits, y_digits = X_digits[:300] / 16.0, y_digits[:300]
    X_sparse, y_sparse = sparse_data()
    return {
        "iris": (X_iris, y_iris),
        "iris-binary": (X_iris, (y_iris == 1).astype(int)),
        "digits": (X_digits, y_digits),
        "digits-binary": (X_digits, (y_digits > 4).astype(int)),
        "csr": (X_sparse, y_sparse),
        "csr-binary": (X_sparse, (y_sparse > 1).astype(int)),
    }


DATA = datasets()


def random_states(kind):
    """Two equal random_state values of one kind, one for each estimator."""
    if kind == "int":
        return 7, 7
    return np.random.RandomState(7), np.random.RandomState(7)


def assert_same_fit(ours, theirs):
    np.testing.assert_array_equal(ours.coef_, theirs.coef_)
    np.testing.assert_array_equal(ours.intercept_, theirs.intercept_)
    assert ours.coef_.dtype == theirs.coef_.dtype
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_


def assert_same_generator(ours, theirs):
    """A RandomState random_state is left where scikit-learn's draws leave it."""
    if isinstance(ours, np.random.RandomState):
        a, b = ours.get_state(), theirs.get_state()
        np.testing.assert_array_equal(a[1], b[1])
        assert a[2] == b[2]


def quiet(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


@pytest.mark.parametrize("name,dtype,early_stopping,state,n_jobs", list(itertools.product(
    DATA, [np.float64, np.float32], [False, True], ["int", "RandomState"], [None, 2])))
def test_fit_is_scikit_learns(name, dtype, early_stopping, state, n_jobs):
    X, y = DATA[name]
    X = X.astype(dtype)
    ours_state, theirs_state = random_states(state)
    kw = dict(early_stopping=early_stopping, n_jobs=n_jobs, max_iter=30)
    ours = quiet(Perceptron(random_state=ours_state, **kw).fit, X, y)
    theirs = quiet(linear_model.Perceptron(random_state=theirs_state, **kw).fit, X, y)
    assert_same_fit(ours, theirs)
    assert_same_generator(ours_state, theirs_state)


@pytest.mark.parametrize("name", ["iris", "digits-binary", "csr", "csr-binary"])
@pytest.mark.parametrize("kw", [dict(penalty="l1", alpha=1e-4),
                                dict(class_weight="balanced", fit_intercept=False),
                                dict(eta0=0.3, tol=None, max_iter=12),
                                dict(early_stopping=True, validation_fraction=0.2,
                                     n_iter_no_change=2)],
                         ids=lambda kw: ",".join(kw))
def test_fit_with_options_and_sample_weights_is_scikit_learns(name, kw):
    X, y = DATA[name]
    sw = np.linspace(0.5, 1.5, len(y))
    ours = quiet(Perceptron(random_state=3, **kw).fit, X, y, sample_weight=sw)
    theirs = quiet(linear_model.Perceptron(random_state=3, **kw).fit, X, y, sample_weight=sw)
    assert_same_fit(ours, theirs)


def test_global_random_state_is_scikit_learns():
    """random_state=None draws from NumPy's global generator, in scikit-learn's order."""
    X, y = DATA["digits"]
    np.random.seed(11)
    ours = quiet(Perceptron().fit, X, y)
    after_ours = np.random.get_state()[1].copy()
    np.random.seed(11)
    theirs = quiet(linear_model.Perceptron().fit, X, y)
    assert_same_fit(ours, theirs)
    np.testing.assert_array_equal(after_ours, np.random.get_state()[1])


@pytest.mark.parametrize("name,state,n_jobs", list(itertools.product(
    ["iris", "digits-binary", "csr", "csr-binary"], ["int", "RandomState"], [None, 2])))
def test_partial_fit_is_scikit_learns(name, state, n_jobs):
    """Each call a fresh dataset and fresh seeds, one epoch: equal after every call."""
    X, y = DATA[name]
    classes = np.unique(y)
    ours_state, theirs_state = random_states(state)
    ours = Perceptron(random_state=ours_state, n_jobs=n_jobs)
    theirs = linear_model.Perceptron(random_state=theirs_state, n_jobs=n_jobs)
    order = np.random.RandomState(0).permutation(X.shape[0])
    for batch in np.array_split(order, 4):
        quiet(ours.partial_fit, X[batch], y[batch], classes=classes)
        quiet(theirs.partial_fit, X[batch], y[batch], classes=classes)
        assert_same_fit(ours, theirs)
    assert_same_generator(ours_state, theirs_state)


@pytest.mark.parametrize("name", ["digits", "csr-binary"])
def test_the_core_trains_not_scikit_learn(monkeypatch, name):
    """scikit-learn's _plain_sgd is never called: the epochs are the core's (perceptron_sgd_fit,
    dense or CSR), and the bits still equal scikit-learn's own fit made beforehand."""
    X, y = DATA[name]
    theirs = quiet(linear_model.Perceptron(random_state=5).fit, X, y)

    def refuse(*args, **kwargs):
        raise AssertionError("scikit-learn's _plain_sgd was called")

    calls = []
    module = _sparse if sp.issparse(X) else ops
    real_fit = module.perceptron_sgd_fit

    def counting(*args, **kwargs):
        calls.append(1)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(_stochastic_gradient, "_plain_sgd32", refuse)
    monkeypatch.setattr(_stochastic_gradient, "_plain_sgd64", refuse)
    monkeypatch.setattr(module, "perceptron_sgd_fit", counting)
    ours = quiet(Perceptron(random_state=5).fit, X, y)
    assert calls
    assert_same_fit(ours, theirs)
