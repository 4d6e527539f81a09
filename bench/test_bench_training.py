"""pytest-benchmark suites for training: one optimizer step (one batch of W2, W3 and W4) and one
epoch (W2 and W3), in float32 and float64, at 1 thread and at every core.

    pytest bench/ --benchmark-only        (not part of the test run: testpaths is tests/)

Each benchmark checks that training moved the weights and kept them finite.
"""
import dataclasses

import numpy as np
import pytest

import nnfast
from nnfast.benchmark.workloads import FULL, make_nnfast_model

DTYPES = ("float32", "float64")


def _setup(name, dtype, rows=None):
    workload = dataclasses.replace(FULL[name], dtype=dtype)
    X, y = workload.data()
    if rows is not None:
        X, y = X[:rows], y[:rows]
    return workload, X, y, make_nnfast_model(workload)


def _assert_trained(model, before):
    after = np.concatenate([W.ravel() for W in model.weights])
    assert np.isfinite(after).all()
    assert not np.array_equal(after, before), "training left the weights unchanged"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["W2", "W3", "W4"])
def test_training_step(benchmark, name, dtype, threads):
    workload, X, y, model = _setup(name, dtype, rows=FULL[name].batch_size)
    before = np.concatenate([W.ravel() for W in model.weights])
    benchmark(model.fit, X, y, epochs=1, batch_size=len(X), lr=workload.lr, shuffle=False)
    _assert_trained(model, before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["W2", "W3"])
def test_training_epoch(benchmark, name, dtype, threads):
    workload, X, y, model = _setup(name, dtype)
    before = np.concatenate([W.ravel() for W in model.weights])
    benchmark.pedantic(model.fit, args=(X, y),
                       kwargs=dict(epochs=1, batch_size=workload.batch_size, lr=workload.lr,
                                   shuffle=False),
                       rounds=3, iterations=1, warmup_rounds=1)
    _assert_trained(model, before)
