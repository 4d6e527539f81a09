"""nnfast.sklearn against scikit-learn: the same fits, timed in one run, interleaved.

    python bench/bench_sklearn.py [--repeats 5] [--quick]
    python bench/bench_sklearn.py --predict [--calls 3000]

For each workload both estimators get the same hyperparameters and data; their fits alternate
(ours, theirs, ours, ...) so load on the machine falls on both alike. Reported: the median fit
time of each, and the ratio scikit-learn / nnfast (> 1: nnfast is faster), once with both
libraries' default threads and once with one thread each (nnfast.set_num_threads(1) and
threadpoolctl's limit on NumPy's BLAS). Each fit starts after a pause of PAUSE seconds: NumPy's
OpenBLAS threads keep spinning on their cores for tens of milliseconds after a BLAS call, so a
fit that starts right after scikit-learn's would share its cores with them.

Workloads (random data from a fixed seed where not a bundled data set):
- iris:  Iris-sized, 150 x 4 -> 16 tanh -> 3 softmax, sgd, batch 16, 200 epochs, float64
- digits: scikit-learn's digits, 1797 x 64 -> 100 relu -> 10 softmax, adam, batch 200, 50 epochs
- digits-64: the small-network issue's digits fit: the 1347 training rows of a 75/25 split,
  64 -> 64 relu -> 10 softmax, adam, batch 200, 200 epochs; the accuracy of each on the 450
  held-out rows is reported too
- digits-lbfgs: the same network by L-BFGS, 100 iterations
- perceptron: Perceptron on digits, 50 epochs, no early stop
- mnist: MNIST-sized, 60,000 x 784 -> 256 relu -> 128 relu -> 10 softmax, sgd, batch 64,
  1 epoch, float32

--predict times predictions instead: the mnist workload's classifiers, each fitted for one
epoch on its first 2,000 rows, then `predict_proba` of 1 and of 64 rows, the two libraries'
calls interleaved (ours, theirs, ...), median microseconds of --calls calls each.
"""
import argparse
import statistics
import time
import warnings

import numpy as np
from sklearn import linear_model, neural_network
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

import nnfast
from nnfast import sklearn as nnsk

NEVER_STOP = dict(tol=0.0, n_iter_no_change=10**9)
PAUSE = 0.2  # seconds before each timed fit: other libraries' idle threads stop spinning


def iris_sized():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    y = (X @ rng.normal(size=(4, 3))).argmax(1)
    return X, y


def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def digits_split():
    """digits' 75/25 split (1347 training rows), and the held-out rows for the accuracy."""
    from sklearn.model_selection import train_test_split

    X, y = digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    return X_train, y_train, X_test, y_test


