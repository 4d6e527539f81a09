"""nnfast.ops.RandomStateShuffler: numpy.random.RandomState.shuffle drawn by the core's MT19937,
bit for bit, and the generator left where its own shuffles would have left it."""
import warnings

import numpy as np
import pytest

from nnfast.ops import RandomStateShuffler


def states_equal(a, b):
    sa, sb = a.get_state(legacy=True), b.get_state(legacy=True)
    return (sa[0] == sb[0] and np.array_equal(sa[1], sb[1]) and sa[2:] == sb[2:])


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 64, 1347, 5000])
@pytest.mark.parametrize("seed", [0, 5, 2**32 - 1])
def test_the_shuffles_and_the_state_are_randomstate_s(n, seed):
    ours, numpys = np.random.RandomState(seed), np.random.RandomState(seed)
    # the stream part-way through its 624-word buffer, and a cached Gaussian to keep
    for rs in (ours, numpys):
        rs.randint(0, 1000, size=seed % 301)
        rs.standard_normal()
    x = np.arange(n, dtype=np.int64)[::-1].copy()
    y = x.copy()
    shuffler = RandomStateShuffler(ours)
    for _ in range(9):  # each shuffle applied to the last one's result, as an epoch loop does
        numpys.shuffle(x)
        shuffler.shuffle(y)
        assert np.array_equal(x, y)
    shuffler.close()
    assert states_equal(ours, numpys)
    assert ours.standard_normal() == numpys.standard_normal()  # the cached one, kept
    assert ours.random_sample() == numpys.random_sample()


def test_after_close_it_shuffles_with_the_generator_itself():
    ours, numpys = np.random.RandomState(3), np.random.RandomState(3)
    x, y = np.arange(50, dtype=np.int64), np.arange(50, dtype=np.int64)
    shuffler = RandomStateShuffler(ours)
    shuffler.shuffle(y)
    shuffler.close()
    shuffler.shuffle(y)
    numpys.shuffle(x)
    numpys.shuffle(x)
    assert np.array_equal(x, y) and states_equal(ours, numpys)


def test_the_global_generator_and_other_bit_generators_shuffle_themselves():
    global_state = np.random.get_state()
    try:
        np.random.seed(11)
        x = np.arange(100, dtype=np.int64)
        shuffler = RandomStateShuffler(np.random.mtrand._rand)
        np.random.seed(11)
        shuffler.shuffle(x)  # NumPy's own shuffle, on the shared generator
        expected = np.random.RandomState(11).permutation(100)
        assert np.array_equal(x, expected)
        shuffler.close()
    finally:
        np.random.set_state(global_state)
    pcg, pcg_again = (np.random.RandomState(np.random.PCG64(2)),
                      np.random.RandomState(np.random.PCG64(2)))
    x, y = np.arange(100, dtype=np.int64), np.arange(100, dtype=np.int64)
    shuffler = RandomStateShuffler(pcg)
    shuffler.shuffle(x)
    shuffler.close()
    pcg_again.shuffle(y)
    assert np.array_equal(x, y)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_a_shuffled_fit_leaves_random_state_where_scikit_learn_leaves_it(solver):
    sklearn = pytest.importorskip("sklearn")
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as Theirs

    from nnfast.sklearn import MLPClassifier as Ours
    rng = np.random.RandomState(0)
    X, y = rng.rand(150, 5), rng.randint(0, 3, 150)
    kwargs = dict(hidden_layer_sizes=(8,), solver=solver, batch_size=32, max_iter=6,
                  random_state=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = Ours(**kwargs).fit(X, y), Theirs(**kwargs).fit(X, y)
    assert states_equal(ours._random_state, theirs._random_state)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert sklearn is not None
