"""`nnfast bench`'s large inference and its GEMM table, in --quick mode (times mean nothing
here; the structure, the cross-checks and the report do)."""
import contextlib
import json

import numpy as np
import pytest

from nnfast.benchmark import gemm, inference, report
from nnfast.benchmark.cli import main
from nnfast.benchmark.workloads import FULL, workloads


@pytest.fixture(scope="module")
def quick_inference():
    return inference.run(cores=2, repeats=2, quick=True, settle=0.0, log=lambda text: None)


def test_inference_runs_every_implementation_at_1_and_2_threads(quick_inference):
    keys = set(quick_inference["results"])
    assert {"nnfast-1t", "nnfast-2t", "numpy-1t", "numpy-2t", "torch-1t", "torch-2t"} == keys
    for entry in quick_inference["results"].values():
        if entry["status"] == "ok":
            assert len(entry["times"]) == 2 and entry["median"] > 0
            assert entry["passed"], entry


def test_inference_outputs_are_probabilities_that_agree(quick_inference):
    results = quick_inference["results"]
    assert results["nnfast-1t"]["max_difference"] == 0.0
    assert results["nnfast-2t"]["max_difference"] == 0.0  # the threads change no bits
    assert results["numpy-1t"]["max_difference"] <= inference.TOLERANCE


def test_full_inference_is_w3s_network_on_10000_rows():
    assert inference.ROWS[False] == 10_000
    assert inference.LAYERS[False] == FULL["W3"].layers
    assert (inference.ACTIVATION, inference.OUTPUT, inference.DTYPE) == (
        FULL["W3"].activation, FULL["W3"].output, FULL["W3"].dtype)


def test_inference_report_and_a_failed_check_warns(quick_inference):
    text = "\n".join(report.inference_lines(quick_inference))
    assert "Large inference" in text and "nnfast 2 threads" in text and "DIFFERS" not in text
    broken = json.loads(json.dumps(quick_inference))
    broken["results"]["numpy-1t"].update(passed=False, max_difference=0.5)
    assert "DIFFERS" in "\n".join(report.inference_lines(broken))
    warnings = report.warnings_for([], [], broken)
    assert len(warnings) == 1 and "NumPy 1 thread" in warnings[0]


def test_gemm_table_covers_w3_and_w4_forward_and_backward_shapes():
    shapes = gemm.shapes_for(workloads(["W3", "W4"]), 128)
    labels = {label for label, *_ in shapes}
    for name, layers in (("W3", FULL["W3"].layers), ("W4", FULL["W4"].layers)):
        for l in range(len(layers) - 1):
            assert f"{name} L{l} X@W" in labels and f"{name} L{l} A^T@delta" in labels
            if l:
                assert f"{name} L{l} delta@W^T" in labels
    w4 = {label: (m, n, k, ta, tb) for label, m, n, k, ta, tb in shapes}
    assert w4["W4 L1 delta@W^T"] == (256, 2048, 2048, False, True)
    assert w4["W4 L0 A^T@delta"] == (1024, 2048, 256, True, False)


def test_gemm_rows_have_numpy_and_torch_columns():
    rows = gemm.run([("tiny", 16, 24, 40, False, True)], [1], dtypes=("float32",),
                    min_seconds=0.001, log=lambda text: None)
    row = rows[0]
    assert row["nnfast_relative_error"] < 1e-5
    assert row["torch_gflops"] is None or row["torch_gflops"] > 0
    text = "\n".join(report.gemm_lines(rows))
    assert "PyTorch" in text and "tiny" in text


def test_gemm_table_rounds_report_each_implementations_median(monkeypatch):
    """Each round measures every shape again, on the same operand values; a slow round moves
    no figure: each implementation's time is its median over the rounds."""
    scripted = iter([(1.0, 4.0, None, 0.0), (5.0, 4.5, None, None), (2.0, 9.0, None, None)])
    seen = []

    def fake_measure(shape, threads, operands, min_seconds, settle):
        seen.append(operands[0].copy())
        return next(scripted)

    monkeypatch.setattr(gemm, "_measure", fake_measure)
    lines = []
    rows = gemm.run([("tiny", 16, 24, 40, False, True)], [1], dtypes=("float32",),
                    rounds=3, settle=0.0, log=lines.append)
    assert len(lines) == 3 and "round 3/3" in lines[-1]
    (row,) = rows
    flops = 2.0 * 16 * 24 * 40
    assert row["rounds"] == 3
    assert row["nnfast_gflops"] == pytest.approx(flops / 2.0 / 1e9)
    assert row["numpy_gflops"] == pytest.approx(flops / 4.5 / 1e9)
    # the rounds' ratios 4.0, 0.9, 4.5: their median, not the medians' ratio 4.5 / 2.0
    assert row["ratio"] == pytest.approx(4.0) and row["torch_gflops"] is None
    assert row["torch_ratio"] is None
    assert all(np.array_equal(seen[0], a) for a in seen[1:])
    assert "medians of 3 rounds" in report.gemm_lines(rows)[0]
    assert "median of the rounds' ratios" in report.gemm_lines(rows)[0]


