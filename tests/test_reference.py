"""Tests of nnfast.reference: hand-worked numbers, the random stream, training, errors, files.

The numbers in the comments can be checked with a pencil (and a calculator for e^x).
"""

import copy
import json
import math

import pytest

from nnfast import vocabulary
from nnfast.errors import NotFittedError
from nnfast.reference import MLP, Neuron, NotFittedError as ExportedNotFittedError
from nnfast.reference import Perceptron, SplitMix64, checks, load, mlp, ops, perceptron
from nnfast.reference.rng import permutation

AND_X = [[0, 0], [0, 1], [1, 0], [1, 1]]
AND_Y = [0, 0, 0, 1]
XOR_Y = [0, 1, 1, 0]
CINEMA = [[f, n, c] for f in (0, 1) for n in (0, 1) for c in (0, 1)]  # friends, near, cool


def close(a, b, rel=1e-12):
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel)


def all_close(A, B, rel=1e-12):
    """Compare nested lists value by value; report the largest difference."""
    flat_a, flat_b = json.loads(json.dumps(A)), json.loads(json.dumps(B))

    def flatten(x):
        return [v for item in x for v in flatten(item)] if isinstance(x, list) else [x]

    flat_a, flat_b = flatten(flat_a), flatten(flat_b)
    assert len(flat_a) == len(flat_b)
    worst = max((abs(a - b) for a, b in zip(flat_a, flat_b)), default=0.0)
    assert all(close(a, b, rel) for a, b in zip(flat_a, flat_b)), f"largest difference {worst}"


# ---------------------------------------------------------------- seed 000: the cinema neuron

def test_cinema_person_a_goes_iff_friends_come():
    # z = 5 f + 3 n + 1 c - 5 >= 0  <=>  f = 1 (without friends z <= 3 + 1 - 5 = -1)
    neuron = Neuron([5, 3, 1], -5)
    #              000  001  010  011  100  101  110  111   (f n c)
    # z =           -5   -4   -2   -1    0    1    3    4
    assert neuron.forward(CINEMA) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert neuron.forward([1, 0, 0]) == 1.0  # one sample -> a float


def test_cinema_person_b_goes_with_any_two_of_three():
    # z = 2 f + 3 n + 3 c - 5
    neuron = Neuron([2, 3, 3], -5)
    #              000  001  010  011  100  101  110  111
    # z =           -5   -2   -2    1   -3    0    0    3
    # friend+near (110), near+cool (011), and the third case, friend+cool (101): z = 0 >= 0.
    assert neuron.forward(CINEMA) == [0, 0, 0, 1, 0, 1, 1, 1]


def test_neuron_with_sigmoid():
    # z = 1*2 + (-1)*1 + 0 = 1;  sigmoid(1) = 1 / (1 + e^-1) = 0.7310585786300049
    assert close(Neuron([1, -1], 0, "sigmoid").forward([2, 1]), 0.7310585786300049)


# ---------------------------------------------------------------- kernels

def test_the_math_tables_are_keyed_by_the_vocabulary():
    # every name the vocabulary gives has its math, and the math has no name of its own
    assert set(ops.ACTIVATIONS) == set(vocabulary.OUTPUT_ACTIVATIONS)
    # softmax's derivative is its Jacobian (activation_backward); step has none; exp, an
    # output only, has its elementwise one
    assert set(ops.DERIVATIVES) == ((set(vocabulary.HIDDEN_ACTIVATIONS) | {"exp"})
                                    - set(vocabulary.FORWARD_ONLY_ACTIVATIONS))
    assert set(ops.LOSSES) == set(vocabulary.LOSS_NAMES) == set(ops.LOSS_OUTPUTS)
    assert set(ops.OPTIMIZERS) == set(vocabulary.OPTIMIZER_NAMES)
    assert set(ops.INITIALIZERS) == set(vocabulary.INIT_NAMES)
    assert ops.LOSS_OUTPUTS is vocabulary.LOSS_OUTPUTS            # read, not copied
    assert set(checks.VECTOR_TARGETS) == set(mlp.PREDICTIONS) == set(vocabulary.LOSS_NAMES)
    assert set(perceptron.PERCEPTRON_TRAINING) == set(vocabulary.PERCEPTRON_ACTIVATIONS)
    # the defaults a model takes are the vocabulary's
    assert (MLP([2, 3]).output, MLP([2, 3]).loss_name) == (vocabulary.DEFAULT_OUTPUT[True],
                                                          "cross_entropy")
    assert MLP([2, 1], output="tanh").loss_name == "mse"


