"""nnfast.dask on a LocalCluster of two worker processes: data-parallel L-BFGS against the
single-process fit, parameter averaging against a serial fit, lazy predict, a worker killed
in the middle of a fit, bad partitions, and the progress report."""
import logging
import os
import signal
import sys

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import nnfast  # noqa: E402
import nnfast.dask as nd  # noqa: E402

# Workers are forked from multiprocessing's fork server: a single-threaded process that has
# imported distributed and numpy, so a worker starts in a second, not the tens spawn takes.
# Not "fork": forking pytest's process copies whatever locks its other threads (the client's
# event loop, the thread pools of earlier tests) hold at that instant, and a worker that then
# takes one waits forever -- a hang seen once in a full run of the suite.
FORKSERVER = {"distributed.worker.multiprocessing-method": "forkserver"}
LAYERS = [6, 8, 3]


def local_cluster(n_workers):
    with dask.config.set(FORKSERVER):
        return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                        processes=True, dashboard_address=":0",
                                        silence_logs=logging.ERROR)


@pytest.fixture(scope="module")
def client():
    with local_cluster(2) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(240, LAYERS[0]))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.int64) + (X[:, 3] > 1)
    return X, y


def model(dtype="float64"):
    return nnfast.MLP(LAYERS, "tanh", seed=3, dtype=dtype)


def blocks(X, y, n_chunks):
    """X and y as dask arrays of n_chunks row blocks (uneven sizes)."""
    rows = np.array_split(np.arange(len(X)), n_chunks)
    chunks = (tuple(len(r) for r in rows),)
    return (da.from_array(X, chunks=(chunks[0], X.shape[1])), da.from_array(y, chunks=chunks))


def lbfgs(client, X, y, n_chunks, max_iter, **kwargs):
    fitted = model()
    nd.fit(fitted, *blocks(X, y, n_chunks), max_iter=max_iter, alpha=0.01, client=client,
           **kwargs)
    return fitted


@pytest.fixture(scope="module")
def two_worker_run(client, data):
    """An undisturbed L-BFGS run on two workers, 3 chunks, 12 iterations."""
    return lbfgs(client, *data, 3, 12)


# ---- L-BFGS --------------------------------------------------------------------------------

@pytest.mark.parametrize("n_chunks", [1, 3, 7])
def test_lbfgs_agrees_with_the_single_process_fit(client, data, n_chunks):
    X, y = data
    distributed_fit = lbfgs(client, X, y, n_chunks, 50)
    single = model()
    result = nd.lbfgs_in_process(single, X, y, max_iter=50, alpha=0.01)
    assert result.n_iter == 50 and len(distributed_fit.loss_curve_) == 50
    scale = np.max(np.abs(single.weights[0]))
    for a, b in zip(distributed_fit.weights + distributed_fit.biases,
                    single.weights + single.biases):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(distributed_fit.loss_curve_, single.loss_curve_, rtol=1e-6)
    assert distributed_fit.loss_curve_[-1] < 0.5 * distributed_fit.loss_curve_[0]


def test_lbfgs_is_bit_identical_on_one_and_two_workers(data, two_worker_run):
    X, y = data
    with local_cluster(1) as cluster, distributed.Client(cluster) as one:
        assert len(one.scheduler_info()["workers"]) == 1
        one_worker = lbfgs(one, X, y, 3, 12)
    for a, b in zip(one_worker.weights + one_worker.biases,
                    two_worker_run.weights + two_worker_run.biases):
        assert np.array_equal(a, b)
    assert one_worker.loss_curve_ == two_worker_run.loss_curve_


def test_a_killed_worker_does_not_change_the_weights(client, data, two_worker_run):
    X, y = data
    killed = []

    def kill_a_worker(iteration, loss, forward, progress):
        if iteration == 4:
            # the worker holding partition 0's rows of X: its partitions are lost with it
            holders = {address for addresses in client.who_has().values()
                       for address in addresses}
            address = sorted(holders)[0]
            pid = client.run(os.getpid, workers=[address])[address]
            os.kill(pid, signal.SIGKILL)
            killed.append(address)
        return False

    disturbed = lbfgs(client, X, y, 3, 12, callback=kill_a_worker)
    assert killed
    for a, b in zip(disturbed.weights + disturbed.biases,
                    two_worker_run.weights + two_worker_run.biases):
        assert np.array_equal(a, b)
    client.wait_for_workers(2, timeout=60)


