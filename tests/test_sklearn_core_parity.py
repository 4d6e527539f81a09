"""The core features nnfast.sklearn added, against the reference (the oracle):
sample-weighted loss and gradients, sample-weighted training epochs, a learning rate changed
between epochs, optimizer state saved and restored, and the Perceptron's SGD epoch.
float64 throughout, within 1e-9 relative (the two differ only in the order of sums).
"""
import numpy as np
import pytest

import nnfast
from nnfast import _core, reference
from nnfast.models.parameters import split_parameters
from nnfast.models.training import FitSettings

from helpers import assert_close, targets_for

F64 = 1e-9
PAIRS = [("sigmoid", "binary_cross_entropy", 2), ("softmax", "cross_entropy", 3),
         ("identity", "mse", 2)]


def net_and_reference(layers, activation, output, loss, seed=3):
    ref = reference.MLP(layers, activation, output, loss, seed=seed)
    net = _core.Net(layers, _core.ACTIVATION_CODES[activation], _core.ACTIVATION_CODES[output],
                    _core.LOSS_CODES[loss])
    params = np.concatenate([np.concatenate([np.ravel(W), b])
                             for W, b in zip(ref.weights, ref.biases)])
    return net, ref, params


def as_matrix(y, loss, k):
    y = np.asarray(y)
    if loss == "cross_entropy":
        return np.eye(k)[y]
    return y.reshape(len(y), -1).astype(np.float64)


def flat_gradients(dWs, dbs):
    return np.concatenate([np.concatenate([np.ravel(dW), db]) for dW, db in zip(dWs, dbs)])


@pytest.mark.parametrize("output,loss,k", PAIRS)
def test_weighted_loss_and_gradient_match_reference(output, loss, k):
    X = np.random.default_rng(0).normal(size=(11, 3))
    y = targets_for(loss, k, n=11)
    sw = np.random.default_rng(1).uniform(0, 3, size=11)
    sw[4] = 0.0  # a zero weight drops the row
    net, ref, params = net_and_reference([3, 4, k], "tanh", output, loss)
    grads = np.empty_like(params)
    native_loss = _core.loss_gradient(params, net, X, as_matrix(y, loss, k), 0.3, grads, sw)
    ref_loss = ref.loss(X.tolist(), y.tolist(), alpha=0.3, sample_weight=sw.tolist())
    assert_close("loss", native_loss, ref_loss, F64)
    dWs, dbs = ref.gradients(X.tolist(), y.tolist(), alpha=0.3, sample_weight=sw.tolist())
    expected = flat_gradients(dWs, dbs)
    assert np.abs(expected).max() > 1e-3  # the check is not trivially passed by zeros
    assert_close("gradient", grads, expected, F64, 1e-12)


