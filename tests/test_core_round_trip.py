"""nnfast._core.measure_core_round_trip (src/nncore/core_latency.c): a cache line's round trip
between two pinned threads, the benchmark's record of how far apart the host placed the two
CPUs a 2-thread figure ran on. Its values are checked for sense (positive, below 0.1 s),
never against a time."""
import os
import sys

import pytest

from nnfast import _core

LINUX = sys.platform.startswith("linux")
ALLOWED = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def test_two_cpus_of_this_process_have_a_round_trip():
    if not (LINUX and len(ALLOWED) >= 2):
        assert _core.measure_core_round_trip(0, 1, trips=2000) == 0.0  # not measurable here
        return
    before = os.sched_getaffinity(0)
    seconds = _core.measure_core_round_trip(ALLOWED[0], ALLOWED[1], trips=5000)
    assert 0.0 < seconds < 0.1
    assert os.sched_getaffinity(0) == before  # the caller's own affinity is untouched


def test_a_cpu_this_process_cannot_run_on_gives_zero():
    missing = (os.cpu_count() or 1) + 3
    assert _core.measure_core_round_trip(0, missing, trips=2000) == 0.0
    assert _core.measure_core_round_trip(missing, 0, trips=2000) == 0.0
    assert _core.measure_core_round_trip(0, 5000, trips=2000) == 0.0  # past the CPU set's size


@pytest.mark.parametrize("kwargs, message", [
    ({"cpu_a": 1, "cpu_b": 1}, "two different CPUs"),
    ({"cpu_a": -1, "cpu_b": 1}, "two different CPUs"),
    ({"trips": 0}, "trips"),
    ({"trips": 10_000_001}, "trips"),
])
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _core.measure_core_round_trip(**kwargs)


def test_the_benchmark_measures_between_the_first_two_cpus_it_may_run_on():
    from nnfast.benchmark import machine
    asked = []

    def measure(cpu_a, cpu_b):
        asked.append((cpu_a, cpu_b))
        return 3.7e-7

    value = machine.core_round_trip_ns(measure)
    if len(ALLOWED) >= 2:
        assert asked == [(ALLOWED[0], ALLOWED[1])] and value == pytest.approx(370.0)
        assert machine.core_round_trip_ns(lambda a, b: 0.0) is None  # not measurable: None
    else:
        assert asked == [] and value is None


def test_the_report_shows_each_rows_least_and_most_round_trip():
    from nnfast.benchmark import report
    assert report.round_trip_text([88.2, 371.4, None]) == "88-371"
    assert report.round_trip_text([90.1, 89.9]) == "90"
    assert report.round_trip_text([None]) == report.round_trip_text(None) == "-"
    entry = {"workload": "W3", "title": "t", "layers": [4, 3], "dtype": "float32",
             "n_samples": 10, "steps": 2, "flops": 1e9,
             "results": {"nnfast-2t": {"label": "nnfast 2 threads", "status": "ok",
                                       "times": [1.0, 1.1], "median": 1.05, "steal": [None],
                                       "round_trip_ns": [371.4, 88.2]}}}
    lines = report.workload_lines(entry, {"peak_gflops": {"float32": 100}})
    assert "rt ns" in lines[1] and " 88-371 " in lines[2]
