"""Where a training run's time goes: the C core's products by shape (nnfast._core.profile_*).

profile_fit runs a workload's fits with the core's profile on and returns its rows, each
product shape's calls, time and parallel loops; profile_text lays them out per optimizer
step, largest first, with the share of the fit each takes and what is left outside the
products (the activations' and losses' elementwise work, the optimizer sweeps of layers too
large to step inside their product, Python). products_isolated times each of those products
on its own, called back to back on the same operands: the difference from its time in the
step is what the step's order costs it, operands that another core has just written or that
left the caches since their last use.
"""
import statistics
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from .gemm import _operands, _seconds_per_call


@dataclass
class FitProfile:
    """One profiled run: the rows of nnfast._core.profile_stop and the run's shape."""
    workload: str
    threads: int
    fits: int
    steps: int           # optimizer steps of the fits together
    seconds: float       # wall time of the fits together
    rows: List[Dict]
    # seconds a call of each row's product on its own (products_isolated), None where not
    # timed; empty when not measured
    isolated: List[Optional[float]] = field(default_factory=list)


_SUMMED = ("calls", "seconds", "loops", "loops_alone", "end_wait")


def _shape_key(row: Dict):
    return (row["m"], row["n"], row["k"], row["trans_a"], row["trans_b"], row["step"],
            row["dtype"])


def profile_fit(workload, threads: int, fits: int = 1, isolated: bool = False) -> FitProfile:
    """Fit `workload` (nnfast.benchmark.workloads) `fits` times on `threads` threads, each from
    its initial parameters, after one unprofiled fit that warms the pool and the buffers.
    isolated: after each fit, time its products on their own (products_isolated, the profile
    off), and keep each product's median over the fits in the profile's `isolated`: taken
    between the fits, the two see the same phases of a shared machine."""
    import nnfast
    from nnfast import _core
    from nnfast.benchmark.workloads import make_nnfast_model

    if fits < 1:
        raise ValueError(f"fits must be >= 1, got {fits}")
    X, y = workload.data()
    W0, b0 = workload.initial_parameters()
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(threads)
    merged: Dict = {}  # the fits' rows, summed by shape, in the order first seen
    rounds: List[Dict] = []  # per fit, each shape's seconds a call on its own
    try:
        def model():
            m = make_nnfast_model(workload)
            m.set_parameters(W0, b0)
            return m

        def fit(m):
            m.fit(X, y, epochs=workload.epochs, batch_size=workload.batch_size, lr=workload.lr,
                  shuffle=False)

        fit(model())
        seconds = 0.0
        for _ in range(fits):
            m = model()  # built outside the timing: the fit alone is timed
            _core.profile_start()
            try:
                start = time.perf_counter()
                fit(m)
                seconds += time.perf_counter() - start
            finally:
                rows = _core.profile_stop()
            for row in rows:
                total = merged.setdefault(_shape_key(row), dict(row, **{f: 0 for f in _SUMMED}))
                for f in _SUMMED:
                    total[f] += row[f]
            if isolated:
                rounds.append(dict(zip(map(_shape_key, rows), products_isolated(rows, threads))))
    finally:
        nnfast.set_num_threads(previous)
    rows = list(merged.values())
    medians = []
    for row in rows:
        times = [r[_shape_key(row)] for r in rounds if r.get(_shape_key(row)) is not None]
        medians.append(statistics.median(times) if times else None)
    return FitProfile(workload.name, threads, fits, workload.steps * fits, seconds, rows,
                      medians if isolated else [])


