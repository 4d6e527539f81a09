"""MLP training on sparse X without densifying it (nnfast.models.sparse_training and the core's
csr_loss_gradient): the same run as on the dense rows to 1e-9 (docs/semantics.md, "Sparse
input"), with every solver and fit feature of nnfast.sklearn's MLPs."""
import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import nnfast
from nnfast import _core, _sparse
from nnfast.models import MLP
from nnfast.sklearn import MLPClassifier, MLPRegressor

RTOL = 1e-9


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = sp.random(240, 300, density=0.03, random_state=3, format="csr")
    X.data = rng.normal(size=X.nnz)
    y = rng.integers(0, 3, 240)
    y_reg = np.asarray(X @ rng.normal(size=300)).ravel() + 0.1 * rng.normal(size=240)
    return X, y, y_reg, rng.random(240) + 0.2


def fit_both(make, X, y, **fit_kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sparse = make().fit(X, y, **fit_kwargs)
        dense = make().fit(X.toarray(), y, **fit_kwargs)
    return sparse, dense


def assert_same_run(sparse, dense):
    for a, b in zip(sparse.coefs_ + sparse.intercepts_, dense.coefs_ + dense.intercepts_):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-12)
    if getattr(dense, "loss_curve_", None) is not None:
        np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=RTOL)
    assert sparse.n_iter_ == dense.n_iter_
    np.testing.assert_allclose(sparse.loss_, dense.loss_, rtol=RTOL)


