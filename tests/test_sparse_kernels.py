"""Sparse input through the binding and nnfast.MLP: the CSR kernels against the dense ones on
the same matrices, the forward of MLP / Perceptron / the scikit-learn MLPs on sparse X against
dense X, sparse X never densified, and bad CSR input refused with a clear error."""
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

import nnfast
from nnfast import _core, _sparse, ops
from nnfast.sklearn import MLPClassifier, MLPRegressor

from helpers import assert_close

RNG = np.random.default_rng(17)


def random_csr(n, k, density, dtype=np.float64, seed=0):
    X = sp.random(n, k, density=density, format="csr", random_state=seed, dtype=dtype)
    X.data -= 0.5  # both signs
    return X


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_csr_dense_forward_matches_the_dense_product(dtype, rtol):
    X = random_csr(150, 40, 0.1, dtype).toarray()
    X[3] = 0  # an empty row
    X = sp.csr_matrix(X)
    W = RNG.normal(size=(40, 7)).astype(dtype)
    b = RNG.normal(size=7).astype(dtype)
    csr = _sparse.as_csr(X, dtype)
    Z = _sparse.dense_linear(csr, W, b)
    assert Z.dtype == dtype
    assert_close("Z", Z, X.toarray().astype(np.float64) @ W + b, rtol, rtol)
    assert np.array_equal(Z[3], b)
    rows = np.array([5, 3, 149, 5], dtype=np.int64)
    assert np.array_equal(_sparse.dense_linear(csr, W, b, rows), Z[rows])


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_csr_weight_gradient_matches_dense_backward(dtype, rtol):
    X = random_csr(90, 30, 0.15, dtype, seed=3)
    delta = RNG.normal(size=(90, 5)).astype(dtype)
    W = RNG.normal(size=(30, 5)).astype(dtype)
    want_dW, _, _ = ops.dense_backward(X.toarray(), W, delta, "identity")
    csr = _sparse.as_csr(X, dtype)
    dW = np.zeros((30, 5), dtype=dtype)
    _core.csr_weight_gradient(dW, csr.indptr, csr.indices, csr.data, None, delta, 1 / 90)
    assert_close("dW", dW, want_dW, rtol, rtol)
    # a batch of rows: the gradient of those rows alone, delta row r belonging to rows[r]
    rows = np.array([7, 2, 40], dtype=np.int64)
    dW_rows = np.zeros((30, 5), dtype=dtype)
    _core.csr_weight_gradient(dW_rows, csr.indptr, csr.indices, csr.data, rows, delta[:3], 1.0)
    assert_close("dW of rows", dW_rows, X.toarray()[rows].T @ delta[:3], rtol, rtol)


@pytest.mark.parametrize("layers", [[40, 3], [40, 9, 3], [40, 9, 6, 2]])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mlp_forward_and_predict_on_sparse_rows(layers, dtype):
    X = random_csr(700, 40, 0.08, seed=5)  # more rows than one chunk of the core's loop
    output, loss = ("softmax", "cross_entropy") if layers[-1] > 2 else ("sigmoid",
                                                                        "binary_cross_entropy")
    mlp = nnfast.MLP(layers, "tanh", output=output, loss=loss, seed=2, dtype=dtype)
    tol = 1e-12 if dtype == "float64" else 1e-5
    out = mlp.forward(X)
    assert out.dtype == np.dtype(dtype)
    assert_close("forward", out, mlp.forward(X.toarray()), tol, tol)
    for fmt in ("csr", "csc", "coo"):
        assert np.array_equal(mlp.predict(X.asformat(fmt)), mlp.predict(X.toarray()))


def test_reference_backend_forward_on_sparse_rows():
    X = random_csr(20, 12, 0.2, seed=6)
    ref = nnfast.MLP([12, 4, 3], "relu", output="softmax", loss="cross_entropy", seed=1,
                     backend="reference")
    assert_close("reference forward", ref.forward(X), ref.forward(X.toarray()), 1e-15)


