"""Scale-out: n_jobs in GridSearchCV and cross_val_score (worker processes and threads), and
joblib's dask backend on a dask.distributed LocalCluster of two worker processes."""
import warnings

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.preprocessing import StandardScaler

from nnfast.sklearn import MLPClassifier, MLPRegressor, Perceptron


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def grid():
    return GridSearchCV(MLPClassifier(max_iter=30, random_state=0, learning_rate_init=0.01),
                        {"hidden_layer_sizes": [(4,), (16,)], "alpha": [1e-4, 1e-2]}, cv=3)


def test_grid_search_with_two_worker_processes_matches_serial(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        serial = grid().fit(X, y)
        parallel = grid().set_params(n_jobs=2).fit(X, y)
    assert np.array_equal(serial.cv_results_["mean_test_score"],
                          parallel.cv_results_["mean_test_score"])
    assert parallel.best_score_ > 0.8
    assert isinstance(parallel.best_estimator_, MLPClassifier)


def test_cross_val_score_with_two_jobs_in_processes_and_threads(iris):
    X, y = iris
    est = Perceptron(random_state=0)
    serial = cross_val_score(est, X, y, cv=3)
    processes = cross_val_score(est, X, y, cv=3, n_jobs=2)
    with joblib.parallel_config(backend="threading"):
        # concurrent fits in one process: the core keeps no shared state between models
        threads = cross_val_score(MLPRegressor(max_iter=20, random_state=0), X, X[:, 0], cv=4,
                                  n_jobs=2)
    again = cross_val_score(MLPRegressor(max_iter=20, random_state=0), X, X[:, 0], cv=4)
    assert np.array_equal(serial, processes)
    assert np.array_equal(threads, again)


def test_grid_search_on_a_dask_local_cluster_of_two_processes(iris):
    import dask
    from dask.distributed import Client, LocalCluster

    X, y = iris
    # forkserver: workers forked from a clean single-threaded server (see FORKSERVER in
    # tests/test_dask_fit.py); spawn's default would start each from scratch (tens of seconds)
    forkserver = {"distributed.worker.multiprocessing-method": "forkserver"}
    with dask.config.set(forkserver), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                         dashboard_address=None) as cluster, Client(cluster) as client:
        with joblib.parallel_config(backend="dask"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search = grid().fit(X, y)
        workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        local = grid().fit(X, y)
    assert np.array_equal(search.cv_results_["mean_test_score"],
                          local.cv_results_["mean_test_score"])
