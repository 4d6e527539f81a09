"""The implementations compared: each trains a workload from the same start and reports its time
and what it ended with (weights, biases, the last epoch's mean loss) for the cross-check.

A runner is a function run(workload, problem) -> Outcome. Setup (building the model, copying
the initial weights in, converting the data to the library's own types) is not timed; the
training call is. Libraries that are not installed are reported, not required.
"""
import importlib.util
import time
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import numpy_mlp
from .workloads import make_nnfast_model


@dataclass
class Problem:
    """A workload's data and everyone's initial parameters."""
    X: np.ndarray
    y: np.ndarray
    Y: np.ndarray          # one-hot (or (n, 1) 0/1) targets in the workload's dtype
    weights: list
    biases: list


@dataclass
class Outcome:
    seconds: float
    loss: float
    weights: list
    biases: list
    # "full", or how the time was estimated from a part of the run
    method: str = "full"
    # what the cross-check compares this outcome with, when not nnfast's full run
    check_against: object = None
    notes: list = field(default_factory=list)


def _timed(train):
    start = time.perf_counter()
    result = train()
    return time.perf_counter() - start, result


# ---- nnfast ---------------------------------------------------------------------------------

def nnfast_runner(threads):
    def run(workload, problem):
        import nnfast

        model = make_nnfast_model(workload)
        model.set_parameters(problem.weights, problem.biases)
        previous = nnfast.get_num_threads()
        nnfast.set_num_threads(threads)
        try:
            seconds, _ = _timed(lambda: model.fit(
                problem.X, problem.y, epochs=workload.epochs, batch_size=workload.batch_size,
                lr=workload.lr, shuffle=False))
        finally:
            nnfast.set_num_threads(previous)
        return Outcome(seconds, model.loss_curve_[-1], [W.copy() for W in model.weights],
                       [b.copy() for b in model.biases])
    return run


# ---- the pure-Python reference ----------------------------------------------------------------

def _reference_fit(workload, problem, rows):
    """Train the reference on the first `rows` rows (all when None); return (seconds, model)."""
    from .. import reference

    n = workload.n_samples if rows is None else rows
    model = reference.MLP(list(workload.layers), workload.activation, workload.output,
                          seed=0, init="zeros")
    model.weights = [W.astype(np.float64).tolist() for W in problem.weights]
    model.biases = [b.astype(np.float64).tolist() for b in problem.biases]
    X, y = problem.X[:n].astype(np.float64).tolist(), problem.y[:n].tolist()
    epochs = workload.epochs if rows is None else 1
    batch = workload.batch_size if rows is None else rows
    seconds, _ = _timed(lambda: model.fit(X, y, epochs=epochs, batch_size=batch,
                                          lr=workload.lr, shuffle=False))
    return seconds, model


def reference_run(workload, problem):
    """The whole run where it takes seconds; otherwise one step on r1 rows and one on r2 rows,
    time per step fitted as a + b * rows, summed over the full run's batches."""
    if workload.reference_rows is None:
        seconds, model = _reference_fit(workload, problem, None)
        return Outcome(seconds, model.loss_curve_[-1], _arrays(model.weights),
                       _arrays(model.biases))
    r1, r2 = workload.reference_rows
    t1, _ = _reference_fit(workload, problem, r1)
    t2, model = _reference_fit(workload, problem, r2)
    per_row = max(t2 - t1, 0.0) / (r2 - r1)
    per_step = max(t1 - per_row * r1, 0.0)
    estimate = workload.steps * per_step + workload.epochs * workload.n_samples * per_row
    # The cross-check: nnfast's step on the same r2 rows, from the same start.
    subset = _nnfast_subset(workload, problem, r2)
    return Outcome(estimate, model.loss_curve_[-1], _arrays(model.weights),
                   _arrays(model.biases),
                   method=f"estimated from one step on {r1} and on {r2} rows",
                   check_against=subset)


def _nnfast_subset(workload, problem, rows):
    model = make_nnfast_model(workload)
    model.set_parameters(problem.weights, problem.biases)
    model.fit(problem.X[:rows], problem.y[:rows], epochs=1, batch_size=rows, lr=workload.lr,
              shuffle=False)
    return Outcome(0.0, model.loss_curve_[-1], [W.copy() for W in model.weights],
                   [b.copy() for b in model.biases])


def _arrays(lists):
    return [np.array(v, dtype=np.float64) for v in lists]


# ---- NumPy ------------------------------------------------------------------------------------

def numpy_run(workload, problem):
    weights = [W.copy() for W in problem.weights]
    biases = [b.copy() for b in problem.biases]
    seconds, curve = _timed(lambda: numpy_mlp.train(
        weights, biases, problem.X, problem.Y, activation=workload.activation,
        output=workload.output, epochs=workload.epochs, batch_size=workload.batch_size,
        lr=workload.lr))
    return Outcome(seconds, curve[-1], weights, biases)


# ---- scikit-learn -------------------------------------------------------------------------------

