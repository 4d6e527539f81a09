"""The peak % of peak refers to: the FMA throughput the C core measures in the SIMD of the
chosen GEMM kernel (nnfast._core.measure_fma_flops, src/nncore/clock.c), the peaks and clocks
nnfast.benchmark.machine derives from it, and the report's text. Rates are checked against
the instruction set's FLOP/cycle at the measured clock within wide bounds (a factor 2 either
way), never against a time."""
import math
import platform

import pytest

from nnfast import _core
from nnfast.benchmark import machine, report

X86 = platform.machine().lower() in ("x86_64", "amd64")
ARM = platform.machine().lower() in ("aarch64", "arm64")
# a short measurement: 20 samples of 1 ms per thread
QUICK = {"sample_seconds": 0.001, "samples": 20}


def best_of(n, f):
    """The largest of n results: another process on the core lowers a rate, nothing raises
    it above the hardware's."""
    return max(f() for _ in range(n))


def kernels_this_cpu_runs():
    """The GEMM kernel names whose SIMD this CPU reports: each has a probe in the core."""
    features = set(_core.build_info()["cpu_features"].split())
    names = ["portable"]
    if X86 and {"avx2", "fma"} <= features:
        names.append("avx2")
    if X86 and {"avx512f", "fma"} <= features:
        names.append("avx512")
    if ARM:
        names.append("neon")
    return names


# the SIMD each probe runs -> machine.FLOPS_PER_CYCLE's key (the portable kernel's is SSE2 on
# x86-64, NEON on AArch64)
PROBE_ISA = {"avx512": "avx512f", "avx2": "fma", "neon": "neon",
             "portable": "sse2" if X86 else "neon" if ARM else None}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("threads", [1, 0])
