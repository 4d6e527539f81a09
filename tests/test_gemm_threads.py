"""The products and optimizer steps the thread pool splits give the same bits on 1, 2 and 3
threads: the narrow kernel's rows (C at most one vector wide: the 10-wide output layers), the
column split of a batch-64 C too short to split by rows, the row split, and sgd / nesterov /
adam over vectors cut into fixed chunks (optim.c); products too large to share a whole packed
operand, split one block of op(B) at a time."""
import numpy as np
import pytest

import nnfast
from nnfast import _core

needs_threads = pytest.mark.skipif(
    nnfast.config()["build"]["threading"] == "serial",
    reason="a serial build (no thread pool, no OpenMP): every count runs serially")

# (m, n, k) above the parallel threshold (2 MFLOP, gemm.c): narrow C; a short C split by
# columns (W3's and W4's batch-64 products); a tall C split by rows; W4's k = 10 product; a
# column split whose packed A (1.6 MiB in float32) is over 3/4 of a core's L2 (1 or 2 MiB),
# packed once and shared rather than by each thread; a row split whose packed op(B) (752 KiB
# in float64) each thread packs whole for itself on a 1 MiB L2 (gemm_parallel.c)
SHAPES = [(4096, 10, 128), (2000, 7, 300), (64, 2048, 256), (64, 256, 784), (64, 512, 128),
          (3000, 40, 64), (256, 2048, 10), (256, 1100, 1600), (200, 100, 784)]


@pytest.fixture
def restore_threads():
    before = nnfast.get_num_threads()
    yield
    nnfast.set_num_threads(before)


@needs_threads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 0), (0, 1)])
def test_split_products_are_bit_identical_for_1_2_3_threads(dtype, shape, trans_a, trans_b,
                                                            restore_threads):
    m, n, k = shape
    rng = np.random.default_rng(7)
    A = rng.uniform(-1, 1, (k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.uniform(-1, 1, (n, k) if trans_b else (k, n)).astype(dtype)
    bias = rng.uniform(-1, 1, n).astype(dtype)
    outs = []
    for threads in (1, 2, 3):
        nnfast.set_num_threads(threads)
        C = np.empty((m, n), dtype)
        _core.gemm(C, A, B, trans_a, trans_b, 0.5, 0.0, bias=bias, act=3)  # tanh
        outs.append(C)
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])
    want = np.tanh(0.5 * (A.T if trans_a else A).astype(np.float64)
                   @ (B.T if trans_b else B).astype(np.float64) + bias)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.allclose(outs[0], want, rtol=tol, atol=tol * k)


# Products whose packed A exceeds the 16 MiB a parallel product shares whole (gemm_parallel.c): one
# block of op(B) at a time is packed, shared, and C's rows are split.
LARGE_SHAPES = {np.float32: (2100, 200, 2048), np.float64: (1100, 200, 2048)}


@needs_threads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 1)])
def test_products_too_large_to_share_are_bit_identical_for_1_2_3_threads(
        dtype, trans_a, trans_b, restore_threads):
    m, n, k = LARGE_SHAPES[dtype]
    rng = np.random.default_rng(11)
    A = rng.uniform(-1, 1, (k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.uniform(-1, 1, (n, k) if trans_b else (k, n)).astype(dtype)
    C0 = rng.uniform(-1, 1, (m, n)).astype(dtype)
    outs = []
    for threads in (1, 2, 3):
        nnfast.set_num_threads(threads)
        C = C0.copy()
        _core.gemm(C, A, B, trans_a, trans_b, 1.0, 0.5)
        outs.append(C)
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])
    want = ((A.T if trans_a else A).astype(np.float64) @ (B.T if trans_b else B).astype(np.float64)
            + 0.5 * C0.astype(np.float64))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.allclose(outs[0], want, rtol=tol, atol=tol * k)


def sgd_numpy(w, v, g, lr, mu, nesterov):
    v = mu * v - lr * g
    return (w + (mu * v - lr * g) if nesterov else w + v), v


def adam_numpy(w, m, v, g, t, lr, b1, b2, eps):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    return w - lr_t * m / (np.sqrt(v) + eps), m, v


@needs_threads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["sgd", "nesterov", "adam"])
@pytest.mark.parametrize("count", [100, 20000, 65536, 300001])
def test_optimizer_steps_are_bit_identical_for_1_2_3_threads(dtype, kind, count,
                                                             restore_threads):
    rng = np.random.default_rng(3)
    g = rng.normal(size=count).astype(dtype)
    w0 = rng.normal(size=count).astype(dtype)
    m0 = rng.normal(scale=0.1, size=count).astype(dtype)
    v0 = rng.uniform(0, 0.1, size=count).astype(dtype)
    outs = []
    for threads in (1, 2, 3):
        nnfast.set_num_threads(threads)
        w, m, v = w0.copy(), m0.copy(), v0.copy()
        if kind == "adam":
            _core.adam_update(w, m, v, g, 4, 0.01, 0.9, 0.999, 1e-8)
        else:
            _core.sgd_update(w, m, g, 0.01, 0.9, kind == "nesterov")
        outs.append((w, m, v))
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            assert np.array_equal(a, b)
    f64 = [x.astype(np.float64) for x in (w0, m0, v0, g)]
    if kind == "adam":
        want = adam_numpy(f64[0], f64[1], f64[2], f64[3], 4, 0.01, 0.9, 0.999, 1e-8)[0]
    else:
        want = sgd_numpy(f64[0], f64[1], f64[3], 0.01, 0.9, kind == "nesterov")[0]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.allclose(outs[0][0], want, rtol=tol, atol=tol)


@needs_threads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,n", [(256, 2048), (1024, 300), (64, 256)])
def test_a_layers_gradients_are_bit_identical_for_1_2_3_threads(dtype, m, n, restore_threads):
    """dense_backward: dW, delta_prev and db, whose column sums go over the pool from 2^18
    values of delta (W4's 256 x 2048, in 8 chunks of 256 columns; 1024 x 300, a partial
    chunk; W3's 64 x 256 stays on the caller)."""
    rng = np.random.default_rng(6)
    k = 48
    A_prev = rng.uniform(0.05, 0.95, size=(m, k)).astype(dtype)
    W = rng.normal(size=(k, n)).astype(dtype)
    delta = rng.normal(size=(m, n)).astype(dtype)
    outs = []
    for threads in (1, 2, 3):
        nnfast.set_num_threads(threads)
        outs.append(nnfast.ops.dense_backward(A_prev, W, delta, "sigmoid"))
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            assert np.array_equal(a, b)
    db = outs[0][1]
    want = delta.astype(np.float64).sum(axis=0) / m
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.allclose(db, want, rtol=tol, atol=tol)
