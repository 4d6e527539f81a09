"""skl2onnx.to_onnx converts fitted nnfast.sklearn estimators as it converts scikit-learn's:
the graphs, run in onnxruntime, give predict_proba / predict / decision_function (float64 to
1e-12, float32 to 1e-5 relative). The Perceptron's scores are checked, not only its labels: a
wrong converter (linear classifier) would put them through a softmax and keep the labels."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
skl2onnx = pytest.importorskip("skl2onnx")
onnxruntime = pytest.importorskip("onnxruntime")

import nnfast.sklearn  # noqa: E402
from cli_helpers import nnfast_env  # noqa: E402

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def assert_close(name, got, expected, dtype):
    """|got - expected| <= tol * max(1, |expected|), the largest difference printed."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, (name, got.shape, expected.shape)
    error = np.abs(got - expected) / np.maximum(1.0, np.abs(expected))
    assert error.max() <= TOLERANCE[dtype], f"{name}: largest difference {error.max():.3g}"


def data(n_classes, n=150, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 3.0, size=(n, 4))
    y = np.minimum((X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1), n_classes - 1)
    return X, y


def converted(estimator, X):
    """{output name: array} of skl2onnx's graph of estimator, run on X in onnxruntime."""
    options = {"zipmap": False} if hasattr(estimator, "classes_") else None
    proto = skl2onnx.to_onnx(estimator, X[:1], options=options)
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X})))


def fitted(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        return estimator.fit(X, y)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_mlp_classifier(dtype, n_classes):
    X, y = data(n_classes)
    labels = np.array(["a", "b", "c"])[y]
    estimator = fitted(nnfast.sklearn.MLPClassifier((6, 4), activation="tanh", max_iter=40,
                                                    random_state=0), X, labels)
    X = X.astype(dtype)
    outputs = converted(estimator, X)
    assert_close("probabilities", outputs["probabilities"], estimator.predict_proba(X), dtype)
    assert (outputs["label"] == estimator.predict(X)).all()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_targets", [1, 2])
def test_mlp_regressor(dtype, n_targets):
    X, _ = data(2)
    Y = np.column_stack([X.sum(axis=1), X[:, 0] - X[:, 3]])[:, :n_targets].squeeze()
    estimator = fitted(nnfast.sklearn.MLPRegressor(hidden_layer_sizes=(5,), activation="relu",
                                                   max_iter=40, random_state=0), X, Y)
    X = X.astype(dtype)
    outputs = converted(estimator, X)
    # skl2onnx reshapes the output to one column, for scikit-learn's MLPRegressor too: with
    # two targets the values come row after row
    assert_close("variable", outputs["variable"], estimator.predict(X).reshape(-1, 1), dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_perceptron_scores_are_decision_function(dtype, n_classes):
    X, y = data(n_classes)
    estimator = fitted(nnfast.sklearn.Perceptron(random_state=0), X, y)
    X = X.astype(dtype)
    outputs = converted(estimator, X)
    scores = estimator.decision_function(X)
    if n_classes == 2:  # one score s: skl2onnx gives (-s, s)
        scores = np.column_stack([-scores, scores])
    assert np.abs(scores).max() > 1  # scores, not probabilities: the check below can fail
    assert_close("scores", outputs["probabilities"], scores, dtype)
    assert (outputs["label"] == estimator.predict(X)).all()


@pytest.mark.parametrize("first", ["skl2onnx", "nnfast.sklearn"])
def test_either_import_order_registers(first):
    """skl2onnx imported before or after nnfast.sklearn: both convert (a fresh process)."""
    second = "nnfast.sklearn" if first == "skl2onnx" else "skl2onnx"
    program = (f"import {first}, {second}, numpy as np, skl2onnx\n"
               "import nnfast.sklearn as s\n"
               "X = np.arange(12.0).reshape(6, 2)\n"
               "e = s.Perceptron().fit(X, [0, 1, 0, 1, 0, 1])\n"
               "print(skl2onnx.to_onnx(e, X).graph.output[0].name)\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            env=nnfast_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "output_label"
