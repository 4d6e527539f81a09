"""The kernels of nnfast, in pure Python: the seeds' equations, one function each.

A matrix is a list of rows (a list of lists of float), a vector a list of float.
One sample is one row, so a dense layer is ``Z = A @ W + b`` with W of shape
(n_in, n_out): for one sample this is the seeds' ``z = W^T x + b``.

The math lives in tables keyed by name (ACTIVATIONS, DERIVATIVES, LOSSES,
OPTIMIZERS, INITIALIZERS), keyed by the names of ``nnfast.vocabulary``; ``nnfast.ops`` has
the same names on NumPy arrays.
"""

import math

from .. import vocabulary
from ..vocabulary import INIT_NAMES, LOSS_NAMES, LOSS_OUTPUTS, OUTPUT_ACTIVATIONS
from .rng import SplitMix64, permutation  # noqa: F401  (re-exported)


# ---------------------------------------------------------------- linear algebra

def transpose(A):
    """A^T. A (m, n) -> (n, m)."""
    return [list(column) for column in zip(*A)]


def matmul(A, B):
    """C = A @ B, C[i][j] = sum_p A[i][p] B[p][j]. A (m, k), B (k, n) -> C (m, n)."""
    if A and len(A[0]) != len(B):
        raise ValueError(f"matmul: A has {len(A[0])} columns but B has {len(B)} rows")
    columns = transpose(B)
    return [[sum(a * b for a, b in zip(row, column)) for column in columns] for row in A]


# bfloat16: float32's sign and 8 exponent bits, 8 significant bits (1 implicit + 7 stored)
BFLOAT16_BITS = 8
BFLOAT16_MIN_EXPONENT = -126    # the smallest normal bfloat16 is 2^-126, as float32's
BFLOAT16_OVERFLOW = 2.0 ** 128  # a rounded magnitude this large is past the largest finite one


def bfloat16(x):
    """The bfloat16 value nearest to the float x, ties to even, as a float.

    With e = floor(log2 abs(x)) and the grid's spacing 2^s, s = max(e, -126) - 7:
    bfloat16(x) = sign(x) * round_half_even(abs(x) / 2^s) * 2^s, and sign(x) * inf when
    that magnitude is >= 2^128. Normal values keep 8 significant bits; below 2^-126 the
    spacing stays 2^-133 (bfloat16's subnormals). 0.0, -0.0, inf and nan are returned as
    they are.
    """
    if x == 0.0 or not math.isfinite(x):
        return x
    _, frexp_exponent = math.frexp(x)  # |x| = f 2^frexp_exponent, 1/2 <= f < 1
    e = frexp_exponent - 1
    s = max(e, BFLOAT16_MIN_EXPONENT) - (BFLOAT16_BITS - 1)
    # |x| / 2^s < 2^8 is exact in a double, and round() rounds half to even
    magnitude = math.ldexp(round(math.ldexp(abs(x), -s)), s)
    if magnitude >= BFLOAT16_OVERFLOW:
        magnitude = math.inf
    return math.copysign(magnitude, x)  # a tiny x that rounds to 0 keeps its sign


def matmul_bfloat16(A, B):
    """C = bf(A) @ bf(B), bf = bfloat16 elementwise: the operands are rounded, the products
    and sums are matmul's. A (m, k), B (k, n) -> C (m, n)."""
    return matmul(_map(bfloat16, A), _map(bfloat16, B))


def _elementwise(f, A, B):
    """C[i][j] = f(A[i][j], B[i][j]). A, B (m, n) -> C (m, n)."""
    return [[f(a, b) for a, b in zip(row_a, row_b)] for row_a, row_b in zip(A, B)]


def _map(f, A):
    """C[i][j] = f(A[i][j]). A (m, n) -> C (m, n)."""
    return [[f(a) for a in row] for row in A]


PRODUCTS = {  # the matrix products of fit's training steps, by the model's dtype
    "float64": matmul,
    "bfloat16": matmul_bfloat16,
}


# ---------------------------------------------------------------- activations

