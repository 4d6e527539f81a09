"""Sparse input (issue 17, item 5): scikit-learn's out-of-core text setting, nnfast.sklearn's
Perceptron and MLPClassifier against scikit-learn's, time and peak memory.

    python bench/bench_sparse.py [--docs 10000] [--batch 1000] [--repeats 3] [--json out.json]
    python bench/bench_sparse.py --quick

The data: synthetic documents (a generated vocabulary, four topics, Zipf-distributed words;
nothing is downloaded) hashed by HashingVectorizer(n_features=2**18, alternate_sign=False) as
scikit-learn's example plot_out_of_core_classification does, so X is CSR with 2^18 columns.
Two tasks, each in a fresh subprocess per implementation and repeat:

fit          Perceptron().fit(X, y) on --docs documents (four classes)
partial_fit  five Perceptron().partial_fit calls on batches of --batch documents
mlp_fit      MLPClassifier(hidden_layer_sizes=(64,), max_iter=5) (adam, batches of 200) fit
             on the first MLP_DOCS documents (fewer with --docs below it): trained on the CSR
             rows, never densified (dense, 5,000 x 2^18 float64 would be 10 GiB)

Reported per implementation and task: the median seconds (take times on a quiet machine:
the script prints the load average), the process's peak resident set (resource's ru_maxrss)
before and after the task and their difference, and tracemalloc's peak of the task (NumPy's
arrays included). Then the agreement: both implementations' coef_ after the same unshuffled
fit, which must match (nnfast follows scikit-learn's sparse rule).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np

N_FEATURES = 2 ** 18
TOPICS = 4
IMPLEMENTATIONS = ("nnfast", "sklearn")
TASKS = ("fit", "partial_fit", "mlp_fit")
MLP_DOCS = 5000


def documents(n, seed):
    """n synthetic documents and their topic (0 .. TOPICS-1): each word drawn from the topic's
    Zipf distribution over its shuffled copy of a generated vocabulary (70%) or from the
    background one (30%)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = np.array(["".join(rng.choice(letters, rng.integers(3, 10))) for _ in range(20000)])
    ranks = [rng.permutation(len(vocab)) for _ in range(TOPICS + 1)]
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    topics = rng.integers(0, TOPICS, n)
    docs = []
    for t in topics:
        length = int(rng.integers(60, 240))
        own = rng.random(length) < 0.7
        picks = np.where(own, ranks[t][rng.choice(len(vocab), length, p=weights)],
                         ranks[TOPICS][rng.choice(len(vocab), length, p=weights)])
        docs.append(" ".join(vocab[picks]))
    return docs, topics


def hashed(docs):
    from sklearn.feature_extraction.text import HashingVectorizer
    vectorizer = HashingVectorizer(decode_error="ignore", n_features=N_FEATURES,
                                   alternate_sign=False)
    return vectorizer.transform(docs)


def perceptron(implementation, **kw):
    if implementation == "nnfast":
        from nnfast.sklearn import Perceptron
    else:
        from sklearn.linear_model import Perceptron
    return Perceptron(**kw)


def mlp(implementation, **kw):
    if implementation == "nnfast":
        from nnfast.sklearn import MLPClassifier
    else:
        from sklearn.neural_network import MLPClassifier
    return MLPClassifier(hidden_layer_sizes=(64,), max_iter=5, random_state=0, **kw)


def task_rows(task, n_docs):
    """The documents a task trains on."""
    return min(n_docs, MLP_DOCS) if task == "mlp_fit" else n_docs


def run_task(implementation, task, X, y, batch):
    """The task once; returns the fitted model."""
    if task == "mlp_fit":
        import warnings
        from sklearn.exceptions import ConvergenceWarning
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return mlp(implementation).fit(X, y)
    model = perceptron(implementation, random_state=0)
    if task == "fit":
        return model.fit(X, y)
    classes = np.arange(TOPICS)
    for start in range(0, 5 * batch, batch):
        model.partial_fit(X[start:start + batch], y[start:start + batch], classes=classes)
    return model


def max_rss_mib():
    """The process's peak resident set so far, MiB (ru_maxrss: KiB on Linux, bytes on macOS)."""
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2 ** 20 if sys.platform == "darwin" else rss / 2 ** 10


