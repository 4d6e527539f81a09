"""GEMM GFLOP/s: nnfast's core (nnfast._core.gemm) against NumPy's matmul (its BLAS) and
PyTorch's (when installed), on the products of training for the W3 and W4 layers (forward and
both backward products) and a 2048^3 square, in float32 and float64, at 1 thread and at every
core.

The three products of a layer with k inputs, n outputs and a batch of m rows:
forward X @ W (m,k)x(k,n); weight gradient A^T @ delta (k,m)x(m,n); delta @ W^T (m,n)x(n,k).
nnfast is given the transposition flags, NumPy and PyTorch the transposed views (no copies
either way; torch.from_numpy shares the arrays).
"""
import statistics
import time

import numpy as np


def layer_products(workload_name, layers, m):
    """(label, m, n, k, trans_a, trans_b) of every product a training step computes."""
    shapes = []
    for l, (k, n) in enumerate(zip(layers[:-1], layers[1:])):
        shapes.append((f"{workload_name} L{l} X@W", m, n, k, False, False))
        shapes.append((f"{workload_name} L{l} A^T@delta", k, n, m, True, False))
        if l > 0:
            shapes.append((f"{workload_name} L{l} delta@W^T", m, k, n, False, True))
    return shapes


def shapes_for(workloads, square):
    shapes = []
    for w in workloads:
        if w.name in ("W3", "W4"):
            shapes += layer_products(w.name, w.layers, w.batch_size)
    shapes.append((f"square {square}^3", square, square, square, False, False))
    return shapes


def _operands(m, n, k, trans_a, trans_b, dtype, rng):
    A = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    return A, B, np.empty((m, n), dtype=dtype)


def _seconds_per_call(call, min_seconds, min_calls=3, samples=5):
    """Median over `samples` of the mean time per call, each sample at least min_seconds long;
    calls longer than min_seconds: the median of min_calls calls."""
    call()  # warm up: caches, thread pools, page faults of C
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    calls = max(1, int(min_seconds / once))
    times = [once] if calls == 1 else []
    for _ in range(min_calls - 1 if calls == 1 else samples):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def _blas_threads(n):
    """A context limiting NumPy's BLAS to n threads (threadpoolctl); None if unavailable."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=n, user_api="blas")


def _torch_seconds(opA, opB, C, threads, min_seconds):
    """Seconds per torch.matmul into C at `threads` threads; None without PyTorch."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    a, b, c = torch.from_numpy(opA), torch.from_numpy(opB), torch.from_numpy(C)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _seconds_per_call(lambda: torch.matmul(a, b, out=c), min_seconds)
    finally:
        torch.set_num_threads(previous)


def run(shapes, thread_counts, dtypes=("float32", "float64"), min_seconds=0.05, log=print):
    """GFLOP/s of nnfast, NumPy and PyTorch, interleaved per shape; rows of a table."""
    import nnfast
    from .. import _core

    rng = np.random.default_rng(7)
    rows = []
    previous = nnfast.get_num_threads()
    try:
        for dtype in dtypes:
            for label, m, n, k, trans_a, trans_b in shapes:
                A, B, C = _operands(m, n, k, trans_a, trans_b, dtype, rng)
                opA, opB = (A.T if trans_a else A), (B.T if trans_b else B)
                expected = opA.astype(np.float64) @ opB.astype(np.float64)
                flops = 2.0 * m * n * k
                for threads in thread_counts:
                    nnfast.set_num_threads(threads)
                    nn = _seconds_per_call(
                        lambda: _core.gemm(C, A, B, trans_a=trans_a, trans_b=trans_b),
                        min_seconds)
                    error = float(np.abs(C - expected).max() / np.abs(expected).max())
                    limit = _blas_threads(threads)
                    if limit is None:
                        np_seconds = None
                    else:
                        with limit:
                            np_seconds = _seconds_per_call(lambda: np.matmul(opA, opB, out=C),
                                                           min_seconds)
                    torch_seconds = _torch_seconds(opA, opB, C, threads, min_seconds)
                    row = {"shape": label, "m": m, "n": n, "k": k, "dtype": dtype,
                           "threads": threads, "nnfast_gflops": flops / nn / 1e9,
                           "numpy_gflops": np_seconds and flops / np_seconds / 1e9,
                           "torch_gflops": torch_seconds and flops / torch_seconds / 1e9,
                           "nnfast_relative_error": error}
                    row["ratio"] = np_seconds and np_seconds / nn
                    row["torch_ratio"] = torch_seconds and torch_seconds / nn
                    rows.append(row)
                    log(f"  gemm {dtype} {label:<22} {threads}t: nnfast "
                        f"{row['nnfast_gflops']:7.1f} GFLOP/s, NumPy "
                        + (f"{row['numpy_gflops']:7.1f}" if np_seconds else "    n/a")
                        + ", PyTorch "
                        + (f"{row['torch_gflops']:7.1f}" if torch_seconds else "    n/a"))
    finally:
        nnfast.set_num_threads(previous)
    return rows
