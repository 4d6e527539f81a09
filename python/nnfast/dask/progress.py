"""The progress report of a distributed fit, one record per iteration (L-BFGS) or epoch
(averaging)."""
import time
from dataclasses import dataclass
from typing import Dict


@dataclass(frozen=True)
class IterationReport:
    """Where one iteration's time and bytes went.

    Attributes
    ----------
    iteration : int, 0-based
    loss : float, the objective after the iteration (averaging: the epoch's mean loss)
    evaluations : int, rounds of work sent to the workers (L-BFGS's line search may need
        more than one per iteration)
    seconds : float, wall-clock time of the iteration on the client
    compute_seconds : float, time in the native core on the busiest worker
    communication_seconds : float, the rest: sending, scheduling, summing, waiting
    bytes_to_workers : int, parameters (and optimizer state) broadcast to the workers
    bytes_between_workers : int, partial sums carried from one worker to another
    bytes_to_client : int, the final sum brought back to the client
    """
    iteration: int
    loss: float
    evaluations: int
    seconds: float
    compute_seconds: float
    communication_seconds: float
    bytes_to_workers: int
    bytes_between_workers: int
    bytes_to_client: int


class Meter:
    """Accumulates the evaluations of one iteration until it is reported."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.start = time.perf_counter()
        self.evaluations = 0
        self.seconds: Dict[str, float] = {}
        self.to_workers = self.between = self.to_client = 0

    def add(self, total, sent):
        """One round: `total` the tree's root (a PartitionSum), `sent` the bytes of what was
        sent, which each worker that computed a partition received once."""
        self.evaluations += 1
        for worker, t in total.seconds.items():
            self.seconds[worker] = self.seconds.get(worker, 0.0) + t
        self.to_workers += sent * len(total.seconds)
        self.between += total.moved
        self.to_client += total.nbytes

    def report(self, iteration, loss):
        seconds = time.perf_counter() - self.start
        compute = max(self.seconds.values(), default=0.0)
        record = IterationReport(iteration, loss, self.evaluations, seconds, compute,
                                 max(seconds - compute, 0.0), self.to_workers, self.between,
                                 self.to_client)
        self.reset()
        return record