SKLEARN_ACTIVATIONS = {"sigmoid": "logistic", "tanh": "tanh", "relu": "relu",
                       "identity": "identity"}


def sklearn_run(workload, problem):
    """MLPClassifier(solver="sgd") with our schedule: constant lr, no momentum, no L2, no
    shuffling, no early stop. Its output layer is ours: one logistic unit for two classes,
    else softmax, with the mean log-loss. Started from our weights: a one-iteration fit on one
    row per class sets up its shapes and classes, then coefs_ and intercepts_ are replaced and
    the timed fit continues from them (warm_start)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=tuple(workload.layers[1:-1]),
        activation=SKLEARN_ACTIVATIONS[workload.activation], solver="sgd", alpha=0.0,
        batch_size=workload.batch_size, learning_rate="constant",
        learning_rate_init=workload.lr, max_iter=1, shuffle=False, tol=0.0, momentum=0.0,
        nesterovs_momentum=False, early_stopping=False, n_iter_no_change=workload.epochs + 1,
        warm_start=True, random_state=0)
    one_per_class = np.unique(problem.y, return_index=True)[1]
    with warnings.catch_warnings():
        # the set-up fit's batch is larger than its rows; no run here converges, by design
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(problem.X[one_per_class], problem.y[one_per_class])
        model.coefs_ = [W.copy() for W in problem.weights]
        model.intercepts_ = [b.copy() for b in problem.biases]
        model.set_params(max_iter=workload.epochs)
        seconds, _ = _timed(lambda: model.fit(problem.X, problem.y))
    return Outcome(seconds, model.loss_curve_[-1], model.coefs_, model.intercepts_)


# ---- PyTorch ----------------------------------------------------------------------------------

def torch_sequential(weights, biases, activation, dtype):
    """A torch.nn.Sequential of the layers (weights (in, out) as nnfast keeps them), the
    hidden activation between them, none after the last (the logits)."""
    import torch

    torch_dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    make_activation = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh,
                       "relu": torch.nn.ReLU, "identity": torch.nn.Identity}[activation]
    modules = []
    for l, (W, b) in enumerate(zip(weights, biases)):
        layer = torch.nn.Linear(W.shape[0], W.shape[1], dtype=torch_dtype)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))  # (out, in)
            layer.bias.copy_(torch.from_numpy(b))
        modules.append(layer)
        if l < len(weights) - 1:
            modules.append(make_activation())
    return torch.nn.Sequential(*modules)


def torch_runner(threads):
    def run(workload, problem):
        import torch

        model = torch_sequential(problem.weights, problem.biases, workload.activation,
                                 workload.dtype)
        if workload.output == "sigmoid":   # one unit: BCE from the logits, mean over rows
            loss_fn, target = torch.nn.BCEWithLogitsLoss(), torch.from_numpy(problem.Y)
        else:                             # softmax: cross-entropy from the logits
            loss_fn, target = torch.nn.CrossEntropyLoss(), torch.from_numpy(problem.y)
        X = torch.from_numpy(problem.X)
        optimizer = torch.optim.SGD(model.parameters(), lr=workload.lr)
        n, batch = workload.n_samples, workload.batch_size

        def train():
            loss_value = 0.0
            for _ in range(workload.epochs):
                total = 0.0
                for start in range(0, n, batch):
                    optimizer.zero_grad()
                    loss = loss_fn(model(X[start:start + batch]), target[start:start + batch])
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * min(batch, n - start)
                loss_value = total / n
            return loss_value

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            seconds, loss = _timed(train)
        finally:
            torch.set_num_threads(previous)
        linears = [m for m in model if isinstance(m, torch.nn.Linear)]
        return Outcome(seconds, loss, [m.weight.detach().numpy().T.copy() for m in linears],
                       [m.bias.detach().numpy().copy() for m in linears])
    return run


# ---- the table of implementations -----------------------------------------------------------------

@dataclass(frozen=True)
class Implementation:
    key: str
    label: str
    run: object
    module: Optional[str] = None     # the library it needs, when optional

    def missing(self):
        """None when it can run, else why not."""
        if self.module and importlib.util.find_spec(self.module) is None:
            return f"{self.module} not installed"
        return None


def implementations(cores):
    """Everything compared: nnfast at 1 thread and at every core, then the others."""
    thread_counts = sorted({1, cores})
    table = [Implementation(f"nnfast-{t}t", f"nnfast {t} thread{'s' * (t > 1)}",
                            nnfast_runner(t)) for t in thread_counts]
    table += [Implementation("reference", "pure-Python reference", reference_run),
              Implementation("numpy", "NumPy", numpy_run),
              Implementation("sklearn", "scikit-learn MLPClassifier", sklearn_run, "sklearn")]
    table += [Implementation(f"torch-{t}t", f"PyTorch CPU {t} thread{'s' * (t > 1)}",
                             torch_runner(t), "torch") for t in thread_counts]
    return table
