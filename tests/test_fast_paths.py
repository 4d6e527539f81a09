"""The one-call path of MLP.forward and MLP.predict (nnfast._core.try_forward, try_predict).

An X the core can read as it is (a finite, C-contiguous, aligned 2-D ndarray of the model's
dtype) skips the Python-level conversion and checks; everything else takes the general path.
Here: the one-call path gives the general path's answers bit for bit (values, dtype, shape) on
many networks, sizes and both dtypes; it is taken exactly when it should be; and every bad X
that could reach it gets the general path's error, word for word.

The same for the lanes that keep a training loop's per-epoch cost to a few microseconds: the
validation checks of arrays already in their final form (ready_matrix, ready_indices) give the
general checks' outcome, the binding's trainer checks its arrays, and rows gathered in a
caller's order are NumPy's.

    pytest tests/test_fast_paths.py -q
"""
import re

import numpy as np
import pytest

import nnfast
from nnfast import _core
from nnfast import _validation as check
from nnfast.models.mlp import PREDICT_RULES, overflow_checked, predictions_from_outputs

# (layers, hidden activation, output activation): every output and loss, several depths
NETWORKS = [
    ([4, 16, 3], "tanh", "softmax"),
    ([3, 1], "sigmoid", "sigmoid"),
    ([5, 7, 2], "relu", "sigmoid"),
    ([2, 8, 8, 1], "tanh", "identity"),
    ([6, 3, 4], "sigmoid", "identity"),
    ([3, 5, 2], "step", "relu"),
    ([8, 32, 16, 10], "relu", "softmax"),
    ([1, 1], "identity", "tanh"),
]
ROWS = [1, 2, 3, 7, 64, 300]  # 300 rows of the wider networks run with the GIL released


def model_for(layers, hidden, output, dtype, seed=3):
    return nnfast.MLP(layers, hidden, output, seed=seed, dtype=dtype)


def general_forward(model, X):
    """What forward returned before the one-call path: convert and check, then the core."""
    return overflow_checked(model._engine.forward(model._params, model._X(X)), "forward")


