"""Class weights (docs/semantics.md, "Validation, early stopping, class weights"): the class
each target row names, and the weight class_weight gives it."""
from __future__ import annotations

import numbers
from typing import Any, Optional

import numpy as np

# The losses whose target rows each name one class: the argmax of a cross_entropy row (the
# first, on ties), int(y >= 0.5) for a binary_cross_entropy network with one output.
CLASS_OF_ROWS = {
    "cross_entropy": lambda Y: Y.argmax(axis=1),
    "binary_cross_entropy": lambda Y: (Y[:, 0] >= 0.5).astype(np.int64) if Y.shape[1] == 1
    else None,
}


def row_classes(Y: np.ndarray, loss: str) -> Optional[np.ndarray]:
    """The class index of each row of the (n, K) targets Y; None when the loss (or a
    multi-output binary_cross_entropy) does not give each row one class."""
    rule = CLASS_OF_ROWS.get(loss)
    return None if rule is None else rule(Y)


def checked_class_weight(class_weight: Any, n_classes: int) -> Any:
    """class_weight checked: None, "balanced", or {class index: finite weight >= 0}."""
    if class_weight is None or (isinstance(class_weight, str) and class_weight == "balanced"):
        return class_weight
    if not isinstance(class_weight, dict):
        raise ValueError(f"class_weight must be None, 'balanced' or a dict {{class: weight}}, "
                         f"got {class_weight!r}")
    checked = {}
    for label, value in class_weight.items():
        if isinstance(label, (bool, np.bool_)) or not isinstance(label, numbers.Integral) \
                or not 0 <= int(label) < n_classes:
            raise ValueError(f"class_weight names {label!r}, which is not a class "
                             f"(the classes are 0..{n_classes - 1})")
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) \
                or not np.isfinite(float(value)) or value < 0:
            raise ValueError(f"class_weight[{label!r}] must be a finite number >= 0, "
                             f"got {value!r}")
        checked[int(label)] = float(value)
    return checked


def class_weight_of_rows(class_weight: Any, Y: np.ndarray, loss: str) -> np.ndarray:
    """The weight of each row's class, float64 (n,). "balanced": n / (K n_k) for class k,
    K the classes present and n_k the rows of class k (scikit-learn's compute_class_weight);
    a dict gives its classes their weight and the others 1."""
    classes = row_classes(Y, loss)
    if classes is None:
        raise ValueError(f"class_weight needs a classification loss with one class per row "
                         f"(cross_entropy, or binary_cross_entropy with one output), got "
                         f"loss {loss!r} with {Y.shape[1]} outputs")
    n_classes = 2 if Y.shape[1] == 1 else Y.shape[1]
    class_weight = checked_class_weight(class_weight, n_classes)
    if class_weight == "balanced":
        counts = np.bincount(classes, minlength=n_classes)
        per_class = np.zeros(n_classes)
        present = counts > 0
        per_class[present] = len(classes) / (np.count_nonzero(present) * counts[present])
    else:
        per_class = np.ones(n_classes)
        for label, value in class_weight.items():
            per_class[label] = value
    return per_class[classes]
