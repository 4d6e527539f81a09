"""The release path: `python -m build --sdist`, then a wheel built from that sdist alone in a
fresh virtual environment (so a file missing from the sdist fails the build), installed and
run; on Linux the wheel is then repaired by auditwheel and checked by scripts/check_wheel.sh
in a fresh environment without a compiler. This is the suite's one full compile."""
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import nnfast

ROOT = Path(__file__).resolve().parents[1]
VERSION = nnfast.__version__

# What a build needs, as globs over the source tree: the sdist must hold exactly these files.
SDIST_GLOBS = ["pyproject.toml", "CMakeLists.txt", "README.md", "docs/semantics.md",
               "src/nncore/*.c", "src/nncore/*.h", "python/nnfast/**/*.py",
               "python/nnfast/**/*.pyi", "python/nnfast/py.typed", "python/nnfast/*.pyx",
               "python/nnfast/*.pxd", "python/nnfast/data/*.csv"]
# Never in an sdist: build trees, caches, compiled or generated files, CI, tests, benchmarks.
FORBIDDEN_PARTS = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ci", "tests", "bench",
                   ".benchmarks", ".hypothesis", ".git")
FORBIDDEN_SUFFIXES = (".so", ".pyd", ".dylib", ".o", ".a", ".pyc", "_core.c")


def run(*command, cwd=ROOT, env=None):
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, (f"{' '.join(map(str, command))} failed:\n"
                                    f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout


def expected_sdist_files():
    found = set()
    for pattern in SDIST_GLOBS:
        for path in ROOT.glob(pattern):
            relative = path.relative_to(ROOT)
            if path.is_file() and "__pycache__" not in relative.parts:
                found.add(relative.as_posix())
    return found


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--sdist", "--outdir", out, ROOT)
    (path,) = out.glob("nnfast-*.tar.gz")
    return path


@pytest.fixture(scope="module")
def installed(sdist, tmp_path_factory):
    """A fresh venv holding the wheel built from the sdist; returns (venv python, wheel)."""
    work = tmp_path_factory.mktemp("fresh")
    run(sys.executable, "-m", "venv", work / "venv")
    bindir = work / "venv" / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    # pip's default build isolation: the build sees only the unpacked sdist
    run(python, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", work / "wheels", sdist,
        cwd=work, env=env)
    (wheel,) = (work / "wheels").glob("nnfast-*.whl")
    run(python, "-m", "pip", "install", wheel, cwd=work, env=env)
    return python, wheel, env


def test_sdist_holds_exactly_what_a_build_needs(sdist):
    with tarfile.open(sdist) as tar:
        members = tar.getmembers()
    prefix = f"nnfast-{VERSION}/"
    assert all(m.name.startswith(prefix) for m in members)
    names = {m.name[len(prefix):] for m in members if m.isfile()}
    expected = expected_sdist_files() | {"PKG-INFO"}
    assert names == expected, (f"missing: {sorted(expected - names)}\n"
                               f"unexpected: {sorted(names - expected)}")
    for name in names:
        parts = name.split("/")
        assert not any(p in FORBIDDEN_PARTS or p.startswith("build") for p in parts), name
        assert not name.endswith(FORBIDDEN_SUFFIXES), name
    for needed in ("CMakeLists.txt", "src/nncore/nncore.h", "src/nncore/gemm.c",
                   "python/nnfast/_core.pyx", "python/nnfast/_nncore.pxd",
                   "python/nnfast/data/iris.csv", "python/nnfast/_version.py"):
        assert needed in names, needed


def test_sdist_metadata_carries_the_single_version(sdist):
    assert sdist.name == f"nnfast-{VERSION}.tar.gz"
    with tarfile.open(sdist) as tar:
        pkg_info = tar.extractfile(f"nnfast-{VERSION}/PKG-INFO").read().decode()
    assert f"\nVersion: {VERSION}\n" in pkg_info


def test_wheel_from_the_sdist_installs_and_trains(installed):
    python, wheel, env = installed
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert any(n.startswith("nnfast/_core.") for n in names)
    for needed in ("nnfast/py.typed", "nnfast/_core.pyi", "nnfast/_build_flags.py",
                   "nnfast/data/iris.csv"):
        assert needed in names, needed
    assert not [n for n in names if n.endswith((".pyx", ".pxd", ".c"))]
    script = (
        "import nnfast\n"
        "from nnfast.data import logic_gate\n"
        "X, y = logic_gate('and')\n"
        "m = nnfast.Perceptron(2, activation='sigmoid').fit(X, y, epochs=2000, lr=1.0)\n"
        "print('predict', m.predict(X).tolist())\n"
        "print('file', nnfast.__file__)\n"
        "c = nnfast.config()\n"
        "print('version', c['nnfast']['version'])\n"
        "print('build_type', c['build']['build_type'])\n"
        "print('kernels', sorted(c['kernels']))\n"
    )
    out = run(python, "-c", script, cwd=wheel.parent, env=env)
    assert "predict [0, 0, 0, 1]" in out
    assert str(ROOT) not in out.split("file ", 1)[1].splitlines()[0]  # the venv's copy
    assert f"version {VERSION}" in out
    assert "build_type Release" in out
    assert ("kernels ['gemm_kernel_bfloat16', 'gemm_kernel_float32', 'gemm_kernel_float64', "
            "'vecmath_kernel']") in out
    version = run(python.parent / "nnfast", "--version", cwd=wheel.parent, env=env)
    assert VERSION in version


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="auditwheel repairs Linux wheels")
def test_repaired_wheel_runs_without_a_compiler(installed, tmp_path):
    _, wheel, env = installed
    run(sys.executable, "-m", "auditwheel", "repair", "--wheel-dir", tmp_path, wheel, env=env)
    (repaired,) = tmp_path.glob("nnfast-*manylinux*.whl")
    shown = run(sys.executable, "-m", "auditwheel", "show", repaired, env=env)
    assert "is consistent with" in shown and "manylinux_" in shown, shown
    with zipfile.ZipFile(repaired) as zf:
        vendored = [n for n in zf.namelist() if n.startswith("nnfast.libs/")]
    # threads come from the core's own pool on POSIX threads: no OpenMP runtime to vendor
    assert not any("gomp" in n for n in vendored), vendored
    out = run("bash", ROOT / "scripts" / "check_wheel.sh", repaired, sys.executable, env=env)
    assert "== no C compiler on PATH" in out
    assert "reference agrees" in out  # nnfast demo ran
    assert "ok: gemm_kernel_float32" in out and "ok: gemm_kernel_float64" in out
    assert "threading: pool" in out
    assert out.rstrip().endswith("== all checks passed")