def test_activations_by_hand():
    Z = [[-2.0, 0.0, 3.0]]
    assert ops.step(Z) == [[0.0, 1.0, 1.0]]
    assert ops.relu(Z) == [[0.0, 0.0, 3.0]]
    assert ops.identity(Z) == Z
    assert close(ops.sigmoid(Z)[0][0], 1 / (1 + math.exp(2)))
    # softmax(0, ln 2, ln 3) = (1, 2, 3) / 6
    all_close(ops.softmax([[0.0, math.log(2), math.log(3)]]), [[1 / 6, 2 / 6, 3 / 6]])
    # max-subtracted: huge logits do not overflow
    all_close(ops.softmax([[1000.0, 1000.0]]), [[0.5, 0.5]])


def test_sigmoid_and_losses_are_overflow_safe():
    assert ops.sigmoid([[-1000.0, 1000.0]]) == [[0.0, 1.0]]
    # softplus(1000) - 0 * 1000 = 1000 exactly; from log(1 - a) it would be inf
    assert ops.binary_cross_entropy([[1000.0]], [[0.0]]) == 1000.0
    # lse(1000, 0) - 0 = 1000
    assert ops.cross_entropy([[1000.0, 0.0]], [[0.0, 1.0]]) == 1000.0


def test_losses_by_hand():
    # BCE at z = 0: softplus(0) = ln 2 for either label
    assert close(ops.binary_cross_entropy([[0.0], [0.0]], [[0.0], [1.0]]), math.log(2))
    # CE with uniform logits over 4 classes: ln 4
    assert close(ops.cross_entropy([[0.0] * 4], [[0, 0, 1, 0]]), math.log(4))
    # mse: row 1 ((1-0)^2 + (0-0)^2)/2 = 0.5; row 2 ((2-0)^2 + 0)/2 = 2; mean 1.25
    assert ops.mse([[1.0, 0.0], [2.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]) == 1.25


def test_output_delta():
    A, Y = [[0.8, 0.2]], [[1.0, 0.0]]
    # fused: a - y
    all_close(ops.output_delta(None, A, Y, "softmax", "cross_entropy"), [[-0.2, 0.2]])
    # mse + identity: 2 (a - y) / K = 2 * (-0.2) / 2 = -0.2, and 0.2
    all_close(ops.output_delta(None, A, Y, "identity", "mse"), [[-0.2, 0.2]])
    # mse + sigmoid: times a (1 - a) = 0.16 -> -0.032, 0.032
    all_close(ops.output_delta(None, A, Y, "sigmoid", "mse"), [[-0.032, 0.032]])
    with pytest.raises(ValueError, match="cannot follow output 'sigmoid'"):
        ops.output_delta(None, A, Y, "sigmoid", "cross_entropy")
    with pytest.raises(ValueError, match="step has no derivative"):
        ops.activation_backward(A, A, "step")


def test_dense_backward_by_hand():
    # one layer, m = 2 rows: A_prev = [[1, 2], [3, 4]], delta = [[1], [-1]]
    # dW = A_prev^T delta / 2 = [[(1 - 3)/2], [(2 - 4)/2]] = [[-1], [-1]]; db = (1 - 1)/2 = 0
    dW, db, delta_prev = ops.dense_backward([[1, 2], [3, 4]], [[0.5], [2.0]], [[1], [-1]])
    assert (dW, db, delta_prev) == ([[-1.0], [-1.0]], [0.0], None)
    # with an identity previous layer: delta_prev = delta @ W^T = [[0.5, 2], [-0.5, -2]]
    _, _, delta_prev = ops.dense_backward([[1, 2], [3, 4]], [[0.5], [2.0]], [[1], [-1]],
                                          "identity")
    assert delta_prev == [[0.5, 2.0], [-0.5, -2.0]]


def test_l2_penalty_by_hand():
    # alpha/2 * (1 + 4 + 9) / m = 0.5/2 * 14 / 2 = 1.75
    assert ops.l2_penalty([[[1.0, 2.0]], [[3.0]]], 0.5, 2) == 1.75


def test_optimizer_steps_by_hand():
    # sgd, momentum 0.9: v = -0.1 * 0.5 = -0.05, w = 0.95; then v = 0.9 * -0.05 - 0.05 = -0.095
    w, v = [1.0], [0.0]
    ops.sgd_step(w, [0.5], v, 0.1, momentum=0.9)
    assert close(w[0], 0.95) and close(v[0], -0.05)
    ops.sgd_step(w, [0.5], v, 0.1, momentum=0.9)
    assert close(w[0], 0.855)
    # Nesterov: v = -0.05, w += 0.9 * v - 0.1 * 0.5 = -0.095
    w, v = [1.0], [0.0]
    ops.sgd_step(w, [0.5], v, 0.1, momentum=0.9, nesterov=True)
    assert close(w[0], 0.905)
    # Adam, t = 1: m = 0.05, v = 0.00025, lr_t = 0.1 sqrt(0.001) / 0.1;
    # w -= lr_t * 0.05 / (sqrt(0.00025) + 1e-8) = 0.1 * (1 - ~6e-7): about lr * sign(g)
    state = ops.OPTIMIZERS["adam"](1, 0.1, 0.0, False)
    w = [1.0]
    state.step(w, [0.5])
    assert state.t == 1 and math.isclose(w[0], 0.9, rel_tol=1e-6)
    # the same uniform convention for sgd: OPTIMIZERS[name](size, lr, momentum, nesterov)
    state = ops.OPTIMIZERS["sgd"](1, 0.1, 0.9, False)
    w = [1.0]
    state.step(w, [0.5])
    assert close(w[0], 0.95)


def test_perceptron_rule_by_hand():
    # AND from w = 0, b = 0, lr = 1, samples in order:
    # (0,0) y=0: z = 0 -> y_hat = 1, wrong: w += -1*(0,0) = (0,0), b = -1
    # (0,1) y=0: z = -1 -> 0, right;  (1,0) y=0: z = -1 -> 0, right
    # (1,1) y=1: z = -1 -> 0, wrong: w += +1*(1,1) = (1,1), b = 0
    W, b = [[0.0], [0.0]], [0.0]
    mistakes = ops.perceptron_rule(W, b, AND_X, [[0], [0], [0], [1]], 1.0)
    assert (mistakes, W, b) == (2, [[1.0], [1.0]], [0.0])


# ---------------------------------------------------------------- seed 000: gradient descent

def test_and_gate_two_gradient_steps_by_hand():
    # Sigmoid neuron + BCE, full batch, lr = 1, from w = 0, b = 0.
    # Step 1: every z = 0, a = 0.5, a - y = (0.5, 0.5, 0.5, -0.5)
    #   dw1 = (0*.5 + 0*.5 + 1*.5 + 1*-.5)/4 = 0, dw2 = 0, db = (.5+.5+.5-.5)/4 = 0.25
    #   -> w = (0, 0), b = -0.25; loss = 4 ln 2 / 4 = ln 2
    # Step 2: every z = -0.25, a = s = 1/(1 + e^0.25) = 0.4378234991
    #   dw1 = (s + s - 1)/4, db = (4s - 1)/4  ->  w = (1 - 2s)/4 = 0.0310882502, b = -s
    model = Perceptron(2, activation="sigmoid").fit(AND_X, AND_Y, epochs=1, lr=1.0)
    assert model.weights == [[[0.0], [0.0]]] and model.biases == [[-0.25]]
    assert close(model.loss_curve_[0], math.log(2))

    model = Perceptron(2, activation="sigmoid").fit(AND_X, AND_Y, epochs=2, lr=1.0)
    s = 1 / (1 + math.exp(0.25))
    all_close(model.weights, [[[(1 - 2 * s) / 4], [(1 - 2 * s) / 4]]])
    all_close(model.biases, [[-s]])


def test_mlp_gradients_at_zero_match_the_hand_step():
    model = MLP([2, 1], init="zeros")
    dW, db = model.gradients(AND_X, AND_Y)
    assert dW == [[[0.0], [0.0]]] and db == [[0.25]]


# ---------------------------------------------------------------- seed 003: a 2-3-1 forward pass

def test_2_3_1_forward_and_backward_by_hand():
    model = MLP([2, 3, 1], activation="relu", init="zeros")  # output sigmoid, loss BCE
    model.weights = [[[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], [[0.5], [-1.0], [2.0]]]
    model.biases = [[0.1, 0.1, 0.1], [0.2]]
    x = [[1.0, 2.0]]
    # z1 = x @ W1 + b1 = [0.1 + 0.8 + 0.1, -0.2 + 1.0 + 0.1, 0.3 - 1.2 + 0.1] = [1.0, 0.9, -0.8]
    # h = relu(z1) = [1.0, 0.9, 0.0]
    # z2 = 1.0*0.5 + 0.9*(-1.0) + 0*2.0 + 0.2 = -0.2;  a = sigmoid(-0.2) = 0.4501660027
    a = model.forward(x)
    assert close(a[0][0], 1 / (1 + math.exp(0.2)))
    # loss for y = 1: softplus(-0.2) + 0.2 = ln(1 + e^-0.2) + 0.2 = 0.5981388694 + 0.2
    assert close(model.loss(x, [1]), 0.7981388693815918)
    # backward: delta2 = a - y = -0.5498339973
    #   dW2 = h^T delta2 = [-0.5498339973, 0.9 * -0.5498339973, 0] ; db2 = delta2
    #   delta1 = delta2 * W2^T * relu'(h) = -0.5498339973 * [0.5, -1, 2] * [1, 1, 0]
    #          = [-0.2749169987, 0.5498339973, 0]
    #   dW1 = x^T delta1 = [[1 * delta1], [2 * delta1]]
    d2 = 1 / (1 + math.exp(0.2)) - 1
    d1 = [0.5 * d2, -d2, 0.0]
    dW, db = model.gradients(x, [1])
    all_close(dW, [[d1, [2 * v for v in d1]], [[d2], [0.9 * d2], [0.0]]])
    all_close(db, [d1, [d2]])


# ---------------------------------------------------------------- the random stream

def test_splitmix64_seed_0():
    rng = SplitMix64(0)
    assert [rng.uniform() for _ in range(3)] == [0.8833108082136426, 0.43152799704850997,
                                                 0.026433771592597743]
    rng = SplitMix64(0)
    assert rng.u64() == 0xE220A8397B1DCDAF  # 16294208416658607535
    assert rng.u64() == 0x6E789E6AA1B965F4
    assert rng.state == 2 * 0x9E3779B97F4A7C15 % 2 ** 64
    assert (0xE220A8397B1DCDAF >> 11) * 2.0 ** -53 == 0.8833108082136426


def test_permutation():
    # n = 3, seed 0: i = 2: j = floor(0.8833 * 3) = 2 (no swap); i = 1: j = floor(0.4315 * 2) = 0
    assert permutation(SplitMix64(0), 3) == [1, 0, 2]
    order = permutation(SplitMix64(42), 50)
    assert sorted(order) == list(range(50)) and order != list(range(50))
    assert permutation(SplitMix64(42), 50) == order
    rng = SplitMix64(0)
    permutation(rng, 10)
    assert rng.state == 9 * 0x9E3779B97F4A7C15 % 2 ** 64  # n - 1 draws


def test_glorot_init_contract():
    # [3, 4, 2] tanh/softmax: 12 W0 values (row-major), 4 b0, 8 W1, 2 b1, in that order.
    model = MLP([3, 4, 2], activation="tanh", seed=0)
    u = SplitMix64(0)
    draws = [u.uniform() for _ in range(26)]
    bound0, bound1 = math.sqrt(6 / (3 + 4)), math.sqrt(6 / (4 + 2))
    assert model.weights[0][0][0] == (2 * 0.8833108082136426 - 1) * bound0
    assert model.weights[0][0][1] == (2 * draws[1] - 1) * bound0
    assert model.weights[0][1][0] == (2 * draws[4] - 1) * bound0  # row-major: row 1 starts at 4
    assert model.biases[0] == [(2 * d - 1) * bound0 for d in draws[12:16]]
    assert model.weights[1][0][0] == (2 * draws[16] - 1) * bound1
    assert model.biases[1] == [(2 * d - 1) * bound1 for d in draws[24:26]]
    assert model.rng.state == u.state  # the stream carries on after the 26 draws
    # a sigmoid layer uses sqrt(2 / (fan_in + fan_out))
    assert MLP([2, 1], seed=0).weights[0][0][0] == (2 * draws[0] - 1) * math.sqrt(2 / 3)
    # zeros draws nothing
    assert MLP([2, 1], init="zeros", seed=5).rng.state == 5


# ---------------------------------------------------------------- training

def test_perceptron_learns_and():
    model = Perceptron(2).fit(AND_X, AND_Y)
    assert model.predict(AND_X) == [0, 0, 0, 1]
    assert model.errors_[-1] == 0 and len(model.errors_) < 100  # stopped early
    assert model.errors_[0] == 2  # as in test_perceptron_rule_by_hand


def test_sigmoid_perceptron_learns_and():
    model = Perceptron(2, activation="sigmoid").fit(AND_X, AND_Y, epochs=10_000, lr=1.0)
    assert model.predict(AND_X) == [0, 0, 0, 1]
    assert model.loss_curve_[-1] < 0.01 < model.loss_curve_[0]


def test_step_perceptron_cannot_learn_xor():
    model = Perceptron(2).fit(AND_X, XOR_Y, epochs=100)
    assert len(model.errors_) == 100 and min(model.errors_) > 0  # not linearly separable


def test_mlp_learns_xor():
    model = MLP([2, 4, 1], activation="tanh", seed=0).fit(AND_X, XOR_Y, epochs=500, lr=0.5)
    assert model.predict(AND_X) == [0, 1, 1, 0]
    assert model.loss_curve_[-1] < 0.05


@pytest.mark.parametrize("settings", [
    dict(optimizer="sgd", momentum=0.9),
    dict(optimizer="sgd", momentum=0.9, nesterov=True),
    dict(optimizer="adam", lr=0.05),
])
def test_optimizers_reduce_the_loss(settings):
    X = [[0.1 * i, math.sin(i)] for i in range(10)]
    y = [i % 3 for i in range(10)]
    model = MLP([2, 5, 3], activation="tanh", seed=1)
    start = model.loss(X, y)
    model.fit(X, y, epochs=30, batch_size=4, **{"lr": 0.1, **settings})
    assert model.loss(X, y) < 0.9 * start and model.loss_curve_[-1] < model.loss_curve_[0]


def test_fit_equals_the_textbook_loop_with_a_short_last_batch():
    # n = 5, batch_size = 2: batches [0, 1], [2, 3], [4] (shuffle=False); plain sgd.
    X = [[0.5, -1.0], [1.0, 0.2], [-0.3, 0.8], [0.0, 0.0], [2.0, 1.0]]
    y = [[0.1], [0.9], [0.4], [0.5], [0.2]]
    model = MLP([2, 3, 1], activation="tanh", output="identity", seed=3)
    by_hand = copy.deepcopy(model)
    model.fit(X, y, epochs=2, batch_size=2, lr=0.1, alpha=0.01, shuffle=False)
    curve = []
    for _ in range(2):
        total = 0.0
        for rows in ([0, 1], [2, 3], [4]):
            Xb, yb = [X[i] for i in rows], [y[i] for i in rows]
            total += by_hand.loss(Xb, yb, 0.01) * len(rows)  # loss before the update
            dWs, dbs = by_hand.gradients(Xb, yb, 0.01)
            for W, dW, b, db in zip(by_hand.weights, dWs, by_hand.biases, dbs):
                for w_row, g_row in zip(W, dW):
                    ops.sgd_step(w_row, g_row, [0.0] * len(w_row), 0.1)
                ops.sgd_step(b, db, [0.0] * len(b), 0.1)
        curve.append(total / 5)
    all_close(model.weights, by_hand.weights)
    all_close(model.biases, by_hand.biases)
    all_close(model.loss_curve_, curve)


def test_batch_size_one_and_oversized_batches():
    model = MLP([2, 4, 1], activation="tanh", seed=0).fit(AND_X, AND_Y, epochs=20, batch_size=1)
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    # batch_size above n is clipped to n: the same as the full batch
    full = MLP([2, 3, 1], seed=2).fit(AND_X, AND_Y, epochs=3)
    clipped = MLP([2, 3, 1], seed=2).fit(AND_X, AND_Y, epochs=3, batch_size=100)
    assert full.weights == clipped.weights


def test_shuffle_is_reproducible_and_drawn_every_epoch():
    def train(**kwargs):
        return MLP([2, 3, 1], seed=9).fit(AND_X, AND_Y, epochs=5, batch_size=2, **kwargs)

    assert train().weights == train().weights
    assert train().weights != train(shuffle=False).weights
    # drawn even for the full batch: 5 epochs x (n - 1) = 15 draws after the 13 of init
    model = MLP([2, 3, 1], seed=9).fit(AND_X, AND_Y, epochs=5)
    assert model.rng.state == (9 + (13 + 15) * 0x9E3779B97F4A7C15) % 2 ** 64
    assert MLP([2, 3, 1], seed=9).fit(AND_X, AND_Y, epochs=5, shuffle=False).rng.state \
        == (9 + 13 * 0x9E3779B97F4A7C15) % 2 ** 64


def test_two_fits_continue_like_one_for_plain_sgd():
    once = MLP([2, 3, 1], seed=4).fit(AND_X, AND_Y, epochs=6, batch_size=2)
    twice = MLP([2, 3, 1], seed=4).fit(AND_X, AND_Y, epochs=3, batch_size=2)
    twice.fit(AND_X, AND_Y, epochs=3, batch_size=2)
    assert once.weights == twice.weights and once.rng.state == twice.rng.state
    assert twice.loss_curve_ == once.loss_curve_[3:]  # the curve of the last fit


def test_predict_by_loss():
    X = [[0.0, 1.0], [1.0, 0.0]]
    classes = MLP([2, 3], seed=0)  # softmax + cross_entropy: argmax
    assert all(isinstance(c, int) for c in classes.predict(X))
    assert classes.predict(X) == [max(range(3), key=row.__getitem__) for row in classes.forward(X)]
    labels = MLP([2, 2], output="sigmoid", seed=0)  # BCE with K = 2: (n, K) labels
    assert labels.predict(X) == [[int(a >= 0.5) for a in row] for row in labels.forward(X)]
    values = MLP([2, 1], output="identity", seed=0)  # mse, K = 1: (n,) values
    assert values.predict(X) == [row[0] for row in values.forward(X)]


# ---------------------------------------------------------------- errors

def snapshot(model):
    return copy.deepcopy((model.weights, model.biases, model.rng.state))


@pytest.mark.parametrize("call,error,match", [
    (lambda m: m.fit([[0, 1, 2]] * 4, AND_Y), ValueError,
     "X has 3 features, the network expects 2"),
    (lambda m: m.forward([[0, 1, 2]]), ValueError, "X has 3 features, the network expects 2"),
    (lambda m: m.predict([[0]]), ValueError, "X has 1 features, the network expects 2"),
    (lambda m: m.fit(AND_X, [0, 1, 2]), ValueError, "X has 4 rows but y has 3"),
    (lambda m: m.loss(AND_X, [0, 1, 1]), ValueError, "X has 4 rows but y has 3"),
    (lambda m: m.fit(AND_X, [0, 1, 3, 0]), ValueError, r"class index y\[2\] = 3 is out of range"),
    (lambda m: m.fit(AND_X, [0, 1, -1, 0]), ValueError, "out of range"),
    (lambda m: m.fit(AND_X, [0, 1.5, 1, 0]), ValueError, "not a class index"),
    (lambda m: m.fit(AND_X, [[0, 1]] * 4), ValueError, "y has 2 columns, the network has 3"),
    (lambda m: m.fit([[0, math.nan]] * 4, AND_Y), ValueError, "NaN or infinity"),
    (lambda m: m.fit(AND_X, [0, math.inf, 1, 0]), ValueError, "NaN or infinity"),
    (lambda m: m.fit([], []), ValueError, "X is empty"),
    (lambda m: m.forward([[0, 1], [2]]), ValueError, "not rectangular"),
    (lambda m: m.forward([["a", 1]]), TypeError, "not a number"),
    (lambda m: m.forward([0, 1]), TypeError, "2-D list of rows"),
    (lambda m: m.fit(AND_X, AND_Y, optimizer="rmsprop"), ValueError,
     "unknown optimizer 'rmsprop'; valid: adam, sgd"),
    (lambda m: m.fit(AND_X, AND_Y, epochs=0), ValueError, "epochs must be >= 1"),
    (lambda m: m.fit(AND_X, AND_Y, epochs=2.5), TypeError, "epochs must be an integer"),
    (lambda m: m.fit(AND_X, AND_Y, lr=0.0), ValueError, "lr must be finite and > 0"),
    (lambda m: m.fit(AND_X, AND_Y, lr=-1), ValueError, "lr must be"),
    (lambda m: m.fit(AND_X, AND_Y, batch_size=0), ValueError, "batch_size must be >= 1"),
    (lambda m: m.fit(AND_X, AND_Y, momentum=1.5), ValueError, "momentum must be"),
    (lambda m: m.fit(AND_X, AND_Y, alpha=-0.1), ValueError, "alpha must be"),
    (lambda m: m.fit(AND_X, AND_Y, shuffle="yes"), TypeError, "shuffle must be True or False"),
])
def test_errors_name_the_problem_and_leave_the_model_unchanged(call, error, match):
    model = MLP([2, 4, 3], activation="tanh", seed=0)  # softmax + cross_entropy, 3 classes
    before = snapshot(model)
    with pytest.raises(error, match=match):
        call(model)
    assert snapshot(model) == before
    with pytest.raises(NotFittedError):
        model.loss_curve_


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(layers=[2]), ValueError, "at least 2"),
    (dict(layers=[2, 0]), ValueError, r"layers\[1\] must be >= 1"),
    (dict(layers=[2, 1.5]), TypeError, "must be an integer"),
    (dict(layers="21"), TypeError, "list of ints"),
    (dict(layers=[2, 1], activation="softmax"), ValueError, "unknown activation 'softmax'"),
    (dict(layers=[2, 1], activation="sigmoidd"), ValueError,
     "unknown activation 'sigmoidd'; valid: identity, relu, sigmoid, step, tanh"),
    (dict(layers=[2, 1], output="gelu"), ValueError, "unknown output activation 'gelu'"),
    (dict(layers=[2, 1], loss="hinge"), ValueError, "unknown loss 'hinge'"),
    (dict(layers=[2, 1], loss="cross_entropy"), ValueError,
     "loss 'cross_entropy' cannot follow output 'sigmoid'"),
    (dict(layers=[2, 2], loss="binary_cross_entropy"), ValueError, "needs output 'sigmoid'"),
    (dict(layers=[2, 1], output="step", loss="binary_cross_entropy"), ValueError,
     "cannot follow output 'step'"),
    (dict(layers=[2, 1], init="he"), ValueError, "unknown init 'he'; valid: glorot, zeros"),
    (dict(layers=[2, 1], dtype="float32"), ValueError, "float64 only"),
    (dict(layers=[2, 1], seed=-1), ValueError, "seed must be"),
])
def test_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        MLP(**kwargs)