def assert_same_bits(fast, general, what):
    assert fast.dtype == general.dtype and fast.shape == general.shape, (
        f"{what}: {fast.dtype}{fast.shape} against {general.dtype}{general.shape}")
    if fast.tobytes() != general.tobytes():
        diff = np.max(np.abs(fast.astype(np.float64) - general.astype(np.float64)))
        pytest.fail(f"{what}: not bit-identical, largest difference {diff:.3g}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("network", range(len(NETWORKS)))
def test_one_call_forward_and_predict_equal_the_general_path_bit_for_bit(network, dtype):
    layers, hidden, output = NETWORKS[network]
    model = model_for(layers, hidden, output, dtype)
    rng = np.random.default_rng(network)
    for n in ROWS:
        X = (rng.normal(size=(n, layers[0])) * 2).astype(dtype)
        assert _core.try_forward(model._net, model._params, X) is not None, "not taken"
        general = general_forward(model, X)
        assert_same_bits(model.forward(X), general, f"forward, {n} rows")
        rule = PREDICT_RULES[model.loss_name]
        assert _core.try_predict(model._net, model._params, X, rule) is not None, "not taken"
        assert_same_bits(model.predict(X), predictions_from_outputs(general, model.loss_name),
                         f"predict, {n} rows")


def test_argmax_ties_pick_the_first_class_as_numpy_does():
    model = model_for([2, 4], "tanh", "identity", "float64")
    model.loss_name = "cross_entropy"  # argmax over raw outputs, to force exact ties
    model.set_parameters([np.zeros((2, 4))], [np.array([0.0, 1.0, 1.0, -1.0])])
    X = np.zeros((3, 2))
    assert model.predict(X).tolist() == [1, 1, 1]
    assert_same_bits(model.predict(X), model.forward(X).argmax(axis=1), "argmax on a tie")


def test_threshold_at_exactly_one_half_is_one():
    # sigmoid(0) = 0.5 exactly: the 0/1 label is 1, as (A >= 0.5) says
    model = model_for([2, 1], "tanh", "sigmoid", "float64")
    model.set_parameters([np.zeros((2, 1))], [np.zeros(1)])
    assert model.predict(np.ones((2, 2))).tolist() == [1, 1]


# ---- which inputs take the one call -------------------------------------------------------

class Subclass(np.ndarray):
    pass


def misaligned(X):
    raw = np.zeros(X.size * X.itemsize + 1, dtype=np.uint8)
    out = raw[1:].view(X.dtype).reshape(X.shape)
    out[...] = X
    return out


def read_only(X):
    X = X.copy()
    X.flags.writeable = False
    return X


X4 = np.random.default_rng(0).normal(size=(5, 4))

# Inputs the model accepts but the core cannot read as they are: converted on the general path
CONVERTED = {
    "Fortran order": np.asfortranarray(X4),
    "every other column": np.repeat(X4, 2, axis=1)[:, ::2],
    "every other row": np.repeat(X4, 2, axis=0)[::2],
    "list of lists": X4.tolist(),
    "float32 into a float64 model": X4.astype(np.float32),
    "int64": X4.round().astype(np.int64),
    "bool": X4 > 0,
    "big-endian float64": X4.astype(">f8"),
    "ndarray subclass": X4.view(Subclass),
    "misaligned": misaligned(X4),
}


@pytest.mark.parametrize("case", sorted(CONVERTED))
def test_other_layouts_take_the_general_path_with_the_same_results(case):
    model = model_for([4, 16, 3], "tanh", "softmax", "float64")
    X = CONVERTED[case]
    assert _core.try_forward(model._net, model._params, X) is None
    assert _core.try_predict(model._net, model._params, X, _core.PREDICT_ARGMAX) is None
    reference = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    assert_same_bits(model.forward(X), general_forward(model, reference), case)
    assert_same_bits(model.predict(X), model.predict(reference), case)


def test_read_only_and_single_row_views_take_the_one_call():
    model = model_for([4, 16, 3], "tanh", "softmax", "float64")
    for X in (read_only(X4), X4[2:3], np.repeat(X4, 2, axis=0)[::2][:1]):
        assert _core.try_forward(model._net, model._params, X) is not None
        assert_same_bits(model.forward(X), general_forward(model, X.copy()), "view")


def test_float32_model_takes_float32_only():
    model = model_for([4, 16, 3], "tanh", "softmax", "float32")
    assert _core.try_forward(model._net, model._params, X4) is None
    assert _core.try_forward(model._net, model._params, X4.astype(np.float32)) is not None
    assert_same_bits(model.forward(X4), model.forward(X4.astype(np.float32)), "float64 X")


def test_reference_backend_never_takes_the_one_call():
    model = nnfast.MLP([4, 5, 3], "tanh", backend="reference")
    assert model._net is None
    assert _core.try_forward(None, model._params, X4) is None
    assert _core.try_predict(None, model._params, X4, _core.PREDICT_ARGMAX) is None
    native = nnfast.MLP([4, 5, 3], "tanh")
    native.set_parameters(model.weights, model.biases)
    np.testing.assert_allclose(model.forward(X4), native.forward(X4), rtol=1e-12, atol=0)
    assert model.predict(X4).tolist() == native.predict(X4).tolist()


def test_an_unknown_predict_rule_is_refused():
    model = model_for([4, 16, 3], "tanh", "softmax", "float64")
    with pytest.raises(ValueError, match="unknown predict rule"):
        _core.try_predict(model._net, model._params, X4, 7)


def test_neuron_takes_one_vector_through_the_one_call():
    neuron = nnfast.Neuron([1.0, -2.0, 0.5], 0.1, "sigmoid")
    x = np.array([0.3, 0.2, -0.4])
    # z = 0.3 - 0.4 - 0.2 + 0.1 = -0.2, sigmoid(-0.2) = 0.45016600...
    assert neuron.forward(x) == pytest.approx(0.4501660026875221, abs=1e-15)


# ---- bad input that looks ready gets the general path's error -----------------------------

def bad_inputs(dtype):
    """{case: X}: ndarrays of the model's dtype (so they get as far as the one call's checks)
    and a few other kinds, each wrong in one way."""
    X = np.random.default_rng(1).normal(size=(6, 4)).astype(dtype)
    nan, inf = X.copy(), X.copy()
    nan[3, 2], inf[5, 3] = np.nan, np.inf
    last_inf = X[:1].copy()
    last_inf[0, 3] = -np.inf
    # many rows: the forward's row chunks go to the threads, each checking its own rows
    many = np.random.default_rng(2).normal(size=(6000, 4)).astype(dtype)
    late_nan, middle_inf = many.copy(), many.copy()
    late_nan[-1, 0], middle_inf[3001, 2] = np.nan, np.inf
    return {
        "NaN": nan, "+inf": inf, "-inf in a one-row X": last_inf,
        "NaN in the last of many rows": late_nan, "inf amid many rows": middle_inf,
        "NaN everywhere": np.full((2, 4), np.nan, dtype=dtype),
        "1-D": X[0], "3-D": X[None], "0-D": np.array(1.0, dtype=dtype),
        "too few columns": X[:, :3].copy(), "too many columns": np.ones((2, 5), dtype=dtype),
        "no rows": np.zeros((0, 4), dtype=dtype), "no columns": np.zeros((3, 0), dtype=dtype),
        "object": X.astype(object), "strings": X.astype(str), "complex": X + 1j,
        "datetime": np.zeros((2, 4), dtype="datetime64[s]"), "None": None,
    }


def general_error(X, dtype, n_features):
    """The exception the general path's check raises for X (type and message)."""
    with pytest.raises((ValueError, TypeError)) as info:
        check.as_matrix(X, "X", dtype, n_features)
    return info.type, str(info.value)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("method", ["forward", "predict"])
def test_bad_input_gets_the_general_paths_error(method, dtype):
    for case, X in bad_inputs(dtype).items():
        model = model_for([4, 16, 3], "tanh", "softmax", dtype)
        before = model._params.copy()
        error, message = general_error(X, dtype, 4)
        with pytest.raises(error, match=f"^{re.escape(message)}$"):
            getattr(model, method)(X)
        assert np.array_equal(model._params, before), case


@pytest.mark.parametrize("method", ["forward", "predict"])
def test_an_overflowing_output_is_reported_as_before(method):
    # finite X and weights, z = 1e30 * 1e30 beyond float32's range: the one call returns
    # None and the general path names the overflow
    model = model_for([2, 1], "tanh", "identity", "float32")
    model.set_parameters([np.full((2, 1), 1e30)], [np.zeros(1)])
    X = np.full((1, 2), 1e30, dtype=np.float32)
    assert _core.try_forward(model._net, model._params, X) is None
    with pytest.raises(FloatingPointError, match="forward overflowed"):
        getattr(model, method)(X)


@pytest.mark.parametrize("threads", [1, 2])
def test_an_overflow_in_one_row_of_many_is_reported_as_before(threads):
    # the outputs are checked chunk by chunk on the threads that compute them: an overflow in
    # one late row still sends the whole call to the general path
    model = model_for([2, 200, 1], "identity", "identity", "float32")
    model.set_parameters([np.full((2, 200), 1e30), np.ones((200, 1))], [np.zeros(200), np.zeros(1)])
    X = np.zeros((6000, 2), dtype=np.float32)  # 6000 x 600 multiply-adds: shared by threads
    X[5999] = 1e30
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(threads)
    try:
        assert _core.try_forward(model._net, model._params, X) is None
        X[5999] = 0
        out = _core.try_forward(model._net, model._params, X)
        assert out is not None and np.array_equal(out, model.forward(X))
    finally:
        nnfast.set_num_threads(previous)


# ---- the validation checks' one-call lane (ready_matrix, ready_indices) -------------------

class NothingReady:
    """Stands in for nnfast._core in nnfast._validation: no input is ready, so every check
    takes its general path."""

    @staticmethod
    def ready_matrix(*args):
        return False

    @staticmethod
    def ready_vector(*args):
        return False

    @staticmethod
    def ready_indices(*args):
        return False

    @staticmethod
    def one_hot(*args):
        return None


def outcome(call):
    """("ok", result) or ("error", exception type, message) of call()."""
    try:
        return "ok", call()
    except (ValueError, TypeError) as exc:
        return "error", type(exc), str(exc)


def assert_same_outcome(call, monkeypatch, what):
    fast = outcome(call)
    with monkeypatch.context() as patched:
        patched.setattr(check, "_core", NothingReady)
        general = outcome(call)
    assert fast[0] == general[0], f"{what}: {fast} against {general}"
    if fast[0] == "error":
        assert fast == general, what
    else:
        assert_same_bits(np.asarray(fast[1]), np.asarray(general[1]), what)


def matrices(dtype):
    X = np.random.default_rng(2).uniform(size=(6, 3)).astype(dtype)
    nan, inf, below, above = X.copy(), X.copy(), X.copy(), X.copy()
    nan[1, 1], inf[4, 0], below[2, 2], above[0, 0] = np.nan, -np.inf, -0.25, 1.5
    return {"ready": X, "NaN": nan, "-inf": inf, "below 0": below, "above 1": above,
            "one row": X[:1], "one column": X[:, :1].copy(), "wrong width": X[:, :2].copy(),
            "Fortran": np.asfortranarray(X), "bool": X > 0.5, "int": (X * 4).astype(int),
            "1-D": X[:, 0].copy(), "empty": X[:0], "other float": X.astype(
                np.float32 if dtype == "float64" else np.float64)}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_matrix_checks_give_the_general_outcome(dtype, monkeypatch):
    for case, X in matrices(dtype).items():
        for n_features in (None, 3):
            assert_same_outcome(lambda: check.as_matrix(X, "X", dtype, n_features),
                                monkeypatch, f"as_matrix {case}, {n_features} features")
    X = matrices(dtype)["ready"]
    assert _core.ready_matrix(X, dtype, 6, 3) and _core.ready_matrix(X, dtype, -1, -1, 0, 1)
    for case in ("NaN", "-inf", "Fortran", "bool", "1-D", "empty", "other float"):
        assert not _core.ready_matrix(matrices(dtype)[case], dtype), case
    assert not _core.ready_matrix(matrices(dtype)["below 0"], dtype, -1, -1, 0.0, 1.0)
    assert check.as_matrix(X, "X", dtype, 3) is X, "a ready X is not copied"
    assert check.as_matrix(X, "X", np.dtype(dtype).type, 3) is X


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_vector_checks_give_the_general_outcome(dtype, monkeypatch):
    x = np.random.default_rng(4).uniform(-1, 1, size=9).astype(dtype)
    nan, inf = x.copy(), x.copy()
    nan[3], inf[8] = np.nan, np.inf
    cases = {"ready": x, "NaN": nan, "inf": inf, "strided": x[::2], "2-D": x.reshape(3, 3),
             "one value": x[:1], "empty": x[:0], "int": (x * 4).astype(int), "bool": x > 0,
             "other float": x.astype(np.float32 if dtype == "float64" else np.float64),
             "list": x.tolist()}
    for case, v in cases.items():
        for length in (None, 9, 5):
            assert_same_outcome(lambda: check.as_vector(v, "x", dtype, length), monkeypatch,
                                f"as_vector {case}, length {length}")
    assert _core.ready_vector(x, dtype, 9) and _core.ready_vector(x, dtype, -1, -1.0, 1.0)
    for case in ("NaN", "inf", "strided", "2-D", "empty", "int", "other float", "list"):
        assert not _core.ready_vector(cases[case], dtype), case
    assert not _core.ready_vector(x, dtype, 8)
    assert not _core.ready_vector(x, dtype, -1, 0.0, 1.0)  # values below 0
    assert check.as_vector(x, "x", dtype, 9) is x, "a ready vector is not copied"


# a large array is checked in chunks of 2^18 values over the thread pool (src/nncore/checks.c)
LARGE_SHAPE = (1100, 1000)  # 1.1M values: the parallel check, the last chunk partial
CHUNK = 1 << 18


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_large_matrix_is_checked_whole_on_any_thread_count(dtype, threads):
    X = np.random.default_rng(5).uniform(size=LARGE_SHAPE).astype(dtype)
    n = X.size
    big = np.finfo(dtype).max
    nnfast.set_num_threads(threads)
    try:
        assert _core.ready_matrix(X, dtype)
        assert _core.ready_matrix(X, dtype, -1, -1, 0.0, 1.0)
        for where in (0, CHUNK - 1, CHUNK, 3 * CHUNK + 7, n - 1):
            for bad in (np.nan, np.inf, -np.inf):
                Y = X.copy()
                Y.flat[where] = bad
                assert not _core.ready_matrix(Y, dtype), (where, bad)
            Y = X.copy()
            Y.flat[where] = big  # finite: passes the finiteness check, fails [0, 1]
            assert _core.ready_matrix(Y, dtype), where
            assert not _core.ready_matrix(Y, dtype, -1, -1, 0.0, 1.0), where
            Y.flat[where] = 1.0  # the bound itself is within
            assert _core.ready_matrix(Y, dtype, -1, -1, 0.0, 1.0), where
            Y.flat[where] = -0.0
            assert _core.ready_matrix(Y, dtype, -1, -1, 0.0, 1.0), where
    finally:
        nnfast.set_num_threads(None)


@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy", "mse"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_target_checks_give_the_general_outcome(loss, dtype, monkeypatch):
    for case, Y in matrices(dtype).items():
        for n_rows, n_outputs in ((6, 3), (6, 1), (5, 3), (1, 3)):
            assert_same_outcome(lambda: check.targets(Y, n_rows, n_outputs, loss, dtype),
                                monkeypatch, f"targets {case}, ({n_rows}, {n_outputs}), {loss}")


@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy", "mse"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_target_vector_checks_give_the_general_outcome(loss, dtype, monkeypatch):
    """1-D y (class indices, labels, values) takes targets()' native lane when it passes every
    check: the same bits as the general path, and the same error otherwise."""
    labels = np.array([0, 2, 1, 1, 0, 2], dtype=np.int64)
    values = np.random.default_rng(5).uniform(size=6)
    nan, big = values.copy(), values * 1e300
    nan[2] = np.nan
    cases = {"labels": labels, "0/1 labels": labels % 2, "out of range": labels + 1,
             "negative": labels - 1, "int32": labels.astype(np.int32),
             "uint8": labels.astype(np.uint8), "bool": labels > 0, "float labels":
             labels.astype(float), "values": values, "values float32":
             values.astype(np.float32), "NaN": nan, "beyond float32": big,
             "negative values": values - 0.5, "above 1": values + 0.75,
             "strided": np.repeat(labels, 2)[::2], "too short": labels[:5],
             "list": labels.tolist(), "huge int": labels * 2**60}
    for case, y in cases.items():
        for n_outputs in (1, 3):
            assert_same_outcome(lambda: check.targets(y, 6, n_outputs, loss, dtype),
                                monkeypatch, f"targets {case}, {n_outputs} outputs, {loss}")
    one_hot = _core.one_hot(labels, 3, dtype)
    assert one_hot.dtype == dtype and one_hot.tolist() == np.eye(3)[labels].tolist()
    for case in ("out of range", "negative", "int32", "float labels", "strided"):
        assert _core.one_hot(cases[case], 3, dtype) is None, case


def test_row_order_checks_give_the_general_outcome(monkeypatch):
    order = np.random.default_rng(3).permutation(7)
    cases = {"ready": order, "out of range": np.where(order == 6, 7, order),
             "negative": np.where(order == 0, -1, order), "int32": order.astype(np.int32),
             "uint64": order.astype(np.uint64), "float": order.astype(float),
             "strided": np.repeat(order, 2)[::2], "too short": order[:6], "2-D": order[None],
             "list": order.tolist()}
    for case, value in cases.items():
        assert_same_outcome(lambda: check.row_order(value, 7), monkeypatch, f"order {case}")
    assert check.row_order(order, 7) is order, "a ready order is not copied"


# ---- the training handle's call into the core ----------------------------------------------

def test_the_binding_trainer_refuses_arrays_it_cannot_train_on():
    model = nnfast.MLP([3, 4, 2], "tanh", seed=1)
    trainer = model.trainer(nnfast.models.FitSettings(shuffle=False))
    X = np.random.default_rng(4).normal(size=(5, 3))
    Y = np.eye(2)[[0, 1, 1, 0, 1]]
    trainer.epoch(X, Y)
    core, params = trainer._core, trainer.params
    unaligned = np.zeros(X.nbytes + 1, np.uint8)[1:].view(X.dtype).reshape(X.shape)
    unaligned[:] = X  # one byte into its buffer: the core reads aligned arrays only
    for args, message in (
            ((params, X[:, :2].copy(), Y), r"X must be a C-contiguous float64 array of shape "
                                           r"\(5, 3\)"),
            ((params, X[:4].copy(), Y[:4]), r"X must be .* of shape \(5, 3\)"),
            ((params, np.asfortranarray(X), Y), "X must be a C-contiguous"),
            ((params, X.astype(np.float32), Y), "X must be a C-contiguous float64"),
            ((params, unaligned, Y), "X must be a C-contiguous float64"),
            ((params, X, Y[:, :1].copy()), r"Y must be .* of shape \(5, 2\)"),
            ((params[:-1], X, Y), r"params must be .* of shape \(26,\)")):
        with pytest.raises(ValueError, match=message):
            core.epochs(*args, 1, 1)
    with pytest.raises(ValueError, match=r"sample_weight must be .*float64 .* \(5,\)"):
        core.epochs(params, X, Y, 1, 1, np.ones(4))
    frozen = params.copy()
    frozen.flags.writeable = False
    with pytest.raises((BufferError, ValueError)):
        core.epochs(frozen, X, Y, 1, 1)
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        core.epochs(params, X, Y, 1, 0)


def test_one_call_of_many_epochs_equals_as_many_calls_of_one():
    X = np.random.default_rng(5).normal(size=(9, 3))
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1])
    a, b = (nnfast.MLP([3, 4, 1], "tanh", seed=2) for _ in range(2))
    a.fit(X, y, epochs=6, batch_size=4)
    trainer = b.trainer(nnfast.models.FitSettings(batch_size=4))
    curve = [trainer.epoch(X, y) for _ in range(6)]
    trainer.commit()
    assert curve == a.loss_curve_
    assert_same_bits(a._params, b._params, "parameters")
    assert a.rng_state == b.rng_state


def test_rows_are_gathered_as_numpy_takes_them_and_every_index_is_checked():
    rng = np.random.default_rng(6)
    for dtype in (np.float64, np.float32):
        A = rng.normal(size=(7, 3)).astype(dtype)
        order = rng.integers(0, 7, size=5)
        out = np.empty((5, 3), dtype=dtype)
        _core.gather_rows(out, A, order)
        assert_same_bits(out, A[order], f"gather_rows {dtype.__name__}")
    A, out = np.zeros((4, 2)), np.zeros((3, 2))
    for order, message in ((np.array([0, 4, 1]), "index out of range"),
                           (np.array([0, -1, 1]), "index out of range"),
                           (np.array([0, 1, 2], dtype=np.int32), "int64"),
                           (np.array([0, 1]), "one row per index")):
        with pytest.raises(ValueError, match=message):
            _core.gather_rows(out, A, order)
    with pytest.raises(ValueError, match="same dtype"):
        _core.gather_rows(out.astype(np.float32), A, np.arange(3))
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.gather_rows(out, np.asfortranarray(np.zeros((4, 2))), np.arange(3))