def _sigmoid(z):
    """1 / (1 + e^-z), written as e^z / (1 + e^z) for z < 0 so e^-z never overflows."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def identity(Z):
    """f(z) = z. Z (m, n) -> A (m, n), a copy."""
    return _map(float, Z)


def step(Z):
    """f(z) = 1 if z >= 0 else 0 (the perceptron's threshold). Z (m, n) -> A (m, n)."""
    return _map(lambda z: 1.0 if z >= 0 else 0.0, Z)


def sigmoid(Z):
    """f(z) = 1 / (1 + e^-z). Z (m, n) -> A (m, n)."""
    return _map(_sigmoid, Z)


def tanh(Z):
    """f(z) = tanh z. Z (m, n) -> A (m, n)."""
    return _map(math.tanh, Z)


def relu(Z):
    """f(z) = max(0, z). Z (m, n) -> A (m, n)."""
    return _map(lambda z: z if z > 0 else 0.0, Z)


def softmax(Z):
    """Row-wise a_j = e^(z_j - max z) / sum_i e^(z_i - max z). Z (m, K) -> A (m, K).

    Subtracting the row maximum keeps every exponent <= 0: no overflow.
    """
    A = []
    for row in Z:
        top = max(row)
        e = [math.exp(z - top) for z in row]
        total = sum(e)
        A.append([x / total for x in e])
    return A


def _exp(z):
    """e^z; inf past the largest double (math.exp would raise), as the core's exp gives."""
    return math.exp(z) if z < 709.78 else math.inf


def exp(Z):
    """f(z) = e^z, the rate of a Poisson output (poisson's loss reads z itself).
    Z (m, n) -> A (m, n)."""
    return _map(_exp, Z)


ACTIVATIONS = {
    "identity": identity,
    "step": step,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "softmax": softmax,
    "exp": exp,
}


# ---------------------------------------------------------------- derivatives
# Written with the activation's output a = f(z), so backprop needs no cache of Z.

def identity_derivative(A):
    """f'(z) = 1. A (m, n) -> (m, n)."""
    return _map(lambda a: 1.0, A)


def sigmoid_derivative(A):
    """f'(z) = a (1 - a). A (m, n) -> (m, n)."""
    return _map(lambda a: a * (1.0 - a), A)


def tanh_derivative(A):
    """f'(z) = 1 - a^2. A (m, n) -> (m, n)."""
    return _map(lambda a: 1.0 - a * a, A)


def relu_derivative(A):
    """f'(z) = 1 if a > 0 else 0. A (m, n) -> (m, n)."""
    return _map(lambda a: 1.0 if a > 0 else 0.0, A)


def exp_derivative(A):
    """f'(z) = e^z = a. A (m, n) -> (m, n)."""
    return _map(float, A)


DERIVATIVES = {
    "identity": identity_derivative,
    "sigmoid": sigmoid_derivative,
    "tanh": tanh_derivative,
    "relu": relu_derivative,
    "exp": exp_derivative,
}


def _softmax_backward(A, G):
    """Softmax Jacobian-vector product, per row: g_j -> a_j (g_j - sum_i g_i a_i)."""
    out = []
    for a, g in zip(A, G):
        dot = sum(gi * ai for gi, ai in zip(g, a))
        out.append([aj * (gj - dot) for aj, gj in zip(a, g)])
    return out


def activation_backward(A, G, activation):
    """dL/dZ from dL/dA = G through the activation, written with its output A.

    Elementwise G * f'(A); for softmax the Jacobian-vector product per row,
    a_j (g_j - sum_i g_i a_i).

    Parameters
    ----------
    A : matrix of shape (m, n)
        The activation's output.
    G : matrix of shape (m, n)
        dL/dA.
    activation : str

    Returns
    -------
    matrix of shape (m, n)
    """
    if activation == "softmax":
        return _softmax_backward(A, G)
    if activation not in DERIVATIVES:
        vocabulary.check_name("activation", activation, OUTPUT_ACTIVATIONS)
        raise ValueError(f"{activation} has no derivative: train it with the perceptron rule "
                         f"(Perceptron), not by gradient descent")
    return _elementwise(lambda g, d: g * d, G, DERIVATIVES[activation](A))


# ---------------------------------------------------------------- dense layer

def dense_linear(A, W, b, product=matmul):
    """Z = A @ W + b, b added to every row; product(A, W) computes A @ W (a PRODUCTS value).

    A (m, n_in), W (n_in, n_out), b (n_out,) -> Z (m, n_out): the logits.
    """
    return [[z + bj for z, bj in zip(row, b)] for row in product(A, W)]


def dense_forward(A, W, b, activation="identity", product=matmul):
    """A_out = f(A @ W + b), A @ W by product. A (m, n_in), W (n_in, n_out), b (n_out,)
    -> A_out (m, n_out)."""
    return ACTIVATIONS[activation](dense_linear(A, W, b, product))


def dense_backward(A_prev, W, delta, activation_prev=None, dropout=None, product=matmul):
    """Gradients of one dense layer, from its output delta = dL/dZ.

    dW = A_prev^T @ delta / m;  db = sum_rows(delta) / m;
    delta_prev = (delta @ W^T) * f'(A_prev), with f the previous layer's activation;
    after dropout (A_prev = F * S): delta_prev = (delta @ W^T) * S * f'(F).

    Parameters
    ----------
    A_prev : matrix of shape (m, n_in)
        The layer's input.
    W : matrix of shape (n_in, n_out)
    delta : matrix of shape (m, n_out)
        Per-sample dL/dZ (not divided by m).
    activation_prev : str or None
        Activation that produced A_prev; None for the first layer (A_prev = X).
    dropout : (F, S) or None
        When A_prev went through dropout: the layer's output before it, F, and the mask's
        scale S (0 or 1 / (1 - p)), both (m, n_in).
    product : function, default matmul
        Computes A_prev^T @ delta and delta @ W^T (a PRODUCTS value); the rest is exact.

    Returns
    -------
    dW : matrix of shape (n_in, n_out)
    db : vector of shape (n_out,)
    delta_prev : matrix of shape (m, n_in), or None when activation_prev is None
    """
    m = len(delta)
    dW = _map(lambda x: x / m, product(transpose(A_prev), delta))
    db = [sum(column) / m for column in zip(*delta)]
    if activation_prev is None:
        return dW, db, None
    G = product(delta, transpose(W))
    if dropout is not None:
        A_prev, S = dropout
        G = _elementwise(lambda g, s: g * s, G, S)
    return dW, db, activation_backward(A_prev, G, activation_prev)


# ---------------------------------------------------------------- dropout (training only)

def dropout_mask(rng, m, n, p):
    """Inverted dropout's scale S (m, n): row by row, unit by unit, u = rng.uniform();
    S = 1 / (1 - p) when u >= p (kept) else 0. The layer passes F * S on, so its expected
    output is F and predicting needs no change. Draws m n numbers."""
    keep = 1.0 / (1.0 - p)
    return [[keep if rng.uniform() >= p else 0.0 for _ in range(n)] for _ in range(m)]


def apply_mask(F, S):
    """A = F * S elementwise. F, S (m, n) -> A (m, n)."""
    return _elementwise(lambda f, s: f * s, F, S)


# ---------------------------------------------------------------- losses (mean over rows)

def _softplus(z):
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|), which never overflows."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _log_sum_exp(z):
    """lse(z) = max z + log sum_i e^(z_i - max z)."""
    top = max(z)
    return top + math.log(sum(math.exp(zi - top) for zi in z))


