"""The machine: cores, the measured clocks, and the peak FLOP/s that % of peak refers to.

Peak = cores x FMA throughput measured with the chosen kernel's SIMD: the C core runs
independent multiply-add chains in the SIMD of the GEMM kernel the dispatch chose, on every
core at once (nnfast._core.measure_fma_flops, src/nncore/clock.c). Wide FMA code can run at
a lower clock than other code (Intel's AVX2 / AVX-512 frequency licences) and the all-core
clock is below one core's, so this is the most the GEMM's FMA units can deliver here.
Dividing it by the SIMD's FLOP/cycle gives the clock the SIMD units ran at.

The core clock is measured too, not read from /proc/cpuinfo (in a VM that shows the host's
nominal frequency): the C core times a chain of dependent integer adds, one add per cycle on
every x86-64 and AArch64 core (nnfast._core.measure_cpu_hz). cores x that clock x FLOP/cycle
is the nominal peak (peak_gflops_nominal), the figure older records used.
"""
import os
import platform

# FLOP per cycle per core, by the widest instruction set the GEMM kernel uses: lanes x 2 (an
# FMA is a multiply and an add) x 2 FMA pipes; AVX and SSE2 without FMA: one add and one
# multiply pipe; NEON: two 128-bit FMA pipes. AVX-512: two 512-bit FMA units, as on the
# Xeon (Ice Lake server) this was measured on: 16 independent zmm FMA chains ran 2.2x the
# FLOP/s of 16 ymm chains (one 512-bit unit would give 1.0x), and the 6x32 micro-kernel ran
# faster than one unit's ceiling (125 GFLOP/s > 1 x 16 lanes x 2 x 3.46 GHz = 111). Xeons with
# one 512-bit unit (some Silver/Gold 5xxx) and AMD Zen 4 (two 256-bit halves) have half this
# peak: describe() halves it where the measured rate shows it (effective_flops_per_cycle, below).
# AVX and SSE2 on AMD Zen: two
# multiply and two add pipes, twice the figure below (the benchmark's peak is the measured
# FMA rate, so only the nominal peak of a build without FMA kernels is low there).
FLOPS_PER_CYCLE = {
    "avx512f": {"float32": 64, "float64": 32},
    "fma": {"float32": 32, "float64": 16},
    "avx": {"float32": 16, "float64": 8},
    "sse2": {"float32": 8, "float64": 4},
    "neon": {"float32": 16, "float64": 8},
    "asimd": {"float32": 16, "float64": 8},
}
ISA_ORDER = ("avx512f", "fma", "avx", "neon", "asimd", "sse2")
# The GEMM kernel the dispatch chose (NNFAST_GEMM_KERNEL's names) -> the SIMD it runs.
KERNEL_ISA = {"avx512": "avx512f", "avx2": "fma", "neon": "neon", "portable": "sse2"}


def cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def measure_clock_ghz(sample_seconds=0.001, samples=100):
    """The clock in GHz from the C core's dependent-add chain, or None where it cannot be
    measured. Many short timings: on a busy machine most are cut by other processes, but the
    chain can never run faster than one add per cycle, so the fastest timings are the clock;
    the 90th percentile keeps one timer glitch from setting it."""
    from .. import _core

    hz = _core.measure_cpu_hz(sample_seconds, samples)
    return hz / 1e9 if hz > 0 else None


def measure_fma_gflops(threads, repeats=3, measure=None):
    """{dtype: GFLOP/s per core} of independent FMA chains in the SIMD of the chosen GEMM
    kernel, on `threads` threads at once ({} where it cannot be measured). The best of
    `repeats` runs of each dtype, the dtypes taken in turn: another process holding a core
    through a run lowers it, nothing raises it above what the FMA units deliver. In turn,
    because a slow phase of a shared machine lasts longer than a dtype's runs back to back:
    on a 2-core AMD EPYC (Zen 5) VM three float32 runs in a row came out at half the rate,
    the float64 runs just after them at the full one. And while the float32 rate is under
    1.5 times the float64 one (it is twice, the same FMAs on twice the lanes), both are
    measured again, up to 3 * repeats rounds in all. `measure(dtype, threads)` -> FLOP/s:
    the probe (nnfast._core.measure_fma_flops by default)."""
    if measure is None:
        from .. import _core

        def measure(dtype, threads):
            return _core.measure_fma_flops(dtype, None, threads)

    best = {"float32": 0.0, "float64": 0.0}
    for round_ in range(3 * repeats):
        for dtype in best:
            best[dtype] = max(best[dtype], measure(dtype, threads))
        if round_ + 1 >= repeats and not 0 < best["float32"] < 1.5 * best["float64"]:
            break
    return {dtype: rate / 1e9 for dtype, rate in best.items() if rate > 0}


