"""Property tests (hypothesis): the native entry points agree with the reference on random shapes.

Shapes include 1-wide layers, batch 1, n not divisible by the batch, float32 and float64, every
hidden activation and every output/loss pair. Tolerances are the contract's (docs/semantics.md,
"Precision"): float64 to 1e-9 relative after training (1e-10 for one forward/backward pass);
float32 to float32 accuracy, compared with the reference run on the float32-rounded parameters
and data; float32 training to 1e-4 relative of the same run in float64.

The examples are derandomized, so CI sees the same cases every run (about 15 s in all). To
explore further with fresh random examples, 20 times as many:

    NNFAST_HYPOTHESIS=explore pytest tests/test_properties.py
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import nnfast
from nnfast import _core, ops, reference
from nnfast.reference import ops as ref_ops

from helpers import assert_close

EXPLORE = os.environ.get("NNFAST_HYPOTHESIS") == "explore"


def bounded(examples):
    """A bounded run: fixed examples in CI, 20x as many random ones when exploring."""
    return settings(max_examples=examples * (20 if EXPLORE else 1), deadline=None,
                    derandomize=not EXPLORE, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


HIDDEN = ["identity", "sigmoid", "tanh", "relu"]
PAIRS = [("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy"), ("identity", "mse"),
         ("sigmoid", "mse"), ("tanh", "mse"), ("relu", "mse"), ("softmax", "mse")]
DTYPES = ["float64", "float32"]


@st.composite
def networks(draw, max_depth=3, max_width=6):
    """(layers, activation, output, loss): 1-3 layers, widths from 1."""
    depth = draw(st.integers(1, max_depth))
    layers = draw(st.lists(st.integers(1, max_width), min_size=depth + 1, max_size=depth + 1))
    output, loss = draw(st.sampled_from(PAIRS))
    return layers, draw(st.sampled_from(HIDDEN)), output, loss


def targets(rng, loss, n, k):
    if loss == "cross_entropy":
        return rng.integers(0, k, size=n)
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    return rng.normal(size=(n, k))


def reference_twin(native):
    """The reference model holding exactly the native model's parameters (as float64)."""
    ref = reference.MLP(native.layers, native.activation, native.output, native.loss_name,
                        init="zeros")
    ref.weights = [W.astype(np.float64).tolist() for W in native.weights]
    ref.biases = [b.astype(np.float64).tolist() for b in native.biases]
    return ref


def tolerances(dtype, scale=1.0):
    """(rtol, atol) of one pass: float64 to ~1e-10, float32 to its ~1e-7 epsilon times the
    depth of the sums, relative to the size of the values compared."""
    return (1e-10, 1e-13 * scale) if dtype == "float64" else (2e-4, 2e-5 * scale)


@bounded(40)
@given(net=networks(), n=st.integers(1, 12), dtype=st.sampled_from(DTYPES),
       seed=st.integers(0, 2**64 - 1), data_seed=st.integers(0, 2**32 - 1),
       alpha=st.sampled_from([0.0, 0.3]))
def test_forward_loss_and_gradients_match_the_reference(net, n, dtype, seed, data_seed, alpha):
    layers, activation, output, loss = net
    rng = np.random.default_rng(data_seed)
    X = rng.normal(size=(n, layers[0])).astype(dtype)
    y = targets(rng, loss, n, layers[-1])
    native = nnfast.MLP(layers, activation, output, loss, seed=seed, dtype=dtype)
    ref = reference_twin(native)
    Xr = X.astype(np.float64).tolist()

    out = native.forward(X)
    expected = np.array(ref.forward(Xr))
    rtol, atol = tolerances(dtype, max(1.0, np.abs(expected).max()))
    assert out.dtype == np.dtype(dtype) and np.isfinite(out).all()
    assert_close("forward", out, expected, rtol, atol)

    value, value_ref = native.loss(X, y, alpha=alpha), ref.loss(Xr, y.tolist(), alpha=alpha)
    assert np.isfinite(value)
    assert_close("loss", value, value_ref, *tolerances(dtype, max(1.0, abs(value_ref))))

    dW, db = native.gradients(X, y, alpha=alpha)
    dW_ref, db_ref = ref.gradients(Xr, y.tolist(), alpha=alpha)
    scale = max([1.0] + [float(np.abs(g).max()) for g in dW_ref + db_ref])
    for l in range(len(layers) - 1):
        assert_close(f"dW[{l}]", dW[l], dW_ref[l], *tolerances(dtype, scale))
        assert_close(f"db[{l}]", db[l], db_ref[l], *tolerances(dtype, scale))


