"""The one-neuron engine (src/nncore/neuron_train.c, neuron_train_avx2.c) against the others.

A single dense layer with one output (sigmoid + binary cross-entropy, or identity + mse) trained
full-batch without sample weights or L2 runs every epoch of a call in one loop. It does the
general path's operations in the same order, so its parameters, loss curve and optimizer state
equal the general path's (NNFAST_SMALL_ENGINE=0) bit for bit, in float64 and float32, for every
optimizer, with and without shuffling, across its chunks of 256 rows.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnfast import _core
from nnfast.models.training import FitSettings

ACT = _core.ACTIVATION_CODES
LOSS = _core.LOSS_CODES
PAIRS = [("sigmoid", "binary_cross_entropy"), ("identity", "mse")]
OPTIMIZERS = {"sgd": dict(optimizer="sgd", lr=0.5),
              "momentum": dict(optimizer="sgd", lr=0.1, momentum=0.9),
              "nesterov": dict(optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True),
              "adam": dict(optimizer="adam", lr=0.05)}


def neuron_engine_runs():
    """The engine needs the avx2 or avx512 vector math (the CPU's, unless NNFAST_VECMATH)."""
    return _core.build_info()["vecmath_kernel"] in ("avx2", "avx512")


def train(engine_on, k, output, loss, dtype, X, Y, optimizer, shuffle, epochs, calls=1):
    """(engine name, params, loss curve, optimizer state, stream state) after `calls` calls of
    `epochs` epochs each, with the small engines on or off."""
    previous = os.environ.get("NNFAST_SMALL_ENGINE")
    os.environ["NNFAST_SMALL_ENGINE"] = "1" if engine_on else "0"
    try:
        net = _core.Net([k, 1], ACT["tanh"], ACT[output], LOSS[loss])
        params = np.empty(net.n_params, dtype)
        _core.init_params(params, net, 0, 3)
        n = len(X)
        trainer = _core.Trainer(net, dtype, n, n, FitSettings(batch_size=n, shuffle=shuffle,
                                                              **OPTIMIZERS[optimizer]))
        curve, state = [], 5
        for _ in range(calls):
            c, state = trainer.epochs(params, X, Y, state, epochs)
            curve.extend(c)
        return trainer.engine, params, np.array(curve), trainer.get_optimizer_state(), state
    finally:
        if previous is None:
            del os.environ["NNFAST_SMALL_ENGINE"]
        else:
            os.environ["NNFAST_SMALL_ENGINE"] = previous


def data(n, k, loss, dtype, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    X = (scale * rng.standard_normal((n, k))).astype(dtype)
    if loss == "mse":
        Y = (X.astype(np.float64) @ rng.standard_normal(k) + 0.3).astype(dtype)[:, None]
    else:
        Y = (rng.random((n, 1)) < 0.5).astype(dtype)
    return X, np.ascontiguousarray(Y)


def assert_same_run(a, b):
    """Every part of two runs equal, bit for bit."""
    assert np.array_equal(a[1], b[1]), "parameters differ"
    assert np.array_equal(a[2], b[2]), "loss curves differ"
    (s1a, s2a, ta), (s1b, s2b, tb) = a[3], b[3]
    assert np.array_equal(s1a, s1b) and ta == tb
    assert (s2a is None) == (s2b is None) and (s2a is None or np.array_equal(s2a, s2b))
    assert a[4] == b[4], "stream states differ"


needs_engine = pytest.mark.skipif(not neuron_engine_runs(),
                                  reason="no avx2/avx512 vector math on this CPU")


@needs_engine
def test_the_and_gate_trains_in_the_neuron_engine_with_the_general_paths_bits():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)
    Y = np.array([[0], [0], [0], [1]], np.float64)
    fast = train(True, 2, "sigmoid", "binary_cross_entropy", "float64", X, Y, "sgd", False, 500)
    slow = train(False, 2, "sigmoid", "binary_cross_entropy", "float64", X, Y, "sgd", False, 500)
    assert fast[0] == "neuron" and slow[0] == "general"
    assert_same_run(fast, slow)
    assert fast[2][-1] < 0.1 * fast[2][0]  # it learned the gate


@needs_engine
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.sampled_from([1, 2, 3, 4, 5, 8, 13, 255, 256, 257, 700]),
       k=st.sampled_from([1, 2, 3, 4, 5, 11]), pair=st.sampled_from(PAIRS),
       dtype=st.sampled_from(["float64", "float32"]),
       optimizer=st.sampled_from(sorted(OPTIMIZERS)), shuffle=st.booleans(),
       calls=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_every_case_matches_the_general_path_bit_for_bit(n, k, pair, dtype, optimizer, shuffle,
                                                         calls, seed):
    output, loss = pair
    X, Y = data(n, k, loss, dtype, seed)
    fast = train(True, k, output, loss, dtype, X, Y, optimizer, shuffle, 7, calls)
    slow = train(False, k, output, loss, dtype, X, Y, optimizer, shuffle, 7, calls)
    assert fast[0] == "neuron" and slow[0] == "general"
    assert_same_run(fast, slow)


@needs_engine
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_saturated_logits_take_the_scalar_forms_as_the_general_path_does(dtype):
    # |z| beyond the vector range (708 in double, 80 in float): the lanes' scalar fallbacks
    X, Y = data(9, 3, "binary_cross_entropy", dtype, 1, scale=400.0)
    fast = train(True, 3, "sigmoid", "binary_cross_entropy", dtype, X, Y, "sgd", True, 5)
    slow = train(False, 3, "sigmoid", "binary_cross_entropy", dtype, X, Y, "sgd", True, 5)
    assert fast[0] == "neuron"
    assert_same_run(fast, slow)


@needs_engine
def test_a_diverging_run_stops_where_the_general_path_stops():
    X, Y = data(16, 2, "mse", "float64", 2, scale=1e3)
    runs = []
    for engine_on in (True, False):
        with pytest.raises(FloatingPointError) as info:
            train(engine_on, 2, "identity", "mse", "float64", X, Y, "sgd", False, 400)
        runs.append(info.value.epochs_done)
    assert runs[0] == runs[1] and runs[0] < 400


def test_what_the_engine_does_not_take_goes_elsewhere():
    X, Y = data(8, 2, "binary_cross_entropy", "float64", 3)
    net = _core.Net([2, 1], ACT["tanh"], ACT["sigmoid"], LOSS["binary_cross_entropy"])
    full = _core.Trainer(net, "float64", 8, 8, FitSettings(batch_size=8))
    minibatch = _core.Trainer(net, "float64", 8, 4, FitSettings(batch_size=4))
    l2 = _core.Trainer(net, "float64", 8, 8, FitSettings(batch_size=8, alpha=1e-3))
    two_out = _core.Trainer(_core.Net([2, 2], ACT["tanh"], ACT["softmax"],
                                      LOSS["cross_entropy"]), "float64", 8, 8,
                            FitSettings(batch_size=8))
    assert full.engine == ("neuron" if neuron_engine_runs() else "fused")
    assert minibatch.engine == "fused" and l2.engine == "fused" and two_out.engine == "fused"
    # a reported L2 term (FitSettings.loss_alpha) is not the engine's loss either
    reported_l2 = _core.Trainer(net, "float64", 8, 8, FitSettings(batch_size=8, loss_alpha=1e-3))
    assert reported_l2.engine == "fused"