SOLVERS = [dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
           dict(solver="sgd", momentum=0.5, nesterovs_momentum=False, learning_rate="invscaling"),
           dict(solver="adam"), dict(solver="lbfgs")]


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: "-".join(map(str, s.values())))
@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_csr_trains_as_the_dense_rows(data, solver, estimator):
    X, y, y_reg, _ = data
    target = y if estimator is MLPClassifier else y_reg
    sparse, dense = fit_both(lambda: estimator(hidden_layer_sizes=(12, 7), max_iter=6,
                                               alpha=1e-3, batch_size=50, random_state=0,
                                               **solver), X, target)
    assert_same_run(sparse, dense)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_sample_weight_and_csc(data, solver):
    X, y, _, sw = data
    sparse, dense = fit_both(lambda: MLPClassifier(hidden_layer_sizes=(10,), solver=solver,
                                                   max_iter=5, random_state=1, alpha=0.01),
                             X.tocsc(), y, sample_weight=sw)
    assert_same_run(sparse, dense)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_early_stopping(data, solver):
    X, y, _, _ = data
    sparse, dense = fit_both(lambda: MLPClassifier(hidden_layer_sizes=(10,), solver=solver,
                                                   max_iter=8, early_stopping=True,
                                                   validation_fraction=0.2, random_state=2),
                             X, y)
    assert_same_run(sparse, dense)
    np.testing.assert_allclose(sparse.validation_scores_, dense.validation_scores_, rtol=RTOL)
    np.testing.assert_allclose(sparse.validation_loss_curve_, dense.validation_loss_curve_,
                               rtol=RTOL)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_and_warm_start(data, solver):
    X, y, y_reg, _ = data
    runs = []
    for rows in (X, X.toarray()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            partial = MLPRegressor(hidden_layer_sizes=(9,), solver=solver, random_state=0)
            for start in (0, 120, 0):
                partial.partial_fit(rows[start:start + 120], y_reg[start:start + 120])
            warm = MLPClassifier(hidden_layer_sizes=(9,), solver=solver, max_iter=3,
                                 warm_start=True, random_state=0)
            warm.fit(rows, y)
            warm.fit(rows, y)
        runs.append((partial, warm))
    for sparse, dense in zip(*runs):
        assert_same_run(sparse, dense)


def adam_state(est):
    """Copies of what a partial_fit continues from: the weights, adam's moments and step."""
    arrays = est.coefs_ + est.intercepts_ + est._optimizer.ms + est._optimizer.vs
    return [a.copy() for a in arrays] + [est._optimizer.t, est.t_, list(est.loss_curve_)]


@pytest.mark.parametrize("rows", ["csr", "dense"])
def test_a_failed_partial_fit_leaves_adams_moments_as_they_were(data, rows):
    """Three outputs: the moments scikit-learn reports are 1.5 (squared error's K / 2) times
    the core's, scaled in place after each call; a call that diverges changes none of them,
    and the next call goes on as if it had not happened (as a twin that never failed)."""
    X, _, y_reg, _ = data
    X = X if rows == "csr" else X.toarray()
    Y = np.column_stack([y_reg, -y_reg, 2 * y_reg])
    make = lambda: MLPRegressor(hidden_layer_sizes=(9,), solver="adam", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est, twin = make().partial_fit(X, Y), make().partial_fit(X, Y)
        before = adam_state(est)
        with pytest.raises(ValueError, match="non-finite parameter weights"):
            est.partial_fit(X * 1e150, Y * 1e300)
        for a, b in zip(adam_state(est), before):
            np.testing.assert_array_equal(a, b)
        est.partial_fit(X, Y)
        twin.partial_fit(X, Y)
    for a, b in zip(adam_state(est), adam_state(twin)):
        np.testing.assert_array_equal(a, b)


def test_lbfgs_warm_start_regressor_float32(data):
    X, _, y_reg, _ = data
    X32 = X.astype(np.float32)
    sparse, dense = fit_both(lambda: MLPRegressor(hidden_layer_sizes=(6,), solver="lbfgs",
                                                  max_iter=10, random_state=0), X32, y_reg)
    for a, b in zip(sparse.coefs_, dense.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)  # float32 evaluations


def refuse_densifying(monkeypatch, n_columns):
    """toarray and todense raise for any matrix of X's width (scikit-learn's LabelBinarizer
    densifies its own narrow matrix of y, which is fine)."""
    for cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array, sp.csc_array):
        for name in ("toarray", "todense"):
            def refuse(self, *args, _original=getattr(cls, name), **kwargs):
                if self.shape[1] == n_columns:
                    raise AssertionError("sparse X was densified")
                return _original(self, *args, **kwargs)

            monkeypatch.setattr(cls, name, refuse)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_x_is_never_densified(data, monkeypatch, solver, early_stopping):
    X, y, _, sw = data
    refuse_densifying(monkeypatch, X.shape[1])
    with pytest.raises(AssertionError, match="densified"):
        X.toarray()  # the patch holds
    early_stopping = early_stopping and solver != "lbfgs"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier(hidden_layer_sizes=(8,), solver=solver, max_iter=3,
                              early_stopping=early_stopping,
                              random_state=0).fit(X.tocsc(), y, sample_weight=sw)
        if solver != "lbfgs" and not early_stopping:
            model.partial_fit(X, y)
    assert model.predict_proba(X).shape == (X.shape[0], 3)


def test_peak_memory_stays_far_below_the_dense_size():
    """5,000 x 2^18 float64 would be 10 GiB dense; the fit must stay under 1 GiB in all.

    The peak is the child process's own high-water mark: VmHWM of /proc/self/status where
    there is one (ru_maxrss is not: Linux carries the parent's peak across fork and exec,
    so a child of a large test process would report the parent's size), else tracemalloc's
    peak of the fit (NumPy's arrays included)."""
    script = textwrap.dedent("""
        import os, tracemalloc, warnings
        import numpy as np, scipy.sparse as sp
        from nnfast.sklearn import MLPClassifier
        rng = np.random.default_rng(0)
        n, k, per_row = 5000, 2 ** 18, 30
        indptr = np.arange(0, n * per_row + 1, per_row)
        X = sp.csr_matrix((rng.random(n * per_row), rng.integers(0, k, n * per_row), indptr),
                          shape=(n, k))
        y = rng.integers(0, 2, n)
        warnings.simplefilter("ignore")
        tracemalloc.start()
        MLPClassifier(hidden_layer_sizes=(4,), solver="adam", max_iter=2, batch_size=500,
                      random_state=0).fit(X, y)
        peak_kib = tracemalloc.get_traced_memory()[1] // 1024
        if os.path.exists("/proc/self/status"):
            with open("/proc/self/status") as status:
                peak_kib = next(int(line.split()[1]) for line in status
                                if line.startswith("VmHWM:"))
        print(peak_kib)
    """)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(nnfast.__file__)))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=600, check=True)
    peak_kib = int(out.stdout.split()[-1])
    assert peak_kib < 1024 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"