def test_sample_weight_as_repeated_rows(client, data):
    """Integer weights train like the rows repeated: the weighted sums are exact."""
    X, y = data
    weights = np.arange(len(X)) % 3
    weighted = model()
    Xd, yd = blocks(X, y, 4)
    nd.fit(weighted, Xd, yd, sample_weight=da.from_array(weights, chunks=yd.chunks),
           max_iter=15, client=client)
    repeated = model()
    nd.lbfgs_in_process(repeated, np.repeat(X, weights, axis=0), np.repeat(y, weights),
                        max_iter=15)
    np.testing.assert_allclose(weighted.weights[0], repeated.weights[0], rtol=1e-6,
                               atol=1e-9)


def test_float32_lbfgs_trains(client, data):
    X, y = data
    fitted = model("float32")
    nd.fit(fitted, *blocks(X.astype(np.float32), y, 3), max_iter=20, client=client)
    assert fitted.weights[0].dtype == np.float32
    assert fitted.loss_curve_[-1] < 0.7 * fitted.loss_curve_[0]


# ---- the progress report -------------------------------------------------------------------

def test_progress_report_and_callback_stop(client, data, capsys):
    X, y = data
    reports = []

    def record(iteration, loss, forward, progress):
        reports.append((iteration, loss, progress, forward(X)))
        return iteration == 3

    fitted = lbfgs(client, X, y, 3, 30, callback=record, verbose=True)
    assert [r[0] for r in reports] == [0, 1, 2, 3]
    assert len(fitted.loss_curve_) == 4
    assert fitted.loss_curve_ == [r[1] for r in reports]
    n_params = fitted.n_params
    for iteration, loss, progress, outputs in reports:
        assert progress.iteration == iteration and progress.loss == loss
        assert progress.evaluations >= 1
        assert 0 <= progress.compute_seconds <= progress.seconds
        assert progress.communication_seconds == pytest.approx(
            progress.seconds - progress.compute_seconds)
        # parameters out to each worker that computed a partition (one or both); one
        # gradient and loss back
        sent = progress.bytes_to_workers / (8 * n_params * progress.evaluations)
        assert sent in (1, 2)
        assert progress.bytes_to_client == 8 * (n_params + 1) * progress.evaluations
        assert progress.bytes_between_workers % (8 * (n_params + 1)) == 0
        assert outputs.shape == (len(X), LAYERS[-1])
    # forward(X) gives the outputs of the weights reached at that iteration
    np.testing.assert_allclose(np.asarray(reports[-1][3]), fitted.forward(X), rtol=1e-12)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("iteration 1: loss ") and "native core" in printed[0]
    assert len(printed) == 4


def test_a_callback_written_for_mlp_fit_works_unchanged(client, data):
    # MLP.fit's callback takes (epoch, loss, forward): nnfast.dask calls it with those three
    X, y = data
    seen = []

    def fit_style(epoch, loss, forward):
        seen.append((epoch, loss))
        return epoch == 2

    fitted = lbfgs(client, X, y, 3, 30, callback=fit_style)
    assert [e for e, _ in seen] == [0, 1, 2]
    assert fitted.loss_curve_ == [loss for _, loss in seen]


# ---- averaging -----------------------------------------------------------------------------

def test_averaging_reaches_the_serial_accuracy_on_digits(client):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.3,
                                                        random_state=0)
    settings = dict(epochs=15, batch_size=32, lr=0.01, optimizer="adam")
    serial = nnfast.MLP([64, 32, 10], "relu", seed=0)
    serial.fit(X_train, y_train, **settings)
    averaged = nnfast.MLP([64, 32, 10], "relu", seed=0)
    nd.fit(averaged, *blocks(X_train, y_train, 4), solver="averaging", client=client,
           **settings)
    serial_accuracy = np.mean(serial.predict(X_test) == y_test)
    averaged_accuracy = np.mean(averaged.predict(X_test) == y_test)
    assert serial_accuracy > 0.9
    assert averaged_accuracy >= serial_accuracy - 0.02
    assert len(averaged.loss_curve_) == 15
    assert averaged.loss_curve_[-1] < averaged.loss_curve_[0]