def test_unit_weights_are_the_unweighted_loss_and_a_zero_weight_drops_the_row():
    X = np.random.default_rng(2).normal(size=(9, 3))
    Y = np.eye(3)[np.random.default_rng(3).integers(0, 3, 9)]
    net, _, params = net_and_reference([3, 5, 3], "relu", "softmax", "cross_entropy")
    g1, g2, g3 = (np.empty_like(params) for _ in range(3))
    plain = _core.loss_gradient(params, net, X, Y, 0.1, g1)
    ones = _core.loss_gradient(params, net, X, Y, 0.1, g2, np.ones(9))
    assert_close("loss", ones, plain, 1e-12)
    assert_close("gradient", g2, g1, 1e-12, 1e-15)
    sw = np.ones(9)
    sw[0] = 0.0
    dropped = _core.loss_gradient(params, net, X, Y, 0.1, g3, sw)
    without = _core.loss_gradient(params, net, X[1:], Y[1:], 0.1, g1)
    assert_close("loss", dropped, without, 1e-12)
    assert_close("gradient", g3, g1, 1e-12, 1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows", [64, 1500, 1501])
def test_the_l2_term_is_added_after_the_product(dtype, rows):
    """dW = A_prev^T delta / m, then dW += alpha W / m (nn_l2_gradient's expression, rounded in
    the element type), the order docs/semantics.md gives: bit for bit, on a batch of 64 rows
    (one k block; m a power of two, taken as a multiplication by 1 / m) and on batches of
    1500 and 1501 rows (several k blocks; a division)."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(rows, 30)).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, rows)]
    net, _, params = net_and_reference([30, 48, 10], "relu", "softmax", "cross_entropy")
    params = params.astype(dtype)
    plain, penalized = np.empty_like(params), np.empty_like(params)
    _core.loss_gradient(params, net, X, Y, 0.0, plain)
    _core.loss_gradient(params, net, X, Y, 0.37, penalized)
    alpha, m = np.array(0.37, dtype), np.array(rows, dtype)
    expected = plain.copy()
    at = 0
    for k, n in ((30, 48), (48, 10)):  # each layer's W, then its b (not penalized)
        W = params[at:at + k * n]
        expected[at:at + k * n] = plain[at:at + k * n] + alpha * W / m
        at += k * n + n
    assert np.array_equal(penalized, expected)
    assert not np.array_equal(penalized, plain)


def test_weights_summing_to_zero_are_refused():
    net, _, params = net_and_reference([2, 2], "identity", "identity", "mse")
    with pytest.raises(ValueError):
        _core.loss_gradient(params, net, np.ones((3, 2)), np.ones((3, 2)), 0.0, None,
                            np.zeros(3))


def sgd_epochs_by_reference(ref, X, y, sw, rates, batch, momentum, alpha):
    """The reference's gradients, batch by batch in order, with sgd + momentum."""
    v = None
    for lr in rates:
        for b0 in range(0, len(X), batch):
            rows = slice(b0, b0 + batch)
            dWs, dbs = ref.gradients(X[rows].tolist(), y[rows].tolist(), alpha=alpha,
                                     sample_weight=sw[rows].tolist())
            g = flat_gradients(dWs, dbs)
            p = flat_gradients(ref.weights, ref.biases)
            v = -lr * g if v is None else momentum * v - lr * g
            p = p + v
            set_reference_params(ref, p)
    return flat_gradients(ref.weights, ref.biases)


def set_reference_params(ref, p):
    off = 0
    for l, W in enumerate(ref.weights):
        n_in, n_out = len(W), len(W[0])
        ref.weights[l] = p[off:off + n_in * n_out].reshape(n_in, n_out).tolist()
        off += n_in * n_out
        ref.biases[l] = p[off:off + n_out].tolist()
        off += n_out


def trainer_from(params, layers, activation, output, loss, **settings):
    """The public training handle of an nnfast.MLP holding params (rows in the given order)."""
    model = nnfast.MLP(layers, activation, output, loss)
    model.set_parameters(*split_parameters(params, layers))
    return model.trainer(FitSettings(shuffle=False, **settings))


def test_weighted_epochs_with_a_changing_learning_rate_match_reference():
    X = np.random.default_rng(4).normal(size=(10, 3))
    y = np.random.default_rng(5).integers(0, 3, 10)
    sw = np.random.default_rng(6).uniform(0.5, 2, 10)
    _, ref, params = net_and_reference([3, 4, 3], "tanh", "softmax", "cross_entropy")
    trainer = trainer_from(params, [3, 4, 3], "tanh", "softmax", "cross_entropy", lr=0.2,
                           momentum=0.5, alpha=0.01, batch_size=4)
    for lr in (0.2, 0.05):  # an invscaling-like schedule: the rate changes between epochs
        trainer.lr = lr
        trainer.epoch(X, y, sample_weight=sw)
    expected = sgd_epochs_by_reference(ref, X, y, sw, [0.2, 0.05], 4, 0.5, 0.01)
    assert_close("params", trainer.params, expected, F64, 1e-12)
    assert trainer.epochs_done == 2


def test_an_epoch_in_a_given_order_is_the_epoch_on_the_reordered_rows():
    X = np.random.default_rng(4).normal(size=(10, 3))
    y = np.random.default_rng(5).integers(0, 3, 10)
    sw = np.random.default_rng(6).uniform(0.5, 2, 10)
    order = np.random.default_rng(7).permutation(10)
    _, _, params = net_and_reference([3, 4, 3], "tanh", "softmax", "cross_entropy")
    ordered, reordered = (trainer_from(params, [3, 4, 3], "tanh", "softmax", "cross_entropy",
                                       lr=0.2, batch_size=3) for _ in range(2))
    loss = ordered.epoch(X, y, order=order, sample_weight=sw)
    assert loss == reordered.epoch(X[order], y[order], sample_weight=sw[order])
    assert np.array_equal(ordered.params, reordered.params)
    assert not np.array_equal(ordered.params, params)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_optimizer_state_saved_and_restored_continues_the_run(optimizer):
    X = np.random.default_rng(7).normal(size=(12, 3))
    Y = np.eye(2)[np.random.default_rng(8).integers(0, 2, 12)]
    _, _, start = net_and_reference([3, 5, 2], "relu", "softmax", "cross_entropy")

    def trainer(params):
        return trainer_from(params, [3, 5, 2], "relu", "softmax", "cross_entropy",
                            optimizer=optimizer, lr=0.05, momentum=0.9, nesterov=True,
                            batch_size=5)
    t = trainer(start)
    t.run(X, Y, 2)
    one_run = t.params
    t1 = trainer(start)
    t1.epoch(X, Y)
    state = t1.state
    assert np.abs(state[0]).max() > 0 and (state[2] == 3 if optimizer == "adam" else True)
    t2 = trainer(t1.params)
    t2.state = state
    t2.epoch(X, Y)
    assert_close("params", t2.params, one_run, 1e-15)
    t3 = trainer(t1.params)  # without the state the second epoch differs: the state matters
    t3.epoch(X, Y)
    assert np.abs(t3.params - one_run).max() > 1e-6


def test_a_rejected_optimizer_state_changes_nothing():
    X = np.random.default_rng(7).normal(size=(12, 3))
    Y = np.eye(2)[np.random.default_rng(8).integers(0, 2, 12)]
    _, _, start = net_and_reference([3, 5, 2], "relu", "softmax", "cross_entropy")
    trainer = trainer_from(start, [3, 5, 2], "relu", "softmax", "cross_entropy",
                           optimizer="adam", lr=0.05, batch_size=5)
    trainer.epoch(X, Y)
    before = trainer.state
    good, bad = np.ones_like(before[0]), np.ones(3)
    with pytest.raises(ValueError, match="state2 has the wrong length"):
        trainer.state = (good, bad, 9)   # state1 is fine: it must not be written
    after = trainer.state
    assert np.array_equal(after[0], before[0]) and np.array_equal(after[1], before[1])
    assert after[2] == before[2]


@pytest.mark.parametrize("alpha,l1_ratio", [(0.0, 0.0), (0.01, 0.0), (0.01, 1.0), (0.02, 0.3)])
@pytest.mark.parametrize("dtype,rtol", [(np.float64, F64), (np.float32, 1e-4)])
def test_perceptron_sgd_epoch_matches_reference(alpha, l1_ratio, dtype, rtol):
    rng = np.random.default_rng(9)
    X = rng.normal(size=(30, 4))
    y = np.where(X @ [1.0, -2.0, 0.5, 0.0] + 0.3 + rng.normal(scale=0.8, size=30) > 0, 1.0, -1.0)
    sw = rng.uniform(0.5, 1.5, 30)
    order = rng.permutation(30).astype(np.int64)
    w, q = np.zeros(4, dtype), np.zeros(4, dtype)
    w_ref, q_ref = [0.0] * 4, [0.0] * 4
    b = u = b_ref = u_ref = 0.0
    for epoch in range(3):
        b, u, objective = _core.perceptron_sgd_epoch(
            w, q, X.astype(dtype), y.astype(dtype), sw.astype(dtype), order, b, u, 0.7, alpha,
            l1_ratio, True)
        b_ref, u_ref, objective_ref = reference.ops.perceptron_sgd_epoch(
            w_ref, b_ref, u_ref, q_ref, X.tolist(), y.tolist(), sw.tolist(), 0.7, alpha,
            l1_ratio, True, order.tolist())
        assert_close(f"w after epoch {epoch}", w, w_ref, rtol, 1e-12)
        assert_close(f"b after epoch {epoch}", b, b_ref, rtol, 1e-12)
        if l1_ratio == 0:
            # with an L1 part the objective's norms are scikit-learn's running ones, which
            # the L1 step leaves stale (docs/semantics.md); the textbook's are exact
            assert_close(f"objective of epoch {epoch}", objective, objective_ref, rtol)
    assert np.abs(w).max() > 0.1
    if l1_ratio > 0:
        assert_close("u", u, u_ref, rtol)


def test_perceptron_sgd_epoch_updates_on_the_boundary():
    # From w = 0, b = 0: p = 0 for the first sample, y p = 0 <= 0 counts as a mistake
    # (scikit-learn's rule; the seed's step rule would not update for y = +1):
    # w = 0 + eta * y * sw * x = 0.5 * 1 * 2 * [1, 2] = [1, 2], b = 0.5 * 1 * 2 = 1.
    w, q = np.zeros(2), np.zeros(2)
    b, u, objective = _core.perceptron_sgd_epoch(
        w, q, np.array([[1.0, 2.0]]), np.array([1.0]), np.array([2.0]), None, 0.0, 0.0, 0.5,
        0.0, 0.0, True)
    assert_close("w", w, [1.0, 2.0], 0)
    assert b == 1.0 and objective == 0.0


def test_nnfast_import_does_not_import_sklearn():
    import subprocess
    import sys
    code = "import sys, nnfast; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**__import__('os').environ})
    assert out.stdout.strip() == "False"
    assert nnfast.__version__