@bounded(30)
@given(net=networks(max_depth=2, max_width=5), n=st.integers(1, 17),
       batch=st.one_of(st.none(), st.integers(1, 20)), epochs=st.integers(1, 3),
       optimizer=st.sampled_from(["sgd", "momentum", "nesterov", "adam"]),
       shuffle=st.booleans(), alpha=st.sampled_from([0.0, 0.01]), seed=st.integers(0, 2**32),
       data_seed=st.integers(0, 2**32 - 1))
def test_training_matches_the_reference_float64(net, n, batch, epochs, optimizer, shuffle, alpha,
                                                seed, data_seed):
    """Whole runs, including batch 1, a batch above n (clipped) and a short last batch."""
    layers, activation, output, loss = net
    rng = np.random.default_rng(data_seed)
    X, y = rng.normal(size=(n, layers[0])), targets(rng, loss, n, layers[-1])
    fit = {"sgd": dict(optimizer="sgd"), "momentum": dict(optimizer="sgd", momentum=0.5),
           "nesterov": dict(optimizer="sgd", momentum=0.5, nesterov=True),
           "adam": dict(optimizer="adam", lr=0.01)}[optimizer]
    fit = dict(dict(epochs=epochs, batch_size=batch, alpha=alpha, shuffle=shuffle, lr=0.05), **fit)
    native = nnfast.MLP(layers, activation, output, loss, seed=seed)
    ref = reference.MLP(layers, activation, output, loss, seed=seed)
    native.fit(X, y, **fit)
    ref.fit(X.tolist(), y.tolist(), **fit)
    for l in range(len(layers) - 1):
        assert_close(f"W[{l}]", native.weights[l], ref.weights[l], 1e-9, 1e-12)
        assert_close(f"b[{l}]", native.biases[l], ref.biases[l], 1e-9, 1e-12)
    assert_close("loss_curve", native.loss_curve_, ref.loss_curve_, 1e-9, 1e-12)
    assert native._rng_state == ref.rng.state


@bounded(15)
@given(net=networks(max_depth=2, max_width=5), n=st.integers(1, 17),
       batch=st.one_of(st.none(), st.integers(1, 20)), seed=st.integers(0, 2**32),
       data_seed=st.integers(0, 2**32 - 1))
def test_training_float32_stays_close_to_float64(net, n, batch, seed, data_seed):
    """Two epochs in float32 against the same run in float64 from the same (rounded) start."""
    layers, activation, output, loss = net
    rng = np.random.default_rng(data_seed)
    X, y = rng.normal(size=(n, layers[0])).astype(np.float32), targets(rng, loss, n, layers[-1])
    single = nnfast.MLP(layers, activation, output, loss, seed=seed, dtype="float32")
    double = nnfast.MLP(layers, activation, output, loss, seed=seed)
    double.set_parameters(single.weights, single.biases)
    for model in (single, double):
        model.fit(X, y, epochs=2, batch_size=batch, lr=0.05, shuffle=False)
    for l in range(len(layers) - 1):
        assert_close(f"W[{l}]", single.weights[l], double.weights[l], 1e-4, 1e-5)
        assert_close(f"b[{l}]", single.biases[l], double.biases[l], 1e-4, 1e-5)
    assert_close("loss_curve", single.loss_curve_, double.loss_curve_, 1e-4, 1e-6)


