"""Engines run a model's math: the native core, or the pure-Python reference.

An engine is built for one network description (layers, activations, loss, dtype) and offers
the same operations on a flat parameter vector (W0, b0, W1, b1, ...): checked inputs,
init_params, forward, loss_gradient, a training handle (trainer) and the perceptron rule, so
the model code never asks which one it has.
"""
import numpy as np

from .. import _core, _sparse
from .. import _validation as check
from ..vocabulary import ACTIVATION_CODES, INIT_CODES, LOSS_CODES
from .parameters import count_parameters, split_parameters
from .training import Trainer, diverged


# Losses whose targets are counts or rates: y >= 0.
COUNT_TARGETS = ("poisson",)


class NativeEngine:
    """The C core, through nnfast._core, for one network description.

    Parameters
    ----------
    layers : list of int
        [n_inputs, hidden..., n_outputs], checked by the caller (the model).
    activations : list of str
        One name per hidden layer (nnfast.vocabulary), checked by the caller.
    output, loss : str
        Names of nnfast.vocabulary, checked by the caller.
    precision : {"float64", "float32", "bfloat16"}
        The model's (nnfast._validation.PRECISIONS): the engine's dtype and its training
        products' precision.
    dropout : list of float
        One rate per hidden layer (training only), checked by the caller.
    huber_delta : float
    """

    def __init__(self, layers, activations, output, loss, precision, dropout=None,
                 huber_delta=1.0):
        codes = [ACTIVATION_CODES[a] for a in activations]
        self.net = _core.Net(layers, codes[0] if codes else ACTIVATION_CODES["identity"],
                             ACTIVATION_CODES[output], LOSS_CODES[loss], codes,
                             dropout if dropout and any(dropout) else None, huber_delta)
        self.n_params = self.net.n_params
        self.layers, self.loss = list(layers), loss
        self.dtype, self.products = check.PRECISIONS[precision]

    def checked_X(self, X):
        """X as a finite (n_samples, n_inputs) array of the network's dtype."""
        return check.as_matrix(X, "X", self.dtype, self.layers[0])

    def checked_Y(self, y, n_rows):
        """y as the (n_rows, n_outputs) target matrix of the network's loss (poisson: counts
        or rates, y >= 0)."""
        Y = check.targets(y, n_rows, self.layers[-1], self.loss, self.dtype)
        if self.loss in COUNT_TARGETS and Y.size and Y.min() < 0:
            raise ValueError(f"y holds a negative value ({Y.min():g}): the {self.loss} loss "
                             f"needs targets y >= 0")
        return Y

    def init_params(self, params, init, seed):
        """Fill params by the init contract; return the stream state after the draws."""
        return _core.init_params(params, self.net, INIT_CODES[init], seed)

    def forward(self, params, X):
        out = np.empty((X.shape[0], self.net.n_outputs), dtype=self.dtype)
        if X.shape[0] > 0:
            _core.forward(out, params, self.net, X)
        return out

    def checked_csr(self, X):
        """A scipy.sparse X as checked CSR rows of the network's dtype and width."""
        return _sparse.as_csr(X, self.dtype, self.layers[0])

    def forward_csr(self, params, X):
        """forward on CSR rows (nnfast._sparse.CSR): the sparse first layer, no dense copy."""
        return _sparse.forward(self.net, params, X)

    def loss_gradient(self, params, X, Y, alpha, grads, sample_weight=None):
        """The (weighted) mean loss of (X, Y) plus the L2 term; its gradient into grads
        (n_params) when grads is not None."""
        return _core.loss_gradient(params, self.net, X, Y, alpha, grads, sample_weight)

    def trainer(self, params, settings, state, commit):
        """The training handle on params (see nnfast.models.training)."""
        return Trainer(self, params, settings, state, commit)

    def perceptron_fit(self, params, X, Y, epochs, lr, shuffle, state):
        """The perceptron rule, one core call per epoch, stopping after an epoch without a
        mistake; return (mistakes per epoch, stream state)."""
        (W,), (b,) = split_parameters(params, self.layers)
        order = np.arange(X.shape[0], dtype=np.int64) if shuffle else None
        errors = []
        # CSR rows (nnfast._sparse.CSR) take the sparse rule: the same updates, no dense copy
        epoch = _sparse.perceptron_rule_epoch if isinstance(X, _sparse.CSR) else \
            _core.perceptron_epoch
        for _ in range(epochs):
            if shuffle:
                state = _core.rng_permutation(order, state)
            errors.append(epoch(W, b, X, Y, order, lr))
            if errors[-1] == 0:
                break
        return errors, state


