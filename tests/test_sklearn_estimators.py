"""nnfast.sklearn's estimators as scikit-learn estimators: the estimator checks, parameters,
attributes, methods, targets, input kinds, errors and warnings."""
import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse
from sklearn import linear_model, neural_network
from sklearn.base import clone
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import estimator_checks_generator

import nnfast
from nnfast.sklearn import BernoulliRBM, MLPClassifier, MLPRegressor, Perceptron


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Results are bit-identical for any thread count; one thread keeps these small fits fast
    # on a loaded machine, where waiting OpenMP threads spin.
    before = nnfast.get_num_threads()
    nnfast.set_num_threads(1)
    yield
    nnfast.set_num_threads(before)

# Expected failures: exactly those scikit-learn lists for its own estimators
# (sklearn.utils._test_common.instance_generator): its Perceptron's SGD epochs weigh a sample
# by scaling its update, which is not equivalent to repeating the sample, and so do ours.
PERCEPTRON_XFAIL = {
    "check_sample_weight_equivalence_on_dense_data":
        "sample_weight is not equivalent to removing/repeating samples.",
    "check_sample_weight_equivalence_on_sparse_data":
        "sample_weight is not equivalent to removing/repeating samples.",
}


# scikit-learn's for its BernoulliRBM: score_samples corrupts one random feature per row, so
# a row's score depends on its place in the batch.
RBM_XFAIL = {
    "check_methods_subset_invariance": "fails for the decision_function method",
    "check_methods_sample_order_invariance": "fails for the score_samples method",
}


def expected_failed_checks(estimator):
    if isinstance(estimator, BernoulliRBM):
        return RBM_XFAIL
    return PERCEPTRON_XFAIL if isinstance(estimator, Perceptron) else {}


# Checks that do not apply, left out of the run rather than skipped by scikit-learn inside it
# (a skipped check would pass without checking anything).
NOT_APPLICABLE = {
    # runs only with SCIPY_ARRAY_API=1; nnfast computes on NumPy arrays in its C core
    "check_array_api_input",
    # MLPClassifier has no decision_function, in scikit-learn as here
    "check_classifiers_multilabel_output_format_decision_function",
}


def estimator_checks():
    """(estimator, check) pairs of scikit-learn's estimator checks, minus NOT_APPLICABLE.
    max_iter is kept small so the checks run in seconds; checks that need a converged model
    set max_iter themselves (set_checking_parameters)."""
    # BernoulliRBM with the parameters scikit-learn checks its own with
    for estimator in (MLPClassifier(max_iter=50), MLPRegressor(max_iter=50), Perceptron(),
                      BernoulliRBM(n_iter=5, batch_size=10)):
        for item in estimator_checks_generator(
                estimator, expected_failed_checks=expected_failed_checks(estimator),
                mark="xfail", xfail_strict=True):
            # expected failures come as pytest.param(estimator, check, marks=strict xfail)
            _, check = item.values if hasattr(item, "values") else item
            if getattr(check, "func", check).__name__ not in NOT_APPLICABLE:
                yield item


@pytest.mark.parametrize("estimator,check", estimator_checks(),
                         ids=lambda value: getattr(getattr(value, "func", value), "__name__",
                                                   repr(value)))
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.fixture
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kw)


@pytest.mark.parametrize("ours,theirs", [(MLPClassifier, neural_network.MLPClassifier),
                                         (MLPRegressor, neural_network.MLPRegressor),
                                         (Perceptron, linear_model.Perceptron),
                                         (BernoulliRBM, neural_network.BernoulliRBM)])
def test_every_scikit_learn_parameter_with_its_default(ours, theirs):
    mine, sk = ours().get_params(), theirs().get_params()
    for name, value in sk.items():
        assert name in mine, name
        assert mine[name] == value, (name, mine[name], value)
    extra = set(mine) - set(sk)
    # nnfast's own: dtype, and the extras class_weight (the classifier), dropout (both) and
    # huber_delta (the regressor)
    assert extra == {MLPClassifier: {"dtype", "class_weight", "dropout"},
                     MLPRegressor: {"dtype", "dropout", "huber_delta"}}.get(ours, set())
    assert isinstance(ours(), theirs)


