"""Sparse input: scipy.sparse matrices checked and handed to the core's CSR kernels (sparse.c).

The core reads X in CSR: indptr int64 (n_rows + 1), indices int32 column numbers, data in the
model's dtype. CSC (and any other scipy.sparse format) is converted to CSR once, as
scikit-learn does; CSR arrays already of those types are used as they are, never densified.
scipy is not a dependency of nnfast: a matrix can only be sparse when scipy is loaded.
"""
import sys
from typing import Any, NamedTuple, Optional, Tuple

import numpy as np

from . import _core, ops

INT32_MAX = np.iinfo(np.int32).max


def issparse(X: Any) -> bool:
    """True for a scipy.sparse matrix or array (False without importing scipy)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(X)


class CSR(NamedTuple):
    """X in the core's CSR layout: row i holds data[p] at column indices[p] for
    p in indptr[i] .. indptr[i+1]-1 (data and indices hold one unused value when X is all
    zeros, so the core always gets an array)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    shape: Tuple[int, int]


def as_csr(X: Any, dtype: Any, n_columns: Optional[int] = None, name: str = "X") -> CSR:
    """X (a scipy.sparse matrix) as a checked CSR of dtype with n_columns columns (None: any).

    ValueError names the problem: a wrong number of columns or no rows, an indptr that does
    not start at 0, decreases or disagrees with the number of stored values, a column index
    out of range, NaN or infinity in the values; TypeError for non-numeric values.
    """
    if not issparse(X):
        raise TypeError(f"{name} must be a scipy.sparse matrix, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {X.shape}")
    n_rows, n_cols = X.shape
    if n_rows < 1:
        raise ValueError(f"{name} has no rows (shape {X.shape})")
    if n_columns is not None and n_cols != n_columns:
        raise ValueError(f"{name} has {n_cols} features, the model expects {n_columns}")
    if n_cols > INT32_MAX:
        raise ValueError(f"{name} has {n_cols} columns: at most {INT32_MAX} are supported")
    if X.format != "csr":
        X = X.tocsr()
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    indptr = np.ascontiguousarray(X.indptr, dtype=np.int64)
    if indptr.shape != (n_rows + 1,):
        raise ValueError(f"{name}.indptr has {indptr.shape[0]} entries for {n_rows} rows")
    nnz = int(indptr[-1])
    if nnz != X.indices.shape[0] or nnz != X.data.shape[0]:
        raise ValueError(f"{name}.indptr ends at {nnz} but {name} holds {X.indices.shape[0]} "
                         f"indices and {X.data.shape[0]} values")
    indices = X.indices
    if indices.dtype != np.int32:
        # int64 indices (scipy's choice for large matrices) fit int32 once the columns do;
        # a value outside int32 is out of range for any matrix the core accepts
        if indices.size and (indices.min() < 0 or indices.max() > INT32_MAX):
            raise ValueError(f"{name} holds a column index outside [0, {n_cols})")
        indices = indices.astype(np.int32)
    indices = np.ascontiguousarray(indices)
    data = np.ascontiguousarray(X.data, dtype=dtype)
    if nnz == 0:
        indices, data = np.zeros(1, np.int32), np.zeros(1, dtype)
    _core.check_csr(indptr, indices, data, n_cols, name)
    return CSR(indptr, indices, data, (n_rows, n_cols))


def forward(net: Any, params: np.ndarray, X: CSR) -> np.ndarray:
    """Output activations (n_rows, n_outputs) of the network on CSR rows."""
    out = np.empty((X.shape[0], net.n_outputs), dtype=params.dtype)
    _core.csr_forward(out, params, net, X.indptr, X.indices, X.data)
    return out


def dense_linear(X: CSR, W: np.ndarray, b: Optional[np.ndarray] = None,
                 rows: Optional[np.ndarray] = None) -> np.ndarray:
    """X[rows] @ W + b for CSR rows (rows None: all of them), W (n_features, n_outputs)."""
    m = X.shape[0] if rows is None else len(rows)
    Z = np.empty((m, W.shape[1]), dtype=W.dtype)
    _core.csr_dense_forward(Z, X.indptr, X.indices, X.data, rows, W, b)
    return Z


def weight_norms(w: np.ndarray) -> np.ndarray:
    """[|w|^2, |w|_1], the running norms perceptron_sgd_epoch starts from."""
    return ops.weight_norms(w)


def perceptron_sgd_epoch(w: np.ndarray, b: float, u: float, q: Optional[np.ndarray],
                         norms: np.ndarray,
                         X: CSR, y: np.ndarray, sample_weight: np.ndarray, eta: float,
                         alpha: float = 0.0, l1_ratio: float = 0.0, fit_intercept: bool = True,
                         order: Optional[np.ndarray] = None,
                         intercept_decay: float = 1.0) -> Tuple[float, float, float]:
    """nnfast.ops.perceptron_sgd_epoch on CSR rows (w, q and norms in place): scikit-learn's
    sparse semantics, the L1 step on each row's nonzero columns only (q may be None without
    L1), the intercept moved by
    intercept_decay times each step; (b, u, objective)."""
    return _core.perceptron_sgd_csr_epoch(w, q, norms, X.indptr, X.indices, X.data, y,
                                          sample_weight, order, b, u, eta, alpha, l1_ratio,
                                          bool(fit_intercept), intercept_decay)


def toarray(X: CSR) -> np.ndarray:
    """The rows written out densely (float64): for the reference backend, which reads lists."""
    dense = np.zeros(X.shape)
    for i in range(X.shape[0]):
        p = slice(X.indptr[i], X.indptr[i + 1])
        np.add.at(dense[i], X.indices[p], X.data[p])
    return dense


def perceptron_rule_epoch(W: np.ndarray, b: np.ndarray, X: CSR, Y: np.ndarray,
                          order: Optional[np.ndarray], lr: float) -> int:
    """_core.perceptron_epoch on CSR rows (W, b in place): the samples with a mistake."""
    return _core.perceptron_csr_epoch(W, b, X.indptr, X.indices, X.data, Y, order, lr)



def perceptron_sgd_fit(W: np.ndarray, Q: Optional[np.ndarray], state: np.ndarray, X: CSR,
                       Y: np.ndarray, SW: np.ndarray, orders: Optional[np.ndarray],
                       eta: float, alpha: float = 0.0, l1_ratio: float = 0.0,
                       fit_intercept: bool = True, tol: float = -np.inf,
                       n_iter_no_change: int = 5, max_iter: int = 1000,
                       n_epochs: int = 1, intercept_decay: float = 1.0) -> None:
    """nnfast.ops.perceptron_sgd_fit on CSR rows, each epoch perceptron_sgd_epoch's above
    (the running norms in state["norms"], the intercept moved by intercept_decay of each
    step)."""
    W, Q, raw, Y, SW, orders, epochs = ops._sgd_fit_arguments(W, Q, state, X.shape[0], Y, SW,
                                                              orders)
    if W.shape[1] != X.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features, W has {W.shape[1]} columns")
    _core.perceptron_sgd_csr_fit(W, Q, raw, X.indptr, X.indices, X.data, Y, SW, orders,
                                 epochs if orders is not None else n_epochs, eta, alpha,
                                 l1_ratio, tol, bool(fit_intercept), n_iter_no_change,
                                 max_iter, intercept_decay)
