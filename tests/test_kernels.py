"""Every GEMM micro-kernel this CPU can run, selected with NNFAST_GEMM_KERNEL in a fresh
process (the choice is made once per process), against the naive loop: odd shapes on the
direct and the packed path, all transposition cases, alpha/beta (beta = 0 must not read C),
every epilogue, float32 and float64, 1 and 2 threads bit-identical.
"""
import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from nnfast import _core

# NNFAST_GEMM_KERNEL value -> the CPU flags (/proc/cpuinfo) it needs, on x86-64.
X86_KERNELS = {"portable": set(), "avx2": {"avx2", "fma"}, "avx512": {"avx512f", "fma"}}

CHECK_SCRIPT = r"""
import json
import numpy as np
import nnfast
from nnfast import _core

ACT = _core.ACTIVATION_CODES
# (m, n, k): direct loop (m n k <= 32^3), direct kernels (a few rows from a long k) and packed
# path (a few rows past the direct range's 1M multiply-adds too); edges in m, n, k; k > KC
SHAPES = [(1, 1, 1), (7, 13, 5), (67, 129, 131), (33, 5, 300), (146, 19, 259), (6, 16, 513),
          (3, 700, 600)]
EPILOGUES = [{}, {"bias": True}] + [{"bias": True, "act": a} for a in
                                      ("step", "sigmoid", "tanh", "relu")] + \
            [{"deriv": a} for a in ("sigmoid", "tanh", "relu")] + \
            [{"bias": True, "act": "tanh", "deriv": "relu"}]
rng = np.random.default_rng(5)
worst = {}
for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-13)):
    name = np.dtype(dtype).name
    worst[name] = 0.0
    for m, n, k in SHAPES:
        bound = tol * (1 + k / 256)
        bias = rng.uniform(-1, 1, n).astype(dtype)
        D = rng.uniform(-0.95, 0.95, (m, n)).astype(dtype)
        C0 = rng.uniform(-1, 1, (m, n)).astype(dtype)
        for ta in (False, True):
            for tb in (False, True):
                A = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(dtype)
                B = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(dtype)
                for alpha, beta in ((1.0, 0.0), (0.5, 0.0), (1.5, -0.75)):
                    # every epilogue with alpha 1, beta 0 (the forward pass); two with the rest
                    forward = alpha == 1 and beta == 0
                    for ep in EPILOGUES if forward else EPILOGUES[:1] + EPILOGUES[-1:]:
                        kw = dict(alpha=alpha, beta=beta,
                                  bias=bias if ep.get("bias") else None,
                                  act=ACT[ep.get("act", "identity")],
                                  deriv_of=D if "deriv" in ep else None,
                                  deriv_act=ACT[ep.get("deriv", "identity")])
                        start = np.full((m, n), np.nan, dtype) if beta == 0 else C0
                        got, want = start.copy(), start.copy()
                        _core.gemm(got, A, B, ta, tb, **kw)
                        _core.gemm(want, A, B, ta, tb, naive=True, **kw)
                        d = np.abs(got.astype(np.float64) - want) / (1 + np.abs(want))
                        d = float(np.max(np.where(np.isnan(d), np.inf, d)))
                        worst[name] = max(worst[name], d)
                        assert d <= bound, (name, m, n, k, ta, tb, alpha, beta, ep, d, bound)
    # 1 and 2 threads: bit-identical on the packed path, with a fused epilogue
    m, n, k = 300, 257, 511
    for ta in (False, True):
        for tb in (False, True):
            A = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(dtype)
            B = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(dtype)
            D = rng.uniform(-0.9, 0.9, (m, n)).astype(dtype)
            bias = rng.uniform(-1, 1, n).astype(dtype)
            out = []
            for threads in (1, 2):
                nnfast.set_num_threads(threads)
                C = np.empty((m, n), dtype)
                _core.gemm(C, A, B, ta, tb, bias=bias, act=ACT["tanh"], deriv_of=D,
                           deriv_act=ACT["tanh"])
                out.append(C)
            assert np.array_equal(out[0], out[1]), (name, "threads", ta, tb)
info = _core.build_info()
print(json.dumps({"float32": info["gemm_kernel_float32"], "float64": info["gemm_kernel_float64"],
                  "worst": worst}))
"""


def cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo, or None where there is no such file."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return set()