def test_perceptron_predicts_sparse_rows():
    X = random_csr(50, 20, 0.2, seed=7)
    p = nnfast.Perceptron(20, 2, seed=3, init="glorot")
    assert np.array_equal(p.predict(X), p.predict(X.toarray()))


def test_sklearn_mlps_predict_sparse_rows_as_dense():
    X = random_csr(120, 25, 0.2, seed=8)
    y = np.arange(120) % 3
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=3, random_state=0)
    with pytest.warns(Warning):
        clf.fit(X, y)
    assert_close("predict_proba", clf.predict_proba(X), clf.predict_proba(X.toarray()), 1e-12)
    assert np.array_equal(clf.predict(X.tocsc()), clf.predict(X.toarray()))
    reg = MLPRegressor(hidden_layer_sizes=(6,), max_iter=3, random_state=0)
    with pytest.warns(Warning):
        reg.fit(X, y.astype(float))
    assert_close("predict", reg.predict(X), reg.predict(X.toarray()), 1e-12, 1e-12)


def peak_bytes(f):
    """The peak of memory traced while f() runs (NumPy's arrays included)."""
    tracemalloc.start()
    try:
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_wide_sparse_rows_are_never_densified():
    """2^18 hashed features: a dense copy of these 64 rows is 128 MiB; the forward of a
    one-layer network on them must stay within the weights (2^18 x 2 doubles, 4 MiB) and the
    rows themselves."""
    X = random_csr(64, 2 ** 18, 50 / 2 ** 18, seed=9)
    mlp = nnfast.MLP([2 ** 18, 2], "relu", output="sigmoid", loss="binary_cross_entropy",
                     seed=0)
    dense_bytes = 64 * 2 ** 18 * 8
    assert peak_bytes(lambda: mlp.forward(X)) < dense_bytes / 16
    assert peak_bytes(lambda: mlp.predict(X)) < dense_bytes / 16


# ---- bad input ---------------------------------------------------------------------------
def forged(data, indices, indptr, shape):
    """A CSR matrix scipy builds without checking the values of indices and indptr."""
    return sp.csr_matrix((np.asarray(data, dtype=float), np.asarray(indices, dtype=np.int32),
                          np.asarray(indptr, dtype=np.int32)), shape=shape)


