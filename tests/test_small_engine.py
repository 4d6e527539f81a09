"""The fused small-network training step (src/nncore/small_net.h) against the general path.

A net whose parameters, state and one batch fit the small engine's budget trains through one
fused step per batch; NNFAST_SMALL_ENGINE=0 (read when a trainer is made) forces the general
path (network.c's batch_loss_gradient + optim.c). On random small shapes (hypothesis) both train
the same start for a few epochs: batch 1, a short last batch, full batch; every hidden
activation, every output/loss pair, sgd / momentum / nesterov / adam, sample weights, L2,
shuffling, float64 and float32. The fused step does the general path's operations in the same
order without FMA contraction, so float64 agrees to the last bits (asserted: 1e-12 relative);
float32 within 1e-5.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nnfast import _core
from nnfast.models.training import FitSettings

ACT = _core.ACTIVATION_CODES
LOSS = _core.LOSS_CODES
HIDDEN = ["identity", "sigmoid", "tanh", "relu"]
PAIRS = [("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy"), ("identity", "mse"),
         ("sigmoid", "mse"), ("tanh", "mse"), ("relu", "mse"), ("softmax", "mse")]
OPTIMIZERS = [("sgd", 0.0, False), ("momentum", 0.9, False), ("nesterov", 0.9, True),
              ("adam", 0.0, False)]


def train(engine, sizes, hidden, output, loss, dtype, X, Y, sw, batch, optimizer, alpha,
          shuffle, epochs=3):
    """(params, loss curve) after `epochs` epochs with the engine forced on or off."""
    name, momentum, nesterov = optimizer
    previous = os.environ.get("NNFAST_SMALL_ENGINE")
    os.environ["NNFAST_SMALL_ENGINE"] = "1" if engine else "0"
    try:
        net = _core.Net(sizes, ACT[hidden], ACT[output], LOSS[loss])
        params = np.empty(net.n_params, dtype)
        _core.init_params(params, net, 0, 7)  # glorot, stream 7
        lr = 0.01 if name == "adam" else 0.05
        settings = FitSettings(optimizer="adam" if name == "adam" else "sgd", lr=lr,
                               momentum=momentum, nesterov=nesterov, alpha=alpha,
                               batch_size=batch, shuffle=shuffle)
        trainer = _core.Trainer(net, dtype, len(X), batch, settings)
        try:
            curve, _ = trainer.epochs(params, X, Y, 11, epochs, sw)
        except FloatingPointError:  # diverged: both paths must, at the same batch
            curve = [np.nan]
    finally:
        if previous is None:
            del os.environ["NNFAST_SMALL_ENGINE"]
        else:
            os.environ["NNFAST_SMALL_ENGINE"] = previous
    return params, np.array(curve)


def pair_ok(output, loss):
    try:
        _core.Net([1, 1], ACT["tanh"], ACT[output], LOSS[loss])
    except ValueError:
        return False
    return True


def assert_close(what, got, want, rtol, atol):
    """Within atol + rtol |want|, NaN where want is NaN; prints the largest difference."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    same_nan = np.isnan(got) == np.isnan(want)
    diff = np.where(np.isnan(want), 0.0, np.abs(got - want))
    bound = atol + rtol * np.abs(np.nan_to_num(want))
    assert np.all(same_nan) and np.all(diff <= bound), \
        f"{what}: largest difference {np.nanmax(diff):.3g}"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(widths=st.lists(st.integers(1, 12), min_size=2, max_size=4),
       n=st.integers(1, 30), batch_pick=st.sampled_from(["one", "short", "full", "random"]),
       batch_draw=st.integers(1, 30), hidden=st.sampled_from(HIDDEN),
       pair=st.sampled_from(PAIRS), optimizer=st.sampled_from(OPTIMIZERS),
       alpha=st.sampled_from([0.0, 0.01]), weighted=st.booleans(), shuffle=st.booleans(),
       dtype=st.sampled_from(["float64", "float32"]), seed=st.integers(0, 2**16))
