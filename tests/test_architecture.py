"""The architecture as rules a change can break, read from the source with `ast`:

(a) the reference imports only the standard library (and nnfast.vocabulary and nnfast.errors,
    which import only the standard library themselves), so it runs where NumPy is absent;
(b) nnfast.sklearn and nnfast.cli never reach the binding nnfast._core: they train through
    the API;
(c) no import circle among the modules of nnfast, module-level or inside functions;
(d) no writable and executable memory: hardened systems (SELinux execmem, W^X) refuse it;
(e) the suite's own rule: every expected failure is strict, so one that starts passing is seen.

Each checker returns what breaks its rule, and each has a test that feeds it a small tree
written to break it, so no rule passes because its checker cannot see.
"""
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "nnfast"

STDLIB = sys.stdlib_module_names
# Modules of nnfast the reference may import: they import only the standard library.
REFERENCE_MAY_IMPORT = ("nnfast.vocabulary", "nnfast.errors")


# ---------------------------------------------------------------- reading the tree

@dataclass(frozen=True)
class Import:
    """One module imported by one import statement."""
    source: str         # the importing module, e.g. "nnfast.models.mlp"
    target: str         # what it loads: a module of the package, or an outside module
    line: int
    deferred: bool      # inside a function: runs when the function is called, not at import


