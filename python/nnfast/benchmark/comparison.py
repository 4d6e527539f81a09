"""Run the workloads on every implementation, interleaved, and cross-check what they computed.

Each repeat runs every implementation once, in turn, so a burst of load from another process
lands on one repeat of each rather than on every run of one; the report quotes medians.
After the timed runs, each implementation's final loss and weights are compared with nnfast's
from the same start: the times are only comparable if the work was the same.
"""
import gc
import statistics
import time

import numpy as np

from . import numpy_mlp
from .machine import core_round_trip_ns
from .runners import Problem
from .report import round_trip_text
from .steal import StealMeter, percent
from .workloads import DATA_SEED, MODEL_SEED

# Largest relative difference from nnfast allowed after the run, by dtype: the loss of the last
# epoch (relative to the loss) and every weight and bias (relative to the tensor's largest
# magnitude). float64: the contract's 1e-9. float32: rounding differs with the order of the
# sums (BLAS, threads, vector width) and relu's kinks amplify it over the steps: on W3 (938
# steps) NumPy, scikit-learn and PyTorch in float32 end 2.6e-3 (weights) and 1e-6 (loss) from
# a float64 run of the same training, so weights get 2e-2 and the loss 1e-4.
TOLERANCES = {"float64": {"loss": 1e-9, "weights": 1e-9},
              "float32": {"loss": 1e-4, "weights": 2e-2}}

# Pause before each timed run (and, in the GEMM table and the inference, before each library's
# samples): threads of BLAS and OpenMP pools that spin-wait after their work would otherwise
# hold a core while the next run needs it. OpenBLAS's idle threads (NumPy's) spin for
# 0.10-0.15 s: on a 2-core Xeon, PyTorch's 2-thread forward of 10,000 rows (W3's network) took
# 85 ms started 0 or 0.05 s after NumPy's 2-thread forward, 58 ms after 0.10 s, 33 after
# 0.15 s and 28-35 ms after 0.2-0.3 s; nnfast's 61 ms right after, 34-36 after 0.15-0.3 s.
SETTLE_SECONDS = 0.3


def make_problem(workload):
    X, y = workload.data()
    weights, biases = workload.initial_parameters()
    Y = numpy_mlp.one_hot(y, workload.layers[-1], X.dtype)
    return Problem(X, y, Y, weights, biases)


def relative_difference(outcome, expected):
    """(loss, weights): the relative difference of the final losses, and the largest over the
    weights and biases of max |difference| / max |expected| (see TOLERANCES)."""
    loss = abs(outcome.loss - expected.loss) / max(abs(expected.loss), 1e-30)
    weights = 0.0
    for mine, theirs in zip(outcome.weights + outcome.biases,
                            expected.weights + expected.biases):
        mine, theirs = np.asarray(mine, np.float64), np.asarray(theirs, np.float64)
        if mine.shape != theirs.shape:
            return loss, float("inf")
        scale = max(float(np.abs(theirs).max()), 1e-30)
        weights = max(weights, float(np.abs(mine - theirs).max()) / scale)
    return loss, weights


def bit_identical(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.weights + a.biases, b.weights + b.biases))


def run_workload(workload, implementations, repeats, settle=SETTLE_SECONDS, log=print):
    """Times and cross-checks of one workload: a dict with the workload's description and, per
    implementation key, its times, median, the method, and the check against nnfast."""
    problem = make_problem(workload)
    entry = {"workload": workload.name, "title": workload.title, "dtype": workload.dtype,
             "layers": list(workload.layers), "n_samples": workload.n_samples,
             "batch_size": workload.batch_size, "epochs": workload.epochs,
             "steps": workload.steps, "flops": workload.flops(), "lr": workload.lr,
             "data_seed": DATA_SEED, "model_seed": MODEL_SEED, "results": {}}
    last = {}
    for impl in implementations:
        reason = impl.missing()
        entry["results"][impl.key] = {"label": impl.label, "times": [], "steal": [],
                                      "round_trip_ns": [],
                                      "status": reason and "not available", "reason": reason}
    for repeat in range(repeats):
        for impl in implementations:
            result = entry["results"][impl.key]
            if result["status"] is not None:
                continue
            gc.collect()
            time.sleep(settle)
            round_trip = core_round_trip_ns()  # where the host has the two CPUs now
            try:
                with StealMeter() as meter:
                    outcome = impl.run(workload, problem)
            except Exception as error:  # report it, keep comparing the others
                result["status"], result["reason"] = "failed", f"{type(error).__name__}: {error}"
                continue
            result["times"].append(outcome.seconds)
            result["steal"].append(meter.share)
            result["round_trip_ns"].append(round_trip)
            result["method"] = outcome.method
            last[impl.key] = outcome
            log(f"  {workload.name} repeat {repeat + 1}/{repeats}: {impl.label:<28} "
                f"{outcome.seconds:10.4f} s (host steal {percent(meter.share)}, "
                f"CPU round trip {round_trip_text([round_trip])}{' ns' if round_trip else ''})")
    for key, result in entry["results"].items():
        if result["times"] and result["status"] is None:
            result["status"] = "ok"
            result["median"] = statistics.median(result["times"])
    _cross_check(entry, last, workload)
    return entry


def _cross_check(entry, last, workload):
    tolerance = TOLERANCES[workload.dtype]
    nnfast_keys = [key for key in last if key.startswith("nnfast-")]
    expected = last[nnfast_keys[-1]] if nnfast_keys else None
    entry["checked_against"] = nnfast_keys[-1] if nnfast_keys else None
    entry["tolerance"] = tolerance
    for key, outcome in last.items():
        result = entry["results"][key]
        result["loss"] = outcome.loss
        if key == entry["checked_against"]:
            continue
        if key.startswith("nnfast-"):
            same = expected is not None and bit_identical(outcome, expected)
            result["check"] = {"against": entry["checked_against"], "bit_identical": same,
                               "passed": same}
            continue
        against = outcome.check_against or expected
        if against is None:
            continue
        loss, weights = relative_difference(outcome, against)
        result["check"] = {"against": ("nnfast on the same rows" if outcome.check_against
                                       else entry["checked_against"]),
                           "loss_difference": loss, "weights_difference": weights,
                           "tolerance": tolerance,
                           "passed": bool(loss <= tolerance["loss"]
                                          and weights <= tolerance["weights"])}
