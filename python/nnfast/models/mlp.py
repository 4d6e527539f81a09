"""The multi-layer perceptron, run by the native core (or, for comparison, by the reference)."""
from __future__ import annotations

import numbers
import os
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from .. import _core, _sparse
from .. import _validation as check
from .. import vocabulary
from ..errors import NotFittedError
from .engines import ENGINES
from .files import ModelRecord, write_record
from .parameters import count_parameters, split_parameters
from .preprocessing import records_of, restore_records
from .training import FitSettings, Trainer

def overflow_checked(result: Any, what: str) -> Any:
    """result, after checking it is finite: finite inputs can still overflow the dtype (X of
    1e200 through a linear layer); that is an error here, never a silent inf or NaN."""
    if not check.all_finite(result):
        raise FloatingPointError(f"{what} overflowed: the result holds inf or NaN although X "
                                 f"and the weights are finite; scale X down (or use float64)")
    return result


# How predict turns output activations into answers, by loss.
PREDICTIONS = {
    "cross_entropy": lambda A: A.argmax(axis=1),
    "binary_cross_entropy": lambda A: (A >= 0.5).astype(np.int64),
    "mse": lambda A: A,
}


# The same, as the rule of the binding's one call for an X the core reads as it is
# (_core.try_predict): its answers equal PREDICTIONS' bit for bit.
PREDICT_RULES = {
    "cross_entropy": _core.PREDICT_ARGMAX,
    "binary_cross_entropy": _core.PREDICT_THRESHOLD,
    "mse": _core.PREDICT_VALUES,
}


def predictions_from_outputs(A, loss):
    """What predict returns for output activations A (n, K) of a network trained on loss."""
    out = PREDICTIONS[loss](A)
    return out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out