def test_bad_sparse_input_is_refused_with_a_clear_error():
    mlp = nnfast.MLP([3, 2], "relu", output="sigmoid", loss="binary_cross_entropy", seed=0)
    with pytest.raises(ValueError, match="has 4 features, the model expects 3"):
        mlp.forward(sp.csr_matrix(np.ones((2, 4))))
    with pytest.raises(ValueError, match=r"column index 5 outside \[0, 3\)"):
        mlp.forward(forged([1, 2], [0, 5], [0, 1, 2], (2, 3)))
    with pytest.raises(ValueError, match="column index -1"):
        mlp.forward(forged([1, 2], [0, -1], [0, 1, 2], (2, 3)))
    with pytest.raises(ValueError, match="indptr decreases at row 1"):
        mlp.forward(forged([1, 2], [0, 1], [0, 2, 1, 2], (3, 3)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        mlp.forward(forged([1, np.nan], [0, 1], [0, 1, 2], (2, 3)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        mlp.forward(forged([1, np.inf], [0, 1], [0, 1, 2], (2, 3)))
    with pytest.raises(ValueError, match="no rows"):
        mlp.forward(sp.csr_matrix((0, 3)))
    with pytest.raises(TypeError, match="real numbers"):
        _sparse.as_csr(sp.csr_matrix(np.array([[1 + 1j, 0, 0]])), np.float64)


def test_forged_indptr_never_reads_past_the_arrays():
    """indptr claiming more nonzeros than indices and data hold (an nnz of 2^62 included) is
    refused before the core reads anything."""
    indices = np.array([0, 1], dtype=np.int32)
    data = np.array([1.0, 2.0])
    W, b = np.ones((3, 2)), np.zeros(2)
    for last in (3, 2 ** 62, -1):
        indptr = np.array([0, 1, last], dtype=np.int64)
        with pytest.raises(ValueError, match="indptr ends at"):
            _core.check_csr(indptr, indices, data, 3)
        Z = np.full((2, 2), 7.0)
        with pytest.raises(ValueError, match="indptr points past the end|nncore"):
            _core.csr_dense_forward(Z, indptr, indices, data, None, W, b)
        assert np.all(Z == 7.0)
    with pytest.raises(ValueError, match="indptr must start at 0"):
        _core.check_csr(np.array([1, 1, 2], dtype=np.int64), indices, data, 3)
    with pytest.raises(ValueError, match="nncore"):  # a row outside the matrix
        _core.csr_dense_forward(np.zeros((1, 2)), np.array([0, 1, 2], dtype=np.int64),
                                indices, data, np.array([2], dtype=np.int64), W, b)
    with pytest.raises(ValueError):  # int64 indices are not the core's layout
        _core.check_csr(np.array([0, 1, 2], dtype=np.int64), indices.astype(np.int64), data, 3)


def test_int64_indices_are_accepted_and_checked():
    X = sp.csr_matrix(np.array([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]]))
    X64 = sp.csr_matrix((X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64)),
                        shape=X.shape)
    csr = _sparse.as_csr(X64, np.float64)
    assert csr.indices.dtype == np.int32 and csr.indptr.dtype == np.int64
    bad = sp.csr_matrix((X.data, np.array([1, 0, 2 ** 40]), X.indptr.astype(np.int64)),
                        shape=X.shape)
    with pytest.raises(ValueError, match="column index outside"):
        _sparse.as_csr(bad, np.float64)


@pytest.mark.parametrize("shuffle", [False, True])
def test_perceptron_rule_on_sparse_rows_is_the_dense_rule(shuffle):
    """Sorted CSR rows: the same updates in the same order, so the same weights bit for bit."""
    X = random_csr(120, 30, 0.15, seed=12)
    w_true = np.random.default_rng(1).normal(size=(30, 2))
    Y = (X.toarray() @ w_true > 0).astype(int)
    sparse = nnfast.Perceptron(30, 2, seed=4).fit(X, Y, epochs=15, lr=0.5, shuffle=shuffle)
    dense = nnfast.Perceptron(30, 2, seed=4).fit(X.toarray(), Y, epochs=15, lr=0.5,
                                                 shuffle=shuffle)
    assert sparse.errors_ == dense.errors_ and sparse.errors_[0] > 0
    assert np.array_equal(sparse.weights[0], dense.weights[0])
    assert np.array_equal(sparse.biases[0], dense.biases[0])
    ref = nnfast.Perceptron(30, 2, seed=4, backend="reference").fit(X, Y, epochs=15, lr=0.5,
                                                                   shuffle=shuffle)
    assert ref.errors_ == dense.errors_
    assert_close("reference weights", ref.weights[0], dense.weights[0], 1e-12, 1e-12)


def test_sigmoid_perceptron_trains_on_sparse_rows_densely():
    X = random_csr(40, 10, 0.3, seed=13)
    y = (np.arange(40) % 2)
    sparse = nnfast.Perceptron(10, 1, "sigmoid").fit(X, y, epochs=5)
    dense = nnfast.Perceptron(10, 1, "sigmoid").fit(X.toarray(), y, epochs=5)
    assert np.array_equal(sparse.weights[0], dense.weights[0])


def test_perceptron_rule_refuses_bad_sparse_rows():
    p = nnfast.Perceptron(3, 1)
    before = p.weights[0].copy()
    with pytest.raises(ValueError, match="column index 7"):
        p.fit(forged([1, 2], [0, 7], [0, 1, 2], (2, 3)), [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        p.fit(forged([1, np.nan], [0, 1], [0, 1, 2], (2, 3)), [0, 1])
    with pytest.raises(ValueError, match="features"):
        p.fit(sp.csr_matrix(np.ones((2, 5))), [0, 1])
    assert np.array_equal(p.weights[0], before)
