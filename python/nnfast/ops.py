"""The native kernels as functions on arrays: the same names and meaning as nnfast.reference.ops.

A project can switch between the readable reference and the C core by changing one import:

    from nnfast.reference import ops   # lists, pure Python
    from nnfast import ops             # NumPy arrays, the C core

Arrays are float64 unless every floating input is float32. Functions that the reference
defines as updating their arguments in place (sgd_step, adam_step, perceptron_rule) update
NumPy arrays in place here; they must be C-contiguous arrays of the same float dtype.
"""
import numpy as np

from . import _core
from .reference.rng import SplitMix64
from .models.names import LOSS_OUTPUTS

__all__ = [
    "ACTIVATIONS", "DERIVATIVES", "LOSSES", "OPTIMIZERS", "SplitMix64", "activation_backward",
    "adam_step", "binary_cross_entropy", "cross_entropy", "dense_backward", "dense_forward",
    "dense_linear", "identity", "identity_derivative", "init_params", "l2_gradient",
    "l2_penalty", "matmul", "mse", "mse_gradient", "output_delta", "perceptron_rule",
    "permutation", "relu", "relu_derivative", "sgd_step", "sigmoid", "sigmoid_derivative",
    "softmax", "step", "tanh", "tanh_derivative", "transpose",
]


def _dtype(*arrays):
    """float32 when every floating input is float32, else float64."""
    kinds = [np.asarray(a).dtype for a in arrays if a is not None]
    return np.float32 if kinds and all(k == np.float32 for k in kinds) else np.float64


def _matrices(*arrays):
    dtype = _dtype(*arrays)
    out = []
    for a in arrays:
        a = np.ascontiguousarray(a, dtype=dtype)
        if a.ndim == 1:
            a = a.reshape(1, -1) if a.size else a.reshape(0, 0)
        if a.ndim != 2 or a.size == 0:
            raise ValueError(f"expected a non-empty 2-D array, got shape {a.shape}")
        out.append(a)
    return out


def _act(name):
    try:
        return _core.ACTIVATION_CODES[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of "
                         f"{sorted(_core.ACTIVATION_CODES)}") from None


# ---- matrix products -----------------------------------------------------------------------

def transpose(A):
    """A^T."""
    return np.ascontiguousarray(np.asarray(A).T)


def matmul(A, B):
    """A @ B by the core's GEMM. A (m, k), B (k, n) -> (m, n)."""
    A, B = _matrices(A, B)
    C = np.empty((A.shape[0], B.shape[1]), dtype=A.dtype)
    _core.gemm(C, A, B)
    return C


# ---- activations ---------------------------------------------------------------------------

def _forward(name):
    code = _act(name)

    def f(Z):
        (Z,) = _matrices(Z)
        A = np.empty_like(Z)
        _core.activation_forward(A, Z, code)
        return A
    f.__name__ = name
    f.__doc__ = f"{name}(Z), elementwise (softmax: row by row). Z (m, n) -> (m, n)."
    return f


identity, step, sigmoid, tanh, relu, softmax = (
    _forward(n) for n in ("identity", "step", "sigmoid", "tanh", "relu", "softmax"))
ACTIVATIONS = {f.__name__: f for f in (identity, step, sigmoid, tanh, relu, softmax)}


def activation_backward(A, G, activation):
    """G * f'(A), f' written from the output A; softmax: a_j (g_j - sum_i g_i a_i) per row."""
    A, G = _matrices(A, G)
    out = np.empty_like(G)
    _core.activation_backward(out, A, G, _act(activation))
    return out


def _derivative(name):
    def d(A):
        (A,) = _matrices(A)
        return activation_backward(A, np.ones_like(A), name)
    d.__name__ = f"{name}_derivative"
    d.__doc__ = f"f'(z) of {name}, written from its output A. (m, n) -> (m, n)."
    return d


identity_derivative, sigmoid_derivative, tanh_derivative, relu_derivative = (
    _derivative(n) for n in ("identity", "sigmoid", "tanh", "relu"))
