"""Helpers for the tests: comparisons tensor by tensor, by name, with a stated tolerance;
data; a test file's tests run again with a kernel set forced, in a fresh process."""
import os
import subprocess
import sys

import numpy as np
import pytest


def assert_close(name, actual, expected, rtol, atol=0.0):
    """Assert |actual - expected| <= atol + rtol * |expected| elementwise; on failure, name the
    tensor and print the largest difference and where it is."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    diff = np.abs(actual - expected)
    bound = atol + rtol * np.abs(expected)
    if not np.all(diff <= bound):
        worst = np.unravel_index(np.argmax(diff - bound), diff.shape)
        raise AssertionError(
            f"{name}: largest difference {diff[worst]:.3e} at {tuple(int(i) for i in worst)} "
            f"(actual {actual[worst]!r}, expected {expected[worst]!r}; rtol {rtol}, atol {atol})")


def assert_params_close(native, ref, rtol, atol=0.0, what=""):
    """Compare every W[l] and b[l] of a native model with a reference model."""
    for l, (W, W_ref) in enumerate(zip(native.weights, ref.weights)):
        assert_close(f"{what}W[{l}]", W, W_ref, rtol, atol)
    for l, (b, b_ref) in enumerate(zip(native.biases, ref.biases)):
        assert_close(f"{what}b[{l}]", b, b_ref, rtol, atol)


def classification_data(n=23, n_features=3, n_classes=3, seed=0):
    """Fixed random features and class indices."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    y = rng.integers(0, n_classes, size=n)
    return X, y


def targets_for(loss, n_outputs, n=23, seed=1):
    """Fixed random targets of the kind each loss takes, shape (n,) or (n, K)."""
    rng = np.random.default_rng(seed)
    if loss == "cross_entropy":
        return rng.integers(0, n_outputs, size=n)
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n, n_outputs)).astype(float)
    return rng.normal(size=(n, n_outputs))


def pytest_with_kernel(isa, test_file, selection, **env):
    """Run test_file's tests selected by `-k selection` in a fresh process with the GEMM
    kernel set isa forced (NNFAST_GEMM_KERNEL, and env's other variables), and assert they
    ran and passed; skip where this CPU does not run isa. Returns the environment."""
    from test_vecmath import runs
    if not runs(isa):
        pytest.skip(f"this CPU does not run {isa}")
    env = dict(os.environ, NNFAST_GEMM_KERNEL=isa, **env)
    result = subprocess.run([sys.executable, "-m", "pytest", test_file, "-q", "-p",
                             "no:cacheprovider", "-k", selection],
                            capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout
    return env


# the bfloat16 sets beside the AVX-512 float set: the CPU flags each needs (/proc/cpuinfo),
# and the start of the label nnfast reports when it runs
BF16_SETS = {"avx512bf16": ({"avx512f", "avx512bw", "avx512_bf16"}, "avx512bf16"),
             "amx": ({"avx512f", "avx512bw", "avx512_bf16", "amx_tile", "amx_bf16"}, "amx-bf16")}


def pytest_with_bf16_kernel(name, test_file, selection):
    """pytest_with_kernel("avx512", ...) with the bfloat16 set `name` forced
    (NNFAST_BF16_KERNEL); skip where this CPU (or, for AMX, the OS) does not run it."""
    from test_vecmath import cpu_flags, runs
    flags, label = BF16_SETS[name]
    if not runs("avx512") or not flags <= (cpu_flags() or set()):
        pytest.skip(f"this CPU does not run the bfloat16 set {name}")
    env = dict(os.environ, NNFAST_GEMM_KERNEL="avx512", NNFAST_BF16_KERNEL=name)
    chosen = subprocess.run(
        [sys.executable, "-c",
         "from nnfast import _core; print(_core.build_info()['gemm_kernel_bfloat16'])"],
        capture_output=True, text=True, env=env, timeout=300)
    assert chosen.returncode == 0, chosen.stderr
    if not chosen.stdout.strip().startswith(label):  # AMX: the OS refused the tile state
        pytest.skip(f"{name}: the OS does not grant it here ({chosen.stdout.strip()})")
    return pytest_with_kernel("avx512", test_file, selection, NNFAST_BF16_KERNEL=name)