class MLP:
    """A fully connected network: Z = A_prev @ W + b, A = f(Z), layer after layer.

    Parameters
    ----------
    layers : list of int
        [n_inputs, hidden..., n_outputs], at least two positive sizes.
    activation : {"identity", "step", "sigmoid", "tanh", "relu"}
        The hidden layers' activation.
    output : {"identity", "step", "sigmoid", "tanh", "relu", "softmax"}, optional
        The last layer's activation; softmax when n_outputs > 1, else sigmoid.
    loss : {"binary_cross_entropy", "cross_entropy", "mse"}, optional
        Defaults to the output's natural loss (softmax: cross_entropy, sigmoid:
        binary_cross_entropy, others: mse).
    seed : int
        State of the model's SplitMix64 stream (initialization and shuffling).
    dtype : {"float64", "float32"}
    init : {"glorot", "zeros"}
    backend : {"native", "reference"}
        "reference" runs the same model on nnfast.reference (float64 only), for comparison.
    """

    # set by __init__ and fit; declared here for the type checker
    layers: List[int]
    activation: str
    output: str
    loss_name: str
    seed: int
    dtype: str
    init: str
    backend: str
    _engine: Any  # an engine of models/engines.py: NativeEngine or ReferenceEngine
    _net: Any  # the engine's _core.Net (None for the reference): forward's one-call path
    _params: np.ndarray  # W0, b0, W1, b1, ... in one vector
    _rng_state: int
    _loss_curve: Optional[List[float]]
    # the optional records nnfast train keeps with a model (nnfast.models.preprocessing)
    preprocessing: Optional[dict] = None
    classes: Optional[list] = None
    validation: Optional[dict] = None

    def __init__(self, layers: Sequence[int], activation: str = "sigmoid",
                 output: Optional[str] = None, loss: Optional[str] = None, *, seed: int = 0,
                 dtype: npt.DTypeLike = "float64", init: str = "glorot",
                 backend: str = "native") -> None:
        if (isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__")
                or len(layers) < 2):
            raise ValueError(f"layers must list at least 2 sizes [n_inputs, ..., n_outputs], "
                             f"got {layers!r}")
        self.layers = [check.positive_int(n, f"layers[{i}]") for i, n in enumerate(layers)]
        self.dtype = np.dtype(check.dtype_of(dtype)).name
        # Sizes are checked before the core sees them: a 10**12-unit layer is refused here.
        check.allocation(count_parameters(self.layers), np.dtype(self.dtype).itemsize,
                         f"layers {self.layers}")
        self.activation = vocabulary.choose(activation, vocabulary.HIDDEN_ACTIVATIONS, "activation")
        if output is None:
            output = vocabulary.DEFAULT_OUTPUT[self.layers[-1] > 1]
        self.output = vocabulary.choose(output, vocabulary.OUTPUT_ACTIVATIONS, "output activation")
        if loss is None:
            loss = vocabulary.DEFAULT_LOSS.get(self.output, "mse")
        self.loss_name = vocabulary.choose(loss, vocabulary.LOSS_NAMES, "loss")
        if self.output not in vocabulary.LOSS_OUTPUTS[self.loss_name]:
            raise ValueError(f"loss {self.loss_name!r} needs a "
                             f"{' or '.join(vocabulary.LOSS_OUTPUTS[self.loss_name])} output, "
                             f"got output {self.output!r}")
        if (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                or not 0 <= seed < 2**64):
            raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
        self.seed = int(seed)
        self.init = vocabulary.choose(init, vocabulary.INIT_NAMES, "init")
        self.backend = vocabulary.choose(backend, tuple(ENGINES), "backend")
        self._engine = ENGINES[self.backend](self.layers, self.activation, self.output,
                                             self.loss_name, self.dtype)
        self._net = getattr(self._engine, "net", None)
        self._params = np.zeros(self._engine.n_params, dtype=self.dtype)
        self._rng_state = self._engine.init_params(self._params, self.init, self.seed)
        self._loss_curve = None

    # ---- parameters -----------------------------------------------------------------------

    def _param_views(self):
        return split_parameters(self._params, self.layers)

    @property
    def weights(self) -> List[np.ndarray]:
        """list of ndarray: W[l] of shape (n_l, n_{l+1}), views into the model."""
        return self._param_views()[0]

    @property
    def biases(self) -> List[np.ndarray]:
        """list of ndarray: b[l] of shape (n_{l+1},), views into the model."""
        return self._param_views()[1]

    def set_parameters(self, weights: Sequence[npt.ArrayLike],
                       biases: Sequence[npt.ArrayLike]) -> None:
        """Replace every W[l] and b[l] (copied; shapes and values checked first)."""
        W_views, b_views = self._param_views()
        if len(weights) != len(W_views) or len(biases) != len(b_views):
            raise ValueError(f"expected {len(W_views)} weight matrices and bias vectors, "
                             f"got {len(weights)} and {len(biases)}")
        new_W = [check.as_matrix(W, f"weights[{l}]", self.dtype, view.shape[1], "the layer")
                 for l, (W, view) in enumerate(zip(weights, W_views))]
        new_b = [check.as_vector(b, f"biases[{l}]", self.dtype, view.shape[0])
                 for l, (b, view) in enumerate(zip(biases, b_views))]
        for l, (W, view) in enumerate(zip(new_W, W_views)):
            if W.shape != view.shape:
                raise ValueError(f"weights[{l}] has shape {W.shape}, expected {view.shape}")
        for view, new in zip(W_views + b_views, new_W + new_b):
            view[...] = new

    @property
    def n_params(self) -> int:
        return self._params.size

    @property
    def network(self) -> MLP:
        """The MLP computing this model: the model itself (a Perceptron's is its layer)."""
        return self

    @property
    def rng_state(self) -> int:
        """int: the state of the model's SplitMix64 stream (shuffling draws from it)."""
        return self._rng_state

    @property
    def loss_curve_(self) -> List[float]:
        """list of float: the mean training loss of each epoch of the last fit."""
        if self._loss_curve is None:
            raise NotFittedError("this MLP has not been fitted yet: call fit(X, y) first")
        return list(self._loss_curve)

    # ---- inference ----------------------------------------------------------------------

    def _X(self, X: npt.ArrayLike) -> np.ndarray:
        return self._engine.checked_X(X)

    def _Y(self, y: npt.ArrayLike, n_rows: int) -> np.ndarray:
        return self._engine.checked_Y(y, n_rows)

    def forward(self, X: npt.ArrayLike) -> np.ndarray:
        """Output activations.

        X : array-like of shape (n_samples, n_inputs)
        Returns ndarray of shape (n_samples, n_outputs).

        An X the core can read as it is (a finite C-contiguous ndarray of the model's dtype)
        takes one call into the binding; anything else is converted and checked first.
        """
        if _sparse.issparse(X):
            return self.forward_sparse(X)
        out = _core.try_forward(self._net, self._params, X)
        if out is None:
            out = overflow_checked(self._engine.forward(self._params, self._X(X)), "forward")
        return out

    def forward_sparse(self, X: Any, check_overflow: bool = True) -> np.ndarray:
        """Output activations for a scipy.sparse X (CSR; other formats converted to CSR),
        never densified: the core's sparse first layer, then the dense layers. With
        check_overflow=False an overflowing result is returned as inf or NaN."""
        out = self._engine.forward_csr(self._params, self._engine.checked_csr(X))
        return overflow_checked(out, "forward") if check_overflow else out

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """Class indices (cross_entropy), 0/1 labels (binary_cross_entropy) or values (mse).

        Shape (n_samples,) for class indices or a single output, else (n_samples, n_outputs).
        """
        answers = _core.try_predict(self._net, self._params, X, PREDICT_RULES[self.loss_name])
        if answers is None:
            answers = predictions_from_outputs(self.forward(X), self.loss_name)
        return answers

    def loss(self, X: npt.ArrayLike, y: npt.ArrayLike, alpha: float = 0.0) -> float:
        """Mean loss over the rows of X, plus alpha/2 * sum(W^2) / n_samples."""
        X = self._X(X)
        alpha = check.real_in(alpha, "alpha", 0.0)
        self._require_differentiable_output()
        return overflow_checked(
            self._engine.loss_gradient(self._params, X, self._Y(y, len(X)), alpha, None), "loss")

    def gradients(self, X: npt.ArrayLike, y: npt.ArrayLike,
                  alpha: float = 0.0) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """Gradients of loss(X, y, alpha) by backprop: (list of dW, list of db)."""
        X = self._X(X)
        alpha = check.real_in(alpha, "alpha", 0.0)
        self._require_differentiable()
        grads = np.zeros_like(self._params)
        self._engine.loss_gradient(self._params, X, self._Y(y, len(X)), alpha, grads)
        return split_parameters(overflow_checked(grads, "gradients"), self.layers)

    def _require_differentiable_output(self):
        if self.output in vocabulary.FORWARD_ONLY_ACTIVATIONS:
            raise ValueError("the step output has no derivative and no loss here: "
                             "train it with the perceptron rule (nnfast.Perceptron)")

    def _require_differentiable(self):
        self._require_differentiable_output()
        if self.activation in vocabulary.FORWARD_ONLY_ACTIVATIONS and len(self.layers) > 2:
            raise ValueError("the step activation has no derivative: backprop cannot train "
                             "step hidden layers; use sigmoid, tanh or relu")

    # ---- training ------------------------------------------------------------------------

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike, *, epochs: int = 100,
            batch_size: Optional[int] = None, lr: float = 0.1, optimizer: str = "sgd",
            momentum: float = 0.0, nesterov: bool = False, alpha: float = 0.0,
            shuffle: bool = True, verbose: bool = False,
            callback: Optional[Callable[..., Any]] = None) -> MLP:
        """Train by minibatch gradient descent (docs/semantics.md, "Training").

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        batch_size : int or None (the full batch)
        callback : callable(epoch, loss, forward) -> bool, optional
            Called after each epoch (native backend) with the 0-based epoch, its mean loss and
            `forward(X)`, the outputs of the weights trained so far (e.g. for a validation
            score). A true return value stops training after that epoch. One fit call with a
            callback trains exactly like one without: the optimizer state carries over.

        Notes
        -----
        The model changes only when the whole run succeeds: a bad argument, a non-finite loss
        (FloatingPointError) or an interrupt leaves it as it was.
        """
        settings = FitSettings(optimizer=optimizer, lr=lr, momentum=momentum,
                               nesterov=nesterov, alpha=alpha, batch_size=batch_size,
                               shuffle=shuffle)
        check.flag(verbose, "verbose")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        if callback is not None and self.backend != "native":
            raise ValueError("callback needs the native backend: the reference trains the "
                             "whole run in one call")
        trainer = self.trainer(settings)
        trainer.run(X, y, epochs, self._epoch_report(trainer, verbose, callback))
        trainer.commit()
        return self

    def trainer(self, settings: Optional[FitSettings] = None) -> Trainer:
        """A training handle on a copy of this model's parameters (docs/semantics.md,
        "Training"): ``epoch(X, y, order=None, sample_weight=None)`` trains one epoch and
        returns its mean loss; ``lr`` and the optimizer ``state`` can be read and set between
        epochs; ``commit()`` writes the result into the model.

        Parameters
        ----------
        settings : FitSettings, optional
            The optimizer, learning rate, batch size, ...; FitSettings() by default.
        """
        self._require_differentiable()
        return self._engine.trainer(self._params.copy(), settings or FitSettings(),
                                    self._rng_state, self._commit_training)

    def _commit_training(self, trainer: Trainer) -> None:
        self._params[...] = trainer.params
        self._rng_state = trainer.rng_state
        self._loss_curve = list(trainer.loss_curve)

    @staticmethod
    def _epoch_report(trainer, verbose, callback):
        """The per-epoch hook of a fit: print (verbose), then the user's callback; None when
        neither is asked for, so the whole run is one call into the core."""
        if not verbose and callback is None:
            return None
        forward = trainer.forward

        def report(epoch, loss):
            if verbose:
                print(f"epoch {epoch + 1}: loss {loss:.6g}")
            return bool(callback(epoch, loss, forward)) if callback is not None else False
        return report

    # ---- files ---------------------------------------------------------------------------

    def _config(self):
        return {"layers": self.layers, "activation": self.activation, "output": self.output,
                "loss": self.loss_name, "seed": self.seed, "dtype": self.dtype,
                "init": self.init}

    def to_record(self) -> ModelRecord:
        """The model as data (parameters copied): what its file holds."""
        return ModelRecord("MLP", self._config(), [W.copy() for W in self.weights],
                           [b.copy() for b in self.biases], self._rng_state,
                           None if self._loss_curve is None else list(self._loss_curve), None,
                           records_of(self))

    @classmethod
    def from_record(cls, record: ModelRecord) -> MLP:
        """The model a record describes; ValueError or TypeError when it does not fit."""
        model = cls(**record.config)
        model._restore(record)
        restore_records(model, record.records, model.layers)
        return model

    def _restore(self, record: ModelRecord) -> None:
        """Take the parameters, stream state and loss curve of a record."""
        self.set_parameters(record.weights, record.biases)
        self._rng_state = check.seed(record.rng_state, "rng_state")
        self._loss_curve = None if record.loss_curve is None else list(record.loss_curve)

    # ---- other formats (nnfast.interop) ----------------------------------------------------

    @classmethod
    def from_sklearn(cls, estimator: Any) -> MLP:
        """The MLP of a fitted scikit-learn MLPClassifier or MLPRegressor: forward(X) equals
        its predict_proba(X) (the last column for a binary classifier) or predict(X)."""
        from ..interop.sklearn_weights import record_from_sklearn
        return cls.from_record(record_from_sklearn(estimator))

    @classmethod
    def from_torch(cls, sequential: Any) -> MLP:
        """The MLP of a torch.nn.Sequential of Linear layers and activations (ReLU, Tanh,
        Sigmoid, Softmax, Identity, Dropout): forward(X) equals sequential(X) in eval mode."""
        from ..interop.torch_weights import record_from_torch
        return cls.from_record(record_from_torch(sequential))

    def to_onnx(self, path: Optional[Union[str, os.PathLike[str]]] = None) -> Any:
        """The model as an onnx.ModelProto (needs the onnx extra), written to path when one is
        given: the stored standardization, the layers, and for a classifier a "label" and a
        "probabilities" output (a regression model: "variable")."""
        from ..interop.onnx_graph import to_onnx
        return to_onnx(self, path)

    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Write the model to a .npz file (see nnfast.load)."""
        write_record(self.to_record(), path)

    def __repr__(self) -> str:
        return (f"MLP({self.layers}, activation={self.activation!r}, output={self.output!r}, "
                f"loss={self.loss_name!r}, dtype={self.dtype!r})")
