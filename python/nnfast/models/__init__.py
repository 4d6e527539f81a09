"""The models of nnfast, run by the native core: Neuron, Perceptron, MLP, and model files."""
from .files import ModelFileError
from .loading import load
from .mlp import MLP
from .neuron import Neuron
from .perceptron import Perceptron
from .training import FitSettings, Trainer

__all__ = ["FitSettings", "MLP", "ModelFileError", "Neuron", "Perceptron", "Trainer", "load"]
