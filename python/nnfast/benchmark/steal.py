"""The CPU time the host took from this machine while a timing ran: a virtual machine's steal
time (Linux /proc/stat, the 8th number of the `cpu` line).

A VM's cores are the host's threads: when the host runs another guest on them, our threads
stop and the wall clock goes on, and nothing inside the guest shows it except this count. On
the 2-core Xeon KVM guest the benchmark records were taken on, W3's 2-thread fit ran 0.70 s
with no steal and 0.86-1.32 s while the host took 12-32 % of the CPUs, the load average low
throughout. So the report gives, next to each time, the share of the machine's CPU time the
host took during it, and a note wherever that share passes NOISY_SHARE: such a figure is not a
quiet measurement.
"""
import os
import time

STAT_PATH = "/proc/stat"
NOISY_SHARE = 0.03  # above 3 % of the CPUs' time, a timing is not quiet
# The count moves in ticks of one CPU (10 ms at Linux's 100 per second): a run is given a share
# only when one tick is at most 1 % of its CPU time (2 CPUs: runs of 0.5 s or more).
MIN_TICKS = 100


def ticks_per_second():
    return os.sysconf("SC_CLK_TCK")


def steal_seconds(path=STAT_PATH):
    """Seconds of CPU time the host took from all CPUs since boot, or None where the system
    does not report it (not Linux, or a kernel without the field)."""
    try:
        with open(path, encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    try:
        ticks = int(fields[8])
    except ValueError:
        return None
    return ticks / ticks_per_second()


class StealMeter:
    """Start it, run something, stop it: `share` is the host's steal over the run divided by
    the run's wall time and the machine's CPUs (0.0 to 1.0); None where it is not known, or
    where the run was too short for the count's ticks to measure it (MIN_TICKS)."""

    def __init__(self, path=STAT_PATH, cpus=None):
        self.path = path
        self.cpus = cpus or os.cpu_count() or 1
        self.share = None

    def __enter__(self):
        self._steal = steal_seconds(self.path)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self._start
        after = steal_seconds(self.path)
        if (self._steal is not None and after is not None
                and wall * self.cpus * ticks_per_second() >= MIN_TICKS):
            self.share = max(0.0, after - self._steal) / (wall * self.cpus)
        return False


def percent(share):
    """A share as the report prints it: '3%', or '-' when not known."""
    return "-" if share is None else f"{100 * share:.0f}%"


def noisy(share):
    return share is not None and share > NOISY_SHARE