def test_step_networks_run_forward_but_cannot_be_fit():
    model = MLP([3, 2, 1], activation="step", seed=0)
    model.forward(CINEMA)
    before = snapshot(model)
    with pytest.raises(ValueError, match="step has no derivative"):
        model.fit(CINEMA, [0] * 8)
    with pytest.raises(ValueError, match="step has no derivative"):
        model.gradients(CINEMA, [0] * 8)
    assert snapshot(model) == before


def test_divergence_raises_and_restores_the_model():
    model = MLP([1, 1], output="identity", seed=0)  # mse
    before = snapshot(model)
    with pytest.raises(FloatingPointError, match="left as it was before fit"):
        model.fit([[100.0], [-50.0]], [1.0, 2.0], epochs=200, lr=1e6)
    assert snapshot(model) == before
    with pytest.raises(NotFittedError):
        model.loss_curve_


def test_not_fitted_error():
    assert NotFittedError is ExportedNotFittedError
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)
    assert not hasattr(MLP([2, 1]), "loss_curve_")
    with pytest.raises(NotFittedError, match="call fit"):
        MLP([2, 1]).loss_curve_
    with pytest.raises(NotFittedError):
        Perceptron(2).errors_


def test_perceptron_errors():
    model = Perceptron(2)
    with pytest.raises(ValueError, match="0/1 labels"):
        model.fit(AND_X, [0, 2, 0, 1])
    with pytest.raises(ValueError, match="X has 3 features, the network expects 2"):
        model.fit([[0, 0, 0]], [0])
    with pytest.raises(ValueError, match="unknown activation 'relu'; valid: sigmoid, step"):
        Perceptron(2, activation="relu")
    assert model.weights == [[[0.0], [0.0]]] and model.biases == [[0.0]]


