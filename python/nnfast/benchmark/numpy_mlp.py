"""nnfast's training in plain NumPy: the same math contract (docs/semantics.md), written the
obvious way, so that the comparison measures the implementation and not the algorithm.

Z = A_prev @ W + b, A = f(Z); softmax + cross-entropy and sigmoid + binary cross-entropy
give the output delta a - y; dW = A_prev^T @ delta / m, db = sum(delta) / m,
delta_prev = (delta @ W^T) * f'(A_prev); plain SGD: w -= lr * g. Batches are consecutive
slices of the rows (shuffle=False). Matrix products go to NumPy's BLAS. The tables are keyed
by the names of nnfast.vocabulary; the loss is the output's natural one (DEFAULT_LOSS).
"""
import numpy as np

from ..vocabulary import DEFAULT_LOSS


def _sigmoid(Z):
    # e^z / (1 + e^z) for z < 0, so that e^-z never overflows
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E)).astype(Z.dtype, copy=False)


def _softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


ACTIVATIONS = {
    "identity": lambda Z: Z,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu": lambda Z: np.maximum(Z, 0),
    "softmax": _softmax,
}

# f'(z) written with the output a = f(z)
DERIVATIVES = {
    "identity": lambda A: np.ones_like(A),
    "sigmoid": lambda A: A * (1 - A),
    "tanh": lambda A: 1 - A * A,
    "relu": lambda A: (A > 0).astype(A.dtype),
}


def _softplus(Z):
    return np.maximum(Z, 0) + np.log1p(np.exp(-np.abs(Z)))


# Mean over the rows of the per-sample loss, from the logits Z (stable form) and targets Y.
LOSSES = {
    "binary_cross_entropy": lambda Z, Y: float((_softplus(Z) - Y * Z).sum(axis=1).mean()),
    "cross_entropy": lambda Z, Y: float(
        (Y * (Z.max(axis=1, keepdims=True)
              + np.log(np.exp(Z - Z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True))
              - Z)).sum(axis=1).mean()),
}


def one_hot(y, n_outputs, dtype):
    """Targets as the output layer sees them: (n, 1) 0/1 for one sigmoid unit, else one-hot."""
    if n_outputs == 1:
        return y.reshape(-1, 1).astype(dtype)
    Y = np.zeros((len(y), n_outputs), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y


def forward_layers(weights, biases, X, layer_activations):
    """([X, A_1, ..., A_L], Z_L): every layer's output A_l = f_l(Z_l), Z_l = A_{l-1} @ W_l + b_l,
    and the last layer's Z (the losses are written from it)."""
    outputs, Z = [X], None
    for W, b, name in zip(weights, biases, layer_activations):
        Z = outputs[-1] @ W + b
        outputs.append(ACTIVATIONS[name](Z))
    return outputs, Z


def train(weights, biases, X, Y, *, activation, output, epochs, batch_size, lr):
    """Train in place by minibatch SGD; return the mean loss of each epoch (taken before each
    batch's update, weighted by the batch's rows)."""
    n = len(X)
    layer_activations = [activation] * (len(weights) - 1) + [output]
    loss = LOSSES[DEFAULT_LOSS[output]]
    curve = []
    for _ in range(epochs):
        total = 0.0
        for start in range(0, n, batch_size):
            A_batch, Y_batch = X[start:start + batch_size], Y[start:start + batch_size]
            m = len(A_batch)
            outputs, Z = forward_layers(weights, biases, A_batch, layer_activations)
            total += loss(Z, Y_batch) * m
            delta = outputs[-1] - Y_batch
            for l in reversed(range(len(weights))):
                dW = outputs[l].T @ delta / m
                db = delta.sum(axis=0) / m
                if l > 0:
                    delta = (delta @ weights[l].T) * DERIVATIVES[layer_activations[l - 1]](
                        outputs[l])
                weights[l] -= lr * dW
                biases[l] -= lr * db
        curve.append(total / n)
    return curve
