"""Reading a data file into a table of samples: CSV with a header row, .npy or .npz.

A table is the feature matrix, the raw target column (strings or numbers, or None when the file
has no target) and the column names. Every problem in a file raises DataError naming the file,
the line and the column, before anything is trained.
"""
import csv
import math
import os
from dataclasses import dataclass, field

import numpy as np


class DataError(ValueError):
    """A data file or data set name that cannot be read as a table of samples."""


@dataclass
class Table:
    """X : ndarray of shape (n_samples, n_features), float64.
    y : ndarray of shape (n_samples,) (numbers or str), or None without a target column.
    classes : the class labels when the data set defines them (built-in sets), else None.
    """
    X: np.ndarray
    y: object
    feature_names: list
    target_name: object
    source: str
    classes: object = None
    columns: list = field(default_factory=list)  # the file's header, when it has one


def _number(cell, path, line, column):
    try:
        value = float(cell)
    except ValueError:
        raise DataError(f"{path} line {line}, column {column!r}: {cell!r} is not a number"
                        ) from None
    if not math.isfinite(value):
        raise DataError(f"{path} line {line}, column {column!r}: {cell!r} is not a finite number")
    return value


def read_csv_rows(path):
    """(header, rows, line numbers) of a CSV file; blank lines are ignored."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            lines = [(n, row) for n, row in enumerate(csv.reader(f), start=1)
                     if any(cell.strip() for cell in row)]
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a text CSV file ({exc.reason})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: unreadable CSV ({exc})") from None
    if not lines:
        raise DataError(f"{path} is empty: expected a header row and data rows")
    (_, header), body = lines[0], lines[1:]
    header = [name.strip() for name in header]
    if not body:
        raise DataError(f"{path} has a header row but no data rows")
    for n, row in body:
        if len(row) != len(header):
            raise DataError(f"{path} line {n}: {len(row)} cells, the header has {len(header)} "
                            f"(ragged rows)")
    return header, [row for _, row in body], [n for n, _ in body]


def read_csv_header(path):
    """The column names of a CSV file: its first non-blank row."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            for row in csv.reader(f):
                if any(cell.strip() for cell in row):
                    return [name.strip() for name in row]
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a text CSV file ({exc.reason})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: unreadable CSV ({exc})") from None
    raise DataError(f"{path} is empty: expected a header row and data rows")


def target_index(header, target, path):
    """The index of the target column: by name, or the last column when target is None."""
    if target is None:
        return len(header) - 1
    if target not in header:
        raise DataError(f"{path} has no column {target!r}; its columns are {', '.join(header)}")
    return header.index(target)


def read_csv(path, target=None, has_target=True, features=None):
    """A Table from a CSV file with a header row.

    target : the target column's name, or None for the last column.
    has_target : False reads every column (or the named `features`) as a feature.
    features : column names to read as features, in this order (a trained model's columns).
    """
    header, rows, line_numbers = read_csv_rows(path)
    t = target_index(header, target, path) if has_target else None
    if features is not None:
        missing = [name for name in features if name not in header]
        if missing:
            raise DataError(f"{path} has no column {missing[0]!r}, which the model was trained "
                            f"on; its columns are {', '.join(header)}")
        feature_columns = [header.index(name) for name in features]
    else:
        feature_columns = [j for j in range(len(header)) if j != t]
    if not feature_columns:
        raise DataError(f"{path} has no feature columns besides the target {header[t]!r}")
    X = np.array([[_number(row[j].strip(), path, n, header[j]) for j in feature_columns]
                  for row, n in zip(rows, line_numbers)], dtype=np.float64)
    y = None if t is None else np.array([row[t].strip() for row in rows])
    return Table(X, y, [header[j] for j in feature_columns],
                 None if t is None else header[t], path, columns=header)


def read_npy(path, target=None, has_target=True):
    """A Table from a 2-D .npy matrix; the target is the last column, or column `target`."""
    arr = _load_array(path)
    if arr.ndim != 2 or 0 in arr.shape:
        raise DataError(f"{path}: expected a non-empty 2-D array (samples x columns), got shape "
                        f"{arr.shape}")
    names = [f"x{j}" for j in range(arr.shape[1])]
    if not has_target:
        return Table(_features(arr, path), None, names, None, path)
    t = _column_number(target, arr.shape[1], path)
    X = np.delete(arr, t, axis=1)
    if X.shape[1] == 0:
        raise DataError(f"{path} has only one column: no features besides the target")
    return Table(_features(X, path), arr[:, t], [n for j, n in enumerate(names) if j != t],
                 f"x{t}", path)


def read_npz(path, target=None, has_target=True):
    """A Table from a .npz archive holding `X` (n, d) and, for training, `y` (n,)."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: not a readable .npz archive ({exc})") from None
    with archive:
        if "X" not in archive.files:
            raise DataError(f"{path}: a data archive needs an array 'X'; it holds "
                            f"{', '.join(archive.files) or 'nothing'}")
        if "meta" in archive.files and "W0" in archive.files:
            raise DataError(f"{path} is a model file, not data")
        X = _checked_array(archive, "X", path)
        y = _checked_array(archive, "y", path) if "y" in archive.files else None
    if X.ndim != 2 or 0 in X.shape:
        raise DataError(f"{path}: X must be a non-empty 2-D array, got shape {X.shape}")
    if has_target:
        if y is None:
            raise DataError(f"{path}: no target array 'y' (a data archive holds X and y)")
        if y.ndim != 1 or len(y) != len(X):
            raise DataError(f"{path}: y must have shape ({len(X)},), got {y.shape}")
    names = [f"x{j}" for j in range(X.shape[1])]
    return Table(_features(X, path), y if has_target else None, names,
                 "y" if has_target else None, path)


def _checked_array(archive, name, path):
    try:
        return archive[name]
    except ValueError as exc:
        raise DataError(f"{path}: array {name!r} is unreadable ({exc})") from None


def _load_array(path):
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({exc})") from None


def _column_number(target, n_columns, path):
    if target is None:
        return n_columns - 1
    try:
        t = int(target[1:] if str(target).startswith("x") else target)  # "x3" names column 3
    except ValueError:
        raise DataError(f"{path}: a .npy file has no column names; give --target as a column "
                        f"number (0..{n_columns - 1}), got {target!r}") from None
    if not -n_columns <= t < n_columns:
        raise DataError(f"{path} has no column {t}; it has {n_columns} columns")
    return t % n_columns


def _features(X, path):
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: features must be numbers, got dtype {X.dtype}")
    X = X.astype(np.float64)
    if not np.isfinite(X).all():
        row = int(np.argwhere(~np.isfinite(X))[0][0])
        raise DataError(f"{path}: the features hold NaN or infinity (row {row})")
    return X


READERS = {".csv": read_csv, ".npy": read_npy, ".npz": read_npz}


def read_file(path, target=None, has_target=True, features=None):
    """A Table from a .csv, .npy or .npz file, by its extension."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in READERS:
        raise DataError(f"{path}: unknown data format {extension or '(no extension)'!r}; "
                        f"use .csv, .npy or .npz")
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    if extension == ".csv":
        return read_csv(path, target, has_target, features)
    return READERS[extension](path, target, has_target)
