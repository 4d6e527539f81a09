"""The two distributed solvers, each a loop on the client over rounds of tasks on the
workers; both write into the training handle only, which the caller commits to the model.

- lbfgs: full-batch L-BFGS (scipy, on the client); each evaluation sends the parameters to
  the workers once, every partition returns its loss and gradient as sums over its rows, and
  the sums come back added in a fixed tree. The objective is exactly the single-process
  full-batch one: (sum of the row losses) / N + alpha / 2 * sum(W^2) / N.
- averaging: parameter averaging; each partition trains one epoch of the handle's optimizer
  from the same parameters and optimizer state, and the results are averaged, weighted by the
  partitions' rows (or weight sums).
"""
from dataclasses import replace
from typing import Callable, NamedTuple

import numpy as np

from ..models.parameters import count_parameters, split_parameters
from ..models.training import FitSettings, diverged, loss_diverged
from ..models.lbfgs import minimize_lbfgs
from .lbfgs import lbfgs_options
from .progress import IterationReport, Meter
from .reduce import tree_sum
from .tasks import carry, epoch_sum, loss_gradient_sum, nbytes

# SplitMix64's increment: partition i of epoch e shuffles with the model's stream state moved
# on by (e * partitions + i + 1) increments, a stream of its own for every task.
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


def weight_mask(layers, n_params):
    """True at the entries of the flat parameter vector that are weights (L2 applies)."""
    mask = np.zeros(n_params, dtype=bool)
    for W in split_parameters(mask, layers)[0]:
        W[...] = True
    return mask


def broadcast(client, value):
    """value sent to the cluster once: its future.

    It travels inside a task (rather than scattered), so the scheduler can make it again
    when the worker holding it dies; each worker that needs it fetches it once, whatever
    the number of its tasks that read it.
    """
    return client.submit(carry, value, pure=False)


def l2_objective(layers, alpha, total):
    """(loss_sum, grad_sum, params) -> the full-batch objective and its gradient: the sums
    over the rows divided by the total weight, plus the L2 term, added once, here."""
    mask = weight_mask(layers, count_parameters(layers))

    def objective(loss_sum, grad_sum, params):
        W = params[mask].astype(np.float64)
        loss = loss_sum / total + alpha / 2 * float(np.dot(W, W)) / total
        gradient = grad_sum / total
        gradient[mask] += alpha * W / total
        return loss, gradient
    return objective


class Run(NamedTuple):
    """What a solver needs beyond the cluster, the data and the training handle."""
    layers: list         # the network's sizes
    total: float         # the rows (or the sum of the sample weights) of all partitions
    max_iter: int        # lbfgs
    tol: float           # lbfgs
    epochs: int          # averaging
    on_iteration: Callable[[IterationReport, np.ndarray], bool]  # true: stop


def run_lbfgs(client, work, parts, trainer, run):
    """Full-batch L-BFGS over the partitions; the result into trainer.params."""
    dtype = trainer.params.dtype
    finish = l2_objective(run.layers, trainer.settings.alpha, run.total)
    meter = Meter()

    def objective(x):
        params = x.astype(dtype)
        params_future = broadcast(client, params)
        sums = [client.submit(loss_gradient_sum, work, params_future, X, y, sw, pure=False)
                for X, y, sw in parts.blocks()]
        root = tree_sum(client, sums).result()
        meter.add(root, nbytes(params))
        return finish(*root.values, params)

    def after(iteration, loss, x):
        return run.on_iteration(meter.report(iteration, loss), x)

    result = minimize_lbfgs(objective, trainer.params, run.max_iter, callback=after,
                            **lbfgs_options(run.max_iter, run.tol))
    if not (np.all(np.isfinite(result.params)) and np.isfinite(result.loss)):
        raise diverged("L-BFGS reached a non-finite loss or weight")
    trainer.params[...] = result.params
    return result


def run_averaging(client, work, parts, trainer, run):
    """`run.epochs` rounds of parameter averaging; the result into trainer.params."""
    dtype = trainer.params.dtype
    params, state = trainer.params.copy(), None
    meter = Meter()
    for epoch in range(run.epochs):
        start = broadcast(client, (params, state))
        sums = [client.submit(epoch_sum, work, start, X, y, sw,
                              stream(trainer.rng_state, epoch * len(parts) + i + 1), pure=False)
                for i, (X, y, sw) in enumerate(parts.blocks())]
        root = tree_sum(client, sums).result()
        meter.add(root, nbytes((params, state)))
        p_sum, s1_sum, s2_sum, loss_sum, total, step_sum = root.values
        loss = loss_sum / total
        if not np.isfinite(loss):
            raise loss_diverged(epoch + 1)
        params = (p_sum / total).astype(dtype)
        state = ((s1_sum / total).astype(dtype),
                 (s2_sum / total).astype(dtype) if s2_sum.size else None,
                 int(round(step_sum / total)))
        if not np.all(np.isfinite(params)):
            raise diverged(f"averaging made a weight infinite or NaN in epoch {epoch + 1}")
        trainer.params[...] = params
        if run.on_iteration(meter.report(epoch, float(loss)), params):
            break
    trainer.rng_state = stream(trainer.rng_state, run.epochs * len(parts) + 1)


def stream(state, steps):
    """The SplitMix64 state `steps` increments on."""
    return (state + GOLDEN_GAMMA * steps) % 2**64


class Solver(NamedTuple):
    """A solver's loop, and the settings of the training handle its workers use."""
    run: Callable
    worker_settings: Callable[[FitSettings], FitSettings]


SOLVERS = {
    # the workers return sums without the L2 term: it is added once, on the client
    "lbfgs": Solver(run_lbfgs, lambda settings: replace(settings, alpha=0.0)),
    # each partition's epoch is a fit of its own, L2 per batch as in MLP.fit
    "averaging": Solver(run_averaging, lambda settings: settings),
}
