"""Typing: mypy runs clean on python/nnfast, the compiled module's stubs match it, and every
public function and model method is annotated (configuration: [tool.mypy] in pyproject.toml).
"""
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import nnfast
from nnfast import data, features, ops, threads

ROOT = Path(__file__).resolve().parents[1]

# Cython adds these to every module; they are not part of the binding's interface.
CYTHON_INTERNALS = [r"nnfast\._core\.__reduce_cython__", r"nnfast\._core\.__setstate_cython__",
                    r"nnfast\._core\.__test__"]


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True)


def test_mypy_is_clean_on_the_package():
    result = run("-m", "mypy", "--config-file", "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_mypy_reports_a_type_error(tmp_path):
    # The check can fail: a wrong argument type against the stubs is an error.
    bad = tmp_path / "uses_nnfast.py"
    bad.write_text("import nnfast\nnnfast.set_num_threads('four')\n"
                   "from nnfast import _core\n_core.get_num_threads(1)\n")
    result = run("-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), str(bad))
    assert result.returncode == 1, result.stdout
    assert 'incompatible type "str"; expected "int | None"' in result.stdout
    assert "Too many arguments" in result.stdout


def test_core_stubs_match_the_compiled_module(tmp_path):
    allow = tmp_path / "allowlist.txt"
    allow.write_text("\n".join(CYTHON_INTERNALS) + "\n")
    empty_config = tmp_path / "mypy.ini"
    empty_config.write_text("[mypy]\n")
    result = run("-m", "mypy.stubtest", "nnfast._core", "--allowlist", str(allow),
                 "--mypy-config-file", str(empty_config))
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_is_marked_typed():
    assert (Path(nnfast.__file__).parent / "py.typed").is_file()
    assert (Path(nnfast.__file__).parent / "_core.pyi").is_file()


def public_callables():
    """(name, function) for the public functions and model methods users call."""
    modules = {"nnfast": nnfast, "nnfast.ops": ops, "nnfast.data": data,
               "nnfast.features": features, "nnfast.threads": threads,
               # nnfast.config is also the name of the function config() in nnfast
               "nnfast.config": importlib.import_module("nnfast.config")}
    found = {}
    for prefix, module in modules.items():
        names = getattr(module, "__all__", None) or [n for n in vars(module)
                                                      if not n.startswith("_")]
        for name in names:
            obj = getattr(module, name)
            # a module's own functions; nnfast itself re-exports those of its submodules
            if not inspect.isfunction(obj) or not obj.__module__.startswith("nnfast"):
                continue
            if module is nnfast or obj.__module__ == prefix:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    for cls in (nnfast.MLP, nnfast.Perceptron, nnfast.Neuron):
        for name, member in vars(cls).items():
            if name.startswith("_") and name not in ("__init__", "__repr__"):
                continue
            function = member.fget if isinstance(member, property) else member
            if inspect.isfunction(function):
                found[f"{cls.__name__}.{name}"] = function
    return sorted(found.items())


@pytest.mark.parametrize("name, function", public_callables(), ids=lambda v: str(v))
def test_public_function_is_annotated(name, function):
    signature = inspect.signature(function)
    missing = [p.name for p in signature.parameters.values()
               if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty]
    assert not missing, f"{name}: parameters without a type: {missing}"
    assert signature.return_annotation is not inspect.Signature.empty, f"{name}: no return type"


def test_public_callables_were_found():
    names = dict(public_callables())
    for expected in ("MLP.fit", "Perceptron.fit", "Neuron.forward", "nnfast.ops.matmul",
                     "nnfast.config.show_config", "nnfast.data.load_iris"):
        assert expected in names, sorted(names)
