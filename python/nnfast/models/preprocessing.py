"""What a model keeps beside its network: how its inputs and target were prepared.

``nnfast train`` learns the standardization of the features (and of a regression target),
and keeps the column names and the class labels; ``predict``, ``evaluate``, ``info`` and
``export`` apply them. In a model (and its file) they are three optional JSON records:

    preprocessing  {"standardize": {"mean": [...], "std": [...]},      one per input
                    "target_scale": {"mean": m, "std": s},
                    "columns": {"features": [...], "target": name}}
    classes        one distinct label per class
    validation     {"metric": name, "scores": [...]}, the held-out score of each epoch

``Preprocessing`` is the one typed view of the first two that every consumer reads;
``check_records`` is the one check of all three against a network's layers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import numpy as np

OPTIONAL_RECORDS = ("preprocessing", "classes", "validation")


@dataclass(frozen=True)
class Preprocessing:
    """A model's input and target preparation, its column names and class labels.

    Attributes
    ----------
    mean, std : ndarray of shape (n_inputs,) or None
        The standardization x' = (x - mean) / std; None when the inputs are used as given.
    target_mean, target_std : float or None
        A regression target's scaling y' = (y - target_mean) / target_std.
    features : list of str or None
        The feature columns the model was trained on, in order.
    target : str or None
        The target column's name.
    classes : list or None
        The label of each class index; None means 0..K-1.
    """

    mean: Any = None         # ndarray of shape (n_inputs,) or None
    std: Any = None          # ndarray of shape (n_inputs,) or None
    target_mean: Any = None  # float or None
    target_std: Any = None   # float or None
    features: Optional[List[str]] = None
    target: Optional[str] = None
    classes: Optional[List[Any]] = None

    @classmethod
    def learned(cls, X: np.ndarray, y: np.ndarray, *, standardize: bool,
                scale_target: bool, features: List[str], target: Optional[str],
                classes: Optional[List[Any]]) -> Preprocessing:
        """The preparation of training data X (n, d) and y (n,): column means and stds
        (std 1 for a constant column) when asked."""
        def scaling(values):
            std = values.std(axis=0)
            return values.mean(axis=0), np.where(std > 0, std, 1.0)

        mean, std = scaling(X) if standardize else (None, None)
        target_mean = target_std = None
        if scale_target:
            target_mean, target_std = (float(v[0]) for v in scaling(y.reshape(-1, 1)))
        return cls(mean, std, target_mean, target_std, list(features), target, classes)

    @classmethod
    def of(cls, model: Any) -> Preprocessing:
        """The preparation a model holds (none: every field None)."""
        record = getattr(model, "preprocessing", None) or {}
        standardize = record.get("standardize") or {}
        target_scale = record.get("target_scale") or {}
        columns = record.get("columns") or {}
        return cls(_array(standardize.get("mean")), _array(standardize.get("std")),
                   target_scale.get("mean"), target_scale.get("std"),
                   columns.get("features"), columns.get("target"),
                   getattr(model, "classes", None) or None)

    def to_record(self) -> Dict[str, Any]:
        """The JSON record a model file holds under "preprocessing" (classes apart)."""
        record: Dict[str, Any] = {"columns": {"features": self.features, "target": self.target}}
        if self.mean is not None:
            record["standardize"] = {"mean": self.mean.tolist(), "std": self.std.tolist()}
        if self.target_mean is not None:
            record["target_scale"] = {"mean": self.target_mean, "std": self.target_std}
        return record

    def store(self, model: Any) -> None:
        """Keep this preparation in model (saved with it)."""
        model.preprocessing, model.classes = self.to_record(), self.classes

    @property
    def steps(self) -> List[str]:
        """The names of the steps applied: "standardize", "target_scale"."""
        return [name for name, field in (("standardize", self.mean),
                                         ("target_scale", self.target_mean))
                if field is not None]

    def inputs(self, X: np.ndarray) -> np.ndarray:
        """Raw features X (n, n_inputs) as the model takes them: (X - mean) / std."""
        return X if self.mean is None else (X - self.mean) / self.std

    def targets(self, y: np.ndarray) -> np.ndarray:
        """A regression target y (n,) as the model is trained on it."""
        return y if self.target_mean is None else (y - self.target_mean) / self.target_std

    def values(self, outputs: np.ndarray) -> np.ndarray:
        """A regression model's outputs in the target's own units."""
        return (outputs if self.target_mean is None
                else outputs * self.target_std + self.target_mean)

    def class_labels(self, n_outputs: int) -> List[Any]:
        """The label of each class: the stored classes, else 0..K-1 (K >= 2)."""
        return list(self.classes) if self.classes else list(range(max(n_outputs, 2)))


def _array(values):
    return None if values is None else np.asarray(values, dtype=np.float64)


def _finite_number(v):
    try:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    except OverflowError:  # a JSON integer beyond the float range
        return False


def _numbers(values, length, positive=False):
    return (isinstance(values, list) and len(values) == length
            and all(_finite_number(v) and (v > 0 or not positive) for v in values))


def _preprocessing_problem(pre, n_inputs):
    if not isinstance(pre, dict):
        return "preprocessing is not a record"
    standardize, target_scale = pre.get("standardize"), pre.get("target_scale")
    columns = pre.get("columns")
    if standardize is not None and not (
            isinstance(standardize, dict) and _numbers(standardize.get("mean"), n_inputs)
            and _numbers(standardize.get("std"), n_inputs, positive=True)):
        return f"preprocessing.standardize needs {n_inputs} means and positive stds"
    if target_scale is not None and not (
            isinstance(target_scale, dict) and _numbers([target_scale.get("mean")], 1)
            and _numbers([target_scale.get("std")], 1, positive=True)):
        return "preprocessing.target_scale needs a mean and a positive std"
    if columns is not None and not (
            isinstance(columns, dict) and isinstance(columns.get("features"), list)
            and len(columns["features"]) == n_inputs
            and all(isinstance(c, str) for c in columns["features"])):
        return f"preprocessing.columns needs {n_inputs} feature names"
    return None


def _classes_problem(classes, n_outputs):
    n_classes = max(n_outputs, 2)
    if not (isinstance(classes, list) and len(classes) == n_classes
            and all(isinstance(c, (str, int, float)) and not isinstance(c, bool)
                    for c in classes) and len(set(classes)) == n_classes):
        return f"classes must list {n_classes} distinct labels"
    return None


def _validation_problem(validation, n_outputs):
    if not (isinstance(validation, dict) and isinstance(validation.get("metric"), str)
            and isinstance(validation.get("scores"), list)
            and _numbers(validation["scores"], len(validation["scores"]))):
        return "validation needs a metric name and a list of scores"
    return None


# record -> its check: problem(value, layers) -> a description, or None when it is sound
RECORD_CHECKS = {
    "preprocessing": lambda value, layers: _preprocessing_problem(value, layers[0]),
    "classes": lambda value, layers: _classes_problem(value, layers[-1]),
    "validation": lambda value, layers: _validation_problem(value, layers[-1]),
}


def check_records(records: Dict[str, Any], layers: List[int]) -> None:
    """Raise ValueError naming the first of the optional records (None: absent) that does
    not fit a network of these layer sizes."""
    for key in OPTIONAL_RECORDS:
        if records.get(key) is not None:
            problem = RECORD_CHECKS[key](records[key], layers)
            if problem:
                raise ValueError(problem)


def records_of(model: Any) -> Dict[str, Any]:
    """The optional records a model holds, by name (None: absent)."""
    return {key: getattr(model, key, None) for key in OPTIONAL_RECORDS}


def restore_records(model: Any, records: Optional[Dict[str, Any]], layers: List[int]) -> None:
    """Give model the optional records of a model record, after checking them."""
    records = records or {}
    check_records(records, layers)
    for key in OPTIONAL_RECORDS:
        setattr(model, key, records.get(key))
