"""ONNX export: the graph of every activation, output and dtype, run in onnxruntime, computes
what forward and predict compute on the raw features (float64 to 1e-12, float32 to 1e-5,
relative), with the stored standardization in front and the class labels out."""
import sys

import numpy as np
import pytest

import nnfast
from nnfast import vocabulary

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

from cli_helpers import call_nnfast  # noqa: E402

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def assert_close(name, got, expected, dtype):
    """|got - expected| <= tol * max(1e-3, |expected|), the largest difference printed."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, (name, got.shape, expected.shape)
    error = np.abs(got - expected) / np.maximum(1e-3, np.abs(expected))
    assert error.max() <= TOLERANCE[dtype], f"{name}: largest relative difference {error.max():.3g}"


def run(proto, X):
    """{output name: array} of the graph on X, in onnxruntime."""
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"input": X})))


def raw_features(n=40, d=4, seed=0):
    return np.random.default_rng(seed).normal(2.0, 3.0, size=(n, d))


def standardized(model, X):
    mean, std = X.mean(axis=0), X.std(axis=0)
    model.preprocessing = {"standardize": {"mean": mean.tolist(), "std": std.tolist()}}
    return (X - mean) / std


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", vocabulary.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output", vocabulary.OUTPUT_ACTIVATIONS)
def test_every_activation_output_and_dtype(dtype, activation, output):
    loss = vocabulary.DEFAULT_LOSS.get(output, "mse")
    model = nnfast.MLP([4, 7, 5, 3], activation, output=output, loss=loss, dtype=dtype, seed=3)
    X = raw_features()
    Z = standardized(model, X)
    outputs = run(model.to_onnx(), X.astype(dtype))
    expected = model.forward(Z)
    if loss in vocabulary.REGRESSION_LOSSES:  # regression: one output, the values
        assert list(outputs) == ["variable"]
        assert_close("variable", outputs["variable"], expected, dtype)
        return
    assert list(outputs) == ["label", "probabilities"]
    assert outputs["probabilities"].dtype == np.dtype(dtype)
    assert_close("probabilities", outputs["probabilities"], expected, dtype)
    assert (outputs["label"] == model.predict(Z)).all()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("classes", [None, ["setosa", "versicolor", "virginica"], [10, 20, 30],
                                     [0.5, 1.5, 2.5]])
def test_classifier_labels(dtype, classes):
    model = nnfast.MLP([4, 6, 3], "relu", dtype=dtype, seed=1)
    model.classes = classes
    X = raw_features()
    outputs = run(model.to_onnx(), X.astype(dtype))
    labels = np.array(classes if classes else [0, 1, 2])[model.predict(X)]
    assert (outputs["label"] == labels).all()
    assert_close("probabilities", outputs["probabilities"], model.forward(X), dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_binary_classifier_probabilities_are_two_columns(dtype):
    model = nnfast.MLP([4, 5, 1], "tanh", dtype=dtype, seed=2)
    model.classes = ["no", "yes"]
    X = raw_features(200)
    Z = standardized(model, X)
    outputs = run(model.to_onnx(), X.astype(dtype))
    p = model.forward(Z)
    assert_close("probabilities", outputs["probabilities"], np.hstack([1 - p, p]), dtype)
    assert (outputs["label"] == np.array(["no", "yes"])[model.predict(Z)]).all()
    assert len(set(outputs["label"])) == 2


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_regression_target_scale_is_undone(dtype):
    model = nnfast.MLP([4, 8, 1], "tanh", output="identity", dtype=dtype, seed=4)
    X = raw_features()
    Z = standardized(model, X)
    model.preprocessing["target_scale"] = {"mean": 250.0, "std": 40.0}
    outputs = run(model.to_onnx(), X.astype(dtype))
    assert_close("variable", outputs["variable"], model.forward(Z) * 40.0 + 250.0, dtype)


@pytest.mark.parametrize("activation", ["step", "sigmoid"])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_perceptron(activation, n_outputs):
    model = nnfast.Perceptron(4, n_outputs, activation, init="glorot", seed=5)
    X = raw_features()
    outputs = run(model.to_onnx(), X)
    predicted = model.predict(X)
    if n_outputs == 1:
        p = model.forward(X)
        assert_close("probabilities", outputs["probabilities"], np.hstack([1 - p, p]),
                     "float64")
    else:
        assert_close("probabilities", outputs["probabilities"], model.forward(X), "float64")
    assert (outputs["label"] == predicted).all()


def test_written_file_loads_and_is_checked(tmp_path):
    model = nnfast.MLP([4, 3, 2], "sigmoid", seed=6)
    proto = model.to_onnx(tmp_path / "model.onnx")
    back = onnx.load(tmp_path / "model.onnx")
    onnx.checker.check_model(back)
    assert back == proto
    assert (back.producer_name, back.opset_import[0].version) == ("nnfast", 17)


def test_cli_export_onnx_matches_predict(tmp_path, capsys):
    model, graph = tmp_path / "iris.npz", tmp_path / "iris.onnx"
    call_nnfast(capsys, "train", "iris", "--layers", "8", "--epochs", "20", "--standardize",
                "--quiet", "--out", model)
    printed = call_nnfast(capsys, "export", model, "--onnx", graph)
    assert f"wrote {graph}" in printed
    X = nnfast.data.load_iris()[0]
    outputs = run(onnx.load(graph), X)
    saved = nnfast.load(model)
    from nnfast.models.preprocessing import Preprocessing
    pre = Preprocessing.of(saved)
    assert_close("probabilities", outputs["probabilities"], saved.forward(pre.inputs(X)),
                 "float64")
    assert (outputs["label"] == np.array(pre.classes)[saved.predict(pre.inputs(X))]).all()


def test_without_the_onnx_package_the_error_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    model = nnfast.MLP([2, 2])
    with pytest.raises(ImportError, match=r'pip install "nnfast\[onnx\]"'):
        model.to_onnx()
    model.save(tmp_path / "m.npz")
    from nnfast.cli import main

    assert main(["export", str(tmp_path / "m.npz"), "--onnx", str(tmp_path / "m.onnx")]) == 2
    assert 'pip install "nnfast[onnx]"' in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()