PEAK_SCRIPT = textwrap.dedent("""
    import json, os, sys, tracemalloc, warnings
    import numpy as np, scipy.sparse as sp
    from nnfast.sklearn import MLPClassifier
    solver, k, hidden = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(0)
    n, per_row = 2000, 20
    indptr = np.arange(0, n * per_row + 1, per_row)
    X = sp.csr_matrix((rng.random(n * per_row), rng.integers(0, k, n * per_row), indptr),
                      shape=(n, k))
    y = rng.integers(0, 3, n)
    warnings.simplefilter("ignore")
    MLPClassifier(hidden_layer_sizes=(2,), max_iter=1).fit(X[:50, :50], y[:50])  # imports

    def status(field):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field))

    rss_kib = status("VmRSS:")
    try:  # the high-water mark from here on (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    tracemalloc.start()
    MLPClassifier(hidden_layer_sizes=(hidden,), solver=solver, max_iter=2,
                  random_state=0).fit(X, y)
    traced = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"rise": (status("VmHWM:") - rss_kib) * 1024, "traced": traced}))
""")


# The arrays as large as the parameters that a fit needs: the parameters and their gradient,
# and the optimizer's state (adam's two moments, sgd's velocity)
COPIES_NEEDED = {"adam": 4, "sgd": 3}


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc/self/status")
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_peak_memory_of_a_sparse_fit_is_the_copies_it_needs(solver):
    """The fit's peak, measured in a child process as the rise of its resident high-water
    mark (VmHWM) above the resident set before the fit, holds the parameter-sized arrays the
    solver needs (COPIES_NEEDED) and half a copy more for everything else: no copy of the
    weights for the optimizer object, the best-loss bookkeeping or the model they came
    from. tracemalloc's peak (every allocation, touched or not) may add one copy: the
    gradient scikit-learn's _fit allocates, never writes and hands to its solver."""
    k, hidden = 2 ** 17, 32
    size = (k + 1) * hidden * 8  # bytes of the first layer's weights and bias
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(nnfast.__file__)))
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, solver, str(k), str(hidden)],
                         env=env, capture_output=True, text=True, timeout=600, check=True)
    peak = json.loads(out.stdout.split("\n")[-2])
    copies = COPIES_NEEDED[solver]
    assert peak["rise"] < (copies + 0.5) * size, f"{peak['rise'] / size:.2f} copies"
    assert peak["traced"] < (copies + 1.5) * size, f"{peak['traced'] / size:.2f} copies"


def test_dropout_with_sparse_x_is_refused(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="dropout"):
        MLPClassifier(hidden_layer_sizes=(8,), dropout=0.2, max_iter=2).fit(X, y)


def test_nan_in_sparse_x_is_refused(data):
    X, y, _, _ = data
    bad = X.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN|infinity"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=2).fit(bad, y)


# ---- the core's csr_loss_gradient against loss_gradient on the dense rows --------------------

@pytest.mark.parametrize("output,loss", [("softmax", "cross_entropy"), ("identity", "mse"),
                                         ("tanh", "huber"), ("sigmoid", "binary_cross_entropy"),
                                         ("exp", "poisson"), ("identity", "mae")])
