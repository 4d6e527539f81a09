"""Learning-rate schedules of scikit-learn's MLP solvers, as a table keyed by name.

Each schedule is two functions of the current rate, called by the epoch loop:
- ``epoch_end(rate, rate_init, samples_seen, power_t)``: the rate for the next epoch;
- ``plateau(rate)``: ``(new_rate, stop)`` when the loss or validation score stopped improving
  for ``n_iter_no_change`` epochs.

For solver="sgd" (scikit-learn's SGDOptimizer): "constant" keeps learning_rate_init;
"invscaling" sets rate = learning_rate_init / (t + 1)^power_t after each epoch, t the samples
seen; "adaptive" divides the rate by 5 at each plateau and stops once it is <= 1e-6.
For solver="adam" the rate is learning_rate_init (Adam's bias correction is in the core) and
a plateau stops training.
"""
from dataclasses import dataclass


def _keep(rate, rate_init, samples_seen, power_t):
    return rate


def _inverse_scaling(rate, rate_init, samples_seen, power_t):
    # eta_t = eta_0 / (t + 1)^power_t, t = samples seen so far
    return rate_init / (samples_seen + 1) ** power_t


def _stop(rate):
    return rate, True


def _divide_by_five(rate):
    if rate <= 1e-6:
        return rate, True
    return rate / 5.0, False


@dataclass(frozen=True)
class Schedule:
    epoch_end: object
    plateau: object


SCHEDULES = {
    "constant": Schedule(_keep, _stop),
    "invscaling": Schedule(_inverse_scaling, _stop),
    "adaptive": Schedule(_keep, _divide_by_five),
    "adam": Schedule(_keep, _stop),
}


def schedule_for(solver, learning_rate):
    """The schedule scikit-learn applies: learning_rate for sgd, a fixed rate for adam."""
    return SCHEDULES[learning_rate if solver == "sgd" else "adam"]
