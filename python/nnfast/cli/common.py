"""What the subcommands share: reading a model and the data it runs on, applying the
preprocessing stored in the model file (nnfast.models.preprocessing), turning outputs into
labels, writing files atomically."""
import csv
import io
import os
import tempfile

import numpy as np

from ..data.sources import read_data
from ..data.tables import DataError, read_csv_header, target_index
from ..data.targets import encode_classes
from ..models import Perceptron, load
from ..models.preprocessing import Preprocessing
from ..vocabulary import REGRESSION_LOSSES


class CommandError(Exception):
    """A problem with the command's arguments or files, reported as one line; the command
    exits with `status` (2, or 130 for an interrupt)."""

    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


def load_model(path):
    """nnfast.load(path), with a missing file reported as a CommandError."""
    if not os.path.isfile(path):
        raise CommandError(f"{path}: no such model file")
    return load(path)


def task_of(model):
    """'regression' for a network trained on a regression loss (mse, mae, huber, poisson)
    that is not a step perceptron, else 'classification'."""
    if isinstance(model, Perceptron) or model.network.loss_name not in REGRESSION_LOSSES:
        return "classification"
    return "regression"


def classes_of(model):
    """The model's class labels: those stored in the file, else 0..K-1."""
    return Preprocessing.of(model).class_labels(model.network.layers[-1])


def predict_labels(model, X):
    """Predictions for raw features X: class labels (a list) or values (an array)."""
    preprocessing = Preprocessing.of(model)
    predicted = model.predict(preprocessing.inputs(X))
    if task_of(model) == "regression":
        return preprocessing.values(predicted)
    classes = classes_of(model)
    if predicted.ndim != 1:
        raise CommandError("this model has several independent 0/1 outputs; "
                           "use --proba to see each")
    return [classes[int(i)] for i in predicted]


def predict_proba(model, X):
    """(column names, probabilities of shape (n, K)) for a classifier."""
    if task_of(model) == "regression":
        raise CommandError("--proba applies to classifiers; this model is a regression model")
    A = np.asarray(model.forward(Preprocessing.of(model).inputs(X)), dtype=np.float64)
    if A.shape[1] == 1:
        A = np.hstack([1.0 - A, A])
    return [f"p({c})" for c in classes_of(model)], A


def read_for_model(model, source, target=None, require_target=False):
    """(X of the model's width, raw target or None, Table) from DATA, matching the columns the
    model was trained on: by name in a CSV that has them, else by count (the features alone,
    or the features and the target)."""
    n = model.network.layers[0]
    preprocessing = Preprocessing.of(model)
    if source.lower().endswith(".csv") and os.path.isfile(source):
        # the target column the model was trained with, unless --target names another
        named = target if target is not None else preprocessing.target
        table = _read_csv_for_model(source, n, preprocessing.features, named, require_target)
    else:  # arrays have no column names: the target is --target's column number, or the last
        table = read_data(source, target if not _is_builtin(source) else None,
                          has_target=require_target or _has_extra_column(source, n))
    width = table.X.shape[1]
    if width != n:
        raise CommandError(f"{source} has {width} feature columns; the model expects {n} inputs")
    if require_target and table.y is None:
        raise CommandError(f"{source} has no target column to compare the predictions with")
    return table.X, table.y, table


def _is_builtin(source):
    from ..data.builtin import BUILTIN
    return source in BUILTIN and not os.path.exists(source)


def _has_extra_column(source, n):
    """Whether a .npy matrix holds one column more than the model's inputs (the target)."""
    if source.lower().endswith(".npy") and os.path.isfile(source):
        try:
            shape = np.load(source, mmap_mode="r", allow_pickle=False).shape
        except (ValueError, OSError) as exc:
            raise DataError(f"{source}: not a readable .npy array ({exc})") from None
        return len(shape) == 2 and shape[1] == n + 1
    if source.lower().endswith(".npz") and os.path.isfile(source):
        try:
            with np.load(source, allow_pickle=False) as archive:
                return "y" in archive.files
        except (ValueError, OSError) as exc:
            raise DataError(f"{source}: not a readable .npz archive ({exc})") from None
    return _is_builtin(source)


def _read_csv_for_model(path, n, features, target, require_target):
    from ..data.tables import read_csv

    header = read_csv_header(path)
    if features and all(name in header for name in features):
        has_target = target in header if target is not None else False
        if require_target and not has_target:
            raise CommandError(f"{path} has no target column {target!r}; "
                               f"its columns are {', '.join(header)}")
        return read_csv(path, target if has_target else None, has_target, features)
    if require_target and len(header) == n and target is None:
        raise CommandError(f"{path} has {n} columns, the model's {n} inputs, and no target "
                           f"column to compare the predictions with")
    if len(header) == n + 1 or require_target:
        if not require_target and target not in header:
            target = None  # the model's target name is not here: the last column is ignored
        target_index(header, target, path)  # names an unknown target column
        return read_csv(path, target, True)
    return read_csv(path, None, False)


def encode_for_model(model, y, source):
    """A raw target column as the model's class indices or float values."""
    if task_of(model) == "regression":
        try:
            return np.asarray(y, dtype=np.float64)
        except ValueError:
            raise DataError(f"{source}: the target column must hold numbers for a regression "
                            f"model") from None
    return encode_classes(y, classes_of(model), source)


def write_atomically(path, text):
    """Write text to path through a temporary file in the same folder and a rename, so an
    interrupted run never leaves a partial file."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{path}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".nnfast-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def csv_text(header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def format_number(value, dtype="float64"):
    """Shortest text that reads back as the same number in the model's dtype."""
    if isinstance(value, (int, np.integer, str)):
        return str(value)
    return np.format_float_positional(np.dtype(dtype).type(value), unique=True, trim="-") \
        if abs(value) >= 1e-4 or value == 0 else \
        np.format_float_scientific(np.dtype(dtype).type(value), unique=True, trim="-")
