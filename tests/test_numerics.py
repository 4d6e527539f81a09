"""Numerical faults: stable losses for huge logits, overflow reported, divergence stopped.

- The cross-entropies are computed from the logits in the stable forms (softplus, log-sum-exp):
  for |z| up to 1e4, in float32 and float64, they are finite and equal the reference's.
- Finite inputs that overflow the dtype (X of 1e200) raise FloatingPointError; nothing returns
  a silent inf or NaN.
- A diverging run stops with FloatingPointError naming the epoch and leaves the model as it
  was before fit (docs/semantics.md, "Training"); the model then trains normally.
"""
import numpy as np
import pytest

import nnfast
from nnfast import ops, reference
from nnfast.reference import ops as ref_ops

from helpers import assert_close

LOGITS = [0.0, 1.0, 30.0, 88.0, 100.0, 710.0, 1e3, 1e4]   # 88 / 710: exp overflows f32 / f64
DTYPES = ["float64", "float32"]


def logit_rows(scale):
    """Rows of logits of magnitude `scale` in every sign pattern, with ties and a spread."""
    return np.array([[scale, -scale, 0.5], [-scale, scale, -0.5], [scale, scale, -scale],
                     [-scale, -scale, -scale], [scale, 0.0, scale / 2]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", LOGITS)
def test_cross_entropies_from_huge_logits_are_finite_and_match_the_reference(scale, dtype):
    Z = logit_rows(scale).astype(dtype)
    Zr = Z.astype(np.float64).tolist()
    Y_onehot = np.eye(3)[[1, 0, 2, 1, 0]].astype(dtype)
    Y_binary = np.array([[0, 1, 1], [1, 0, 0], [1, 1, 0], [0, 0, 1], [1, 0, 1]], dtype=dtype)
    rtol = 1e-12 if dtype == "float64" else 1e-6
    for name, fn, Y in (("cross_entropy", ops.cross_entropy, Y_onehot),
                        ("binary_cross_entropy", ops.binary_cross_entropy, Y_binary)):
        got, want = fn(Z, Y), getattr(ref_ops, name)(Zr, Y.astype(np.float64).tolist())
        assert np.isfinite(got) and np.isfinite(want), f"{name} at |z| = {scale}: {got}, {want}"
        assert_close(name, got, want, rtol, 1e-12)
    # the probabilities behind them stay in [0, 1] and rows of softmax sum to 1
    for name in ("sigmoid", "softmax"):
        A = ops.ACTIVATIONS[name](Z)
        assert np.isfinite(A).all() and (A >= 0).all() and (A <= 1).all()
    assert np.allclose(ops.softmax(Z).sum(axis=1), 1, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1e2, 1e3, 1e4])
@pytest.mark.parametrize("output,loss,k", [("sigmoid", "binary_cross_entropy", 1),
                                           ("softmax", "cross_entropy", 3)])
def test_model_loss_and_gradients_at_huge_logits_match_the_reference(scale, dtype, output, loss, k):
    """A one-layer model whose logits are +-scale: loss and gradients finite and equal the
    reference's, including the wrong-class rows whose loss is about scale itself."""
    native = nnfast.MLP([2, k], output=output, loss=loss, dtype=dtype)
    W = np.array([[scale] * k, [-scale] * k]) * np.linspace(1, -1, k)  # +-scale logits
    native.set_parameters([W], [np.zeros(k)])
    ref = reference.MLP([2, k], output=output, loss=loss, init="zeros")
    ref.weights, ref.biases = [W.tolist()], [[0.0] * k]
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, -0.5]], dtype=dtype)
    y = np.array([0, 1, 0, 1]) if k == 1 else np.array([2, 0, 1, 2])
    rtol = 1e-12 if dtype == "float64" else 1e-5
    value = native.loss(X, y)
    assert np.isfinite(value) and value > scale / 10   # the wrong rows really cost ~scale
    assert_close("loss", value, ref.loss(X.astype(float).tolist(), y.tolist()), rtol)
    (dW,), (db,) = native.gradients(X, y)
    (dW_ref,), (db_ref,) = ref.gradients(X.astype(float).tolist(), y.tolist())
    assert_close("dW", dW, dW_ref, rtol, 1e-6)
    assert_close("db", db, db_ref, rtol, 1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_training_at_huge_logits_stays_finite(dtype):
    """Saturated sigmoid outputs (|z| = 1e4) train without NaN: the BCE delta a - y is bounded."""
    model = nnfast.MLP([2, 1], output="sigmoid", dtype=dtype, init="zeros")
    model.set_parameters([np.array([[1e4], [-1e4]])], [np.zeros(1)])
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    model.fit(X, [0, 1], epochs=5, lr=0.1)
    assert np.isfinite(model.loss_curve_).all() and np.isfinite(model.weights[0]).all()
    assert model.loss_curve_[-1] < model.loss_curve_[0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_of_extreme_logits_is_never_nan(dtype):
    """Logits near the largest finite value: lse - z_k overflows for the other classes, but
    their target is 0, so the loss is the (finite) correct-class term, not 0 * inf = NaN."""
    big = np.finfo(dtype).max * 0.75
    Z = np.array([[big, -big, 0.0]], dtype=dtype)
    assert ops.cross_entropy(Z, np.array([[1.0, 0.0, 0.0]], dtype=dtype)) == 0.0
    if dtype == "float64":   # the reference, in float64, skips the zero targets alike
        assert ref_ops.cross_entropy(Z.tolist(), [[1.0, 0.0, 0.0]]) == 0.0
    wrong = np.array([[0.0, 1.0, 0.0]], dtype=dtype)   # the loss is 2 * big
    if dtype == "float32":
        assert_close("loss", ops.cross_entropy(Z, wrong), 2 * float(big), 1e-7)  # in double
    else:
        with pytest.raises(FloatingPointError, match="cross_entropy overflowed"):
            ops.cross_entropy(Z, wrong)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["forward", "predict", "loss", "gradients"])
def test_overflow_from_finite_input_is_an_error_not_silent_inf(dtype, method):
    """Finite X and weights whose product exceeds the dtype's range: FloatingPointError."""
    model = nnfast.MLP([3, 4, 1], "relu", output="identity", dtype=dtype, seed=1)
    model.set_parameters([np.ones((3, 4)), np.ones((4, 1))], [np.zeros(4), np.zeros(1)])
    before = model._params.copy()
    X = np.full((2, 3), np.finfo(dtype).max / 4)   # layer 1: 0.75 max; layer 2: 3 max = inf
    call = {"forward": lambda: model.forward(X), "predict": lambda: model.predict(X),
            "loss": lambda: model.loss(X, [0.0, 1.0]),
            "gradients": lambda: model.gradients(X, [0.0, 1.0])}[method]
    with pytest.raises(FloatingPointError, match="overflowed"):
        call()
    assert np.array_equal(model._params, before)


def test_ops_overflow_is_an_error():
    huge = np.full((2, 2), 1e200)
    with pytest.raises(FloatingPointError, match="matmul overflowed"):
        ops.matmul(huge, huge)
    with pytest.raises(FloatingPointError, match="dense_forward overflowed"):
        ops.dense_forward(huge, huge, [0.0, 0.0], "relu")
    with pytest.raises(FloatingPointError, match="l2_penalty overflowed"):
        ops.l2_penalty([huge], 1.0, 1)


# ---- divergence ---------------------------------------------------------------------------------

def diverging_problem(dtype="float64"):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 4)).astype(dtype) * 10
    y = rng.normal(size=32) * 100
    return X, y


