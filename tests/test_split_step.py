"""Whole fits through the data-parallel training step (src/nncore/train_split.c).

A batch whose forward work (m * sum of n_l n_{l+1} multiply-adds) lies in the split range has its
rows cut into parts of whole 24-row blocks (4 blocks a part at least), a function of the batch
size and the network alone; the parts' gradients are summed in a fixed order
(docs/semantics.md, "Backprop and L2"). For [64, 100, 10] (7400 multiply-adds a row) a batch of
168 rows (7 blocks) is not split, 169 and 200 run in 2 parts, 480 in 5, so a fit of 500 rows
mixes split and unsplit steps (its short last batches). The results must be the
same bits on 1, 2 and 3 threads, and float64 runs equal the reference to 1e-9.
"""
import numpy as np
import pytest

import nnfast
from nnfast import reference

from helpers import assert_close, assert_params_close, targets_for

F64 = 1e-9
DIGITS = [64, 100, 10]


def fit_on(threads, dtype, optimizer, batch, sample_weight=False, activation="relu"):
    """Parameters and loss curve of a digits-sized fit (random data) on `threads` threads."""
    rng = np.random.default_rng(7)
    X = rng.random((500, 64))
    y = rng.integers(0, 10, 500)
    sw = rng.random(500) + 0.5 if sample_weight else None
    opt = (dict(optimizer="adam", lr=0.002) if optimizer == "adam"
           else dict(optimizer="sgd", lr=0.05, momentum=0.9, nesterov=True))
    before = nnfast.get_num_threads()
    nnfast.set_num_threads(threads)
    try:
        model = nnfast.MLP(DIGITS, activation, seed=3, dtype=dtype)
        model.fit(X, y, epochs=3, batch_size=batch, alpha=1e-3, shuffle=True,
                  sample_weight=sw, **opt)
    finally:
        nnfast.set_num_threads(before)
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("batch", [168, 169, 200, 480])
def test_split_fit_bit_identical_for_any_thread_count(dtype, optimizer, batch):
    runs = [fit_on(t, dtype, optimizer, batch) for t in (1, 2, 3)]
    first = runs[0]
    for other in runs[1:]:
        for a, b in zip(first.weights + first.biases, other.weights + other.biases):
            assert a.dtype == np.dtype(dtype)
            assert np.array_equal(a, b)
        assert first.loss_curve_ == other.loss_curve_
    assert first.loss_curve_[-1] < first.loss_curve_[0]


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_split_fit_with_sample_weights_bit_identical(activation):
    one, two, three = (fit_on(t, "float64", "adam", 200, sample_weight=True,
                              activation=activation) for t in (1, 2, 3))
    for a, b, c in zip(one.weights + one.biases, two.weights + two.biases,
                       three.weights + three.biases):
        assert np.array_equal(a, b) and np.array_equal(a, c)
    assert one.loss_curve_ == two.loss_curve_ == three.loss_curve_


# [24, 48, 16]: 1920 multiply-adds a row, so a batch of 200 (9 blocks: parts of 96 and 104
# rows) is split and the last batch of 30 rows is not.
SPLIT_MID = dict(layers=[24, 48, 16], n=230, batch=200)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("weighted", [False, True])
def test_split_fit_matches_reference(optimizer, weighted, monkeypatch):
    monkeypatch.setenv("NNFAST_SMALL_ENGINE", "0")  # the net fits the fused engine's budget
    rng = np.random.default_rng(2)
    X = rng.normal(size=(SPLIT_MID["n"], SPLIT_MID["layers"][0]))
    y = targets_for("cross_entropy", SPLIT_MID["layers"][-1], n=SPLIT_MID["n"], seed=3)
    sw = (rng.random(SPLIT_MID["n"]) + 0.5) if weighted else None
    opt = (dict(optimizer="adam", lr=0.01) if optimizer == "adam"
           else dict(optimizer="sgd", lr=0.05, momentum=0.5))
    fit = dict(epochs=2, batch_size=SPLIT_MID["batch"], alpha=0.01, shuffle=True, **opt)
    native = nnfast.MLP(SPLIT_MID["layers"], "tanh", seed=5)
    ref = reference.MLP(SPLIT_MID["layers"], "tanh", seed=5)
    native.fit(X, y, sample_weight=sw, **fit)
    ref.fit(X.tolist(), y.tolist(), sample_weight=None if sw is None else sw.tolist(), **fit)
    assert_params_close(native, ref, rtol=F64, atol=1e-12)
    assert_close("loss_curve", native.loss_curve_, ref.loss_curve_, F64)
    assert native.loss_curve_[-1] < native.loss_curve_[0]


def test_split_fit_with_dropout_stays_bit_identical():
    """Dropout draws its masks over the whole batch in order: such steps are never split, and
    the fit is still the same bits on 1 and 2 threads."""
    rng = np.random.default_rng(4)
    X, y = rng.random((400, 64)), rng.integers(0, 10, 400)
    models = []
    for threads in (1, 2):
        before = nnfast.get_num_threads()
        nnfast.set_num_threads(threads)
        try:
            m = nnfast.MLP(DIGITS, "relu", seed=1, dropout=0.2)
            models.append(m.fit(X, y, epochs=2, batch_size=200, optimizer="adam", lr=0.01))
        finally:
            nnfast.set_num_threads(before)
    for a, b in zip(models[0].weights, models[1].weights):
        assert np.array_equal(a, b)