def test_fitted_attributes_of_the_classifier(iris):
    X, y = iris
    clf = quiet(MLPClassifier(hidden_layer_sizes=(7, 5), max_iter=30, random_state=0,
                                learning_rate_init=0.05).fit, X, y)
    assert list(clf.classes_) == [0, 1, 2]
    assert [W.shape for W in clf.coefs_] == [(4, 7), (7, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(7,), (5,), (3,)]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 3 and clf.out_activation_ == "softmax"
    assert clf.n_iter_ == 30 == len(clf.loss_curve_) and clf.t_ == 30 * 150
    assert clf.loss_ == clf.loss_curve_[-1] and clf.best_loss_ == min(clf.loss_curve_)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert clf.n_features_in_ == 4
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(1), 1)
    assert np.allclose(np.exp(clf.predict_log_proba(X)), proba)
    assert np.array_equal(clf.predict(X), proba.argmax(1))
    assert clf.score(X, y) > 0.8


def test_feature_names_in_from_a_dataframe(iris):
    import pandas as pd
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = quiet(MLPClassifier(max_iter=5, random_state=0).fit, frame, y)
    assert list(clf.feature_names_in_) == ["a", "b", "c", "d"]


def test_string_labels_binary_and_multiclass(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = quiet(MLPClassifier(max_iter=40, random_state=0).fit, X, names)
    assert set(clf.predict(X)) <= set(names) and clf.score(X, names) > 0.8
    binary = np.where(y == 0, "yes", "no")
    clf = quiet(MLPClassifier(max_iter=40, random_state=0).fit, X, binary)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    assert clf.predict_proba(X).shape == (150, 2) and clf.score(X, binary) > 0.9
    p = Perceptron(random_state=0).fit(X, names)
    assert p.coef_.shape == (3, 4) and p.decision_function(X).shape == (150, 3)
    assert p.score(X, names) > 0.7


def test_multilabel_and_multioutput_targets():
    X, Y = make_multilabel_classification(n_samples=120, n_classes=4, random_state=0)
    clf = quiet(MLPClassifier(max_iter=60, random_state=0).fit, X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 4
    assert clf.predict(X).shape == (120, 4) and set(np.unique(clf.predict(X))) <= {0, 1}
    assert clf.score(X, Y) > 0.3
    X, Y = make_regression(n_samples=100, n_features=5, n_targets=3, random_state=0)
    reg = quiet(MLPRegressor(solver="lbfgs", max_iter=300, random_state=0).fit, X, Y / 100)
    assert reg.predict(X).shape == (100, 3) and reg.score(X, Y / 100) > 0.9


def test_float32_training_when_asked(iris):
    X, y = iris
    clf = quiet(MLPClassifier(max_iter=20, random_state=0, dtype="float32").fit, X, y)
    assert all(W.dtype == np.float32 for W in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X).dtype == np.float32
    default = quiet(MLPClassifier(max_iter=20, random_state=0).fit, X, y)
    assert all(W.dtype == np.float64 for W in default.coefs_)
    # the same run in float32 and float64 stays within float32 accuracy of each other
    assert np.allclose(clf.loss_curve_, default.loss_curve_, rtol=1e-4)
    # an explicit dtype wins over X's
    clf64 = quiet(MLPClassifier(max_iter=2, random_state=0, dtype="float64").fit,
                  X.astype(np.float32), y)
    assert all(W.dtype == np.float64 for W in clf64.coefs_ + clf64.intercepts_)
    with pytest.raises(ValueError, match="dtype"):
        MLPClassifier(dtype="float16").fit(X, y)


def test_sparse_csr_input_gives_the_dense_result(iris):
    X, y = iris
    dense = quiet(MLPClassifier(max_iter=10, random_state=0).fit, X, y)
    sparse = quiet(MLPClassifier(max_iter=10, random_state=0).fit, scipy.sparse.csr_matrix(X), y)
    # sparse X trains on its CSR rows (never densified): the dense run to rounding
    # (docs/semantics.md, "Sparse input")
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-9, atol=0)
    assert np.allclose(sparse.predict_proba(scipy.sparse.csr_matrix(X)), dense.predict_proba(X))
    # the Perceptron trains on sparse rows as scikit-learn's does on them (its sparse rule
    # moves the intercept by 0.01 of each step): tests/test_sparse_perceptron.py
    p1 = Perceptron(shuffle=False).fit(scipy.sparse.csr_matrix(X), y)
    p2 = linear_model.Perceptron(shuffle=False).fit(scipy.sparse.csr_matrix(X), y)
    assert np.allclose(p1.coef_, p2.coef_)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_sample_weight_zero_is_like_dropping_rows_and_integer_weights_matter(iris, solver):
    X, y = iris
    keep = np.arange(150) % 3 != 0
    sw = keep.astype(float)
    kw = dict(solver=solver, max_iter=15, random_state=0, shuffle=False)
    weighted = quiet(MLPClassifier(**kw).fit, X, y, sample_weight=sw)
    dropped = quiet(MLPClassifier(**kw).fit, X[keep], y[keep])
    if solver != "lbfgs":
        assert np.allclose(weighted.loss_curve_, dropped.loss_curve_, rtol=1e-12)
    assert np.allclose(weighted.coefs_[0], dropped.coefs_[0], rtol=1e-8, atol=1e-12)
    plain = quiet(MLPClassifier(**kw).fit, X, y)
    assert not np.allclose(weighted.coefs_[0], plain.coefs_[0])


def test_sample_weight_matches_scikit_learn(iris):
    X, y = iris
    sw = np.random.default_rng(0).uniform(0.2, 3, 150)
    kw = dict(solver="sgd", max_iter=10, random_state=0, batch_size=32)
    ours = quiet(MLPClassifier(**kw).fit, X, y, sample_weight=sw)
    theirs = quiet(neural_network.MLPClassifier(**kw).fit, X, y, sample_weight=sw)
    assert np.allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)


