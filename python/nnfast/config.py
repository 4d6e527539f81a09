"""What this nnfast was built with and what it chose on this machine, like numpy.show_config().

The kernels are chosen when the core loads, from the instruction sets the CPU reports, so the
same wheel runs portable C on an old CPU and the vector kernels on a new one: this report is
how to see which ran.
"""
from __future__ import annotations

import importlib
import os
import platform
import sys
from typing import Any, Dict

import numpy as np

from . import _core
from ._version import __version__

# The keys of _core.build_info() that describe the build; every "*kernel*" key is a kernel
# choice, and any other key is reported under "core" so that nothing the core says is lost.
BUILD_KEYS = ("compiler", "threading", "native_build")
CPU_KEYS = ("cpu_features",)
THREAD_KEYS = ("num_threads",)


def _recorded_build_flags() -> Dict[str, Any]:
    """The flags CMake wrote into nnfast/_build_flags.py when the wheel was built."""
    try:
        module = importlib.import_module("nnfast._build_flags")
    except ImportError:
        return {"build_flags": "not recorded (a development build, not installed by pip)"}
    return dict(module.BUILD_FLAGS)


def config() -> Dict[str, Dict[str, Any]]:
    """The build and run-time configuration of nnfast, as nested dictionaries.

    Returns
    -------
    dict of str to dict
        Sections ``nnfast`` (version), ``build`` (compiler, OpenMP, ``-march=native`` or not,
        and the CMake build type and flags when recorded), ``kernels`` (the GEMM kernel chosen
        at run time for each dtype), ``cpu`` (architecture and the instruction sets the core
        detected), ``threads`` (the thread count the kernels use and where it came from),
        ``python`` and ``numpy``.
    """
    info = dict(_core.build_info())
    build = {key: info.pop(key) for key in BUILD_KEYS if key in info}
    build.update(_recorded_build_flags())
    kernels = {key: info.pop(key) for key in sorted(info) if "kernel" in key}
    cpu: Dict[str, Any] = {"machine": platform.machine()}
    for key in CPU_KEYS:
        if key in info:
            cpu[key] = info.pop(key).split()
    threads: Dict[str, Any] = {key: info.pop(key) for key in THREAD_KEYS if key in info}
    threads["NNFAST_NUM_THREADS"] = os.environ.get("NNFAST_NUM_THREADS")
    threads["os_cpu_count"] = os.cpu_count()
    sections: Dict[str, Dict[str, Any]] = {
        "nnfast": {"version": __version__},
        "build": build,
        "kernels": kernels,
        "cpu": cpu,
        "threads": threads,
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation(),
                   "platform": sys.platform},
        "numpy": {"version": np.__version__},
    }
    if info:
        sections["core"] = info
    return sections


def _format_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value) or "(none)"
    if value is None:
        return "(not set)"
    return str(value)


def format_config(sections: Dict[str, Dict[str, Any]]) -> str:
    """The configuration as indented ``section:`` / ``key: value`` lines."""
    lines = []
    for name, section in sections.items():
        lines.append(f"{name}:")
        lines.extend(f"  {key}: {_format_value(value)}" for key, value in section.items())
    return "\n".join(lines)


def show_config() -> None:
    """Print the build and run-time configuration (see :func:`config`), one
    ``key: value`` line per item under each section's name."""
    print(format_config(config()))
