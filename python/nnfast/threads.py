"""The native core's thread count."""
import numbers
from typing import Optional

from . import _core


def set_num_threads(n: Optional[int] = None) -> None:
    """Use n threads in the native kernels; None restores the default (the NNFAST_NUM_THREADS
    environment variable, else OMP_NUM_THREADS, else the cores this process may use). Results
    do not depend on n."""
    if n is None:
        _core.set_num_threads(0)
        return
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= n <= 1024:
        raise ValueError(f"the thread count must be an integer in [1, 1024], got {n!r}")
    _core.set_num_threads(int(n))


def get_num_threads() -> int:
    """The number of threads the native kernels use."""
    return _core.get_num_threads()
