"""The rows a fit trains on and the rows it validates on (docs/semantics.md, "Validation,
early stopping, class weights"): sample and class weights, validation_data or the rows
validation_fraction holds out, and the early-stopping watch."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np

from .. import _core
from .. import _validation as check
from .class_weights import class_weight_of_rows, row_classes


@dataclass
class ValidationSet:
    """Held-out rows: X (n, n_inputs), targets Y (n, n_outputs), each row's weight or None."""

    X: np.ndarray
    Y: np.ndarray
    weights: Optional[np.ndarray]


@dataclass
class FitRows:
    """What a fit trains on (X, Y, weights or None) and validates on (or None)."""

    X: np.ndarray
    Y: np.ndarray
    weights: Optional[np.ndarray]
    validation: Optional[ValidationSet]


def held_out_count(fraction: float, n: int) -> int:
    """Rows a group of n rows gives to validation: floor(fraction * n + 0.5)."""
    return math.floor(fraction * n + 0.5)


def hold_out(Y: np.ndarray, loss: str, fraction: float,
             rng_state: int) -> Tuple[np.ndarray, np.ndarray, int]:
    """(training rows, validation rows, stream state after the draws), rows ascending.

    The rows form one group per class (classification losses) or one group; for each group,
    in increasing class order, a Fisher-Yates permutation of its rows (ascending) is drawn
    from the stream and its first held_out_count(fraction, size) rows are held out.
    """
    classes = row_classes(Y, loss)
    if classes is None:
        classes = np.zeros(len(Y), dtype=np.int64)
    held = []
    for k in np.unique(classes):
        rows = np.flatnonzero(classes == k)
        order = np.empty(len(rows), dtype=np.int64)
        rng_state = _core.rng_permutation(order, rng_state)
        held.append(rows[order[:held_out_count(fraction, len(rows))]])
    is_held = np.zeros(len(Y), dtype=bool)
    is_held[np.concatenate(held)] = True
    return np.flatnonzero(~is_held), np.flatnonzero(is_held), rng_state


def fit_weights(engine: Any, Y: np.ndarray, sample_weight: Any,
                class_weight: Any) -> Optional[np.ndarray]:
    """Each row's weight: sample_weight (checked) times its class weight; None when neither."""
    weights = None
    if sample_weight is not None:
        weights = check.as_vector(sample_weight, "sample_weight", np.float64, len(Y))
        if weights.min() < 0 or weights.sum() <= 0:
            raise ValueError("sample_weight must be >= 0 with a positive sum")
    if class_weight is None:
        return weights
    by_class = class_weight_of_rows(class_weight, Y, engine.loss)
    return by_class if weights is None else weights * by_class


def checked_validation_data(engine: Any, validation_data: Any,
                            class_weight: Any) -> ValidationSet:
    """validation_data = (X_val, y_val), checked as fit checks X and y; every error names
    validation_data."""
    try:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError(f"must be a pair (X_val, y_val), got "
                            f"{type(validation_data).__name__}")
        X_val = engine.checked_X(validation_data[0])
        Y_val = engine.checked_Y(validation_data[1], len(X_val))
        if len(X_val) == 0:
            raise ValueError("it has no rows")
        weights = None if class_weight is None else class_weight_of_rows(
            class_weight, Y_val, engine.loss)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"validation_data: {exc}") from None
    return ValidationSet(X_val, Y_val, weights)


def fit_rows(engine: Any, X: np.ndarray, Y: np.ndarray, weights: Optional[np.ndarray],
             class_weight: Any, validation_data: Any, validation_fraction: float,
             rng_state: int) -> Tuple[FitRows, int]:
    """The training and validation rows of a fit, and the stream state after the draws of
    validation_fraction (X and Y already checked)."""
    fraction = check.real_in(validation_fraction, "validation_fraction", 0.0, 1.0)
    if validation_data is not None and fraction > 0:
        raise ValueError("give validation_data or validation_fraction > 0, not both")
    if validation_data is not None:
        return FitRows(X, Y, weights, checked_validation_data(engine, validation_data,
                                                              class_weight)), rng_state
    if fraction == 0:
        return FitRows(X, Y, weights, None), rng_state
    train, held, rng_state = hold_out(Y, engine.loss, fraction, rng_state)
    if len(held) == 0 or len(train) == 0:
        raise ValueError(f"validation_fraction {fraction} of {len(Y)} rows holds out "
                         f"{len(held)} rows and leaves {len(train)} to train on: both need "
                         f"at least one")

    def rows(values, chosen):
        return None if values is None else np.ascontiguousarray(values[chosen])
    validation = ValidationSet(rows(X, held), rows(Y, held), rows(weights, held))
    return FitRows(rows(X, train), rows(Y, train), rows(weights, train), validation), rng_state


class EarlyStopping:
    """The watch over the validation loss of a run: the best epoch so far (strictly lowest
    loss), the epochs since, and what the run had at the best epoch (params, stream state).

    update(epoch, loss, params, rng_state) keeps a copy of params at a new best; stop is true
    once `patience` epochs in a row brought none.
    """

    def __init__(self, patience: int) -> None:
        self.patience = check.positive_int(patience, "patience")
        self.best_loss, self.best_epoch, self.waited = math.inf, -1, 0
        self.best_params: Optional[np.ndarray] = None
        self.best_rng_state = 0

    def update(self, epoch: int, loss: float, params: np.ndarray, rng_state: int) -> None:
        if loss < self.best_loss:
            self.best_loss, self.best_epoch, self.waited = loss, epoch, 0
            self.best_params, self.best_rng_state = params.copy(), rng_state
        else:
            self.waited += 1

    @property
    def stop(self) -> bool:
        return self.waited >= self.patience