def products_isolated(rows: List[Dict], threads: int, min_seconds: float = 0.02,
                      samples: int = 5, gemm=None) -> List[Optional[float]]:
    """Seconds a call of each row's product on its own, on `threads` threads: C (m, n) = op(A) @
    op(B) of the row's shape, transposition and dtype (float32 or float64; None for other
    rows and for the loops outside products), random operands, called back to back (the GEMM
    table's timing: the median of `samples` samples of at least `min_seconds` each), less the
    time of a 1 x 1 x 1 call (the call from Python, which the fit's products do not pay). A
    weight gradient's optimizer step and a product's epilogue (bias, activation, derivative)
    are left out: they are elementwise work on C that the product on its own does not do.
    gemm: nnfast._core.gemm's signature (a stand-in for tests)."""
    import nnfast

    if gemm is None:
        from nnfast import _core
        gemm = _core.gemm
    rng = np.random.default_rng(0)

    def seconds_a_call(m, n, k, ta, tb, dtype):
        A, B, C = _operands(m, n, k, ta, tb, dtype, rng)
        return _seconds_per_call(lambda: gemm(C, A, B, trans_a=ta, trans_b=tb), min_seconds,
                                 samples=samples)

    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(threads)
    isolated: List[Optional[float]] = []
    try:
        # the call from Python (arguments, checks: ~1 us), which the fit's calls from C do
        # not pay: a 1 x 1 x 1 product's time, taken off each product's
        call_cost = {dtype: seconds_a_call(1, 1, 1, False, False, dtype)
                     for dtype in ("float32", "float64")}
        for row in rows:
            if row["dtype"] not in call_cost or not row["m"]:
                isolated.append(None)
                continue
            seconds = seconds_a_call(row["m"], row["n"], row["k"], row["trans_a"],
                                     row["trans_b"], row["dtype"])
            isolated.append(max(seconds - call_cost[row["dtype"]], 0.0))
    finally:
        nnfast.set_num_threads(previous)
    return isolated


def _label(row: Dict) -> str:
    if row["dtype"] is None:
        return "loops outside products"
    op = "A^T B" if row["trans_a"] else "A B^T" if row["trans_b"] else "A B"
    shape = f"{row['m']} x {row['n']} x {row['k']}"
    extra = " +step" if row["step"] else ""
    dtype = "" if row["dtype"] == "float32" else f" {row['dtype']}"
    return f"{shape} {op}{extra}{dtype}"


def profile_text(p: FitProfile) -> str:
    """The profile as a table: per optimizer step, each product shape's calls, microseconds a
    call, GFLOP/s, share of the fit, the share of its parallel loops no worker took part in,
    and the caller's wait at the loops' ends; with p.isolated, each product's microseconds a
    call on its own and how much longer a call took in the step (us a step: the excess times
    the calls a step), totalled on a last line."""
    per_step = 1e6 / p.steps
    timed = bool(p.isolated)
    lines = [f"{p.workload}, {p.threads} thread(s), {p.fits} fit(s): "
             f"{p.seconds / p.fits:.4f} s a fit, {p.seconds * per_step:.1f} us a step",
             f"{'product (m x n x k)':<34} {'calls/step':>10} {'us/call':>9} {'GFLOP/s':>8} "
             f"{'% fit':>6} {'alone %':>8} {'wait us':>8}"
             + (f" {'us isolated':>11} {'excess us/step':>14}" if timed else "")]
    in_products = 0.0
    excess_total = 0.0
    order = sorted(range(len(p.rows)), key=lambda i: -p.rows[i]["seconds"])
    for i in order:
        row = p.rows[i]
        calls = row["calls"]
        loops = row["loops"]
        if row["dtype"] is not None:
            in_products += row["seconds"]
        us_call = row["seconds"] / calls * 1e6 if calls else 0.0
        gflops = (2.0 * row["m"] * row["n"] * row["k"] * calls / row["seconds"] / 1e9
                  if calls and row["seconds"] > 0 else 0.0)
        share = 100.0 * row["seconds"] / p.seconds if p.seconds > 0 else 0.0
        alone = f"{100.0 * row['loops_alone'] / loops:.1f}" if loops else "-"
        wait = f"{row['end_wait'] / loops * 1e6:.2f}" if loops else "-"
        calls_text = f"{calls / p.steps:.3g}" if calls else "-"
        line = (f"{_label(row):<34} {calls_text:>10} {us_call:>9.2f} {gflops:>8.1f} "
                f"{share:>6.1f} {alone:>8} {wait:>8}")
        own = p.isolated[i] if timed else None
        if own is not None and calls:
            excess = (row["seconds"] / calls - own) * calls * per_step
            excess_total += excess
            line += f" {own * 1e6:>11.2f} {excess:>14.2f}"
        lines.append(line)
    rest = p.seconds - in_products
    lines.append(f"{'outside the products':<34} {'':>10} {'':>9} {'':>8} "
                 f"{100.0 * rest / p.seconds if p.seconds > 0 else 0.0:>6.1f} "
                 f"({rest * per_step:.1f} us a step)")
    if timed:
        step_us = p.seconds * per_step
        lines.append(f"{'products in the step over isolated':<34} {'':>10} {'':>9} {'':>8} "
                     f"{100.0 * excess_total / step_us if step_us > 0 else 0.0:>6.1f} "
                     f"({excess_total:.1f} us a step)")
    return "\n".join(lines)
