"""The nnfast command, run as a user runs it: every subcommand on small data, checking the
exit status, what it prints and the files it writes."""
import os

import numpy as np
import pytest

import nnfast
from nnfast import demo
from nnfast.cli import main, plots
from cli_helpers import png_size, read_csv_floats, run_nnfast, write_csv

IRIS_CLASSES = ["setosa", "versicolor", "virginica"]


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory):
    """An iris classifier trained by the command line (float32, standardized, validated)."""
    folder = tmp_path_factory.mktemp("iris")
    result = run_nnfast("train", "iris", "--layers", "8", "--epochs", "60", "--validation",
                        "0.2", "--standardize", "--dtype", "float32", "--out", "iris.npz",
                        cwd=folder, check=0)
    return folder / "iris.npz", result


def test_train_reports_data_model_epochs_and_writes_the_file(iris_model):
    path, result = iris_model
    out = result.stdout
    assert "data: iris, 150 samples, 4 features, 3 classes: setosa, versicolor, virginica" in out
    assert ("model: MLP 4 -> 8 -> 3, hidden relu, output softmax, loss cross_entropy, float32"
            in out)
    # stdout is a pipe: no progress bar, ten epoch lines with the validation score instead
    epoch_lines = [l for l in out.splitlines() if l.startswith("epoch ")]
    assert epoch_lines[0].startswith("epoch  1/60") and epoch_lines[-1].startswith("epoch 60/60")
    assert 5 <= len(epoch_lines) <= 12
    assert all("validation accuracy" in l and "samples/s" in l for l in epoch_lines)
    assert "validation accuracy" in out.splitlines()[-2] and "(30 samples)" in out
    assert out.splitlines()[-1] == "wrote iris.npz"
    assert "\r" not in out and result.stderr == ""
    assert sorted(os.listdir(path.parent)) == ["iris.npz"]   # no temporary file left


def test_the_model_file_carries_scaling_classes_and_history(iris_model):
    model = nnfast.load(iris_model[0])
    assert model.classes == IRIS_CLASSES and model.dtype == "float32"
    scaling = model.preprocessing["standardize"]
    assert len(scaling["mean"]) == 4 and all(s > 0 for s in scaling["std"])
    assert model.preprocessing["columns"]["features"][0] == "sepal_length"
    assert len(model.loss_curve_) == 60 and model.loss_curve_[-1] < model.loss_curve_[0] / 3
    assert model.validation["metric"] == "accuracy" and len(model.validation["scores"]) == 60


def test_evaluate_prints_accuracy_and_confusion_matrix(iris_model):
    result = run_nnfast("evaluate", iris_model[0], "iris", check=0)
    lines = result.stdout.splitlines()
    correct, total = lines[0].split("(")[1].rstrip(")").split("/")
    assert lines[0].startswith("iris: 150 samples, accuracy ") and int(total) == 150
    assert int(correct) >= 135
    assert lines[2].split() == IRIS_CLASSES
    matrix = np.array([[int(v) for v in line.split()[1:]] for line in lines[3:6]])
    assert matrix.sum(axis=1).tolist() == [50, 50, 50] and np.trace(matrix) == int(correct)


def test_predict_labels_probabilities_and_out_file(iris_model, tmp_path):
    labels = run_nnfast("predict", iris_model[0], "iris", check=0).stdout.splitlines()
    assert labels[0] == "prediction" and len(labels) == 151
    assert set(labels[1:]) <= set(IRIS_CLASSES) and labels[1] == "setosa"
    result = run_nnfast("predict", iris_model[0], "iris", "--proba", "--out",
                        tmp_path / "p.csv", check=0)
    assert result.stdout == f"wrote 150 predictions to {tmp_path / 'p.csv'}\n"
    header, P = read_csv_floats((tmp_path / "p.csv").read_text())
    assert header == [f"p({c})" for c in IRIS_CLASSES] and P.shape == (150, 3)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-6)
    assert [IRIS_CLASSES[k] for k in P.argmax(axis=1)] == labels[1:]


