"""The command line's data sources (CSV, arrays, built-in sets) and the records it keeps in
model files (scaling, classes, validation scores), validated on load."""
import json
import sys
import types
import zipfile

import numpy as np
import pytest

import nnfast
from nnfast.data.builtin import BUILTIN
from nnfast.data.generators import make_moons
from nnfast.data.sources import read_data
from nnfast.data.tables import DataError
from nnfast.data.targets import encode_target, guess_task


def test_moons_is_reproducible_and_shaped_like_two_moons():
    X, y = make_moons()
    X2, y2 = make_moons()
    assert X.shape == (200, 2) and (X == X2).all() and (y == y2).all()
    assert not np.allclose(make_moons(seed=1)[0], X)
    assert y.tolist() == [0, 1] * 100
    # noiseless, class 0 lies on the upper unit half circle, class 1 on the lower one shifted
    X0, y0 = make_moons(n_samples=50, noise=0.0)
    np.testing.assert_allclose(np.hypot(X0[y0 == 0, 0], X0[y0 == 0, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(X0[y0 == 1, 0] - 1, X0[y0 == 1, 1] - 0.5), 1.0)
    assert (X0[y0 == 0, 1] >= 0).all() and (X0[y0 == 1, 1] <= 0.5).all()


def test_built_in_sets():
    assert sorted(BUILTIN) == ["and", "digits", "iris", "moons", "or", "xor"]
    iris = read_data("iris")
    assert iris.X.shape == (150, 4) and iris.classes == ["setosa", "versicolor", "virginica"]
    y, task, classes = encode_target(iris.y, None, "iris", iris.classes)
    assert task == "classification" and np.bincount(y).tolist() == [50, 50, 50]
    xor = read_data("xor")
    assert xor.X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and xor.y.tolist() == [0, 1, 1, 0]


def test_digits_comes_from_scikit_learn(monkeypatch):
    datasets = types.ModuleType("sklearn.datasets")
    datasets.load_digits = lambda: types.SimpleNamespace(
        data=np.arange(6 * 64).reshape(6, 64) % 17, target=np.array([0, 1, 2, 3, 4, 9]))
    monkeypatch.setitem(sys.modules, "sklearn", types.ModuleType("sklearn"))
    monkeypatch.setitem(sys.modules, "sklearn.datasets", datasets)
    digits = read_data("digits")
    assert digits.X.shape == (6, 64) and digits.X.dtype == np.float64
    assert digits.classes == list(range(10)) and digits.feature_names[63] == "pixel63"


def test_digits_without_scikit_learn_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(DataError, match="pip install scikit-learn"):
        read_data("digits")


@pytest.mark.parametrize("values, task", [
    (["cat", "dog", "cat"], "classification"),
    (np.array([0, 1, 2, 1]), "classification"),
    (np.array(["1", "2", "2"]), "classification"),
    (np.arange(30), "regression"),                 # more whole numbers than classes
    (np.array([0.5, 1.25, 3.0]), "regression"),
    (np.array(["0.5", "1.25"]), "regression"),
])
def test_task_follows_the_target(values, task):
    assert guess_task(np.asarray(values)) == task


def test_npy_target_by_number_and_npz(tmp_path):
    np.save(tmp_path / "d.npy", np.array([[1.0, 0, 5], [2, 1, 6], [3, 0, 7]]))
    table = read_data(str(tmp_path / "d.npy"), target="1")
    assert table.X.tolist() == [[1, 5], [2, 6], [3, 7]] and table.y.tolist() == [0, 1, 0]
    with pytest.raises(DataError, match="has no column 7"):
        read_data(str(tmp_path / "d.npy"), target="7")
    np.savez(tmp_path / "nox.npz", A=np.zeros((2, 2)))
    with pytest.raises(DataError, match="needs an array 'X'"):
        read_data(str(tmp_path / "nox.npz"))
    np.savez(tmp_path / "noy.npz", X=np.zeros((2, 2)))
    with pytest.raises(DataError, match="no target array 'y'"):
        read_data(str(tmp_path / "noy.npz"))


def records_model(tmp_path, **records):
    """A saved MLP [2, 3, 3] whose meta holds the given optional records."""
    model = nnfast.MLP([2, 3, 3], seed=0)
    for key, value in records.items():
        setattr(model, key, value)
    model.save(tmp_path / "m.npz")
    return tmp_path / "m.npz"


def test_records_round_trip(tmp_path):
    pre = {"standardize": {"mean": [1.0, 2.0], "std": [0.5, 4.0]},
           "columns": {"features": ["a", "b"], "target": "t"}}
    path = records_model(tmp_path, preprocessing=pre, classes=["x", "y", "z"],
                         validation={"metric": "accuracy", "scores": [0.5, 0.75]})
    model = nnfast.load(path)
    assert model.preprocessing == pre and model.classes == ["x", "y", "z"]
    assert model.validation == {"metric": "accuracy", "scores": [0.5, 0.75]}
    plain = nnfast.load(records_model(tmp_path))
    assert plain.preprocessing is None and plain.classes is None


@pytest.mark.parametrize("records, message", [
    ({"preprocessing": {"standardize": {"mean": [1.0], "std": [1.0]}}}, "2 means"),
    ({"preprocessing": {"standardize": {"mean": [1.0, 2.0], "std": [1.0, 0.0]}}},
     "positive stds"),
    ({"preprocessing": [1, 2]}, "preprocessing is not a record"),
    ({"preprocessing": {"target_scale": {"mean": 1.0, "std": -2.0}}}, "positive std"),
    ({"preprocessing": {"columns": {"features": ["a"]}}}, "2 feature names"),
    ({"classes": ["x", "y"]}, "3 distinct labels"),
    ({"classes": ["x", "x", "y"]}, "3 distinct labels"),
    ({"validation": {"metric": "accuracy", "scores": ["high"]}}, "list of scores"),
    ({"validation": {"metric": "accuracy", "scores": [10 ** 400]}}, "list of scores"),
])
def test_invalid_records_are_refused_on_load(tmp_path, records, message):
    """A model file whose optional records do not fit its network is refused by name."""
    path = records_model(tmp_path)
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
        with zf.open("meta.npy") as f:
            meta = json.loads(np.lib.format.read_array(f).tobytes())
    meta.update(records)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            if name != "meta.npy":
                zf.writestr(name, data)
        with zf.open("meta.npy", "w") as f:
            np.lib.format.write_array(f, np.frombuffer(json.dumps(meta).encode(), np.uint8))
    with pytest.raises(nnfast.ModelFileError, match=message):
        nnfast.load(path)


def test_digits_with_scikit_learn_installed(tmp_path, capsys):
    """scikit-learn is in the test extra: the real digits (8x8 images, 10 classes) train."""
    from nnfast.cli import main

    digits = read_data("digits")
    assert digits.X.shape == (1797, 64) and digits.X.max() == 16.0
    assert np.bincount(digits.y).min() >= 170
    assert main(["train", "digits", "--layers", "32", "--epochs", "5", "--standardize",
                 "--quiet", "--out", str(tmp_path / "d.npz")]) == 0
    assert main(["evaluate", str(tmp_path / "d.npz"), "digits"]) == 0
    out = capsys.readouterr().out
    assert "10 classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in out
    assert float(out.split("accuracy ")[-1].split()[0]) > 0.9


def test_a_csv_model_predicts_from_arrays(tmp_path, capsys):
    """A model trained on named CSV columns takes a .npy of its features, with or without a
    last target column (arrays have no names, so columns go by position)."""
    from nnfast.cli import main

    X, y, _, _ = nnfast.data.load_iris()
    csv_path = tmp_path / "iris.csv"
    csv_path.write_text("a,b,c,d,kind\n" + "".join(
        f"{r[0]},{r[1]},{r[2]},{r[3]},{'abc'[k]}\n" for r, k in zip(X, y)))
    np.save(tmp_path / "features.npy", X)
    np.save(tmp_path / "with_target.npy", np.column_stack([X, y]))
    assert main(["train", str(csv_path), "--epochs", "5", "--quiet",
                 "--out", str(tmp_path / "m.npz")]) == 0
    capsys.readouterr()
    outputs = []
    for data in (csv_path, tmp_path / "features.npy", tmp_path / "with_target.npy"):
        assert main(["predict", str(tmp_path / "m.npz"), str(data)]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] == outputs[2]
    assert set(outputs[0].split()[1:]) <= {"a", "b", "c"}
