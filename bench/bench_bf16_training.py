"""bfloat16 training: nnfast's dtype="bfloat16" fit against its float32 fit and PyTorch's
float32 and bf16-autocast training, on W3 and W4.

    python bench/bench_bf16_training.py [--threads 2] [--rounds 5] [--pause 0.5]
                                        [--accuracy-epochs 10]

Timing: one epoch of W3 (784-256-128-10, batch 64, 60,000 rows) and of W4
(1024-2048-2048-10, batch 256, 8,192 rows), the benchmark's workloads (docs/benchmarks.md),
the same data and initial weights for every row: nnfast.MLP(dtype="float32") and
(dtype="bfloat16") fits, and PyTorch's loop of the benchmark in float32 and with the forward
under torch.autocast("cpu", dtype=torch.bfloat16) (its products in bfloat16, the loss and
the weights float32). --rounds rounds, each fitting all four in turn (a slow phase of a
virtual machine then hits all four alike); each PyTorch fit is followed by --pause seconds
of rest, because PyTorch's OpenMP threads spin for a while after each call and would take
the core nnfast's second thread runs on; NumPy's BLAS is held to one thread (threadpoolctl,
where installed), whose idle threads spin too after the data is made. Times are medians;
ratios (> 1: nnfast bf16 is faster) the median and quartiles of the rounds' ratios.

Accuracy: W3 trained --accuracy-epochs epochs on its first 50,000 rows, scored on the other
10,000 (held out, the same distribution), for each of the four; the option's bar is bf16
within 0.5 point of float32. Run it on a quiet machine (load < 0.3).
"""
import argparse
import contextlib
import time

import numpy as np

import nnfast
from nnfast import _core
from nnfast.benchmark.runners import torch_sequential
from nnfast.benchmark.workloads import FULL

HELD_OUT = 10_000


def nnfast_fit(workload, dtype, X, y, epochs):
    W0, b0 = workload.initial_parameters()
    model = nnfast.MLP(list(workload.layers), workload.activation, workload.output,
                       dtype=dtype)
    model.set_parameters(W0, b0)
    start = time.perf_counter()
    model.fit(X, y, epochs=epochs, batch_size=workload.batch_size, lr=workload.lr,
              shuffle=False)
    return time.perf_counter() - start, model.predict


def torch_fit(torch, workload, autocast, X, y, epochs):
    W0, b0 = workload.initial_parameters()
    model = torch_sequential(W0, b0, workload.activation, "float32")
    optimizer = torch.optim.SGD(model.parameters(), lr=workload.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    context = ((lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if autocast
               else contextlib.nullcontext)
    start = time.perf_counter()
    for _ in range(epochs):
        for s in range(0, len(X), workload.batch_size):
            optimizer.zero_grad()
            with context():
                out = model(Xt[s:s + workload.batch_size])
            loss_fn(out.float(), yt[s:s + workload.batch_size]).backward()
            optimizer.step()
    seconds = time.perf_counter() - start

    def predict(rows):
        with torch.no_grad():
            return model(torch.from_numpy(rows)).argmax(1).numpy()
    return seconds, predict


def candidates(torch, workload):
    return {"nnfast float32": lambda X, y, e: nnfast_fit(workload, "float32", X, y, e),
            "nnfast bf16": lambda X, y, e: nnfast_fit(workload, "bfloat16", X, y, e),
            "PyTorch float32": lambda X, y, e: torch_fit(torch, workload, False, X, y, e),
            "PyTorch bf16 autocast": lambda X, y, e: torch_fit(torch, workload, True, X, y, e)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pause", type=float, default=0.5,
                        help="seconds of rest after each PyTorch fit (default 0.5)")
    parser.add_argument("--accuracy-epochs", type=int, default=10,
                        help="W3's epochs for the held-out accuracy (0: skip it)")
    args = parser.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits
        blas = threadpool_limits(limits=1, user_api="blas")
    except ImportError:
        blas = contextlib.nullcontext()
    with blas:
        run(args)


def run(args):
    import torch

    nnfast.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    info = _core.build_info()
    print(f"nnfast {nnfast.__version__} (gemm {info['gemm_kernel_float32']}, bf16 products "
          f"{info['gemm_kernel_bfloat16']}), torch {torch.__version__}; {args.threads} "
          f"thread(s), medians of {args.rounds} one-epoch fits")
    for name in ("W3", "W4"):
        workload = FULL[name]
        X, y = workload.data()
        fits = candidates(torch, workload)
        times = {key: [] for key in fits}
        for key in fits:  # a first call outside the timing (buffers, threads)
            fits[key](X[:4 * workload.batch_size], y[:4 * workload.batch_size], 1)
        time.sleep(args.pause)
        for _ in range(args.rounds):  # rounds interleaved: a slow phase of the VM hits all
            for key in fits:
                times[key].append(fits[key](X, y, 1)[0])
                if key.startswith("PyTorch"):
                    time.sleep(args.pause)  # its OpenMP threads' spinning ends first
        median = {key: float(np.median(t)) for key, t in times.items()}
        bf16 = np.array(times["nnfast bf16"])

        def ratio(key):  # the median and quartiles of the rounds' ratios
            q = np.percentile(np.array(times[key]) / bf16, [50, 25, 75])
            return f"{q[0]:.2f}x ({q[1]:.2f}-{q[2]:.2f})"
        print(f"  {name}: " + "  ".join(f"{key} {t:.3f} s" for key, t in median.items()))
        print(f"      nnfast bf16: {ratio('nnfast float32')} nnfast float32, "
              f"{ratio('PyTorch bf16 autocast')} PyTorch bf16 autocast, "
              f"{ratio('PyTorch float32')} PyTorch float32 (per-round ratios: median, "
              f"quartiles)")
    if args.accuracy_epochs > 0:
        workload = FULL["W3"]
        X, y = workload.data()
        train, test = slice(0, len(X) - HELD_OUT), slice(len(X) - HELD_OUT, None)
        scores = {}
        for key, fit in candidates(torch, workload).items():
            _, predict = fit(X[train], y[train], args.accuracy_epochs)
            scores[key] = float(np.mean(predict(X[test]) == y[test]))
        print(f"  W3 held-out accuracy after {args.accuracy_epochs} epochs on "
              f"{len(X) - HELD_OUT} rows: " +
              "  ".join(f"{key} {100 * s:.2f} %" for key, s in scores.items()))
        print(f"      nnfast bf16 - float32: "
              f"{100 * (scores['nnfast bf16'] - scores['nnfast float32']):+.2f} points")


if __name__ == "__main__":
    main()
