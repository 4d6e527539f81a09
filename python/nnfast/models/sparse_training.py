"""Training on sparse X without densifying it: the training handle's epochs, full-batch loss
and gradient (L-BFGS) and validation loss for X in CSR (CSC and other scipy formats are
converted to CSR, as scikit-learn does).

Each batch is a list of row numbers into the CSR matrix (the rows are never copied out, let
alone densified): the core's csr_loss_gradient (sparse.c) computes the batch's loss and
gradient -- the first layer by its CSR kernels, the other layers, the loss, its delta and the
L2 term by the dense kernels -- and the optimizer step is the core's sgd_update or
adam_update, the same step the dense epoch takes. Batches, loss curve, sample weights and the
divergence error follow docs/semantics.md ("Training", "Sample weights"): a run equals the
dense one on the same rows to rounding (the sums over a row's nonzeros run in storage order).
Memory: the parameters, their gradient and the optimizer state, plus one batch's activations.
"""
from typing import Any, List, Optional, Tuple

import numpy as np

from .. import _core, _sparse
from .. import _validation as check
from .parameters import split_parameters
from .training import CheckedRows, diverged, loss_diverged
from .validation import ValidationSet


def sparse_rows(X: Any) -> bool:
    """X is a scipy.sparse matrix, or one already checked into the core's CSR."""
    return isinstance(X, _sparse.CSR) or _sparse.issparse(X)


