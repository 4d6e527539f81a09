"""The perceptron (seeds 000 and 002): one layer, trained by the perceptron rule or by
gradient descent, from the kernels in ops.py."""

import copy

from .. import vocabulary
from ..errors import NotFittedError
from . import ops
from .checks import check_features, check_int, check_float, check_bool, check_layers, check_targets
from .mlp import MLP, _threshold


class Perceptron:
    """A one-layer network [n_inputs, n_outputs] (seeds 000 and 002).

    activation="step": fit applies the perceptron rule, per sample.
    activation="sigmoid": fit is full-batch gradient descent on binary
    cross-entropy, run by MLP.fit.

    Parameters
    ----------
    n_inputs, n_outputs : int
    activation : {"step", "sigmoid"}
    seed : int in [0, 2^64)
    init : {"zeros", "glorot"}

    Attributes
    ----------
    weights : [W], W of shape (n_inputs, n_outputs)
    biases : [b], b of shape (n_outputs,)
    rng : SplitMix64
    errors_ : list of int
        Mistakes of each epoch (step).
    loss_curve_ : list of float
        Mean loss of each epoch (sigmoid).
    """

    def __init__(self, n_inputs, n_outputs=1, activation="step", *, seed=0, init="zeros"):
        layers = check_layers([n_inputs, n_outputs])
        vocabulary.check_name("activation", activation, vocabulary.PERCEPTRON_ACTIVATIONS)
        self.seed = check_int("seed", seed, low=0, high=2 ** 64 - 1)
        vocabulary.check_name("init", init, vocabulary.INIT_NAMES)
        self.n_inputs, self.n_outputs = layers
        self.activation, self.init = activation, init
        self.rng = ops.SplitMix64(seed)
        self.weights, self.biases = ops.init_params(layers, [activation], self.rng, init)
        self._errors = None
        self._loss_curve = None

    @property
    def errors_(self):
        if self._errors is None:
            raise NotFittedError("errors_ is recorded by fit of a step Perceptron")
        return self._errors

    @property
    def loss_curve_(self):
        if self._loss_curve is None:
            raise NotFittedError("loss_curve_ is recorded by fit of a sigmoid Perceptron")
        return self._loss_curve

    def forward(self, X):
        """a = f(X @ W + b). X (n, n_inputs) -> A (n, n_outputs)."""
        X = check_features(X, self.n_inputs)
        return ops.dense_forward(X, self.weights[0], self.biases[0], self.activation)

    def predict(self, X):
        """0/1 labels int(a >= 0.5): (n,) when n_outputs = 1, else (n, n_outputs)."""
        return _threshold(self.forward(X))

    def fit(self, X, y, *, epochs=100, lr=1.0, shuffle=False):
        """Train for up to `epochs` epochs; the step rule stops after an epoch with no mistake.

        Parameters
        ----------
        X : matrix of shape (n, n_inputs)
        y : 0/1 labels of shape (n,) or (n, n_outputs)
        epochs : int >= 1
        lr : float > 0
        shuffle : bool
            A fresh permutation of the samples each epoch.

        Returns
        -------
        self
        """
        return PERCEPTRON_TRAINING[self.activation](self, X, y, epochs, lr, shuffle)

    def _fit_rule(self, X, y, epochs, lr, shuffle):
        """The perceptron rule, epoch by epoch, until an epoch without a mistake."""
        X = check_features(X, self.n_inputs)
        Y = check_targets(y, len(X), self.n_outputs, "binary_cross_entropy")
        if any(v not in (0.0, 1.0) for row in Y for v in row):
            raise ValueError("y must hold 0/1 labels for the perceptron rule")
        epochs = check_int("epochs", epochs)
        lr = check_float("lr", lr, low_open=True)
        shuffle = check_bool("shuffle", shuffle)
        self._errors = []
        for _ in range(epochs):
            order = ops.permutation(self.rng, len(X)) if shuffle else None
            self._errors.append(ops.perceptron_rule(self.weights[0], self.biases[0], X, Y, lr,
                                                    order))
            if self._errors[-1] == 0:
                break
        return self

    def _fit_gradient_descent(self, X, y, epochs, lr, shuffle):
        """MLP.fit on the same parameters and stream: full batch, plain sgd."""
        network = MLP([self.n_inputs, self.n_outputs], output="sigmoid",
                      loss="binary_cross_entropy", seed=self.seed, init="zeros")
        network.weights, network.biases = copy.deepcopy(self.weights), copy.deepcopy(self.biases)
        network.rng = self.rng
        network.fit(X, y, epochs=epochs, batch_size=None, lr=lr, optimizer="sgd", shuffle=shuffle)
        self.weights, self.biases = network.weights, network.biases
        self._loss_curve = network.loss_curve_
        return self

    def __repr__(self):
        return (f"Perceptron({self.n_inputs}, {self.n_outputs}, activation={self.activation!r}, "
                f"seed={self.seed}, init={self.init!r})")


PERCEPTRON_TRAINING = {  # how fit trains, by activation (vocabulary.PERCEPTRON_ACTIVATIONS)
    "step": Perceptron._fit_rule,
    "sigmoid": Perceptron._fit_gradient_descent,
}