def run_checks(kernel):
    """The check script in a fresh process with NNFAST_GEMM_KERNEL=kernel: its report."""
    env = dict(os.environ, NNFAST_GEMM_KERNEL=kernel)
    result = subprocess.run([sys.executable, "-c", CHECK_SCRIPT], capture_output=True,
                            text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def default_labels():
    info = _core.build_info()
    return info["gemm_kernel_float32"], info["gemm_kernel_float64"]


@pytest.mark.parametrize("kernel", ["portable", "avx2", "avx512"])
def test_each_kernel_matches_the_naive_loop(kernel):
    report = run_checks(kernel)
    labels = report["float32"], report["float64"]
    flags = cpu_flags()
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    runnable = kernel == "portable" or (x86 and flags is not None and
                                        X86_KERNELS[kernel] <= flags)
    if runnable:
        # this CPU runs the kernel: it must be the one chosen (and it passed the checks)
        assert all(label.startswith(kernel) for label in labels), (kernel, labels)
    else:
        # not runnable here: the override falls back to the default choice
        assert labels == default_labels() or not (x86 and flags is not None), labels
    assert report["worst"]["float32"] <= 1e-5 * 3 and report["worst"]["float64"] <= 1e-13 * 3


def test_default_kernel_is_the_best_the_cpu_runs():
    f32, f64 = default_labels()
    flags = cpu_flags()
    if platform.machine().lower() in ("x86_64", "amd64") and flags is not None:
        if "avx512f" in flags:
            assert f32.startswith("avx512") and f64.startswith("avx512")
        elif {"avx2", "fma"} <= flags:
            assert f32.startswith("avx2") and f64.startswith("avx2")
        else:
            assert f32.startswith("portable") and f64.startswith("portable")
    else:
        assert f32 and f64


def test_unknown_kernel_name_falls_back_to_the_default():
    env = dict(os.environ, NNFAST_GEMM_KERNEL="no-such-kernel")
    code = ("import json; from nnfast import _core; i = _core.build_info(); "
            "print(json.dumps([i['gemm_kernel_float32'], i['gemm_kernel_float64']]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert tuple(json.loads(result.stdout)) == default_labels()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_agree_with_each_other(dtype):
    """portable and the default kernel on a training-sized product: same values to rounding."""
    code = ("import sys, numpy as np; from nnfast import _core; "
            "rng = np.random.default_rng(2); dt = np.dtype(sys.argv[1]); "
            "A = rng.normal(size=(64, 784)).astype(dt); "
            "B = rng.normal(size=(784, 256)).astype(dt); "
            "C = np.empty((64, 256), dt); _core.gemm(C, A, B); sys.stdout.write(C.tobytes().hex())")
    out = {}
    for kernel in ("portable", "default"):
        env = dict(os.environ, NNFAST_GEMM_KERNEL=kernel)
        result = subprocess.run([sys.executable, "-c", code, np.dtype(dtype).name],
                                capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        out[kernel] = np.frombuffer(bytes.fromhex(result.stdout), dtype=dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out["portable"], out["default"], rtol=tol, atol=tol * 30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_binding_names_a_wrong_type_or_shape(dtype):
    """_core.gemm takes its path from C's item size: an operand of the other float type, a
    C that is not 2-D, shapes that do not chain, an empty product, a read-only C, an operand
    not C-contiguous or not aligned raise ValueError naming the array and the problem (an
    object without buffer a TypeError), and nothing is written to C."""
    other = np.float64 if dtype == np.float32 else np.float32
    A, B = np.ones((3, 4), dtype), np.ones((4, 5), dtype)
    C = np.full((3, 5), 7, dtype)
    with pytest.raises(ValueError, match="dtype mismatch"):
        _core.gemm(C, A.astype(other), B)
    with pytest.raises(ValueError, match="dtype mismatch"):
        _core.gemm(C, A, B, bias=np.ones(5, other))
    with pytest.raises(ValueError, match="dimensions"):
        _core.gemm(np.ones(15, dtype), A, B)
    with pytest.raises(ValueError, match="op\\(A\\) columns must match op\\(B\\) rows"):
        _core.gemm(C, A, B.T.copy())
    with pytest.raises(ValueError, match="bias must have one value per column"):
        _core.gemm(C, A, B, bias=np.ones(4, dtype))
    with pytest.raises(ValueError, match="deriv_of must be shaped as C"):
        _core.gemm(C, A, B, deriv_of=np.ones((5, 3), dtype))
    with pytest.raises(ValueError, match="A: not C-contiguous"):
        _core.gemm(C, np.ones((4, 3), dtype).T, B)
    unaligned = np.zeros(4 * 5 * 8 + 1, np.uint8)[1:1 + 4 * 5 * A.itemsize]
    with pytest.raises(ValueError, match="B: not aligned"):
        _core.gemm(C, A, unaligned.view(dtype).reshape(4, 5))
    with pytest.raises(ValueError, match="C: dtype mismatch"):
        _core.gemm(C.astype(np.int64), A, B)
    with pytest.raises(TypeError, match="A: "):
        _core.gemm(C, A.tolist(), B)
    with pytest.raises(ValueError, match="B: dtype mismatch.*format 'B'"):
        _core.gemm(C, A, memoryview(bytearray(80)))
    with pytest.raises(ValueError, match="sizes must be >= 1"):
        _core.gemm(C, np.ones((3, 0), dtype), np.ones((0, 5), dtype))
    read_only = C.copy()
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="C: .*read-only"):
        _core.gemm(read_only, A, B)
    assert (C == 7).all() and (read_only == 7).all()
    _core.gemm(C, A, B, trans_a=False, trans_b=False)
    assert C.dtype == dtype and (C == 4).all()
