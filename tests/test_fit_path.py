"""What runs around the core's training loop: the loss curve kept as the core's array
(MLP.loss_curve_, a LossCurve), inputs checked once per fit (the native lane of 1-D targets,
a training handle's CheckedRows), with the same results and the same errors as before."""
import json
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import nnfast
from nnfast import _validation as check
from nnfast.models import FitSettings
from nnfast.models.curves import LossCurve
from nnfast.models.training import CheckedRows

AND_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
AND_Y = np.array([0, 0, 0, 1], dtype=np.int64)
rng = np.random.default_rng(11)
X = rng.normal(size=(30, 4))
LABELS = (X @ [1.0, -1.0, 0.5, 0.2] > 0).astype(np.int64) + (X[:, 0] > 1)  # classes 0..2


def and_gate(**fit):
    model = nnfast.MLP([2, 1], "sigmoid", output="sigmoid", init="zeros")
    return model.fit(AND_X, AND_Y, **{"epochs": 300, "lr": 1.0, "shuffle": False, **fit})


def assert_same_model(a, b):
    for Wa, Wb in zip(a.weights + a.biases, b.weights + b.biases):
        assert np.array_equal(Wa, Wb)
    assert a.loss_curve_ == b.loss_curve_ and a.rng_state == b.rng_state


# ---- the loss curve -------------------------------------------------------------------------

def test_loss_curve_is_a_read_only_float64_sequence_equal_to_its_list():
    model = and_gate()
    curve = model.loss_curve_
    assert isinstance(curve, LossCurve) and len(curve) == 300
    values = np.asarray(curve)
    assert values.dtype == np.float64 and values.shape == (300,)
    assert not values.flags.writeable
    with pytest.raises(ValueError):
        values[0] = 1.0
    as_list = curve.tolist()
    assert type(as_list) is list and all(type(v) is float for v in as_list)
    assert curve == as_list and as_list == curve and curve == tuple(as_list)
    assert curve == values and not (curve != as_list)
    assert curve != as_list[:-1] and curve != [*as_list[:-1], as_list[-1] + 1.0]
    assert curve != "not a curve" and curve != [str(v) for v in as_list]
    assert type(curve[-1]) is float and curve[-1] == as_list[-1] and curve[-1] < curve[0]
    assert list(curve) == as_list and curve[10:20] == as_list[10:20]
    assert isinstance(curve[10:20], LossCurve)
    assert min(curve) == min(as_list) and curve.index(curve[5]) == as_list.index(as_list[5])
    assert json.loads(json.dumps(curve.tolist())) == curve
    with pytest.raises(TypeError):
        hash(curve)


def test_loss_curve_shares_the_models_array_and_a_new_fit_replaces_it():
    model = and_gate()
    first = model.loss_curve_
    assert np.shares_memory(np.asarray(first), np.asarray(model.loss_curve_))  # no copy
    model.fit(AND_X, AND_Y, epochs=5, lr=1.0, shuffle=False)
    assert len(model.loss_curve_) == 5 and len(first) == 300  # the first curve is kept


def test_loss_curve_survives_files_and_perceptrons(tmp_path):
    model = and_gate()
    model.save(tmp_path / "and.npz")
    loaded = nnfast.load(tmp_path / "and.npz")
    assert isinstance(loaded.loss_curve_, LossCurve) and loaded.loss_curve_ == model.loss_curve_
    assert model.to_record().loss_curve == model.loss_curve_.tolist()
    assert type(model.to_record().loss_curve) is list
    unit = nnfast.Perceptron(2, activation="sigmoid").fit(AND_X, AND_Y, epochs=20, lr=0.5)
    assert isinstance(unit.loss_curve_, LossCurve) and len(unit.loss_curve_) == 20


def test_sklearn_loss_curve_stays_a_list_of_floats():
    from nnfast.sklearn import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=4, random_state=0).fit(X, LABELS)
    assert type(clf.loss_curve_) is list and len(clf.loss_curve_) == 4
    assert all(isinstance(v, float) for v in clf.loss_curve_)  # scikit-learn's np.float64


def test_trainer_run_returns_the_curve_and_its_list_can_still_be_appended_to():
    model = nnfast.MLP([4, 3], "sigmoid", seed=1)
    trainer = model.trainer(FitSettings(batch_size=10, shuffle=False))
    curve = trainer.run(X, LABELS, 3)
    assert isinstance(curve, LossCurve) and len(curve) == 3
    assert trainer.loss_curve == curve.tolist()  # the handle's list, made when read
    trainer.loss_curve.append(0.5)  # what nnfast.dask's loops do
    trainer.epoch(X, LABELS)
    assert len(trainer.loss_curve) == 5 and trainer.loss_curve[3] == 0.5
    trainer.commit()
    assert model.loss_curve_ == trainer.loss_curve and len(model.loss_curve_) == 5


def test_epoch_by_epoch_and_whole_run_curves_agree():
    whole = nnfast.MLP([4, 3], "sigmoid", seed=1)
    whole.fit(X, LABELS, epochs=6, batch_size=7, shuffle=False)
    by_epoch = nnfast.MLP([4, 3], "sigmoid", seed=1)
    seen = []
    by_epoch.fit(X, LABELS, epochs=6, batch_size=7, shuffle=False,
                 callback=lambda epoch, loss, forward: seen.append(loss))
    assert_same_model(whole, by_epoch)
    assert seen == whole.loss_curve_ and all(type(v) is float for v in seen)