@pytest.mark.parametrize("weighted", [False, True])
def test_csr_loss_gradient_is_the_dense_one(output, loss, weighted):
    rng = np.random.default_rng(5)
    model = MLP([40, 9, 5, 3], "relu", output=output, loss=loss, seed=3)
    X = sp.random(30, 40, density=0.15, random_state=4, format="csr")
    Y = rng.random((30, 3))
    if loss == "cross_entropy":
        Y = np.eye(3)[rng.integers(0, 3, 30)]
    rows = np.array([4, 0, 29, 11, 11, 7], dtype=np.int64)
    sw = rng.random(6) + 0.1 if weighted else None
    params = model._params
    g_sparse, g_dense = np.empty_like(params), np.empty_like(params)
    csr = _sparse.as_csr(X, np.float64)
    Yb = np.ascontiguousarray(Y[rows])
    l_sparse = _core.csr_loss_gradient(params, model._net, csr.indptr, csr.indices, csr.data,
                                       rows, Yb, 0.2, g_sparse, sw)
    l_dense = _core.loss_gradient(params, model._net, np.ascontiguousarray(X.toarray()[rows]),
                                  Yb, 0.2, g_dense, sw)
    assert l_sparse == pytest.approx(l_dense, rel=1e-12)
    np.testing.assert_allclose(g_sparse, g_dense, rtol=1e-10, atol=1e-14)


def test_csr_loss_gradient_refuses_bad_rows_untouched():
    model = MLP([10, 4, 2], "tanh", output="softmax", loss="cross_entropy")
    csr = _sparse.as_csr(sp.random(5, 10, density=0.3, random_state=0, format="csr"),
                         np.float64)
    grads = np.full_like(model._params, 7.0)
    Y = np.eye(2)[[0, 1]]
    for rows, sw in [(np.array([0, 5]), None), (np.array([0, 1]), np.array([0.0, 0.0])),
                     (np.array([0, 1]), np.array([1.0, -1.0]))]:
        with pytest.raises(ValueError, match="nncore"):
            _core.csr_loss_gradient(model._params, model._net, csr.indptr, csr.indices,
                                    csr.data, rows.astype(np.int64), Y, 0.0, grads, sw)
        assert (grads == 7.0).all()


# ---- nnfast.MLP.fit on sparse X ---------------------------------------------------------------

@pytest.mark.parametrize("options", [dict(optimizer="sgd", momentum=0.9, nesterov=True),
                                     dict(optimizer="adam", lr=0.01),
                                     dict(optimizer="lbfgs", max_iter=8)],
                         ids=["sgd", "adam", "lbfgs"])
def test_mlp_fit_on_csr_equals_the_dense_rows(data, options, monkeypatch):
    X, y, _, sw = data
    models = []
    for rows in (X.toarray(), X.tocsc()):
        if not isinstance(rows, np.ndarray):
            refuse_densifying(monkeypatch, X.shape[1])
        seen = []
        model = MLP([300, 10, 3], "relu", output="softmax", seed=1)
        model.fit(rows, y, epochs=5, batch_size=32, sample_weight=sw, alpha=0.01,
                  callback=lambda epoch, loss, forward: seen.append(forward(rows[:2])),
                  **options)
        models.append((model, seen))
    (dense, seen_dense), (sparse, seen_sparse) = models
    np.testing.assert_allclose(sparse._params, dense._params, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=RTOL)
    np.testing.assert_allclose(seen_sparse, seen_dense, rtol=RTOL, atol=1e-12)


def test_mlp_fit_on_sparse_x_refuses_validation_and_dropout(data):
    X, y, _, _ = data
    before = MLP([300, 6, 3], "relu", output="softmax", seed=2)
    params = before._params.copy()
    for kwargs in (dict(validation_fraction=0.2), dict(validation_data=(X[:10], y[:10])),
                   dict(early_stopping=True, validation_fraction=0.2)):
        with pytest.raises(ValueError, match="sparse X"):
            before.fit(X, y, epochs=2, **kwargs)
    with pytest.raises(ValueError, match="dropout"):
        MLP([300, 6, 3], "relu", output="softmax", dropout=0.3).fit(X, y, epochs=2)
    np.testing.assert_array_equal(before._params, params)
