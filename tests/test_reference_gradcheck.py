"""Central-difference gradient checks of nnfast.reference MLP.gradients against MLP.loss.

For every hidden activation and every allowed (output, loss) pair, with an L2
penalty, each parameter p is moved by +-h and
    dL/dp ~ (L(p + h) - L(p - h)) / (2h),
which must match backprop to a relative 1e-6 (the error of the difference
quotient is ~h^2 + eps/h ~ 1e-10 here).
"""

import pytest

from nnfast.reference import MLP, SplitMix64

H = 1e-6
RTOL = 1e-6
ATOL = 1e-9

HIDDEN = ["identity", "sigmoid", "tanh", "relu"]
PAIRS = [  # (output, loss, n_outputs)
    ("sigmoid", "binary_cross_entropy", 1),
    ("sigmoid", "binary_cross_entropy", 2),
    ("softmax", "cross_entropy", 3),
    ("identity", "mse", 2),
    ("sigmoid", "mse", 2),
    ("tanh", "mse", 2),
    ("softmax", "mse", 3),
]


def uniform_matrix(rng, n, d, low=-1.0, high=1.0):
    return [[low + (high - low) * rng.uniform() for _ in range(d)] for _ in range(n)]


def targets(rng, loss, n, K):
    """Class indices for cross_entropy, 0/1 labels for BCE, values in (0, 1) for mse."""
    if loss == "cross_entropy":
        return [int(rng.uniform() * K) for _ in range(n)]
    if loss == "binary_cross_entropy":
        return [[float(rng.uniform() < 0.5) for _ in range(K)] for _ in range(n)]
    return uniform_matrix(rng, n, K, 0.1, 0.9)


def numerical_gradients(model, X, y, alpha):
    """(L(p + h) - L(p - h)) / 2h for every parameter, in the layout of .gradients."""
    def derivative(vector, i):
        saved = vector[i]
        vector[i] = saved + H
        up = model.loss(X, y, alpha)
        vector[i] = saved - H
        down = model.loss(X, y, alpha)
        vector[i] = saved
        return (up - down) / (2 * H)

    dWs = [[[derivative(row, j) for j in range(len(row))] for row in W] for W in model.weights]
    dbs = [[derivative(b, j) for j in range(len(b))] for b in model.biases]
    return dWs, dbs


def compare(analytic, numeric):
    """Assert every pair agrees; report the largest difference by parameter name."""
    worst = (0.0, None)
    nonzero = False
    for name in analytic:
        for i, (a, n) in enumerate(zip(analytic[name], numeric[name])):
            nonzero = nonzero or a != 0.0
            excess = abs(a - n) - (RTOL * max(abs(a), abs(n)) + ATOL)
            if excess > worst[0] or worst[1] is None:
                worst = (excess, f"{name}[{i}]: backprop {a!r}, central difference {n!r}, "
                                 f"difference {abs(a - n):.3g}")
    assert nonzero, "the gradient is all zeros: the check would pass trivially"
    assert worst[0] <= 0.0, "largest difference: " + worst[1]


def flatten(dWs, dbs):
    named = {}
    for l, (dW, db) in enumerate(zip(dWs, dbs)):
        named[f"W{l}"] = [v for row in dW for v in row]
        named[f"b{l}"] = list(db)
    return named


def check_network(layers, activation, output, loss, seed):
    rng = SplitMix64(1000 + seed)
    X = uniform_matrix(rng, 5, layers[0])
    y = targets(rng, loss, 5, layers[-1])
    model = MLP(layers, activation, output, loss, seed=seed)
    alpha = 0.3
    compare(flatten(*model.gradients(X, y, alpha)),
            flatten(*numerical_gradients(model, X, y, alpha)))


@pytest.mark.parametrize("output,loss,K", PAIRS)
@pytest.mark.parametrize("activation", HIDDEN)
def test_gradients_match_central_differences(activation, output, loss, K):
    check_network([3, 4, K], activation, output, loss, seed=HIDDEN.index(activation))


@pytest.mark.parametrize("activation", HIDDEN)
def test_gradients_deeper_network(activation):
    # Three layers, so delta is carried back through two hidden activations.
    check_network([3, 5, 4, 3], activation, "softmax", "cross_entropy", seed=7)


def test_gradients_one_layer():
    # [n_in, n_out]: only the output activation; delta_prev is never formed.
    check_network([4, 2], "relu", "tanh", "mse", seed=3)


def test_class_indices_and_one_hot_give_the_same_gradients():
    model = MLP([3, 4, 3], "tanh", seed=5)
    X = [[0.1, -0.2, 0.3], [0.5, 0.4, -0.9]]
    by_index = model.gradients(X, [2, 0])
    by_one_hot = model.gradients(X, [[0, 0, 1], [1, 0, 0]])
    assert by_index == by_one_hot