def binary_cross_entropy(Z, Y):
    """L = mean_rows sum_k softplus(z_k) - y_k z_k, from the logits of sigmoid outputs.

    Equals -[y log a + (1-y) log(1-a)] with a = sigmoid(z), without ever taking log 0.
    Z, Y (m, K) -> float.
    """
    return sum(sum(_softplus(z) - y * z for z, y in zip(zr, yr)) for zr, yr in zip(Z, Y)) / len(Z)


def cross_entropy(Z, Y):
    """L = mean_rows sum_k y_k (lse(z) - z_k), from the logits of softmax outputs.

    Equals -sum_k y_k log a_k with a = softmax(z). Z (m, K), Y (m, K) one-hot or
    probabilities -> float.
    """
    total = 0.0
    for z, y in zip(Z, Y):
        lse = _log_sum_exp(z)
        # classes with y_k = 0 add nothing (and lse - z_k may overflow to inf: 0 * inf is NaN)
        total += sum(yk * (lse - zk) for zk, yk in zip(z, y) if yk != 0)
    return total / len(Z)


def mse(A, Y):
    """L = mean_rows (1/K) sum_k (a_k - y_k)^2. A, Y (m, K) -> float."""
    return sum(sum((a - y) * (a - y) for a, y in zip(ar, yr)) / len(ar)
               for ar, yr in zip(A, Y)) / len(A)


def mae(A, Y):
    """L = mean_rows (1/K) sum_k abs(a_k - y_k). A, Y (m, K) -> float."""
    return sum(sum(abs(a - y) for a, y in zip(ar, yr)) / len(ar)
               for ar, yr in zip(A, Y)) / len(A)


