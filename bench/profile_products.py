"""Where a training run's time goes: the C core's products by shape, per optimizer step.

    python bench/profile_products.py [--workload W3] [--threads 1 2] [--fits 3] [--isolated]
                                     [--batch-size B] [--samples N] [--json FILE]

For each thread count, one unprofiled fit (warming the pool and buffers), then --fits fits
with the core's profile on (nnfast._core.profile_start / profile_stop). The table gives, per
product shape (C's m x n, k terms; A^T B the weight gradients, A B^T the deltas, +step the
optimizer step fused in): calls a step, microseconds a call, GFLOP/s, its share of the fit,
the share of its parallel loops no pool worker took part in (a worker asleep, or off its core),
and the calling thread's mean wait at a loop's end for the parts still on workers (the
imbalance of the split). The last line is the time outside the products: activations, losses
and their derivatives outside the products' epilogues, optimizer sweeps of layers too large to
step inside their product, Python. Profiling costs a lock and two clock reads a product
(well under 1 % of W3's step). Workloads are nnfast bench's (W3: 784-256-128-10, batch 64;
W4: 1024-2048-2048-10, batch 256); --batch-size and --samples run the workload's network with
another batch size or number of samples (the same data generator). --isolated adds, per
product, its microseconds a call on its own (the same shape called back to back on random
operands, at the same thread count, after each fit; the median over the fits; without the
fused step and epilogue) and the microseconds a step it took over that in the fit: what the
step's order costs it (operands another core just wrote, or that left the caches), and a last
line with their sum. Needs only NumPy and nnfast.
"""
import argparse
import dataclasses
import json
import sys

from nnfast.benchmark.profile import profile_fit, profile_text
from nnfast.benchmark.workloads import FULL


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="W3", choices=sorted(FULL))
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--fits", type=int, default=3)
    parser.add_argument("--isolated", action="store_true",
                        help="also time each product on its own, back to back")
    parser.add_argument("--batch-size", type=int, help="rows a step (default: the workload's)")
    parser.add_argument("--samples", type=int,
                        help="samples of the data (default: the workload's)")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    workload = FULL[args.workload]
    if args.batch_size is not None:
        workload = dataclasses.replace(workload, batch_size=args.batch_size)
    if args.samples is not None:
        workload = dataclasses.replace(workload, n_samples=args.samples)
    results = []
    for threads in args.threads:
        p = profile_fit(workload, threads, args.fits, isolated=args.isolated)
        print(profile_text(p))
        print()
        results.append({"workload": p.workload, "threads": p.threads, "fits": p.fits,
                        "steps": p.steps, "seconds": p.seconds, "rows": p.rows,
                        "isolated": p.isolated or None})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
