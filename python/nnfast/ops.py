"""The native kernels as functions on arrays: the same names and meaning as nnfast.reference.ops.

A project can switch between the readable reference and the C core by changing one import:

    from nnfast.reference import ops   # lists, pure Python
    from nnfast import ops             # NumPy arrays, the C core

Every public function and table of nnfast.reference.ops has its twin here, of the same name
and meaning (tests/test_ops.py checks the names). The kernels run in the C core; glorot_bound
is plain Python, as small here as there. Name checks are nnfast.vocabulary's, shared by both.

Arrays are float64 unless every floating input is float32. Functions that the reference
defines as updating their arguments in place (sgd_step, adam_step, perceptron_rule,
perceptron_sgd_epoch) update NumPy arrays in place here; they must be C-contiguous arrays of
the same float dtype.
"""
from typing import Any, Callable, List, Optional, Sequence, Tuple, Type

import numpy as np
import numpy.typing as npt

from . import _core
from . import _validation as check
from . import vocabulary
from .reference.rng import SplitMix64
from .vocabulary import (ACTIVATION_CODES, FORWARD_ONLY_ACTIVATIONS, HIDDEN_ACTIVATIONS,
                         INIT_CODES, LOSS_CODES, LOSS_NAMES, LOSS_OUTPUTS, OUTPUT_ACTIVATIONS)

# float32 or float64 arrays, as the kernels compute them
Array = npt.NDArray[Any]

__all__ = [
    "ACTIVATIONS", "AdamState", "DERIVATIVES", "LOSSES", "LOSS_OUTPUTS", "OPTIMIZERS",
    "PRODUCTS", "SGDState", "SplitMix64", "activation_backward", "adam_step", "apply_mask",
    "bfloat16", "binary_cross_entropy", "cross_entropy", "dense_backward", "dense_forward",
    "dense_linear", "dropout_mask", "exp", "exp_derivative", "glorot_bound", "huber",
    "huber_gradient", "identity", "identity_derivative", "init_params",
    "l2_gradient", "l2_penalty", "mae", "mae_gradient", "matmul", "matmul_bfloat16", "mse",
    "mse_gradient",
    "output_delta", "poisson",
    "perceptron_rule", "perceptron_sgd_epoch", "permutation", "relu", "relu_derivative",
    "sgd_step", "sigmoid", "sigmoid_derivative", "softmax", "step", "tanh", "tanh_derivative",
    "transpose", "weighted_loss",
]


def _dtype(*arrays: Any) -> Type[np.floating[Any]]:
    """float32 when every floating input is float32, else float64."""
    kinds = [a.dtype for a in arrays if a is not None]
    return np.float32 if kinds and all(k == np.float32 for k in kinds) else np.float64


def _real(value: Any, name: str, dtype: Any = None) -> Array:
    """value as a finite, non-empty C-contiguous array of real numbers (any rank), in dtype
    (default: float32 if it is float32, else float64); errors name the argument."""
    arr = check.real_array(value, name)
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    return check.finite(check.convert(arr, dtype or _dtype(arr)), arr, name)


def _matrices(**arrays: Any) -> List[Array]:
    """The named arguments as finite, non-empty 2-D arrays of one float dtype (a 1-D array is
    one row). Raises TypeError for non-real data, ValueError for a wrong rank or NaN/inf."""
    real = {name: check.real_array(a, name) for name, a in arrays.items()}
    dtype = _dtype(*real.values())
    out = []
    for name, a in real.items():
        if a.ndim not in (1, 2):
            raise ValueError(f"{name} must be 2-D (a 1-D array is one row), got shape {a.shape}")
        out.append(_real(a.reshape(1, -1) if a.ndim == 1 else a, name, dtype))
    return out


def _finite(result: Any, what: str) -> Any:
    """result, checked: finite inputs can still overflow (a product of 1e200s); that is an
    error, never a silent inf or NaN."""
    if not np.isfinite(result).all():
        raise FloatingPointError(f"{what} overflowed: inf or NaN from finite inputs")
    return result


def _probabilities(Y: Array, loss: str) -> Array:
    """Y, checked to hold probabilities when the loss is a cross-entropy."""
    if loss in check.PROBABILITY_TARGETS and (Y.min() < 0 or Y.max() > 1):
        raise ValueError(f"Y holds values in [{Y.min():g}, {Y.max():g}]; {loss} takes "
                         f"probabilities in [0, 1]")
    return Y


def _act(name: str) -> int:
    return check.lookup(ACTIVATION_CODES, name, "activation")


# Activations whose derivative backprop can apply elementwise to a hidden layer's output.
HIDDEN_DIFFERENTIABLE = tuple(a for a in HIDDEN_ACTIVATIONS if a not in FORWARD_ONLY_ACTIVATIONS)


def _differentiable(name: str, allowed: Sequence[str] = HIDDEN_DIFFERENTIABLE) -> int:
    code = _act(name)
    if name not in allowed:
        raise ValueError(f"activation {name!r} has no derivative here; choose one of "
                         f"{list(allowed)}")
    return code


# ---- matrix products -----------------------------------------------------------------------

def transpose(A: npt.ArrayLike) -> Array:
    """A^T."""
    (A,) = _matrices(A=A)
    return np.ascontiguousarray(A.T)


def matmul(A: npt.ArrayLike, B: npt.ArrayLike) -> Array:
    """A @ B by the core's GEMM. A (m, k), B (k, n) -> (m, n)."""
    A, B = _matrices(A=A, B=B)
    C = np.empty((A.shape[0], B.shape[1]), dtype=A.dtype)
    _core.gemm(C, A, B)
    return _finite(C, "matmul")