def state(model):
    return model._params.copy(), model._rng_state, model._loss_curve


DIVERGING_RUNS = {
    "sgd, huge lr": dict(lr=1e6, epochs=50),
    "sgd momentum": dict(lr=1e3, momentum=0.9, epochs=50, batch_size=4),
    "nesterov, batch 1": dict(lr=1e4, momentum=0.9, nesterov=True, epochs=50, batch_size=1),
    "adam, huge lr": dict(optimizer="adam", lr=1e200, epochs=20),
    "huge L2": dict(lr=1.0, alpha=1e305, epochs=5),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("run", sorted(DIVERGING_RUNS))
@pytest.mark.parametrize("verbose", [False, True])
def test_diverging_run_stops_with_a_clear_error_and_keeps_the_weights(run, dtype, verbose, capsys):
    X, y = diverging_problem(dtype)
    model = nnfast.MLP([4, 8, 1], "relu", output="identity", dtype=dtype, seed=2)
    model.fit(X, y, epochs=2, lr=1e-4)        # a finite history the failure must keep
    before = state(model)
    with pytest.raises(FloatingPointError, match=r"training diverged: .*(epoch \d+|last update)"
                                                 r".*left as it was before fit"):
        model.fit(X, y, verbose=verbose, **DIVERGING_RUNS[run])
    after = state(model)
    assert np.array_equal(before[0], after[0]) and before[1:] == after[1:]
    assert np.isfinite(model.forward(X)).all()
    model.fit(X, y, epochs=3, lr=1e-5)        # still a usable model
    assert np.isfinite(model.loss_curve_).all()
    capsys.readouterr()


def test_divergence_in_the_last_update_is_caught():
    """With epochs=1 the only non-finite value is made by the last update: the loss of that
    epoch was taken before it. fit still refuses to keep it."""
    X = np.array([[1.0], [2.0]])
    model = nnfast.MLP([1, 1], output="identity", init="zeros")
    before = state(model)
    with pytest.raises(FloatingPointError, match="last update made a weight infinite or NaN"):
        model.fit(X, [1e150, -1e150], epochs=1, lr=1e300, shuffle=False)
    after = state(model)
    assert np.array_equal(before[0], after[0]) and before[1:] == after[1:]


def test_divergence_is_reported_alike_by_the_reference_backend():
    X, y = diverging_problem()
    for backend in ("native", "reference"):
        model = nnfast.MLP([4, 3, 1], "relu", output="identity", seed=2, backend=backend)
        before = model._params.copy()
        with pytest.raises(FloatingPointError, match="left as it was before fit"):
            model.fit(X, y, lr=1e6, epochs=30)
        assert np.array_equal(model._params, before)


def test_sigmoid_perceptron_divergence_keeps_the_weights():
    X = np.array([[1e150, 0.0], [0.0, 1e150]])
    model = nnfast.Perceptron(2, activation="sigmoid")
    before = model._mlp._params.copy()
    with pytest.raises(FloatingPointError):
        model.fit(X, [0, 1], epochs=10, lr=1e200)
    assert np.array_equal(model._mlp._params, before)
