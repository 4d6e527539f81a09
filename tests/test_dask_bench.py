"""bench/bench_dask.py --quick as a smoke test: the report's fields, never a speed."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("scipy")

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_dask.py"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("bench_dask", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = tmp_path_factory.mktemp("bench") / "dask.json"
    # Spark is the bench extra's and takes its own JVM: the smoke run leaves it out
    returned = bench.main(["--quick", "--skip-spark", "--json", str(path)])
    written = json.loads(path.read_text())
    assert written == json.loads(json.dumps(returned))
    return written


def cases(report):
    return {case["case"]: case for case in report["cases"]}


def test_every_case_is_reported(report):
    assert report["quick"] is True
    assert list(cases(report)) == ["dask", "dask-memory-limit", "one-process", "spark"]
    assert cases(report)["spark"]["skipped"] == "--skip-spark"


def test_the_distributed_cases_report_time_shares_and_bytes(report):
    for name in ("dask", "dask-memory-limit"):
        case = cases(report)[name]
        assert case["iterations"] == 3 and case["workers"] == 2
        assert case["rows"] == 20_000 and case["dtype"] == "float64"
        assert case["seconds_per_iteration"] > 0
        assert 0 <= case["native_share"] <= 1
        assert case["native_share"] + case["dask_share"] == pytest.approx(1)
        # one float64 gradient and loss back per evaluation; parameters to 1 or 2 workers
        evaluations = case["evaluations_per_iteration"] * case["iterations"]
        gradient_bytes = 8 * (case["parameters"] + 1)
        assert case["bytes_to_client_per_iteration"] * case["iterations"] == pytest.approx(
            gradient_bytes * evaluations)
        per_worker = case["bytes_to_workers_per_iteration"] * case["iterations"] / (
            8 * case["parameters"] * evaluations)
        assert 1 <= per_worker <= 2
        assert case["bytes_between_workers_per_iteration"] >= 0


def test_the_memory_limited_case_sets_a_limit_below_the_default(report):
    limited, default = cases(report)["dask-memory-limit"], cases(report)["dask"]
    assert limited["memory_limit_per_worker"] < default["memory_limit_per_worker"]
    assert limited["memory_limit_per_worker"] > limited["worker_baseline_bytes"]
    assert limited["data_exceed_one_worker_limit"] == (
        limited["data_bytes"] > limited["memory_limit_per_worker"])
    assert isinstance(limited["workers_stayed_under_limit"], bool)


def test_every_case_trains_the_same_model(report):
    losses = [cases(report)[name]["final_loss"] for name in
              ("dask", "dask-memory-limit", "one-process")]
    np.testing.assert_allclose(losses, losses[0], rtol=1e-9)
    single = cases(report)["one-process"]
    assert single["iterations"] == 3 and 0 < single["native_share"] <= 1
