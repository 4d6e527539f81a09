"""Build and run the C test programs against the C core alone.

tests/c/test_nncore.c checks each kernel against its *_naive twin, the gradients by central
differences, the thread-count independence and the error codes, with no Python in between;
tests/c/test_vecmath.c measures every vector-math set this CPU runs against a long-double oracle;
tests/c/test_gemm.c checks each kernel set's packing, odd shapes and thread-count independence;
tests/c/test_gemm_direct.c checks each instruction set's direct mid-size products against gemm_naive
and their thread-count independence;
tests/c/test_sparse.c checks the CSR kernels against the dense ones, and their error codes;
tests/c/test_pool.c checks the thread pool's loops (every part once), its wake-ahead and the runs
its threads claim;
tests/c/test_gemm_bf16.c checks the bfloat16 products against the sums of the rounded operands,
their thread-count independence, and the pairs' packing against its scalar loop.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def cmake():
    """cmake from the test extra (pip) or the system."""
    found = shutil.which("cmake") or shutil.which("cmake", path=os.path.dirname(sys.executable))
    if found is None:
        pytest.fail("cmake is needed to build the C tests: pip install '.[test]'")
    return found


@pytest.fixture(scope="module")
def c_build(tmp_path_factory):
    build = tmp_path_factory.mktemp("build-c")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run([cmake(), "-S", str(ROOT), "-B", str(build), *generator,
                    "-DNNFAST_PYTHON=OFF", "-DNNFAST_C_TESTS=ON", "-DCMAKE_BUILD_TYPE=Release"],
                   check=True, capture_output=True, text=True)
    result = subprocess.run([cmake(), "--build", str(build)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning:" not in result.stdout + result.stderr, result.stdout + result.stderr
    return build


@pytest.fixture(scope="module")
def test_program(c_build):
    return c_build / "test_nncore"


@pytest.mark.parametrize("threads, huge_pages", [("1", None), ("2", None), ("2", "0")])
def test_c_core_program_passes(test_program, threads, huge_pages):
    env = dict(os.environ, NNFAST_NUM_THREADS=threads)
    env.pop("NNFAST_HUGE_PAGES", None)
    if huge_pages is not None:  # the program checks its large buffers' mappings either way
        env["NNFAST_HUGE_PAGES"] = huge_pages
    result = subprocess.run([str(test_program)], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_vector_math_within_its_ulp_bounds(c_build):
    result = subprocess.run([str(c_build / "test_vecmath")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all vecmath checks passed" in result.stdout


def test_gemm_packing_shapes_and_threads(c_build):
    result = subprocess.run([str(c_build / "test_gemm")], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all gemm checks passed" in result.stdout


def test_direct_products_shapes_and_threads(c_build):
    """tests/c/test_gemm_direct.c: every ISA's direct kernel against gemm_naive, 1/2/3 threads."""
    result = subprocess.run([str(c_build / "test_gemm_direct")], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all direct product checks passed" in result.stdout


def test_bf16_products_shapes_and_threads(c_build):
    """tests/c/test_gemm_bf16.c: nn_gemm_bf16_f32 on every kernel set this CPU runs."""
    result = subprocess.run([str(c_build / "test_gemm_bf16")], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bf16 gemm checks passed" in result.stdout


@pytest.mark.parametrize("threads", ["1", "2"])
def test_sparse_kernels_program_passes(c_build, threads):
    """tests/c/test_sparse.c: the CSR kernels against the dense ones, the error codes."""
    env = dict(os.environ, NNFAST_NUM_THREADS=threads)
    result = subprocess.run([str(c_build / "test_sparse")], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sparse checks passed" in result.stdout


def test_thread_pool_program_passes(c_build):
    """tests/c/test_pool.c: every part of a loop once, the wake-ahead, the claimed runs."""
    result = subprocess.run([str(c_build / "test_pool")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all pool checks passed" in result.stdout
