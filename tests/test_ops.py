"""nnfast.ops (the C kernels on arrays) against nnfast.reference.ops, kernel by kernel."""
import numpy as np
import pytest

from nnfast import ops
from nnfast.reference import ops as ref_ops

from helpers import assert_close

RNG = np.random.default_rng(7)
Z = RNG.normal(scale=3.0, size=(5, 4))
A_prev = RNG.normal(size=(5, 3))
W = RNG.normal(size=(3, 4))
b = RNG.normal(size=4)


def test_same_public_names():
    """A project switches backends by changing one import: every kernel exists in both."""
    kernels = {name for name in ops.__all__}
    missing = {name for name in kernels if not hasattr(ref_ops, name)}
    assert not missing, f"in nnfast.ops but not in nnfast.reference.ops: {missing}"
    ref_public = {n for n in dir(ref_ops) if not n.startswith("_") and callable(getattr(ref_ops, n))}
    assert "perceptron_sgd_epoch" in ref_public
    without_twin = ref_public - kernels
    assert not without_twin, f"in nnfast.reference.ops without a twin in nnfast.ops: {without_twin}"


def test_weighted_loss_and_glorot_bound():
    Y = np.eye(4)[[0, 1, 2, 3, 1]]
    A = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    sw = [0.5, 2.0, 0.0, 1.0, 1.5]
    got = ops.weighted_loss(Z, A, Y, sw, "cross_entropy")
    assert_close("weighted_loss", got, ref_ops.weighted_loss(Z.tolist(), A.tolist(), Y.tolist(),
                                                             sw, "cross_entropy"), 1e-12)
    assert abs(got - ops.cross_entropy(Z, Y)) > 1e-3  # the weights matter
    with pytest.raises(ValueError, match="positive sum"):
        ops.weighted_loss(Z, A, Y, [0.0] * 5, "cross_entropy")
    for activation in ("sigmoid", "relu"):
        assert ops.glorot_bound(3, 5, activation) == ref_ops.glorot_bound(3, 5, activation)
    assert ops.glorot_bound(3, 5, "sigmoid") == 0.5  # sqrt(2 / 8)


def test_perceptron_sgd_epoch_in_place():
    X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.5, -2.0]])
    y, sw, order = [1.0, -1.0, 1.0], [2.0, 1.0, 0.5], [2, 0, 1]
    w, q = np.zeros(2), np.zeros(2)
    w_ref, q_ref = [0.0, 0.0], [0.0, 0.0]
    got = ops.perceptron_sgd_epoch(w, 0.0, 0.0, q, X, y, sw, 0.5, 0.01, 0.3, True, order)
    expected = ref_ops.perceptron_sgd_epoch(w_ref, 0.0, 0.0, q_ref, X.tolist(), y, sw, 0.5,
                                            0.01, 0.3, True, order)
    assert_close("w", w, w_ref, 1e-12)
    # the objective's norms are scikit-learn's running ones, left stale by the L1 step
    assert_close("b, u", np.array(got[:2]), np.array(expected[:2]), 1e-12)
    assert np.abs(w).max() > 0.1
    w, w_ref = np.zeros(2), [0.0, 0.0]  # without an L1 part they are the exact norms
    got = ops.perceptron_sgd_epoch(w, 0.0, 0.0, q, X, y, sw, 0.5, 0.01, 0.0, True, order)
    expected = ref_ops.perceptron_sgd_epoch(w_ref, 0.0, 0.0, q_ref, X.tolist(), y, sw, 0.5,
                                            0.01, 0.0, True, order)
    assert_close("w", w, w_ref, 1e-12)
    assert_close("b, u, objective", got, expected, 1e-12)
    with pytest.raises(ValueError, match="-1/\\+1 labels"):
        ops.perceptron_sgd_epoch(w, 0.0, 0.0, q, X, [0.0, 1.0, 1.0], sw, 0.5)


@pytest.mark.parametrize("name", sorted(ref_ops.ACTIVATIONS))
def test_activation(name):
    assert_close(name, ops.ACTIVATIONS[name](Z), ref_ops.ACTIVATIONS[name](Z.tolist()), 1e-15, 1e-300)


@pytest.mark.parametrize("name", sorted(ref_ops.DERIVATIVES))
def test_derivative(name):
    A = ops.ACTIVATIONS[name](Z)
    assert_close(name, ops.DERIVATIVES[name](A), ref_ops.DERIVATIVES[name](A.tolist()), 1e-15)