class SparseRowsTrainer:
    """A training handle (nnfast.models.training.Trainer) that also takes sparse X.

    Dense X goes to the handle as it is; sparse X (epoch, loss_gradient, validation_loss, and
    the engine's checked_X for validation rows) is trained here on the handle's parameters,
    learning rate, optimizer state and settings. Every other attribute is the handle's.
    """

    def __init__(self, trainer: Any, dropout: Any = None) -> None:
        object.__setattr__(self, "_trainer", trainer)
        object.__setattr__(self, "engine", SparseRowsEngine(trainer.engine))
        object.__setattr__(self, "_dropout", bool(dropout) and any(dropout))

    @classmethod
    def on_model(cls, model: Any, settings: Any) -> "SparseRowsTrainer":
        """The handle of an MLP made for one fit (nnfast.sklearn's), on the model's own
        parameter vector rather than a copy (MLP.trainer's): the weights of a fit are held
        once, in the handle."""
        return cls(model._engine.trainer(model._params, settings, model._rng_state,
                                         model._commit_training), model.dropout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trainer, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._trainer, name, value)

    # ---- the handle's methods, for sparse X ------------------------------------------------

    def rows(self, X: Any, Y: Any, sample_weight: Optional[Any] = None) -> CheckedRows:
        """Trainer.rows; for sparse X its CSR rows, targets and weights, checked once."""
        if not sparse_rows(X):
            return self._trainer.rows(X, Y, sample_weight)
        refuse_bfloat16(self.engine)
        rows = self.engine.checked_X(X)
        return CheckedRows(rows, *self._targets(rows, Y, sample_weight))

    def epoch(self, X: Any, Y: Any = None, order: Optional[Any] = None,
              sample_weight: Optional[Any] = None) -> float:
        """Trainer.epoch; for sparse X, batch by batch on its CSR rows."""
        checked = isinstance(X, CheckedRows)
        if not sparse_rows(X.X if checked else X):
            return float(self._trainer.epoch(X, Y, order, sample_weight))
        refuse_bfloat16(self.engine)
        if self._dropout:
            raise ValueError("dropout is applied to dense X only: train on X.toarray() or "
                             "use dropout=0 with sparse X")
        trainer = self._trainer
        if checked:  # rows() checked them
            rows, Y, sample_weight = X.X, X.Y, X.sample_weight
        else:
            rows = self.engine.checked_X(X)
            Y, sample_weight = self._targets(rows, Y, sample_weight)
        n = rows.shape[0]
        settings = trainer.settings
        if order is not None:
            if settings.shuffle:
                raise ValueError("order chooses the rows' order, so it needs shuffle=False "
                                 "in the settings")
            order = check.row_order(order, n)
        elif settings.shuffle:
            order = np.arange(n, dtype=np.int64)
            trainer.rng_state = _core.rng_permutation(order, trainer.rng_state)
        else:
            order = np.arange(n, dtype=np.int64)
        batch = settings.rows_per_batch(n)
        params = trainer.params
        grads = np.empty_like(params)
        step = OptimizerStep(trainer, params)
        # the reported loss's L2 weight (FitSettings.loss_alpha) where it is not alpha: each
        # batch's loss gets (loss_alpha - alpha) / 2 sum W^2 / S more, at the weights it saw
        extra_alpha = 0.0 if settings.loss_alpha is None else settings.loss_alpha - settings.alpha
        weights_of = split_parameters(params, self.engine.layers)[0] if extra_alpha else ()
        total = 0.0
        for start in range(0, n, batch):
            batch_rows = order[start:start + batch]
            weights = None if sample_weight is None else sample_weight[batch_rows]
            if weights is not None and not weights.sum() > 0:
                raise ValueError("the sample weights of a batch sum to zero")
            loss = _core.csr_loss_gradient(params, self.engine.net, rows.indptr, rows.indices,
                                           rows.data, batch_rows,
                                           np.ascontiguousarray(Y[batch_rows]),
                                           settings.alpha, grads, weights)
            if extra_alpha and np.isfinite(loss):
                squares = sum(float(np.dot(W.ravel(), W.ravel())) for W in weights_of)
                total_weight = len(batch_rows) if weights is None else float(weights.sum())
                loss += extra_alpha / 2 * squares / total_weight
            if not np.isfinite(loss):
                step.save()
                raise loss_diverged(trainer.epochs_done + 1)
            total += loss * len(batch_rows)
            step(grads)
        step.save()
        if not np.isfinite(params).all():
            raise diverged(f"a parameter became non-finite in epoch {trainer.epochs_done + 1}")
        trainer.epochs_done += 1
        trainer.loss_curve.append(total / n)
        return total / n

    def run(self, X: Any, Y: Any, epochs: int, report: Optional[Any] = None,
            sample_weight: Optional[Any] = None, validation: Optional[ValidationSet] = None,
            patience: Optional[int] = None, restore_best: bool = True) -> List[float]:
        """Trainer.run; for sparse X epoch by epoch here (report(epoch, loss) after each, a
        true return stops the run), without validation rows."""
        if isinstance(X, CheckedRows) and sparse_rows(X.X):  # fit's rows, checked once
            X, Y, sample_weight = X.X, X.Y, X.sample_weight
        if not sparse_rows(X):
            return list(self._trainer.run(X, Y, epochs, report, sample_weight, validation,
                                          patience, restore_best))
        refuse_validation(validation, patience)
        curve: List[float] = []
        for epoch in range(check.positive_int(epochs, "epochs")):
            curve.append(self.epoch(X, Y, None, sample_weight))
            if report is not None and report(epoch, curve[-1]):
                break
        return curve

    def run_lbfgs(self, X: Any, Y: Any, max_iter: int, report: Optional[Any] = None,
                  sample_weight: Optional[Any] = None,
                  validation: Optional[ValidationSet] = None, patience: Optional[int] = None,
                  restore_best: bool = True) -> List[float]:
        """Trainer.run_lbfgs; for sparse X on its CSR rows, without validation rows."""
        if not sparse_rows(X):
            return list(self._trainer.run_lbfgs(X, Y, max_iter, report, sample_weight,
                                                validation, patience, restore_best))
        from .lbfgs import minimize_lbfgs

        refuse_validation(validation, patience)
        trainer, params = self._trainer, self.params
        rows = self.engine.checked_X(X)
        Y, sample_weight = self._targets(rows, Y, sample_weight)
        gradient = np.zeros_like(params)

        def loss_and_gradient(x: np.ndarray) -> Tuple[float, np.ndarray]:
            params[...] = x.astype(params.dtype, copy=False)
            loss = _core.csr_loss_gradient(params, self.engine.net, rows.indptr, rows.indices,
                                           rows.data, None, Y, self.settings.alpha, gradient,
                                           sample_weight)
            return loss, gradient.astype(np.float64)

        def each_iteration(iteration: int, loss: float, x: np.ndarray) -> bool:
            params[...] = x.astype(params.dtype, copy=False)
            trainer.epochs_done += 1
            trainer.loss_curve.append(loss)
            return bool(report is not None and report(iteration, loss))

        with np.errstate(over="ignore", invalid="ignore"):
            result = minimize_lbfgs(loss_and_gradient, params.astype(np.float64),
                                    check.positive_int(max_iter, "max_iter"),
                                    callback=each_iteration)
        if not (np.isfinite(result.loss) and check.all_finite(result.params)):
            raise diverged("L-BFGS reached a non-finite loss or weight")
        params[...] = result.params.astype(params.dtype, copy=False)
        trainer.converged = result.converged
        return list(result.loss_curve)

    def forward(self, X: Any) -> np.ndarray:
        """Trainer.forward; for sparse X on its CSR rows."""
        if not sparse_rows(X):
            return self._trainer.forward(X)
        return _sparse.forward(self.engine.net, self.params, self.engine.checked_X(X))

    def loss_gradient(self, X: Any, Y: Any,
                      sample_weight: Optional[Any] = None) -> Tuple[float, np.ndarray]:
        """Trainer.loss_gradient; for sparse X, on all of its CSR rows."""
        if not sparse_rows(X):
            return self._trainer.loss_gradient(X, Y, sample_weight)
        rows = self.engine.checked_X(X)
        Y, sample_weight = self._targets(rows, Y, sample_weight)
        gradient = np.zeros_like(self.params)
        loss = _core.csr_loss_gradient(self.params, self.engine.net, rows.indptr,
                                       rows.indices, rows.data, None, Y,
                                       self.settings.alpha, gradient, sample_weight)
        return loss, gradient

    def validation_loss(self, validation: ValidationSet) -> float:
        """Trainer.validation_loss; for CSR validation rows, without densifying them."""
        X = validation.X
        if not isinstance(X, _sparse.CSR):
            return float(self._trainer.validation_loss(validation))
        return float(_core.csr_loss_gradient(self.params, self.engine.net, X.indptr, X.indices,
                                             X.data, None, validation.Y, 0.0, None,
                                             validation.weights))

    def _targets(self, rows: "_sparse.CSR", Y: Any,
                 sample_weight: Optional[Any]) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """The targets and weights of the rows, checked as the handle checks them."""
        Y = self.engine.checked_Y(Y, rows.shape[0])
        if sample_weight is not None:
            sample_weight = check.as_vector(sample_weight, "sample_weight", np.float64,
                                            rows.shape[0])
            if sample_weight.min() < 0 or sample_weight.sum() <= 0:
                raise ValueError("sample_weight must be >= 0 with a positive sum")
        return Y, sample_weight


