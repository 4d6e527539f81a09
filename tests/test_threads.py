"""Results do not depend on the thread count: the core splits work over output tiles only."""
import numpy as np
import pytest

import nnfast
from nnfast import _core

# A serial build runs every kernel on one thread whatever the count: comparing 1 and 2 threads
# would compare a serial run with itself, and pass without checking anything.
needs_threads = pytest.mark.skipif(
    nnfast.config()["build"]["threading"] == "serial",
    reason="a serial build (no thread pool, no OpenMP): 1 and 2 threads both run serially")


@pytest.fixture
def restore_threads():
    before = nnfast.get_num_threads()
    yield
    nnfast.set_num_threads(before)


def train(n_threads, dtype):
    nnfast.set_num_threads(n_threads)
    assert nnfast.get_num_threads() == n_threads
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 150)).astype(dtype)
    y = rng.integers(0, 10, size=600)
    model = nnfast.MLP([150, 300, 200, 10], "relu", seed=1, dtype=dtype)
    model.fit(X, y, epochs=2, batch_size=256, optimizer="adam", lr=1e-3)
    return model, model.forward(X)


@needs_threads
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_training_is_bit_identical_for_1_and_2_threads(dtype, restore_threads):
    one, out_one = train(1, dtype)
    two, out_two = train(2, dtype)
    for W1, W2 in zip(one.weights + one.biases, two.weights + two.biases):
        assert np.array_equal(W1, W2)
    assert np.array_equal(out_one, out_two)
    assert one.loss_curve_ == two.loss_curve_


@needs_threads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True)])
def test_gemm_is_bit_identical_for_1_and_2_threads(dtype, trans_a, trans_b, restore_threads):
    rng = np.random.default_rng(1)
    m, n, k = 301, 257, 389
    A = rng.normal(size=(k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.normal(size=(n, k) if trans_b else (k, n)).astype(dtype)
    results = []
    for threads in (1, 2):
        nnfast.set_num_threads(threads)
        C = np.empty((m, n), dtype=dtype)
        _core.gemm(C, A, B, trans_a, trans_b)
        results.append(C)
    assert np.array_equal(results[0], results[1])
    expected = (A.T if trans_a else A).astype(np.float64) @ (B.T if trans_b else B).astype(np.float64)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    assert np.allclose(results[0], expected, rtol=tol, atol=tol * np.abs(expected).max())


def test_set_num_threads_checks_its_argument(restore_threads):
    for bad in (0, -1, 2.5, "2", True):
        with pytest.raises(ValueError, match="thread count"):
            nnfast.set_num_threads(bad)
    nnfast.set_num_threads(None)
    assert nnfast.get_num_threads() >= 1


def test_default_thread_count_follows_the_environment():
    """NNFAST_NUM_THREADS first, then OMP_NUM_THREADS (what joblib workers set)."""
    import os
    import subprocess
    import sys

    code = "import nnfast; print(nnfast.get_num_threads())"
    for env, expected in (({"OMP_NUM_THREADS": "1"}, "1"),
                          ({"OMP_NUM_THREADS": "1", "NNFAST_NUM_THREADS": "3"}, "3")):
        clean = {k: v for k, v in os.environ.items()
                 if k not in ("OMP_NUM_THREADS", "NNFAST_NUM_THREADS")}
        result = subprocess.run([sys.executable, "-c", code], env={**clean, **env},
                                capture_output=True, text=True, check=True)
        assert result.stdout.strip() == expected
