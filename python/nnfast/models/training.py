"""Training: the settings of a fit in one record, and the handle that runs its epochs.

Every way of training a network goes through here: ``MLP.fit``, ``Perceptron.fit`` (sigmoid),
``nnfast.sklearn``'s MLPs and ``nnfast train``. The settings are checked once, when the
record is made; the handle (``MLP.trainer(settings)``) carries what lives from epoch to
epoch: the working parameters, the learning rate, the optimizer state and the random stream.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from .. import _core
from .. import _validation as check
from ..vocabulary import OPTIMIZER_NAMES, choose
from .curves import LossCurve
from .validation import EarlyStopping, ValidationSet

# (state1, state2 or None, step): sgd velocity; adam moments and step count
OptimizerState = Tuple[np.ndarray, Optional[np.ndarray], int]


@dataclass(frozen=True)
class FitSettings:
    """How to train, beyond the data and the number of epochs (docs/semantics.md, "Training").

    Parameters
    ----------
    optimizer : {"sgd", "adam"}
    lr : float > 0
        The learning rate (a Trainer's ``lr`` changes it between epochs).
    momentum : float in [0, 1)
        sgd only.
    nesterov : bool
        sgd only.
    beta1, beta2 : float in [0, 1)
        adam's decay rates of the first and second moment.
    epsilon : float > 0
        adam's denominator guard.
    alpha : float >= 0
        L2 penalty: alpha / 2 * sum(W^2) / batch rows.
    loss_alpha : float > 0 or None
        The L2 weight of the reported epoch losses (``epoch``'s value, ``loss_curve``): each
        batch's loss adds loss_alpha / 2 * sum(W^2) / batch rows while the gradient keeps
        alpha's term. None (the default) is alpha: the loss whose gradient trains. For a
        caller that reports another loss than it differentiates (nnfast.sklearn's
        MLPRegressor with several outputs reports scikit-learn's).
    batch_size : int >= 1 or None
        Rows per update; None is the full batch; larger than the data is clipped to it.
    shuffle : bool
        A fresh order of the rows each epoch, drawn from the model's random stream.

    Raises
    ------
    ValueError, TypeError
        For a value out of range or of the wrong type, naming the setting.
    """

    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    alpha: float = 0.0
    batch_size: Optional[int] = None
    shuffle: bool = True
    loss_alpha: Optional[float] = None

    def __post_init__(self) -> None:
        checked = {
            "batch_size": check.positive_int(self.batch_size, "batch_size", allow_none=True),
            "lr": check.real_in(self.lr, "lr", 0.0, low_open=True),
            "optimizer": choose(self.optimizer, OPTIMIZER_NAMES, "optimizer"),
            "momentum": check.real_in(self.momentum, "momentum", 0.0, 1.0),
            "nesterov": check.flag(self.nesterov, "nesterov"),
            "alpha": check.real_in(self.alpha, "alpha", 0.0),
            "loss_alpha": None if self.loss_alpha is None
            else check.real_in(self.loss_alpha, "loss_alpha", 0.0, low_open=True),
            "shuffle": check.flag(self.shuffle, "shuffle"),
            "beta1": check.real_in(self.beta1, "beta1", 0.0, 1.0),
            "beta2": check.real_in(self.beta2, "beta2", 0.0, 1.0),
            "epsilon": check.real_in(self.epsilon, "epsilon", 0.0, low_open=True),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def rows_per_batch(self, n_samples: int) -> int:
        """The batch size for n_samples rows: batch_size clipped to 1..n_samples."""
        return min(self.batch_size or n_samples, n_samples)


def diverged(what: str) -> FloatingPointError:
    """The error of a run that diverged (`what` became infinite or NaN): the one wording
    every face of nnfast reports, from MLP.fit to nnfast.sklearn and nnfast train."""
    return FloatingPointError(f"training diverged: {what}; the model is left as it was "
                              "before fit; try a smaller lr (or scale the input)")


def loss_diverged(epoch: int) -> FloatingPointError:
    """diverged() for a loss that became infinite or NaN in 1-based `epoch` of the run."""
    return diverged(f"the loss became non-finite (infinite or NaN) in epoch {epoch}")


@dataclass(frozen=True)
class CheckedRows:
    """Training rows as ``Trainer.rows`` checked them: X (n_samples, n_inputs) and the target
    matrix Y (n_samples, n_outputs) of the network's dtype, sample_weight float64 or None."""

    X: np.ndarray
    Y: np.ndarray
    sample_weight: Optional[np.ndarray] = None


class Trainer:
    """The handle of one training run on a network (made by ``MLP.trainer``).

    It trains ``params``, a copy of the model's parameters, epoch by epoch: the model
    itself changes only at ``commit()``, so an error or an interrupt leaves it as it was.
    The core's buffers are allocated at the first epoch (again if the number of rows
    changes, keeping the optimizer state).

    Attributes
    ----------
    params : ndarray of shape (n_params,)
        The working parameters W0, b0, W1, b1, ... (trained in place).
    settings : FitSettings
    rng_state : int
        The random stream's state: shuffling draws from it.
    epochs_done : int
        Epochs trained so far by this handle.
    loss_curve : list of float
        The loss of each epoch (L-BFGS: each iteration) trained by this handle (kept as the
        core's float64 array until read here: ``loss_curve_array()`` reads it without a list).
    validation_loss_curve : list of float or None
        The validation loss after each epoch of a run with validation rows.
    best_epoch : int or None
        The 0-based epoch of the lowest validation loss.
    converged : bool or None
        Whether the last run_lbfgs converged (None before one).
    """

    def __init__(self, engine: Any, params: np.ndarray, settings: FitSettings,
                 rng_state: int, commit: Callable[["Trainer"], None]) -> None:
        if not isinstance(settings, FitSettings):
            raise TypeError(f"settings must be a FitSettings, got {type(settings).__name__}")
        self.engine, self.params, self.settings = engine, params, settings
        self.rng_state, self.epochs_done = rng_state, 0
        # the losses so far: a list, or the float64 array of the core while nothing else is
        # appended (a whole run in one call never becomes a list unless someone reads it)
        self._loss_curve: Union[List[float], np.ndarray] = []
        # the validation loss after each epoch and the epoch of its lowest value, when the
        # run has validation rows (docs/semantics.md, "Validation, early stopping, ...")
        self.validation_loss_curve: Optional[List[float]] = None
        self.best_epoch: Optional[int] = None
        self.converged: Optional[bool] = None  # set by run_lbfgs: whether SciPy converged
        self._commit = commit
        self._lr = settings.lr
        self._core: Any = None  # the binding's Trainer, for the current number of rows
        self._pending_state: Optional[OptimizerState] = None

    # ---- what carries from epoch to epoch --------------------------------------------------

    @property
    def loss_curve(self) -> List[float]:
        """list of float: the loss of each epoch so far (the list itself: appending to it
        records another epoch's loss)."""
        curve = self._loss_curve
        if not isinstance(curve, list):
            curve = self._loss_curve = curve.tolist()
        return curve

    @loss_curve.setter
    def loss_curve(self, values: List[float]) -> None:
        self._loss_curve = values

    def loss_curve_array(self) -> np.ndarray:
        """The loss of each epoch so far as a read-only float64 array (no copy of the core's
        array after a run of one call)."""
        curve = self._loss_curve
        if not isinstance(curve, np.ndarray) or curve.dtype != np.float64:
            curve = np.array(curve, dtype=np.float64).reshape(-1)
            self._loss_curve = curve
        curve.flags.writeable = False  # never written in place: _train makes a new array
        return curve

    @property
    def lr(self) -> float:
        """float > 0: the learning rate of the next epochs (set it for a schedule)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = check.real_in(value, "lr", 0.0, low_open=True)
        if self._core is not None:
            self._core.lr = self._lr

    @property
    def state(self) -> Optional[OptimizerState]:
        """(state1, state2 or None, step), copies: sgd velocity, or adam moments and step
        count; None before the first epoch unless set. Setting it continues another run
        (same optimizer, dtype and network; checked when the core gets it, at the latest at
        the first epoch)."""
        if self._core is None:
            return self._pending_state
        return self._core.get_optimizer_state()

    @state.setter
    def state(self, value: OptimizerState) -> None:
        if self._core is None:
            self._pending_state = value
        else:
            self._core.set_optimizer_state(*value)

    # ---- epochs ----------------------------------------------------------------------------

    def rows(self, X: npt.ArrayLike, Y: npt.ArrayLike,
             sample_weight: Optional[npt.ArrayLike] = None) -> CheckedRows:
        """X, Y and sample_weight checked (and converted) once, for epochs that take them
        without checking them again: ``epoch(rows, order=...)``. They are the arrays the core
        reads (the caller's own where no conversion was needed): values changed after the
        check are not checked again."""
        return CheckedRows(*self._inputs(X, Y, sample_weight))

    def _inputs(self, X, Y, sample_weight):
        if isinstance(X, CheckedRows):
            if Y is not None or sample_weight is not None:
                raise ValueError("checked rows carry their own Y and sample_weight: pass "
                                 "them to rows(), not with the rows")
            return X.X, X.Y, X.sample_weight
        X = self.engine.checked_X(X)
        Y = self.engine.checked_Y(Y, len(X))
        if sample_weight is not None:
            sample_weight = check.as_vector(sample_weight, "sample_weight", np.float64, len(X))
            if sample_weight.min() < 0 or sample_weight.sum() <= 0:
                raise ValueError("sample_weight must be >= 0 with a positive sum")
        return X, Y, sample_weight

    def _core_trainer(self, n_samples: int) -> Any:
        """The binding's trainer for n_samples rows, keeping the optimizer state."""
        if self._core is None or self._core.n_samples != n_samples:
            state = self.state
            self._core = _core.Trainer(self.engine.net, self.engine.dtype, n_samples,
                                       self.settings.rows_per_batch(n_samples), self.settings,
                                       self.engine.products)
            self._core.lr = self._lr
            if state is not None:
                self._core.set_optimizer_state(*state)
        return self._core

    def _train(self, X, Y, epochs, sample_weight=None, order=None):
        """`epochs` epochs in one call into the core (the rows in `order`, checked, when
        given); the loss of each."""
        try:
            curve, self.rng_state = self._core_trainer(len(X)).epochs(
                self.params, X, Y, self.rng_state, epochs, sample_weight, order)
        except FloatingPointError as exc:
            raise loss_diverged(self.epochs_done + getattr(exc, "epochs_done", 0) + 1) from None
        self.epochs_done += epochs
        self._extend_curve(curve)
        return curve

    def _extend_curve(self, curve: np.ndarray) -> None:
        """Append a run's losses (float64 array) to the curve, without making Python floats
        of them unless the curve already is a list."""
        if isinstance(self._loss_curve, list) and not self._loss_curve:
            self._loss_curve = curve
        else:  # epoch by epoch: a list, appended to in place
            self.loss_curve.extend(curve.tolist())

    def epoch(self, X: Union[npt.ArrayLike, CheckedRows], Y: Optional[npt.ArrayLike] = None,
              order: Optional[npt.ArrayLike] = None,
              sample_weight: Optional[npt.ArrayLike] = None) -> float:
        """Train one epoch; return its mean loss (taken batch by batch, before each update).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs), or CheckedRows
            The rows; or what ``rows(X, Y, sample_weight)`` returned, checked once for many
            epochs (Y and sample_weight are then left out).
        Y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets as the model's fit takes them.
        order : array-like of int of shape (n_samples,), optional
            The order the rows are visited in (the caller's shuffle); needs
            ``shuffle=False`` in the settings.
        sample_weight : array-like of shape (n_samples,), optional
            Each row's weight in its batch's mean loss (>= 0, a positive sum per batch).

        Raises
        ------
        FloatingPointError
            When the loss becomes infinite or NaN (``params`` then hold a partial epoch).
        """
        rows, targets, sample_weight = self._inputs(X, Y, sample_weight)
        if order is not None:
            if self.settings.shuffle:
                raise ValueError("order chooses the rows' order, so it needs shuffle=False "
                                 "in the settings")
            # the core gathers each batch's rows in this order, as it does when it shuffles
            order = check.row_order(order, len(rows))
        return float(self._train(rows, targets, 1, sample_weight, order)[0])

    def run(self, X: Union[npt.ArrayLike, CheckedRows], Y: Optional[npt.ArrayLike], epochs: int,
            report: Optional[Callable[[int, float], bool]] = None,
            sample_weight: Optional[npt.ArrayLike] = None,
            validation: Optional[ValidationSet] = None, patience: Optional[int] = None,
            restore_best: bool = True) -> LossCurve:
        """Train `epochs` epochs; return the loss of each (a LossCurve: a read-only sequence
        of float over the core's array). X may be the CheckedRows of ``rows()`` (Y and
        sample_weight None), which are not checked again.

        Without a report or validation rows the whole run is one call into the core (GIL
        released); with them, epoch by epoch: the validation loss of each epoch's weights is
        appended to ``validation_loss_curve``, then report(epoch, loss) is called (0-based) and
        a true return stops the run. With `patience` (early stopping, which needs
        `validation`), the run stops after `patience` epochs without a lower validation loss,
        and with `restore_best` ends with the params and stream state of the best epoch. A
        weight made infinite or NaN by the last update is refused here.
        """
        epochs = check.allocation(check.positive_int(epochs, "epochs"), 8, "epochs")
        X, Y, sample_weight = self._inputs(X, Y, sample_weight)
        if report is None and validation is None:
            curve = self._train(X, Y, epochs, sample_weight)
            curve.flags.writeable = False  # LossCurve keeps it as it is
        else:
            curve = self._run_watched(X, Y, epochs, report, sample_weight, validation,
                                      patience, restore_best)
        # Each epoch's loss is taken before its updates, so the last update is checked here.
        if not check.all_finite(self.params):
            raise diverged("the last update made a weight infinite or NaN")
        return LossCurve(curve)

    def _run_watched(self, X, Y, epochs, report, sample_weight, validation, patience,
                     restore_best):
        """run() epoch by epoch, with the validation loss, early stopping and the report."""
        watch = self._watch(validation, patience)
        curve: List[float] = []
        for epoch in range(epochs):
            curve += self._train(X, Y, 1, sample_weight).tolist()
            stop = self._after_epoch(epoch, validation, watch)
            if report is not None and report(epoch, curve[-1]):
                stop = True
            if stop:
                break
        self._restore_best(watch, restore_best)
        return curve

    @staticmethod
    def _watch(validation, patience):
        """The early-stopping watch of a run with `patience`, else None."""
        if patience is None:
            return None
        if validation is None:
            raise ValueError("early stopping watches the validation loss: give "
                             "validation_data or validation_fraction > 0")
        return EarlyStopping(patience)

    def _after_epoch(self, epoch, validation, watch):
        """The validation loss of the epoch's weights, and the watch's verdict: stop?"""
        if validation is None:
            return False
        self._validate(validation)
        if watch is None:
            return False
        watch.update(epoch, self.validation_loss_curve[-1], self.params, self.rng_state)
        return watch.stop

    def _restore_best(self, watch, restore_best):
        """With early stopping and restore_best: back to the best epoch's params and stream."""
        if watch is not None and restore_best:
            self.params[...] = watch.best_params
            self.rng_state = watch.best_rng_state

    def validation_loss(self, validation: ValidationSet) -> float:
        """The (weighted) mean loss of the validation rows at the working parameters, without
        the L2 term."""
        return float(self.engine.loss_gradient(self.params, validation.X, validation.Y, 0.0,
                                               None, validation.weights))

    def _validate(self, validation: ValidationSet) -> None:
        """Append the validation loss of the working parameters; a non-finite one diverged."""
        loss = self.validation_loss(validation)
        if not np.isfinite(loss):
            raise diverged(f"the validation loss became non-finite (infinite or NaN) after "
                           f"epoch {self.epochs_done}")
        if self.validation_loss_curve is None:
            self.validation_loss_curve = []
        self.validation_loss_curve.append(loss)
        self.best_epoch = int(np.argmin(self.validation_loss_curve))

    def run_lbfgs(self, X: npt.ArrayLike, Y: npt.ArrayLike, max_iter: int,
                  report: Optional[Callable[[int, float], bool]] = None,
                  sample_weight: Optional[npt.ArrayLike] = None,
                  validation: Optional[ValidationSet] = None, patience: Optional[int] = None,
                  restore_best: bool = True) -> List[float]:
        """Full-batch L-BFGS (nnfast.models.lbfgs, SciPy) on the loss of (X, Y) with the
        settings' L2 term, at most max_iter iterations; return the loss after each.

        Each iteration counts as an epoch: its loss is appended to ``loss_curve``, the
        validation loss to ``validation_loss_curve``, early stopping watches it as run()
        does, and report(iteration, loss) is called (a true return stops the run). A run
        that ends non-finite raises FloatingPointError.
        """
        from .lbfgs import minimize_lbfgs

        max_iter = check.positive_int(max_iter, "max_iter")
        X, Y, sample_weight = self._inputs(X, Y, sample_weight)
        watch = self._watch(validation, patience)
        alpha, dtype = self.settings.alpha, self.params.dtype
        gradient = np.zeros_like(self.params)

        def loss_and_gradient(x):
            self.params[...] = x.astype(dtype, copy=False)
            loss = self.engine.loss_gradient(self.params, X, Y, alpha, gradient, sample_weight)
            return loss, gradient.astype(np.float64)

        def each_iteration(iteration, loss, x):
            self.params[...] = x.astype(dtype, copy=False)
            self.epochs_done += 1
            self.loss_curve.append(loss)
            stop = self._after_epoch(iteration, validation, watch)
            return (report is not None and report(iteration, loss)) or stop

        start = self.params.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            result = minimize_lbfgs(loss_and_gradient, start, max_iter, callback=each_iteration)
        if not (np.isfinite(result.loss) and check.all_finite(result.params)):
            raise diverged("L-BFGS reached a non-finite loss or weight")
        self.params[...] = result.params.astype(dtype, copy=False)
        self.converged = result.converged
        self._restore_best(watch, restore_best)
        return result.loss_curve

    def loss_gradient(self, X: npt.ArrayLike, Y: npt.ArrayLike,
                      sample_weight: Optional[npt.ArrayLike] = None) -> Tuple[float, np.ndarray]:
        """What a full-batch optimizer (L-BFGS) minimizes, at the working parameters.

        Returns
        -------
        loss : float
            The (sample_weight-weighted) mean loss of (X, Y) plus the settings' L2 term.
        gradient : ndarray of shape (n_params,)
            Its gradient, laid out as ``params``.
        """
        X, Y, sample_weight = self._inputs(X, Y, sample_weight)
        gradient = np.zeros_like(self.params)
        loss = self.engine.loss_gradient(self.params, X, Y, self.settings.alpha, gradient,
                                         sample_weight)
        return loss, gradient

    def forward(self, X: npt.ArrayLike) -> np.ndarray:
        """Output activations of the working parameters, shape (n_samples, n_outputs)."""
        return self.engine.forward(self.params, self.engine.checked_X(X))

    def commit(self) -> None:
        """Write the working parameters, the stream state and the loss curve into the model."""
        self._commit(self)