def test_the_chosen_kernels_fma_rate_is_positive_and_finite(dtype, threads):
    rate = _core.measure_fma_flops(dtype, None, threads, **QUICK)
    assert math.isfinite(rate) and rate > 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_each_simds_rate_is_its_flop_per_cycle_at_about_the_clock(dtype):
    """FLOP/s per core over FLOP/cycle is a clock: within a factor 2 of the add chain's (wide
    FMA code runs slower than integer code under Intel's frequency licences, but never at
    half the clock, nor above 1.5 times it). One thread, as the add chain's clock is one
    core's."""
    clock = best_of(3, lambda: _core.measure_cpu_hz(0.001, 50))
    if not clock > 0:
        pytest.skip("the add-chain clock cannot be measured on this build (no GCC/Clang asm)")
    for kernel in kernels_this_cpu_runs():
        if PROBE_ISA[kernel] is None:
            continue
        per_cycle = machine.FLOPS_PER_CYCLE[PROBE_ISA[kernel]][dtype]
        # the best rate of up to 12 tries, stopping at the first that reaches the bound: a
        # busy machine (the suite's other work, another process on the core) only lowers it
        rate = 0.0
        for _ in range(12):
            rate = max(rate, _core.measure_fma_flops(dtype, kernel, 1, **QUICK))
            if rate / per_cycle >= 0.5 * clock:
                break
        simd_clock = rate / per_cycle
        if PROBE_ISA[kernel] == "sse2" and simd_clock > 1.5 * clock:
            # SSE2 has no FMA: the probe's multiply and add are two instructions, one pair a
            # cycle on Intel's two FMA ports, two pairs on AMD Zen's two multiply and two add
            # pipes (measured on a Zen 5 EPYC: 16 FLOP/cycle). The table keeps the lower bound.
            simd_clock = rate / (2 * per_cycle)
        if PROBE_ISA[kernel] == "avx512f" and simd_clock < 0.5 * clock:
            # one 512-bit FMA a cycle: AMD Zen 4's two 256-bit halves, Xeons with one 512-bit
            # unit (measured on a Zen 4 EPYC: 31.8 float32 FLOP/cycle); describe() halves
            # the table's figure there (machine.effective_flops_per_cycle)
            simd_clock = rate / (per_cycle // 2)
        assert 0.5 * clock <= simd_clock <= 1.5 * clock, (
            f"{kernel} {dtype}: {rate / 1e9:.1f} GFLOP/s = {per_cycle} FLOP/cycle at "
            f"{simd_clock / 1e9:.2f} GHz, the add chain's clock {clock / 1e9:.2f} GHz")


def test_a_kernel_this_build_or_cpu_lacks_is_refused():
    absent = "neon" if X86 else "avx2"
    with pytest.raises(ValueError, match=f"kernel '{absent}' is not built .* or this CPU"):
        _core.measure_fma_flops("float32", absent, 1, **QUICK)


@pytest.mark.parametrize("kwargs, message", [
    ({"dtype": "float16"}, "dtype must be 'float32' or 'float64', got 'float16'"),
    ({"kernel": "sse9"}, "kernel must be one of .* got 'sse9'"),
    ({"samples": 0}, "samples in \\[1, 256\\]"),
    ({"samples": 257}, "samples in \\[1, 256\\]"),
    ({"sample_seconds": 0.0}, "sample_seconds must be in \\(0, 1\\]"),
    ({"sample_seconds": math.nan}, "sample_seconds must be in \\(0, 1\\]"),
    ({"threads": -1}, "threads must be in \\[0, 1024\\], got -1"),
    ({"threads": 1025}, "threads must be in \\[0, 1024\\], got 1025"),
])
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _core.measure_fma_flops(**kwargs)


def test_peak_is_cores_times_the_measured_fma_rate():
    got = machine.peaks(4, 3.0, {"float32": 64, "float64": 32},
                        {"float32": 160.0, "float64": 84.0})
    assert got["peak_gflops"] == {"float32": 640.0, "float64": 336.0}
    assert got["peak_method"] == machine.PEAK_METHOD
    assert got["peak_gflops_nominal"] == {"float32": 768.0, "float64": 384.0}
    assert got["simd_clock_ghz"] == {"float32": 2.5, "float64": 2.625}
    assert got["fma_gflops_per_core"] == {"float32": 160.0, "float64": 84.0}


def test_flop_per_cycle_is_halved_where_the_fma_rate_shows_half_width_units():
    """Zen 4's AVX-512: 116.1 float32 GFLOP/s per core at a 3.65 GHz core clock is 31.8
    FLOP/cycle, not the 64 of two 512-bit units; a licence-lowered Intel clock (0.75 of the
    core clock) keeps the table's figure."""
    table = machine.FLOPS_PER_CYCLE["avx512f"]
    zen4 = machine.effective_flops_per_cycle(table, 3.65, {"float32": 116.1, "float64": 58.7})
    assert zen4 == {"float32": 32, "float64": 16}
    got = machine.peaks(2, 3.65, zen4, {"float32": 116.1, "float64": 58.7})
    assert got["simd_clock_ghz"]["float32"] == pytest.approx(3.63, abs=0.01)
    assert got["peak_gflops_nominal"]["float32"] == pytest.approx(2 * 3.65 * 32)
    xeon = machine.effective_flops_per_cycle(table, 3.2, {"float32": 0.75 * 3.2 * 64,
                                                          "float64": 0.75 * 3.2 * 32})
    assert xeon == table
    # no clock or no rate: the table as it is
    assert machine.effective_flops_per_cycle(table, None, {"float32": 1.0}) == table
    assert machine.effective_flops_per_cycle(table, 3.0, {}) == table


class FakeProbe:
    """measure(dtype, threads) for measure_fma_gflops: float32 at 200, float64 at 100 GFLOP/s
    per core, the first `slow` float32 calls at half that (a slow phase of the machine)."""

    def __init__(self, slow=0):
        self.slow = slow
        self.calls = {"float32": 0, "float64": 0}

    def __call__(self, dtype, threads):
        self.calls[dtype] += 1
        if dtype == "float64":
            return 100e9
        return 100e9 if self.calls[dtype] <= self.slow else 200e9


def test_the_fma_rate_is_the_best_of_the_repeats():
    probe = FakeProbe()
    assert machine.measure_fma_gflops(2, repeats=3, measure=probe) == {"float32": 200.0,
                                                                       "float64": 100.0}
    assert probe.calls == {"float32": 3, "float64": 3}


def test_a_slow_phase_longer_than_the_repeats_is_measured_again():
    """Three float32 runs at half the rate, as seen on a Zen 5 VM: more rounds follow until
    float32 is back above 1.5 times float64."""
    probe = FakeProbe(slow=4)
    assert machine.measure_fma_gflops(2, repeats=3, measure=probe) == {"float32": 200.0,
                                                                       "float64": 100.0}
    assert probe.calls["float32"] == 5
    stuck = FakeProbe(slow=100)  # never recovers: the rounds stop at 3 x repeats
    assert machine.measure_fma_gflops(2, repeats=3, measure=stuck)["float32"] == 100.0
    assert stuck.calls["float32"] == 9


def test_peak_falls_back_to_the_nominal_one_when_the_fma_rate_is_not_measured():
    got = machine.peaks(2, 3.0, {"float32": 32, "float64": 16}, {})
    assert got["peak_gflops"] == got["peak_gflops_nominal"] == {"float32": 192.0,
                                                                "float64": 96.0}
    assert got["peak_method"] == machine.NOMINAL_METHOD
    assert got["simd_clock_ghz"] == {}
    nothing = machine.peaks(2, None, None, {})
    assert nothing["peak_gflops"] == {} and nothing["peak_method"] is None


def test_describe_reports_both_clocks_and_the_measured_peak():
    described = machine.describe()
    rates = described["fma_gflops_per_core"]
    assert set(rates) == {"float32", "float64"}
    assert all(math.isfinite(rate) and rate > 0 for rate in rates.values())
    assert described["peak_method"] == machine.PEAK_METHOD
    assert described["peak_gflops"] == {dtype: described["cores"] * rate
                                        for dtype, rate in rates.items()}
    per_cycle = described["flops_per_cycle"]
    assert described["simd_clock_ghz"] == {dtype: rate / per_cycle[dtype]
                                           for dtype, rate in rates.items()}
    if described["clock_ghz"]:
        assert described["peak_gflops_nominal"] == {
            dtype: described["cores"] * described["clock_ghz"] * flops
            for dtype, flops in per_cycle.items()}


MACHINE = {"cores": 2, "machine": "x86_64", "clock_ghz": 3.2, "isa": "avx512f",
           "flops_per_cycle": {"float32": 64, "float64": 32},
           "cpu_features": "sse2 avx avx2 fma avx512f",
           "gemm_kernels": {"float32": "avx512f 8x48", "float64": "avx512f 8x24"},
           "caches": {}, **machine.peaks(2, 3.2, {"float32": 64, "float64": 32},
                                         {"float32": 172.8, "float64": 86.4})}


def test_report_names_both_clocks_and_where_the_peak_comes_from():
    text = "\n".join(report.machine_lines(MACHINE, {"nnfast": "0"}))
    assert "core clock 3.20 GHz (measured: dependent integer adds, one core)" in text
    assert ("SIMD clock float32 2.70 GHz, float64 2.70 GHz (measured: avx512f FMA chains on "
            "every core at once, float32 172.8, float64 86.4 GFLOP/s per core") in text
    assert ("peak = cores x FMA throughput measured with the chosen kernel's SIMD: float32 "
            "346 GFLOP/s, float64 173 GFLOP/s") in text
    assert "nominal peak (cores x core clock x FLOP/cycle, as older records): float32 410" \
        in text


def test_report_of_an_older_record_says_its_peak_is_the_nominal_one():
    old = {key: value for key, value in MACHINE.items()
           if key not in ("peak_method", "peak_gflops_nominal", "simd_clock_ghz",
                          "fma_gflops_per_core")}
    old["peak_gflops"] = {"float32": 409.6, "float64": 204.8}
    text = "\n".join(report.machine_lines(old, {}))
    assert "peak = cores x clock x FLOP/cycle: float32 410 GFLOP/s" in text
    assert "SIMD clock" not in text and "nominal peak" not in text


def test_the_peak_takes_the_higher_of_the_start_and_end_probes():
    """A run whose first probe fell in a slow phase (every dtype at about 3/4 of the rate, so
    the float32 / float64 check does not see it) takes its peak from the probe at its end; a
    slower end probe leaves the first's; without a probe the report says nothing of probes."""
    table = machine.FLOPS_PER_CYCLE["avx512f"]
    slow = {"float32": 149.3, "float64": 72.5}
    described = {"cores": 2, "clock_ghz": 2.76, "isa": "avx512f",
                 **machine.peaks(2, 2.76, table, slow), "flops_per_cycle": table}
    got = machine.reprobe(described, measure=FakeProbe())
    assert got["fma_gflops_per_core"] == {"float32": 200.0, "float64": 100.0}
    assert got["peak_gflops"] == {"float32": 400.0, "float64": 200.0}
    assert got["simd_clock_ghz"]["float32"] == pytest.approx(200.0 / 64)
    assert got["fma_probes"] == [slow, {"float32": 200.0, "float64": 100.0}]
    assert got["cores"] == 2 and got["isa"] == "avx512f"
    fast = {"float32": 250.0, "float64": 125.0}
    described = {**described, **machine.peaks(2, 2.76, table, fast)}
    kept = machine.reprobe(described, measure=FakeProbe())
    assert kept["peak_gflops"] == {"float32": 500.0, "float64": 250.0}
    text = "\n".join(report.clock_lines(got))
    assert ("FMA probes at the run's start and end: float32 149.3, float64 72.5 and "
            "float32 200.0, float64 100.0 GFLOP/s per core; the peak takes the higher") in text
    assert "float32 400 GFLOP/s" in text
    unmeasured = machine.reprobe({**described, "fma_gflops_per_core": {}},
                                 measure=lambda dtype, threads: 0.0)
    assert unmeasured["peak_method"] == machine.NOMINAL_METHOD
    assert "FMA probes" not in "\n".join(report.clock_lines(unmeasured))