def mnist_sized():
    rng = np.random.default_rng(0)
    X = rng.random((60_000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 60_000)
    return X, y


def mlp(name, data, *, dtype="float64", **kw):
    kw = dict(random_state=0, **kw)
    return name, data, (lambda: nnsk.MLPClassifier(dtype=dtype, **kw),
                        lambda: neural_network.MLPClassifier(**kw))


WORKLOADS = [
    mlp("iris", iris_sized, hidden_layer_sizes=(16,), activation="tanh", solver="sgd",
        batch_size=16, max_iter=200, learning_rate_init=0.01, **NEVER_STOP),
    mlp("digits", digits, hidden_layer_sizes=(100,), solver="adam", max_iter=50,
        **NEVER_STOP),
    mlp("digits-64", digits_split, hidden_layer_sizes=(64,), solver="adam", max_iter=200,
        **NEVER_STOP),
    mlp("digits-lbfgs", digits, hidden_layer_sizes=(100,), solver="lbfgs", max_iter=100),
    ("perceptron", digits, (lambda: nnsk.Perceptron(max_iter=50, tol=None, random_state=0),
                            lambda: linear_model.Perceptron(max_iter=50, tol=None,
                                                            random_state=0))),
    mlp("mnist", mnist_sized, dtype="float32", hidden_layer_sizes=(256, 128), solver="sgd",
        batch_size=64, max_iter=1, learning_rate_init=0.01, **NEVER_STOP),
]


def time_fit(make, X, y, fitted=None):
    est = make()
    time.sleep(PAUSE)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    seconds = time.perf_counter() - start
    if fitted is not None:
        fitted.append(est)
    return seconds


def run(workloads, repeats, one_thread):
    rows = []
    for name, data, (ours, theirs) in workloads:
        X, y, *held_out = data()
        n = max(2, repeats // 2) if name == "mnist" else repeats
        times = {"nnfast": [], "sklearn": []}
        fitted = {"nnfast": [], "sklearn": []}
        time_fit(ours, X[:200], y[:200])  # warm up (imports, first allocations)
        for _ in range(n):
            if one_thread:
                nnfast.set_num_threads(1)
                with threadpool_limits(1):
                    times["nnfast"].append(time_fit(ours, X, y, fitted["nnfast"]))
                    times["sklearn"].append(time_fit(theirs, X, y, fitted["sklearn"]))
            else:
                nnfast.set_num_threads(None)
                times["nnfast"].append(time_fit(ours, X, y, fitted["nnfast"]))
                times["sklearn"].append(time_fit(theirs, X, y, fitted["sklearn"]))
        ours_s, theirs_s = (statistics.median(times[k]) for k in ("nnfast", "sklearn"))
        rows.append((name, n, ours_s, theirs_s, theirs_s / ours_s))
        accuracy = ""
        if held_out:  # the last fit of each on the held-out rows
            accuracy = "  accuracy " + " / ".join(
                f"{fitted[k][-1].score(*held_out):.4f}" for k in ("nnfast", "sklearn"))
        print(f"  {name:13s} {n:2d} runs  nnfast {ours_s:9.4f} s  scikit-learn {theirs_s:9.4f} s"
              f"  ratio {theirs_s / ours_s:6.2f}x{accuracy}", flush=True)
    nnfast.set_num_threads(None)
    return rows


def run_predict(calls):
    """predict_proba's latency for 1 and 64 rows, nnfast.sklearn's and scikit-learn's."""
    name, data, (ours, theirs) = next(w for w in WORKLOADS if w[0] == "mnist")
    X, y = data()
    X, y = X[:2000], y[:2000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        models = {"nnfast": ours().fit(X, y), "sklearn": theirs().fit(X, y)}
    print(f"{name} classifier (784 -> 256 -> 128 -> 10, float32), predict_proba, median of "
          f"{calls} interleaved calls; ratio = scikit-learn / nnfast")
    for rows in (1, 64):
        x = X[:rows]
        times = {"nnfast": [], "sklearn": []}
        for _ in range(calls):
            for key in ("nnfast", "sklearn"):
                start = time.perf_counter_ns()
                models[key].predict_proba(x)
                times[key].append(time.perf_counter_ns() - start)
        ours_us, theirs_us = (statistics.median(times[k]) / 1000 for k in ("nnfast", "sklearn"))
        print(f"  {rows:3d} row(s)  nnfast {ours_us:8.1f} us  scikit-learn {theirs_us:8.1f} us"
              f"  ratio {theirs_us / ours_us:6.2f}x", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="skip the MNIST-sized workload")
    parser.add_argument("--predict", action="store_true",
                        help="time predict_proba of 1 and 64 rows instead of fits")
    parser.add_argument("--calls", type=int, default=3000, help="calls per figure (--predict)")
    args = parser.parse_args()
    if args.predict:
        run_predict(args.calls)
        return
    workloads = [w for w in WORKLOADS if not (args.quick and w[0] == "mnist")]
    import sklearn
    print(f"nnfast {nnfast.__version__}, scikit-learn {sklearn.__version__}, "
          f"core: {nnfast._core.build_info()['gemm_kernel_float64']} / "
          f"{nnfast._core.build_info()['gemm_kernel_float32']}")
    print(f"default threads (nnfast {nnfast.get_num_threads()}, BLAS default); "
          f"median of interleaved runs; ratio = scikit-learn / nnfast")
    run(workloads, args.repeats, one_thread=False)
    print("one thread each (nnfast.set_num_threads(1), threadpool_limits(1))")
    run(workloads, args.repeats, one_thread=True)


if __name__ == "__main__":
    main()
