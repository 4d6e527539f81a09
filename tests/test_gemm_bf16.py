"""nnfast._core.gemm(..., bf16=True): the product of float32 operands rounded to bfloat16,
summed in float32, against NumPy: the operands rounded to bfloat16 here (nearest, ties to
even, on the float32 bits), multiplied in float64. Every transposition, odd and large shapes,
alpha (a power of two or not) and beta, the epilogue; the same bits on 1 and 2 threads; the
errors. Each kernel set (AMX's tiles and vdpbf16ps where the CPU has them, the float kernels
on rounded operands) in a fresh process, forced through NNFAST_GEMM_KERNEL and
NNFAST_BF16_KERNEL. The C program
tests/c/test_gemm_bf16.c covers the same contract from C (tests/test_c_core.py)."""
import numpy as np
import pytest

import nnfast
from nnfast import _core

from helpers import pytest_with_bf16_kernel, pytest_with_kernel

RELU = 4  # nnfast.vocabulary's activation code for relu (nncore.h NN_ACT_RELU)


def bf16_round(x):
    """float32 x rounded to bfloat16 (nearest, ties to even), as float32 (finite x)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16
    return u.astype(np.uint32).view(np.float32)


def product(m, n, k, trans_a, trans_b, alpha=1.0, beta=0.0, epilogue=False, seed=0):
    """(C from the bf16 product, the float64 sum of the rounded operands, the bound)"""
    rng = np.random.default_rng(seed)
    A = rng.uniform(-1, 1, (k, m) if trans_a else (m, k)).astype(np.float32)
    B = rng.uniform(-1, 1, (n, k) if trans_b else (k, n)).astype(np.float32)
    C = rng.uniform(-1, 1, (m, n)).astype(np.float32)
    opA = bf16_round(A.T if trans_a else A).astype(np.float64)
    opB = bf16_round(B.T if trans_b else B).astype(np.float64)
    want = alpha * (opA @ opB) + beta * C.astype(np.float64)
    bound = abs(alpha) * (np.abs(opA) @ np.abs(opB)) + abs(beta) * np.abs(C.astype(np.float64))
    extra = {}
    if epilogue:
        bias = rng.uniform(-1, 1, n).astype(np.float32)
        want = np.maximum(want + bias, 0)
        bound = bound + np.abs(bias)
        extra = dict(bias=bias, act=RELU)
    _core.gemm(C, A, B, trans_a, trans_b, alpha, beta, bf16=True, **extra)
    return C, want, (k + 4) * np.finfo(np.float32).eps * bound + 1e-30


SHAPES = [(1, 1, 1), (7, 5, 3), (13, 17, 33), (64, 48, 49), (70, 10, 64), (64, 256, 784),
          (257, 129, 301)]


@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (-0.75, 0.5), (1 / 256, 1.0)])
def test_products_of_the_rounded_operands(trans_a, trans_b, alpha, beta):
    for m, n, k in SHAPES:
        got, want, tol = product(m, n, k, trans_a, trans_b, alpha, beta)
        err = np.abs(got - want)
        assert np.all(err <= tol), (m, n, k, float((err - tol).max()))


def test_the_rounding_shows():
    """Not the float32 product: 64 terms in bfloat16 are ~2^-9 off each, far past its bound."""
    got, _, tol = product(64, 64, 64, 0, 0)
    rng = np.random.default_rng(0)
    A = rng.uniform(-1, 1, (64, 64)).astype(np.float32)
    B = rng.uniform(-1, 1, (64, 64)).astype(np.float32)
    exact = A.astype(np.float64) @ B.astype(np.float64)
    assert np.mean(np.abs(got - exact) > 4 * tol) > 0.5


def test_the_epilogue_runs_on_the_bf16_sums():
    got, want, tol = product(33, 70, 47, 1, 0, epilogue=True)
    assert np.all(np.abs(got - want) <= tol)


def test_the_same_bits_on_one_and_two_threads():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((256, 512)).astype(np.float32)
    B = rng.standard_normal((512, 384)).astype(np.float32)
    results = []
    before = nnfast.get_num_threads()
    try:
        for threads in (1, 2):
            C = np.empty((256, 384), np.float32)
            nnfast.set_num_threads(threads)
            _core.gemm(C, A, B, bf16=True)
            results.append(C)
    finally:
        nnfast.set_num_threads(before)
    assert np.array_equal(results[0].view(np.uint32), results[1].view(np.uint32))


def test_the_same_bits_beside_another_librarys_bf16_products():
    """PyTorch's bf16 products (AMX's tiles, with tile configurations of their own, where the
    CPU has them) run on the same thread between two of nnfast's: the second gives the
    first's bits (nnfast loads its tile configuration before each block of its kernels)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    A = rng.standard_normal((96, 700)).astype(np.float32)
    B = rng.standard_normal((700, 130)).astype(np.float32)
    before, torch_before = nnfast.get_num_threads(), torch.get_num_threads()
    try:
        nnfast.set_num_threads(1)  # nnfast's kernels on the calling thread, as torch's
        torch.set_num_threads(1)
        first = np.empty((96, 130), np.float32)
        _core.gemm(first, A, B, bf16=True)
        x, w = torch.randn(50, 300), torch.randn(300, 70)
        for _ in range(3):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                (x @ w).float().sum().item()
            again = np.empty((96, 130), np.float32)
            _core.gemm(again, A, B, bf16=True)
            assert np.array_equal(first.view(np.uint32), again.view(np.uint32))
    finally:
        nnfast.set_num_threads(before)
        torch.set_num_threads(torch_before)


def _bf16_product_sum(seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((64, 300)).astype(np.float32)
    B = rng.standard_normal((300, 70)).astype(np.float32)
    C = np.empty((64, 70), np.float32)
    _core.gemm(C, A, B, bf16=True)
    return C.tobytes()


def test_a_forked_child_gives_the_parents_bits():
    """After the parent's bfloat16 products (AMX: the OS's grant of the tile state asked for
    and the set chosen), a forked child runs them too, with the same bits."""
    import multiprocessing
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    parent = _bf16_product_sum(1)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map(_bf16_product_sum, [1, 1]) == [parent, parent]


def test_bad_requests_raise():
    A, B, C = np.ones((3, 4)), np.ones((4, 2)), np.empty((3, 2))
    with pytest.raises(ValueError, match="float32"):
        _core.gemm(C, A, B, bf16=True)
    A32, B32, C32 = (x.astype(np.float32) for x in (A, B, C))
    with pytest.raises(ValueError, match="naive"):
        _core.gemm(C32, A32, B32, naive=True, bf16=True)
    with pytest.raises(ValueError):
        _core.gemm(C32, A32, B32.T.copy(), bf16=True)  # op(A) columns != op(B) rows


@pytest.mark.parametrize("isa", ["portable", "avx2", "avx512"])
def test_each_instruction_set(isa):
    """The checks above with the kernel set forced in a fresh process: avx512 takes vdpbf16ps
    where the CPU has AVX512_BF16, the others the float kernels on rounded operands."""
    pytest_with_kernel(isa, __file__,
                       "rounded_operands or rounding_shows or epilogue or threads")


@pytest.mark.parametrize("bf16_set", ["avx512bf16", "amx"])
def test_each_bfloat16_set(bf16_set):
    """The checks above on each bfloat16 set the CPU runs beside AVX-512's float set."""
    pytest_with_bf16_kernel(bf16_set, __file__,
                            "rounded_operands or rounding_shows or epilogue or threads or "
                            "another_library or forked")
