"""The single-layer perceptron (seeds 000-002): the perceptron rule, or gradient descent."""
from __future__ import annotations

import dataclasses
import os
from typing import Any, List, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from .. import _sparse
from .. import _validation as check
from .. import vocabulary
from ..errors import NotFittedError
from .curves import LossCurve
from .files import ModelRecord, write_record
from .mlp import MLP
from .preprocessing import records_of, restore_records

PERCEPTRON_ACTIVATIONS = ("step", "sigmoid")
# The loss each activation's network is described with: step never trains by a loss (the
# perceptron rule needs none); sigmoid trains by gradient descent on cross-entropy.
PERCEPTRON_LOSS = {"step": "mse", "sigmoid": "binary_cross_entropy"}


class Perceptron:
    """One layer of units y_hat = f(x . w + b), with f = step or sigmoid.

    Parameters
    ----------
    n_inputs, n_outputs : int
    activation : {"step", "sigmoid"}
        step trains by the perceptron rule; sigmoid by full-batch gradient descent on binary
        cross-entropy (seed 000's AND gate).
    seed : int
    init : {"zeros", "glorot"}
    dtype : {"float64", "float32"}
    backend : {"native", "reference"}
    """

    # the optional records nnfast train keeps with a model (nnfast.models.preprocessing)
    preprocessing: Optional[dict] = None
    classes: Optional[list] = None
    validation: Optional[dict] = None

    def __init__(self, n_inputs: int, n_outputs: int = 1, activation: str = "step", *,
                 seed: int = 0, init: str = "zeros", dtype: npt.DTypeLike = "float64",
                 backend: str = "native") -> None:
        self.activation = vocabulary.choose(activation, PERCEPTRON_ACTIVATIONS, "activation")
        self._mlp = MLP([n_inputs, n_outputs], output=self.activation,
                        loss=PERCEPTRON_LOSS[self.activation], seed=seed, dtype=dtype,
                        init=init, backend=backend)
        self.n_inputs, self.n_outputs = self._mlp.layers
        self.seed, self.init, self.dtype = self._mlp.seed, self._mlp.init, self._mlp.dtype
        self.backend = self._mlp.backend
        self._errors: Optional[List[int]] = None

    @property
    def network(self) -> MLP:
        """The one-layer MLP computing this perceptron (its parameters are this model's)."""
        return self._mlp

    @property
    def weights(self) -> List[np.ndarray]:
        """[W] with W of shape (n_inputs, n_outputs)"""
        return self._mlp.weights

    @property
    def biases(self) -> List[np.ndarray]:
        """[b] with b of shape (n_outputs,)"""
        return self._mlp.biases

    def set_parameters(self, weights: Sequence[npt.ArrayLike],
                       biases: Sequence[npt.ArrayLike]) -> None:
        self._mlp.set_parameters(weights, biases)

    @property
    def errors_(self) -> List[int]:
        """list of int: samples misclassified in each epoch of the last perceptron-rule fit."""
        if self._errors is None:
            raise NotFittedError("errors_ exists after fit with activation='step'")
        return list(self._errors)

    @property
    def loss_curve_(self) -> LossCurve:
        """LossCurve (a read-only sequence of float, as ``MLP.loss_curve_``): mean loss of each
        epoch of the last gradient-descent fit."""
        return self._mlp.loss_curve_

    def forward(self, X: npt.ArrayLike) -> np.ndarray:
        """Unit outputs, ndarray of shape (n_samples, n_outputs)."""
        return self._mlp.forward(X)

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """0/1 labels: shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        out = (self.forward(X) >= 0.5).astype(np.int64)
        return out[:, 0] if out.shape[1] == 1 else out

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike, *, epochs: int = 100, lr: float = 1.0,
            shuffle: bool = False) -> Perceptron:
        """Train: the perceptron rule for step, gradient descent on cross-entropy for sigmoid.

        X : array-like or scipy.sparse matrix of shape (n_samples, n_inputs)
        y : array-like of 0/1, shape (n_samples,) or (n_samples, n_outputs)

        The perceptron rule reads a sparse X as CSR rows, never densified; sigmoid trains
        on it densely.
        """
        return PERCEPTRON_TRAINING[self.activation](self, X, y, epochs, lr, shuffle)

    def _fit_rule(self, X, y, epochs, lr, shuffle):
        mlp = self._mlp
        # sparse X stays sparse: CSR rows and the core's sparse rule (the same updates)
        X = mlp._engine.checked_csr(X) if _sparse.issparse(X) else mlp._X(X)
        Y = check.targets(y, X.shape[0], self.n_outputs, "binary_cross_entropy", self.dtype)
        if not np.isin(Y, (0, 1)).all():
            raise ValueError("y must hold 0/1 labels for the perceptron rule")
        epochs = check.positive_int(epochs, "epochs")
        lr = check.real_in(lr, "lr", 0.0, low_open=True)
        shuffle = check.flag(shuffle, "shuffle")
        params = mlp._params.copy()
        errors, state = mlp._engine.perceptron_fit(params, X, Y, epochs, lr, shuffle,
                                                    mlp._rng_state)
        mlp._params[...] = params
        mlp._rng_state = state
        self._errors = errors
        return self

    def _fit_gradient_descent(self, X, y, epochs, lr, shuffle):
        if _sparse.issparse(X):
            X = X.toarray()  # training an MLP on sparse rows is dense for now
        self._mlp.fit(X, y, epochs=epochs, lr=lr, batch_size=None, optimizer="sgd",
                      shuffle=shuffle)
        return self

    def _config(self):
        return {"n_inputs": self.n_inputs, "n_outputs": self.n_outputs,
                "activation": self.activation, "seed": self.seed, "init": self.init,
                "dtype": self.dtype}

    def to_record(self) -> ModelRecord:
        """The model as data (parameters copied): what its file holds."""
        return dataclasses.replace(
            self._mlp.to_record(), kind="Perceptron", config=self._config(),
            errors=None if self._errors is None else list(self._errors),
            records=records_of(self))

    @classmethod
    def from_record(cls, record: ModelRecord) -> Perceptron:
        """The model a record describes; ValueError or TypeError when it does not fit."""
        model = cls(**record.config)
        model._mlp._restore(record)
        model._errors = None if record.errors is None else list(record.errors)
        restore_records(model, record.records, model._mlp.layers)
        return model

    def to_onnx(self, path: Optional[Union[str, os.PathLike[str]]] = None) -> Any:
        """The model as an onnx.ModelProto (needs the onnx extra), written to path when one is
        given: the stored standardization, the layer, a "label" and a "probabilities" output."""
        from ..interop.onnx_graph import to_onnx
        return to_onnx(self, path)

    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Write the model to a .npz file (see nnfast.load)."""
        write_record(self.to_record(), path)

    def __repr__(self) -> str:
        return (f"Perceptron({self.n_inputs}, {self.n_outputs}, activation={self.activation!r}, "
                f"dtype={self.dtype!r})")


PERCEPTRON_TRAINING = {"step": Perceptron._fit_rule, "sigmoid": Perceptron._fit_gradient_descent}