@pytest.mark.parametrize("name", ["identity", "sigmoid", "tanh", "relu", "softmax"])
def test_activation_backward(name):
    A = ops.ACTIVATIONS[name](Z)
    G = RNG.normal(size=Z.shape)
    assert_close(name, ops.activation_backward(A, G, name),
                 ref_ops.activation_backward(A.tolist(), G.tolist(), name), 1e-13, 1e-15)


@pytest.mark.parametrize("activation", ["identity", "step", "sigmoid", "tanh", "relu", "softmax"])
def test_dense_forward(activation):
    assert_close("A_out", ops.dense_forward(A_prev, W, b, activation),
                 ref_ops.dense_forward(A_prev.tolist(), W.tolist(), b.tolist(), activation),
                 1e-13, 1e-15)
    assert_close("Z", ops.dense_linear(A_prev, W, b),
                 ref_ops.dense_linear(A_prev.tolist(), W.tolist(), b.tolist()), 1e-13, 1e-15)


@pytest.mark.parametrize("activation_prev", [None, "identity", "sigmoid", "tanh", "relu"])
def test_dense_backward(activation_prev):
    delta = RNG.normal(size=(5, 4))
    A = A_prev if activation_prev is None else ops.ACTIVATIONS[activation_prev](A_prev)
    got = ops.dense_backward(A, W, delta, activation_prev)
    want = ref_ops.dense_backward(A.tolist(), W.tolist(), delta.tolist(), activation_prev)
    for name, g, w in zip(("dW", "db", "delta_prev"), got, want):
        if w is None:
            assert g is None
        else:
            assert_close(name, g, w, 1e-13, 1e-15)


def test_matmul_and_transpose():
    assert_close("matmul", ops.matmul(A_prev, W), ref_ops.matmul(A_prev.tolist(), W.tolist()), 1e-14)
    assert_close("transpose", ops.transpose(W), ref_ops.transpose(W.tolist()), 0)


@pytest.mark.parametrize("loss,output", [("binary_cross_entropy", "sigmoid"),
                                         ("cross_entropy", "softmax"), ("mse", "identity"),
                                         ("mse", "tanh"), ("mse", "softmax")])
def test_losses_and_output_delta(loss, output):
    A = ops.ACTIVATIONS[output](Z)
    Y = np.eye(4)[RNG.integers(0, 4, size=5)]
    got = ops.LOSSES[loss](Z, A, Y)
    want = ref_ops.LOSSES[loss](Z.tolist(), A.tolist(), Y.tolist())
    assert_close(loss, got, want, 1e-13)
    assert_close("delta", ops.output_delta(Z, A, Y, output, loss),
                 ref_ops.output_delta(Z.tolist(), A.tolist(), Y.tolist(), output, loss), 1e-13, 1e-15)


@pytest.mark.parametrize("scale", [1e2, 1e4, 1e8])
def test_cross_entropies_are_finite_for_huge_logits(scale):
    """The stable forms: finite logits never give inf or NaN, in both implementations."""
    Zs = np.array([[scale, -scale, 0.5], [-scale, scale, -0.5]])
    Y = np.array([[0.0, 1, 0], [1, 0, 0]])
    for name, fn in (("binary_cross_entropy", ops.binary_cross_entropy),
                     ("cross_entropy", ops.cross_entropy)):
        got = fn(Zs, Y)
        want = getattr(ref_ops, name)(Zs.tolist(), Y.tolist())
        assert np.isfinite(got) and np.isfinite(want)
        assert_close(name, got, want, 1e-12)
    for dtype in (np.float32, np.float64):
        assert np.isfinite(ops.cross_entropy(Zs.astype(dtype), Y.astype(dtype)))


def test_l2():
    Ws = [W, RNG.normal(size=(4, 2))]
    assert_close("l2_penalty", ops.l2_penalty(Ws, 0.3, 5), ref_ops.l2_penalty([w.tolist() for w in Ws], 0.3, 5), 1e-14)
    assert_close("l2_gradient", ops.l2_gradient(W, 0.3, 5), ref_ops.l2_gradient(W.tolist(), 0.3, 5), 1e-15)


