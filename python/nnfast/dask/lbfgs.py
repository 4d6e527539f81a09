"""The single-process counterpart of nnfast.dask.fit(solver="lbfgs"): the same L-BFGS driver
(nnfast.models.lbfgs.minimize_lbfgs, the one MLP.fit(optimizer="lbfgs") runs) over the loss and
gradient of all the rows in one call. The distributed fit and this one take the same steps from
the same loss and gradient: the only difference between them is how the objective sums its rows.
"""
import numpy as np

from ..models.lbfgs import LBFGSResult, minimize_lbfgs


def lbfgs_options(max_iter: int, tol: float) -> dict:
    """The driver's settings both fits use: tol as SciPy's gtol and ftol (0: a fixed count of
    iterations), and room for the line searches' extra evaluations."""
    return dict(tol=tol, ftol=tol, max_fun=20 * max_iter + 20)


def lbfgs_in_process(model, X, y, *, max_iter: int = 100, alpha: float = 0.0,
                     tol: float = 0.0, sample_weight=None) -> LBFGSResult:
    """Full-batch L-BFGS of `model` on data in this process, committed to the model."""
    from ..models.training import FitSettings, diverged

    trainer = model.trainer(FitSettings(alpha=alpha))

    def objective(x):
        trainer.params[...] = x
        loss, gradient = trainer.loss_gradient(X, y, sample_weight)
        return loss, gradient.astype(np.float64)

    result = minimize_lbfgs(objective, trainer.params.copy(), max_iter,
                            **lbfgs_options(max_iter, tol))
    if not (np.all(np.isfinite(result.params)) and np.isfinite(result.loss)):
        raise diverged("L-BFGS reached a non-finite loss or weight")
    trainer.params[...] = result.params
    trainer.loss_curve = list(result.loss_curve)
    trainer.commit()
    return result
