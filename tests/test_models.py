"""The native models' API: the seeds' examples, shapes, defaults, and the error path."""
import copy

import numpy as np
import pytest

import nnfast
from nnfast.data import load_iris, logic_gate, standardize, train_test_split


# ---- the seeds' examples on the native core --------------------------------------------------

def test_cinema_neuron():
    # z = 5 friends + 3 near + 1 cool - 5 >= 0  <=>  friends (5 - 5 = 0 already fires)
    # person B: z = 2 f + 3 n + 3 c - 5 >= 0  <=> two of the three with n or c among them
    X = np.array([[f, n, c] for f in (0, 1) for n in (0, 1) for c in (0, 1)], dtype=float)
    a = nnfast.Neuron([5, 3, 1], -5).forward(X)
    b = nnfast.Neuron([2, 3, 3], -5).forward(X)
    assert a.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]          # A: exactly when friends come
    assert b.tolist() == [0, 0, 0, 1, 0, 1, 1, 1]          # B: 3+3, 2+3, 2+3, 2+3+3
    assert nnfast.Neuron([5, 3, 1], -5).forward([1, 0, 0]) == 1.0   # z = 0 fires (z >= 0)


def test_and_gate_by_gradient_descent_from_zero():
    X, y = logic_gate("and")
    model = nnfast.Perceptron(2, activation="sigmoid")
    assert np.all(model.weights[0] == 0) and model.biases[0][0] == 0
    model.fit(X, y, epochs=10_000, lr=1.0)
    assert model.predict(X).tolist() == [0, 0, 0, 1]
    w = model.weights[0][:, 0]
    assert w[0] > 0 and w[1] > 0 and model.biases[0][0] < -w.max()  # only 1+1 clears the bias
    assert model.loss_curve_[-1] < 0.01 < model.loss_curve_[0]


@pytest.mark.parametrize("gate,learns", [("and", True), ("or", True), ("xor", False)])
def test_perceptron_rule_on_gates(gate, learns):
    X, y = logic_gate(gate)
    model = nnfast.Perceptron(2).fit(X, y, epochs=100)
    assert (model.errors_[-1] == 0) == learns
    assert (model.predict(X).tolist() == y.tolist()) == learns
    if learns:  # stops after the first epoch without a mistake, before the 100 allowed
        assert len(model.errors_) < 100 and all(e > 0 for e in model.errors_[:-1])
    else:       # never an epoch without a mistake: runs all 100
        assert len(model.errors_) == 100 and min(model.errors_) > 0


def test_xor_by_mlp_and_by_rbf_perceptron():
    X, y = logic_gate("xor")
    mlp = nnfast.MLP([2, 4, 1], activation="tanh", seed=1).fit(X, y, epochs=2000, lr=0.5,
                                                                shuffle=False)
    assert mlp.predict(X).tolist() == [0, 1, 1, 0]
    phi = nnfast.features.rbf(X, [[0, 1], [1, 0]], gamma=1.0)
    # phi(0,1) = (e^0, e^-2) = (1, 0.135); phi(0,0) = (e^-1, e^-1) = (0.368, 0.368)
    assert np.allclose(phi[1], [1.0, np.exp(-2)]) and np.allclose(phi[0], [np.exp(-1)] * 2)
    assert nnfast.Perceptron(2).fit(phi, y).predict(phi).tolist() == [0, 1, 1, 0]


def test_iris_mlp_learns():
    X, y, features, classes = load_iris()
    assert X.shape == (150, 4) and np.bincount(y).tolist() == [50, 50, 50]
    assert classes == ["setosa", "versicolor", "virginica"] and len(features) == 4
    X_train, X_test, y_train, y_test = train_test_split(X, y, 0.3, seed=0)
    X_train, X_test = standardize(X_train, X_test)
    model = nnfast.MLP([4, 16, 3], "tanh").fit(X_train, y_train, epochs=200, batch_size=16)
    assert (model.predict(X_test) == y_test).mean() >= 0.9


# ---- shapes and defaults -------------------------------------------------------------------------

def test_defaults_follow_the_contract():
    assert (nnfast.MLP([2, 3]).output, nnfast.MLP([2, 3]).loss_name) == ("softmax", "cross_entropy")
    assert (nnfast.MLP([2, 1]).output, nnfast.MLP([2, 1]).loss_name) == ("sigmoid", "binary_cross_entropy")
    assert nnfast.MLP([2, 1], output="identity").loss_name == "mse"
    assert [W.shape for W in nnfast.MLP([4, 5, 3]).weights] == [(4, 5), (5, 3)]
    assert [b.shape for b in nnfast.MLP([4, 5, 3]).biases] == [(5,), (3,)]


