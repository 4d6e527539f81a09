"""The benchmark's host-steal readings (nnfast.benchmark.steal) and the report's notes on them."""
import os

import pytest

from nnfast.benchmark import report, steal

pytestmark = pytest.mark.skipif(not hasattr(os, "sysconf"), reason="os.sysconf: POSIX only")

STAT = "cpu  5278734 0 201988 11614868 15034 0 11468 {steal} 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"


def write_stat(path, steal_ticks):
    path.write_text(STAT.format(steal=steal_ticks), encoding="ascii")


def test_steal_seconds_reads_the_eighth_number_of_the_cpu_line(tmp_path):
    stat = tmp_path / "stat"
    write_stat(stat, 156938)
    assert steal.steal_seconds(stat) == pytest.approx(156938 / os.sysconf("SC_CLK_TCK"))


@pytest.mark.parametrize("text", ["", "cpu 1 2 3 4 5 6 7\n", "intr 1 2 3 4 5 6 7 8 9\n",
                                  "cpu 1 2 3 4 5 6 7 x 9\n"])
def test_steal_seconds_is_none_where_the_system_does_not_report_it(tmp_path, text):
    stat = tmp_path / "stat"
    stat.write_text(text, encoding="ascii")
    assert steal.steal_seconds(stat) is None
    assert steal.steal_seconds(tmp_path / "missing") is None


class Clock:
    """perf_counter stand-in: returns the times given, in order."""

    def __init__(self, *times):
        self.times = list(times)

    def __call__(self):
        return self.times.pop(0)


def test_meter_share_is_the_steal_over_wall_time_and_cpus(tmp_path, monkeypatch):
    stat, hz = tmp_path / "stat", os.sysconf("SC_CLK_TCK")
    write_stat(stat, 1000)
    monkeypatch.setattr(steal.time, "perf_counter", Clock(10.0, 12.0))  # a 2 s run
    with steal.StealMeter(stat, cpus=2) as meter:
        write_stat(stat, 1000 + int(0.4 * hz))  # the host took 0.4 CPU-seconds of 4
    assert meter.share == pytest.approx(0.1)
    assert steal.noisy(meter.share) and steal.percent(meter.share) == "10%"


def test_meter_gives_no_share_for_a_run_too_short_to_resolve(tmp_path, monkeypatch):
    stat, hz = tmp_path / "stat", os.sysconf("SC_CLK_TCK")
    write_stat(stat, 1000)
    short = steal.MIN_TICKS / hz / 2 * 0.9  # 2 CPUs: just under MIN_TICKS of CPU time
    monkeypatch.setattr(steal.time, "perf_counter", Clock(0.0, short))
    with steal.StealMeter(stat, cpus=2) as meter:
        write_stat(stat, 1001)
    assert meter.share is None and steal.percent(None) == "-" and not steal.noisy(None)


def test_meter_without_the_count_gives_none(tmp_path):
    with steal.StealMeter(tmp_path / "missing") as meter:
        pass
    assert meter.share is None


def entry(shares):
    return {"workload": "W3", "title": "t", "layers": [4, 3], "dtype": "float32",
            "n_samples": 10, "steps": 2, "flops": 1e9,
            "results": {"nnfast-2t": {"label": "nnfast 2 threads", "status": "ok",
                                      "times": [1.0, 1.1], "median": 1.05, "steal": shares}}}


def test_report_notes_only_the_runs_the_host_took_time_from():
    noisy = {"workloads": [entry([0.01, 0.12])], "gemm_steal": 0.0,
             "inference": {"steal": 0.05}}
    notes = report.steal_notes(noisy)
    assert any("W3" in n and "up to 12%" in n and "nnfast 2 threads" in n for n in notes)
    assert any("large inference" in n and "5%" in n for n in notes)
    assert not any("GEMM" in n for n in notes)
    assert report.steal_notes({"workloads": [entry([0.01, None])], "gemm_steal": None}) == []
    lines = report.workload_lines(entry([0.01, 0.12]), {"peak_gflops": {"float32": 100}})
    assert "steal" in lines[1] and " 12% " in lines[2]


def test_report_line_for_the_whole_run():
    assert "7%" in report.steal_line({"steal": 0.07})
    assert "not reported" in report.steal_line({"steal": None})
