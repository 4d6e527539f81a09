"""nnfast.sklearn's predictions from the weights a fit leaves: the same outputs as from copies.

After a fit, coefs_ and intercepts_ are views of the training handle's one parameter vector;
prediction runs the core's forward on that vector (no copy of the weights, no model built a
call) and takes a plain, finite float ndarray of the fitted width without scikit-learn's
input checks. Weights assigned, loaded or copied take the general route (a model of their
own). Both routes must give the same bits, see weights changed in place, follow parameters
set after the fit, fall back to scikit-learn's NaN outputs for non-finite weights, refuse bad
input with scikit-learn's words, and pickle.
"""
import pickle
import warnings

import numpy as np
import pytest

import nnfast.sklearn as nsk


def data(n=120, k=30, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, k)).astype(dtype), rng.integers(0, 3, n)


def fitted(cls=nsk.MLPClassifier, dtype=np.float64, dtype_param=False, **kw):
    X, y = data(dtype=dtype)
    if dtype_param:  # nnfast's own parameter: float32 weights whatever X is
        kw["dtype"] = "float32"
    if cls is nsk.MLPRegressor:
        y = np.sin(X[:, :2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached
        return cls(hidden_layer_sizes=(20, 12), max_iter=5, random_state=0, **kw).fit(X, y), X


def with_copied_weights(est):
    """The same estimator with its weights as independent arrays (the general route)."""
    other = pickle.loads(pickle.dumps(est))
    other.coefs_ = [W.copy() for W in est.coefs_]
    other.intercepts_ = [b.copy() for b in est.intercepts_]
    return other


def outputs(est, X):
    if hasattr(est, "predict_proba"):
        return est.predict_proba(X)
    return est.predict(X)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cls", [nsk.MLPClassifier, nsk.MLPRegressor])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_predictions_from_the_fits_vector_equal_those_of_copied_weights(cls, activation, dtype):
    est, X = fitted(cls, dtype, activation=activation)
    copy = with_copied_weights(est)
    assert est._flat_weights() is not None and copy._flat_weights() is None
    for rows in (X[:1], X[:7], X):
        a, b = outputs(est, rows), outputs(copy, rows)
        assert a.dtype == b.dtype and np.array_equal(a, b)
    np.testing.assert_array_equal(est.predict(X), copy.predict(X))


def test_an_asked_precision_predicts_in_it_on_either_route():
    est, X = fitted(dtype=np.float64, dtype_param=True)
    copy = with_copied_weights(est)
    assert est._flat_weights() is not None and copy._flat_weights() is None
    for rows in (X[:1], X, X.astype(np.float32)):
        a, b = outputs(est, rows), outputs(copy, rows)
        assert a.dtype == b.dtype == np.float32 and np.array_equal(a, b)


def test_weights_changed_in_place_after_the_fit_are_the_ones_used():
    est, X = fitted()
    est.coefs_[0][0, :] += 0.5
    est.intercepts_[-1][:] -= 0.25
    assert est._flat_weights() is not None
    assert np.array_equal(outputs(est, X), outputs(with_copied_weights(est), X))
    # non-finite weights: scikit-learn's forward and its NaN outputs, on either route
    est.coefs_[0][3, 4] = np.nan
    a = outputs(est, X)
    assert np.isnan(a).any()
    assert np.array_equal(a, outputs(with_copied_weights(est), X), equal_nan=True)


def test_parameters_set_after_the_fit_are_the_ones_used():
    est, X = fitted(activation="relu")
    before = outputs(est, X)
    est.set_params(activation="tanh")
    after = outputs(est, X)
    assert not np.array_equal(before, after)
    assert np.array_equal(after, outputs(with_copied_weights(est), X))


@pytest.mark.parametrize("bad, message", [
    (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), "NaN"),
    (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.inf, X), "infinity"),
    (lambda X: X[:, :-1], "features"),
])
def test_bad_rows_are_refused_with_scikit_learns_words(bad, message):
    est, X = fitted()
    rows = bad(X[:4].copy())
    with pytest.raises(ValueError, match=message):
        est.predict(rows)
    with pytest.raises(ValueError, match=message):
        with_copied_weights(est).predict(rows)


def test_rows_the_checks_convert_give_the_same_outputs():
    est, X = fitted()
    want = outputs(est, X)
    copy = with_copied_weights(est)
    for rows in (np.asfortranarray(X), X.tolist(), X[:, ::1][::2], X.astype(np.float16),
                 X.astype(np.float32)):
        got = outputs(est, rows)
        assert got.dtype == outputs(copy, rows).dtype
        assert np.array_equal(got, outputs(copy, rows))
    assert np.array_equal(outputs(est, np.asfortranarray(X)), want)
    assert np.array_equal(outputs(est, X.tolist()), want)


def test_an_estimator_predicted_with_pickles_and_predicts_the_same():
    est, X = fitted()
    want = outputs(est, X)
    again = pickle.loads(pickle.dumps(est))
    assert np.array_equal(outputs(again, X), want)
