"""nnfast.dask.fit: train an nnfast MLP on data partitioned across a dask.distributed
cluster, the partitions staying where they lie."""
import inspect
from typing import Any, Callable, Optional

from dask.base import is_dask_collection
from distributed import default_client, wait

from .. import _validation as check
from ..models.training import FitSettings
from ..vocabulary import choose
from .inputs import partitions
from .predict import snapshot, predict_proba
from .solvers import SOLVERS, Run, broadcast
from .tasks import Work, check_partition


def cluster_client(client):
    """The client to use: the one given, else the current default one."""
    if client is not None:
        return client
    try:
        return default_client()
    except ValueError:
        raise ValueError("no dask.distributed Client: pass client=, or create one first "
                         "(Client('tcp://scheduler:8786') or Client(LocalCluster()))") from None


def checked_partitions(client, work_future, parts):
    """Every partition checked on its worker before training; the total row weight. The
    first bad partition (in row order) is the error."""
    checks = [client.submit(check_partition, work_future, index, X, y, sw, pure=False)
              for index, (X, y, sw) in enumerate(parts.blocks())]
    wait(checks)
    for future in checks:
        if future.status == "error":
            raise future.exception()
    return sum(total for _, total in client.gather(checks))


def takes_report(callback) -> bool:
    """True when callback accepts the fourth argument, the IterationReport; False for a
    three-argument callback written for MLP.fit (iteration, loss, forward)."""
    try:
        inspect.signature(callback).bind(0, 0.0, None, None)
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): give it all four
        return True
    return True


def iteration_report(model, trainer, verbose, callback):
    """The per-iteration hook: record the loss, print (verbose), then the user's callback
    with forward(X), the output activations of the parameters reached so far (and the
    IterationReport, when the callback takes a fourth argument)."""
    with_report = callback is not None and takes_report(callback)

    def report(progress, params):
        trainer.loss_curve.append(progress.loss)
        if verbose:
            print(f"iteration {progress.iteration + 1}: loss {progress.loss:.6g} "
                  f"(native core {progress.compute_seconds:.3g} s, communication "
                  f"{progress.communication_seconds:.3g} s)")
        if callback is None:
            return False
        current = snapshot(model, params)
        args = [progress.iteration, progress.loss,
                lambda X: (predict_proba(current, X) if is_dask_collection(X)
                           else current.forward(X))]
        return bool(callback(*args, progress) if with_report else callback(*args))
    return report


def fit(model: Any, X: Any, y: Any, *, solver: str = "lbfgs", max_iter: int = 100,
        tol: float = 0.0, epochs: int = 10, batch_size: Optional[int] = None,
        lr: float = 0.1, optimizer: str = "sgd", momentum: float = 0.0, alpha: float = 0.0,
        sample_weight: Any = None, client: Any = None, verbose: bool = False,
        callback: Optional[Callable[..., Any]] = None) -> Any:
    """Train `model` (an nnfast.MLP) on dask collections partitioned by rows.

    Parameters
    ----------
    model : nnfast.MLP
        Trained from its current parameters; written only when the whole fit succeeds.
    X : dask array (n_samples, n_inputs), or a dask DataFrame
        Partitioned by rows; each block holds whole rows (one chunk along the columns).
    y : dask array or Series, partitioned as X
        Targets as MLP.fit takes them.
    solver : {"lbfgs", "averaging"}
        "lbfgs": full-batch L-BFGS, the gradient summed over the partitions (max_iter, tol).
        "averaging": each partition trains one epoch of minibatch sgd/adam from the same
        parameters, then the parameters are averaged, weighted by rows (epochs, batch_size,
        lr, optimizer, momentum). Not the trajectory of a serial fit: see docs/scaling-out.md.
    max_iter : int, L-BFGS iterations at most
    tol : float >= 0, L-BFGS's gradient and relative-decrease tolerance (0: max_iter
        iterations unless no progress can be made)
    alpha : float >= 0, the L2 penalty as in MLP.fit (over the whole data set for lbfgs,
        over each batch for averaging)
    sample_weight : dask array (n_samples,), optional, partitioned as X
    client : dask.distributed.Client, optional; the default client when None
    verbose : bool, print the loss and the time split of each iteration
    callback : callable(iteration, loss, forward[, progress]) -> bool, optional
        Called after each iteration (L-BFGS) or epoch (averaging), 0-based, as MLP.fit's
        callback is (a callback written for MLP.fit works unchanged); one that takes a fourth
        argument also gets an IterationReport (time in the native core vs communication,
        bytes moved). forward(X) gives the output activations of the weights
        reached so far (lazy for a dask array). A true return stops the fit there.

    Returns
    -------
    model

    Raises
    ------
    ValueError, TypeError
        For a bad argument, or a bad partition (NaN, wrong width, rows of X and y that do not
        match), naming it, before training starts.
    FloatingPointError
        When training diverges. In every case the model is left as it was.
    """
    solver = choose(solver, tuple(SOLVERS), "solver")
    settings = FitSettings(optimizer=optimizer, lr=lr, momentum=momentum, alpha=alpha,
                           batch_size=batch_size)
    max_iter = check.positive_int(max_iter, "max_iter")
    epochs = check.positive_int(epochs, "epochs")
    tol = check.real_in(tol, "tol", 0.0)
    check.flag(verbose, "verbose")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    trainer = model.trainer(settings)  # refuses a model fit cannot train
    client = cluster_client(client)
    parts = partitions(client, model.layers[0], X, y, sample_weight)
    solve = SOLVERS[solver]
    work = broadcast(client, Work(snapshot(model), solve.worker_settings(settings)))
    total = checked_partitions(client, work, parts)
    run = Run(model.layers, total, max_iter, tol, epochs,
              iteration_report(model, trainer, verbose, callback))
    solve.run(client, work, parts, trainer, run)
    trainer.commit()
    return model
