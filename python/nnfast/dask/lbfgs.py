"""The L-BFGS driver: scipy's L-BFGS-B over a loss-and-gradient function, in one place.

nnfast.dask's distributed fit and a single-process fit over the same objective call this one
function, so both take the same steps from the same loss and gradient: the only difference
between them is how the objective sums its rows.
"""
from typing import Callable, NamedTuple, Optional, Tuple

import numpy as np
import scipy.optimize

Objective = Callable[[np.ndarray], Tuple[float, np.ndarray]]


class LBFGSResult(NamedTuple):
    """What a run of minimize_lbfgs ends with."""
    params: np.ndarray   # float64, the last point scipy accepted
    loss: float          # the objective there
    iterations: int      # iterations run
    converged: bool      # scipy's status 0: a tolerance was met before max_iter
    message: str         # scipy's words for how it stopped


def minimize_lbfgs(objective: Objective, x0: np.ndarray, max_iter: int, tol: float = 0.0,
                   on_iteration: Optional[Callable[[int, float, np.ndarray], bool]] = None
                   ) -> LBFGSResult:
    """Minimize objective(x) -> (loss, gradient) from x0 by scipy's L-BFGS-B.

    Parameters
    ----------
    objective : callable(x float64 ndarray) -> (float, float64 ndarray of x's shape)
    x0 : ndarray, the start (copied, as float64)
    max_iter : int, the most iterations (a fixed count when tol is 0)
    tol : float >= 0, scipy's gtol and ftol: stop when the projected gradient or the relative
        decrease of the loss falls below it (0: run max_iter iterations unless the line search
        can make no progress)
    on_iteration : callable(iteration, loss, x) -> bool, optional
        Called after each iteration (0-based) with the loss at the new point x; a true return
        stops the run there.
    """
    iterations = 0

    def callback(intermediate_result):
        nonlocal iterations
        iterations += 1
        if on_iteration is not None and on_iteration(iterations - 1,
                                                     float(intermediate_result.fun),
                                                     intermediate_result.x):
            raise StopIteration
    result = scipy.optimize.minimize(
        objective, np.array(x0, dtype=np.float64), method="L-BFGS-B", jac=True,
        callback=callback, options={"maxiter": max_iter, "maxfun": 20 * max_iter + 20,
                                    "gtol": tol, "ftol": tol})
    return LBFGSResult(np.asarray(result.x, dtype=np.float64), float(result.fun),
                       int(result.nit), result.status == 0, str(result.message))


def lbfgs_in_process(model, X, y, *, max_iter: int = 100, alpha: float = 0.0,
                     tol: float = 0.0, sample_weight=None) -> LBFGSResult:
    """Full-batch L-BFGS of `model` on data in this process, committed to the model: the
    single-process counterpart of nnfast.dask.fit(solver="lbfgs") (the same driver, the loss
    and gradient of all the rows in one call)."""
    from ..models.training import FitSettings, diverged

    trainer = model.trainer(FitSettings(alpha=alpha))

    def objective(x):
        trainer.params[...] = x
        loss, gradient = trainer.loss_gradient(X, y, sample_weight)
        return loss, gradient.astype(np.float64)

    curve: list = []

    def record(iteration, loss, x):
        curve.append(loss)
        return False

    result = minimize_lbfgs(objective, trainer.params.copy(), max_iter, tol, record)
    if not (np.all(np.isfinite(result.params)) and np.isfinite(result.loss)):
        raise diverged("L-BFGS reached a non-finite loss or weight")
    trainer.params[...] = result.params
    trainer.loss_curve = curve
    trainer.commit()
    return result