# ---- inputs checked once, the same bits and errors -----------------------------------------

@pytest.mark.parametrize("y", [AND_Y, AND_Y.astype(np.float64), AND_Y.astype(np.int32),
                               AND_Y.astype(bool), AND_Y.tolist(), AND_Y[:, None].copy()])
def test_every_form_of_y_trains_the_same_bits(y):
    reference = and_gate()
    model = nnfast.MLP([2, 1], "sigmoid", output="sigmoid", init="zeros")
    model.fit(AND_X, y, epochs=300, lr=1.0, shuffle=False)
    assert_same_model(model, reference)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_class_indices_train_the_same_bits_as_one_hot_rows(dtype):
    onehot = np.eye(3, dtype=dtype)[LABELS]
    for y in (LABELS, LABELS.tolist(), onehot):
        model = nnfast.MLP([4, 3], "tanh", seed=2, dtype=dtype)
        model.fit(X.astype(dtype), y, epochs=3, batch_size=8)
        if y is LABELS:
            reference = model
        else:
            assert_same_model(model, reference)


@pytest.mark.parametrize("y, message", [
    (np.array([0, 0, np.nan, 1]), "y contains NaN or infinity"),
    (np.array([0, 0, 2, 1]), r"y holds values in \[0, 2\]; binary_cross_entropy takes"),
    (np.array([0, 0, -1, 1]), r"y holds values in \[-1, 1\]"),
    (np.array([0, 0, 1]), "y has 3 rows, X has 4"),
    (np.array(["a", "b", "c", "d"]), "y must hold real numbers"),
])
def test_bad_targets_are_refused_with_the_general_paths_words(y, message):
    model = nnfast.MLP([2, 1], "sigmoid", output="sigmoid", init="zeros")
    before = model._params.copy()
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(AND_X, y, epochs=3)
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(AND_X, list(y), epochs=3)
    assert np.array_equal(model._params, before)
    with pytest.raises(nnfast.NotFittedError):
        model.loss_curve_


@pytest.mark.parametrize("y, message", [
    (np.array([0, 1, 3] * 10), r"y holds class indices in \[0, 3\], the network has 3"),
    (np.array([0, -1, 2] * 10), r"y holds class indices in \[-1, 2\]"),
    (np.array([0.0, 1.5, 2.0] * 10), "must be integers"),
])
def test_bad_class_indices_are_refused_with_the_general_paths_words(y, message):
    model = nnfast.MLP([4, 3], "tanh", seed=2)
    with pytest.raises(ValueError, match=message):
        model.fit(X, y, epochs=1)
    with pytest.raises(ValueError, match=message):
        check.targets(y.tolist(), 30, 3, "cross_entropy", "float64")


def test_bad_x_is_refused_on_the_fast_route_as_before():
    model = and_gate()
    bad = AND_X.copy()
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        model.fit(bad, AND_Y)
    with pytest.raises(ValueError, match="X has 3 features, the network expects 2"):
        model.fit(np.zeros((4, 3)), AND_Y)
    with pytest.raises(TypeError, match="X must hold real numbers"):
        model.fit(AND_X.astype(complex), AND_Y)


def test_checked_rows_train_the_same_bits_as_arrays_checked_every_epoch():
    settings = FitSettings(optimizer="adam", batch_size=7, shuffle=False)
    order = np.random.default_rng(4).permutation(30)
    weights = np.linspace(0.5, 2.0, 30)
    a = nnfast.MLP([4, 5, 3], "relu", seed=5)
    b = nnfast.MLP([4, 5, 3], "relu", seed=5)
    ta, tb = a.trainer(settings), b.trainer(settings)
    rows = tb.rows(X, LABELS, weights)
    assert isinstance(rows, CheckedRows) and rows.Y.shape == (30, 3)
    for _ in range(3):
        assert ta.epoch(X, LABELS, order, weights) == tb.epoch(rows, order=order)
    ta.commit()
    tb.commit()
    assert_same_model(a, b)


def test_checked_rows_are_checked_when_made_and_carry_their_own_targets():
    trainer = nnfast.MLP([4, 3], "tanh", seed=2).trainer(FitSettings(shuffle=False))
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        trainer.rows(bad, LABELS)
    with pytest.raises(ValueError, match="sample_weight must be >= 0"):
        trainer.rows(X, LABELS, -np.ones(30))
    rows = trainer.rows(X, LABELS)
    with pytest.raises(ValueError, match="checked rows carry their own Y"):
        trainer.epoch(rows, LABELS)
    with pytest.raises(ValueError, match=r"order must be 30 integer sample indices"):
        trainer.epoch(rows, order=np.arange(29))


def test_sklearn_checks_its_rows_once_per_fit(monkeypatch):
    """A stochastic fit of nnfast.sklearn checks X and y once, not once per epoch."""
    from nnfast.sklearn import MLPClassifier

    calls = []
    as_matrix = check.as_matrix
    monkeypatch.setattr(check, "as_matrix", lambda *a, **k: calls.append(a[1]) or
                        as_matrix(*a, **k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(hidden_layer_sizes=(5,), max_iter=12, random_state=0).fit(X, LABELS)
    assert calls.count("X") <= 2, calls  # the training rows once (and no more per epoch)
