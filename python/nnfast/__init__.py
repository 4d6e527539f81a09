"""nnfast: perceptrons and multi-layer perceptrons on the CPU.

- nnfast.reference: the math in readable pure Python (the textbook and the oracle)
- nnfast.Neuron, nnfast.Perceptron, nnfast.MLP: the same models, run by the C core
- nnfast.ops: the native kernels as functions on arrays (same names as reference.ops)

Importing nnfast loads only the standard library: the names below that need NumPy and the
native core load on first use (PEP 562), so ``import nnfast.reference`` works without NumPy.
"""
import importlib as _importlib
import sys as _sys
import types as _types
from typing import TYPE_CHECKING, List

from ._version import __version__
from .errors import NotFittedError

if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ loads these on first use
    from . import _core, _validation, data, errors, features, models, ops, reference, threads
    from .config import config, show_config
    from .models import MLP, ModelFileError, Neuron, Perceptron, load
    from .threads import get_num_threads, set_num_threads

__all__ = ["MLP", "ModelFileError", "Neuron", "NotFittedError", "Perceptron", "__version__",
           "config", "data", "features", "get_num_threads", "load", "ops", "reference",
           "set_num_threads", "show_config"]

# A name of the package -> the submodule that defines it.
_LAZY_NAMES = {
    "MLP": "models", "ModelFileError": "models", "Neuron": "models", "Perceptron": "models",
    "load": "models", "config": "config", "show_config": "config",
    "get_num_threads": "threads", "set_num_threads": "threads",
}
# Submodules that are attributes of the package once loaded.
_LAZY_SUBMODULES = ("_core", "_validation", "data", "errors", "features", "models", "ops",
                    "reference", "threads")


if not TYPE_CHECKING:  # hidden from type checkers, so a misspelt nnfast.X stays an error
    def __getattr__(name):
        """Load a lazy name on first use and keep it, so later lookups do not come here."""
        if name in _LAZY_NAMES:
            value = getattr(_importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
        elif name in _LAZY_SUBMODULES:
            value = _importlib.import_module(f".{name}", __name__)
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value
        return value


def __dir__() -> List[str]:
    names = set(globals()) | set(_LAZY_NAMES) | set(_LAZY_SUBMODULES)
    return sorted(name for name in names if name not in _PRIVATE)


class _Package(_types.ModuleType):
    """The package's module type: `nnfast.config` stays the function config().

    Loading the submodule nnfast.config (for config(), or by any ``import nnfast.config``) makes
    the import system bind the module to the package's name `config`; this keeps the function.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name == "config" and isinstance(value, _types.ModuleType):
            value = value.config
        super().__setattr__(name, value)


# The machinery above, left out of dir(nnfast), which lists what it listed before it.
_PRIVATE = {"_importlib", "_sys", "_types", "TYPE_CHECKING", "List", "_LAZY_NAMES",
            "_LAZY_SUBMODULES", "_Package", "_PRIVATE", "__getattr__", "__dir__"}
_sys.modules[__name__].__class__ = _Package