def worker(implementation, task, n_docs, batch, seed):
    """One measurement in this (fresh) process: data, then the task timed, then its traced
    peak. Prints one JSON line."""
    docs, y = documents(max(n_docs, 5 * batch), seed)
    X = hashed(docs)
    if task == "mlp_fit":
        X, y = X[:task_rows(task, n_docs)], y[:task_rows(task, n_docs)]
    perceptron(implementation), mlp(implementation)  # import before the baseline
    rss_before = max_rss_mib()
    t0 = time.perf_counter()
    run_task(implementation, task, X, y, batch)
    seconds = time.perf_counter() - t0
    rss_after = max_rss_mib()
    tracemalloc.start()
    run_task(implementation, task, X, y, batch)
    traced = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    print(json.dumps({"seconds": seconds, "rss_before_mib": rss_before,
                      "rss_peak_mib": rss_after, "rss_increase_mib": rss_after - rss_before,
                      "traced_peak_mib": traced, "n_rows": int(X.shape[0]),
                      "nnz": int(X.nnz)}))


def measure(implementation, task, args):
    """The median over --repeats fresh subprocesses (memory: the largest)."""
    runs = []
    env = dict(os.environ)
    # the subprocess imports the nnfast this process imported
    import nnfast
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(nnfast.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in [env.get("PYTHONPATH")] if p])
    for _ in range(args.repeats):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker",
                              implementation, task, "--docs", str(args.docs), "--batch",
                              str(args.batch), "--seed", str(args.seed)],
                             capture_output=True, text=True, env=env, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    result = {"seconds": statistics.median(r["seconds"] for r in runs)}
    for key in ("rss_before_mib", "rss_peak_mib", "rss_increase_mib", "traced_peak_mib"):
        result[key] = max(r[key] for r in runs)
    result["n_rows"], result["nnz"] = runs[0]["n_rows"], runs[0]["nnz"]
    return result


def agreement(args):
    """max |coef_ nnfast - coef_ scikit-learn| after the same unshuffled fit, and the scale."""
    docs, y = documents(max(args.docs, 5 * args.batch), args.seed)
    X = hashed(docs)
    ours = perceptron("nnfast", shuffle=False).fit(X, y)
    theirs = perceptron("sklearn", shuffle=False).fit(X, y)
    return {"coef_max_abs_diff": float(np.abs(ours.coef_ - theirs.coef_).max()),
            "coef_max_abs": float(np.abs(theirs.coef_).max()),
            "n_iter": [int(ours.n_iter_), int(theirs.n_iter_)]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a small run (the smoke test)")
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--worker", nargs=2, metavar=("IMPLEMENTATION", "TASK"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(*args.worker, args.docs, args.batch, args.seed)
    if args.quick:
        args.docs, args.batch, args.repeats = 200, 40, 1
    report = {"n_features": N_FEATURES, "docs": args.docs, "batch": args.batch,
              "mlp_docs": task_rows("mlp_fit", args.docs),
              "repeats": args.repeats, "load_average": list(os.getloadavg()),
              "results": {}}
    print(f"load average {report['load_average'][0]:.2f}; {args.docs} documents, "
          f"batches of {args.batch}, 2^18 features, median of {args.repeats}")
    print(f"{'task':<12} {'implementation':<15} {'seconds':>9} {'peak RSS MiB':>13} "
          f"{'RSS +MiB':>9} {'traced MiB':>11}")
    for task in TASKS:
        for implementation in IMPLEMENTATIONS:
            r = measure(implementation, task, args)
            report["results"][f"{implementation}/{task}"] = r
            print(f"{task:<12} {implementation:<15} {r['seconds']:>9.3f} "
                  f"{r['rss_peak_mib']:>13.1f} {r['rss_increase_mib']:>9.1f} "
                  f"{r['traced_peak_mib']:>11.1f}")
    report["agreement"] = agreement(args)
    print("coef_ nnfast vs scikit-learn (shuffle=False): max |diff| "
          f"{report['agreement']['coef_max_abs_diff']:.3g} of max |coef| "
          f"{report['agreement']['coef_max_abs']:.3g}; n_iter_ {report['agreement']['n_iter']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == "__main__":
    main()