def _huber(r, delta):
    """r^2 / 2 for abs(r) <= delta, else delta (abs(r) - delta / 2): quadratic near 0, linear
    beyond delta, the two meeting with the same slope."""
    return 0.5 * r * r if abs(r) <= delta else delta * (abs(r) - 0.5 * delta)


def huber(A, Y, delta=1.0):
    """L = mean_rows (1/K) sum_k huber(a_k - y_k). A, Y (m, K) -> float."""
    return sum(sum(_huber(a - y, delta) for a, y in zip(ar, yr)) / len(ar)
               for ar, yr in zip(A, Y)) / len(A)


def poisson(Z, Y):
    """L = mean_rows sum_k e^(z_k) - y_k z_k, from the logits of exp outputs (a = e^z).

    Equals a - y log a, the negative Poisson log-likelihood up to log(y!), without ever
    taking log a. Z, Y (m, K), y >= 0 -> float.
    """
    return sum(sum(_exp(z) - y * z for z, y in zip(zr, yr)) for zr, yr in zip(Z, Y)) / len(Z)


LOSSES = {  # fn(Z, A, Y, c): logits, outputs, targets, the loss's parameter (huber's delta)
    "binary_cross_entropy": lambda Z, A, Y, c=1.0: binary_cross_entropy(Z, Y),
    "cross_entropy": lambda Z, A, Y, c=1.0: cross_entropy(Z, Y),
    "mse": lambda Z, A, Y, c=1.0: mse(A, Y),
    "mae": lambda Z, A, Y, c=1.0: mae(A, Y),
    "huber": lambda Z, A, Y, c=1.0: huber(A, Y, c),
    "poisson": lambda Z, A, Y, c=1.0: poisson(Z, Y),
}

def weighted_loss(Z, A, Y, sample_weight, loss, c=1.0):
    """L = sum_i sw_i loss_i / sum_i sw_i: the weighted mean of each row's loss, loss_i the
    loss of row i alone. Z, A, Y (m, K); sample_weight (m,) >= 0 with a positive sum."""
    if any(w < 0 for w in sample_weight) or not sum(sample_weight) > 0:
        raise ValueError("sample weights must be >= 0 with a positive sum")
    total = sum(w * LOSSES[loss]([z], [a], [y], c)
                for z, a, y, w in zip(Z, A, Y, sample_weight) if w != 0)
    return total / sum(sample_weight)


def mse_gradient(A, Y):
    """dL_sample/dA for mse: 2 (a - y) / K. A, Y (m, K) -> (m, K)."""
    return _elementwise(lambda a, y: 2.0 * (a - y) / len(A[0]), A, Y)


def _sign(r):
    """sign r, and 0 at r = 0: mae's derivative where a = y (a subgradient) is 0."""
    return 1.0 if r > 0 else -1.0 if r < 0 else 0.0


def mae_gradient(A, Y, c=1.0):
    """dL_sample/dA for mae: sign(a - y) / K (0 where a = y). A, Y (m, K) -> (m, K)."""
    return _elementwise(lambda a, y: _sign(a - y) / len(A[0]), A, Y)


def huber_gradient(A, Y, c=1.0):
    """dL_sample/dA for huber: r / K for abs(r) <= delta, else delta sign(r) / K, r = a - y."""
    return _elementwise(lambda a, y: min(max(a - y, -c), c) / len(A[0]), A, Y)


OUTPUT_GRADIENTS = {  # dL_sample/dA of the losses taken through the output's derivative
    "mse": lambda A, Y, c=1.0: mse_gradient(A, Y),
    "mae": mae_gradient,
    "huber": huber_gradient,
}

FUSED_DELTAS = {  # (output, loss) pairs whose delta simplifies to a - y
    ("sigmoid", "binary_cross_entropy"): lambda A, Y: _elementwise(lambda a, y: a - y, A, Y),
    ("softmax", "cross_entropy"): lambda A, Y: _elementwise(lambda a, y: a - y, A, Y),
    ("exp", "poisson"): lambda A, Y: _elementwise(lambda a, y: a - y, A, Y),
}


