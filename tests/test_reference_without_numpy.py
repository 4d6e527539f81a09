"""nnfast.reference needs only the standard library: it runs where NumPy cannot be imported,
and importing it (or nnfast itself) loads neither NumPy nor the native core (nnfast._core).

Each check runs in a fresh interpreter, since this process has NumPy loaded already.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The folder holding the nnfast this test session imports: the installed package (CI, a user)
# or the source tree with its built extension (development, PYTHONPATH=python).
PYTHON_DIR = Path(importlib.util.find_spec("nnfast").origin).resolve().parents[1]

# Put in front of sys.meta_path: any import of numpy fails as it does where NumPy is absent.
BLOCK_NUMPY = r"""
import sys

class NumPyIsAbsent:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy" or name.startswith("numpy."):
            raise ImportError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, NumPyIsAbsent())
"""

AND_GATE = r"""
import json
import nnfast.reference as ref

X, y = [[0, 0], [0, 1], [1, 0], [1, 1]], [0, 0, 0, 1]
rule = ref.Perceptron(2).fit(X, y, epochs=100)
descent = ref.Perceptron(2, activation="sigmoid").fit(X, y, epochs=2000, lr=1.0)
try:
    import numpy
    numpy_imported = True
except ImportError:
    numpy_imported = False
print(json.dumps({
    "rule": rule.predict(X), "rule_errors": rule.errors_,
    "descent": descent.predict(X), "descent_loss": descent.loss_curve_[-1],
    "numpy_imported": numpy_imported,
    "loaded": sorted(name for name in sys.modules
                     if name == "numpy" or name.startswith(("numpy.", "nnfast"))),
}))
"""


def run_python(code):
    """Run code in a fresh interpreter that imports the same nnfast as this session; its JSON
    output."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": str(PYTHON_DIR)})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_reference_learns_the_and_gate_with_numpy_blocked():
    out = run_python(BLOCK_NUMPY + AND_GATE)
    assert out["numpy_imported"] is False          # the block works: NumPy really is absent
    assert out["rule"] == [0, 0, 0, 1] and out["rule_errors"][-1] == 0
    assert out["descent"] == [0, 0, 0, 1] and out["descent_loss"] < 0.05
    assert "nnfast._core" not in out["loaded"]


def test_importing_the_reference_loads_neither_numpy_nor_the_core():
    # NumPy is installed here: the reference must still not load it.
    out = run_python("import sys, json\nimport nnfast.reference\n"
                     "print(json.dumps({'loaded': sorted(sys.modules)}))")
    loaded = set(out["loaded"])
    assert "numpy" not in loaded and "nnfast._core" not in loaded
    assert {"nnfast.reference", "nnfast.vocabulary"} <= loaded


def test_the_native_models_say_numpy_is_missing_when_it_is():
    # Without NumPy the lazy names fail on use, with the import error, not at `import nnfast`.
    out = run_python(BLOCK_NUMPY + r"""
import json, nnfast
try:
    nnfast.MLP
    error = None
except ImportError as exc:
    error = str(exc)
print(json.dumps({"error": error, "version": nnfast.__version__}))
""")
    assert out["error"] is not None and "numpy" in out["error"]
    assert out["version"]


def test_import_nnfast_is_lazy_and_every_public_name_still_works():
    out = run_python(r"""
import json, sys, types
import nnfast
lazy = "numpy" not in sys.modules and "nnfast._core" not in sys.modules
listed = dir(nnfast)
star = {}
exec("from nnfast import *", star)
print(json.dumps({
    "lazy": lazy,
    "all": sorted(nnfast.__all__),
    "star": sorted(name for name in star if name != "__builtins__"),
    "missing": [name for name in nnfast.__all__ if getattr(nnfast, name, None) is None],
    "dir": listed,
}))
""")
    assert out["lazy"] is True
    assert out["star"] == out["all"] and out["missing"] == []
    # dir(nnfast) lists what it listed when the package loaded everything at import
    assert [name for name in out["dir"] if not name.startswith("__")] == [
        "MLP", "ModelFileError", "Neuron", "NotFittedError", "Perceptron", "_core",
        "_validation", "_version", "config", "data", "errors", "features", "get_num_threads",
        "load", "models", "ops", "reference", "set_num_threads", "show_config", "threads"]


@pytest.mark.parametrize("first", ["import nnfast.config",
                                   "import importlib; importlib.import_module('nnfast.config')",
                                   "from nnfast.config import show_config",
                                   "import nnfast; nnfast.show_config"])
def test_nnfast_config_stays_the_function_whatever_loads_its_module_first(first):
    # Loading the submodule nnfast.config binds it to the package's name `config`; the package
    # keeps the function config() there, as it did when everything loaded at import.
    out = run_python(f"{first}\nimport json, nnfast\n"
                     "print(json.dumps({'callable': callable(nnfast.config),"
                     " 'keys': sorted(nnfast.config())}))")
    assert out["callable"] is True and "build" in out["keys"]


def test_a_missing_name_is_an_attribute_error():
    out = run_python("import json, nnfast\ntry:\n    nnfast.no_such_name\n    r = None\n"
                     "except AttributeError as exc:\n    r = str(exc)\nprint(json.dumps(r))")
    assert out == "module 'nnfast' has no attribute 'no_such_name'"
