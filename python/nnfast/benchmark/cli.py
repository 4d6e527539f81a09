"""`nnfast bench` / `python -m nnfast.benchmark` / `python bench/compare.py`: the comparison."""
import argparse
import importlib.util
import json
import platform
import sys
import time

from . import comparison, gemm, inference, machine, memory, report, runners
from .steal import StealMeter
from .workloads import FULL, workloads

GEMM_SQUARE = {False: 2048, True: 128}   # the square GEMM's size, full and --quick


def build_parser(prog="nnfast bench"):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train the workloads W1-W4 with nnfast (1 thread and every core), the "
                    "pure-Python reference, NumPy, scikit-learn and PyTorch (when installed), "
                    "from the same weights, interleaved; print medians, us/step, GFLOP/s, % "
                    "of the CPU's peak and every ratio, check that all ended where nnfast "
                    "did, compare GEMM speed with NumPy's and PyTorch's matmul, and time the "
                    "forward pass of 10,000 rows (large inference).",
        epilog="example: nnfast bench --workloads W1,W2 --repeats 5 --json bench.json")
    parser.add_argument("--workloads", default=",".join(FULL), metavar="W1,W2,...",
                        help="comma-separated workloads to run (default: all)")
    parser.add_argument("--repeats", type=int, default=3, metavar="N",
                        help="interleaved repeats; medians are reported (default: 3)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, for a smoke test of the runner (times mean nothing)")
    parser.add_argument("--skip-training", action="store_true",
                        help="leave out the training comparison (the workloads still choose "
                             "the GEMM shapes)")
    parser.add_argument("--skip-gemm", action="store_true", help="leave out the GEMM table")
    parser.add_argument("--skip-inference", action="store_true",
                        help="leave out the large inference (10,000 rows through W3's network)")
    parser.add_argument("--skip-memory", action="store_true",
                        help="leave out the peak memory of a W3 fit")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return parser


def versions():
    found = {"python": platform.python_version()}
    for module in ("nnfast", "numpy", "sklearn", "torch"):
        if importlib.util.find_spec(module) is not None:
            found[module] = getattr(__import__(module), "__version__", "?")
        else:
            found[module] = "not installed"
    try:
        from threadpoolctl import threadpool_info
        # NumPy's own BLAS: scipy and torch may load others into the process
        blas = sorted((p for p in threadpool_info() if p.get("user_api") == "blas"),
                      key=lambda p: "numpy" not in str(p.get("filepath", "")))
        if blas:
            found["numpy BLAS"] = (f"{blas[0].get('internal_api')} "
                                   f"{blas[0].get('version')} ({blas[0].get('num_threads')} "
                                   f"threads)")
    except ImportError:
        pass
    return found


def run(options, log):
    with StealMeter() as meter:
        results = _run(options, log)
    results["steal"] = meter.share
    return results


def _run(options, log):
    names = [name.strip().upper() for name in options.workloads.split(",") if name.strip()]
    chosen = workloads(names, options.quick)
    if options.repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {options.repeats}")
    described = machine.describe()
    for line in report.clock_lines(described):
        log(line)
    table = runners.implementations(described["cores"])
    settle = 0.0 if options.quick else comparison.SETTLE_SECONDS
    results = {"command": " ".join(["nnfast bench"] + options.argv),
               "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "quick": options.quick,
               "repeats": options.repeats, "machine": described, "versions": versions(),
               "tolerances": comparison.TOLERANCES, "workloads": [], "gemm": None,
               "inference": None, "memory": None, "gemm_steal": None}
    for w in [] if options.skip_training else chosen:
        results["workloads"].append(
            comparison.run_workload(w, table, options.repeats, settle=settle, log=log))
        save_json(results, options.json)  # a long run interrupted keeps what it finished
    gemm_rows = None
    if not options.skip_gemm:
        shapes = gemm.shapes_for(chosen, GEMM_SQUARE[options.quick])
        with StealMeter() as gemm_meter:
            gemm_rows = gemm.run(shapes, sorted({1, described["cores"]}),
                                 min_seconds=0.01 if options.quick else 0.05,
                                 rounds=options.repeats, settle=settle, log=log)
        results["gemm_steal"] = gemm_meter.share
    if not options.skip_inference:
        with StealMeter() as inference_meter:
            results["inference"] = inference.run(described["cores"], options.repeats,
                                                 options.quick, settle=settle, log=log)
        results["inference"]["steal"] = inference_meter.share
        save_json(results, options.json)
    memory_result = None
    if not options.skip_memory and "W3" in names:
        memory_result = memory.measure("W3", options.quick)
    results.update(gemm=gemm_rows, memory=memory_result)
    # the peak from the higher of the FMA probes at the run's start and end (machine.reprobe)
    results["machine"] = machine.reprobe(described)
    return results


def save_json(results, path):
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1, default=str)


def main(argv=None):
    """Run the comparison; print the report (progress goes to stderr). Returns 0, or 1 when a
    cross-check failed (the implementations did not do the same work)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    options = parser.parse_args(argv)
    options.argv = argv
    try:
        results = run(options, log=lambda text: print(text, file=sys.stderr, flush=True))
    except ValueError as error:
        parser.error(str(error))
    print(report.render(results))
    save_json(results, options.json)
    failed = report.warnings_for(results["workloads"], results["gemm"], results["inference"])
    return 1 if failed else 0