DERIVATIVES = {"identity": identity_derivative, "sigmoid": sigmoid_derivative,
               "tanh": tanh_derivative, "relu": relu_derivative}


# ---- dense layer ---------------------------------------------------------------------------

def _dense(A, W, b, activation, want_logits):
    A, W = _matrices(A, W)
    b = np.ascontiguousarray(b, dtype=A.dtype).reshape(-1)
    out = np.empty((A.shape[0], W.shape[1]), dtype=A.dtype)
    Z = np.empty_like(out) if want_logits else None
    _core.dense_forward(out, Z, A, W, b, _act(activation))
    return out


def dense_linear(A, W, b):
    """Z = A @ W + b. A (m, n_in), W (n_in, n_out), b (n_out,) -> (m, n_out)."""
    return _dense(A, W, b, "identity", False)


def dense_forward(A, W, b, activation="identity"):
    """A_out = f(A @ W + b), bias and activation fused into the GEMM's write-out."""
    return _dense(A, W, b, activation, False)


def dense_backward(A_prev, W, delta, activation_prev=None):
    """(dW, db, delta_prev): dW = A_prev^T delta / m, db = sum_rows(delta) / m,
    delta_prev = (delta @ W^T) * f'(A_prev), or None when activation_prev is None."""
    A_prev, W, delta = _matrices(A_prev, W, delta)
    dW = np.zeros_like(W)
    db = np.zeros(W.shape[1], dtype=W.dtype)
    delta_prev = None if activation_prev is None else np.empty_like(A_prev)
    code = _core.ACTIVATION_CODES["identity"] if activation_prev is None else _act(activation_prev)
    _core.dense_backward(dW, db, delta_prev, A_prev, W, delta, code)
    return dW, db, delta_prev


# ---- losses ----------------------------------------------------------------------------------

def _loss(name):
    code = _core.LOSS_CODES[name]

    def loss(Z, A, Y):
        Z, A, Y = _matrices(Z, A, Y)
        return _core.loss(Z, A, Y, code)
    return loss


LOSSES = {name: _loss(name) for name in ("binary_cross_entropy", "cross_entropy", "mse")}


def binary_cross_entropy(Z, Y):
    """Mean over rows of sum_k softplus(z_k) - y_k z_k, from the logits Z."""
    return LOSSES["binary_cross_entropy"](Z, Z, Y)


def cross_entropy(Z, Y):
    """Mean over rows of sum_k y_k (lse(z) - z_k), from the logits Z."""
    return LOSSES["cross_entropy"](Z, Z, Y)


def mse(A, Y):
    """Mean over rows of mean_k (a_k - y_k)^2, from the outputs A."""
    return LOSSES["mse"](A, A, Y)


def mse_gradient(A, Y):
    """dL_sample/dA of mse: 2 (a - y) / K."""
    A, Y = _matrices(A, Y)
    return 2.0 * (A - Y) / A.shape[1]


def output_delta(Z, A, Y, output, loss):
    """dL_sample/dZ: a - y for sigmoid+binary_cross_entropy and softmax+cross_entropy,
    else the chain rule through the output activation (mse)."""
    if loss not in LOSS_OUTPUTS or output not in LOSS_OUTPUTS[loss]:
        raise ValueError(f"output {output!r} with loss {loss!r} is not a supported pair")
    Z, A, Y = _matrices(Z, A, Y)
    delta = np.empty_like(A)
    _core.output_delta(delta, Z, A, Y, _act(output), _core.LOSS_CODES[loss])
    return delta


# ---- L2 ------------------------------------------------------------------------------------------

def l2_penalty(weights, alpha, m):
    """alpha / 2 * sum_l sum(W[l]^2) / m."""
    return sum(_core.l2_penalty(np.ascontiguousarray(W, dtype=_dtype(W)).reshape(-1), alpha, m)
               for W in weights)