def core_round_trip_ns(measure=None):
    """A cache line's round trip in ns between the first two CPUs this process may run on
    (nnfast._core.measure_core_round_trip), or None with one CPU or where it cannot be
    measured. A VM's host moves its CPUs: on the 2-core Zen 5 KVM guest the round trip went
    between 55-100 ns (an L3 shared) and 350-400 ns (not) from minute to minute, and W3's
    2-thread fit between 0.16 and 0.20 s with it, its 1-thread fit level."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None
    if len(allowed) < 2:
        return None
    if measure is None:
        from .. import _core
        measure = _core.measure_core_round_trip
    seconds = measure(allowed[0], allowed[1])
    return seconds * 1e9 if seconds > 0 else None


PEAK_METHOD = "cores x FMA throughput measured with the chosen kernel's SIMD"
NOMINAL_METHOD = "cores x add-chain clock x FLOP/cycle"


def peaks(n_cores, clock, per_cycle, fma_per_core):
    """The peaks and clocks describe() reports: the measured peak (the nominal one where the
    FMA chains could not be timed), the nominal peak, and the SIMD clock per dtype."""
    per_cycle = per_cycle or {}
    nominal = ({dtype: n_cores * clock * flops for dtype, flops in per_cycle.items()}
               if clock else {})
    measured = {dtype: n_cores * rate for dtype, rate in fma_per_core.items()}
    simd_clock = {dtype: rate / per_cycle[dtype] for dtype, rate in fma_per_core.items()
                  if dtype in per_cycle}
    method = PEAK_METHOD if measured else NOMINAL_METHOD if nominal else None
    return {"peak_gflops": measured or nominal, "peak_method": method,
            "peak_gflops_nominal": nominal, "simd_clock_ghz": simd_clock,
            "fma_gflops_per_core": dict(fma_per_core)}


# A SIMD clock below this share of the core clock is no clock: the CPU issues half the FMAs the
# table assumes. AVX-512 on AMD Zen 4 splits each 512-bit FMA into two 256-bit halves (one a
# cycle: a 2-core EPYC KVM guest, 116.1 float32 GFLOP/s per core at a 3.65 GHz core clock,
# 31.8 FLOP/cycle), as do Xeons with one 512-bit unit; Intel's frequency licences lower the
# clock of wide FMA code by a quarter at most, never by half.
HALF_RATE_SHARE = 0.6


def effective_flops_per_cycle(per_cycle, clock, fma_per_core):
    """The table's FLOP/cycle, halved for a dtype whose measured FMA rate is under
    HALF_RATE_SHARE of what it gives at the core clock (FMA units half as wide as the SIMD)."""
    if not per_cycle or not clock:
        return per_cycle
    return {dtype: flops // 2 if (dtype in fma_per_core and
                                  fma_per_core[dtype] < HALF_RATE_SHARE * clock * flops)
            else flops for dtype, flops in per_cycle.items()}


def widest_isa(cpu_features, gemm_kernel=None):
    """The SIMD the peak refers to: the one the chosen GEMM kernel runs (label "avx512f 6x32"
    or name "avx2"), else the widest the CPU reports."""
    if gemm_kernel:
        name = gemm_kernel.split()[0].split("+")[0]
        if name in KERNEL_ISA:
            return KERNEL_ISA[name]
        if name in FLOPS_PER_CYCLE:
            return name
    features = set(cpu_features.split())
    for isa in ISA_ORDER:
        if isa in features and (isa != "fma" or "avx2" in features):
            return isa
    return None


def peak_fields(n_cores, clock, isa, fma_per_core):
    """The FLOP/cycle (halved where the FMA rate shows half-width units) and the peaks and
    SIMD clocks describe() reports for these FMA rates."""
    per_cycle = effective_flops_per_cycle(FLOPS_PER_CYCLE.get(isa), clock, fma_per_core)
    return {"flops_per_cycle": per_cycle or {},
            **peaks(n_cores, clock, per_cycle, fma_per_core)}


def reprobe(described, measure=None):
    """describe()'s machine with the FMA rate measured again (at the end of a run) and each
    dtype's rate the higher of the two probes, the peaks and SIMD clocks from it; the probes
    under "fma_probes" (start, end). A slow phase of a shared machine lowers a probe, nothing
    raises one above what the FMA units deliver: the 2-core Xeon VM's probe read 149.3
    float32 GFLOP/s per core at the start of one run, 174.9-177.7 in the runs before it, and
    the run's % of peak came out 1.17x what the units allowed."""
    again = measure_fma_gflops(described["cores"], measure=measure)
    first = dict(described.get("fma_gflops_per_core") or {})
    best = {dtype: max(first.get(dtype, 0.0), again.get(dtype, 0.0))
            for dtype in list(first) + [d for d in again if d not in first]}
    return {**described,
            **peak_fields(described["cores"], described["clock_ghz"], described["isa"], best),
            "fma_probes": [first, dict(again)]}


def describe():
    """Cores, both clocks, the CPU features and kernels nnfast reports, and the peak GFLOP/s
    (measured, and the nominal one)."""
    from .. import _core

    info = _core.build_info()
    n_cores = cores()
    clock = measure_clock_ghz()
    isa = widest_isa(info.get("cpu_features", ""), info.get("gemm_kernel_float32"))
    return {"cores": n_cores, "clock_ghz": clock, "isa": isa,
            **peak_fields(n_cores, clock, isa, measure_fma_gflops(n_cores)),
            "cpu_features": info.get("cpu_features", ""),
            "gemm_kernels": {dtype: info.get(f"gemm_kernel_{dtype}", "?")
                             for dtype in ("float32", "float64")},
            "caches": _core.cache_sizes(),
            "threading": info.get("threading"), "machine": platform.machine(),
            "python": platform.python_version()}