def bfloat16(x: npt.ArrayLike) -> Array:
    """The bfloat16 value nearest each element of x, ties to even, in x's float dtype:
    sign(x) round_half_even(abs(x) / 2^s) 2^s with s = max(floor(log2 abs(x)), -126) - 7, inf
    from 2^128 up (nnfast.reference.ops.bfloat16's rule)."""
    x = _real(x, "x")
    _, e = np.frexp(x)
    s = np.maximum(e - 1, -126) - 7
    with np.errstate(over="ignore"):
        rounded = np.ldexp(np.rint(np.ldexp(np.abs(x), -s)), s)
    rounded[rounded >= 2.0 ** 128] = np.inf
    return np.copysign(rounded, x).astype(x.dtype, copy=False)


def matmul_bfloat16(A: npt.ArrayLike, B: npt.ArrayLike) -> Array:
    """bf(A) @ bf(B), bf = bfloat16 elementwise. float32: the core's bfloat16 GEMM (the
    operands rounded as they are packed, float32 sums: a training step's products with
    dtype="bfloat16"); float64: the float64 GEMM of the rounded operands."""
    A, B = _matrices(A=A, B=B)
    C = np.empty((A.shape[0], B.shape[1]), dtype=A.dtype)
    if A.dtype == np.float32:
        _core.gemm(C, A, B, bf16=True)
    else:
        _core.gemm(C, bfloat16(A), bfloat16(B))
    return _finite(C, "matmul_bfloat16")


# The products of fit's training steps by the model's dtype (nnfast.reference.ops.PRODUCTS).
PRODUCTS = {"float64": matmul, "bfloat16": matmul_bfloat16}


# ---- activations ---------------------------------------------------------------------------

def _forward(name: str) -> Callable[[npt.ArrayLike], Array]:
    code = _act(name)

    def f(Z: npt.ArrayLike) -> Array:
        (Z,) = _matrices(Z=Z)
        A = np.empty_like(Z)
        _core.activation_forward(A, Z, code)
        return _finite(A, name)
    f.__name__ = name
    f.__doc__ = f"{name}(Z), elementwise (softmax: row by row). Z (m, n) -> (m, n)."
    return f


identity, step, sigmoid, tanh, relu, softmax, exp = (
    _forward(n) for n in OUTPUT_ACTIVATIONS)
ACTIVATIONS = {f.__name__: f for f in (identity, step, sigmoid, tanh, relu, softmax, exp)}
# Output activations with an elementwise derivative (softmax's is a Jacobian product).
OUTPUT_DIFFERENTIABLE = HIDDEN_DIFFERENTIABLE + ("softmax", "exp")


def activation_backward(A: npt.ArrayLike, G: npt.ArrayLike, activation: str) -> Array:
    """G * f'(A), f' written from the output A; softmax: a_j (g_j - sum_i g_i a_i) per row."""
    A, G = _matrices(A=A, G=G)
    out = np.empty_like(G)
    _core.activation_backward(out, A, G, _differentiable(activation, OUTPUT_DIFFERENTIABLE))
    return _finite(out, "activation_backward")


def _derivative(name: str) -> Callable[[npt.ArrayLike], Array]:
    def d(A: npt.ArrayLike) -> Array:
        (A,) = _matrices(A=A)
        return activation_backward(A, np.ones_like(A), name)
    d.__name__ = f"{name}_derivative"
    d.__doc__ = f"f'(z) of {name}, written from its output A. (m, n) -> (m, n)."
    return d


identity_derivative, sigmoid_derivative, tanh_derivative, relu_derivative = (
    _derivative(n) for n in HIDDEN_DIFFERENTIABLE)
exp_derivative = _derivative("exp")
DERIVATIVES = {"identity": identity_derivative, "sigmoid": sigmoid_derivative,
               "tanh": tanh_derivative, "relu": relu_derivative, "exp": exp_derivative}


# ---- dense layer ---------------------------------------------------------------------------

def _dense(A: npt.ArrayLike, W: npt.ArrayLike, b: npt.ArrayLike, activation: str,
           want_logits: bool) -> Array:
    A, W = _matrices(A=A, W=W)
    b = _real(b, "b", A.dtype).reshape(-1)
    out = np.empty((A.shape[0], W.shape[1]), dtype=A.dtype)
    Z = np.empty_like(out) if want_logits else None
    _core.dense_forward(out, Z, A, W, b, _act(activation))
    return _finite(out, "dense_forward")


def dense_linear(A: npt.ArrayLike, W: npt.ArrayLike, b: npt.ArrayLike) -> Array:
    """Z = A @ W + b. A (m, n_in), W (n_in, n_out), b (n_out,) -> (m, n_out)."""
    return _dense(A, W, b, "identity", False)


def dense_forward(A: npt.ArrayLike, W: npt.ArrayLike, b: npt.ArrayLike,
                  activation: str = "identity") -> Array:
    """A_out = f(A @ W + b), bias and activation fused into the GEMM's write-out."""
    return _dense(A, W, b, activation, False)


