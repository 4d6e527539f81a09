"""Every error a user can make ends with one line naming the problem and exit status 2, never
a traceback; and writing a file is atomic, so an interrupted run leaves no broken file."""
import json
import os
import zipfile

import numpy as np
import pytest

import nnfast
from nnfast.cli import main
from nnfast.data.tables import DataError, read_csv
from cli_helpers import assert_one_line_error, run_nnfast, write_csv


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder with a small model (iris, 4 inputs) and data files good and bad."""
    path = tmp_path_factory.mktemp("errors")
    X, y, _, _ = nnfast.data.load_iris()
    model = nnfast.MLP([4, 3, 3], seed=0)
    model.save(path / "iris.npz")
    (path / "ragged.csv").write_text("a,b,label\n1,2,x\n3,4\n5,6,y\n")
    (path / "text.csv").write_text("a,b,label\n1,2,x\n3,oops,y\n")
    (path / "empty.csv").write_text("")
    (path / "header_only.csv").write_text("a,b,label\n")
    write_csv(path / "good.csv", ["a", "b", "label"], [[1, 2, "x"], [3, 4, "y"]])
    return path


def test_missing_data_file(folder):
    assert_one_line_error(run_nnfast("train", "nosuch.csv", cwd=folder),
                          "nnfast train: error:", "nosuch.csv: no such file")


def test_missing_model_file(folder):
    assert_one_line_error(run_nnfast("predict", "nosuch.npz", "iris", cwd=folder),
                          "nnfast predict: error:", "nosuch.npz: no such model file")


def test_ragged_csv(folder):
    assert_one_line_error(run_nnfast("train", "ragged.csv", cwd=folder),
                          "ragged.csv line 3: 2 cells, the header has 3")


def test_non_numeric_feature_cell(folder):
    assert_one_line_error(run_nnfast("train", "text.csv", cwd=folder),
                          "text.csv line 3, column 'b': 'oops' is not a number")


@pytest.mark.parametrize("name, message", [("empty.csv", "empty.csv is empty"),
                                           ("header_only.csv", "a header row but no data rows")])
def test_empty_csv(folder, name, message):
    assert_one_line_error(run_nnfast("train", name, cwd=folder), message)


def test_unknown_target_column(folder):
    assert_one_line_error(run_nnfast("train", "good.csv", "--target", "price", cwd=folder),
                          "good.csv has no column 'price'; its columns are a, b, label")


def test_model_file_of_another_format_version(folder, tmp_path):
    """A file written by a future nnfast (format_version 4) is refused by name and version."""
    with zipfile.ZipFile(folder / "iris.npz") as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    with zipfile.ZipFile(folder / "iris.npz") as zf, zf.open("meta.npy") as f:
        meta = json.loads(np.lib.format.read_array(f).tobytes())
    meta["format_version"] = 4
    with zipfile.ZipFile(tmp_path / "future.npz", "w") as zf:
        for name, data in members.items():
            if name != "meta.npy":
                zf.writestr(name, data)
        with zf.open("meta.npy", "w") as f:
            np.lib.format.write_array(f, np.frombuffer(json.dumps(meta).encode(), np.uint8))
    result = run_nnfast("info", tmp_path / "future.npz")
    assert_one_line_error(result, "model file format version 4", "reads versions 1 to 3")


def test_input_width_mismatch(folder):
    result = run_nnfast("predict", "iris.npz", "moons", cwd=folder)
    assert_one_line_error(result, "moons has 2 feature columns; the model expects 4 inputs")


def test_not_a_model_file(folder):
    assert_one_line_error(run_nnfast("evaluate", "good.csv", "iris", cwd=folder),
                          "good.csv: not a model file")


# The same errors and some more, in-process (faster): each a one-line message, status 2.
@pytest.mark.parametrize("argv, message", [
    (["train", "data.txt"], "unknown data format '.txt'"),
    (["train", "iris", "--target", "species"], "--target does not apply to the built-in"),
    (["evaluate", "iris.npz", "features_only.csv"], "and no target column"),
    (["predict", "iris.npz", "wide.npy"], "wide.npy has 6 feature columns; the model expects 4"),
    (["train", "one_class.csv"], "classification needs at least 2 classes"),
    (["train", "good.csv", "--task", "regression"], "regression needs a numeric target"),
    (["export", "iris.npz", "--c", "no/such/folder/model.h"], "does not exist"),
    (["train", "iris", "--epochs", "1", "--out", "no/such/folder/m.npz"], "does not exist"),
    (["predict", "iris.npz", "iris", "--out", "no/such/folder/p.csv"], "does not exist"),
    (["predict", "iris.npz", "unknown_class.csv", "--target", "label"], None),
    (["evaluate", "iris.npz", "unknown_class.csv", "--target", "label"],
     "target value 'lion' (row 1) is not one of the model's classes [0, 1, 2]"),
    (["train", "iris", "--lr", "-1", "--epochs", "1"], "lr must be a finite number"),
])
def test_errors_in_process(folder, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(folder)
    (folder / "data.txt").write_text("1,2\n")
    write_csv(folder / "features_only.csv", ["a", "b", "c", "d"], [[1, 2, 3, 4]])
    write_csv(folder / "one_class.csv", ["a", "label"], [[1, "x"], [2, "x"]])
    write_csv(folder / "unknown_class.csv", ["a", "b", "c", "d", "label"], [[1, 2, 3, 4, "lion"]])
    np.save(folder / "wide.npy", np.zeros((3, 6)))
    status = main(argv)
    err = capsys.readouterr().err
    if message is None:          # predicting ignores the target column's values
        assert status == 0 and err == ""
        return
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"nnfast {argv[0]}: error: ") and message in err, err


def test_csv_reader_names_line_and_column(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["x", "y", "t"], [[1, 2, 0], [1, "inf", 1]])
    with pytest.raises(DataError, match=r"d.csv line 3, column 'y': 'inf' is not a finite number"):
        read_csv(str(path))
    (tmp_path / "blank.csv").write_text("x,t\n1,0\n\n2,1\n\n")   # blank lines are skipped
    assert read_csv(str(tmp_path / "blank.csv")).X.tolist() == [[1.0], [2.0]]


def test_interrupted_training_writes_nothing(folder, tmp_path, monkeypatch, capsys):
    """Ctrl-C during training: a one-line message, status 130, the old model untouched."""
    out = tmp_path / "model.npz"
    out.write_bytes(b"the previous model")

    def interrupted_fit(self, *args, callback=None, **kwargs):
        def interrupt_in_third_epoch(epoch, loss, forward):
            if epoch == 2:
                raise KeyboardInterrupt   # what Ctrl-C raises inside fit
            return callback(epoch, loss, forward)
        return original_fit(self, *args, callback=interrupt_in_third_epoch, **kwargs)

    original_fit = nnfast.MLP.fit
    monkeypatch.setattr(nnfast.MLP, "fit", interrupted_fit)
    status = main(["train", "iris", "--epochs", "10", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 130
    assert err.strip() == (f"nnfast train: error: interrupted after 2 of 10 epochs; {out} was "
                           f"not written")
    assert out.read_bytes() == b"the previous model" and os.listdir(tmp_path) == ["model.npz"]


def test_a_failed_model_write_leaves_the_old_file(tmp_path, monkeypatch, capsys):
    """The model is written to a temporary file and renamed: a write that fails half-way
    leaves the previous model and no temporary file."""
    out = tmp_path / "model.npz"
    main(["train", "and", "--epochs", "2", "--quiet", "--out", str(out)])
    before = out.read_bytes()

    def failing_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(KeyboardInterrupt):
        from nnfast.cli import train
        train.run(train.add_parser(_commands()).parse_args(
            ["and", "--epochs", "2", "--quiet", "--out", str(out)]), out=lambda *a: None)
    assert out.read_bytes() == before and os.listdir(tmp_path) == ["model.npz"]
    nnfast.load(out)


def test_a_failed_predictions_write_leaves_the_old_file(tmp_path, monkeypatch):
    """predict --out writes a temporary file and renames it: interrupted before the rename,
    the previous file is intact and the temporary file is gone."""
    from nnfast.cli import common

    path = tmp_path / "p.csv"
    path.write_text("old\n")
    written = []

    def interrupted_replace(source, destination):
        written.append(open(source).read())
        raise KeyboardInterrupt

    monkeypatch.setattr(common.os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        common.write_atomically(str(path), "prediction\nsetosa\n")
    assert written == ["prediction\nsetosa\n"]
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["p.csv"]


def _commands():
    import argparse
    return argparse.ArgumentParser().add_subparsers()
