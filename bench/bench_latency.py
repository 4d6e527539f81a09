"""Latency of one prediction: MLP.forward and MLP.predict of a few rows, against NumPy.

    python bench/bench_latency.py [--rows 1] [--samples 20000] [--dtype float64]
                                  [--layers 4,16,3]

The network is Iris-sized by default, 4 -> 16 tanh -> 3 softmax (--layers 784,256,128,10:
MNIST-sized, where the first layer's weights are read in place for up to 128 rows), from a
fixed seed; X is a C-contiguous
array of the model's dtype, the input a service has in hand. Each call is timed on its own
(time.perf_counter_ns, the garbage collector off), the three candidates interleaved call by
call so load on the machine falls on all alike; the timer's own cost (the median of an empty
measurement) is subtracted. Reported per candidate: the median and the 99th percentile of the
latency in microseconds, and the ratio of NumPy's median to it (> 1: nnfast is faster).

The NumPy forward is the obvious one: A = f(A @ W + b) layer after layer, softmax last
(nnfast.benchmark.numpy_mlp's activations). Targets (issue 11, one row, float64, on the
2-core Xeon): forward <= 3 us, predict <= 4 us. Run it on a quiet machine (load < 0.3):
a compile next door shows in the 99th percentile first.
"""
import argparse
import gc
import os
import statistics
import time

import numpy as np

import nnfast
from nnfast.benchmark.numpy_mlp import ACTIVATIONS

LAYERS = [4, 16, 3]
TARGETS_US = {"nnfast forward": 3.0, "nnfast predict": 4.0}


def numpy_forward(weights, biases, activations):
    """The one-row forward in plain NumPy, for the same weights."""
    layers = list(zip(weights, biases, [ACTIVATIONS[name] for name in activations]))

    def forward(X):
        A = X
        for W, b, f in layers:
            A = f(A @ W + b)
        return A
    return forward


def timer_floor(samples):
    """The median cost of a measurement of nothing, in nanoseconds."""
    clock = time.perf_counter_ns
    costs = []
    for _ in range(samples):
        t0 = clock()
        costs.append(clock() - t0)
    return statistics.median(costs)


def latencies(candidates, samples, warmup=1000):
    """{name: [latency of each call, ns]}, the candidates called in turn, one call each."""
    clock = time.perf_counter_ns
    items = list(candidates.items())
    times = {name: [] for name in candidates}
    for _ in range(warmup):
        for _, call in items:
            call()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(samples):
            for name, call in items:
                t0 = clock()
                call()
                times[name].append(clock() - t0)
    finally:
        if enabled:
            gc.enable()
    return times


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1, help="rows of X (default 1)")
    parser.add_argument("--samples", type=int, default=20000,
                        help="timed calls per candidate (default 20000)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--layers", type=lambda text: [int(x) for x in text.split(",")],
                        default=LAYERS, help="layer widths, comma-separated (default 4,16,3)")
    args = parser.parse_args(argv)
    layers = args.layers
    if len(layers) < 2 or min(layers) < 1:
        parser.error(f"--layers needs two or more positive widths, got {layers}")

    model = nnfast.MLP(layers, "tanh", "softmax", seed=0, dtype=args.dtype)
    X = np.random.default_rng(0).normal(size=(args.rows, layers[0])).astype(args.dtype)
    reference = numpy_forward(model.weights, model.biases,
                              ["tanh"] * (len(layers) - 2) + ["softmax"])
    np.testing.assert_allclose(model.forward(X), reference(X),
                               rtol=1e-5 if args.dtype == "float32" else 1e-12)
    candidates = {
        "nnfast forward": lambda: model.forward(X),
        "nnfast predict": lambda: model.predict(X),
        "numpy forward": lambda: reference(X),
    }
    floor = timer_floor(args.samples)
    times = latencies(candidates, args.samples)
    numpy_median = statistics.median(times["numpy forward"]) - floor

    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"latency of {args.rows} row(s), {'-'.join(map(str, layers))} tanh/softmax, "
          f"{args.dtype}; {args.samples} calls each; timer cost {floor / 1000:.3f} us "
          f"subtracted; load average {load}")
    print(f"{'':16s} {'median us':>10s} {'p99 us':>10s} {'numpy/this':>11s} {'target':>9s}")
    for name, values in times.items():
        median = statistics.median(values) - floor
        p99 = percentile(values, 99) - floor
        target = (TARGETS_US.get(name) if args.rows == 1 and args.dtype == "float64"
                  and layers == LAYERS else None)
        verdict = "" if target is None else (
            f"<= {target:g} " + ("ok" if median / 1000 <= target else "MISSED"))
        print(f"{name:16s} {median / 1000:10.3f} {p99 / 1000:10.3f} "
              f"{numpy_median / median:10.2f}x {verdict:>9s}")


if __name__ == "__main__":
    main()