def l2_gradient(W, alpha, m):
    """alpha * W / m."""
    W = np.ascontiguousarray(W, dtype=_dtype(W))
    dW = np.zeros_like(W)
    _core.l2_gradient(dW.reshape(-1), W.reshape(-1), alpha, m)
    return dW


# ---- optimizers (in place) -------------------------------------------------------------------

def _inplace(*arrays):
    dtype = arrays[0].dtype if isinstance(arrays[0], np.ndarray) else None
    for a in arrays:
        if not isinstance(a, np.ndarray) or a.dtype != dtype or dtype not in (np.float32, np.float64):
            raise TypeError("in-place kernels take float32 or float64 NumPy arrays of one dtype")
        if not a.flags.c_contiguous or not a.flags.writeable:
            raise ValueError("in-place kernels need C-contiguous, writeable arrays")
    return [a.reshape(-1) for a in arrays]


def sgd_step(w, g, v, lr, momentum=0.0, nesterov=False):
    """v = momentum v - lr g; w += v, or w += momentum v - lr g (Nesterov). In place."""
    w, g, v = _inplace(w, g, v)
    _core.sgd_update(w, v, np.ascontiguousarray(g), lr, momentum, nesterov)


def adam_step(w, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step, t the 1-based step count. w, m, v updated in place."""
    w, g, m, v = _inplace(w, g, m, v)
    _core.adam_update(w, m, v, g, t, lr, beta1, beta2, eps)


class _OptimizerState:
    """The state of one optimizer for one parameter vector; .step(w, g) updates w in place."""

    def __init__(self, size, lr, momentum=0.0, nesterov=False):
        self.lr, self.momentum, self.nesterov = lr, momentum, nesterov
        self.size, self.t, self.slots = size, 0, None

    def _slots(self, w, count):
        if self.slots is None:
            self.slots = [np.zeros(self.size, dtype=w.dtype) for _ in range(count)]
        return self.slots


class SGDState(_OptimizerState):
    def step(self, w, g):
        (v,) = self._slots(w, 1)
        sgd_step(w, g, v, self.lr, self.momentum, self.nesterov)


class AdamState(_OptimizerState):
    def step(self, w, g):
        m, v = self._slots(w, 2)
        self.t += 1
        adam_step(w, g, m, v, self.t, self.lr)


OPTIMIZERS = {"sgd": SGDState, "adam": AdamState}


# ---- perceptron rule, initialization, random order -------------------------------------------

def perceptron_rule(W, b, X, Y, lr, order=None):
    """One epoch of the perceptron rule, in place on W (n_in, n_out) and b (n_out,);
    returns the number of samples with a mistake."""
    _inplace(W, b)
    X = np.ascontiguousarray(X, dtype=W.dtype)
    Y = np.ascontiguousarray(Y, dtype=W.dtype).reshape(len(X), -1)
    order = None if order is None else np.ascontiguousarray(order, dtype=np.int64)
    return _core.perceptron_epoch(W, b, X, Y, order, lr)


def init_params(layers, activations, rng, init):
    """Initial (weights, biases) by the init contract, drawn from rng (a SplitMix64) in
    place of the reference's draws: same values, same stream state afterwards."""
    from .models.parameters import count_parameters, split_parameters

    if len(activations) != len(layers) - 1 or len(set(activations[:-1])) > 1:
        raise ValueError("activations must give one name per layer, the hidden ones equal")
    hidden = activations[0] if len(activations) > 1 else "identity"
    net = _core.Net(layers, _act(hidden), _act(activations[-1]), _core.LOSS_CODES["mse"])
    params = np.zeros(count_parameters(layers), dtype=np.float64)
    rng.state = _core.init_params(params, net, _core.INIT_CODES[init], rng.state)
    weights, biases = split_parameters(params, layers)
    return [W.copy() for W in weights], [b.copy() for b in biases]


def permutation(rng, n):
    """A Fisher-Yates order of 0..n-1 drawn from rng (a SplitMix64), as in the reference."""
    order = np.empty(n, dtype=np.int64)
    rng.state = _core.rng_permutation(order, rng.state)
    return order
