"""Engines run a model's math: the native core, or the pure-Python reference.

An engine is built for one model and offers the same five operations on the model's flat
parameter vector (W0, b0, W1, b1, ...), so the model code never asks which one it has.
"""
import numpy as np

from .. import _core
from .parameters import count_parameters, split_parameters


class NativeEngine:
    """The C core, through nnfast._core."""

    def __init__(self, model):
        self.net = _core.Net(model.layers, _core.ACTIVATION_CODES[model.activation],
                             _core.ACTIVATION_CODES[model.output],
                             _core.LOSS_CODES[model.loss_name])
        self.n_params = self.net.n_params
        self.dtype = model.dtype
        self.layers = model.layers

    def init_params(self, params, init, seed):
        """Fill params by the init contract; return the stream state after the draws."""
        return _core.init_params(params, self.net, _core.INIT_CODES[init], seed)

    def forward(self, params, X):
        out = np.empty((X.shape[0], self.net.n_outputs), dtype=self.dtype)
        _core.forward(out, params, self.net, X)
        return out

    def loss_gradient(self, params, X, Y, alpha, grads):
        return _core.loss_gradient(params, self.net, X, Y, alpha, grads)

    def fit(self, params, X, Y, s, state, report):
        """Train params in place for s["epochs"] epochs; return (loss curve, stream state).

        The whole run (shuffles, batches, forward, backward, updates) is one call into the
        core with the GIL released; with a report (verbose, callback) it is one call per
        epoch, keeping the optimizer state; report(epoch, loss) returning true stops the run.
        """
        trainer = _core.Trainer(self.net, self.dtype, X.shape[0],
                                _core.OPTIMIZER_CODES[s["optimizer"]], s["lr"], s["momentum"],
                                s["nesterov"], s["beta1"], s["beta2"], s["epsilon"],
                                s["alpha"], s["batch_size"], s["shuffle"])
        if report is None:
            return trainer.epochs(params, X, Y, state, s["epochs"])
        curve = []
        for epoch in range(s["epochs"]):
            try:
                (loss,), state = trainer.epochs(params, X, Y, state, 1)
            except FloatingPointError:
                raise FloatingPointError("the loss became infinite or NaN in epoch "
                                         f"{epoch + 1}") from None
            curve.append(loss)
            if report(epoch, loss):
                break
        return curve, state

    def perceptron_fit(self, params, X, Y, epochs, lr, shuffle, state):
        """The perceptron rule, one core call per epoch, stopping after an epoch without a
        mistake; return (mistakes per epoch, stream state)."""
        (W,), (b,) = split_parameters(params, self.layers)
        order = np.arange(X.shape[0], dtype=np.int64) if shuffle else None
        errors = []
        for _ in range(epochs):
            if shuffle:
                state = _core.rng_permutation(order, state)
            errors.append(_core.perceptron_epoch(W, b, X, Y, order, lr))
            if errors[-1] == 0:
                break
        return errors, state


class ReferenceEngine:
    """nnfast.reference, on lists: the same model, slowly and readably, for comparison."""

    def __init__(self, model):
        from .. import reference

        if model.dtype != "float64":
            raise ValueError("the reference backend computes in float64 only")
        self.reference = reference
        self.layers = model.layers
        self.model = reference.MLP(model.layers, model.activation, model.output,
                                   model.loss_name, seed=model.seed, init="zeros")
        self.n_params = count_parameters(self.layers)

    def _load(self, params, state=None):
        """Copy a flat vector (and a stream state) into the reference model."""
        weights, biases = split_parameters(params, self.layers)
        self.model.weights = [W.tolist() for W in weights]
        self.model.biases = [b.tolist() for b in biases]
        if state is not None:
            self.model.rng.state = state

    def _store(self, params):
        """Copy the reference model's parameters back into a flat vector."""
        weights, biases = split_parameters(params, self.layers)
        for view, values in zip(weights + biases, self.model.weights + self.model.biases):
            view[...] = values

    def init_params(self, params, init, seed):
        rng = self.reference.SplitMix64(seed)
        activations = [self.model.activation] * (len(self.layers) - 2) + [self.model.output]
        weights, biases = self.reference.ops.init_params(self.layers, activations, rng, init)
        self.model.weights, self.model.biases = weights, biases
        self._store(params)
        return rng.state

    def forward(self, params, X):
        self._load(params)
        return np.array(self.model.forward(X.tolist()), dtype=np.float64)

    def loss_gradient(self, params, X, Y, alpha, grads):
        self._load(params)
        loss = self.model.loss(X.tolist(), Y.tolist(), alpha=alpha)
        if grads is not None:
            dW, db = self.model.gradients(X.tolist(), Y.tolist(), alpha=alpha)
            weights, biases = split_parameters(grads, self.layers)
            for view, values in zip(weights + biases, dW + db):
                view[...] = values
        return loss

    def fit(self, params, X, Y, s, state, report):
        """The reference trains the whole run; a report sees the losses afterwards, with the
        final weights, and cannot stop the run early."""
        self._load(params, state)
        self.model.fit(X.tolist(), Y.tolist(), epochs=s["epochs"], batch_size=s["batch_size"],
                       lr=s["lr"], optimizer=s["optimizer"], momentum=s["momentum"],
                       nesterov=s["nesterov"], alpha=s["alpha"], shuffle=s["shuffle"])
        self._store(params)
        curve = self.model.loss_curve_
        if report is not None:
            for epoch, loss in enumerate(curve):
                report(epoch, loss)
        return curve, self.model.rng.state

    def perceptron_fit(self, params, X, Y, epochs, lr, shuffle, state):
        (W,), (b,) = split_parameters(params, self.layers)
        W_list, b_list, X_list, Y_list = W.tolist(), b.tolist(), X.tolist(), Y.tolist()
        rng = self.reference.SplitMix64(state)
        errors = []
        for _ in range(epochs):
            order = self.reference.ops.permutation(rng, len(X_list)) if shuffle else None
            errors.append(self.reference.ops.perceptron_rule(W_list, b_list, X_list, Y_list,
                                                             lr, order))
            if errors[-1] == 0:
                break
        W[...], b[...] = W_list, b_list
        return errors, rng.state


ENGINES = {"native": NativeEngine, "reference": ReferenceEngine}
