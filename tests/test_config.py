"""nnfast.config() and nnfast.show_config(): what the build is and what it chose here."""
import importlib

import numpy as np

import nnfast
from nnfast import _core

config_module = importlib.import_module("nnfast.config")


def test_config_reports_version_build_kernels_cpu_threads():
    report = nnfast.config()
    assert list(report)[:7] == ["nnfast", "build", "kernels", "cpu", "threads", "python",
                                "numpy"]
    assert report["nnfast"]["version"] == nnfast.__version__
    assert report["numpy"]["version"] == np.__version__
    info = _core.build_info()
    assert report["build"]["threading"] == info["threading"] == _core.threading()
    assert _core.threading() in ("pool", "openmp", "serial")
    assert report["build"]["native_build"] is info["native_build"]
    assert report["kernels"] == {k: v for k, v in info.items() if "kernel" in k}
    assert set(report["kernels"]) >= {"gemm_kernel_float32", "gemm_kernel_float64"}
    assert report["cpu"]["cpu_features"] == info["cpu_features"].split()
    assert report["threads"]["num_threads"] == nnfast.get_num_threads()


def test_config_follows_the_thread_count():
    try:
        nnfast.set_num_threads(1)
        assert nnfast.config()["threads"]["num_threads"] == 1
        nnfast.set_num_threads(3)
        assert nnfast.config()["threads"]["num_threads"] == 3
    finally:
        nnfast.set_num_threads(None)


def test_config_keeps_what_the_core_adds(monkeypatch):
    # A field the core reports that config() does not know goes under "core", not away.
    extended = dict(_core.build_info(), gemm_kernel_int8="none", l2_cache_bytes=1 << 20)
    monkeypatch.setattr(config_module._core, "build_info", lambda: extended)
    report = nnfast.config()
    assert report["kernels"]["gemm_kernel_int8"] == "none"
    assert report["core"] == {"l2_cache_bytes": 1 << 20}


def test_show_config_prints_every_section(capsys):
    nnfast.show_config()
    out = capsys.readouterr().out
    for section, values in nnfast.config().items():
        assert f"{section}:\n" in out
        for key in values:
            assert f"\n  {key}: " in out
    kernel = nnfast.config()["kernels"]["gemm_kernel_float32"]
    assert f"  gemm_kernel_float32: {kernel}\n" in out


def test_extension_exports_its_module_init_alone():
    """The C core's functions are hidden in the extension (CMakeLists.txt): the loader finds
    PyInit__core, and no nn_* name that another library's could clash with."""
    import ctypes
    library = ctypes.CDLL(_core.__file__)
    assert hasattr(library, "PyInit__core")
    for name in ("nn_gemm_f32", "nn_train_epoch_f32", "nni_parallel_for", "nni_block_alloc"):
        assert not hasattr(library, name), f"{name} is exported"
