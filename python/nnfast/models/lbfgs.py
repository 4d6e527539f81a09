"""Full-batch L-BFGS: SciPy's L-BFGS-B over any loss whose gradient comes in the same call.

``minimize_lbfgs(loss_and_gradient, start, max_iter)`` is the driver ``MLP.fit(...,
optimizer="lbfgs")`` runs (with the core's loss and gradient, Trainer.loss_gradient); any
other code with a ``params -> (loss, gradient)`` callable can run it too. SciPy is optional:
without it the driver raises an ImportError naming the extra that installs it.

While SciPy runs, the BLAS libraries it and NumPy load run at one thread (threadpoolctl, when
installed: the ``lbfgs`` extra brings it). L-BFGS-B calls SciPy's OpenBLAS for small vector
work, and OpenBLAS's idle threads spin after each call: beside another CPU-bound process they
took the core the fit's own threads needed. A digits-sized fit (1347 x 64 -> 64 -> 10, 200
iterations) beside a busy loop took 0.03-0.12 s; at one BLAS thread 0.019-0.030 s (Zen 5 KVM
guest, 2 cores, two runs of 6 fits each).
"""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Tuple

import numpy as np

LossAndGradient = Callable[[np.ndarray], Tuple[float, np.ndarray]]

INSTALL_HINT = ("optimizer='lbfgs' needs SciPy: pip install 'nnfast[lbfgs]' "
                "(or pip install scipy)")


@dataclass
class LBFGSResult:
    """What an L-BFGS run ends with.

    Attributes
    ----------
    params : ndarray (float64)
        The last iterate.
    loss : float
        The loss there.
    n_iter : int
        Iterations run.
    converged : bool
        True when SciPy stopped on its gradient or loss tolerance (not on max_iter, the
        evaluation limit, a failed line search or a callback).
    loss_curve : list of float
        The loss after each iteration.
    message : str
        SciPy's reason for stopping.
    """

    params: np.ndarray
    loss: float
    n_iter: int
    converged: bool
    loss_curve: List[float]
    message: str


@dataclass
class Point:
    """A point of the run and its loss."""

    x: np.ndarray
    loss: float


def scipy_minimize():
    """scipy.optimize.minimize, or the ImportError that names the extra to install."""
    try:
        from scipy.optimize import minimize
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return minimize


class _BlasAtOneThread:
    """The loaded BLAS libraries at one thread while any run holds it; the first run in sets
    the limit, the last one out restores the counts (runs in several Python threads overlap)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._controller: Any = None
        self._limiter: Any = None
        self._holders = 0

    def _start(self) -> None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return
        if self._controller is None:  # ~5 ms: the libraries are found once (SciPy's loaded)
            self._controller = ThreadpoolController()
        self._limiter = self._controller.limit(limits=1, user_api="blas")

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._start()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._limiter is not None:
                    self._limiter.restore_original_limits()
                    self._limiter = None


BLAS_AT_ONE_THREAD = _BlasAtOneThread()


def minimize_lbfgs(loss_and_gradient: LossAndGradient, start: np.ndarray, max_iter: int, *,
                   tol: float = 1e-5, ftol: Optional[float] = None, max_fun: int = 15000,
                   callback: Optional[Callable[[int, float, np.ndarray], bool]] = None
                   ) -> LBFGSResult:
    """Minimize loss_and_gradient from start by L-BFGS-B (no bounds), at most max_iter
    iterations.

    Parameters
    ----------
    loss_and_gradient : callable(params) -> (float, ndarray)
        The loss and its gradient at params (float64, shaped as start), in one call.
    start : ndarray of shape (n,)
    max_iter : int >= 1
    tol : float
        SciPy's gtol (the largest gradient entry at which it stops).
    ftol : float, optional
        SciPy's ftol (the relative decrease of the loss at which it stops); None keeps
        SciPy's default. tol = ftol = 0 runs max_iter iterations unless the line search can
        make no progress.
    max_fun : int
        The most loss evaluations (line searches evaluate more than once per iteration).
    callback : callable(iteration, loss, params) -> bool, optional
        Called after each iteration (0-based) with its iterate; a true return stops the run.
    """
    minimize = scipy_minimize()
    # the last point evaluated (at an iteration's end, the iterate) and the last iterate
    last = Point(np.array(start, dtype=np.float64), np.nan)
    accepted = Point(last.x, np.nan)
    curve: List[float] = []

    def objective(x):
        loss, gradient = loss_and_gradient(x)
        last.x, last.loss = x.copy(), float(loss)
        return float(loss), np.asarray(gradient, dtype=np.float64)

    def on_iteration(xk):
        loss = last.loss if np.array_equal(xk, last.x) else objective(xk)[0]
        curve.append(loss)
        accepted.x, accepted.loss = np.array(xk, dtype=np.float64), loss
        if callback is not None and callback(len(curve) - 1, loss, xk):
            raise StopIteration  # SciPy >= 1.11 ends the run; an older one lets it through

    try:
        with BLAS_AT_ONE_THREAD.held():
            result = minimize(objective, np.array(start, dtype=np.float64), method="L-BFGS-B",
                              jac=True, callback=on_iteration,
                              options={"maxiter": max_iter, "maxfun": max_fun, "gtol": tol,
                                       **({} if ftol is None else {"ftol": ftol})})
    except StopIteration:
        return LBFGSResult(accepted.x, accepted.loss, len(curve), False, curve,
                           "stopped by the callback")
    return LBFGSResult(np.asarray(result.x, dtype=np.float64), float(result.fun),
                       int(result.nit), result.status == 0, curve, str(result.message))
