"""The models of nnfast, run by the native core: Neuron, Perceptron, MLP, and model files."""
from .files import ModelFileError, load
from .mlp import MLP
from .neuron import Neuron
from .perceptron import Perceptron

__all__ = ["MLP", "ModelFileError", "Neuron", "Perceptron", "load"]
