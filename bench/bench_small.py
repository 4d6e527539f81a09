"""Small networks and inference (issue 11): median microseconds per training step and per forward,
nnfast against a plain NumPy implementation of the same work.

    python bench/bench_small.py [--repeats 7]

W1  the AND gate, one sigmoid neuron, 4 rows full batch, float64 (lr 1, zero init)
W2  Iris-sized 4-16-3 tanh/softmax, 150 rows, batch 16, float64 and float32 (lr 0.1)
fwd the forward of 100,000 rows through a 4-16-3 tanh/softmax float64 net, 1 and 2 threads
lat forward / predict of ONE row (median and 99th percentile over many calls)

Every timing is the median of --repeats runs; each training run is one fit call of many epochs
(shuffle off), so the per-call Python overhead is spread over all its steps. The NumPy side is
nnfast.benchmark.numpy_mlp.train (minibatch SGD, the same batch order and the same start).
Take figures on a quiet machine (load < 0.3): the script prints the load average.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

import nnfast
from nnfast.benchmark import numpy_mlp
from nnfast.benchmark.workloads import FULL


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def train_step_times(name, dtype, epochs, repeats):
    """(nnfast, numpy) median us per optimizer step of workload name in dtype."""
    w = FULL[name]
    X, y = w.data()
    X = X.astype(dtype)
    steps = epochs * -(-len(X) // w.batch_size)
    def run_nnfast():
        m = nnfast.MLP(list(w.layers), activation=w.activation, output=w.output, seed=2026,
                       dtype=dtype, init=w.init)
        m.fit(X, y, epochs=epochs, batch_size=w.batch_size, lr=w.lr, shuffle=False)

    ref = nnfast.MLP(list(w.layers), activation=w.activation, output=w.output, seed=2026,
                     dtype=dtype, init=w.init)
    W0 = [np.array(W, dtype=dtype) for W in ref.weights]
    b0 = [np.array(b, dtype=dtype) for b in ref.biases]
    Y = numpy_mlp.one_hot(y, w.layers[-1], dtype)

    # the model's construction is part of run_nnfast: time it alone and subtract
    t_make = median_time(lambda: nnfast.MLP(list(w.layers), activation=w.activation,
                                            output=w.output, seed=2026, dtype=dtype,
                                            init=w.init), repeats)
    t_nn = max(median_time(run_nnfast, repeats) - t_make, 0.0)
    np_epochs = max(1, epochs // 20)  # NumPy is slower: fewer epochs, the same per-step work
    np_steps = np_epochs * -(-len(X) // w.batch_size)

    def run_numpy_short():
        numpy_mlp.train([W.copy() for W in W0], [b.copy() for b in b0], X, Y,
                        activation=w.activation, output=w.output, epochs=np_epochs,
                        batch_size=w.batch_size, lr=w.lr)

    t_np = median_time(run_numpy_short, repeats)
    return t_nn / steps * 1e6, t_np / np_steps * 1e6


def numpy_forward(weights, biases, X):
    A = X
    for l, (W, b) in enumerate(zip(weights, biases)):
        Z = A @ W + b
        if l < len(weights) - 1:
            A = np.tanh(Z)
        else:
            Z = Z - Z.max(axis=1, keepdims=True)
            E = np.exp(Z)
            A = E / E.sum(axis=1, keepdims=True)
    return A


def forward_times(rows, repeats):
    model = nnfast.MLP([4, 16, 3], activation="tanh", output="softmax", seed=1, dtype="float64")
    X = np.random.default_rng(3).standard_normal((rows, 4))
    weights = [np.asarray(W) for W in model.weights]
    biases = [np.asarray(b) for b in model.biases]
    out = {}
    previous = nnfast.get_num_threads()
    for threads in (1, 2):
        nnfast.set_num_threads(threads)
        model.forward(X)
        out[f"nnfast {threads} thr"] = median_time(lambda: model.forward(X), repeats)
    nnfast.set_num_threads(previous)
    out["numpy"] = median_time(lambda: numpy_forward(weights, biases, X), repeats)
    err = np.max(np.abs(model.forward(X) - numpy_forward(weights, biases, X)))
    return out, err


def latency(fn, calls=20000):
    times = np.empty(calls)
    for i in range(calls):
        t0 = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - t0
    return np.median(times) * 1e6, np.percentile(times, 99) * 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="fewer epochs (smoke test)")
    args = parser.parse_args(argv)
    r = args.repeats
    info = nnfast._core.build_info()
    print(f"nnfast {nnfast.__version__}; gemm {info['gemm_kernel_float64']}; "
          f"vecmath {info.get('vecmath_kernel', '?')}; cpu {info['cpu_features']}; "
          f"load {os.getloadavg()[0]:.2f}")
    print("median us per step (nnfast, numpy, ratio):")
    for name, dtype, epochs in (("W1", "float64", 10000), ("W2", "float64", 200),
                                ("W2", "float32", 200)):
        if args.quick:
            epochs = max(2, epochs // 100)
        nn_us, np_us = train_step_times(name, dtype, epochs, r)
        print(f"  {name} {dtype:8s} nnfast {nn_us:8.3f} us   numpy {np_us:8.2f} us   "
              f"{np_us / nn_us if nn_us else float('inf'):6.1f}x")
    rows = 10_000 if args.quick else 100_000
    times, err = forward_times(rows, r)
    print(f"forward of {rows} rows, 4-16-3 tanh/softmax float64 (ms; max |diff| vs numpy "
          f"{err:.1e}):")
    for k, v in times.items():
        print(f"  {k:14s} {v * 1e3:8.2f} ms   numpy / this {times['numpy'] / v:5.2f}x")
    model = nnfast.MLP([4, 16, 3], activation="tanh", output="softmax", seed=1, dtype="float64")
    x1 = np.random.default_rng(4).standard_normal((1, 4))
    weights = [np.asarray(W) for W in model.weights]
    biases = [np.asarray(b) for b in model.biases]
    print("one row, 4-16-3 (us: median, p99):")
    for label, fn in (("forward", lambda: model.forward(x1)),
                      ("predict", lambda: model.predict(x1)),
                      ("numpy forward", lambda: numpy_forward(weights, biases, x1))):
        med, p99 = latency(fn, 2000 if args.quick else 20000)
        print(f"  {label:14s} {med:7.2f}  {p99:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
