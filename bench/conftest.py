"""Shared fixtures of the pytest-benchmark suites (run with `pytest bench/ --benchmark-only`)."""
import pytest

import nnfast
from nnfast.benchmark import machine

# 1 thread and every core: the suites time both.
THREADS = sorted({1, machine.cores()})


@pytest.fixture(params=THREADS, ids=lambda t: f"{t}thr")
def threads(request):
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(request.param)
    yield request.param
    nnfast.set_num_threads(previous)