def test_fused_step_matches_the_general_path(widths, n, batch_pick, batch_draw, hidden, pair,
                                            optimizer, alpha, weighted, shuffle, dtype, seed):
    output, loss = pair
    assume(pair_ok(output, loss))
    sizes = widths
    K = sizes[-1]
    rng = np.random.default_rng(seed)
    # "short": n // 2 + 1 rows, so the last batch is shorter (n > 2)
    batch = {"one": 1, "full": n, "short": n // 2 + 1 if n > 2 else 1,
             "random": min(batch_draw, n)}[batch_pick]
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    if loss == "cross_entropy":
        Y = np.eye(K, dtype=dtype)[rng.integers(0, K, n)]
    elif loss == "binary_cross_entropy":
        Y = rng.integers(0, 2, (n, K)).astype(dtype)
    else:
        Y = rng.uniform(-1, 1, (n, K)).astype(dtype)
    sw = rng.uniform(0.5, 2.0, n) if weighted else None
    args = (sizes, hidden, output, loss, dtype, X, Y, sw, batch, optimizer, alpha, shuffle)
    fused, fused_curve = train(True, *args)
    general, general_curve = train(False, *args)
    rtol, atol = (1e-12, 1e-14) if dtype == "float64" else (1e-5, 1e-6)
    assert_close("params", fused, general, rtol, atol)
    assert_close("loss curve", fused_curve, general_curve, rtol, atol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sizes,batch", [([4, 16, 3], 16), ([2, 1], 4), ([5, 7, 6, 2], 1)])
def test_w1_w2_shapes_match(sizes, batch, dtype):
    """The workloads the engine is for (W1: the AND gate; W2: Iris-sized, short last batch)."""
    rng = np.random.default_rng(1)
    n = 150 if sizes[0] == 4 else 4 if sizes[0] == 2 else 9
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    K = sizes[-1]
    if K == 1:
        output, loss, Y = "sigmoid", "binary_cross_entropy", rng.integers(0, 2, (n, 1))
    else:
        output, loss, Y = "softmax", "cross_entropy", np.eye(K)[rng.integers(0, K, n)]
    Y = Y.astype(dtype)
    for opt in OPTIMIZERS:
        args = (sizes, "tanh", output, loss, dtype, X, Y, None, batch, opt, 0.001, False)
        fused, fc = train(True, *args, epochs=20)
        general, gc = train(False, *args, epochs=20)
        rtol = 1e-12 if dtype == "float64" else 1e-5
        assert_close(f"{opt[0]} params", fused, general, rtol, rtol)
        assert_close(f"{opt[0]} loss curve", fc, gc, rtol, rtol)


def test_nonfinite_loss_stops_before_the_update():
    """A loss that overflows stops the fit (FloatingPointError), weights untouched: both paths."""
    X = np.array([[1e200, 1.0]])
    Y = np.array([[1.0]])
    net = _core.Net([2, 1], ACT["identity"], ACT["identity"], LOSS["mse"])
    for engine in ("1", "0"):
        os.environ["NNFAST_SMALL_ENGINE"] = engine
        try:
            params = np.array([1.0, 1.0, 0.0])
            trainer = _core.Trainer(net, "float64", 1, 1,
                                    FitSettings(lr=0.1, batch_size=1, shuffle=False))
            with pytest.raises(FloatingPointError):
                trainer.epochs(params, X, Y, 0, 1)
            assert np.array_equal(params, [1.0, 1.0, 0.0])
        finally:
            del os.environ["NNFAST_SMALL_ENGINE"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sizes", [[4, 16, 3], [30, 600, 200, 5]])
def test_forward_is_bit_identical_for_any_thread_count(sizes, dtype):
    """nn_forward deals fixed 256-row chunks to threads: the same bits for 1 and 2 threads, and
    (small nets, through the fused engine's forward) each row's output is that of the row alone."""
    import nnfast
    net = _core.Net(sizes, ACT["tanh"], ACT["softmax"], LOSS["cross_entropy"])
    params = np.empty(net.n_params, dtype)
    _core.init_params(params, net, 0, 5)
    n = 5003 if sizes[0] == 4 else 1100
    X = np.random.default_rng(2).normal(size=(n, sizes[0])).astype(dtype)
    before = nnfast.get_num_threads()
    outs = []
    try:
        for threads in (1, 2):
            nnfast.set_num_threads(threads)
            out = np.empty((n, sizes[-1]), dtype)
            _core.forward(out, params, net, X)
            outs.append(out)
    finally:
        nnfast.set_num_threads(before)
    assert np.array_equal(outs[0], outs[1])
    if sizes[0] == 4:
        for i in (0, 1, 255, 256, 4999, n - 1):
            one = np.empty((1, sizes[-1]), dtype)
            _core.forward(one, params, net, X[i:i + 1])
            assert np.array_equal(one[0], outs[0][i]), i


@pytest.mark.parametrize("isa", ["portable", "avx2", "avx512"])
def test_every_instruction_set_engine(isa):
    """The engine of each instruction set (it follows NNFAST_GEMM_KERNEL, so avx2 runs here on an
    AVX-512 machine as on the AVX2-only CI machine), in a fresh process: the W1/W2 checks above."""
    import subprocess
    import sys
    from helpers import pytest_with_kernel
    env = pytest_with_kernel(isa, __file__, "w1_w2_shapes or thread_count", NNFAST_VECMATH=isa)
    info = subprocess.run([sys.executable, "-c", "from nnfast import _core; "
                           "print(_core.build_info()['gemm_kernel_float64'])"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert info.stdout.startswith(isa)
