"""The arguments of a fit beyond its settings (docs/semantics.md, "Validation, early stopping,
class weights"): weights, validation rows, early stopping and the L-BFGS iteration bound,
checked before anything is trained."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .. import _validation as check
from .training import Trainer
from .validation import FitRows, fit_rows, fit_weights


@dataclass(frozen=True)
class FitOptions:
    """sample_weight, class_weight, validation_data, validation_fraction, early_stopping,
    patience, restore_best and max_iter of one fit call (MLP.fit documents them)."""

    sample_weight: Any = None
    class_weight: Any = None
    validation_data: Any = None
    validation_fraction: float = 0.0
    early_stopping: bool = False
    patience: int = 10
    restore_best: bool = True
    max_iter: Optional[int] = None

    @property
    def used(self) -> bool:
        """True when any option asks for more than a plain run."""
        return (self.sample_weight is not None or self.class_weight is not None
                or self.validation_data is not None or self.validation_fraction != 0.0
                or self.early_stopping)

    def check(self, lbfgs: bool, epochs: int) -> None:
        """The checks that need no data: types, ranges and combinations."""
        check.positive_int(epochs, "epochs")
        check.flag(self.early_stopping, "early_stopping")
        check.flag(self.restore_best, "restore_best")
        check.positive_int(self.patience, "patience")
        fraction = check.real_in(self.validation_fraction, "validation_fraction", 0.0, 1.0)
        if self.validation_data is not None and fraction > 0:
            raise ValueError("give validation_data or validation_fraction > 0, not both")
        if self.early_stopping and self.validation_data is None and fraction == 0:
            raise ValueError("early_stopping watches the validation loss: give "
                             "validation_data or validation_fraction > 0")
        if self.max_iter is not None:
            if not lbfgs:
                raise ValueError("max_iter bounds the iterations of optimizer='lbfgs'; sgd "
                                 "and adam train `epochs` epochs")
            check.positive_int(self.max_iter, "max_iter")

    def rows(self, trainer: Trainer, X: Any, y: Any) -> FitRows:
        """The training and validation rows; the draws of validation_fraction advance the
        trainer's stream."""
        engine = trainer.engine
        X = engine.checked_X(X)
        Y = engine.checked_Y(y, X.shape[0])
        weights = fit_weights(engine, Y, self.sample_weight, self.class_weight)
        rows, trainer.rng_state = fit_rows(engine, X, Y, weights, self.class_weight,
                                           self.validation_data, self.validation_fraction,
                                           trainer.rng_state)
        if rows.weights is not None:
            rows.weights = np.ascontiguousarray(rows.weights, dtype=np.float64)
        return rows
