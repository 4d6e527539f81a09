"""nnfast.dask's data-parallel L-BFGS against the same fit in one process and Spark MLlib.

    python bench/bench_dask.py [--iterations 20] [--json FILE] [--skip-spark] [--quick]

Data: synthetic, float64 (as Spark's), 1,000,000 x 100 (--quick: 20,000 x 100), labels of 10
classes from a fixed random linear teacher; the network 100 -> 64 sigmoid -> 10 softmax
(Spark MLlib's MultilayerPerceptronClassifier has sigmoid hidden layers), full-batch L-BFGS
for a fixed number of iterations (tolerance 0) in every case:

- dask: a LocalCluster of 2 worker processes, 1 thread each; the data made on the workers
  in 16 row blocks and persisted there
- dask-memory-limit: the same with each worker's memory_limit below the data's size: its own
  footprint before the data, plus its half of the data, plus the working memory of one
  block and some slack (at full size about 770 MB for 808 MB of data). The data fit on the
  cluster, not on one worker; the workers' resident memory after the fit is reported beside
  the limit (spilling, pausing and termination are off, so nothing hides an overrun). At
  --quick sizes the data are smaller than any worker's footprint and the case only runs the
  code
- one-process: nnfast.dask.lbfgs_in_process on the same rows gathered into this process
- spark: MultilayerPerceptronClassifier, local[2], solver l-bfgs, same layers and iterations

Reported per case: seconds per iteration; for dask the share spent in the native core on the
busiest worker vs the rest (Dask: sending, scheduling, summing, waiting) and the bytes moved
per iteration (to the workers, between them, back to the client); for one-process the share
in the native core vs scipy. --json writes the report (docs/scaling-out.md's table is filled
from it). Timings from a loaded machine mean nothing: run it on a quiet one.
"""
import argparse
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time

import numpy as np

import dask
import dask.array as da
import distributed

import nnfast
import nnfast.dask as nd
from nnfast.models.training import FitSettings

LAYERS = [100, 64, 10]
SIZES = {"full": 1_000_000, "quick": 20_000}
N_BLOCKS = 16
SEED = 0
# workers forked from multiprocessing's single-threaded fork server: plain fork copies the
# locks other threads of this process hold at that instant (a worker may then wait forever)
FORKSERVER = {"distributed.worker.multiprocessing-method": "forkserver"}
# the memory-limited case holds its data in memory: no spilling, pausing or termination
NO_SPILL = {"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False,
            "distributed.worker.memory.pause": False, "distributed.worker.memory.terminate": False}
SLACK_BYTES = 96 * 2**20


def teacher():
    return np.random.default_rng(SEED).normal(size=(LAYERS[0], LAYERS[-1]))


def labels(X, W):
    return (X @ W).argmax(axis=1)


def dataset(rows):
    """X (rows x 100 float64) and y, as dask arrays made block by block where they lie."""
    chunks = -(-rows // N_BLOCKS)
    X = da.random.RandomState(SEED).normal(size=(rows, LAYERS[0]), chunks=(chunks, LAYERS[0]))
    y = X.map_blocks(labels, teacher(), drop_axis=1, dtype=np.int64)
    return X, y


def network():
    return nnfast.MLP(LAYERS, "sigmoid", seed=SEED)


def resident_bytes():
    import psutil

    return psutil.Process().memory_info().rss


def cluster(memory_limit="auto", config=None):
    with dask.config.set({**FORKSERVER, **(config or {})}):
        return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                        memory_limit=memory_limit, dashboard_address=":0",
                                        silence_logs=logging.ERROR)


