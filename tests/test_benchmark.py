"""The benchmark runner (nnfast.benchmark), in --quick mode: every workload and every
implementation installed here runs, and each one ends where nnfast does from the same start.
Times are not asserted (speed is measured in bench/, never in a test)."""
import contextlib
import importlib.util
import io
import json

import numpy as np
import pytest

from nnfast.benchmark import comparison, machine, main
from nnfast.benchmark.runners import Outcome
from nnfast.benchmark.workloads import FULL, QUICK

WORKLOADS = ["W1", "W2", "W3", "W4"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One quick run for the whole module: (exit status, JSON report, printed text)."""
    path = tmp_path_factory.mktemp("bench") / "report.json"
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        status = main(["--quick", "--repeats", "1", "--skip-gemm", "--json", str(path)])
    with open(path, encoding="utf-8") as f:
        return status, json.load(f), text.getvalue()


@pytest.fixture(scope="module")
def quick_report(quick_run):
    return quick_run[:2]


def expected_implementations():
    """Keys of the implementations that must have run here: torch only where installed (it
    is not in the test extra); scikit-learn is."""
    threads = sorted({1, machine.cores()})
    keys = [f"nnfast-{t}t" for t in threads] + ["reference", "numpy", "sklearn"]
    if importlib.util.find_spec("torch") is not None:
        keys += [f"torch-{t}t" for t in threads]
    return keys


def test_quick_run_covers_every_workload_and_implementation(quick_report):
    status, report = quick_report
    assert status == 0
    assert [entry["workload"] for entry in report["workloads"]] == WORKLOADS
    for entry in report["workloads"]:
        ran = [key for key, r in entry["results"].items() if r["status"] == "ok"]
        assert ran == expected_implementations(), entry["workload"]
        for key in ran:
            assert entry["results"][key]["median"] > 0
    if importlib.util.find_spec("torch") is None:
        torch_rows = [r for r in report["workloads"][0]["results"].values()
                      if r["label"].startswith("PyTorch")]
        assert torch_rows and all(r["reason"] == "torch not installed" for r in torch_rows)


def test_quick_run_cross_check_passes(quick_report):
    _, report = quick_report
    for entry in report["workloads"]:
        results = entry["results"]
        nnfast_keys = [key for key in results if key.startswith("nnfast-")]
        assert entry["checked_against"] == nnfast_keys[-1]
        for key in nnfast_keys[:-1]:  # nnfast at 1 thread: the same bits as at every core
            assert results[key]["check"]["bit_identical"], entry["workload"]
        for key in ("reference", "numpy", "sklearn"):
            check = results[key]["check"]
            assert check["passed"], (entry["workload"], key, check)
        if entry["dtype"] == "float64":
            # numpy vs nnfast from the same weights: the contract's float64 agreement
            check = results["numpy"]["check"]
            assert check["loss_difference"] <= 1e-9, entry["workload"]
            assert check["weights_difference"] <= 1e-9, entry["workload"]


def test_report_text_names_every_workload(quick_run):
    text = quick_run[2]
    for title in ("W1: AND gate", "W2: Iris-sized", "W3: MNIST-like", "W4: large-layer"):
        assert title in text
    assert "pure-Python reference" in text and "memory of a W3 fit" in text
    assert "all cross-checks passed" in text and "WARNING" not in text


def test_cross_check_detects_different_work():
    # The check must be able to fail: one step of lr more moves a weight by far more than 1e-9.
    ours = Outcome(1.0, 0.5, [np.array([[1.0, -2.0]])], [np.array([0.25])])
    same = Outcome(1.0, 0.5, [np.array([[1.0, -2.0]])], [np.array([0.25])])
    moved = Outcome(1.0, 0.5, [np.array([[1.0, -2.0 + 1e-6]])], [np.array([0.25])])
    assert comparison.relative_difference(same, ours) == (0.0, 0.0)
    loss, weights = comparison.relative_difference(moved, ours)
    assert loss == 0.0 and weights == pytest.approx(1e-6 / 2.0)
    assert weights > comparison.TOLERANCES["float64"]["weights"]


def test_flop_count_of_w3_by_hand():
    # per sample: 2 * (784*256*2 + 256*128*3 + 128*10*3) = 2 * 503552; the first layer has
    # no delta_prev (nothing below it needs it)
    assert FULL["W3"].flops() == 60_000 * 2 * (784 * 256 * 2 + 256 * 128 * 3 + 128 * 10 * 3)
    assert FULL["W3"].steps == 938 and FULL["W4"].steps == 32 and FULL["W2"].steps == 2000


def test_unknown_workload_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        main(["--workloads", "W9", "--quick"])
    assert "unknown workload(s) W9" in capsys.readouterr().err


def test_quick_workloads_match_the_full_ones_in_kind():
    for name in WORKLOADS:
        full, quick = FULL[name], QUICK[name]
        assert (full.activation, full.output, full.dtype) == (quick.activation, quick.output,
                                                             quick.dtype)
