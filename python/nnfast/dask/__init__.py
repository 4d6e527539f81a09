"""nnfast.dask: data-parallel training and scoring on a dask.distributed cluster.

The data stay where they lie, partitioned by rows across the workers, and the training goes
to them: ``fit(model, X, y, solver="lbfgs")`` runs full-batch L-BFGS on the client with the
loss and gradient of each partition computed on its worker in one native call;
``solver="averaging"`` averages the parameters after each epoch of minibatch sgd/adam per
partition. ``predict`` and ``predict_proba`` are lazy dask arrays. See docs/scaling-out.md.

Needs the ``dask`` extra: ``pip install nnfast[dask]``.
"""
from ..models.lbfgs import LBFGSResult, minimize_lbfgs
from .fitting import fit
from .lbfgs import lbfgs_in_process
from .predict import predict, predict_proba
from .progress import IterationReport

__all__ = ["IterationReport", "LBFGSResult", "fit", "lbfgs_in_process", "minimize_lbfgs",
           "predict", "predict_proba"]
