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
from .curves import LossCurve, frozen_curve
from .engines import ENGINES
from .files import ModelRecord, write_record
from .parameters import aligned_copy, aligned_zeros, count_parameters, split_parameters
from .preprocessing import records_of, restore_records
from .fitting import FitOptions
from .sparse_training import sparse_fit_trainer
from .training import CheckedRows, FitSettings, Trainer

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
    **{loss: (lambda A: A) for loss in vocabulary.REGRESSION_LOSSES},
}


# The same, as the rule of the binding's one call for an X the core reads as it is
# (_core.try_predict): its answers equal PREDICTIONS' bit for bit.
PREDICT_RULES = {
    "cross_entropy": _core.PREDICT_ARGMAX,
    "binary_cross_entropy": _core.PREDICT_THRESHOLD,
    **{loss: _core.PREDICT_VALUES for loss in vocabulary.REGRESSION_LOSSES},
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
    activation : {"identity", "step", "sigmoid", "tanh", "relu"}, or a list of them
        The hidden layers' activation: one name for all, or one name per hidden layer
        (``["relu", "tanh"]``; a list of the wrong length is a ValueError).
    output : {"identity", "step", "sigmoid", "tanh", "relu", "softmax", "exp"}, optional
        The last layer's activation; softmax when n_outputs > 1, else sigmoid.
    loss : {"binary_cross_entropy", "cross_entropy", "mse", "mae", "huber", "poisson"}
        Defaults to the output's natural loss (softmax: cross_entropy, sigmoid:
        binary_cross_entropy, exp: poisson, others: mse). mae and huber take any output,
        as mse does; poisson needs output="exp" and targets y >= 0.
    seed : int
        State of the model's SplitMix64 stream (initialization, shuffling, dropout masks).
    dtype : {"float64", "float32", "bfloat16"}
        The parameters', inputs' and outputs' dtype, and fit's precision. "bfloat16" is
        float32 (``dtype`` reads "float32") whose fit multiplies in bfloat16: the operands of
        each training product (a layer's A W, delta W^T, A^T delta) rounded to bfloat16, the
        sums, weights, optimizer state, activations and losses float32; forward, predict,
        loss and gradients use the float32 products (docs/semantics.md, "bfloat16
        training"). sgd and adam only.
    init : {"glorot", "zeros"}
    backend : {"native", "reference"}
        "reference" runs the same model on nnfast.reference (float64 only), for comparison.
    dropout : float or list of float, each in [0, 1)
        Inverted dropout of the hidden layers' outputs during fit: one rate for all hidden
        layers or one per hidden layer. A dropped unit outputs 0, a kept one is scaled by
        1 / (1 - p); forward, predict, loss and gradients never drop (docs/semantics.md,
        "Dropout").
    huber_delta : float > 0
        Where the huber loss turns from quadratic to linear (default 1.0).

    Attributes
    ----------
    activations : list of str
        The activation of each hidden layer.
    activation : str or list of str
        As given: one name when all hidden layers share it.
    dropout : list of float
        The dropout rate of each hidden layer.
    huber_delta : float
    precision : str
        The dtype argument's name: "float64", "float32" or "bfloat16".
    """

    # set by __init__ and fit; declared here for the type checker
    layers: List[int]
    activation: Union[str, List[str]]
    activations: List[str]
    dropout: List[float]
    huber_delta: float
    output: str
    loss_name: str
    seed: int
    dtype: str
    precision: str
    init: str
    backend: str
    _engine: Any  # an engine of models/engines.py: NativeEngine or ReferenceEngine
    _net: Any  # the engine's _core.Net (None for the reference): forward's one-call path
    _params: np.ndarray  # W0, b0, W1, b1, ... in one vector
    _rng_state: int
    _loss_curve: Optional[np.ndarray]  # read-only float64 (models/curves.py)
    # what the last fit recorded of its validation rows (None: it had none)
    _validation_loss_curve: Optional[List[float]] = None
    _best_epoch: Optional[int] = None
    # the optional records nnfast train keeps with a model (nnfast.models.preprocessing)
    preprocessing: Optional[dict] = None
    classes: Optional[list] = None
    validation: Optional[dict] = None

    def __init__(self, layers: Sequence[int], activation: Union[str, Sequence[str]] = "sigmoid",
                 output: Optional[str] = None, loss: Optional[str] = None, *, seed: int = 0,
                 dtype: npt.DTypeLike = "float64", init: str = "glorot",
                 backend: str = "native", dropout: Union[float, Sequence[float]] = 0.0,
                 huber_delta: float = 1.0) -> None:
        if (isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__")
                or len(layers) < 2):
            raise ValueError(f"layers must list at least 2 sizes [n_inputs, ..., n_outputs], "
                             f"got {layers!r}")
        self.layers = [check.positive_int(n, f"layers[{i}]") for i, n in enumerate(layers)]
        self.precision = check.precision_of(dtype)
        self.dtype = check.PRECISIONS[self.precision][0]
        # Sizes are checked before the core sees them: a 10**12-unit layer is refused here.
        check.allocation(count_parameters(self.layers), np.dtype(self.dtype).itemsize,
                         f"layers {self.layers}")
        self.activations = vocabulary.hidden_activations(activation, len(self.layers) - 2)
        self.activation = activation if isinstance(activation, str) else list(activation)
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
        self.dropout = vocabulary.dropout_rates(dropout, len(self.layers) - 2)
        self.huber_delta = vocabulary.check_huber_delta(huber_delta)
        if (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                or not 0 <= seed < 2**64):
            raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
        self.seed = int(seed)
        self.init = vocabulary.choose(init, vocabulary.INIT_NAMES, "init")
        self.backend = vocabulary.choose(backend, tuple(ENGINES), "backend")
        self._engine = ENGINES[self.backend](self.layers, self.activations, self.output,
                                             self.loss_name, self.precision, self.dropout,
                                             self.huber_delta)
        self._net = getattr(self._engine, "net", None)
        self._params = aligned_zeros(self._engine.n_params, self.dtype)
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
    def loss_curve_(self) -> LossCurve:
        """LossCurve: the mean training loss of each epoch of the last fit, a read-only
        sequence of float (equal to the list of the same values; ``np.asarray`` gives its
        float64 array, ``tolist()`` the list)."""
        if self._loss_curve is None:
            raise NotFittedError("this MLP has not been fitted yet: call fit(X, y) first")
        return LossCurve(self._loss_curve)

    @property
    def validation_loss_curve_(self) -> Optional[List[float]]:
        """list of float or None: the validation loss after each epoch of the last fit (the
        mean loss of the held-out rows, weighted as the training rows, without the L2 term);
        None when that fit had no validation rows."""
        self.loss_curve_  # NotFittedError before the first fit
        return None if self._validation_loss_curve is None else list(self._validation_loss_curve)

    @property
    def best_epoch_(self) -> Optional[int]:
        """int or None: the 0-based epoch of the lowest validation loss of the last fit (the
        first, on ties); None when that fit had no validation rows."""
        self.loss_curve_
        return self._best_epoch

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
        if any(a in vocabulary.FORWARD_ONLY_ACTIVATIONS for a in self.activations):
            raise ValueError("the step activation has no derivative: backprop cannot train "
                             "step hidden layers; use sigmoid, tanh or relu")

    # ---- training ------------------------------------------------------------------------

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike, *, epochs: int = 100,
            batch_size: Optional[int] = None, lr: float = 0.1, optimizer: str = "sgd",
            momentum: float = 0.0, nesterov: bool = False, alpha: float = 0.0,
            shuffle: bool = True, verbose: bool = False,
            callback: Optional[Callable[..., Any]] = None,
            sample_weight: Optional[npt.ArrayLike] = None, class_weight: Any = None,
            validation_data: Optional[Tuple[npt.ArrayLike, npt.ArrayLike]] = None,
            validation_fraction: float = 0.0, early_stopping: bool = False,
            patience: int = 10, restore_best: bool = True,
            max_iter: Optional[int] = None) -> MLP:
        """Train by minibatch gradient descent, or full-batch L-BFGS (docs/semantics.md,
        "Training" and "Validation, early stopping, class weights").

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        batch_size : int or None (the full batch)
        optimizer : {"sgd", "adam", "lbfgs"}
            "lbfgs": SciPy's L-BFGS-B on the full batch (the ``lbfgs`` extra); each
            iteration counts as an epoch of the curves; lr, momentum, batch_size and shuffle
            do not apply.
        callback : callable(epoch, loss, forward) -> bool, optional
            Called after each epoch (native backend) with the 0-based epoch, its mean loss and
            `forward(X)`, the outputs of the weights trained so far (e.g. for a validation
            score). A true return value stops training after that epoch. One fit call with a
            callback trains exactly like one without: the optimizer state carries over.
        sample_weight : array-like of shape (n_samples,), optional
            Each row's weight in its batch's mean loss (>= 0).
        class_weight : None, "balanced" or dict {class index: weight}
            Multiplies sample_weight by the weight of each row's class: "balanced" is
            n / (K * n_k) as in scikit-learn. Classification losses only.
        validation_data : (X_val, y_val), optional
            Rows whose loss is recorded after each epoch (``validation_loss_curve_``).
        validation_fraction : float in [0, 1)
            Instead of validation_data: hold out this fraction of the rows, drawn from the
            model's random stream (stratified by class for classification losses).
        early_stopping : bool
            Stop after `patience` epochs (L-BFGS iterations) without a lower validation loss.
        patience : int >= 1
        restore_best : bool
            With early_stopping: end with the weights and random stream of the best epoch
            (``best_epoch_``), as a fit of ``best_epoch_ + 1`` epochs would.
        max_iter : int, optional
            optimizer="lbfgs" only: the most L-BFGS iterations (default: `epochs`).

        Notes
        -----
        The model changes only when the whole run succeeds: a bad argument, a non-finite loss
        (FloatingPointError) or an interrupt leaves it as it was.
        """
        lbfgs = optimizer == "lbfgs"
        settings = FitSettings(optimizer="sgd" if lbfgs else optimizer, lr=lr,
                               momentum=momentum, nesterov=nesterov, alpha=alpha,
                               batch_size=batch_size, shuffle=shuffle)
        check.flag(verbose, "verbose")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        options = FitOptions(sample_weight, class_weight, validation_data, validation_fraction,
                             early_stopping, patience, restore_best, max_iter)
        options.check(lbfgs, epochs)
        if lbfgs and self.precision == "bfloat16":
            raise ValueError("optimizer='lbfgs' cannot train with dtype='bfloat16': its loss "
                             "and gradient are the float32 ones; use sgd or adam, or "
                             "dtype='float32'")
        if lbfgs and any(rate > 0 for rate in self.dropout):
            raise ValueError(f"optimizer='lbfgs' cannot train with dropout {self.dropout}: it "
                             f"minimizes the full-batch loss, which never drops; use sgd or "
                             f"adam, or a model with dropout=0")
        if self.backend != "native" and (callback is not None or options.used or lbfgs):
            raise ValueError("callback, sample_weight, class_weight, validation, early "
                             "stopping and lbfgs need the native backend: the reference "
                             "backend trains the whole run in one call")
        trainer: Any = self.trainer(settings)
        if _sparse.issparse(X):  # trained on its CSR rows, never densified
            trainer = sparse_fit_trainer(trainer, self, options)
        report = self._epoch_report(trainer, verbose, callback)
        if self.backend != "native":
            trainer.run(X, y, epochs, report)
        else:
            rows = options.rows(trainer, X, y)
            if lbfgs:
                trainer.run_lbfgs(rows.X, rows.Y, options.max_iter or epochs, report,
                                  rows.weights, rows.validation,
                                  patience if early_stopping else None, restore_best)
            else:  # the rows as options.rows checked them: run() takes them as they are
                trainer.run(CheckedRows(rows.X, rows.Y, rows.weights), None, epochs, report,
                            None, rows.validation, patience if early_stopping else None,
                            restore_best)
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
        return self._engine.trainer(aligned_copy(self._params), settings or FitSettings(),
                                    self._rng_state, self._commit_training)

    def _commit_training(self, trainer: Trainer) -> None:
        self._params[...] = trainer.params
        self._rng_state = trainer.rng_state
        self._loss_curve = trainer.loss_curve_array()
        self._validation_loss_curve = (None if trainer.validation_loss_curve is None
                                       else list(trainer.validation_loss_curve))
        self._best_epoch = trainer.best_epoch

    @staticmethod
    def _epoch_report(trainer, verbose, callback):
        """The per-epoch hook of a fit: print (verbose), then the user's callback; None when
        neither is asked for, so the whole run is one call into the core."""
        if not verbose and callback is None:
            return None
        forward = trainer.forward

        def report(epoch, loss):
            if verbose:
                validation = trainer.validation_loss_curve  # this epoch's, when validating
                print(f"epoch {epoch + 1}: loss {loss:.6g}" + (
                    "" if validation is None else f", validation loss {validation[-1]:.6g}"))
            return bool(callback(epoch, loss, forward)) if callback is not None else False
        return report

    # ---- files ---------------------------------------------------------------------------

    def _config(self):
        return {"layers": self.layers, "activation": self.activation, "output": self.output,
                "loss": self.loss_name, "seed": self.seed, "dtype": self.precision,
                "init": self.init, "dropout": list(self.dropout),
                "huber_delta": self.huber_delta}

    def to_record(self) -> ModelRecord:
        """The model as data (parameters copied): what its file holds."""
        return ModelRecord("MLP", self._config(), [W.copy() for W in self.weights],
                           [b.copy() for b in self.biases], self._rng_state,
                           None if self._loss_curve is None else self._loss_curve.tolist(),
                           None,
                           records_of(self), self._validation_loss_curve, self._best_epoch)

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
        self._loss_curve = None if record.loss_curve is None else frozen_curve(record.loss_curve)
        self._validation_loss_curve = record.validation_loss_curve
        self._best_epoch = record.best_epoch

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
        extras = "" if not any(self.dropout) else f", dropout={self.dropout!r}"
        if self.loss_name == "huber":
            extras += f", huber_delta={self.huber_delta!r}"
        return (f"MLP({self.layers}, activation={self.activation!r}, output={self.output!r}, "
                f"loss={self.loss_name!r}, dtype={self.precision!r}{extras})")
