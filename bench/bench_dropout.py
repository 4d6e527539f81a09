"""What dropout costs: W3 (MNIST-sized 784-256-128-10 relu/softmax, float32, batch 64, 1 epoch
of 60,000 rows, sgd) trained with dropout 0 and with dropout 0.2 on both hidden layers.

    python bench/bench_dropout.py [--repeats 5] [--threads N] [--rows 60000]

The two fits alternate (without, with, without, ...) so load on the machine falls on both
alike; reported: the median seconds of each and the ratio with / without (the masks are drawn
from the model's SplitMix64 stream during the forward pass and applied with the activation's
derivative in the backward pass). Take figures on a quiet machine (load < 0.3): the script
prints the load average.
"""
import argparse
import os
import statistics
import time

import numpy as np

import nnfast
from nnfast.benchmark.workloads import FULL


def fit_seconds(X, y, dropout, threads):
    w = FULL["W3"]
    model = nnfast.MLP(list(w.layers), activation=w.activation, output=w.output, seed=0,
                       dtype=w.dtype, dropout=dropout)
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(threads)
    try:
        start = time.perf_counter()
        model.fit(X, y, epochs=1, batch_size=w.batch_size, lr=w.lr, shuffle=False)
        return time.perf_counter() - start
    finally:
        nnfast.set_num_threads(previous)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=nnfast.get_num_threads())
    parser.add_argument("--rows", type=int, default=FULL["W3"].n_samples)
    args = parser.parse_args(argv)
    X, y = FULL["W3"].data()
    X, y = X[:args.rows], y[:args.rows]
    print(f"load average at start: {os.getloadavg()[0]:.2f}; threads {args.threads}; "
          f"{len(X)} rows")
    times = {0.0: [], 0.2: []}
    for _ in range(args.repeats):
        for rate in times:
            times[rate].append(fit_seconds(X, y, rate, args.threads))
    without, with_ = statistics.median(times[0.0]), statistics.median(times[0.2])
    print(f"W3 1 epoch, dropout 0:   {without:.3f} s (median of {args.repeats})")
    print(f"W3 1 epoch, dropout 0.2: {with_:.3f} s")
    print(f"dropout 0.2 / dropout 0: {with_ / without:.3f}")
    return {"without": without, "with": with_, "ratio": with_ / without}


if __name__ == "__main__":
    main()