NO_VALIDATION = ("validation rows and early stopping with sparse X are nnfast.sklearn's MLPs' "
                 "(early_stopping=True); MLP.fit trains sparse X without them")


def refuse_validation(validation: Optional[ValidationSet], patience: Optional[int]) -> None:
    if validation is not None or patience is not None:
        raise ValueError(NO_VALIDATION)


def refuse_bfloat16(engine: Any) -> None:
    """Sparse X trains with the float32 products of its CSR kernels: bfloat16 ones are the
    dense GEMM's."""
    if getattr(engine, "products", "native") == "bfloat16":
        raise ValueError("dtype='bfloat16' trains dense X only (its products are dense GEMMs); "
                         "pass X.toarray(), or use dtype='float32' for sparse X")


def sparse_fit_trainer(trainer: Any, model: Any, options: Any) -> SparseRowsTrainer:
    """MLP.fit's training handle for sparse X: the native backend, no validation rows."""
    if model.backend != "native":
        raise ValueError("sparse X needs the native backend (the reference reads lists)")
    refuse_bfloat16(trainer.engine)
    if (options.validation_data is not None or options.validation_fraction != 0.0
            or options.early_stopping):
        raise ValueError(NO_VALIDATION)
    return SparseRowsTrainer(trainer, model.dropout)


class SparseRowsEngine:
    """The handle's engine, whose checked_X keeps sparse X sparse (as a checked CSR)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def checked_X(self, X: Any) -> Any:
        if isinstance(X, _sparse.CSR):
            return X
        if _sparse.issparse(X):
            return _sparse.as_csr(X, self._engine.dtype, self._engine.layers[0])
        return self._engine.checked_X(X)


class OptimizerStep:
    """One optimizer step per batch on params, the handle's optimizer state carried in and
    (save) out: sgd's velocity, or adam's moments and step count."""

    def __init__(self, trainer: Any, params: np.ndarray) -> None:
        self.trainer, self.params = trainer, params
        self.settings, self.lr = trainer.settings, trainer.lr
        state = trainer.state
        if state is None:
            zeros = np.zeros_like(params)
            adam = self.settings.optimizer == "adam"
            state = (zeros, np.zeros_like(params) if adam else None, 0)
        first, second, t = state
        # updated in place (no copy of a state as large as the parameters), saved back
        self.first = np.require(first, params.dtype, ["C", "W"])
        self.second = None if second is None else np.require(second, params.dtype, ["C", "W"])
        self.t = int(t)

    def __call__(self, grads: np.ndarray) -> None:
        s = self.settings
        if s.optimizer == "adam" and self.second is not None:  # adam always has its second
            self.t += 1
            _core.adam_update(self.params, self.first, self.second, grads, self.t, self.lr,
                              s.beta1, s.beta2, s.epsilon)
        else:
            _core.sgd_update(self.params, self.first, grads, self.lr, s.momentum,
                             bool(s.nesterov))

    def save(self) -> None:
        self.trainer.state = (self.first, self.second, self.t)
