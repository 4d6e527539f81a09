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

from .comparison import SETTLE_SECONDS


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


def _measure(shape, threads, operands, min_seconds, settle=0.0):
    """Seconds per call of nnfast, NumPy (None without threadpoolctl) and PyTorch (None
    without it) on one product at `threads` threads, and nnfast's relative error (None
    without the expected product). Each library's samples start `settle` seconds after the
    previous library's last call (comparison.SETTLE_SECONDS says why)."""
    import nnfast
    from .. import _core

    label, m, n, k, trans_a, trans_b = shape
    A, B, C, expected = operands
    opA, opB = (A.T if trans_a else A), (B.T if trans_b else B)
    nnfast.set_num_threads(threads)
    time.sleep(settle)
    nn = _seconds_per_call(lambda: _core.gemm(C, A, B, trans_a=trans_a, trans_b=trans_b),
                           min_seconds)
    error = None
    if expected is not None:
        error = float(np.abs(C - expected).max() / np.abs(expected).max())
    limit = _blas_threads(threads)
    if limit is None:
        np_seconds = None
    else:
        time.sleep(settle)
        with limit:
            np_seconds = _seconds_per_call(lambda: np.matmul(opA, opB, out=C), min_seconds)
    time.sleep(settle)
    torch_seconds = _torch_seconds(opA, opB, C, threads, min_seconds)
    return nn, np_seconds, torch_seconds, error


def _median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _median_ratio(theirs, ours):
    """The median over the rounds of their time / nnfast's time in the same round (None
    without their times): a round's samples are taken within a second or two of each other,
    so a slow phase of the machine slows both sides of a round's ratio, where it can slow
    one side's median and not the other's."""
    return _median_or_none([t / o if t is not None else None for t, o in zip(theirs, ours)])


def run(shapes, thread_counts, dtypes=("float32", "float64"), min_seconds=0.05, rounds=1,
        settle=SETTLE_SECONDS, log=print):
    """GFLOP/s of nnfast, NumPy and PyTorch on each shape at each thread count; rows of a
    table. The whole table is measured `rounds` times over and each implementation's time is
    its median over the rounds: a shared machine's slow phase lasts seconds to a minute, so it
    falls on one round of a shape, not on the figure (a 2-core VM gave nnfast 86 GFLOP/s on
    a shape in one table and 141-180 in every other run of it, NumPy steady). A ratio is the
    median of the rounds' ratios (_median_ratio): the ratio of the two medians compared
    nnfast's median round with another library's, which a phase could split. Within a round
    the implementations take their samples one after the other, not in turn: in turn, each
    library's idle threads still spin while the next one's sample runs. The operands of a
    shape are drawn again each round from the same seed (the same values); nnfast's result is
    checked in the first. Each library's samples start `settle` seconds after the previous
    library's: without the pause, PyTorch's 2-thread samples ran while NumPy's BLAS threads
    still spun (comparison.SETTLE_SECONDS)."""
    import nnfast

    cases = [(dtype, shape) for dtype in dtypes for shape in shapes]
    times = {}
    previous = nnfast.get_num_threads()
    try:
        for round_ in range(rounds):
            for seed, (dtype, shape) in enumerate(cases):
                label, m, n, k, trans_a, trans_b = shape
                A, B, C = _operands(m, n, k, trans_a, trans_b, dtype,
                                    np.random.default_rng([7, seed]))
                expected = None
                if round_ == 0:
                    opA, opB = (A.T if trans_a else A), (B.T if trans_b else B)
                    expected = opA.astype(np.float64) @ opB.astype(np.float64)
                flops = 2.0 * m * n * k
                for threads in thread_counts:
                    nn, np_s, torch_s, error = _measure(shape, threads, (A, B, C, expected),
                                                        min_seconds, settle)
                    times.setdefault((seed, threads), []).append((nn, np_s, torch_s, error))
                    log(f"  gemm {dtype} {label:<22} {threads}t"
                        + (f" round {round_ + 1}/{rounds}" if rounds > 1 else "")
                        + f": nnfast {flops / nn / 1e9:7.1f} GFLOP/s, NumPy "
                        + (f"{flops / np_s / 1e9:7.1f}" if np_s else "    n/a") + ", PyTorch "
                        + (f"{flops / torch_s / 1e9:7.1f}" if torch_s else "    n/a"))
    finally:
        nnfast.set_num_threads(previous)
    rows = []
    for seed, (dtype, (label, m, n, k, _, _)) in enumerate(cases):
        for threads in thread_counts:
            measured = times[(seed, threads)]
            flops = 2.0 * m * n * k
            nn = statistics.median(t[0] for t in measured)
            np_seconds = _median_or_none([t[1] for t in measured])
            torch_seconds = _median_or_none([t[2] for t in measured])
            row = {"shape": label, "m": m, "n": n, "k": k, "dtype": dtype,
                   "threads": threads, "rounds": len(measured),
                   "nnfast_gflops": flops / nn / 1e9,
                   "numpy_gflops": np_seconds and flops / np_seconds / 1e9,
                   "torch_gflops": torch_seconds and flops / torch_seconds / 1e9,
                   "nnfast_relative_error": measured[0][3]}
            ours = [t[0] for t in measured]
            row["ratio"] = _median_ratio([t[1] for t in measured], ours)
            row["torch_ratio"] = _median_ratio([t[2] for t in measured], ours)
            rows.append(row)
    return rows