def module_names(package):
    """{dotted name: path} of the package's modules; the binding (_core.pyx) is one too."""
    names = {}
    for path in sorted(package.rglob("*.py")) + sorted(package.rglob("*.pyx")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def is_type_checking(test):
    """`if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:`: imports only type checkers run."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_statements(tree, with_type_checking=False):
    """(node, deferred) for each import statement, deferred when inside a function; those under
    `if TYPE_CHECKING:` only when asked (they never run)."""
    found = []

    def walk(nodes, deferred):
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append((node, deferred))
            elif isinstance(node, ast.If) and is_type_checking(node.test) \
                    and not with_type_checking:
                walk(node.orelse, deferred)
            else:
                walk(ast.iter_child_nodes(node), deferred or isinstance(
                    node, (ast.FunctionDef, ast.AsyncFunctionDef)))

    walk([tree], False)
    return found


class Tree:
    """The package's modules and every import among them, resolved to the module it loads."""

    def __init__(self, package):
        self.package = package
        self.paths = module_names(package)
        self.trees = {name: ast.parse(path.read_text(encoding="utf-8"), str(path))
                      for name, path in self.paths.items() if path.suffix == ".py"}

    def is_package(self, name):
        return self.paths.get(name, Path()).name == "__init__.py"

    def base(self, source, node):
        """The module a `from ... import` reads its names from."""
        if node.level == 0:
            return node.module
        parts = source.split(".") if self.is_package(source) else source.split(".")[:-1]
        parts = parts[:len(parts) - (node.level - 1)]
        return ".".join(parts + ([node.module] if node.module else []))

    def resolve(self, module, name, seen=()):
        """The module `from module import name` loads: the submodule module.name, or, for a
        name a package re-exports by `from .sub import name` (its lazy names included), the
        module that defines it; else module itself."""
        if f"{module}.{name}" in self.paths:
            return f"{module}.{name}"
        if self.is_package(module) and module not in seen:
            for node, _ in import_statements(self.trees[module], with_type_checking=True):
                if isinstance(node, ast.ImportFrom) and node.level > 0 and any(
                        (alias.asname or alias.name) == name for alias in node.names):
                    return self.resolve(self.base(module, node), name, seen + (module,))
        return module

    def imports(self, source, with_type_checking=False):
        """Every Import of one module."""
        found = []
        for node, deferred in import_statements(self.trees[source], with_type_checking):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = self.base(source, node)
                targets = [self.resolve(base, alias.name) for alias in node.names]
            found += [Import(source, target, node.lineno, deferred) for target in targets]
        return found

    def modules_under(self, prefix):
        return [name for name in self.trees if name == prefix or name.startswith(prefix + ".")]


def is_stdlib(target):
    return target.split(".")[0] in STDLIB


def where(tree, item):
    return f"{tree.paths[item.source].relative_to(tree.package.parent)}:{item.line}"


# ---------------------------------------------------------------- (a) the reference

def reference_imports_beyond_the_stdlib(package):
    """Imports of nnfast.reference (any, even inside functions) that are neither the standard
    library, nor the reference, nor REFERENCE_MAY_IMPORT; and imports of REFERENCE_MAY_IMPORT
    beyond the standard library."""
    tree = Tree(package)
    broken = []
    for source in tree.modules_under("nnfast.reference"):
        for item in tree.imports(source, with_type_checking=True):
            if not (is_stdlib(item.target) or item.target in REFERENCE_MAY_IMPORT
                    or item.target.startswith("nnfast.reference")):
                broken.append(f"{where(tree, item)} imports {item.target}")
    for source in REFERENCE_MAY_IMPORT:
        for item in tree.imports(source, with_type_checking=True) if source in tree.trees else []:
            if not (is_stdlib(item.target) or item.target in REFERENCE_MAY_IMPORT):
                broken.append(f"{where(tree, item)} imports {item.target} (the reference "
                              f"imports {source})")
    return broken


# ---------------------------------------------------------------- (b) the faces and the binding

BINDING = "nnfast._core"
IMPORTERS = {"import_module", "__import__"}


def binding_uses(package, faces=("nnfast.sklearn", "nnfast.cli")):
    """Every way a module of the faces reaches the binding: an import of it (`from .. import
    _core`, `from .._core import x`, `import nnfast._core`, inside functions too), an attribute
    `._core` (`nnfast._core.gemm`), or importlib.import_module("nnfast._core")."""
    tree = Tree(package)
    broken = []
    for face in faces:
        for source in tree.modules_under(face):
            for item in tree.imports(source, with_type_checking=True):
                if item.target == BINDING or item.target.startswith(BINDING + "."):
                    broken.append(f"{where(tree, item)} imports {item.target}")
            for node in ast.walk(tree.trees[source]):
                line = getattr(node, "lineno", 0)
                path = tree.paths[source].relative_to(package.parent)
                if isinstance(node, ast.Attribute) and node.attr == "_core":
                    broken.append(f"{path}:{line} uses the attribute ._core")
                if isinstance(node, ast.Call) and _name(node.func) in IMPORTERS and any(
                        isinstance(arg, ast.Constant) and str(arg.value).endswith("_core")
                        for arg in node.args):
                    broken.append(f"{path}:{line} imports {node.args[0].value!r} by name")
    return broken


# ---------------------------------------------------------------- (c) import circles

def import_circles(package):
    """The circles of the import graph among the package's modules, each as a list of
    "module:line" steps; an import inside a function is marked "(in a function)".

    Both kinds of import count. A circle of module-level imports breaks at import time,
    depending on which module loads first. A circle through imports inside functions imports
    fine, and hides the same thing: two modules that each need the other, neither of which can
    be read, tested or replaced alone (models/files.py importing MLP and Perceptron in load(),
    and both importing save_model back in save()). Imports under `if TYPE_CHECKING:` never run
    and do not count; a package's lazy names (PEP 562) count as imports of the modules they
    load, by the `from .sub import name` its TYPE_CHECKING block names them with.
    """
    tree = Tree(package)
    edges = {}
    for source in tree.trees:
        for item in tree.imports(source):
            if item.target in tree.paths and item.target != source:
                edges.setdefault(source, {}).setdefault(item.target, item)
    circles, done = [], set()
    for start in sorted(edges):
        path = _path_back(edges, start, start, [], set())
        if path and frozenset(step.source for step in path) not in done:
            done.add(frozenset(step.source for step in path))
            circles.append([f"{step.source}:{step.line} -> {step.target}"
                            + (" (in a function)" if step.deferred else "") for step in path])
    return circles


def _path_back(edges, start, node, path, seen):
    """A path of imports from node back to start, or None (depth first)."""
    for target, item in sorted(edges.get(node, {}).items()):
        if target == start:
            return path + [item]
        if target not in seen:
            seen.add(target)
            found = _path_back(edges, start, target, path + [item], seen)
            if found:
                return found
    return None


# ---------------------------------------------------------------- (d) executable memory

# Names that make memory executable: mmap's and the C library's protection flag, mprotect,
# macOS's MAP_JIT, the Windows allocation calls and flags.
EXECUTABLE_MEMORY = {"PROT_EXEC", "MAP_JIT", "mprotect", "VirtualAlloc", "VirtualProtect",
                     "PAGE_EXECUTE", "PAGE_EXECUTE_READ", "PAGE_EXECUTE_READWRITE",
                     "PAGE_EXECUTE_WRITECOPY"}
# A ctypes function prototype called on an address runs the bytes there; nnfast has no C
# callbacks either, so any call of a made prototype counts.
PROTOTYPES = {"CFUNCTYPE", "PYFUNCTYPE", "WINFUNCTYPE"}


def _name(node):
    return node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)


