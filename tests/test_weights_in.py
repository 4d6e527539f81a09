"""Weights in: nnfast.MLP.from_sklearn and nnfast.MLP.from_torch give a model whose forward
equals the source's predictions (float64 to 1e-12, float32 to 1e-6), and nnfast.sklearn's
to_nnfast(); layers nnfast cannot run get an error naming them."""
import warnings

import numpy as np
import pytest

import nnfast

sklearn = pytest.importorskip("sklearn")
torch = pytest.importorskip("torch")
from sklearn import linear_model, neural_network  # noqa: E402

import nnfast.interop.sklearn_weights  # noqa: E402
import nnfast.sklearn  # noqa: E402

TOLERANCE = {"float64": 1e-12, "float32": 1e-6}


def assert_close(name, got, expected, dtype):
    """|got - expected| <= tol * max(1, |expected|), the largest difference printed."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, (name, got.shape, expected.shape)
    error = np.abs(got - expected) / np.maximum(1.0, np.abs(expected))
    assert error.max() <= TOLERANCE[dtype], f"{name}: largest difference {error.max():.3g}"


def data(n=60, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)


def fitted(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: a few iterations are enough
        return estimator.fit(X, y)


# ---- scikit-learn -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_from_sklearn_classifier_forward_is_predict_proba(dtype, activation, n_classes):
    X, y = data()
    y = np.minimum(y, n_classes - 1)
    labels = np.array(["cat", "dog", "emu"])[y]
    source = fitted(neural_network.MLPClassifier((7, 4), activation=activation, max_iter=30,
                                                 random_state=0), X.astype(dtype), labels)
    model = nnfast.MLP.from_sklearn(source)
    assert model.dtype == dtype
    assert model.classes == list(source.classes_)
    proba = source.predict_proba(X.astype(dtype))
    assert_close("forward", model.forward(X), proba if n_classes > 2 else proba[:, 1:], dtype)
    labels_back = np.array(model.classes)[model.predict(X)]
    assert (labels_back == source.predict(X.astype(dtype))).all()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_targets", [1, 2])
def test_from_sklearn_regressor_forward_is_predict(dtype, n_targets):
    X, _ = data()
    Y = np.column_stack([X.sum(axis=1), X[:, 0] * X[:, 1]])[:, :n_targets].squeeze()
    source = fitted(neural_network.MLPRegressor(hidden_layer_sizes=(6,), max_iter=40,
                                                random_state=1),
                    X.astype(dtype), Y)
    model = nnfast.MLP.from_sklearn(source)
    assert (model.output, model.loss_name) == ("identity", "mse")
    assert_close("forward", model.forward(X),
                 source.predict(X.astype(dtype)).reshape(len(X), -1), dtype)


def test_from_sklearn_multilabel_and_feature_names():
    pandas = pytest.importorskip("pandas")
    X, y = data()
    frame = pandas.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    Y = np.column_stack([y > 0, y > 1]).astype(int)
    source = fitted(neural_network.MLPClassifier((5,), max_iter=20, random_state=0), frame, Y)
    model = nnfast.MLP.from_sklearn(source)
    assert (model.output, model.layers[-1], model.classes) == ("sigmoid", 2, None)
    assert model.preprocessing["columns"]["features"] == list(frame.columns)
    assert_close("forward", model.forward(X), source.predict_proba(frame), "float64")
    assert (model.predict(X) == source.predict(frame)).all()


def test_nnfast_sklearn_to_nnfast_and_the_model_saves(tmp_path):
    X, y = data()
    for estimator in (nnfast.sklearn.MLPClassifier((6,), max_iter=20, random_state=0),
                      nnfast.sklearn.MLPRegressor(hidden_layer_sizes=(6,), max_iter=20,
                                                  random_state=0,
                                                  dtype="float32")):
        source = fitted(estimator, X, y)
        model = source.to_nnfast()
        expected = (source.predict_proba(X) if hasattr(source, "predict_proba")
                    else source.predict(X)[:, None])
        assert_close("forward", model.forward(X), expected, model.dtype)
        model.save(tmp_path / "model.npz")
        back = nnfast.load(tmp_path / "model.npz")
        assert (back.forward(X) == model.forward(X)).all()


@pytest.mark.parametrize("n_classes", [2, 3])
def test_perceptron_to_nnfast_predicts_its_classes(n_classes):
    X, y = data(200)
    y = np.minimum(y, n_classes - 1)
    for source in (fitted(nnfast.sklearn.Perceptron(random_state=0), X, y),
                   fitted(linear_model.Perceptron(random_state=0), X, y)):
        model = (source.to_nnfast() if hasattr(source, "to_nnfast")
                 else nnfast.MLP.from_record(
                     nnfast.interop.sklearn_weights.record_from_sklearn_linear(source)))
        assert (np.array(model.classes)[model.predict(X)] == source.predict(X)).all()


def test_from_sklearn_refuses_what_nnfast_cannot_express():
    X, _ = data()
    poisson = fitted(neural_network.MLPRegressor(hidden_layer_sizes=(4,), loss="poisson",
                                                 max_iter=5), X,
                     np.abs(X[:, 0]))
    # the exp output of loss="poisson" is nnfast's too
    model = nnfast.MLP.from_sklearn(poisson)
    assert (model.output, model.loss_name) == ("exp", "poisson")
    np.testing.assert_allclose(model.predict(X), poisson.predict(X), rtol=1e-12)
    with pytest.raises(TypeError, match="not fitted"):
        nnfast.MLP.from_sklearn(neural_network.MLPClassifier())
    with pytest.raises(TypeError, match="LinearRegression"):
        nnfast.MLP.from_sklearn(linear_model.LinearRegression().fit(X, X[:, 0]))


# ---- PyTorch ----------------------------------------------------------------------------------

TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}
TORCH_ACTIVATIONS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid,
                     "identity": torch.nn.Identity}


def torch_forward(net, X, dtype):
    with torch.no_grad():
        return net.eval()(torch.tensor(X, dtype=TORCH_DTYPES[dtype])).numpy()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", sorted(TORCH_ACTIVATIONS))
@pytest.mark.parametrize("output", [None, "softmax", "sigmoid"])
def test_from_torch_forward_is_the_sequential(dtype, activation, output):
    torch.manual_seed(0)
    hidden = TORCH_ACTIVATIONS[activation]
    layers = [torch.nn.Linear(5, 8), hidden(), torch.nn.Dropout(0.5),
              torch.nn.Linear(8, 6, bias=False), hidden(), torch.nn.Linear(6, 3)]
    layers += {None: [], "softmax": [torch.nn.Softmax(dim=1)], "sigmoid": [torch.nn.Sigmoid()]
               }[output]
    net = torch.nn.Sequential(*layers).to(TORCH_DTYPES[dtype])
    model = nnfast.MLP.from_torch(net)
    assert (model.layers, model.activation, model.output, model.dtype) == (
        [5, 8, 6, 3], activation, output or "identity", dtype)
    X, _ = data()
    assert_close("forward", model.forward(X), torch_forward(net, X, dtype), dtype)


def test_from_torch_a_single_linear_layer():
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(5, 1), torch.nn.Sigmoid()).double()
    model = nnfast.MLP.from_torch(net)
    assert (model.layers, model.loss_name) == ([5, 1], "binary_cross_entropy")
    X, _ = data()
    assert_close("forward", model.forward(X), torch_forward(net, X, "float64"), "float64")


@pytest.mark.parametrize("layers, message", [
    ([torch.nn.Linear(5, 4), torch.nn.LeakyReLU(), torch.nn.Linear(4, 2)],
     r"layer 1 \(LeakyReLU\(negative_slope=0.01\)\) is not supported"),
    ([torch.nn.Conv1d(1, 1, 3)], r"layer 0 \(Conv1d.*\) is not supported"),
    ([torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3), torch.nn.Tanh(),
      torch.nn.Linear(3, 2)], "the hidden layers use relu and tanh"),
    ([torch.nn.Linear(5, 4), torch.nn.Softmax(dim=1), torch.nn.Linear(4, 2)],
     "softmax is only an output activation"),
    ([torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Tanh()], "follows another activation"),
    ([torch.nn.ReLU(), torch.nn.Linear(5, 4)], "comes before any Linear"),
    ([torch.nn.Linear(5, 4), torch.nn.Linear(3, 2)], "Linear 1 takes 3 inputs"),
    ([torch.nn.Linear(5, 4), torch.nn.Softmax(dim=0)], "dim=1 or -1"),
    ([torch.nn.Linear(5, 4).half()], "torch.float16 weights"),
    ([], "holds no Linear layer"),
])
def test_from_torch_names_what_it_cannot_take(layers, message):
    with pytest.raises(ValueError, match=message):
        nnfast.MLP.from_torch(torch.nn.Sequential(*layers))


def test_from_torch_takes_only_a_sequential():
    with pytest.raises(TypeError, match="takes a torch.nn.Sequential, got Linear"):
        nnfast.MLP.from_torch(torch.nn.Linear(3, 2))