def output_delta(Z, A, Y, output, loss, c=1.0):
    """Per-sample dL/dZ at the output layer (not divided by the batch size m).

    sigmoid + binary_cross_entropy, softmax + cross_entropy and exp + poisson: a - y.
    mse, mae, huber: the chain rule, activation_backward(A, dL/dA, output), dL/dA from
    OUTPUT_GRADIENTS (c: huber's delta).

    Parameters
    ----------
    Z, A, Y : matrices of shape (m, K)
        Logits, output activations, targets. (Z is unused by these pairs; it is
        part of the signature so every pair can be computed from it.)
    output, loss : str

    Returns
    -------
    delta : matrix of shape (m, K)
    """
    vocabulary.check_output_loss(output, loss)
    if (output, loss) in FUSED_DELTAS:
        return FUSED_DELTAS[output, loss](A, Y)
    return activation_backward(A, OUTPUT_GRADIENTS[loss](A, Y, c), output)


# ---------------------------------------------------------------- L2 penalty

def l2_penalty(weights, alpha, m):
    """alpha / 2 * sum_l sum(W[l]^2) / m; biases are not penalized. -> float."""
    return alpha / 2.0 * sum(w * w for W in weights for row in W for w in row) / m


def l2_gradient(W, alpha, m):
    """d(l2_penalty)/dW = alpha * W / m. W (n_in, n_out) -> (n_in, n_out)."""
    return _map(lambda w: alpha * w / m, W)


# ---------------------------------------------------------------- optimizers
# Each step updates one flat parameter vector w in place from its gradient g.

def sgd_step(w, g, v, lr, momentum=0.0, nesterov=False):
    """v = momentum * v - lr * g; then w += v, or w += momentum * v - lr * g (Nesterov).

    With momentum 0 this is plain gradient descent, w -= lr * g.
    w, g, v : vectors of the same length; w and v are updated in place.
    """
    for i in range(len(w)):
        v[i] = momentum * v[i] - lr * g[i]
        if nesterov:
            w[i] += momentum * v[i] - lr * g[i]
        else:
            w[i] += v[i]


