"""Built-in data sets: Fisher's Iris (bundled as CSV) and the logic gates of the seeds.

Everything here is read from the installed package; nothing is downloaded.
"""
import csv
import os
from typing import Any, List, Tuple

import numpy as np
import numpy.typing as npt

_HERE = os.path.dirname(os.path.abspath(__file__))

GATE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
GATE_TARGETS = {
    "and": np.array([0, 0, 0, 1]),
    "or": np.array([0, 1, 1, 1]),
    "xor": np.array([0, 1, 1, 0]),
}


def logic_gate(name: str) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.int_]]:
    """Return (X, y) of a two-input logic gate: "and", "or" or "xor".

    X : ndarray of shape (4, 2), the inputs 00, 01, 10, 11.
    y : ndarray of shape (4,), the gate's 0/1 outputs.
    """
    try:
        y = GATE_TARGETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown gate {name!r}; choose one of {sorted(GATE_TARGETS)}") from None
    return GATE_INPUTS.copy(), y.copy()


def load_iris() -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], List[str], List[str]]:
    """Fisher's Iris data (150 flowers, 4 measurements in cm, 3 species).

    Returns
    -------
    X : ndarray of shape (150, 4), float64
    y : ndarray of shape (150,), int64 class indices 0, 1, 2
    feature_names : list of str
    class_names : list of str
    """
    with open(os.path.join(_HERE, "iris.csv"), newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    class_names = sorted({r[-1] for r in rows}, key=[r[-1] for r in rows].index)
    X = np.array([[float(v) for v in r[:-1]] for r in rows])
    y = np.array([class_names.index(r[-1]) for r in rows], dtype=np.int64)
    return X, y, header[:-1], class_names


def train_test_split(X: npt.NDArray[Any], y: npt.NDArray[Any], test_fraction: float = 0.3,
                     seed: int = 0) -> Tuple[npt.NDArray[Any], ...]:
    """Split rows into train and test sets in a permuted order drawn from SplitMix64(seed).

    Returns X_train, X_test, y_train, y_test.
    """
    from .. import _core
    from .. import _validation as check

    X, y = check.as_array(X, "X"), check.as_array(y, "y")
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(f"X has shape {X.shape} and y {y.shape}: they need the same number "
                         f"of rows")
    n = len(X)
    if n < 2:
        raise ValueError(f"X has {n} rows; a split needs at least 2")
    test_fraction = check.real_in(test_fraction, "test_fraction", 0.0, 1.0, low_open=True)
    order = np.empty(n, dtype=np.int64)
    _core.rng_permutation(order, check.seed(seed))
    n_test = min(n - 1, max(1, int(round(n * test_fraction))))  # both sets non-empty
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def standardize(X_train: npt.NDArray[Any],
                *others: npt.NDArray[Any]) -> Tuple[npt.NDArray[Any], ...]:
    """Scale columns to zero mean and unit variance using the training rows' statistics.

    Returns the scaled X_train followed by each of `others` scaled the same way.
    """
    from .. import _validation as check

    X_train = check.as_matrix(X_train, "X_train", np.float64)
    others = tuple(check.as_matrix(X, f"others[{i}]", np.float64, X_train.shape[1], "X_train")
                   for i, X in enumerate(others))
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[std == 0] = 1.0
    return tuple((X - mean) / std for X in (X_train,) + others)
