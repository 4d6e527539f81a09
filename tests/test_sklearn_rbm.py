"""nnfast.sklearn.BernoulliRBM against scikit-learn's: the same chain for the same
random_state, trained by nnfast's kernels where they pay; scikit-learn's own RBM tests and its
gallery example with the import switched."""
import warnings

import numpy as np
import pytest
from scipy.ndimage import convolve
from sklearn import linear_model, metrics, neural_network
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import minmax_scale

import nnfast.ops
from nnfast.sklearn import BernoulliRBM
from nnfast.sklearn._rbm import NATIVE_MIN_WORK

from helpers import assert_close
from test_sklearn_dropin import run_scikit_learn_test, scikit_learn_tests

STATE = ("components_", "intercept_hidden_", "intercept_visible_", "h_samples_")


@pytest.fixture
def kernels(monkeypatch):
    """Counts the calls of nnfast's kernels, and fails the test if scikit-learn's own
    arithmetic ran for an nnfast RBM."""
    calls = {"nnfast": 0, "scikit-learn": []}
    for name in ("dense_forward", "dense_linear", "matmul"):
        original = getattr(nnfast.ops, name)

        def counted(*args, _original=original, **kwargs):
            calls["nnfast"] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(nnfast.ops, name, counted)
    for name in ("_fit", "_mean_hiddens", "_sample_visibles", "_free_energy"):
        original = getattr(neural_network.BernoulliRBM, name)

        def sklearn_counted(self, *args, _name=name, _original=original, **kwargs):
            if isinstance(self, BernoulliRBM):
                calls["scikit-learn"].append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(neural_network.BernoulliRBM, name, sklearn_counted)
    return calls


def binary_data(n_samples=512, n_features=160, seed=0):
    return (np.random.RandomState(seed).rand(n_samples, n_features) < 0.3).astype(np.float64)


def assert_same_rbm(ours, theirs, rtol):
    for name in STATE:
        a, b = getattr(ours, name), getattr(theirs, name)
        assert a.dtype == b.dtype, name
        assert_close(name, a, b, rtol, rtol * np.abs(b).max())


# n_components x n_features x batch rows = 64 x 160 x 128 (512 rows in 4 batches)
# >= NATIVE_MIN_WORK: the kernels run
NATIVE = dict(n_components=64, batch_size=128, n_iter=4, learning_rate=0.05, random_state=3)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-6), (np.float32, 1e-3)])
def test_fit_is_scikit_learns_chain_for_the_same_random_state(dtype, rtol, kernels):
    assert NATIVE["n_components"] * 160 * NATIVE["batch_size"] >= NATIVE_MIN_WORK
    X = binary_data().astype(dtype)
    ours = BernoulliRBM(**NATIVE).fit(X)
    assert kernels["nnfast"] >= 4 * 4 * 3 and kernels["scikit-learn"] == []
    theirs = neural_network.BernoulliRBM(**NATIVE).fit(X)
    assert_same_rbm(ours, theirs, rtol)
    assert np.abs(ours.components_).max() > 0.05  # it trained (the start is N(0, 0.01))
    # the hidden samples are the same draws: binary and equal
    assert np.array_equal(ours.h_samples_, theirs.h_samples_)


def test_transform_gibbs_and_score_samples_match(kernels):
    X = binary_data()
    ours = BernoulliRBM(**NATIVE).fit(X)
    theirs = neural_network.BernoulliRBM(**NATIVE).fit(X)
    # 512 rows x 160 x 64: transform and the free energies run in the kernels
    assert_close("transform", ours.transform(X), theirs.transform(X), 1e-6, 1e-12)
    assert_close("score_samples", ours.score_samples(X), theirs.score_samples(X), 1e-6)
    assert np.array_equal(ours.gibbs(X), theirs.gibbs(X))
    assert kernels["scikit-learn"] == []


def test_partial_fit_stream_matches(kernels):
    X = binary_data(n_samples=512)
    kw = dict(n_components=64, batch_size=128, learning_rate=0.05, random_state=0)
    ours, theirs = BernoulliRBM(**kw), neural_network.BernoulliRBM(**kw)
    for chunk in np.split(X, 4):
        ours.partial_fit(chunk)
        theirs.partial_fit(chunk)
    assert kernels["scikit-learn"] == [] and kernels["nnfast"] > 0
    assert_same_rbm(ours, theirs, 1e-6)


