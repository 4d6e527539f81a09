"""Concurrency: the core releases the GIL in every kernel, so Python threads really run at once.
Each model owns its parameters, random stream and training workspace, so concurrent calls give
exactly the results of serial ones.

Ctrl-C during fit (KeyboardInterrupt between batches, model left as before fit) is covered by
tests/test_interrupt.py; the last test here checks that an interrupt in one thread's fit does not
disturb a fit running in another.
"""
import threading

import numpy as np
import pytest

import nnfast


def data(seed, n=400, n_features=20, n_classes=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_features)), rng.integers(0, n_classes, size=n)


def train(seed, dtype="float64", optimizer="sgd"):
    """A run long enough (~0.1 s) for two threads to overlap in the core."""
    X, y = data(seed)
    model = nnfast.MLP([20, 64, 32, 4], "relu", seed=seed, dtype=dtype)
    model.fit(X, y, epochs=8, batch_size=16, optimizer=optimizer, lr=0.01, alpha=1e-4)
    return model


def run_in_threads(functions):
    """Start every function in its own thread at once; return their results in order, and
    re-raise the first exception one of them raised."""
    results, errors = [None] * len(functions), []
    start = threading.Barrier(len(functions))

    def run(i):
        try:
            start.wait()
            results[i] = functions[i]()
        except BaseException as exc:   # reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(functions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


def same_model(a, b):
    for Wa, Wb in zip(a.weights + a.biases, b.weights + b.biases):
        assert np.array_equal(Wa, Wb)
    assert a.loss_curve_ == b.loss_curve_
    assert a._rng_state == b._rng_state


@pytest.mark.parametrize("dtype,optimizer", [("float64", "sgd"), ("float32", "adam")])
def test_two_threads_training_two_models_match_serial_runs(dtype, optimizer):
    serial = [train(seed, dtype, optimizer) for seed in (1, 2)]
    parallel = run_in_threads([lambda s=seed: train(s, dtype, optimizer) for seed in (1, 2)])
    for a, b in zip(serial, parallel):
        same_model(a, b)


def test_two_threads_training_the_same_configuration_match_each_other():
    a, b = run_in_threads([lambda: train(7), lambda: train(7)])
    same_model(a, b)
    same_model(a, train(7))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_model_predicting_from_four_threads_matches_serial(dtype):
    model = train(3, dtype)
    inputs = [data(seed, n=1000)[0] for seed in range(4)]
    serial = [(model.forward(X), model.predict(X)) for X in inputs]
    before = model._params.copy()
    for _ in range(2):
        parallel = run_in_threads([lambda X=X: (model.forward(X), model.predict(X))
                                   for X in inputs])
        for (out, labels), (out_ref, labels_ref) in zip(parallel, serial):
            assert np.array_equal(out, out_ref) and np.array_equal(labels, labels_ref)
    assert np.array_equal(model._params, before)


def test_predicting_while_another_model_trains():
    """A fit in one thread and predictions of an other model in three: both as if alone."""
    predictor = train(4)
    X = data(5, n=2000)[0]
    expected = predictor.forward(X)
    functions = [lambda: train(6)] + [lambda: predictor.forward(X)] * 3
    trained, *outputs = run_in_threads(functions)
    same_model(trained, train(6))
    for out in outputs:
        assert np.array_equal(out, expected)


def test_threads_with_the_thread_count_changing_underneath():
    """set_num_threads from one thread while others train: results do not depend on the count
    (docs/semantics.md), so they still match the serial runs."""
    before = nnfast.get_num_threads()
    serial = [train(seed) for seed in (8, 9)]
    stop = threading.Event()

    def toggle():
        while not stop.is_set():
            for n in (1, 2):
                nnfast.set_num_threads(n)

    toggler = threading.Thread(target=toggle)
    toggler.start()
    try:
        parallel = run_in_threads([lambda s=seed: train(s) for seed in (8, 9)])
    finally:
        stop.set()
        toggler.join()
        nnfast.set_num_threads(before)
    for a, b in zip(serial, parallel):
        same_model(a, b)


def test_a_failing_fit_in_one_thread_does_not_disturb_another():
    """One thread's fit diverges (FloatingPointError) while another trains normally."""
    X, y = data(10)

    def diverge():
        model = nnfast.MLP([20, 64, 32, 1], "relu", output="identity", seed=10)
        before = model._params.copy()
        with pytest.raises(FloatingPointError, match="training diverged"):
            model.fit(X * 10, y * 100.0, epochs=50, lr=1e6, batch_size=16)
        assert np.array_equal(model._params, before)
        return True

    ok, trained = run_in_threads([diverge, lambda: train(11)])
    assert ok
    same_model(trained, train(11))