def dense_backward(A_prev: npt.ArrayLike, W: npt.ArrayLike, delta: npt.ArrayLike,
                   activation_prev: Optional[str] = None) -> Tuple[Array, Array, Optional[Array]]:
    """(dW, db, delta_prev): dW = A_prev^T delta / m, db = sum_rows(delta) / m,
    delta_prev = (delta @ W^T) * f'(A_prev), or None when activation_prev is None."""
    A_prev, W, delta = _matrices(A_prev=A_prev, W=W, delta=delta)
    code = (ACTIVATION_CODES["identity"] if activation_prev is None
            else _differentiable(activation_prev))
    dW = np.zeros_like(W)
    db = np.zeros(W.shape[1], dtype=W.dtype)
    delta_prev = None if activation_prev is None else np.empty_like(A_prev)
    _core.dense_backward(dW, db, delta_prev, A_prev, W, delta, code)
    for part in (dW, db) if delta_prev is None else (dW, db, delta_prev):
        _finite(part, "dense_backward")
    return dW, db, delta_prev


# ---- dropout (training only) ---------------------------------------------------------------

def dropout_mask(rng: SplitMix64, m: int, n: int, p: float) -> Array:
    """Inverted dropout's scale S (m, n): value by value in row-major order, u = rng's next
    uniform, S = 1 / (1 - p) when u >= p else 0 (the reference's draws, vectorized)."""
    m, n = check.positive_int(m, "m"), check.positive_int(n, "n")
    p = check.real_in(p, "p", 0.0, 1.0)
    if p >= 1:
        raise ValueError(f"p must be < 1, got {p}")
    count = check.allocation(m * n, 8, "the mask")
    state = check.seed(getattr(rng, "state", None), "rng.state")
    with np.errstate(over="ignore"):  # SplitMix64 is arithmetic modulo 2^64
        z = np.uint64(state) + np.uint64(0x9E3779B97F4A7C15) * np.arange(
            1, count + 1, dtype=np.uint64)
        rng.state = int(z[-1])
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    u = (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    return np.where(u >= p, 1.0 / (1.0 - p), 0.0).reshape(m, n)


def apply_mask(F: npt.ArrayLike, S: npt.ArrayLike) -> Array:
    """A = F * S elementwise: a layer's output after dropout."""
    F, S = _matrices(F=F, S=S)
    if F.shape != S.shape:
        raise ValueError(f"F has shape {F.shape} and S {S.shape}: they must be equal")
    return _finite(F * S, "apply_mask")


# ---- losses ----------------------------------------------------------------------------------

def _loss(name: str) -> Callable[..., float]:
    code = LOSS_CODES[name]

    def loss(Z: npt.ArrayLike, A: npt.ArrayLike, Y: npt.ArrayLike, c: float = 1.0) -> float:
        Z, A, Y = _matrices(Z=Z, A=A, Y=Y)
        if not Z.shape == A.shape == Y.shape:
            raise ValueError(f"Z, A and Y must have the same shape, got {Z.shape}, {A.shape} "
                             f"and {Y.shape}")
        return _finite(_core.loss(Z, A, _probabilities(Y, name), code, c), name)
    return loss


LOSSES = {name: _loss(name) for name in LOSS_NAMES}


def weighted_loss(Z: npt.ArrayLike, A: npt.ArrayLike, Y: npt.ArrayLike,
                  sample_weight: npt.ArrayLike, loss: str) -> float:
    """sum_i sw_i loss_i / sum_i sw_i: the weighted mean of each row's loss.

    Z, A, Y : array-like of shape (m, K), logits, outputs and targets
    sample_weight : array-like of shape (m,), >= 0 with a positive sum
    """
    code = check.lookup(LOSS_CODES, loss, "loss")
    Z, A, Y = _matrices(Z=Z, A=A, Y=Y)
    if not Z.shape == A.shape == Y.shape:
        raise ValueError(f"Z, A and Y must have the same shape, got {Z.shape}, {A.shape} and "
                         f"{Y.shape}")
    sample_weight = check.as_vector(sample_weight, "sample_weight", np.float64, len(Z))
    if sample_weight.min() < 0 or not sample_weight.sum() > 0:
        raise ValueError("sample weights must be >= 0 with a positive sum")
    return _finite(_core.weighted_loss(Z, A, _probabilities(Y, loss), sample_weight, code),
                   "weighted_loss")


def binary_cross_entropy(Z: npt.ArrayLike, Y: npt.ArrayLike) -> float:
    """Mean over rows of sum_k softplus(z_k) - y_k z_k, from the logits Z."""
    return LOSSES["binary_cross_entropy"](Z, Z, Y)


def cross_entropy(Z: npt.ArrayLike, Y: npt.ArrayLike) -> float:
    """Mean over rows of sum_k y_k (lse(z) - z_k), from the logits Z."""
    return LOSSES["cross_entropy"](Z, Z, Y)


def mse(A: npt.ArrayLike, Y: npt.ArrayLike) -> float:
    """Mean over rows of mean_k (a_k - y_k)^2, from the outputs A."""
    return LOSSES["mse"](A, A, Y)


def mae(A: npt.ArrayLike, Y: npt.ArrayLike) -> float:
    """Mean over rows of mean_k abs(a_k - y_k), from the outputs A."""
    return LOSSES["mae"](A, A, Y)


def huber(A: npt.ArrayLike, Y: npt.ArrayLike, delta: float = 1.0) -> float:
    """Mean over rows of mean_k huber(a_k - y_k): r^2 / 2 for abs(r) <= delta, else
    delta (abs(r) - delta / 2)."""
    return LOSSES["huber"](A, A, Y, check.real_in(delta, "delta", 0.0, low_open=True))


def poisson(Z: npt.ArrayLike, Y: npt.ArrayLike) -> float:
    """Mean over rows of sum_k e^(z_k) - y_k z_k, from the logits Z of exp outputs."""
    return LOSSES["poisson"](Z, Z, Y)


def _residuals(A: npt.ArrayLike, Y: npt.ArrayLike) -> Tuple[Array, int]:
    A, Y = _matrices(A=A, Y=Y)
    if A.shape != Y.shape:
        raise ValueError(f"A has shape {A.shape} and Y {Y.shape}: they must be equal")
    return A - Y, A.shape[1]


def mse_gradient(A: npt.ArrayLike, Y: npt.ArrayLike) -> Array:
    """dL_sample/dA of mse: 2 (a - y) / K."""
    R, K = _residuals(A, Y)
    return _finite(2.0 * R / K, "mse_gradient")


def mae_gradient(A: npt.ArrayLike, Y: npt.ArrayLike, c: float = 1.0) -> Array:
    """dL_sample/dA of mae: sign(a - y) / K, 0 where a = y."""
    R, K = _residuals(A, Y)
    return _finite(np.sign(R) / K, "mae_gradient")


def huber_gradient(A: npt.ArrayLike, Y: npt.ArrayLike, c: float = 1.0) -> Array:
    """dL_sample/dA of huber: clip(a - y, -delta, delta) / K, delta = c."""
    R, K = _residuals(A, Y)
    c = check.real_in(c, "c", 0.0, low_open=True)
    return _finite(np.clip(R, -c, c) / K, "huber_gradient")


def output_delta(Z: npt.ArrayLike, A: npt.ArrayLike, Y: npt.ArrayLike, output: str,
                 loss: str, c: float = 1.0) -> Array:
    """dL_sample/dZ: a - y for sigmoid+binary_cross_entropy, softmax+cross_entropy and
    exp+poisson, else the chain rule through the output activation (mse, mae, huber with
    delta c)."""
    loss_outputs = check.lookup(LOSS_OUTPUTS, loss, "loss")
    if output not in loss_outputs:
        raise ValueError(f"output {output!r} with loss {loss!r} is not a supported pair")
    code = _differentiable(output, OUTPUT_DIFFERENTIABLE)
    Z, A, Y = _matrices(Z=Z, A=A, Y=Y)
    if not Z.shape == A.shape == Y.shape:
        raise ValueError(f"Z, A and Y must have the same shape, got {Z.shape}, {A.shape} and "
                         f"{Y.shape}")
    delta = np.empty_like(A)
    _core.output_delta(delta, Z, A, _probabilities(Y, loss), code, LOSS_CODES[loss], c)
    return _finite(delta, "output_delta")


# ---- L2 ------------------------------------------------------------------------------------------

def l2_penalty(weights: Sequence[npt.ArrayLike], alpha: float, m: int) -> float:
    """alpha / 2 * sum_l sum(W[l]^2) / m."""
    alpha, m = check.real_in(alpha, "alpha", 0.0), check.positive_int(m, "m")
    if isinstance(weights, np.ndarray) or not hasattr(weights, "__len__"):
        raise TypeError(f"weights must be a list of weight matrices, got {type(weights).__name__}")
    return _finite(sum(_core.l2_penalty(_real(W, f"weights[{l}]").reshape(-1), alpha, m)
                       for l, W in enumerate(weights)), "l2_penalty")


def l2_gradient(W: npt.ArrayLike, alpha: float, m: int) -> Array:
    """alpha * W / m."""
    alpha, m = check.real_in(alpha, "alpha", 0.0), check.positive_int(m, "m")
    W = _real(W, "W")
    dW = np.zeros_like(W)
    _core.l2_gradient(dW.reshape(-1), W.reshape(-1), alpha, m)
    return _finite(dW, "l2_gradient")


# ---- optimizers (in place) -------------------------------------------------------------------

def _inplace(**arrays: Any) -> List[Array]:
    """The named arrays, flattened, after checking that the kernel can update them in place:
    NumPy arrays of one float dtype, C-contiguous and writeable, of one shape, finite."""
    first = next(iter(arrays.values()))
    dtype = first.dtype if isinstance(first, np.ndarray) else None
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype != dtype or dtype not in (np.float32, np.float64):
            raise TypeError(f"in-place kernels take float32 or float64 NumPy arrays of one dtype; "
                            f"{name} is {type(a).__name__}"
                            + (f" of dtype {a.dtype}" if isinstance(a, np.ndarray) else ""))
        if not a.flags.c_contiguous or not a.flags.writeable:
            raise ValueError(f"in-place kernels need C-contiguous, writeable arrays; {name} is not")
        if a.shape != first.shape or a.size == 0:
            raise ValueError(f"{name} has shape {a.shape}; the arrays must share one non-empty "
                             f"shape {first.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or infinity")
    return [a.reshape(-1) for a in arrays.values()]


def _unit_interval(value: Any, name: str) -> float:
    return check.real_in(value, name, 0.0, 1.0)


def sgd_step(w: Array, g: Array, v: Array, lr: float, momentum: float = 0.0,
             nesterov: bool = False) -> None:
    """v = momentum v - lr g; w += v, or w += momentum v - lr g (Nesterov). In place."""
    lr = check.real_in(lr, "lr", 0.0, low_open=True)
    momentum, nesterov = _unit_interval(momentum, "momentum"), check.flag(nesterov, "nesterov")
    w, g, v = _inplace(w=w, g=g, v=v)
    _core.sgd_update(w, v, g, lr, momentum, nesterov)


def adam_step(w: Array, g: Array, m: Array, v: Array, t: int, lr: float, beta1: float = 0.9,
              beta2: float = 0.999, eps: float = 1e-8) -> None:
    """One Adam step, t the 1-based step count. w, m, v updated in place."""
    t, lr = check.positive_int(t, "t"), check.real_in(lr, "lr", 0.0, low_open=True)
    beta1, beta2 = _unit_interval(beta1, "beta1"), _unit_interval(beta2, "beta2")
    eps = check.real_in(eps, "eps", 0.0, low_open=True)
    w, g, m, v = _inplace(w=w, g=g, m=m, v=v)
    _core.adam_update(w, m, v, g, t, lr, beta1, beta2, eps)


class _OptimizerState:
    """The state of one optimizer for one parameter vector; .step(w, g) updates w in place."""

    slots: Optional[List[Array]]  # the velocity or Adam moments, allocated at the first step

    def __init__(self, size: int, lr: float, momentum: float = 0.0,
                 nesterov: bool = False) -> None:
        self.lr, self.momentum, self.nesterov = lr, momentum, nesterov
        self.size, self.t, self.slots = size, 0, None

    def _slots(self, w: Array, count: int) -> List[Array]:
        if self.slots is None:
            self.slots = [np.zeros(self.size, dtype=w.dtype) for _ in range(count)]
        return self.slots


class SGDState(_OptimizerState):
    def step(self, w: Array, g: Array) -> None:
        (v,) = self._slots(w, 1)
        sgd_step(w, g, v, self.lr, self.momentum, self.nesterov)


class AdamState(_OptimizerState):
    def step(self, w: Array, g: Array) -> None:
        m, v = self._slots(w, 2)
        self.t += 1
        adam_step(w, g, m, v, self.t, self.lr)


OPTIMIZERS = {"sgd": SGDState, "adam": AdamState}


# ---- perceptron rule, initialization, random order -------------------------------------------

def perceptron_rule(W: Array, b: Array, X: npt.ArrayLike, Y: npt.ArrayLike, lr: float,
                    order: Optional[npt.ArrayLike] = None) -> int:
    """One epoch of the perceptron rule, in place on W (n_in, n_out) and b (n_out,);
    returns the number of samples with a mistake."""
    _inplace(W=W)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (n_inputs, n_outputs), got shape {W.shape}")
    _inplace(b=b)
    if b.shape != (W.shape[1],):
        raise ValueError(f"b has shape {b.shape}, W needs ({W.shape[1]},)")
    lr = check.real_in(lr, "lr", 0.0, low_open=True)
    X = check.as_matrix(X, "X", W.dtype, W.shape[0], "W")
    Y = check.real_array(Y, "Y")
    if Y.ndim == 1 and W.shape[1] == 1:
        Y = Y.reshape(-1, 1)
    if Y.shape != (len(X), W.shape[1]):
        raise ValueError(f"Y has shape {Y.shape}; X and W need ({len(X)}, {W.shape[1]})")
    if not np.isin(Y, (0, 1)).all():
        raise ValueError("Y must hold 0/1 labels for the perceptron rule")
    Y = check.convert(Y, W.dtype)
    order = None if order is None else check.row_order(order, len(X))
    return _core.perceptron_epoch(W, b, X, Y, order, lr)


def perceptron_sgd_epoch(w: Array, b: float, u: float, q: Array, X: npt.ArrayLike,
                         y: npt.ArrayLike, sample_weight: npt.ArrayLike, eta: float,
                         alpha: float = 0.0, l1_ratio: float = 0.0, fit_intercept: bool = True,
                         order: Optional[npt.ArrayLike] = None) -> Tuple[float, float, float]:
    """One epoch of SGD on the perceptron loss max(0, -y p) (scikit-learn's Perceptron), as
    nnfast.reference.ops.perceptron_sgd_epoch: per sample, p = w . x + b, a mistake
    (y p <= 0) moves w by eta y sw x and b by eta y sw; the L2 part of the penalty shrinks w,
    the L1 part (cumulative u, q per weight) pulls it toward 0. With a penalty the arithmetic
    is scikit-learn's WeightVector's (w = wscale v, its running norms; docs/semantics.md),
    started from the exact norms and folded back into w at the end.

    Parameters
    ----------
    w, q : ndarray of shape (n_features,)
        Weights and the L1 moves applied so far, updated in place (one float dtype).
    b, u : float
        Intercept and cumulative L1 penalty.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,), in {-1, +1}
    sample_weight : array-like of shape (n_samples,)
    eta : float > 0; alpha : float >= 0; l1_ratio : float in [0, 1]
    order : array-like of int of shape (n_samples,), optional
        The order the samples are visited in.

    Returns
    -------
    (b, u, objective) : the new intercept and cumulative L1 penalty, and the epoch's summed
    loss plus penalty.
    """
    w, q = _inplace(w=w, q=q)
    X = check.as_matrix(X, "X", w.dtype, w.shape[0], "w")
    y = check.as_vector(y, "y", w.dtype, len(X))
    if not (np.abs(y) == 1).all():  # every label -1 or +1 (y is finite here)
        raise ValueError("y must hold -1/+1 labels for the perceptron loss")
    sample_weight = check.as_vector(sample_weight, "sample_weight", w.dtype, len(X))
    eta = check.real_in(eta, "eta", 0.0, low_open=True)
    alpha = check.real_in(alpha, "alpha", 0.0)
    l1_ratio = check.real_in(l1_ratio, "l1_ratio", 0.0, 1.0, high_open=False)
    order = None if order is None else check.row_order(order, len(X))
    return _core.perceptron_sgd_epoch(
        w, q, X, y, sample_weight, order, check.real_in(b, "b", -np.inf),
        check.real_in(u, "u", 0.0), eta, alpha, l1_ratio,
        check.flag(fit_intercept, "fit_intercept"))


# ---- many epochs of one-vs-rest classes in one call (no reference twin: a driver) --------

# One class's training state in perceptron_sgd_fit: the core's nn_perceptron_sgd_class.
PERCEPTRON_SGD_CLASS = np.dtype([
    ("b", np.float64), ("u", np.float64), ("norms", np.float64, (2,)), ("wscale", np.float64),
    ("best_objective", np.float64), ("no_improvement", np.int64), ("epochs", np.int64),
    ("status", np.int64)])
assert PERCEPTRON_SGD_CLASS.itemsize == _core.PERCEPTRON_SGD_CLASS_BYTES
# a class's status: still training, stopped by the rule, weights or intercept not finite
SGD_TRAINING, SGD_CONVERGED, SGD_NONFINITE = 0, 1, 2


def weight_norms(w: Array) -> np.ndarray:
    """[|w|^2, |w|_1] of one weight vector, in float64."""
    w64 = w.astype(np.float64, copy=False)
    return np.array([np.dot(w64, w64), np.abs(w64).sum()], dtype=np.float64)


def perceptron_sgd_classes(intercepts: npt.ArrayLike, W: Array) -> np.ndarray:
    """The starting state of one class per row of W: intercept b, no L1 applied, norms
    [|w|^2, |w|_1] (scikit-learn's running norms start there), scale 1, no objective yet."""
    state = np.zeros(len(W), dtype=PERCEPTRON_SGD_CLASS)
    state["b"] = intercepts
    for j, w in enumerate(W):
        state["norms"][j] = weight_norms(w)
    state["wscale"] = 1.0
    state["best_objective"] = np.inf
    return state


def _sgd_fit_arguments(W: Array, Q: Optional[Array], state: np.ndarray, n: int,
                       Y: npt.ArrayLike, SW: npt.ArrayLike, orders: Optional[npt.ArrayLike],
                       streams: bool = False) -> Tuple[Any, ...]:
    """perceptron_sgd_fit's arrays checked: (W, Q, state bytes, Y, SW, orders, n_epochs);
    orders may be a RandomStateOrders or SGDDatasetOrders (returned as it is) where streams
    is true."""
    _inplace(W=W) if Q is None else _inplace(W=W, Q=Q)
    if W.ndim != 2:
        raise ValueError(f"W must be (classes, features), got shape {W.shape}")
    if not (isinstance(state, np.ndarray) and state.dtype == PERCEPTRON_SGD_CLASS
            and state.shape == (len(W),) and state.flags.c_contiguous
            and state.flags.writeable):
        raise TypeError("state must be a writeable array of ops.PERCEPTRON_SGD_CLASS, one "
                        "record per row of W (ops.perceptron_sgd_classes makes it)")
    Y = check.as_matrix(Y, "Y", W.dtype, n, "the rows")
    if Y.shape[0] != len(W) or not (np.abs(Y) == 1).all():
        raise ValueError("Y must hold one row of -1/+1 labels per class")
    SW = check.as_matrix(SW, "SW", W.dtype, n, "the rows")
    if SW.shape[0] != len(W):
        raise ValueError("SW must hold one row of sample weights per class")
    n_epochs = 1
    if isinstance(orders, ORDER_STREAMS) and not streams:
        raise TypeError("orders must be an int64 array here: these epochs take no "
                        "RandomStateOrders or SGDDatasetOrders streams (fill one first)")
    if orders is not None and not isinstance(orders, ORDER_STREAMS):
        orders = np.asarray(orders)
        if orders.dtype != np.int64 or orders.ndim != 3 or not orders.flags.c_contiguous:
            raise TypeError("orders must be a C-contiguous int64 array (classes, epochs, rows)")
        if orders.shape[0] != len(W) or orders.shape[2] != n:
            raise ValueError(f"orders must be ({len(W)}, epochs, {n}), got {orders.shape}")
        if orders.size and (orders.min() < 0 or orders.max() >= n):
            raise ValueError(f"orders holds a row index outside [0, {n})")
        n_epochs = orders.shape[1]
    return W, Q, state.view(np.uint8), Y, SW, orders, n_epochs


def perceptron_sgd_fit(W: Array, Q: Optional[Array], state: np.ndarray, X: npt.ArrayLike,
                       Y: npt.ArrayLike, SW: npt.ArrayLike, orders: Optional[npt.ArrayLike],
                       eta: float, alpha: float = 0.0, l1_ratio: float = 0.0,
                       fit_intercept: bool = True, tol: float = -np.inf,
                       n_iter_no_change: int = 5, max_iter: int = 1000,
                       n_epochs: Optional[int] = None) -> None:
    """Many epochs of perceptron_sgd_epoch for one-vs-rest classes in one call, the classes
    on the core's threads (the results do not depend on their number), with scikit-learn's
    stopping rule (no validation split) run after each epoch.

    Row j of W (and of Q, its L1 memory: None without an L1 part) trains on labels Y[j]
    (-1/+1), weights SW[j] and state[j] (ops.perceptron_sgd_classes), all in place. Epoch e
    of this call visits the rows in orders[j, e] (orders (classes, epochs, rows); None: in
    row order, n_epochs epochs); orders may also be a RandomStateOrders or an SGDDatasetOrders
    with one stream per class, which draws each epoch's order as it runs (n_epochs epochs at
    most; a class that stops draws no more). A class stops when state["status"] leaves SGD_TRAINING:
    SGD_CONVERGED after n_iter_no_change epochs whose mean objective is above its best - tol,
    SGD_NONFINITE when w or b is no longer finite; or at max_iter epochs (state["epochs"]).

    With an L2 part (alpha > 0, l1_ratio < 1) the epochs are scikit-learn's WeightVector
    arithmetic: the weights are state["wscale"][j] * W[j], the scale carried from call to
    call and folded into W[j] (wscale 1) once the class stops, as scikit-learn's fit ends;
    while a class still trains, W[j] holds scikit-learn's unscaled weights (those its early
    stopping scores).
    """
    _inplace(W=W)  # a float array: the dtype X is read in
    X = check.as_matrix(X, "X", W.dtype, W.shape[-1], "W")
    W, Q, raw, Y_checked, SW_checked, orders_checked, epochs = _sgd_fit_arguments(
        W, Q, state, len(X), Y, SW, orders, streams=True)
    keys: Optional[npt.NDArray[np.uint32]] = None
    pos: Optional[npt.NDArray[np.int64]] = None
    seeds: Optional[npt.NDArray[np.uint32]] = None
    index: Optional[npt.NDArray[np.int64]] = None
    if isinstance(orders_checked, ORDER_STREAMS):
        streams_given = len(orders_checked)
        if streams_given != len(W):
            raise ValueError(f"orders must hold one stream per class ({len(W)}), "
                             f"got {streams_given}")
        if isinstance(orders_checked, RandomStateOrders):
            keys, pos = orders_checked.keys, orders_checked.pos
        else:
            if orders_checked.index.shape[1] != len(X):
                raise ValueError(f"orders must be an SGDDatasetOrders of {len(X)} rows (X's), "
                                 f"got {orders_checked.index.shape[1]}")
            seeds, index = orders_checked.seeds, orders_checked.index
        orders_checked = None
    if orders_checked is None:
        epochs = check.positive_int(1 if n_epochs is None else n_epochs, "n_epochs")
    tol = -np.inf if tol is None else float(tol)
    if np.isnan(tol):
        raise ValueError("tol must be a number or None, got NaN")
    _core.perceptron_sgd_fit(
        W, Q, raw, X, Y_checked, SW_checked, orders_checked, epochs, check.real_in(eta, "eta", 0.0, low_open=True),
        check.real_in(alpha, "alpha", 0.0),
        check.real_in(l1_ratio, "l1_ratio", 0.0, 1.0, high_open=False), tol,
        check.flag(fit_intercept, "fit_intercept"),
        check.positive_int(n_iter_no_change, "n_iter_no_change"),
        check.positive_int(max_iter, "max_iter"), keys, pos, seeds, index)


class RandomStateOrders:
    """The orders numpy.random.RandomState(seed).permutation(n) draws, one after another, for
    each seed, drawn by the core (its MT19937 and the legacy shuffle, bit for bit; the seeds'
    streams on the core's threads): ``fill(orders, active=None)`` writes the next m orders of
    stream s into orders[s], an int64 (seeds, m, n) array, for every s where active (a bool
    per seed; None: all) is true."""

    def __init__(self, seeds: Sequence[int]) -> None:
        ints = np.asarray(seeds)
        if (ints.ndim == 1 and len(ints) and ints.dtype.kind in "iu" and ints.min() >= 0
                and ints.max() <= 0xFFFFFFFF):
            # integer seeds: RandomState's seeding (mt19937_seed) done by the core
            self.keys = np.empty((len(ints), 624), dtype=np.uint32)
            self.pos = np.empty(len(ints), dtype=np.int64)
            _core.mt19937_seed(self.keys, self.pos, ints.astype(np.uint32))
            return
        states: List[Any] = [np.random.RandomState(seed).get_state(legacy=True)
                             for seed in seeds]
        self.keys = np.array([state[1] for state in states], dtype=np.uint32)
        self.pos = np.array([state[2] for state in states], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.pos)

    def fill(self, orders: npt.NDArray[np.int64], active: Optional[Any] = None) -> None:
        _core.mt19937_permutations(_checked_orders(orders), self.keys, self.pos,
                                   _stream_flags(active))


class SGDDatasetOrders:
    """The epoch orders of scikit-learn's SGD (its Perceptron's shuffled epochs): stream s
    keeps an index of the n rows, 0..n-1 at the start, and each order is that index shuffled
    in place as scikit-learn's SequentialDataset.shuffle(seeds[s]) shuffles it (xorshift32
    Fisher-Yates, the seed taken by value: the same swaps on the last order), drawn by the
    core (the streams on its threads). ``fill(orders, active=None)`` writes the next m orders
    of stream s into orders[s], an int64 (seeds, m, n) array, for every s where active (a
    bool per seed; None: all) is true; ``perceptron_sgd_fit`` also takes the streams as they
    are, shuffling each class's index as its epochs run."""

    def __init__(self, seeds: Sequence[int], n: int) -> None:
        ints = np.asarray(seeds)
        if not (ints.ndim == 1 and len(ints) and ints.dtype.kind in "iu"
                and ints.min() >= 0 and ints.max() <= 0xFFFFFFFF):
            raise ValueError("seeds must be a non-empty 1-d sequence of integers in "
                             f"[0, 2**32), got {seeds!r}")
        n = check.positive_int(n, "n")
        if n > np.iinfo(np.int32).max:
            raise ValueError(f"n must be below 2**31 (scikit-learn's int index), got {n}")
        self.seeds = ints.astype(np.uint32)
        self.index = np.tile(np.arange(n, dtype=np.int64), (len(ints), 1))

    def __len__(self) -> int:
        return len(self.seeds)

    def fill(self, orders: npt.NDArray[np.int64], active: Optional[Any] = None) -> None:
        _core.sgd_dataset_orders(_checked_orders(orders), self.seeds, self.index,
                                 _stream_flags(active))


# the order streams perceptron_sgd_fit takes instead of an array of orders
ORDER_STREAMS = (RandomStateOrders, SGDDatasetOrders)


def _checked_orders(orders: Any) -> npt.NDArray[np.int64]:
    """orders for a stream's fill: a writeable C-contiguous int64 (streams, m, n) array."""
    if not (isinstance(orders, np.ndarray) and orders.dtype == np.int64
            and orders.ndim == 3 and orders.flags.c_contiguous and orders.flags.writeable):
        raise ValueError("orders must be a writeable C-contiguous int64 "
                         "(seeds, m, n) array")
    return orders


def _stream_flags(active: Optional[Any]) -> Optional[npt.NDArray[np.uint8]]:
    """active as one uint8 flag per stream (None: every stream)."""
    return None if active is None else np.ascontiguousarray(active, dtype=np.uint8)


class RandomStateShuffler:
    """numpy.random.RandomState.shuffle for int64 arrays, drawn by the core (its MT19937 and
    the legacy shuffle, bit for bit) without a Python call per draw: the generator's state is
    read once here and written back by ``close()``, so that the generator ends where its own
    shuffles would have left it; in between it must not be drawn from elsewhere. A generator
    other than a RandomState on MT19937, and NumPy's global one (shared with the rest of the
    program), shuffle with their own method."""

    def __init__(self, random_state: Any) -> None:
        self._random_state = random_state
        self._state: Optional[Any] = None
        if (type(random_state) is np.random.RandomState
                and random_state is not np.random.mtrand._rand):
            state = random_state.get_state(legacy=False)
            if state["bit_generator"] == "MT19937":
                self._state = state
                self._key = np.array(state["state"]["key"], dtype=np.uint32)
                self._pos = np.array([state["state"]["pos"]], dtype=np.int64)

    def shuffle(self, x: npt.NDArray[np.int64]) -> None:
        """x (1-d, int64, C-contiguous) shuffled in place."""
        if self._state is None:
            self._random_state.shuffle(x)
        else:
            _core.mt19937_shuffle(x, self._key, self._pos)

    def close(self) -> None:
        """The generator's state set to where the shuffles have taken it."""
        if self._state is not None:
            state = dict(self._state, state={"key": self._key, "pos": int(self._pos[0])})
            self._random_state.set_state(state)
            self._state = None


# The numerator of a layer's glorot bound sqrt(gain / (n_in + n_out)), by its activation.
GLOROT_GAINS = {"sigmoid": 2.0}


def glorot_bound(n_in: int, n_out: int, activation: str) -> float:
    """sqrt(6 / (n_in + n_out)), or sqrt(2 / (n_in + n_out)) for a sigmoid layer: the
    half-width of the uniform draw init_params makes for that layer."""
    n_in, n_out = check.positive_int(n_in, "n_in"), check.positive_int(n_out, "n_out")
    check.lookup(ACTIVATION_CODES, activation, "activation")
    return float(np.sqrt(GLOROT_GAINS.get(activation, 6.0) / (n_in + n_out)))


def init_params(layers: Sequence[int], activations: Sequence[str], rng: SplitMix64,
                init: str) -> Tuple[List[Array], List[Array]]:
    """Initial (weights, biases) by the init contract, drawn from rng (a SplitMix64) in
    place of the reference's draws: same values, same stream state afterwards."""
    from .models.parameters import count_parameters, split_parameters

    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) < 2:
        raise ValueError(f"layers must list at least 2 sizes, got {layers!r}")
    layers = [check.positive_int(n, f"layers[{i}]") for i, n in enumerate(layers)]
    if (isinstance(activations, (str, bytes)) or not hasattr(activations, "__len__")
            or len(activations) != len(layers) - 1 or len(set(activations[:-1])) > 1):
        raise ValueError("activations must give one name per layer, the hidden ones equal")
    hidden = activations[0] if len(activations) > 1 else "identity"
    net_codes = (_act(hidden), _act(activations[-1]))
    if hidden not in HIDDEN_ACTIVATIONS:
        raise ValueError(f"{hidden} is an output activation only")
    init_code = check.lookup(INIT_CODES, init, "init")
    state = check.seed(getattr(rng, "state", None), "rng.state")
    count = check.allocation(count_parameters(layers), 8, f"layers {layers}")
    net = _core.Net(layers, *net_codes, LOSS_CODES["mse"])
    params = np.zeros(count, dtype=np.float64)
    rng.state = _core.init_params(params, net, init_code, state)
    weights, biases = split_parameters(params, layers)
    return [W.copy() for W in weights], [b.copy() for b in biases]


def permutation(rng: SplitMix64, n: int) -> npt.NDArray[np.int64]:
    """A Fisher-Yates order of 0..n-1 drawn from rng (a SplitMix64), as in the reference."""
    n = check.allocation(check.positive_int(n, "n"), 8, "n")
    state = check.seed(getattr(rng, "state", None), "rng.state")
    order = np.empty(n, dtype=np.int64)
    rng.state = _core.rng_permutation(order, state)
    return order