def test_predict_shapes_by_loss():
    X = np.random.default_rng(0).normal(size=(6, 3))
    assert nnfast.MLP([3, 4]).predict(X).shape == (6,)                  # class indices
    assert nnfast.MLP([3, 1]).predict(X).shape == (6,)                  # 0/1 labels
    assert nnfast.MLP([3, 2], output="sigmoid").predict(X).shape == (6, 2)
    assert nnfast.MLP([3, 1], output="identity").predict(X).shape == (6,)
    assert nnfast.MLP([3, 2], output="identity").predict(X).shape == (6, 2)


def test_weights_are_views_and_set_parameters_copies():
    model = nnfast.MLP([2, 3, 1])
    model.weights[0][0, 0] = 7.0
    assert model.weights[0][0, 0] == 7.0
    weights, biases = [np.ones((2, 3)), np.ones((3, 1))], [np.zeros(3), np.zeros(1)]
    model.set_parameters(weights, biases)
    # copied: changing the caller's arrays afterwards leaves the model as it was set
    for array in weights + biases:
        array += 5.0
    assert all(not np.shares_memory(mine, theirs)
               for mine, theirs in zip(model.weights + model.biases, weights + biases))
    assert all(np.all(W == 1.0) for W in model.weights)
    assert all(np.all(b == 0.0) for b in model.biases)
    hidden = 1 / (1 + np.exp(-2.0))                       # sigmoid(1 + 1) for each hidden unit
    assert model.forward([[1.0, 1.0]])[0, 0] == pytest.approx(1 / (1 + np.exp(-3 * hidden)))


def test_no_copy_of_contiguous_input_in_the_model_dtype():
    X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    from nnfast._validation import as_matrix
    assert as_matrix(X, "X", np.float32) is X
    assert as_matrix(X, "X", np.float64) is not X


def test_read_only_and_non_contiguous_inputs_are_accepted():
    X = np.random.default_rng(0).normal(size=(10, 6))[:, ::2]
    X.flags.writeable = False
    y = np.arange(10) % 2
    model = nnfast.MLP([3, 4, 1]).fit(X, y, epochs=2)
    assert model.forward(X).shape == (10, 1)


# ---- the error path ------------------------------------------------------------------------------

def model_and_data():
    X = np.random.default_rng(0).normal(size=(8, 3))
    return nnfast.MLP([3, 4, 2], "tanh"), X, np.arange(8) % 2


