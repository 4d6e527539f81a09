"""Turning a raw target column into what a model trains on: class indices or values.

The task follows from the target: text, or whole numbers with few distinct values, is
classification; other numbers are regression. `task` overrides the choice.
"""
import numpy as np

from .tables import DataError

TASKS = ("classification", "regression")
MAX_INTEGER_CLASSES = 20  # more distinct whole numbers than this reads as a quantity


def as_numbers(y):
    """y as float64, or None when some value is not a number."""
    if y.dtype.kind in "biuf":
        return y.astype(np.float64)
    try:
        return np.array([float(v) for v in y])
    except ValueError:
        return None


def guess_task(y):
    """'classification' or 'regression' from the target values."""
    values = as_numbers(y)
    if values is None:
        return "classification"
    whole = np.all(values == np.round(values))
    return "classification" if whole and len(np.unique(values)) <= MAX_INTEGER_CLASSES \
        else "regression"


def class_labels(y):
    """The sorted distinct labels of y, as JSON-able Python values (str, or int when whole)."""
    values = as_numbers(y)
    if values is None:
        return sorted({str(v) for v in y})
    labels = np.unique(values)
    if np.all(labels == np.round(labels)):
        return [int(v) for v in labels]
    return [float(v) for v in labels]


def encode_classes(y, classes, source):
    """Class indices of shape (n,) for the labels in y, by their position in `classes`."""
    keys = [_label_key(c) for c in classes]
    index = {k: i for i, k in enumerate(keys)}
    out = np.empty(len(y), dtype=np.int64)
    for i, v in enumerate(y):
        key = _label_key(v)
        if key not in index:
            raise DataError(f"{source}: target value {_plain(v)!r} (row {i + 1}) is not one of "
                            f"the model's classes {classes}")
        out[i] = index[key]
    return out


def _plain(value):
    """A NumPy scalar as the Python value it holds, for messages."""
    return value.item() if isinstance(value, np.generic) else value


def _label_key(value):
    """Labels compare as numbers when they are numbers ("1" == 1 == 1.0), else as text."""
    if isinstance(value, (bytes, np.bytes_)):
        value = value.decode()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value).strip()
    return number


def encode_target(y, task, source, classes=None):
    """(targets, task, classes): class indices and labels, or float values for regression."""
    if task is None:
        task = guess_task(y)
    if task == "regression":
        values = as_numbers(y)
        if values is None:
            bad = next(v for v in y if as_numbers(np.array([v])) is None)
            raise DataError(f"{source}: regression needs a numeric target; found {_plain(bad)!r}")
        if not np.isfinite(values).all():
            raise DataError(f"{source}: the target holds NaN or infinity")
        return values, task, None
    if classes is None:
        classes = class_labels(y)
    if len(classes) < 2:
        raise DataError(f"{source}: classification needs at least 2 classes in the target, "
                        f"found {len(classes)} ({classes})")
    return encode_classes(y, classes, source), task, list(classes)