def executable_memory(package, c_sources=()):
    """Every place of the package's Python that makes memory executable or runs bytes as code,
    and every line of the C sources that names an executable-memory flag."""
    broken = []
    for path in sorted(package.rglob("*.py")):
        where_ = path.relative_to(package.parent)
        found = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            name = node.name if isinstance(node, ast.alias) else (
                node.value if isinstance(node, ast.Constant) else _name(node))
            if isinstance(name, str) and name in EXECUTABLE_MEMORY:
                found.append((node.lineno, f"uses {name}"))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Call) \
                    and _name(node.func.func) in PROTOTYPES:
                found.append((node.lineno, f"runs memory through ctypes.{_name(node.func.func)}"))
        broken += [f"{where_}:{line} {what}" for line, what in sorted(found)]
    for path in c_sources:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(name in line for name in EXECUTABLE_MEMORY):
                broken.append(f"{path.name}:{number}: {line.strip()}")
    return broken


# ---------------------------------------------------------------- (e) strict expected failures

def loose_xfails(test_dir):
    """Every xfail in the tests that is not strict: pytest.mark.xfail without strict=True;
    pytest.xfail(), which ends a test as an expected failure wherever it is called; and
    scikit-learn's estimator checks marked mark="xfail" without xfail_strict=True."""
    broken = []
    for path in sorted(test_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        strict = {id(node.func) for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "xfail" and _name(node.func.value) == "mark"
                  and any(keyword.arg == "strict" and isinstance(keyword.value, ast.Constant)
                          and keyword.value.value is True for keyword in node.keywords)}
        broken += sorted(f"{path.name}:{node.lineno} xfail is not strict"
                         for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                         and node.attr == "xfail" and id(node) not in strict)
        broken += sorted(f"{path.name}:{node.lineno} xfail is not strict"
                         for node in ast.walk(tree) if isinstance(node, ast.Call)
                         and _keyword(node, "mark") == "xfail"
                         and _keyword(node, "xfail_strict") is not True)
    return broken


def _keyword(call, name):
    """The constant value of a call's keyword argument, or None."""
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant):
            return keyword.value.value
    return None


# ---------------------------------------------------------------- the rules, on nnfast

C_SOURCES = sorted((ROOT / "src" / "nncore").glob("*.[ch]"))


def test_the_reference_imports_only_the_standard_library():
    broken = reference_imports_beyond_the_stdlib(PACKAGE)
    assert not broken, "\n".join(broken)


def test_sklearn_and_cli_never_reach_the_binding():
    broken = binding_uses(PACKAGE)
    assert not broken, "\n".join(broken)


def test_no_import_circle():
    circles = import_circles(PACKAGE)
    assert not circles, "\n\n".join("\n".join(circle) for circle in circles)


def test_no_writable_executable_memory():
    broken = executable_memory(PACKAGE, C_SOURCES)
    assert not broken, "\n".join(broken)


def test_every_xfail_is_strict():
    broken = loose_xfails(ROOT / "tests")
    assert not broken, "\n".join(broken)


def test_the_checkers_see_the_whole_package():
    # A checker that finds no module finds nothing wrong: make sure each reads the real tree.
    tree = Tree(PACKAGE)
    assert {"nnfast", "nnfast.reference.mlp", "nnfast.sklearn", "nnfast.cli",
            "nnfast.models.files", "nnfast._core"} <= set(tree.paths)
    assert any(item.target == "nnfast.vocabulary" for item in tree.imports("nnfast.reference.ops"))
    assert C_SOURCES and len(list((ROOT / "tests").glob("test_*.py"))) > 10


# ---------------------------------------------------------------- each rule can fail

def write_tree(root, files):
    """A fake package `nnfast` under root: {relative path: source}."""
    for name, source in files.items():
        path = root / "nnfast" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root / "nnfast"


def test_rule_a_catches_numpy_and_the_api_in_the_reference(tmp_path):
    package = write_tree(tmp_path, {
        "__init__.py": "",
        "vocabulary.py": "import json\n",
        "errors.py": "import numpy\n",                        # reached through errors
        "ops.py": "",
        "reference/__init__.py": "from . import ops\nfrom ..errors import NotFittedError\n",
        "reference/ops.py": "import math\nfrom .. import vocabulary\n"
                            "def f():\n    import numpy as np\n",       # inside a function
        "reference/mlp.py": "from ..ops import dense_forward\n",        # the native API
    })
    broken = reference_imports_beyond_the_stdlib(package)
    assert broken == ["nnfast/reference/mlp.py:1 imports nnfast.ops",
                      "nnfast/reference/ops.py:4 imports numpy",
                      "nnfast/errors.py:1 imports numpy (the reference imports nnfast.errors)"]


