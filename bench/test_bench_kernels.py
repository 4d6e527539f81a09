"""pytest-benchmark suites for nnfast's kernels: GEMM on every product of a W3 and W4 training
step and a 2048^3 square, and the dense layer's forward pass, in float32 and float64, at 1
thread and at every core.

    pytest bench/ --benchmark-only        (not part of the test run: testpaths is tests/)

Each benchmark also checks its result against NumPy, so a fast wrong kernel cannot pass.
"""
import numpy as np
import pytest

import nnfast
from nnfast import _core
from nnfast.benchmark import gemm
from nnfast.benchmark.workloads import FULL

DTYPES = ("float32", "float64")
GEMM_SHAPES = gemm.shapes_for([FULL["W3"], FULL["W4"]], square=2048)
# Largest error relative to the largest |value| of the float64 product.
TOLERANCE = {"float32": 1e-4, "float64": 1e-12}


def _check(actual, expected, dtype):
    error = np.abs(actual - expected).max() / np.abs(expected).max()
    assert error <= TOLERANCE[dtype], f"relative error {error:.2e} > {TOLERANCE[dtype]}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", GEMM_SHAPES, ids=[s[0].replace(" ", "-") for s in GEMM_SHAPES])
def test_gemm(benchmark, shape, dtype, threads):
    label, m, n, k, trans_a, trans_b = shape
    rng = np.random.default_rng(0)
    A = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    C = np.empty((m, n), dtype=dtype)
    benchmark.extra_info.update(m=m, n=n, k=k, gflop=2 * m * n * k / 1e9)
    benchmark(_core.gemm, C, A, B, trans_a=trans_a, trans_b=trans_b)
    expected = ((A.T if trans_a else A).astype(np.float64)
                @ (B.T if trans_b else B).astype(np.float64))
    _check(C, expected, dtype)


# (batch rows, inputs, outputs, activation) of each layer of W3 and W4
DENSE_LAYERS = [(w.batch_size, k, n, w.activation if l < len(w.layers) - 2 else "identity")
                for w in (FULL["W3"], FULL["W4"])
                for l, (k, n) in enumerate(zip(w.layers[:-1], w.layers[1:]))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer", DENSE_LAYERS, ids=[f"{m}x{k}-{n}-{a}"
                                                     for m, k, n, a in DENSE_LAYERS])
def test_dense_forward(benchmark, layer, dtype, threads):
    m, k, n, activation = layer
    rng = np.random.default_rng(1)
    A = rng.standard_normal((m, k)).astype(dtype)
    W = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    out = np.empty((m, n), dtype=dtype)
    code = _core.ACTIVATION_CODES[activation]
    benchmark.extra_info.update(m=m, k=k, n=n, gflop=2 * m * n * k / 1e9)
    benchmark(_core.dense_forward, out, None, A, W, b, code)
    Z = A.astype(np.float64) @ W.astype(np.float64) + b
    _check(out, np.maximum(Z, 0) if activation == "relu" else Z, dtype)