# ---------------------------------------------------------------- files

def test_save_load_round_trip(tmp_path):
    X = [[0.1, 0.2, 0.3], [-1.0, 0.5, 2.0]]
    model = MLP([3, 4, 2], activation="relu", seed=11).fit(X, [0, 1], epochs=3, batch_size=1)
    path = tmp_path / "model.json"
    model.save(path)
    loaded = load(path)
    assert loaded.forward(X) == model.forward(X)
    assert loaded.rng.state == model.rng.state and loaded.loss_curve_ == model.loss_curve_
    assert (loaded.layers, loaded.activation, loaded.output, loaded.loss_name, loaded.seed,
            loaded.init) == ([3, 4, 2], "relu", "softmax", "cross_entropy", 11, "glorot")
    # training continues identically: same weights and same stream
    model.fit(X, [0, 1], epochs=2, batch_size=1)
    loaded.fit(X, [0, 1], epochs=2, batch_size=1)
    assert loaded.weights == model.weights
    header = json.loads(path.read_text())
    assert (header["format"], header["format_version"], header["kind"]) == \
           ("nnfast-reference", 2, "MLP")


def test_load_rejects_bad_files(tmp_path):
    path = tmp_path / "model.json"
    MLP([2, 3, 1], seed=1).save(path)
    good = json.loads(path.read_text())
    text = path.read_text()

    def rejected(content, match):
        bad = tmp_path / "bad.json"
        bad.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(ValueError, match=match):
            load(bad)

    def edited(**fields):
        return json.dumps({**good, **fields})

    rejected(text[: len(text) // 2], "not an nnfast-reference model file")  # truncated
    rejected(b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not an nnfast-reference model file")  # garbage
    rejected("", "not an nnfast-reference model file")
    rejected("[1, 2, 3]", "format is not")
    rejected(edited(format="nnfast"), "format is not")
    rejected(edited(format_version=3), "unsupported format_version 3")
    rejected(edited(format_version=True), "unsupported format_version")
    rejected(edited(kind="Perceptron"), "kind 'Perceptron'")
    rejected(json.dumps({k: v for k, v in good.items() if k != "biases"}), "missing fields")
    rejected(edited(layers=[2, 3]), "weights and biases must be lists of 1 layers")
    rejected(edited(layers=[2, 10 ** 12, 1]), r"weights\[0\] must have shape")  # hostile size
    rejected(edited(weights=[[[1.0]] * 2, good["weights"][1]]), r"shape \(2, 3\)")
    rejected(edited(biases=[[0.0] * 3, [0.0, 0.0]]), r"biases\[1\] must have shape")
    rejected(text.replace(str(good["weights"][0][0][0]), "NaN", 1), "not a finite number")
    rejected(text.replace(str(good["weights"][0][0][0]), '"x"', 1), "not a finite number")
    rejected(edited(loss="hinge"), "unknown loss 'hinge'")
    rejected(edited(rng_state=-1), "rng_state must be")
    rejected(edited(rng_state=2 ** 64), "rng_state must be")
    rejected(edited(loss_curve=[1.0, "a"]), "loss_curve must be")
    rejected("[" * 100_000, "not an nnfast-reference model file")  # nesting bomb


def test_step_output_network_runs_forward_but_cannot_be_fit():
    # step(0.5*1 + 0.5*1 - 0.75) = step(0.25) = 1; step(0.5*1 - 0.75) = step(-0.25) = 0
    model = MLP([2, 1], output="step", init="zeros")
    assert model.loss_name == "mse"
    model.weights, model.biases = [[[0.5], [0.5]]], [[-0.75]]
    assert model.forward([[1, 1], [1, 0]]) == [[1.0], [0.0]]
    with pytest.raises(ValueError, match="step has no derivative"):
        model.fit([[1, 1], [1, 0]], [1, 0])
