"""The cache sizes the GEMM blocking follows (dispatch.c, nn_cache_size) are the ones one core
sees: the CPU's own report (cpuid leaves 4 / 0x8000001d), which Linux also publishes under
/sys/devices/system/cpu/cpu0/cache. glibc's sysconf, read first before, gave 384 MiB of L3 on a
2-core AMD EPYC (Zen 5) VM whose core complex has 32 MiB."""
import pathlib
import platform

import pytest

from nnfast import _core

SYSFS = pathlib.Path("/sys/devices/system/cpu/cpu0/cache")
X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")
NAMES = {1: "l1d", 2: "l2", 3: "l3"}


def _sysfs_caches():
    """{level: bytes} of the data and unified caches sysfs lists for cpu0."""
    sizes = {}
    for index in sorted(SYSFS.glob("index*")):
        kind = (index / "type").read_text().strip()
        if kind not in ("Data", "Unified"):
            continue
        level = int((index / "level").read_text())
        size = (index / "size").read_text().strip()
        units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
        sizes[level] = int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)
    return sizes


def test_the_levels_reported_grow():
    """Every level reported (0: unknown, the blocking then takes a small core's sizes) is
    larger than the one before it; on x86 cpuid always reports L1d and L2."""
    sizes = _core.cache_sizes()
    if X86:
        assert sizes["l1d"] > 0 and sizes["l2"] > 0
    known = [sizes[name] for name in ("l1d", "l2", "l3") if sizes[name] > 0]
    assert known == sorted(set(known))


@pytest.mark.skipif(not (X86 and SYSFS.is_dir()),
                    reason="cpuid and /sys's cache topology: x86 Linux only")
def test_the_sizes_are_the_ones_linux_reports_for_one_core():
    sysfs = _sysfs_caches()
    assert sysfs, "sysfs lists no data or unified cache"
    sizes = _core.cache_sizes()
    for level, size in sysfs.items():
        if level in NAMES:
            assert sizes[NAMES[level]] == size, (level, sizes, sysfs)