def test_rule_b_catches_every_spelling_of_the_binding(tmp_path):
    package = write_tree(tmp_path, {
        "__init__.py": "", "_core.pyx": "",
        "sklearn/__init__.py": "from .. import _core\n",
        "sklearn/_base.py": "from .._core import Trainer\n",
        "cli/__init__.py": "def run():\n    import nnfast._core\n",
        "cli/train.py": "import nnfast\nnnfast._core.gemm()\n",
        "cli/version.py": "import importlib\nimportlib.import_module('nnfast._core')\n"
                          "'''a docstring may name nnfast._core'''\n",
        "cli/fine.py": "from .. import models\n",
    })
    assert binding_uses(package) == [
        "nnfast/sklearn/__init__.py:1 imports nnfast._core",
        "nnfast/sklearn/_base.py:1 imports nnfast._core",
        "nnfast/cli/__init__.py:2 imports nnfast._core",
        "nnfast/cli/train.py:2 uses the attribute ._core",
        "nnfast/cli/version.py:2 imports 'nnfast._core' by name",
    ]


def test_rule_c_catches_a_circle_through_functions_and_through_a_package(tmp_path):
    package = write_tree(tmp_path, {
        "__init__.py": "from typing import TYPE_CHECKING\n"
                       "if TYPE_CHECKING:\n    from .models import MLP\n",
        # the circle of issue 13: files.load() imports the models, their save() imports files
        "models/__init__.py": "from .mlp import MLP\n",
        "models/files.py": "def load(path):\n    from .mlp import MLP\n",
        "models/mlp.py": "from . import b\nclass MLP:\n    def save(self, path):\n"
                         "        from .files import save_model\n",
        # a module-level circle through the package's lazy name: a -> nnfast.MLP -> b -> a
        "a.py": "from nnfast import MLP\n",
        "models/b.py": "from .. import a\n",
        # imports for type checkers never run: no circle
        "models/c.py": "from typing import TYPE_CHECKING\n"
                       "if TYPE_CHECKING:\n    from . import d\n",
        "models/d.py": "from . import c\n",
    })
    assert import_circles(package) == [
        ["nnfast.a:1 -> nnfast.models.mlp", "nnfast.models.mlp:1 -> nnfast.models.b",
         "nnfast.models.b:1 -> nnfast.a"],
        ["nnfast.models.files:2 -> nnfast.models.mlp (in a function)",
         "nnfast.models.mlp:4 -> nnfast.models.files (in a function)"],
    ]


def test_rule_c_passes_a_tree_without_circles(tmp_path):
    package = write_tree(tmp_path, {
        "__init__.py": "from ._version import v\n", "_version.py": "v = 1\n",
        "models/__init__.py": "from .mlp import MLP\n",
        "models/mlp.py": "from .files import save_model\nclass MLP: pass\n",
        "models/files.py": "def save_model(record, path): pass\n",
    })
    assert import_circles(package) == []


def test_rule_d_catches_executable_memory(tmp_path):
    package = write_tree(tmp_path, {
        "__init__.py": "",
        "machine.py": "import ctypes, mmap\n"
                      "m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE"
                      " | mmap.PROT_EXEC)\n"
                      "f = ctypes.CFUNCTYPE(ctypes.c_uint64)(ctypes.addressof(m))\n",
        "sneaky.py": "import mmap\nflag = getattr(mmap, 'PROT_EXEC')\n"
                     "from mmap import PROT_EXEC as X\n",
    })
    clock = tmp_path / "clock.c"
    clock.write_text("#include <sys/mman.h>\nvoid *p = mmap(0, 4096, PROT_READ | PROT_EXEC,"
                     " MAP_PRIVATE, -1, 0);\n")
    assert executable_memory(package, [clock]) == [
        "nnfast/machine.py:2 uses PROT_EXEC",
        "nnfast/machine.py:3 runs memory through ctypes.CFUNCTYPE",
        "nnfast/sneaky.py:2 uses PROT_EXEC",
        "nnfast/sneaky.py:3 uses PROT_EXEC",
        "clock.c:2: void *p = mmap(0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, -1, 0);",
    ]


def test_rule_e_catches_a_loose_xfail(tmp_path):
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "@pytest.mark.xfail(strict=True, reason='fine')\ndef test_a(): pass\n"
        "@pytest.mark.xfail(reason='loose')\ndef test_b(): pass\n"
        "@pytest.mark.xfail\ndef test_c(): pass\n"
        "def test_d():\n    pytest.xfail('stops here')\n"
        "checks = estimator_checks_generator(est, mark='xfail')\n"
        "fine = estimator_checks_generator(est, mark='xfail', xfail_strict=True)\n")
    assert loose_xfails(tmp_path) == ["test_x.py:4 xfail is not strict",
                                      "test_x.py:6 xfail is not strict",
                                      "test_x.py:9 xfail is not strict",
                                      "test_x.py:10 xfail is not strict"]