def test_optimizer_steps_in_place():
    w0, g = RNG.normal(size=6), RNG.normal(size=6)
    for nesterov in (False, True):
        w, v = w0.copy(), np.full(6, 0.1)
        w_ref, v_ref = w0.tolist(), [0.1] * 6
        ops.sgd_step(w, g, v, 0.1, 0.9, nesterov)
        ref_ops.sgd_step(w_ref, g.tolist(), v_ref, 0.1, 0.9, nesterov)
        assert_close("sgd w", w, w_ref, 1e-15)
        assert_close("sgd v", v, v_ref, 1e-15)
    w, m, v = w0.copy(), np.zeros(6), np.zeros(6)
    w_ref, m_ref, v_ref = w0.tolist(), [0.0] * 6, [0.0] * 6
    for t in (1, 2, 3):
        ops.adam_step(w, g, m, v, t, 0.01)
        ref_ops.adam_step(w_ref, g.tolist(), m_ref, v_ref, t, 0.01)
    assert_close("adam w", w, w_ref, 1e-14)
    with pytest.raises(TypeError, match="NumPy arrays"):
        ops.sgd_step(w0.tolist(), g, v, 0.1)


def test_optimizer_tables_step_like_the_reference():
    w0, g = RNG.normal(size=5), RNG.normal(size=5)
    for name in ("sgd", "adam"):
        native, ref = ops.OPTIMIZERS[name](5, 0.05, 0.9, True), ref_ops.OPTIMIZERS[name](5, 0.05, 0.9, True)
        w, w_ref = w0.copy(), w0.tolist()
        for _ in range(3):
            native.step(w, g)
            ref.step(w_ref, g.tolist())
        assert_close(name, w, w_ref, 1e-14)


def test_perceptron_rule_in_place():
    X = np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]])
    Y = np.array([[0.0], [0], [0], [1]])
    W, bias = np.zeros((2, 1)), np.zeros(1)
    W_ref, b_ref = [[0.0], [0.0]], [0.0]
    for order in (None, [3, 1, 0, 2]):
        assert ops.perceptron_rule(W, bias, X, Y, 1.0, order) == \
            ref_ops.perceptron_rule(W_ref, b_ref, X.tolist(), Y.tolist(), 1.0, order)
        assert_close("W", W, W_ref, 0)
        assert_close("b", bias, b_ref, 0)


def test_init_and_permutation_draw_the_same_stream():
    rng, rng_ref = ops.SplitMix64(42), ref_ops.SplitMix64(42)
    weights, biases = ops.init_params([3, 4, 2], ["tanh", "sigmoid"], rng, "glorot")
    weights_ref, biases_ref = ref_ops.init_params([3, 4, 2], ["tanh", "sigmoid"], rng_ref, "glorot")
    for l in range(2):
        assert_close(f"W[{l}]", weights[l], weights_ref[l], 0)
        assert_close(f"b[{l}]", biases[l], biases_ref[l], 0)
    assert rng.state == rng_ref.state
    assert ops.permutation(rng, 50).tolist() == ref_ops.permutation(rng_ref, 50)
    assert rng.state == rng_ref.state


def test_float32_kernels_stay_float32():
    Z32 = Z.astype(np.float32)
    assert ops.sigmoid(Z32).dtype == np.float32
    assert ops.dense_forward(A_prev.astype(np.float32), W.astype(np.float32),
                             b.astype(np.float32), "relu").dtype == np.float32
    assert_close("sigmoid f32", ops.sigmoid(Z32), ref_ops.sigmoid(Z32.astype(float).tolist()), 1e-6)


def test_bfloat16_rounding_and_products_match_the_reference():
    rng = np.random.default_rng(4)
    # magnitudes from bfloat16's subnormals (2^-133 spacing) to near float32's largest
    x = rng.standard_normal(3000) * np.exp2(rng.integers(-140, 126, 3000).astype(float))
    x[:4] = [0.0, -0.0, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8]  # zeros and two ties
    want = np.array([ref_ops.bfloat16(v) for v in x.tolist()])
    got = ops.bfloat16(x)
    assert got.dtype == np.float64 and np.array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    x32 = x.astype(np.float32)
    got32 = ops.bfloat16(x32)
    assert got32.dtype == np.float32
    assert np.array_equal(got32, [ref_ops.bfloat16(v) for v in x32.astype(float).tolist()])
    A = rng.standard_normal((7, 33))
    B = rng.standard_normal((33, 5))
    want = np.array(ref_ops.matmul_bfloat16(A.tolist(), B.tolist()))
    assert_close("matmul_bfloat16 float64", ops.matmul_bfloat16(A, B), want, 1e-14)
    got32 = ops.matmul_bfloat16(A.astype(np.float32), B.astype(np.float32))
    assert got32.dtype == np.float32
    # float32 operands round to the same bfloat16 values (ties aside); float32 sums
    assert np.abs(got32 - want).max() < 1e-5
    assert np.abs(ops.matmul(A, B) - want).max() > 1e-3  # the rounding shows