BAD_CALLS = {
    "X with a wrong width": (lambda m, X, y: m.fit(X[:, :2], y), ValueError, "X has 2 features, the network expects 3"),
    "X 1-D": (lambda m, X, y: m.fit(X[0], y), ValueError, "X must be 2-D"),
    "X empty": (lambda m, X, y: m.fit(X[:0], y[:0]), ValueError, "X is empty"),
    "X of strings": (lambda m, X, y: m.fit(X.astype(str), y), TypeError, "X must hold real numbers"),
    "X complex": (lambda m, X, y: m.fit(X + 1j, y), TypeError, "X must hold real numbers"),
    "X with NaN": (lambda m, X, y: m.fit(np.where(X > 1, np.nan, X), y), ValueError, "X contains NaN"),
    "y too short": (lambda m, X, y: m.fit(X, y[:5]), ValueError, "y has 5 rows, X has 8"),
    "y class out of range": (lambda m, X, y: m.fit(X, y + 1), ValueError, "2 classes"),
    "y negative class": (lambda m, X, y: m.fit(X, y - 1), ValueError, "class indices"),
    "y fractional class": (lambda m, X, y: m.fit(X, y + 0.5), ValueError, "integers"),
    "y with inf": (lambda m, X, y: m.fit(X, np.where(y > 0, np.inf, 0)), ValueError, "y contains NaN or infinity"),
    "y wrong width": (lambda m, X, y: m.fit(X, np.zeros((8, 3))), ValueError, r"y has shape \(8, 3\)"),
    "unknown optimizer": (lambda m, X, y: m.fit(X, y, optimizer="rmsprop"), ValueError, "unknown optimizer 'rmsprop'"),
    "zero epochs": (lambda m, X, y: m.fit(X, y, epochs=0), ValueError, "epochs must be a positive integer"),
    "negative lr": (lambda m, X, y: m.fit(X, y, lr=-1), ValueError, "lr must be"),
    "NaN lr": (lambda m, X, y: m.fit(X, y, lr=float("nan")), ValueError, "lr must be"),
    "momentum 1": (lambda m, X, y: m.fit(X, y, momentum=1.0), ValueError, "momentum must be"),
    "batch size 0": (lambda m, X, y: m.fit(X, y, batch_size=0), ValueError, "batch_size must be"),
    "negative alpha": (lambda m, X, y: m.loss(X, y, alpha=-1), ValueError, "alpha must be"),
    "forward wrong width": (lambda m, X, y: m.forward(np.ones((2, 5))), ValueError, "X has 5 features"),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_calls_raise_and_leave_the_model_unchanged(case):
    model, X, y = model_and_data()
    call, error, message = BAD_CALLS[case]
    before = copy.deepcopy((model.weights, model.biases, model._rng_state))
    with pytest.raises(error, match=message):
        call(model, X, y)
    for a, b in zip(before[0] + before[1], model.weights + model.biases):
        assert np.array_equal(a, b)
    assert model._rng_state == before[2]


BAD_CONSTRUCTORS = {
    "one layer size": (lambda: nnfast.MLP([3]), "at least 2 sizes"),
    "zero units": (lambda: nnfast.MLP([3, 0, 2]), r"layers\[1\] must be a positive integer"),
    "unknown activation": (lambda: nnfast.MLP([3, 2], "swish"), "unknown activation 'swish'"),
    "softmax hidden": (lambda: nnfast.MLP([3, 4, 2], "softmax"), "unknown activation 'softmax'"),
    "unknown loss": (lambda: nnfast.MLP([3, 2], loss="hinge"), "unknown loss 'hinge'"),
    "bad pair": (lambda: nnfast.MLP([3, 2], output="sigmoid", loss="cross_entropy"), "needs a softmax output"),
    "unknown dtype": (lambda: nnfast.MLP([3, 2], dtype="float16"), "unknown dtype"),
    "negative seed": (lambda: nnfast.MLP([3, 2], seed=-1), "seed must be"),
    "unknown init": (lambda: nnfast.MLP([3, 2], init="he"), "unknown init 'he'"),
    "unknown backend": (lambda: nnfast.MLP([3, 2], backend="gpu"), "unknown backend 'gpu'"),
    "reference float32": (lambda: nnfast.MLP([3, 2], dtype="float32", backend="reference"), "float64 only"),
    "huge layer": (lambda: nnfast.MLP([3, 10**12, 10**12]), "more than the core can index"),
    "perceptron tanh": (lambda: nnfast.Perceptron(2, activation="tanh"), "unknown activation 'tanh'"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONSTRUCTORS))
def test_bad_constructor_arguments(case):
    build, message = BAD_CONSTRUCTORS[case]
    with pytest.raises(ValueError, match=message):
        build()


def test_unfitted_model():
    model = nnfast.MLP([2, 3, 1])
    with pytest.raises(nnfast.NotFittedError, match="not been fitted"):
        model.loss_curve_
    assert not hasattr(model, "loss_curve_")
    with pytest.raises(nnfast.NotFittedError):
        nnfast.Perceptron(2).errors_


def test_step_networks_run_forward_but_refuse_gradient_training():
    model = nnfast.MLP([2, 1], output="step")
    assert set(model.forward(np.eye(2)).ravel()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="perceptron rule"):
        model.fit(np.eye(2), [0, 1])


def test_diverging_run_raises_and_leaves_the_model_as_it_was():
    X = np.random.default_rng(0).normal(size=(20, 3)) * 1e3
    y = np.random.default_rng(1).normal(size=20) * 1e3
    model = nnfast.MLP([3, 8, 1], "relu", output="identity")
    before = [W.copy() for W in model.weights]
    with pytest.raises(FloatingPointError):
        model.fit(X, y, lr=10.0, epochs=200)
    for a, b in zip(before, model.weights):
        assert np.array_equal(a, b)


def test_callback_sees_each_epoch_and_keeps_the_optimizer_state():
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    fit = dict(epochs=6, batch_size=8, optimizer="adam", lr=0.01)
    plain = nnfast.MLP([3, 5, 1], "tanh").fit(X, y, **fit)
    seen = []
    hooked = nnfast.MLP([3, 5, 1], "tanh").fit(
        X, y, callback=lambda e, loss, forward: seen.append((e, loss, forward(X[:2]))), **fit)
    # The same training, bit for bit: a callback does not restart Adam's moments.
    assert all(np.array_equal(a, b) for a, b in zip(plain.weights, hooked.weights))
    assert [e for e, _, _ in seen] == list(range(6))
    assert [loss for _, loss, _ in seen] == plain.loss_curve_
    assert np.array_equal(seen[-1][2], plain.forward(X[:2]))   # forward sees trained weights
    assert not np.array_equal(seen[0][2], seen[-1][2])


def test_callback_returning_true_stops_training():
    X, y = logic_gate("xor")
    model = nnfast.MLP([2, 4, 1], "tanh").fit(X, y, epochs=50,
                                             callback=lambda e, loss, forward: e == 2)
    assert len(model.loss_curve_) == 3
    with pytest.raises(TypeError, match="callback must be callable"):
        model.fit(X, y, callback=3)
    with pytest.raises(ValueError, match="native backend"):
        nnfast.MLP([2, 1], backend="reference").fit(X, y, callback=lambda *a: False)
