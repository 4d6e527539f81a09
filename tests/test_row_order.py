"""The caller's row order (Trainer.epoch(order=...), nn_fit_config.order): the core gathers each
batch's rows in that order, so an epoch equals the unshuffled epoch on X[order], bit for bit,
and an order that is not n row indices is refused before any update."""
import numpy as np
import pytest

import nnfast
from nnfast.models.training import FitSettings


def data(n=203, k=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, k)), rng.integers(0, classes, n)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layers", [[6, 3], [6, 40, 3], [6, 120, 90, 3]])
def test_epoch_in_order_equals_epoch_on_gathered_rows(optimizer, dtype, layers):
    X, y = data()
    X = X.astype(dtype)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    order = np.random.default_rng(2).permutation(len(y))
    settings = FitSettings(optimizer=optimizer, lr=0.01, batch_size=50, shuffle=False,
                           alpha=1e-3)
    ordered = nnfast.MLP(layers, "relu", seed=3, dtype=dtype).trainer(settings)
    gathered = nnfast.MLP(layers, "relu", seed=3, dtype=dtype).trainer(settings)
    for _ in range(3):
        a = ordered.epoch(X, y, order=order, sample_weight=weights)
        b = gathered.epoch(X[order], y[order], sample_weight=weights[order])
        assert a == b
    np.testing.assert_array_equal(ordered.params, gathered.params)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("row_bytes", [5128, 168])
def test_large_batches_gathered_over_threads_equal_epoch_on_gathered_rows(threads, dtype,
                                                                          row_bytes):
    """X of 20 MiB, read from memory: the core gathers its batches' rows four at a time in
    64-byte pieces (rows of 5128 bytes: 80 pieces and 8 bytes; of 168: 2 and 40), batches of
    75 rows in parts of 16 rows over the pool when they fill 32 KiB (5128-byte rows; train.c);
    sample weights gathered with them; the last batch short."""
    k = row_bytes // np.dtype(dtype).itemsize
    X, y = data(n=(20 << 20) // row_bytes, k=k, classes=4, seed=4)
    X = X.astype(dtype)
    weights = np.random.default_rng(5).uniform(0.5, 2.0, len(y))
    order = np.random.default_rng(6).permutation(len(y))
    settings = FitSettings(optimizer="sgd", lr=0.01, batch_size=75, shuffle=False)
    before = nnfast.get_num_threads()
    try:
        nnfast.set_num_threads(threads)
        ordered = nnfast.MLP([k, 8, 4], "relu", seed=3, dtype=dtype).trainer(settings)
        gathered = nnfast.MLP([k, 8, 4], "relu", seed=3, dtype=dtype).trainer(settings)
        for _ in range(2):
            a = ordered.epoch(X, y, order=order, sample_weight=weights)
            b = gathered.epoch(X[order], y[order], sample_weight=weights[order])
            assert a == b
    finally:
        nnfast.set_num_threads(before)
    np.testing.assert_array_equal(ordered.params, gathered.params)


def test_order_with_repeated_rows_is_a_valid_order():
    X, y = data(n=40)
    order = np.concatenate([np.arange(20), np.arange(20)])  # rows 20.. never visited
    settings = FitSettings(optimizer="sgd", lr=0.05, batch_size=8, shuffle=False)
    ordered = nnfast.MLP([6, 5, 3], "tanh", seed=0).trainer(settings)
    gathered = nnfast.MLP([6, 5, 3], "tanh", seed=0).trainer(settings)
    assert ordered.epoch(X, y, order=order) == gathered.epoch(X[order], y[order])
    np.testing.assert_array_equal(ordered.params, gathered.params)


@pytest.mark.parametrize("order, message", [
    (np.arange(39), "40 integer sample indices"),
    (np.arange(1, 41), r"indices in \[1, 40\]"),
    (-np.arange(40), r"indices in \[-39, 0\]"),
    (np.linspace(0, 39, 40), "integer sample indices"),
])
def test_bad_order_is_refused_before_any_update(order, message):
    X, y = data(n=40)
    trainer = nnfast.MLP([6, 5, 3], "tanh", seed=0).trainer(
        FitSettings(optimizer="sgd", lr=0.05, batch_size=8, shuffle=False))
    before = trainer.params.copy()
    with pytest.raises(ValueError, match=message):
        trainer.epoch(X, y, order=order)
    np.testing.assert_array_equal(trainer.params, before)


def test_order_with_shuffle_is_refused():
    X, y = data(n=40)
    trainer = nnfast.MLP([6, 5, 3], "tanh", seed=0).trainer(
        FitSettings(optimizer="sgd", lr=0.05, batch_size=8, shuffle=True))
    with pytest.raises(ValueError, match="shuffle=False"):
        trainer.epoch(X, y, order=np.arange(40))


def test_core_refuses_an_out_of_range_order_itself():
    """The core checks every index (the binding's callers check first; the core must not read
    outside X whoever calls it)."""
    X, y = data(n=40)
    trainer = nnfast.MLP([6, 5, 3], "tanh", seed=0).trainer(
        FitSettings(optimizer="sgd", lr=0.05, batch_size=8, shuffle=False))
    rows = trainer.rows(X, y)
    core = trainer._core_trainer(40)
    before = trainer.params.copy()
    bad = np.arange(40, dtype=np.int64)
    bad[7] = 40
    with pytest.raises(ValueError):
        core.epochs(trainer.params, rows.X, rows.Y, 0, 1, None, bad)
    with pytest.raises(ValueError, match="int64 row indices"):
        core.epochs(trainer.params, rows.X, rows.Y, 0, 1, None, np.arange(40, dtype=np.int32))
    np.testing.assert_array_equal(trainer.params, before)
