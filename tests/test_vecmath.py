"""The vector-math sets (NNFAST_VECMATH=portable|avx2|avx512) and their independence from the GEMM
kernel (NNFAST_GEMM_KERNEL), each choice in a fresh process (both are made once per process).

- The forward of small and larger nets under every set this CPU runs agrees with the portable
  (libm) set within the contract's tolerances (docs/semantics.md: float64 1e-12 relative for a
  forward, float32 within float32 accuracy); avx2 and avx512 run the same algorithms lane by lane
  and give the same bits.
- The GEMM kernel no longer changes how an activation is computed: activation_forward gives the
  same bits under every kernel, and a product's fused epilogue (bias + activation as each tile is
  written) gives the bits of the activation applied afterwards. Whole forwards are bit-identical
  across kernels where the products take GEMM's direct loop (small nets); on the packed path the
  kernels' products round differently (FMA or not, tile order), so there they agree within the
  float64 tolerance, not bit for bit.
The ulp bounds of each function are measured in C: tests/c/test_vecmath.c (tests/test_c_core.py).
"""
import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from nnfast import _core

X86_SETS = {"portable": set(), "avx2": {"avx2", "fma"}, "avx512": {"avx512f", "fma"}}

SCRIPT = r"""
import json
import numpy as np
from nnfast import _core

ACT, LOSS = _core.ACTIVATION_CODES, _core.LOSS_CODES
NETS = {  # name: (sizes, hidden, output, loss, rows)
    "iris": ([4, 16, 3], "tanh", "softmax", "cross_entropy", 50),
    "sigmoid": ([3, 8, 1], "sigmoid", "sigmoid", "binary_cross_entropy", 33),
    "packed": ([5, 300, 40, 3], "tanh", "softmax", "cross_entropy", 300),
}
out = {"info": _core.build_info(), "forward": {}, "act": {}, "epilogue_equal": True}
rng = np.random.default_rng(0)
for dtype in ("float64", "float32"):
    for name, (sizes, hidden, output, loss, rows) in NETS.items():
        net = _core.Net(sizes, ACT[hidden], ACT[output], LOSS[loss])
        params = np.empty(net.n_params, dtype)
        _core.init_params(params, net, 0, 3)
        X = np.random.default_rng(1).normal(size=(rows, sizes[0])).astype(dtype)
        A = np.empty((rows, sizes[-1]), dtype)
        _core.forward(A, params, net, X)
        out["forward"][f"{name} {dtype}"] = A.tobytes().hex()
    Z = np.linspace(-30, 30, 6007).reshape(1, -1).astype(dtype)
    for act in ("sigmoid", "tanh", "softmax"):
        A = np.empty_like(Z)
        _core.activation_forward(A, Z, ACT[act])
        out["act"][f"{act} {dtype}"] = A.tobytes().hex()
    # the fused epilogue gives the bits of the activation applied after the product
    for m, n, k in ((7, 13, 5), (67, 129, 131)):
        A = rng.uniform(-2, 2, (m, k)).astype(dtype)
        B = rng.uniform(-2, 2, (k, n)).astype(dtype)
        bias = rng.uniform(-1, 1, n).astype(dtype)
        for act in ("sigmoid", "tanh"):
            fused, plain = np.empty((m, n), dtype), np.empty((m, n), dtype)
            _core.gemm(fused, A, B, bias=bias, act=ACT[act])
            _core.gemm(plain, A, B, bias=bias)
            after = np.empty_like(plain)
            _core.activation_forward(after, plain, ACT[act])
            out["epilogue_equal"] &= bool(np.array_equal(fused, after))
print(json.dumps(out))
"""


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return set()


def runs(name):
    """Does this CPU run the set (or GEMM kernel) called name? (x86-64 /proc/cpuinfo)"""
    if name == "portable":
        return True
    flags = cpu_flags()
    return (platform.machine().lower() in ("x86_64", "amd64") and flags is not None
            and X86_SETS[name] <= flags)


def report(**env):
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            env=dict(os.environ, **env), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def arrays(hexes, key):
    dtype = np.float32 if key.endswith("float32") else np.float64
    return np.frombuffer(bytes.fromhex(hexes[key]), dtype=dtype)


def assert_close(what, got, want, rtol, atol):
    diff = np.abs(got.astype(np.float64) - want)
    assert np.all(diff <= atol + rtol * np.abs(want)), \
        f"{what}: largest difference {diff.max():.3g}"


@pytest.fixture(scope="module")
def reports():
    """The script's report under each vector-math set this CPU runs (default GEMM kernel)."""
    return {name: report(NNFAST_VECMATH=name) for name in X86_SETS if runs(name)}


def test_each_set_is_chosen_when_asked(reports):
    for name, rep in reports.items():
        assert rep["info"]["vecmath_kernel"] == name


def test_sets_agree_within_the_contract(reports):
    base = reports["portable"]
    for name, rep in reports.items():
        for key in rep["forward"]:
            rtol, atol = (1e-12, 1e-15) if key.endswith("float64") else (1e-5, 1e-7)
            assert_close(f"{name} forward {key}", arrays(rep["forward"], key),
                         arrays(base["forward"], key), rtol, atol)
        for key in rep["act"]:
            # activations alone: within a few ulp of libm
            rtol, atol = (4e-16 * 4, 1e-300) if key.endswith("float64") else (3e-7 * 4, 1e-38)
            assert_close(f"{name} {key}", arrays(rep["act"], key), arrays(base["act"], key),
                         rtol, atol)


def test_avx2_and_avx512_give_the_same_bits(reports):
    if not ("avx2" in reports and "avx512" in reports):
        pytest.skip("needs a CPU that runs avx2 and avx512")
    assert reports["avx2"]["forward"] == reports["avx512"]["forward"]
    assert reports["avx2"]["act"] == reports["avx512"]["act"]


def test_unknown_set_falls_back_to_the_default(reports):
    default = _core.build_info()["vecmath_kernel"]
    assert report(NNFAST_VECMATH="no-such-set")["info"]["vecmath_kernel"] == default


def test_gemm_kernel_does_not_change_activations():
    kernels = {k: report(NNFAST_GEMM_KERNEL=k) for k in X86_SETS if runs(k)}
    first = next(iter(kernels.values()))
    for name, rep in kernels.items():
        assert rep["info"]["vecmath_kernel"] == first["info"]["vecmath_kernel"]
        assert rep["act"] == first["act"], f"activations differ under GEMM kernel {name}"
        assert rep["epilogue_equal"], f"fused epilogue differs from the activation ({name})"
        for key in rep["forward"]:
            if key.startswith("packed"):  # packed products round per kernel
                rtol, atol = (1e-12, 1e-15) if key.endswith("float64") else (1e-5, 1e-7)
                assert_close(f"{name} {key}", arrays(rep["forward"], key),
                             arrays(first["forward"], key), rtol, atol)
            else:  # direct-loop products: the same bits whatever the kernel
                assert rep["forward"][key] == first["forward"][key], (name, key)