def test_averaging_is_the_same_on_one_chunk_as_one_serial_epoch_each(client, data):
    """With one partition, averaging is the handle's own epoch: the same as serial epochs
    from the same stream state, as far as the stream matches (shuffle off)."""
    X, y = data
    averaged = model()
    nd.fit(averaged, *blocks(X, y, 1), solver="averaging", epochs=1, batch_size=16,
           lr=0.05, client=client)
    trainer = model().trainer(nnfast.models.training.FitSettings(batch_size=16, lr=0.05))
    trainer.rng_state = (model().rng_state + 0x9E3779B97F4A7C15) % 2**64
    trainer.epoch(X, y)
    # the average of one: (rows * parameters) / rows, equal up to that rounding
    np.testing.assert_allclose(averaged.weights[0], trainer.params[:LAYERS[0] * LAYERS[1]]
                               .reshape(LAYERS[0], LAYERS[1]), rtol=1e-15, atol=1e-16)
    assert not np.allclose(averaged.weights[0], model().weights[0])


# ---- predict -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["classes", "binary", "values"])
def test_predict_on_a_dask_array_equals_predict_on_numpy(client, data, kind):
    X, _ = data
    layers = {"classes": [6, 5, 3], "binary": [6, 5, 2], "values": [6, 5, 2]}[kind]
    output = {"classes": None, "binary": "sigmoid", "values": "identity"}[kind]
    fitted = nnfast.MLP(layers, "relu", output=output, seed=1)
    Xd = da.from_array(X, chunks=(50, 6))
    predicted = nd.predict(fitted, Xd)
    probabilities = nd.predict_proba(fitted, Xd)
    assert isinstance(predicted, da.Array) and isinstance(probabilities, da.Array)
    expected = fitted.predict(X)
    assert predicted.shape == expected.shape and predicted.dtype == expected.dtype
    assert np.array_equal(client.compute(predicted).result(), expected)
    assert np.array_equal(client.compute(probabilities).result(), fitted.forward(X))


def test_predict_sends_the_model_once(client, data):
    X, _ = data
    graph = dict(nd.predict(model(), da.from_array(X, chunks=(30, 6))).__dask_graph__())
    model_keys = [key for key in graph if str(key).startswith("nnfast-model-")]
    assert len(model_keys) == 1
    assert sum(str(key).startswith("predict_block") or "predict_block" in str(key)
               for key in graph) == 8


def test_predict_is_a_snapshot(client, data):
    X, _ = data
    fitted = model()
    lazy = nd.predict_proba(fitted, da.from_array(X, chunks=(60, 6)))
    before = fitted.forward(X)
    fitted.set_parameters([W * 2 for W in fitted.weights], fitted.biases)
    assert np.array_equal(client.compute(lazy).result(), before)


# ---- bad input -----------------------------------------------------------------------------

def unchanged(fitted, before):
    return all(np.array_equal(a, b) for a, b in zip(fitted.weights + fitted.biases, before))


def fit_refused(client, X, y, match, error=ValueError, **kwargs):
    fitted = model()
    before = [a.copy() for a in fitted.weights + fitted.biases]
    calls = []
    with pytest.raises(error, match=match):
        nd.fit(fitted, X, y, max_iter=5, client=client,
               callback=lambda *args: calls.append(args), **kwargs)
    assert calls == []  # refused before the first iteration
    assert unchanged(fitted, before)
    with pytest.raises(nnfast.NotFittedError):
        fitted.loss_curve_


def test_a_partition_with_nan(client, data):
    X, y = data
    X = X.copy()
    X[130, 2] = np.nan
    fit_refused(client, *blocks(X, y, 4), r"partition 2 .*X contains NaN")


def test_a_partition_of_the_wrong_width(client, data):
    X, y = data
    good = da.from_array(X[:100], chunks=(50, 6))
    # a block that claims 6 columns and holds 5 (e.g. a file with a column missing)
    bad = da.from_delayed(dask.delayed(lambda: X[100:160, :5])(), shape=(60, 6),
                          dtype=np.float64)
    fit_refused(client, da.concatenate([good, bad]), da.from_array(y[:160], chunks=(50, 50, 60)),
                r"partition 2 .*X has 5 features, the network expects 6")


def test_chunks_that_split_columns(client, data):
    X, y = data
    fit_refused(client, da.from_array(X, chunks=(60, 3)), da.from_array(y, chunks=60),
                r"X's chunks split its columns into 2 blocks")


def test_mismatched_partitions_of_X_and_y(client, data):
    X, y = data
    Xd = da.from_array(X, chunks=(60, 6))
    fit_refused(client, Xd, da.from_array(y, chunks=80), r"X and y are partitioned differently")
    fit_refused(client, Xd, da.from_array(y, chunks=(60, 50, 70, 60)),
                r"partition 1 has 60 rows of X and 50 of y")


