"""What runs on the workers: one call per partition into the model's training handle, and
the pairwise sums of the results.

The network goes to the workers once per fit, as a scattered ``Work`` (the model and the fit
settings); each worker keeps one training handle built from it and reuses it for every
partition and iteration, so a task costs one native call on data already in the worker.
"""
import time

import numpy as np

from distributed import get_worker

from .. import _validation as check
from ..models.mlp import MLP
from ..models.training import FitSettings


class Work:
    """The model and the settings of one fit, as the workers receive them.

    The training handle is made on first use, on the worker, and is not pickled.
    """

    def __init__(self, model, settings: FitSettings):
        self.model, self.settings = model, settings
        self._trainer = None

    def __getstate__(self):
        return {"model": Portable(self.model), "settings": self.settings}

    def __setstate__(self, state):
        self.__init__(state["model"].model, state["settings"])

    @property
    def trainer(self):
        if self._trainer is None:
            self._trainer = self.model.trainer(self.settings)
        return self._trainer

    def inputs(self, X, y, sample_weight):
        """X, the target matrix and the weights of one partition, checked as the model's fit
        checks them."""
        model = self.model
        # a block received from another process may be read-only or not aligned (its bytes
        # where the message put them): the core's epoch needs aligned, writable rows
        X, y = (np.require(a, requirements=["C", "A", "W"]) if isinstance(a, np.ndarray) else a
                for a in (X, y))
        X = check.as_matrix(X, "X", model.dtype, model.layers[0])
        Y = check.targets(y, X.shape[0], model.layers[-1], model.loss_name, model.dtype)
        if sample_weight is not None:
            sample_weight = check.as_vector(sample_weight, "sample_weight", np.float64,
                                            X.shape[0])
            if sample_weight.min() < 0:
                raise ValueError("sample_weight must be >= 0")
        return X, Y, sample_weight


class Portable:
    """A model that travels as its record (the binding's network does not pickle) and is
    rebuilt once where it arrives."""

    def __init__(self, model):
        self.model = model

    def __getstate__(self):
        return {"record": self.model.to_record()}

    def __setstate__(self, state):
        self.model = MLP.from_record(state["record"])


class PartitionSum:
    """A sum over partitions: numbers added entrywise, plus where the time and bytes went.

    values : tuple of float64 ndarrays and floats, summed entrywise
    seconds : {worker address: seconds in the native core}
    moved : bytes carried between workers by the sums so far
    where : the address of the worker holding this sum
    """

    def __init__(self, values, seconds, moved, where):
        self.values, self.seconds, self.moved, self.where = values, seconds, moved, where

    @property
    def nbytes(self):
        return nbytes(self.values)


def nbytes(value):
    """The bytes of the numbers in value: arrays, floats, and tuples or lists of them."""
    if isinstance(value, (tuple, list)):
        return sum(nbytes(v) for v in value)
    return 0 if value is None else np.asarray(value).nbytes


def carry(value):
    """value itself: a task that holds what the client sent, computed again if lost."""
    return value


def here():
    return get_worker().address


def partition_error(index, exc):
    """The error of a bad partition: its type, its message, and which partition it is."""
    return type(exc)(f"partition {index} (rows block {index} of X, y and sample_weight): "
                     f"{exc}")


def check_partition(work, index, X, y, sample_weight):
    """(rows, weight sum) of a valid partition; the partition's error otherwise."""
    try:
        X, Y, sample_weight = work.inputs(X, y, sample_weight)
    except (TypeError, ValueError) as exc:
        raise partition_error(index, exc) from None
    total = float(X.shape[0]) if sample_weight is None else float(sample_weight.sum())
    return X.shape[0], total


def loss_gradient_sum(work, params, X, y, sample_weight):
    """The loss and gradient of one partition as sums over its rows (no L2 term): the
    handle's mean times the rows (or the weight sum), in float64."""
    X, Y, sample_weight = work.inputs(X, y, sample_weight)
    total = float(X.shape[0]) if sample_weight is None else float(sample_weight.sum())
    if total == 0.0:  # rows that all weigh 0 add nothing
        return PartitionSum((0.0, np.zeros(params.shape, np.float64)), {}, 0, here())
    trainer = work.trainer
    trainer.params[...] = params
    start = time.perf_counter()
    loss, gradient = trainer.loss_gradient(X, Y, sample_weight)
    seconds = time.perf_counter() - start
    return PartitionSum((float(loss) * total, gradient.astype(np.float64) * total),
                        {here(): seconds}, 0, here())


def epoch_sum(work, start, X, y, sample_weight, rng_state):
    """One epoch of the handle's optimizer over one partition from `start` (parameters and
    optimizer state), as sums weighted by the partition's weight: (weight * parameters,
    weight * state1, weight * state2, weight * epoch loss, weight, weight * steps)."""
    X, Y, sample_weight = work.inputs(X, y, sample_weight)
    total = float(X.shape[0]) if sample_weight is None else float(sample_weight.sum())
    params, state = start
    trainer = work.trainer
    trainer.params[...] = params
    trainer.state = state if state is not None else zero_state(trainer)
    trainer.rng_state = rng_state
    begin = time.perf_counter()
    loss = trainer.epoch(X, Y, sample_weight=sample_weight)
    seconds = time.perf_counter() - begin
    state1, state2, step = trainer.state
    state2 = np.zeros(0) if state2 is None else state2
    values = (trainer.params.astype(np.float64) * total, state1.astype(np.float64) * total,
              state2.astype(np.float64) * total, float(loss) * total, total, float(step) * total)
    return PartitionSum(values, {here(): seconds}, 0, here())


def zero_state(trainer):
    """The optimizer state a fit starts from: zeros and step 0."""
    zeros = np.zeros_like(trainer.params)
    return zeros, (zeros.copy() if trainer.settings.optimizer == "adam" else None), 0


def add(a, b):
    """a + b entrywise, on the worker that runs it; the bytes of an input that had to come
    from another worker are counted."""
    where = here()
    moved = a.moved + b.moved + sum(s.nbytes for s in (a, b) if s.where != where)
    seconds = dict(a.seconds)
    for worker, t in b.seconds.items():
        seconds[worker] = seconds.get(worker, 0.0) + t
    values = tuple(x + y for x, y in zip(a.values, b.values))
    return PartitionSum(values, seconds, moved, where)


def predict_block(X, portable, method):
    """model.<method>(X) for one block of rows."""
    return getattr(portable.model, method)(X)
