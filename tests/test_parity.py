"""The native core against the reference: forward, loss, gradients and whole training runs.

Tolerances (docs/semantics.md): float64 within 1e-9 relative after training (the two differ
only in the order of floating-point sums); float32 within float32 accuracy (rtol 1e-4 after a
few epochs, from an initialization rounded to float32).
"""
import numpy as np
import pytest

import nnfast
from nnfast import reference

from helpers import assert_close, assert_params_close, targets_for

HIDDEN = ["identity", "sigmoid", "tanh", "relu"]
# (output, loss, n_outputs): every allowed pair, with a width that fits it.
OUTPUT_LOSS = [
    ("sigmoid", "binary_cross_entropy", 2),
    ("softmax", "cross_entropy", 3),
    ("identity", "mse", 2),
    ("sigmoid", "mse", 1),
    ("tanh", "mse", 2),
    ("relu", "mse", 2),
    ("softmax", "mse", 3),
]
F64 = 1e-9


def data(n=23, n_features=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, n_features))


def pair(layers, activation, output, loss, seed=3, **kw):
    """The same model, native and reference."""
    native = nnfast.MLP(layers, activation, output, loss, seed=seed, **kw)
    ref = reference.MLP(layers, activation, output, loss, seed=seed)
    return native, ref


@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize("output,loss,k", OUTPUT_LOSS)
def test_forward_loss_gradients_match(activation, output, loss, k):
    X, y = data(), targets_for(loss, k)
    native, ref = pair([3, 5, 4, k], activation, output, loss)
    assert_params_close(native, ref, rtol=0, atol=0, what="init ")  # same draws, same values
    assert_close("forward", native.forward(X), ref.forward(X.tolist()), 1e-12, 1e-15)
    assert_close("loss", native.loss(X, y, alpha=0.3), ref.loss(X.tolist(), y.tolist(), alpha=0.3),
                 1e-12)
    dW, db = native.gradients(X, y, alpha=0.3)
    dW_ref, db_ref = ref.gradients(X.tolist(), y.tolist(), alpha=0.3)
    for l in range(3):
        assert_close(f"dW[{l}]", dW[l], dW_ref[l], 1e-10, 1e-14)
        assert_close(f"db[{l}]", db[l], db_ref[l], 1e-10, 1e-14)
    assert any(np.abs(g).max() > 0 for g in dW)


TRAINING = {
    "sgd": dict(optimizer="sgd"),
    "momentum": dict(optimizer="sgd", momentum=0.5),
    "nesterov": dict(optimizer="sgd", momentum=0.5, nesterov=True),
    "adam": dict(optimizer="adam", lr=0.01),
}
BATCHES = {"full": None, "short_last": 5, "one": 1}


@pytest.mark.parametrize("optimizer", sorted(TRAINING))
@pytest.mark.parametrize("batch", sorted(BATCHES))
@pytest.mark.parametrize("shuffle", [False, True])
def test_training_matches_reference_float64(optimizer, batch, shuffle):
    X, y = data(n=23), targets_for("cross_entropy", 3)
    native, ref = pair([3, 6, 3], "tanh", None, None)
    fit = dict(epochs=8, batch_size=BATCHES[batch], alpha=0.01, shuffle=shuffle, lr=0.1)
    fit.update(TRAINING[optimizer])
    native.fit(X, y, **fit)
    ref.fit(X.tolist(), y.tolist(), **fit)
    assert_params_close(native, ref, rtol=F64, atol=1e-12)
    assert_close("loss_curve", native.loss_curve_, ref.loss_curve_, F64)
    assert native._rng_state == ref.rng.state
    assert native.loss_curve_[-1] < native.loss_curve_[0]


@pytest.mark.parametrize("output,loss,k", OUTPUT_LOSS)
def test_training_every_pair_float64(output, loss, k):
    X, y = data(n=17), targets_for(loss, k, n=17)
    native, ref = pair([3, 4, k], "sigmoid", output, loss, seed=11)
    fit = dict(epochs=5, batch_size=4, lr=0.2, momentum=0.5)
    native.fit(X, y, **fit)
    ref.fit(X.tolist(), y.tolist(), **fit)
    assert_params_close(native, ref, rtol=F64, atol=1e-12)
    assert_close("loss_curve", native.loss_curve_, ref.loss_curve_, F64)


@pytest.mark.parametrize("optimizer", sorted(TRAINING))
def test_training_float32_within_float32_accuracy(optimizer):
    X, y = data(n=23), targets_for("cross_entropy", 3)
    native, ref = pair([3, 6, 3], "relu", None, None, dtype="float32")
    assert native.weights[0].dtype == np.float32
    assert_params_close(native, ref, rtol=2**-23, atol=0, what="init ")
    fit = dict(epochs=5, batch_size=5, **TRAINING[optimizer])
    native.fit(X.astype(np.float32), y, **fit)
    ref.fit(X.tolist(), y.tolist(), **fit)
    assert_params_close(native, ref, rtol=1e-4, atol=1e-5)
    assert_close("loss_curve", native.loss_curve_, ref.loss_curve_, 1e-4)


def test_reference_backend_is_the_reference():
    X, y = data(), targets_for("binary_cross_entropy", 1)
    via_backend = nnfast.MLP([3, 4, 1], "tanh", seed=5, backend="reference")
    ref = reference.MLP([3, 4, 1], "tanh", seed=5)
    fit = dict(epochs=4, batch_size=6, lr=0.3)
    via_backend.fit(X, y, **fit)
    ref.fit(X.tolist(), y.tolist(), **fit)
    assert_params_close(via_backend, ref, rtol=0, atol=0)
    assert via_backend.loss_curve_ == ref.loss_curve_
    native = nnfast.MLP([3, 4, 1], "tanh", seed=5).fit(X, y, **fit)
    assert_params_close(native, via_backend, rtol=F64, atol=1e-12)


def test_two_fits_continue_the_stream_like_the_reference():
    X, y = data(), targets_for("cross_entropy", 3)
    native, ref = pair([3, 5, 3], "tanh", None, None)
    for _ in range(2):
        native.fit(X, y, epochs=3, batch_size=4)
        ref.fit(X.tolist(), y.tolist(), epochs=3, batch_size=4)
    assert_params_close(native, ref, rtol=F64, atol=1e-12)


def test_perceptron_rule_matches_reference():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 4))
    Y = (X @ np.array([[1.0, -1], [2, 0.5], [-1, 1], [0.5, 0.5]]) > 0.2).astype(float)
    for shuffle in (False, True):
        native = nnfast.Perceptron(4, 2, seed=9).fit(X, Y, epochs=20, lr=0.5, shuffle=shuffle)
        ref = reference.Perceptron(4, 2, seed=9).fit(X.tolist(), Y.tolist(), epochs=20, lr=0.5,
                                                     shuffle=shuffle)
        assert native.errors_ == ref.errors_
        assert_params_close(native, ref, rtol=1e-12, atol=1e-12)


def test_sigmoid_perceptron_matches_reference():
    X, y = nnfast.data.logic_gate("and")
    native = nnfast.Perceptron(2, activation="sigmoid").fit(X, y, epochs=500, lr=1.0)
    ref = reference.Perceptron(2, activation="sigmoid").fit(X.tolist(), y.tolist(), epochs=500,
                                                            lr=1.0)
    assert_params_close(native, ref, rtol=F64, atol=1e-12)
    assert native.predict(X).tolist() == [0, 0, 0, 1]