def test_info_describes_the_model(iris_model):
    out = run_nnfast("info", iris_model[0], check=0).stdout
    assert "nnfast MLP (model file format version 2)" in out
    assert "layers: 4 -> 8 -> 3 (hidden relu, output softmax, loss cross_entropy)" in out
    assert "dtype: float32" in out and f"parameters: {4 * 8 + 8 + 8 * 3 + 3}" in out
    assert "classes setosa, versicolor, virginica" in out
    assert "preprocessing: standardize" in out and "training: 60 epochs, loss" in out
    assert "validation accuracy: last" in out


def test_csv_with_text_target_named_column_and_reordered_columns(tmp_path):
    """Train on a CSV whose target is not the last column; predict on a CSV with the columns
    in another order and no target: columns are matched by name."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    label = np.where(X[:, 0] + X[:, 2] > 0, "high", "low")
    write_csv(tmp_path / "train.csv", ["a", "kind", "b", "c"],
              [[x[0], k, x[1], x[2]] for x, k in zip(X, label)])
    write_csv(tmp_path / "new.csv", ["c", "b", "a"], [[x[2], x[1], x[0]] for x in X])
    out = run_nnfast("train", "train.csv", "--target", "kind", "--epochs", "80", "--lr", "0.05",
                     "--quiet", cwd=tmp_path, check=0).stdout
    assert "data: train.csv, 60 samples, 3 features, 2 classes: high, low" in out
    assert "output sigmoid, loss binary_cross_entropy" in out
    assert not any(line.startswith("epoch") for line in out.splitlines())   # --quiet
    by_name = run_nnfast("predict", "model.npz", "new.csv", cwd=tmp_path, check=0).stdout
    with_target = run_nnfast("predict", "model.npz", "train.csv", cwd=tmp_path, check=0).stdout
    assert by_name == with_target
    predicted = by_name.splitlines()[1:]
    assert np.mean(np.array(predicted) == label) >= 0.9


def test_regression_on_csv_with_standardized_target(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(200, 2))
    y = 300.0 + 50.0 * X[:, 0] - 20.0 * X[:, 1] ** 2
    write_csv(tmp_path / "houses.csv", ["size", "age", "price"],
              [[a, b, t] for (a, b), t in zip(X, y)])
    out = run_nnfast("train", "houses.csv", "--layers", "16", "--activation", "tanh",
                     "--epochs", "200", "--standardize", "--out", "houses.npz", cwd=tmp_path,
                     check=0).stdout
    assert "regression on price" in out and "output identity, loss mse" in out
    lines = run_nnfast("evaluate", "houses.npz", "houses.csv", cwd=tmp_path,
                       check=0).stdout.splitlines()
    assert lines[1].startswith("R^2") and float(lines[1].split()[1]) > 0.95
    assert lines[2].startswith("RMSE") and float(lines[2].split()[1]) < 15
    _, values = read_csv_floats(run_nnfast("predict", "houses.npz", "houses.csv",
                                           cwd=tmp_path, check=0).stdout)
    assert np.sqrt(np.mean((values[:, 0] - y) ** 2)) < 15        # in the target's own units
    model = nnfast.load(tmp_path / "houses.npz")
    assert model.preprocessing["target_scale"]["mean"] == pytest.approx(y.mean())
    info = run_nnfast("info", "houses.npz", cwd=tmp_path, check=0).stdout
    assert "task: regression" in info and "standardize, target_scale" in info


def test_task_override_makes_whole_numbers_a_regression(tmp_path):
    X = np.arange(40, dtype=float).reshape(20, 2)
    np.save(tmp_path / "counts.npy", np.column_stack([X, X[:, 0] % 3]))
    guessed = run_nnfast("train", "counts.npy", "--epochs", "2", "--quiet", cwd=tmp_path,
                         check=0).stdout
    assert "3 classes: 0, 1, 2" in guessed
    forced = run_nnfast("train", "counts.npy", "--task", "regression", "--epochs", "2",
                        "--quiet", cwd=tmp_path, check=0).stdout
    assert "regression on x2" in forced


def test_npz_data_and_gates(tmp_path):
    X, y = nnfast.data.logic_gate("or")
    np.savez(tmp_path / "or.npz", X=X, y=y)
    run_nnfast("train", "or.npz", "--layers", "none", "--optimizer", "sgd", "--lr", "1",
               "--batch-size", "4", "--epochs", "300", "--quiet", cwd=tmp_path, check=0)
    out = run_nnfast("evaluate", "model.npz", "or", cwd=tmp_path, check=0).stdout
    assert out.startswith("or: 4 samples, accuracy 1.0000 (4/4)")
    assert nnfast.load(tmp_path / "model.npz").weights[0].shape == (2, 1)   # no hidden layer


def test_moons_with_plots(tmp_path):
    out = run_nnfast("train", "moons", "--layers", "16,16", "--activation", "tanh",
                     "--epochs", "40", "--validation", "0.25", "--plot", "plots",
                     cwd=tmp_path, check=0).stdout
    assert "wrote plots/loss.png" in out and "wrote plots/boundary.png" in out
    assert png_size(tmp_path / "plots" / "loss.png") == (640, 480)
    assert png_size(tmp_path / "plots" / "boundary.png") == (640, 480)
    accuracy = run_nnfast("evaluate", "model.npz", "moons", cwd=tmp_path, check=0).stdout
    assert float(accuracy.split("accuracy ")[1].split()[0]) >= 0.85


def test_plots_of_more_than_two_features_is_the_loss_curve_alone(tmp_path):
    model = nnfast.MLP([4, 3, 3], seed=1)
    X = np.random.default_rng(0).normal(size=(10, 4))
    paths = plots.training_plots(tmp_path / "p", model, X, np.arange(10) % 3, [1.0, 0.5, 0.25],
                                 {"metric": "accuracy", "scores": [0.3, 0.6, 0.9]})
    assert [os.path.basename(p) for p in paths] == ["loss.png"]
    assert os.listdir(tmp_path / "p") == ["loss.png"]
    assert png_size(tmp_path / "p" / "loss.png") == (640, 480)


def test_export_writes_a_header(iris_model, tmp_path):
    result = run_nnfast("export", iris_model[0], "--c", tmp_path / "iris.h", check=0)
    assert result.stdout.startswith(f"wrote {tmp_path / 'iris.h'} (")
    text = (tmp_path / "iris.h").read_text()
    assert "static inline int inference(const float *input, float *output)" in text


def test_version_and_build_report():
    plain = run_nnfast("--version", check=0).stdout
    assert plain == f"nnfast {nnfast.__version__}\n"
    verbose = run_nnfast("--version", "--verbose", check=0).stdout
    assert verbose.startswith(plain)
    for field in ("gemm_kernel_float32", "gemm_kernel_float64", "cpu_features", "num_threads",
                  "compiler", "threading"):
        assert field in verbose


@pytest.mark.parametrize("command", ["demo", "train", "predict", "evaluate", "info", "export"])
def test_every_subcommand_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exit.value.code == 0
    assert out.startswith(f"usage: nnfast {command}") and "example" in out


def test_top_level_help_lists_every_subcommand():
    result = run_nnfast()
    assert result.returncode == 2
    for command in ("demo", "train", "predict", "evaluate", "info", "export", "bench"):
        assert f"    {command}" in result.stdout


def test_demo_is_the_lead_s_demo(monkeypatch):
    """`nnfast demo` runs nnfast.demo.run (whose output tests/test_demo.py checks)."""
    calls = []
    monkeypatch.setattr(demo, "run", lambda: calls.append("demo"))
    assert main(["demo"]) == 0 and calls == ["demo"]
