"""One artificial neuron: z = w . x + b, output f(z) (seed 000's cinema example)."""
from __future__ import annotations

from typing import Union

import numpy as np
import numpy.typing as npt

from .. import _validation as check
from .. import vocabulary
from .mlp import MLP


class Neuron:
    """A single unit with given weights and bias.

    Parameters
    ----------
    weights : array-like of shape (n_inputs,)
    bias : float
    activation : {"step", "identity", "sigmoid", "tanh", "relu"}
        step fires (1) when z >= 0.
    """

    def __init__(self, weights: npt.ArrayLike, bias: float, activation: str = "step", *,
                 backend: str = "native") -> None:
        w = check.as_vector(weights, "weights", np.float64)
        if w.size == 0:
            raise ValueError("weights is empty")
        b = check.as_vector([bias], "bias", np.float64) if np.ndim(bias) == 0 else None
        if b is None:
            raise ValueError(f"bias must be a single number, got shape {np.shape(bias)}")
        vocabulary.choose(activation, vocabulary.HIDDEN_ACTIVATIONS, "activation")
        self._unit = MLP([w.size, 1], output=activation, loss="mse", init="zeros",
                         backend=backend)
        self._unit.set_parameters([w.reshape(-1, 1)], [b])
        self.activation = activation

    @property
    def weights(self) -> np.ndarray:
        return self._unit.weights[0][:, 0].copy()

    @property
    def bias(self) -> float:
        return float(self._unit.biases[0][0])

    def forward(self, x: npt.ArrayLike) -> Union[float, np.ndarray]:
        """f(w . x + b): a float for one input vector (n_inputs,), an array (n,) for (n, n_inputs)."""
        x = check.as_array(x, "X")
        if x.ndim == 1:
            return float(self._unit.forward(x.reshape(1, -1))[0, 0])
        return self._unit.forward(x)[:, 0]

    def __repr__(self) -> str:
        return f"Neuron(weights={self.weights.tolist()}, bias={self.bias}, activation={self.activation!r})"
