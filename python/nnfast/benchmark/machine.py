"""The machine: cores, the measured CPU clock, and the peak FLOP/s that % of peak refers to.

The clock is measured, not read from /proc/cpuinfo (in a VM that shows the host's nominal
frequency, not what the core runs at): a chain of dependent integer adds runs one add per
cycle on every x86-64 core, so adds / seconds is the clock the benchmarks ran at.
Peak = cores x clock x FLOP/cycle, FLOP/cycle from the widest SIMD the CPU reports.
"""
import ctypes
import mmap
import os
import platform
import time

# FLOP per cycle per core, by the widest instruction set the CPU reports: lanes x 2 (an FMA
# is a multiply and an add) x 2 FMA pipes; AVX and SSE2 without FMA: one add and one
# multiply pipe; NEON: two 128-bit FMA pipes.
FLOPS_PER_CYCLE = {
    "avx512f": {"float32": 64, "float64": 32},
    "fma": {"float32": 32, "float64": 16},
    "avx": {"float32": 16, "float64": 8},
    "sse2": {"float32": 8, "float64": 4},
    "neon": {"float32": 16, "float64": 8},
    "asimd": {"float32": 16, "float64": 8},
}
ISA_ORDER = ("avx512f", "fma", "avx", "neon", "asimd", "sse2")

ADDS_PER_ITERATION = 64
# x86-64 System V: uint64 f(uint64 iterations) { rax = 0; rcx = 1; do { rax += rcx (x64) }
# while (--rdi); return rax; }  Each add waits for the one before (latency 1 cycle); the loop
# counter is a separate chain, so an iteration costs ADDS_PER_ITERATION cycles.
_LOOP_BODY = bytes.fromhex("4801c8") * ADDS_PER_ITERATION        # add rax, rcx
_DEPENDENT_ADDS_X86_64 = (
    bytes.fromhex("31c0")                 # xor eax, eax
    + bytes.fromhex("b901000000")         # mov ecx, 1
    + _LOOP_BODY
    + bytes.fromhex("48ffcf")             # dec rdi
    + b"\x0f\x85" + (-(len(_LOOP_BODY) + 3 + 6)).to_bytes(4, "little", signed=True)  # jnz body
    + bytes.fromhex("c3"))                # ret


def cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _dependent_add_function():
    """The add chain as a callable, in executable memory; None where it cannot run."""
    if platform.machine().lower() not in ("x86_64", "amd64") or os.name != "posix":
        return None, None
    try:
        memory = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE
                           | mmap.PROT_EXEC)
    except (OSError, ValueError, AttributeError):
        return None, None  # W^X policies refuse writable executable pages
    memory.write(_DEPENDENT_ADDS_X86_64)
    address = ctypes.addressof(ctypes.c_char.from_buffer(memory))
    function = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64)(address)
    return function, memory


def measure_clock_ghz(sample_seconds=0.001, samples=100):
    """The clock in GHz from the dependent-add chain, or None where the chain cannot run (not
    x86-64). Many short timings: on a busy machine most are cut by other processes, but the
    chain can never run faster than one add per cycle, so the fastest timings are the clock;
    the 90th percentile keeps one timer glitch from setting it."""
    function, memory = _dependent_add_function()
    if function is None:
        return None
    try:
        iterations = 64
        function(1 << 16)  # warm up: the core leaves its idle frequency
        while True:
            start = time.perf_counter()
            function(iterations)
            if time.perf_counter() - start > sample_seconds:
                break
            iterations *= 2
        rates = []
        for _ in range(samples):
            start = time.perf_counter()
            total = function(iterations)
            elapsed = time.perf_counter() - start
            assert total == iterations * ADDS_PER_ITERATION, "the add chain miscounted"
            rates.append(total / elapsed)
        rates.sort()
        return rates[int(0.9 * (len(rates) - 1))] / 1e9
    finally:
        del function
        memory.close()


def widest_isa(cpu_features):
    features = set(cpu_features.split())
    for isa in ISA_ORDER:
        if isa in features and (isa != "fma" or "avx2" in features):
            return isa
    return None


def describe():
    """Cores, clock, the CPU features and kernels nnfast reports, and the peak GFLOP/s."""
    from .. import _core

    info = _core.build_info()
    n_cores = cores()
    clock = measure_clock_ghz()
    isa = widest_isa(info.get("cpu_features", ""))
    per_cycle = FLOPS_PER_CYCLE.get(isa)
    peak = ({dtype: n_cores * clock * flops for dtype, flops in per_cycle.items()}
            if clock and per_cycle else {})
    return {"cores": n_cores, "clock_ghz": clock, "isa": isa,
            "flops_per_cycle": per_cycle or {}, "peak_gflops": peak,
            "cpu_features": info.get("cpu_features", ""),
            "gemm_kernels": {dtype: info.get(f"gemm_kernel_{dtype}", "?")
                             for dtype in ("float32", "float64")},
            "openmp": info.get("openmp"), "machine": platform.machine(),
            "python": platform.python_version()}
