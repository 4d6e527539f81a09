"""nnfast: perceptrons and multi-layer perceptrons on the CPU.

- nnfast.reference: the math in readable pure Python (the textbook and the oracle)
- nnfast.Neuron, nnfast.Perceptron, nnfast.MLP: the same models, run by the C core
- nnfast.ops: the native kernels as functions on arrays (same names as reference.ops)
"""
from ._version import __version__
from .errors import NotFittedError
from .models import MLP, ModelFileError, Neuron, Perceptron, load
from .threads import get_num_threads, set_num_threads
from .config import config, show_config
from . import data, features, ops, reference

__all__ = ["MLP", "ModelFileError", "Neuron", "NotFittedError", "Perceptron", "__version__",
           "config", "data", "features", "get_num_threads", "load", "ops", "reference",
           "set_num_threads", "show_config"]