class ReferenceEngine:
    """nnfast.reference, on lists: the same model, slowly and readably, for comparison."""

    def __init__(self, layers, activations, output, loss, precision, dropout=None,
                 huber_delta=1.0):
        from .. import reference

        if precision != "float64":  # nnfast.reference.MLP(dtype="bfloat16") is used directly
            raise ValueError("the reference backend computes in float64 only")
        self.reference = reference
        self.layers, self.loss, self.dtype = list(layers), loss, precision
        self.model = reference.MLP(self.layers, list(activations), output, loss, init="zeros",
                                   dropout=list(dropout or [0.0] * len(activations)),
                                   huber_delta=huber_delta)
        self.n_params = count_parameters(self.layers)

    checked_X = NativeEngine.checked_X
    checked_Y = NativeEngine.checked_Y

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
        activations = self.model.activations + [self.model.output]
        weights, biases = self.reference.ops.init_params(self.layers, activations, rng, init)
        self.model.weights, self.model.biases = weights, biases
        self._store(params)
        return rng.state

    def forward(self, params, X):
        self._load(params)
        return np.array(self.model.forward(X.tolist()), dtype=np.float64)

    checked_csr = NativeEngine.checked_csr

    def forward_csr(self, params, X):
        """The reference works on lists: the CSR rows written out densely."""
        return self.forward(params, _sparse.toarray(X))

    def loss_gradient(self, params, X, Y, alpha, grads, sample_weight=None):
        self._load(params)
        sw = None if sample_weight is None else sample_weight.tolist()
        loss = self.model.loss(X.tolist(), Y.tolist(), alpha=alpha, sample_weight=sw)
        if grads is not None:
            dW, db = self.model.gradients(X.tolist(), Y.tolist(), alpha=alpha, sample_weight=sw)
            weights, biases = split_parameters(grads, self.layers)
            for view, values in zip(weights + biases, dW + db):
                view[...] = values
        return loss

    def trainer(self, params, settings, state, commit):
        return ReferenceTrainer(self, params, settings, state, commit)

    def perceptron_fit(self, params, X, Y, epochs, lr, shuffle, state):
        (W,), (b,) = split_parameters(params, self.layers)
        if isinstance(X, _sparse.CSR):
            X = _sparse.toarray(X)
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


class ReferenceTrainer(Trainer):
    """The reference trains a whole run in one call: a report sees the losses afterwards,
    with the final weights, and cannot stop the run early; there is no single epoch."""

    def _train(self, X, Y, epochs, sample_weight=None):
        engine, s = self.engine, self.settings
        engine._load(self.params, self.rng_state)
        try:
            engine.model.fit(X.tolist(), Y.tolist(), epochs=epochs, batch_size=s.batch_size,
                             lr=self.lr, optimizer=s.optimizer, momentum=s.momentum,
                             nesterov=s.nesterov, alpha=s.alpha, shuffle=s.shuffle)
        except FloatingPointError as exc:  # the reference's words, up to its own advice
            raise diverged(str(exc).split(";")[0]) from None
        engine._store(self.params)
        self.rng_state = engine.model.rng.state
        self.epochs_done += epochs
        self.loss_curve += engine.model.loss_curve_
        return engine.model.loss_curve_

    def epoch(self, X, Y, order=None, sample_weight=None):
        raise ValueError("training epoch by epoch needs the native backend: the reference "
                         "trains the whole run in one call")

    def run(self, X, Y, epochs, report=None):
        X, Y, _ = self._inputs(X, Y, None)
        curve = self._train(X, Y, check.positive_int(epochs, "epochs"))
        if report is not None:
            for epoch, loss in enumerate(curve):
                report(epoch, loss)
        return curve


ENGINES = {"native": NativeEngine, "reference": ReferenceEngine}
