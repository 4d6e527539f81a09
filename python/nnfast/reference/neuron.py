"""One neuron (seed 000): a = f(w . x + b), from the kernels in ops.py."""

from .. import vocabulary
from . import ops
from .checks import is_vector, as_matrix, check_features


class Neuron:
    """One artificial neuron (seed 000): a = f(w . x + b).

    Parameters
    ----------
    weights : list of float, shape (n_inputs,)
    bias : float
    activation : {"step", "identity", "sigmoid", "tanh", "relu"}

    Examples
    --------
    Person A of seed 000 goes to the cinema when friends come along (x1):

    >>> Neuron([5, 3, 1], -5).forward([1, 0, 0])
    1.0
    """

    def __init__(self, weights, bias, activation="step"):
        vocabulary.check_name("activation", activation, vocabulary.HIDDEN_ACTIVATIONS)
        self.weights = as_matrix([weights], "weights")[0]
        self.bias = as_matrix([[bias]], "bias")[0][0]
        self.activation = activation

    def forward(self, x):
        """a = f(w . x + b).

        Parameters
        ----------
        x : list of float of shape (n_inputs,), or matrix of shape (n, n_inputs)

        Returns
        -------
        float, or list of float of shape (n,)
        """
        if is_vector(x):
            return self.forward([x])[0]
        X = check_features(x, len(self.weights))
        W = [[w] for w in self.weights]  # a column: (n_inputs, 1)
        return [row[0] for row in ops.dense_forward(X, W, [self.bias], self.activation)]

    def __repr__(self):
        return f"Neuron({self.weights}, {self.bias}, activation={self.activation!r})"