def test_partial_fit_stream_with_classes_on_the_first_call(iris):
    X, y = iris
    clf = MLPClassifier(random_state=0, learning_rate_init=0.01)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X[:10], y[:10])
    for start in range(0, 150, 30):
        rows = np.random.default_rng(start).permutation(150)[:50]
        clf.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
    assert clf.n_iter_ == 1 and clf.t_ == 250 and len(clf.loss_curve_) == 5
    for _ in range(20):
        clf.partial_fit(X, y)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0] and clf.score(X, y) > 0.85
    with pytest.raises(AttributeError):
        MLPClassifier(solver="lbfgs").partial_fit
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_warm_start_continues_and_cold_start_restarts(iris):
    X, y = iris
    kw = dict(max_iter=10, random_state=0)
    warm = quiet(MLPClassifier(warm_start=True, **kw).fit, X, y)
    first = [W.copy() for W in warm.coefs_]
    quiet(warm.fit, X, y)
    assert len(warm.loss_curve_) == 20 and not np.allclose(first[0], warm.coefs_[0])
    cold = quiet(MLPClassifier(**kw).fit, X, y)
    quiet(cold.fit, X, y)
    assert len(cold.loss_curve_) == 10 and np.allclose(first[0], cold.coefs_[0])


def test_early_stopping_keeps_the_best_validation_weights(iris):
    X, y = iris
    clf = MLPClassifier(early_stopping=True, max_iter=200, n_iter_no_change=3, tol=1e-2,
                        random_state=0, learning_rate_init=0.01)
    quiet(clf.fit, X, y)
    assert clf.best_loss_ is None and len(clf.validation_scores_) == clf.n_iter_ < 200
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    params = {k: v for k, v in clf.get_params().items()
              if k not in ("dtype", "class_weight", "dropout")}
    theirs = quiet(neural_network.MLPClassifier(**params).fit, X, y)
    assert clf.validation_scores_ == pytest.approx(theirs.validation_scores_)
    assert np.allclose(clf.coefs_[0], theirs.coefs_[0], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
def test_learning_rate_schedules_match_scikit_learn(iris, learning_rate):
    X, y = iris
    kw = dict(solver="sgd", learning_rate=learning_rate, learning_rate_init=0.2, max_iter=60,
              n_iter_no_change=2, tol=1e-2, random_state=0, power_t=0.3)
    ours = quiet(MLPClassifier(**kw).fit, X, y)
    theirs = quiet(neural_network.MLPClassifier(**kw).fit, X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert np.allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-8)


def test_convergence_warning_at_max_iter(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning):
        MLPClassifier(max_iter=3, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        MLPRegressor(max_iter=3, random_state=0).fit(X, X[:, 0])
    with pytest.warns(ConvergenceWarning):
        Perceptron(max_iter=1, tol=1e-9).fit(X, y)


def test_a_diverging_loss_is_a_clear_error(iris):
    X, y = iris
    reg = MLPRegressor(solver="sgd", learning_rate_init=10.0, momentum=0.0, max_iter=50,
                       random_state=0)
    with pytest.raises(ValueError, match="non-finite"):
        reg.fit(X * 1e3, X[:, 0] * 1e6)
    # the model is not left half-updated: a warm start after the error starts where it was
    reg = quiet(MLPRegressor(solver="sgd", max_iter=2, random_state=0, warm_start=True).fit,
                X, X[:, 0])
    before = [W.copy() for W in reg.coefs_]
    reg.set_params(learning_rate_init=10.0, momentum=0.0, max_iter=50)
    with pytest.raises(ValueError, match="non-finite"):
        reg.fit(X * 1e3, X[:, 0] * 1e6)
    assert all(np.array_equal(W, B) for W, B in zip(reg.coefs_, before))


def test_bad_input_is_a_clear_error(iris):
    X, y = iris
    clf = quiet(MLPClassifier(max_iter=2).fit, X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier().fit(np.where(X > 2, np.nan, X), y)
    with pytest.raises(ValueError, match="hidden_layer_sizes|activation"):
        MLPClassifier(activation="step").fit(X, y)
    zero_batch = np.where(np.arange(150) < 50, 0.0, 1.0)
    with pytest.raises(ValueError, match="sample weights of a batch sum to zero"):
        MLPClassifier(max_iter=2, batch_size=50, shuffle=False).fit(X, y, zero_batch)


@pytest.mark.parametrize("make", [
    lambda: MLPClassifier(hidden_layer_sizes=(6,), max_iter=10, random_state=0),
    lambda: MLPClassifier(solver="lbfgs", max_iter=10, random_state=0),
    lambda: MLPRegressor(max_iter=10, random_state=0),
    lambda: Perceptron(random_state=0)])
def test_clone_pickle_and_joblib_round_trips(iris, make, tmp_path):
    X, y = iris
    est = quiet(make().fit, X, y if not isinstance(make(), MLPRegressor) else X[:, 0])
    fresh = clone(est)
    assert fresh.get_params() == est.get_params() and not hasattr(fresh, "n_iter_")
    again = pickle.loads(pickle.dumps(est))
    joblib.dump(est, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    for copy in (again, loaded):
        assert np.array_equal(copy.predict(X), est.predict(X))
    if isinstance(est, MLPClassifier) and est.solver != "lbfgs":
        # the optimizer state travels too: a partial_fit continues identically
        quiet(again.partial_fit, X, y)
        quiet(est.partial_fit, X, y)
        assert np.array_equal(again.coefs_[0], est.coefs_[0])


def test_pipeline(iris):
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=200, random_state=0))
    assert quiet(pipe.fit, X, y).score(X, y) > 0.9


def test_an_overflowing_prediction_is_inf_as_in_scikit_learn(iris):
    """scikit-learn's forward pass lets a value overflow to inf; so does the drop-in (the
    nnfast MLP.forward would raise FloatingPointError instead)."""
    X, _ = iris
    reg = quiet(MLPRegressor(hidden_layer_sizes=(3,), activation="identity", max_iter=3,
                             random_state=0).fit, X, X[:, 0])
    for W in reg.coefs_:
        W[...] = 1e300
    predicted = reg.predict(X[:2])
    assert np.isinf(predicted).all()
