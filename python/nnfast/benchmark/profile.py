"""Where a training run's time goes: the C core's products by shape (nnfast._core.profile_*).

profile_fit runs a workload's fits with the core's profile on and returns its rows, each
product shape's calls, time and parallel loops; profile_text lays them out per optimizer
step, largest first, with the share of the fit each takes and what is left outside the
products (the activations' and losses' elementwise work, the optimizer sweeps of layers too
large to step inside their product, Python).
"""
import time
from dataclasses import dataclass
from typing import Dict, List


@dataclass
class FitProfile:
    """One profiled run: the rows of nnfast._core.profile_stop and the run's shape."""
    workload: str
    threads: int
    fits: int
    steps: int           # optimizer steps of the fits together
    seconds: float       # wall time of the fits together
    rows: List[Dict]


def profile_fit(workload, threads: int, fits: int = 1) -> FitProfile:
    """Fit `workload` (nnfast.benchmark.workloads) `fits` times on `threads` threads, each from
    its initial parameters, after one unprofiled fit that warms the pool and the buffers."""
    import nnfast
    from nnfast import _core
    from nnfast.benchmark.workloads import make_nnfast_model

    if fits < 1:
        raise ValueError(f"fits must be >= 1, got {fits}")
    X, y = workload.data()
    W0, b0 = workload.initial_parameters()
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(threads)
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
        _core.profile_start()
        try:
            for _ in range(fits):
                m = model()  # built outside the timing: the fit alone is timed
                start = time.perf_counter()
                fit(m)
                seconds += time.perf_counter() - start
        finally:
            rows = _core.profile_stop()
    finally:
        nnfast.set_num_threads(previous)
    return FitProfile(workload.name, threads, fits, workload.steps * fits, seconds, rows)


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
    and the caller's wait at the loops' ends."""
    per_step = 1e6 / p.steps
    lines = [f"{p.workload}, {p.threads} thread(s), {p.fits} fit(s): "
             f"{p.seconds / p.fits:.4f} s a fit, {p.seconds * per_step:.1f} us a step",
             f"{'product (m x n x k)':<34} {'calls/step':>10} {'us/call':>9} {'GFLOP/s':>8} "
             f"{'% fit':>6} {'alone %':>8} {'wait us':>8}"]
    in_products = 0.0
    for row in sorted(p.rows, key=lambda r: -r["seconds"]):
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
        lines.append(f"{_label(row):<34} {calls_text:>10} {us_call:>9.2f} {gflops:>8.1f} "
                     f"{share:>6.1f} {alone:>8} {wait:>8}")
    rest = p.seconds - in_products
    lines.append(f"{'outside the products':<34} {'':>10} {'':>9} {'':>8} "
                 f"{100.0 * rest / p.seconds if p.seconds > 0 else 0.0:>6.1f} "
                 f"({rest * per_step:.1f} us a step)")
    return "\n".join(lines)