@bounded(40)
@given(m=st.integers(1, 40), k=st.integers(1, 40), n=st.integers(1, 40),
       dtype=st.sampled_from([np.float64, np.float32]), trans_a=st.booleans(),
       trans_b=st.booleans(), beta=st.sampled_from([0.0, 1.0, -0.5]),
       epilogue=st.sampled_from(["none", "bias", "bias+relu", "bias+sigmoid", "tanh'"]),
       data_seed=st.integers(0, 2**32 - 1))
def test_gemm_matches_its_naive_twin_and_numpy(m, k, n, dtype, trans_a, trans_b, beta, epilogue,
                                               data_seed):
    """The blocked (and SIMD) GEMM against gemm_naive and a float64 numpy product, on every
    edge shape up to 40 (micro-tile remainders in m, n and k), every transpose and epilogue."""
    rng = np.random.default_rng(data_seed)
    A = rng.normal(size=(k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.normal(size=(n, k) if trans_b else (k, n)).astype(dtype)
    C0 = rng.normal(size=(m, n)).astype(dtype)
    bias = rng.normal(size=n).astype(dtype) if "bias" in epilogue else None
    act = {"bias+relu": "relu", "bias+sigmoid": "sigmoid"}.get(epilogue, "identity")
    deriv_of = np.tanh(rng.normal(size=(m, n))).astype(dtype) if epilogue == "tanh'" else None
    codes = _core.ACTIVATION_CODES
    kwargs = dict(trans_a=trans_a, trans_b=trans_b, alpha=1.0, beta=beta, bias=bias,
                  act=codes[act], deriv_of=deriv_of,
                  deriv_act=codes["tanh" if deriv_of is not None else "identity"])
    fast, naive = C0.copy(), C0.copy()
    _core.gemm(fast, A, B, **kwargs)
    _core.gemm(naive, A, B, naive=True, **kwargs)
    opA = (A.T if trans_a else A).astype(np.float64)
    opB = (B.T if trans_b else B).astype(np.float64)
    expected = opA @ opB + beta * C0.astype(np.float64)
    if bias is not None:
        expected += bias
    expected = {"relu": lambda z: np.maximum(z, 0), "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
                "identity": lambda z: z}[act](expected)
    if deriv_of is not None:
        expected *= 1 - deriv_of.astype(np.float64) ** 2
    tol = (1e-12 if dtype == np.float64 else 2e-5) * max(1.0, np.sqrt(k) * 4)
    assert_close("gemm vs naive", fast, naive, tol, tol)
    assert_close("gemm vs numpy", fast, expected, tol, tol)


@bounded(30)
@given(m=st.integers(1, 9), n_in=st.integers(1, 9), n_out=st.integers(1, 9),
       activation=st.sampled_from(HIDDEN + ["step", "softmax"]),
       activation_prev=st.sampled_from([None] + HIDDEN), data_seed=st.integers(0, 2**32 - 1))
def test_dense_kernels_match_the_reference(m, n_in, n_out, activation, activation_prev, data_seed):
    rng = np.random.default_rng(data_seed)
    A, W = rng.normal(size=(m, n_in)), rng.normal(size=(n_in, n_out))
    b, delta = rng.normal(size=n_out), rng.normal(size=(m, n_out))
    assert_close("dense_forward", ops.dense_forward(A, W, b, activation),
                 ref_ops.dense_forward(A.tolist(), W.tolist(), b.tolist(), activation), 1e-12, 1e-14)
    if activation_prev is not None:
        A = ops.ACTIVATIONS[activation_prev](A)
    got = ops.dense_backward(A, W, delta, activation_prev)
    want = ref_ops.dense_backward(A.tolist(), W.tolist(), delta.tolist(), activation_prev)
    for name, g, w in zip(("dW", "db", "delta_prev"), got, want):
        assert (g is None) == (w is None)
        if w is not None:
            assert_close(name, g, w, 1e-12, 1e-14)


@bounded(40)
@given(m=st.integers(1, 9), k=st.integers(1, 6), pair=st.sampled_from(PAIRS),
       scale=st.sampled_from([1.0, 30.0, 1e3, 1e4]), dtype=st.sampled_from(DTYPES),
       data_seed=st.integers(0, 2**32 - 1))
def test_losses_and_output_deltas_match_the_reference(m, k, pair, scale, dtype, data_seed):
    """Logits up to |z| = 1e4: the stable forms stay finite and agree with the reference."""
    output, loss = pair
    rng = np.random.default_rng(data_seed)
    Z = (rng.normal(size=(m, k)) * scale).astype(dtype)
    A = ops.ACTIVATIONS[output](Z)
    Y = (np.eye(k)[rng.integers(0, k, size=m)] if loss == "cross_entropy"
         else rng.integers(0, 2, size=(m, k)).astype(float) if loss == "binary_cross_entropy"
         else rng.normal(size=(m, k))).astype(dtype)
    Zr, Ar, Yr = (M.astype(np.float64).tolist() for M in (Z, A, Y))
    got, want = ops.LOSSES[loss](Z, A, Y), ref_ops.LOSSES[loss](Zr, Ar, Yr)
    assert np.isfinite(got) and np.isfinite(want)
    rtol = 1e-12 if dtype == "float64" else 1e-5
    assert_close(loss, got, want, rtol, rtol * max(1.0, abs(want)))
    delta = ops.output_delta(Z, A, Y, output, loss)
    assert np.isfinite(delta).all()
    assert_close("delta", delta, ref_ops.output_delta(Zr, Ar, Yr, output, loss),
                 rtol, 1e-14 if dtype == "float64" else 1e-6)


ARRAYS = st.one_of(
    st.tuples(st.sampled_from([np.float64, np.float32, np.int8, np.bool_, np.complex64, object]),
              st.lists(st.integers(0, 5), min_size=0, max_size=3)),
    st.just((np.float64, "nan")), st.just((np.float64, "inf")))


def is_valid_input(X, n_features=2):
    """Whether X is an input the model must answer: real numbers (bool, integer or float),
    2-D of shape (n >= 1, n_features), all finite (docs/semantics.md; nnfast._validation)."""
    return (X.dtype.kind in "biuf" and X.ndim == 2 and X.shape[0] >= 1
            and X.shape[1] == n_features and bool(np.isfinite(X).all()))


@bounded(60)
@given(spec=ARRAYS, method=st.sampled_from(["forward", "predict", "fit", "loss"]),
       dtype=st.sampled_from(DTYPES))
# valid inputs of every real kind, whatever the random draw holds (float32 data into float64)
@example(spec=(np.float32, [3, 2]), method="fit", dtype="float64")
@example(spec=(np.int8, [1, 2]), method="loss", dtype="float32")
@example(spec=(np.bool_, [5, 2]), method="predict", dtype="float64")
@example(spec=(np.float64, [4, 2]), method="forward", dtype="float32")
def test_any_array_gives_an_answer_or_a_clear_error_never_a_crash(spec, method, dtype):
    """Random dtypes, ranks and shapes (empty included) into a model: a valid input gets a
    finite answer of the right shape; any other input a ValueError or TypeError with a message,
    and the model is left unchanged."""
    kind, shape = spec
    if shape in ("nan", "inf"):
        X = np.full((3, 2), np.nan if shape == "nan" else np.inf)
    else:
        X = np.ones(shape, dtype=kind)
    model = nnfast.MLP([2, 3, 2], "tanh", dtype=dtype)
    before = model._params.copy()
    y = np.zeros(len(X) if X.ndim else 0, dtype=int)
    call = {"fit": lambda: model.fit(X, y, epochs=1), "loss": lambda: model.loss(X, y),
            "forward": lambda: model.forward(X), "predict": lambda: model.predict(X)}[method]
    if not is_valid_input(X):
        with pytest.raises((ValueError, TypeError)) as error:
            call()
        assert str(error.value), "an error without a message"
        assert np.array_equal(model._params, before)
        return
    result = call()                                   # a valid input: no error is acceptable
    if method == "fit":
        assert np.isfinite(model._params).all()
    elif method == "loss":
        assert np.isfinite(result)
    else:
        assert len(result) == len(X) and np.isfinite(result).all()
