"""nnfast.reference: the math of nnfast in pure Python, to read, step through and trust.

It is the textbook of the seed documents (neuron, activation, loss, gradient
descent, backpropagation, perceptron, MLP) and the oracle the native core is
tested against. It imports nothing but the standard library and two modules of
nnfast that are standard library only themselves: ``nnfast.vocabulary`` (the names)
and ``nnfast.errors``. It runs where NumPy is not installed.

- ``Neuron``, ``Perceptron``, ``MLP``, ``load``: the models (neuron.py, perceptron.py, mlp.py;
  what they accept: checks.py).
- ``ops``: the kernels they are built from, tables keyed by name (ops.py).
- ``SplitMix64``: the random stream every model draws from (rng.py).
"""

from ..errors import NotFittedError
from . import ops
from .mlp import MLP, load
from .neuron import Neuron
from .perceptron import Perceptron
from .rng import SplitMix64

__all__ = ["Neuron", "Perceptron", "MLP", "load", "ops", "SplitMix64", "NotFittedError"]