def test_small_products_keep_scikit_learns_arithmetic_and_numbers():
    X = binary_data(n_samples=100, n_features=20)
    kw = dict(n_components=8, n_iter=3, random_state=0)  # 10 x 20 x 8: NumPy pays
    ours = BernoulliRBM(**kw).fit(X)
    theirs = neural_network.BernoulliRBM(**kw).fit(X)
    for name in STATE:
        assert np.array_equal(getattr(ours, name), getattr(theirs, name)), name


def test_sparse_input_gives_the_dense_result():
    import scipy.sparse
    X = binary_data()
    dense = BernoulliRBM(**NATIVE).fit(X)
    sparse = BernoulliRBM(**NATIVE).fit(scipy.sparse.csr_matrix(X))
    assert_same_rbm(sparse, dense, 1e-12)
    assert_close("transform", sparse.transform(scipy.sparse.csr_matrix(X)), dense.transform(X),
                 1e-12, 1e-15)


def test_parameters_and_clone():
    assert BernoulliRBM().get_params() == neural_network.BernoulliRBM().get_params()
    rbm = BernoulliRBM(n_components=3, random_state=0).fit(binary_data(50, 6))
    assert not hasattr(clone(rbm), "components_")
    assert rbm.get_feature_names_out().tolist() == ["bernoullirbm0", "bernoullirbm1",
                                                    "bernoullirbm2"]


from sklearn.neural_network.tests import test_rbm  # noqa: E402

RBM_REPLACEMENTS = {neural_network.BernoulliRBM: BernoulliRBM}


@pytest.mark.parametrize("test,params", scikit_learn_tests(test_rbm, RBM_REPLACEMENTS))
def test_scikit_learns_rbm_tests_with_the_import_switched(test, params, request):
    run_scikit_learn_test(test_rbm, RBM_REPLACEMENTS, test, params, request)


def test_the_gallery_example_with_the_import_switched():
    """scikit-learn's gallery example "Restricted Boltzmann Machine features for digit
    classification" (plot_rbm_logistic_classification.py), with its import switched; it
    reports the same classification as with scikit-learn's RBM."""

    def nudge_dataset(X, Y):
        direction_vectors = [[[0, 1, 0], [0, 0, 0], [0, 0, 0]],
                             [[0, 0, 0], [1, 0, 0], [0, 0, 0]],
                             [[0, 0, 0], [0, 0, 1], [0, 0, 0]],
                             [[0, 0, 0], [0, 0, 0], [0, 1, 0]]]

        def shift(x, w):
            return convolve(x.reshape((8, 8)), mode="constant", weights=w).ravel()

        X = np.concatenate([X] + [np.apply_along_axis(shift, 1, X, vector)
                                  for vector in direction_vectors])
        Y = np.concatenate([Y for _ in range(5)], axis=0)
        return X, Y

    X, Y = load_digits(return_X_y=True)
    X = np.asarray(X, "float32")
    X, Y = nudge_dataset(X, Y)
    X = minmax_scale(X, feature_range=(0, 1))  # 0-1 scaling
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=0.2, random_state=0)

    def report(rbm_class):
        logistic = linear_model.LogisticRegression(solver="newton-cg", tol=1)
        rbm = rbm_class(random_state=0, verbose=True)
        rbm_features_classifier = Pipeline(steps=[("rbm", rbm), ("logistic", logistic)])
        rbm.learning_rate = 0.06
        rbm.n_iter = 10
        rbm.n_components = 100
        logistic.C = 6000
        rbm_features_classifier.fit(X_train, Y_train)
        Y_pred = rbm_features_classifier.predict(X_test)
        return metrics.classification_report(Y_test, Y_pred), rbm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ours, rbm = report(BernoulliRBM)
        theirs, _ = report(neural_network.BernoulliRBM)
    assert isinstance(rbm, BernoulliRBM) and rbm.components_.shape == (100, 64)
    assert ours == theirs