def memory_limit(baseline, rows, data_bytes):
    """A worker's footprint before the data + its half of the data + the working memory of
    one block (activations and deltas of every layer, three buffers' worth) + slack."""
    block_rows = -(-rows // N_BLOCKS)
    working = block_rows * 8 * 3 * sum(LAYERS[1:])
    return int(baseline + data_bytes / 2 + working + SLACK_BYTES)


def dask_case(name, rows, iterations, memory_limit="auto", config=None):
    """One distributed fit; its report and the workers' baseline memory."""
    with cluster(memory_limit, config) as local, distributed.Client(local) as client:
        baseline = max(client.run(resident_bytes).values())
        X, y = client.persist(dataset(rows))
        distributed.wait([X, y])
        reports = []
        model = network()
        start = time.perf_counter()
        nd.fit(model, X, y, max_iter=iterations, client=client,
               callback=lambda i, loss, forward, progress: reports.append(progress) and False)
        seconds = time.perf_counter() - start
        limits = [w["memory_limit"] for w in client.scheduler_info()["workers"].values()]
        peak = max(client.run(resident_bytes).values())
    n = len(reports)
    total = sum(r.seconds for r in reports)
    native = sum(r.compute_seconds for r in reports)
    return {
        "case": name, "workers": 2, "threads_per_worker": 1, "partitions": N_BLOCKS,
        "rows": rows, "dtype": "float64", "layers": LAYERS, "iterations": n,
        "data_bytes": rows * (LAYERS[0] * 8 + 8), "memory_limit_per_worker": min(limits),
        "worker_baseline_bytes": baseline, "worker_resident_bytes_after": peak,
        "seconds": seconds, "seconds_per_iteration": total / n,
        "evaluations_per_iteration": sum(r.evaluations for r in reports) / n,
        "native_share": native / total, "dask_share": 1 - native / total,
        "bytes_to_workers_per_iteration": sum(r.bytes_to_workers for r in reports) / n,
        "bytes_between_workers_per_iteration":
            sum(r.bytes_between_workers for r in reports) / n,
        "bytes_to_client_per_iteration": sum(r.bytes_to_client for r in reports) / n,
        "parameters": model.n_params, "final_loss": model.loss_curve_[-1],
    }, baseline


def one_process_case(rows, iterations):
    """The same fit on the rows gathered into this process, one loss_gradient call over all
    of them per evaluation."""
    X, y = dask.compute(*dataset(rows), scheduler="synchronous")
    model = network()
    probe = model.trainer(FitSettings())
    native = [0.0]
    loss_gradient = type(probe).loss_gradient

    def timed(self, *args, **kwargs):
        begin = time.perf_counter()
        try:
            return loss_gradient(self, *args, **kwargs)
        finally:
            native[0] += time.perf_counter() - begin

    type(probe).loss_gradient = timed
    try:
        start = time.perf_counter()
        result = nd.lbfgs_in_process(model, X, y, max_iter=iterations)
        seconds = time.perf_counter() - start
    finally:
        type(probe).loss_gradient = loss_gradient
    return {"case": "one-process", "rows": rows, "dtype": "float64", "layers": LAYERS,
            "iterations": result.n_iter, "seconds": seconds,
            "seconds_per_iteration": seconds / result.n_iter,
            "native_share": native[0] / seconds, "final_loss": result.loss}


def spark_case(rows, iterations):
    """Spark MLlib's MultilayerPerceptronClassifier on the same rows, local[2]."""
    try:
        import pandas as pd
        from pyspark.ml.classification import MultilayerPerceptronClassifier
        from pyspark.ml.feature import VectorAssembler
        from pyspark.sql import SparkSession
    except ImportError as exc:
        return {"case": "spark", "skipped": f"pyspark is not installed ({exc})"}
    if shutil.which("java") is None and "JAVA_HOME" not in os.environ:
        return {"case": "spark", "skipped": "no Java runtime"}
    X, y = dask.compute(*dataset(rows), scheduler="synchronous")
    folder = tempfile.mkdtemp(prefix="bench_dask_")
    try:
        columns = [f"x{j}" for j in range(LAYERS[0])]
        frame = pd.DataFrame(X, columns=columns)
        frame["label"] = y.astype(np.float64)
        frame.to_parquet(os.path.join(folder, "data.parquet"))
        del frame
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        spark = (SparkSession.builder.master("local[2]").appName("bench_dask")
                 .config("spark.driver.memory", "4g").config("spark.ui.enabled", "false")
                 .getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        try:
            data = VectorAssembler(inputCols=columns, outputCol="features").transform(
                spark.read.parquet(os.path.join(folder, "data.parquet"))).select(
                "features", "label").cache()
            data.count()  # read and cached before the clock starts
            classifier = MultilayerPerceptronClassifier(
                layers=LAYERS, maxIter=iterations, tol=0.0, solver="l-bfgs", seed=SEED)
            start = time.perf_counter()
            fitted = classifier.fit(data)
            seconds = time.perf_counter() - start
            history = fitted.summary().objectiveHistory
        finally:
            spark.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"case": "spark", "rows": rows, "dtype": "float64", "layers": LAYERS,
            "iterations": iterations, "master": "local[2]", "seconds": seconds,
            "seconds_per_iteration": seconds / iterations,
            "final_loss": float(history[-1]) if history else None}


def print_case(case):
    if "skipped" in case:
        print(f"  {case['case']:18s} skipped: {case['skipped']}")
        return
    line = (f"  {case['case']:18s} {case['iterations']:3d} iterations  "
            f"{case['seconds_per_iteration'] * 1e3:9.2f} ms/iteration")
    if "native_share" in case:
        line += f"  native {100 * case['native_share']:5.1f} %"
    if "bytes_to_workers_per_iteration" in case:
        line += (f"  bytes/iteration: to workers {case['bytes_to_workers_per_iteration']:.0f}, "
                 f"between {case['bytes_between_workers_per_iteration']:.0f}, "
                 f"to client {case['bytes_to_client_per_iteration']:.0f}")
    print(line, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--quick", action="store_true",
                        help=f"{SIZES['quick']:,} rows and 3 iterations (a smoke run)")
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--json", metavar="FILE", help="write the report as JSON")
    args = parser.parse_args(argv)
    rows = SIZES["quick" if args.quick else "full"]
    iterations = 3 if args.quick else args.iterations
    print(f"nnfast {nnfast.__version__}, dask {dask.__version__}, {platform.machine()}; "
          f"{rows:,} x {LAYERS[0]} float64 -> {LAYERS[1]} sigmoid -> {LAYERS[2]} softmax, "
          f"L-BFGS {iterations} iterations")
    cases = []
    first, baseline = dask_case("dask", rows, iterations)
    cases.append(first)
    print_case(first)
    limit = memory_limit(baseline, rows, first["data_bytes"])
    limited, _ = dask_case("dask-memory-limit", rows, iterations, limit, NO_SPILL)
    limited["data_exceed_one_worker_limit"] = limited["data_bytes"] > limit
    limited["workers_stayed_under_limit"] = limited["worker_resident_bytes_after"] <= limit
    cases.append(limited)
    print_case(limited)
    cases.append(one_process_case(rows, iterations))
    print_case(cases[-1])
    cases.append({"case": "spark", "skipped": "--skip-spark"} if args.skip_spark
                 else spark_case(rows, iterations))
    print_case(cases[-1])
    report = {"nnfast": nnfast.__version__, "dask": dask.__version__, "quick": args.quick,
              "cases": cases}
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    return report


if __name__ == "__main__":
    main()
