#!/usr/bin/env bash
# Check a built (auditwheel-repaired) nnfast wheel the way a user gets it: install it into a
# fresh virtual environment whose PATH has no C compiler, with binary packages only, then run
# `nnfast demo` and a fit, print the configuration report, and check that the GEMM kernels
# chosen at run time are the fast ones this CPU allows and, for an OpenMP build, that the
# OpenMP runtime is the copy vendored into the wheel, not the system's (Linux builds use the
# core's own thread pool on POSIX threads and need no runtime).
#
# usage: scripts/check_wheel.sh path/to/nnfast-*.whl [python3]
set -euo pipefail

wheel=$(realpath "${1:?usage: scripts/check_wheel.sh WHEEL [PYTHON]}")
python=${2:-python3}
work=$(mktemp -d)
rm=$(command -v rm)
trap '"$rm" -rf "$work"' EXIT

echo "== wheel: $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB)"
"$python" -m venv "$work/venv"

# From here on PATH is the venv alone: no cc, gcc, clang, cmake or ninja.
export PATH="$work/venv/bin"
unset PYTHONPATH CC CXX
for tool in cc gcc clang cmake ninja; do
  if command -v "$tool" >/dev/null; then
    echo "FAIL: $tool is on the PATH of the check environment" >&2
    exit 1
  fi
done
echo "== no C compiler on PATH ($PATH)"

cd "$work"  # away from any source tree
python -m pip install --quiet --only-binary=:all: "$wheel"
python -c "from importlib.metadata import version as v; print('== installed: nnfast', v('nnfast'), '+ numpy', v('numpy'))"

echo "== nnfast --version"
nnfast --version

echo "== nnfast demo"
nnfast demo

echo "== a fit: MLP [4, 16, 3] on Iris"
python - <<'EOF'
import nnfast
from nnfast.data import load_iris, standardize, train_test_split

X, y, _, _ = load_iris()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.3, seed=0)
X_train, X_test = standardize(X_train, X_test)
model = nnfast.MLP([4, 16, 3], activation="tanh").fit(X_train, y_train, epochs=200,
                                                      batch_size=16)
accuracy = (model.predict(X_test) == y_test).mean()
print(f"test accuracy {accuracy:.3f}, final loss {model.loss_curve_[-1]:.4f}")
assert accuracy > 0.85, accuracy
EOF

echo "== nnfast.show_config()"
python -c "import nnfast; nnfast.show_config()"

echo "== checks"
python - <<'EOF'
import platform

import nnfast

config = nnfast.config()
features = set(config["cpu"]["cpu_features"])
kernels = config["kernels"]
machine = platform.machine().lower()
if machine in ("x86_64", "amd64") and {"avx512f", "fma"} <= features:
    fast = ("avx512", "avx2")
elif machine in ("x86_64", "amd64") and {"avx2", "fma"} <= features:
    fast = ("avx2",)
elif machine in ("aarch64", "arm64"):
    fast = ("neon",)
else:
    fast = ("portable",)
# bfloat16's products: AMX's tiles or vdpbf16ps beside AVX-512's float set, where the CPU
# has them; else the float kernels on rounded operands
bf16_fast = ("amx-bf16", "avx512bf16") if fast[0] == "avx512" else ()
for name, kernel in kernels.items():
    allowed = bf16_fast + ("float kernel",) if name == "gemm_kernel_bfloat16" else fast
    assert kernel.startswith(allowed), f"{name} is {kernel!r}; this CPU allows {allowed}"
    print(f"ok: {name} = {kernel!r} (CPU features: {' '.join(sorted(features))})")
assert config["build"]["native_build"] is False, "the wheel was built with -march=native"
print("ok: portable build (no -march=native)")

if platform.system() == "Linux" and config["build"]["threading"] == "openmp":
    # libgomp is a load-time dependency of nnfast._core: see which file the loader mapped
    with open("/proc/self/maps") as maps:
        loaded = {line.split()[-1] for line in maps if "gomp" in line}
    print("OpenMP runtime in use:", *sorted(loaded))
    assert loaded and all("/nnfast.libs/" in path for path in loaded), loaded
    print("ok: the OpenMP runtime is the wheel's own copy (nnfast.libs), not the system's")
EOF
echo "== all checks passed"
