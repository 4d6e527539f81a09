"""Every packing path of the GEMM against a float64 product: op(A) = A and A^T, op(B) = B and
B^T (the transposed panels go through each kernel set's in-register transposes, gemm_pack_<isa>.c),
odd shapes in 1..70 and large ones, float32 and float64, alpha, beta and the fused epilogue.
Each instruction set runs in a fresh process, forced through NNFAST_GEMM_KERNEL (chosen once
per process)."""
import subprocess
import sys

import numpy as np
import pytest

from nnfast import _core

from helpers import pytest_with_kernel

SIZES = (1, 2, 5, 12, 13, 16, 17, 31, 33, 64, 70)
LARGE = ((64, 256, 784), (784, 256, 64), (64, 784, 256), (257, 129, 301), (300, 10, 520))
RELU = 4  # nnfast.vocabulary's activation code for relu (nncore.h NN_ACT_RELU)


def product(m, n, k, dtype, trans_a, trans_b, alpha=1.0, beta=0.0, epilogue=False, seed=0):
    """(nnfast's C, the float64 reference, the rounding bound of each element)"""
    rng = np.random.default_rng(seed)
    A = rng.uniform(-1, 1, (k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.uniform(-1, 1, (n, k) if trans_b else (k, n)).astype(dtype)
    C = rng.uniform(-1, 1, (m, n)).astype(dtype)
    opA = (A.T if trans_a else A).astype(np.float64)
    opB = (B.T if trans_b else B).astype(np.float64)
    want = alpha * (opA @ opB) + beta * C.astype(np.float64)
    bound = abs(alpha) * (np.abs(opA) @ np.abs(opB)) + abs(beta) * np.abs(C.astype(np.float64))
    extra = {}
    if epilogue:
        bias = rng.uniform(-1, 1, n).astype(dtype)
        deriv_of = rng.uniform(-1, 1, (m, n)).astype(dtype)
        want = np.maximum(want + bias, 0) * (deriv_of > 0)
        bound = bound + np.abs(bias)
        extra = dict(bias=bias, act=RELU, deriv_of=deriv_of, deriv_act=RELU)
    _core.gemm(C, A, B, trans_a, trans_b, alpha, beta, **extra)
    eps = np.finfo(dtype).eps
    return C, want, 2 * (k + 2) * eps * bound


def assert_close(m, n, k, dtype, trans_a, trans_b, **kw):
    got, want, tol = product(m, n, k, dtype, trans_a, trans_b, **kw)
    err = np.abs(got - want)
    assert np.all(err <= tol), (m, n, k, trans_a, trans_b, kw, float((err - tol).max()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_odd_shapes_match_the_float64_product(dtype, trans_a, trans_b):
    for i, m in enumerate(SIZES):
        for j, n in enumerate(SIZES):
            for k in SIZES[(i + j) % 3::3]:  # a third of the k for each (m, n), every k used
                assert_close(m, n, k, dtype, trans_a, trans_b, alpha=0.75 if k % 2 else 1.0,
                             beta=0.5 if m % 2 else 0.0, epilogue=bool(n % 2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("epilogue", [False, True])
def test_large_shapes_match_the_float64_product(dtype, trans_a, trans_b, epilogue):
    for m, n, k in LARGE:
        assert_close(m, n, k, dtype, trans_a, trans_b, alpha=-1.5, epilogue=epilogue)


def test_a_negative_alpha_scales_the_transposed_panels():
    """alpha is folded into the packed A (gemm_pack.c): a sign error would flip every value."""
    C, want, tol = product(64, 256, 128, np.float32, 0, 1, alpha=-2.0)
    assert np.all(np.abs(C - want) <= tol)
    assert (C < 0).sum() == (want < 0).sum()


@pytest.mark.parametrize("isa", ["portable", "avx2", "avx512"])
def test_each_instruction_set_packs_the_same_products(isa):
    """The checks above with the kernel set (and its packers) forced in a fresh process."""
    env = pytest_with_kernel(isa, __file__, "match or negative_alpha")
    info = subprocess.run([sys.executable, "-c", "from nnfast import _core; "
                           "print(_core.build_info()['gemm_kernel_float32'])"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert info.stdout.startswith(isa), info.stdout + info.stderr


def _misaligned(a, offset_bytes=16):
    """A copy of a whose data starts offset_bytes past a 64-byte line."""
    from nnfast.models.parameters import aligned_zeros
    skip = offset_bytes // a.dtype.itemsize
    out = aligned_zeros(a.size + skip, a.dtype)[skip:].reshape(a.shape)
    out[...] = a
    assert out.ctypes.data % 64 == offset_bytes
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(64, 256, 784), (1, 128, 784), (9, 112, 600), (128, 64, 520)])
@pytest.mark.parametrize("trans_a", [False, True])
def test_b_read_in_place_gives_the_packed_bits(dtype, shape, trans_a):
    """A short C (<= 128 rows) against B stored (k, n) with rows of whole vectors on cache
    lines reads B where it is (gemm.c, b_in_place_applies); the same B 16 bytes past a line
    is packed. Both give the same bits, within the float64 product's rounding bound. (float64
    rows of 256 are 2 KiB, past the rule's limit: that case is packed both ways.)"""
    from nnfast.models.parameters import aligned_copy
    m, n, k = shape
    rng = np.random.default_rng(1)
    A = rng.uniform(-1, 1, (k, m) if trans_a else (m, k)).astype(dtype)
    B = aligned_copy(rng.uniform(-1, 1, k * n).astype(dtype)).reshape(k, n)
    bias = rng.uniform(-1, 1, n).astype(dtype)
    assert B.ctypes.data % 64 == 0
    outs = []
    for b in (B, _misaligned(B)):
        C = np.empty((m, n), dtype=dtype)
        _core.gemm(C, A, b, trans_a, False, 1.0, 0.0, bias=bias, act=RELU)
        outs.append(C)
    assert np.array_equal(outs[0], outs[1])
    opA = (A.T if trans_a else A).astype(np.float64)
    want = np.maximum(opA @ B.astype(np.float64) + bias, 0)
    bound = 2 * (k + 2) * np.finfo(dtype).eps * (np.abs(opA) @ np.abs(B.astype(np.float64))
                                                 + np.abs(bias))
    assert np.all(np.abs(outs[0] - want) <= bound)


def test_model_parameters_start_on_a_cache_line():
    """The model's parameter vector and its training copy start on 64-byte lines, so that a
    layer's weights can be read in place; a model whose vector does not gives the same
    outputs."""
    import nnfast
    model = nnfast.MLP([784, 256, 128, 10], dtype="float32", seed=3)
    assert model._params.ctypes.data % 64 == 0
    assert model.trainer().params.ctypes.data % 64 == 0
    X = np.random.default_rng(2).standard_normal((64, 784)).astype(np.float32)
    aligned_out = model.forward(X)
    model._params = _misaligned(model._params)
    assert np.array_equal(model.forward(X), aligned_out)