def adam_step(w, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam (Kingma and Ba, 2015), t the 1-based step count:

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    lr_t = lr sqrt(1 - b2^t) / (1 - b1^t);  w -= lr_t m / (sqrt(v) + eps).
    w, g, m, v : vectors of the same length; w, m and v are updated in place.
    """
    lr_t = lr * math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
    for i in range(len(w)):
        m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
        v[i] = beta2 * v[i] + (1.0 - beta2) * g[i] * g[i]
        w[i] -= lr_t * m[i] / (math.sqrt(v[i]) + eps)


class SGDState:
    """sgd's state for one parameter vector: its velocity v, starting at 0.

    OPTIMIZERS["sgd"](size, lr, momentum, nesterov).step(w, g) calls sgd_step.
    """

    def __init__(self, size, lr, momentum=0.0, nesterov=False):
        self.lr, self.momentum, self.nesterov = lr, momentum, nesterov
        self.v = [0.0] * size

    def step(self, w, g):
        sgd_step(w, g, self.v, self.lr, self.momentum, self.nesterov)


class AdamState:
    """adam's state for one parameter vector: moments m, v and step count t, from 0.

    OPTIMIZERS["adam"](size, lr, momentum, nesterov).step(w, g) counts t and calls
    adam_step. momentum and nesterov belong to sgd; adam ignores them.
    """

    def __init__(self, size, lr, momentum=0.0, nesterov=False):
        self.lr = lr
        self.m = [0.0] * size
        self.v = [0.0] * size
        self.t = 0

    def step(self, w, g):
        self.t += 1
        adam_step(w, g, self.m, self.v, self.t, self.lr)


OPTIMIZERS = {"sgd": SGDState, "adam": AdamState}


# ---------------------------------------------------------------- perceptron rule

def perceptron_rule(W, b, X, Y, lr, order=None):
    """One epoch of the perceptron rule (seed 002), per sample, each output on its own:

    y_hat = step(w . x + b);  w += lr (y - y_hat) x;  b += lr (y - y_hat).

    Parameters
    ----------
    W : matrix of shape (n_in, n_out), updated in place
    b : vector of shape (n_out,), updated in place
    X : matrix of shape (n, n_in)
    Y : matrix of shape (n, n_out) of 0/1 targets
    lr : float
    order : list of int, optional
        The order of the samples; default 0..n-1.

    Returns
    -------
    mistakes : int
        Samples with at least one output wrong.
    """
    if order is None:
        order = range(len(X))
    mistakes = 0
    for i in order:
        x, y = X[i], Y[i]
        wrong = False
        for k in range(len(b)):
            z = sum(xj * W[j][k] for j, xj in enumerate(x)) + b[k]
            error = y[k] - (1.0 if z >= 0 else 0.0)
            if error != 0:
                wrong = True
                for j, xj in enumerate(x):
                    W[j][k] += lr * error * xj
                b[k] += lr * error
        mistakes += wrong
    return mistakes


def perceptron_sgd_epoch(w, b, u, q, X, y, sample_weight, eta, alpha=0.0, l1_ratio=0.0,
                         fit_intercept=True, order=None):
    """One epoch of SGD on the perceptron loss max(0, -y p) (scikit-learn's Perceptron).

    Per sample, y in {-1, +1}, sw its weight, r = l1_ratio:
      p = w . x + b
      objective += max(0, -y p) + alpha ((1 - r) / 2 |w|^2 + r |w|_1)
      s = eta y sw if y p <= 0 (a mistake, or on the boundary) else 0
      w *= max(0, 1 - (1 - r) eta alpha)          (the L2 part of the penalty)
      w += s x;  b += s                           (b only when fit_intercept)
      r > 0: u += r eta alpha; each w_j moves toward 0 by what is left of the cumulative L1
      penalty u (q_j: how much it already moved), never crossing 0 (Tsuruoka et al. 2009).

    w, q : lists of length k, updated in place. Returns (b, u, objective).
    """
    objective = 0.0
    for i in (range(len(X)) if order is None else order):
        x, yi = X[i], y[i]
        p = sum(wj * xj for wj, xj in zip(w, x)) + b
        objective += max(0.0, -yi * p)
        if alpha > 0:
            objective += alpha * ((1 - l1_ratio) * 0.5 * sum(wj * wj for wj in w)
                                  + l1_ratio * sum(abs(wj) for wj in w))
        step = eta * yi * sample_weight[i] if yi * p <= 0 else 0.0
        if alpha > 0 and l1_ratio < 1:
            shrink = max(0.0, 1.0 - (1.0 - l1_ratio) * eta * alpha)
            w[:] = [wj * shrink for wj in w]
        if step != 0.0:
            w[:] = [wj + step * xj for wj, xj in zip(w, x)]
            if fit_intercept:
                b += step
        if l1_ratio > 0 and alpha > 0:
            u += l1_ratio * eta * alpha
            for j, z in enumerate(w):
                if z > 0:
                    w[j] = max(0.0, z - (u + q[j]))
                elif z < 0:
                    w[j] = min(0.0, z + (u - q[j]))
                q[j] += w[j] - z
    return b, u, objective


# ---------------------------------------------------------------- initialization

def glorot_bound(n_in, n_out, activation):
    """sqrt(6 / (n_in + n_out)), or sqrt(2 / (n_in + n_out)) for a sigmoid layer."""
    gain = 2.0 if activation == "sigmoid" else 6.0
    return math.sqrt(gain / (n_in + n_out))


INITIALIZERS = {  # fn(rng, bound) -> one parameter value
    "glorot": lambda rng, bound: (2.0 * rng.uniform() - 1.0) * bound,
    "zeros": lambda rng, bound: 0.0,
}


def init_params(layers, activations, rng, init):
    """Initial weights and biases of a network.

    Layer by layer, every value of W[l] in row-major order and then every value
    of b[l] is drawn by INITIALIZERS[init]: glorot gives (2u - 1) * bound with
    bound = glorot_bound(n_l, n_{l+1}, activations[l]); zeros gives 0 and draws nothing.

    Parameters
    ----------
    layers : list of int, [n_0, ..., n_L]
    activations : list of str, length L
        Each layer's own activation.
    rng : SplitMix64
    init : {"glorot", "zeros"}

    Returns
    -------
    weights : list of L matrices, W[l] of shape (n_l, n_{l+1})
    biases : list of L vectors, b[l] of shape (n_{l+1},)
    """
    vocabulary.check_name("init", init, INIT_NAMES)
    draw = INITIALIZERS[init]
    weights, biases = [], []
    for n_in, n_out, activation in zip(layers[:-1], layers[1:], activations):
        bound = glorot_bound(n_in, n_out, activation)
        weights.append([[draw(rng, bound) for _ in range(n_out)] for _ in range(n_in)])
        biases.append([draw(rng, bound) for _ in range(n_out)])
    return weights, biases