def test_gemm_ratio_pairs_each_round(monkeypatch):
    """Slow phases on different rounds for different libraries set no ratio: each round's
    ratio compares samples taken within seconds of each other."""
    # (nnfast, NumPy, PyTorch) seconds: the machine slow (2x) for the whole of round 1 and
    # for NumPy's sample of round 3; else nnfast 1.1x faster than both
    scripted = iter([(2.0, 2.2, 2.2, 0.0), (1.0, 1.1, 1.1, None), (1.0, 2.2, 1.1, None)])
    monkeypatch.setattr(gemm, "_measure", lambda *args: next(scripted))
    (row,) = gemm.run([("tiny", 16, 24, 40, False, True)], [1], dtypes=("float32",),
                      rounds=3, settle=0.0, log=lambda text: None)
    assert row["ratio"] == pytest.approx(1.1)  # the medians' ratio would be 2.2 / 1.0
    assert row["torch_ratio"] == pytest.approx(1.1)
    assert row["nnfast_gflops"] == pytest.approx(2.0 * 16 * 24 * 40 / 1.0 / 1e9)


def _record_sleeps(monkeypatch, events):
    import time

    monkeypatch.setattr(time, "sleep", lambda seconds: events.append(("sleep", seconds)))


def test_each_librarys_gemm_samples_start_after_the_settle(monkeypatch):
    """A library's samples never start while the previous library's idle threads may still
    spin: each is preceded by the pause (NumPy's BLAS threads cost PyTorch's 2-thread
    samples 2-3x without it)."""
    events = []
    _record_sleeps(monkeypatch, events)

    def fake_seconds(call, min_seconds):
        call()
        events.append(("sample", None))
        return 1e-3

    monkeypatch.setattr(gemm, "_seconds_per_call", fake_seconds)
    A, B, C = gemm._operands(8, 12, 16, False, False, "float32", np.random.default_rng(0))
    result = gemm._measure(("tiny", 8, 12, 16, False, False), 2, (A, B, C, None), 0.01,
                           settle=0.25)
    samples = [i for i, event in enumerate(events) if event[0] == "sample"]
    assert len(samples) == sum(t is not None for t in result[:3]) >= 2  # nnfast, NumPy
    assert all(i > 0 and events[i - 1] == ("sleep", 0.25) for i in samples)


def test_each_timed_inference_starts_after_the_settle(monkeypatch):
    events = []
    _record_sleeps(monkeypatch, events)
    table = {key: (key, contextlib.nullcontext,
                   lambda key=key: events.append(("call", key)) or np.full((3, 10), 0.1))
             for key in ("nnfast-1t", "numpy-2t", "torch-2t")}
    monkeypatch.setattr(inference, "implementations", lambda *args: table)
    inference.run(cores=2, repeats=2, quick=True, settle=0.4, log=lambda text: None)
    calls = [i for i, event in enumerate(events) if event[0] == "call"]
    assert len(calls) == 3 * 3  # a warm-up call each, then two timed ones
    assert all(events[i - 1] == ("sleep", 0.4) for i in calls[3:])


def test_cli_writes_the_inference_to_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    status = main(["--quick", "--repeats", "1", "--workloads", "W3", "--skip-training",
                   "--skip-gemm", "--skip-memory", "--json", str(path)])
    assert status == 0
    saved = json.loads(path.read_text())
    assert saved["inference"]["rows"] == inference.ROWS[True]
    assert "Large inference" in capsys.readouterr().out
    assert main(["--quick", "--repeats", "1", "--workloads", "W3", "--skip-training",
                 "--skip-gemm", "--skip-memory", "--skip-inference"]) == 0
    assert "Large inference" not in capsys.readouterr().out