def test_bad_targets_and_weights_name_their_partition(client, data):
    X, y = data
    y = y.copy()
    y[200] = 7
    fit_refused(client, *blocks(X, y, 4), r"partition 3 ")
    Xd, yd = blocks(*data, 4)
    weights = np.ones(len(X))
    weights[5] = -1
    fit_refused(client, Xd, yd, r"partition 0 .*sample_weight",
                sample_weight=da.from_array(weights, chunks=yd.chunks))


def test_numpy_input_and_bad_options(client, data):
    X, y = data
    fit_refused(client, X, y, r"X must be a dask array", error=TypeError)
    Xd, yd = blocks(X, y, 2)
    fit_refused(client, Xd, yd, r"solver", solver="newton")
    with pytest.raises(ValueError, match="max_iter"):
        nd.fit(model(), Xd, yd, max_iter=0, client=client)
    fit_refused(client, Xd, yd, r"lr", lr=-1.0)
    with pytest.raises(ValueError, match="X has 4 features"):
        nd.predict(model(), da.from_array(X[:, :4], chunks=(60, 4)))


def test_the_default_client_or_a_clear_error(client, data, monkeypatch):
    Xd, yd = blocks(*data, 2)
    fitted = model()
    nd.fit(fitted, Xd, yd, max_iter=2)  # the module's client is the default one
    assert len(fitted.loss_curve_) == 2

    def no_client():
        raise ValueError("No clients found")
    monkeypatch.setattr(sys.modules["nnfast.dask.fitting"], "default_client", no_client)
    with pytest.raises(ValueError, match="no dask.distributed Client"):
        nd.fit(model(), Xd, yd, client=None)


# ---- nnfast.sklearn under dask-ml's wrappers ---------------------------------------------

@pytest.fixture(scope="module")
def iris_blocks():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    X, y = (X[order] - X.mean(axis=0)) / X.std(axis=0), y[order]
    return X, y, da.from_array(X, chunks=(50, 4)), da.from_array(y, chunks=50)


def test_incremental_is_partial_fit_block_by_block(client, iris_blocks):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    from nnfast.sklearn import MLPClassifier

    X, y, Xd, yd = iris_blocks
    settings = dict(hidden_layer_sizes=(8,), random_state=0, learning_rate_init=0.05)
    incremental = wrappers.Incremental(MLPClassifier(**settings), shuffle_blocks=False)
    incremental.fit(Xd, yd, classes=[0, 1, 2])
    serial = MLPClassifier(**settings)
    for start in range(0, len(X), 50):
        serial.partial_fit(X[start:start + 50], y[start:start + 50], classes=[0, 1, 2])
    for a, b in zip(incremental.estimator_.coefs_ + incremental.estimator_.intercepts_,
                    serial.coefs_ + serial.intercepts_):
        assert np.array_equal(a, b)
    predicted = incremental.predict(Xd)
    assert isinstance(predicted, da.Array)
    assert np.array_equal(predicted.compute(), serial.predict(X))


def test_parallel_post_fit_scores_block_by_block(client, iris_blocks):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    from nnfast.sklearn import MLPClassifier

    X, y, Xd, _ = iris_blocks
    fitted = wrappers.ParallelPostFit(MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs",
                                                    max_iter=200, random_state=0)).fit(X, y)
    predicted, probabilities = fitted.predict(Xd), fitted.predict_proba(Xd)
    assert isinstance(predicted, da.Array) and isinstance(probabilities, da.Array)
    assert np.array_equal(predicted.compute(), fitted.estimator.predict(X))
    assert np.array_equal(probabilities.compute(), fitted.estimator.predict_proba(X))
    assert np.mean(predicted.compute() == y) > 0.9


def test_dask_dataframe_columns_train_as_the_arrays_they_hold(client, data):
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    X, y = data
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    frame["label"] = y
    distributed_frame = dd.from_pandas(frame, npartitions=3, sort=False)
    from_frame = model()
    nd.fit(from_frame, distributed_frame[list(frame.columns[:-1])],
           distributed_frame["label"], max_iter=5, client=client)
    sizes = tuple(int(n) for n in distributed_frame.map_partitions(len).compute())
    from_arrays = model()
    nd.fit(from_arrays, da.from_array(X, chunks=(sizes, X.shape[1])),
           da.from_array(y, chunks=(sizes,)), max_iter=5, client=client)
    assert np.array_equal(from_frame.weights[0], from_arrays.weights[0])
