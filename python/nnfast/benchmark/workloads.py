"""The benchmark workloads W1-W4 (docs/benchmarks.md; README.md, "Benchmarks").

Every implementation compared trains the same network, from the same initial weights (nnfast's
glorot draw, or zeros for W1), on the same data (fixed-seed random features, or the AND gate),
with plain minibatch SGD in the same batch order (shuffle=False): the same work for everyone.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np

DATA_SEED = 2026   # the features and labels
MODEL_SEED = 0     # nnfast's stream: the initial weights


@dataclass(frozen=True)
class Workload:
    """One training run: network, data shape and schedule.

    layers : [n_inputs, hidden..., n_outputs]; activation : the hidden layers';
    output : "sigmoid" (one unit, binary cross-entropy) or "softmax" (cross-entropy).
    reference_rows : None when the pure-Python reference runs the whole workload; else the
    small batch sizes (r1, r2) it runs one step of, so that its time per step is fitted as
    a + b * rows and extrapolated to the full run (linear in rows: the reference's matrix
    products are loops over rows; the update of every parameter is the constant part).
    """
    name: str
    title: str
    n_samples: int
    layers: tuple
    activation: str
    output: str
    batch_size: int
    epochs: int
    dtype: str
    lr: float
    init: str = "glorot"
    reference_rows: Optional[tuple] = None

    @property
    def steps(self):
        """Optimizer steps of the whole run."""
        return self.epochs * -(-self.n_samples // self.batch_size)

    @property
    def n_classes(self):
        return 2 if self.output == "sigmoid" else self.layers[-1]

    def flops(self):
        """FLOPs of the run's matrix products: 2*m*n*k per GEMM, per layer per step the
        forward X@W and dW = A^T@delta, and delta@W^T for every layer but the first."""
        total = 0
        for start in range(0, self.n_samples, self.batch_size):
            m = min(self.batch_size, self.n_samples - start)
            for l, (k, n) in enumerate(zip(self.layers[:-1], self.layers[1:])):
                total += (3 if l > 0 else 2) * 2 * m * k * n
        return total * self.epochs

    def data(self):
        """(X, y): X of shape (n_samples, n_inputs) in the workload's dtype, y class indices."""
        if self.name == "W1":
            X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=self.dtype)  # the AND gate
            return X, np.array([0, 0, 0, 1], dtype=np.int64)
        rng = np.random.default_rng(DATA_SEED)
        X = rng.standard_normal((self.n_samples, self.layers[0]), dtype=np.float32)
        # Labels a network can learn: the argmax of a fixed random projection (plus noise).
        projection = rng.standard_normal((self.layers[0], self.n_classes), dtype=np.float32)
        scores = X @ projection + rng.standard_normal((self.n_samples, self.n_classes),
                                                        dtype=np.float32)
        y = scores.argmax(axis=1).astype(np.int64)
        return np.ascontiguousarray(X, dtype=self.dtype), y

    def initial_parameters(self):
        """(weights, biases) of nnfast's model built with MODEL_SEED: everyone's start."""
        model = make_nnfast_model(self)
        return [W.copy() for W in model.weights], [b.copy() for b in model.biases]


def make_nnfast_model(workload):
    import nnfast

    return nnfast.MLP(list(workload.layers), activation=workload.activation,
                      output=workload.output, seed=MODEL_SEED, dtype=workload.dtype,
                      init=workload.init)


FULL = {
    "W1": Workload("W1", "AND gate, one sigmoid neuron, 10,000 epochs", 4, (2, 1), "sigmoid",
                   "sigmoid", 4, 10_000, "float64", lr=1.0, init="zeros"),
    "W2": Workload("W2", "Iris-sized MLP, batch 16, 200 epochs", 150, (4, 16, 3), "tanh",
                   "softmax", 16, 200, "float64", lr=0.1),
    "W3": Workload("W3", "MNIST-sized MLP, batch 64, 1 epoch", 60_000, (784, 256, 128, 10),
                   "relu", "softmax", 64, 1, "float32", lr=0.01, reference_rows=(16, 64)),
    "W4": Workload("W4", "large layers, batch 256, 1 epoch", 8_192, (1024, 2048, 2048, 10),
                   "relu", "softmax", 256, 1, "float32", lr=0.01, reference_rows=(1, 2)),
}

# --quick: the same kinds of network, tiny, for smoke tests of the runner.
QUICK = {
    "W1": Workload("W1", "AND gate, one sigmoid neuron, 20 epochs (quick)", 4, (2, 1),
                   "sigmoid", "sigmoid", 4, 20, "float64", lr=1.0, init="zeros"),
    "W2": Workload("W2", "Iris-sized MLP, batch 16, 2 epochs (quick)", 150, (4, 16, 3), "tanh",
                   "softmax", 16, 2, "float64", lr=0.1),
    "W3": Workload("W3", "MNIST-like MLP, tiny (quick)", 512, (64, 32, 16, 10), "relu",
                   "softmax", 64, 1, "float32", lr=0.01, reference_rows=(4, 8)),
    "W4": Workload("W4", "large-layer MLP, tiny (quick)", 256, (96, 64, 64, 10), "relu",
                   "softmax", 64, 1, "float32", lr=0.01, reference_rows=(2, 4)),
}


def workloads(names, quick=False):
    table = QUICK if quick else FULL
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown workload(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(table)}")
    return [table[n] for n in names]
