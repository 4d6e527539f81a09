"""How a fit runs: sample and class weights, the validation loss, validation_fraction's hold-out,
early stopping (docs/semantics.md, "Validation, early stopping, class weights").

Whole float64 runs of the native MLP are held to the pure-Python reference to 1e-9; the
behaviour the reference does not decide (bad input, the model left unchanged) is checked on
the native API."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nnfast
from nnfast import reference
from nnfast.errors import NotFittedError

from helpers import assert_close, assert_params_close

RTOL = 1e-9


def data(n=40, n_features=3, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    y = rng.integers(0, n_classes, size=n)
    return X, y


def pair(layers, seed=5, **kw):
    return nnfast.MLP(layers, seed=seed, **kw), reference.MLP(layers, seed=seed, **kw)


def fit_both(layers, X, y, model_kw=None, **fit_kw):
    native, ref = pair(layers, **(model_kw or {}))
    native.fit(X, y, **fit_kw)
    ref.fit(X.tolist(), np.asarray(y).tolist(), **{
        k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in fit_kw.items()})
    return native, ref


def assert_same_run(native, ref):
    assert len(native.loss_curve_) == len(ref.loss_curve_)
    assert_close("loss_curve_", native.loss_curve_, ref.loss_curve_, RTOL)
    if ref.validation_loss_curve_ is None:
        assert native.validation_loss_curve_ is None
    else:
        assert_close("validation_loss_curve_", native.validation_loss_curve_,
                     ref.validation_loss_curve_, RTOL)
    assert native.best_epoch_ == ref.best_epoch_
    assert native.rng_state == ref.rng.state
    assert_params_close(native, ref, RTOL, 1e-12)


# ---- parity with the reference --------------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_validation_data_parity(optimizer):
    X, y = data()
    X_val, y_val = data(n=15, seed=9)
    native, ref = fit_both([3, 5, 3], X, y, epochs=12, batch_size=7, lr=0.2,
                           optimizer=optimizer, alpha=0.01,
                           validation_data=(X_val, y_val))
    native_ref_val = ref.validation_loss_curve_
    assert len(native_ref_val) == 12 and ref.best_epoch_ is not None
    ref_pair = (X_val.tolist(), y_val.tolist())
    ref2 = reference.MLP([3, 5, 3], seed=5).fit(X.tolist(), y.tolist(), epochs=12,
                                                batch_size=7, lr=0.2, optimizer=optimizer,
                                                alpha=0.01, validation_data=ref_pair)
    assert ref2.validation_loss_curve_ == native_ref_val
    assert_same_run(native, ref)
    # the validation loss is the loss of the final weights on the held-out rows, no L2 term
    assert_close("last validation loss", native.validation_loss_curve_[-1],
                 native.loss(X_val, y_val), 1e-12)


@pytest.mark.parametrize("loss, n_out, n_classes", [("cross_entropy", 3, 3),
                                                    ("binary_cross_entropy", 1, 2),
                                                    ("mse", 2, None)])
def test_validation_fraction_parity(loss, n_out, n_classes):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(37, 3))
    y = (rng.integers(0, n_classes, size=37) if n_classes else rng.normal(size=(37, n_out)))
    output = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid", "mse": "identity"}
    native, ref = fit_both([3, 4, n_out], X, y, model_kw=dict(output=output[loss], loss=loss),
                           epochs=8, batch_size=5, lr=0.1, validation_fraction=0.25)
    assert_same_run(native, ref)
    assert len(native.validation_loss_curve_) == 8


def test_validation_fraction_is_stratified_and_drawn_from_the_stream():
    y = np.array([0] * 20 + [1] * 12 + [2] * 8)
    Y = np.eye(3)[y]
    from nnfast.models.validation import hold_out
    train, held, state = hold_out(Y, "cross_entropy", 0.25, 7)
    # floor(0.25 n_k + 0.5) of each class: 5, 3, 2
    assert np.bincount(y[held]).tolist() == [5, 3, 2]
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(40))
    ref_train, ref_held = reference.fitting.hold_out(Y.tolist(), "cross_entropy", 0.25,
                                                    reference.SplitMix64(7))
    assert (held.tolist(), train.tolist()) == (ref_held, ref_train)
    rng = reference.SplitMix64(7)
    for size in (20, 12, 8):  # one permutation per class, in class order
        reference.ops.permutation(rng, size)
    assert state == rng.state
    # another seed holds out other rows
    assert hold_out(Y, "cross_entropy", 0.25, 8)[1].tolist() != held.tolist()


def test_early_stopping_with_restore_best_parity():
    X, y = data(n=30)
    X_val, y_val = data(n=30, seed=4)  # unrelated labels: the validation loss soon rises
    native, ref = fit_both([3, 8, 3], X, y, epochs=200, batch_size=5, lr=0.5,
                           validation_data=(X_val, y_val), early_stopping=True, patience=4)
    assert len(ref.loss_curve_) < 200
    assert len(ref.validation_loss_curve_) == ref.best_epoch_ + 1 + 4
    assert_same_run(native, ref)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 2.0, 2: 0.5}])
def test_class_weights_times_sample_weights_parity(class_weight):
    X, y = data(n=41)
    sw = np.linspace(0.5, 2.0, 41)
    native, ref = fit_both([3, 4, 3], X, y, epochs=10, batch_size=8, lr=0.3,
                           sample_weight=sw, class_weight=class_weight,
                           validation_fraction=0.2, early_stopping=True, patience=3)
    assert_same_run(native, ref)


def test_binary_class_weight_parity():
    X, _ = data(n=30)
    y = (X[:, 0] > 0.7).astype(int)  # imbalanced
    native, ref = fit_both([3, 4, 1], X, y, epochs=10, batch_size=6, lr=0.3,
                           class_weight="balanced")
    assert_same_run(native, ref)


# ---- what the options mean ------------------------------------------------------------------

def test_balanced_is_scikit_learns_compute_class_weight():
    sklearn_utils = pytest.importorskip("sklearn.utils")
    from nnfast.models.class_weights import class_weight_of_rows
    y = np.array([0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2])
    expected = sklearn_utils.compute_class_weight("balanced", classes=np.arange(3), y=y)
    assert_close("balanced", class_weight_of_rows("balanced", np.eye(3)[y], "cross_entropy"),
                 expected[y], 1e-15)


def test_class_weight_equals_the_same_sample_weight():
    X, y = data(n=30)
    by_class = nnfast.MLP([3, 4, 3], seed=1).fit(
        X, y, epochs=5, batch_size=7, class_weight={0: 3.0, 1: 0.5}, sample_weight=np.full(30, 2.0))
    same = nnfast.MLP([3, 4, 3], seed=1).fit(
        X, y, epochs=5, batch_size=7, sample_weight=2.0 * np.array([3.0, 0.5, 1.0])[y])
    assert_close("loss_curve_", by_class.loss_curve_, same.loss_curve_, 1e-14)
    assert_params_close(by_class, same, 1e-14)


def test_early_stopping_stops_after_patience_epochs_without_a_new_best():
    # Validation targets are the opposite of the training targets: every epoch that fits the
    # training rows better raises the validation loss, so the first epoch is the best.
    X, y = data(n=30, n_classes=2)
    model = nnfast.MLP([3, 1], seed=2, init="zeros")
    model.fit(X, y, epochs=50, lr=0.5, validation_data=(X, 1 - y), early_stopping=True,
              patience=3)
    curve = model.validation_loss_curve_
    assert all(b > a for a, b in zip(curve, curve[1:])), curve
    assert model.best_epoch_ == 0
    assert len(model.loss_curve_) == len(curve) == 4  # the best, then 3 without a new best


def test_restore_best_gives_the_weights_and_stream_of_the_best_epoch():
    X, y = data(n=30)
    X_val, y_val = data(n=30, seed=4)
    kw = dict(batch_size=5, lr=0.5)
    stopped = nnfast.MLP([3, 8, 3], seed=5).fit(
        X, y, epochs=200, validation_data=(X_val, y_val), early_stopping=True, patience=4, **kw)
    best = stopped.best_epoch_
    assert 0 < best < len(stopped.loss_curve_) - 1
    direct = nnfast.MLP([3, 8, 3], seed=5).fit(X, y, epochs=best + 1, **kw)
    for W, W_direct in zip(stopped.weights + stopped.biases, direct.weights + direct.biases):
        np.testing.assert_array_equal(W, W_direct)
    assert stopped.rng_state == direct.rng_state
    kept = nnfast.MLP([3, 8, 3], seed=5).fit(
        X, y, epochs=200, validation_data=(X_val, y_val), early_stopping=True, patience=4,
        restore_best=False, **kw)
    last = nnfast.MLP([3, 8, 3], seed=5).fit(X, y, epochs=len(kept.loss_curve_), **kw)
    np.testing.assert_array_equal(kept.weights[0], last.weights[0])
    assert not np.array_equal(kept.weights[0], stopped.weights[0])


def test_without_validation_the_fit_records_none():
    X, y = data()
    model = nnfast.MLP([3, 3], seed=1)
    with pytest.raises(NotFittedError):
        model.validation_loss_curve_
    with pytest.raises(NotFittedError):
        model.best_epoch_
    model.fit(X, y, epochs=3)
    assert model.validation_loss_curve_ is None and model.best_epoch_ is None
    ref = reference.MLP([3, 3], seed=1).fit(X.tolist(), y.tolist(), epochs=3)
    assert ref.validation_loss_curve_ is None and ref.best_epoch_ is None


def test_callback_and_verbose_see_each_epoch_of_a_validated_run(capsys):
    X, y = data()
    seen = []
    model = nnfast.MLP([3, 3], seed=1).fit(
        X, y, epochs=6, validation_fraction=0.2, verbose=True,
        callback=lambda epoch, loss, forward: seen.append(epoch) or epoch == 3)
    assert seen == [0, 1, 2, 3] and len(model.validation_loss_curve_) == 4
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[-1] == (f"epoch 4: loss {model.loss_curve_[-1]:.6g}, validation loss "
                         f"{model.validation_loss_curve_[-1]:.6g}")


# ---- bad input: a clear error naming the argument, the model unchanged -------------------------

def snapshot(model):
    return [a.copy() for a in model.weights + model.biases], model.rng_state


def assert_unchanged(model, before):
    for a, b in zip(model.weights + model.biases, before[0]):
        np.testing.assert_array_equal(a, b)
    assert model.rng_state == before[1]


BAD_FITS = [
    (dict(validation_data=(np.zeros((4, 2)), [0, 1, 2, 0])), ValueError, "validation_data"),
    (dict(validation_data=(np.full((2, 3), np.nan), [0, 1])), ValueError, "validation_data"),
    (dict(validation_data=(np.zeros((2, 3)), [0, 7])), ValueError, "validation_data"),
    (dict(validation_data=np.zeros((2, 3))), TypeError, "validation_data"),
    (dict(validation_data=(np.zeros((2, 3)), [0, 1]), validation_fraction=0.2), ValueError,
     "validation_fraction"),
    (dict(validation_fraction=1.0), ValueError, "validation_fraction"),
    (dict(validation_fraction=-0.1), ValueError, "validation_fraction"),
    (dict(validation_fraction=0.001), ValueError, "validation_fraction"),
    (dict(early_stopping=True), ValueError, "early_stopping"),
    (dict(early_stopping=True, validation_fraction=0.2, patience=0), ValueError, "patience"),
    (dict(early_stopping="yes", validation_fraction=0.2), TypeError, "early_stopping"),
    (dict(class_weight={5: 1.0}), ValueError, "class_weight"),
    (dict(class_weight={0: -1.0}), ValueError, "class_weight"),
    (dict(class_weight="even"), ValueError, "class_weight"),
    (dict(sample_weight=np.ones(3)), ValueError, "sample_weight"),
    (dict(max_iter=10), ValueError, "max_iter"),
    (dict(optimizer="lbfgs", max_iter=0), ValueError, "max_iter"),
    (dict(optimizer="newton"), ValueError, "optimizer"),
]


@pytest.mark.parametrize("kw, error, word", BAD_FITS)
def test_bad_fit_arguments_name_the_argument_and_change_nothing(kw, error, word):
    X, y = data()
    model = nnfast.MLP([3, 4, 3], seed=1).fit(X, y, epochs=2)
    before, curve = snapshot(model), model.loss_curve_
    with pytest.raises(error, match=word):
        model.fit(X, y, epochs=3, **kw)
    assert_unchanged(model, before)
    assert model.loss_curve_ == curve and model.validation_loss_curve_ is None


def test_class_weight_needs_a_classification_loss():
    X = np.zeros((4, 2))
    model = nnfast.MLP([2, 1], output="identity", loss="mse")
    with pytest.raises(ValueError, match="class_weight needs a classification loss"):
        model.fit(X, [0.0, 1.0, 2.0, 3.0], class_weight="balanced")
    with pytest.raises(ValueError, match="class_weight"):
        reference.MLP([2, 1], output="identity", loss="mse").fit(
            X.tolist(), [0.0, 1.0, 2.0, 3.0], class_weight="balanced")


@pytest.mark.parametrize("kw, error, word", [
    (dict(validation_data=([[0.0, 1.0]], [0])), ValueError, "validation_data"),
    (dict(validation_fraction=0.2, validation_data=([[0.0, 0.0, 0.0]], [0])), ValueError,
     "validation_fraction"),
    (dict(class_weight={3: 1.0}), ValueError, "class_weight"),
    (dict(early_stopping=True), ValueError, "validation"),
])
def test_the_reference_refuses_the_same_and_changes_nothing(kw, error, word):
    X, y = data(n=12)
    model = reference.MLP([3, 3, 3], seed=1)
    before = (model.weights[0][0][:], model.rng.state)
    with pytest.raises(error, match=word):
        model.fit(X.tolist(), y.tolist(), epochs=2, **kw)
    assert (model.weights[0][0], model.rng.state) == before


def test_a_diverging_validated_run_leaves_the_model_unchanged():
    X, y = data()
    model = nnfast.MLP([3, 8, 3], activation="relu", seed=1)
    before = snapshot(model)
    with pytest.raises(FloatingPointError, match="left as it was"):
        model.fit(X * 1e150, y, epochs=20, lr=1e10, validation_fraction=0.2,
                  early_stopping=True)
    assert_unchanged(model, before)


def test_the_reference_backend_refuses_the_new_options():
    X, y = data()
    model = nnfast.MLP([3, 3], backend="reference")
    with pytest.raises(ValueError, match="native backend"):
        model.fit(X, y, validation_fraction=0.2)


# ---- model files ------------------------------------------------------------------------------

def test_model_files_keep_the_validation_curve_and_best_epoch(tmp_path):
    X, y = data()
    model = nnfast.MLP([3, 4, 3], seed=1).fit(X, y, epochs=30, lr=0.5, validation_fraction=0.3,
                                             early_stopping=True, patience=2)
    model.save(tmp_path / "m.npz")
    loaded = nnfast.load(tmp_path / "m.npz")
    assert loaded.validation_loss_curve_ == model.validation_loss_curve_
    assert loaded.best_epoch_ == model.best_epoch_ is not None
    plain = nnfast.MLP([3, 4, 3]).fit(X, y, epochs=2)
    plain.save(tmp_path / "p.npz")
    assert nnfast.load(tmp_path / "p.npz").validation_loss_curve_ is None


@pytest.mark.parametrize("history, word", [
    ({"validation_loss_curve": [0.5, float("nan")], "best_epoch": 0}, "NaN"),
    ({"validation_loss_curve": [0.5, 0.4], "best_epoch": 2}, "best_epoch"),
    ({"validation_loss_curve": [0.5, 0.4]}, "together"),
])
def test_a_corrupt_validation_history_is_refused(tmp_path, history, word):
    from nnfast.models.files import ModelFileError, read_record, write_record
    X, y = data()
    record = nnfast.MLP([3, 3]).fit(X, y, epochs=2).to_record()
    record.validation_loss_curve = history.get("validation_loss_curve")
    record.best_epoch = history.get("best_epoch")
    write_record(record, tmp_path / "bad.npz")
    with pytest.raises(ModelFileError, match=word):
        read_record(tmp_path / "bad.npz", ["MLP"])


# ---- properties of the hold-out, and what else the curves hold ------------------------------

@settings(max_examples=60, deadline=None)
@given(labels=st.lists(st.integers(0, 3), min_size=2, max_size=60),
       fraction=st.floats(0.01, 0.99), seed=st.integers(0, 2**64 - 1),
       stratified=st.booleans())
def test_hold_out_matches_the_reference_and_keeps_each_class_share(labels, fraction, seed,
                                                                   stratified):
    from nnfast.models.validation import hold_out
    y = np.array(labels)
    Y, loss = (np.eye(4)[y], "cross_entropy") if stratified else (y[:, None] * 1.0, "mse")
    train, held, state = hold_out(Y, loss, fraction, seed)
    rng = reference.SplitMix64(seed)
    ref_train, ref_held = reference.fitting.hold_out(Y.tolist(), loss, fraction, rng)
    assert (train.tolist(), held.tolist(), state) == (ref_train, ref_held, rng.state)
    assert sorted(train.tolist() + held.tolist()) == list(range(len(y)))
    groups = np.unique(y) if stratified else [None]
    for k in groups:
        rows = y == k if stratified else np.ones(len(y), dtype=bool)
        n_k = int(rows.sum())
        assert int(rows[held].sum()) == int(np.floor(fraction * n_k + 0.5))


def test_validation_data_rows_weigh_their_class_weight():
    X, y = data()
    X_val, y_val = data(n=17, seed=6)
    weights = {0: 2.0, 1: 0.25}
    model = nnfast.MLP([3, 4, 3], seed=1).fit(X, y, epochs=3, class_weight=weights,
                                             validation_data=(X_val, y_val))
    ref = reference.MLP([3, 4, 3], seed=1)
    ref.weights = [W.tolist() for W in model.weights]
    ref.biases = [b.tolist() for b in model.biases]
    row_weights = [weights.get(k, 1.0) for k in y_val.tolist()]
    assert_close("last validation loss", model.validation_loss_curve_[-1],
                 ref.loss(X_val.tolist(), y_val.tolist(), sample_weight=row_weights), 1e-12)


def test_float32_models_validate_and_stop_early():
    X, y = data(n=60)
    model = nnfast.MLP([3, 8, 3], seed=1, dtype="float32").fit(
        X, y, epochs=300, lr=0.5, batch_size=8, validation_fraction=0.3, early_stopping=True,
        patience=5, class_weight="balanced")
    curve = model.validation_loss_curve_
    assert np.all(np.isfinite(curve)) and len(curve) == model.best_epoch_ + 6 < 300
    assert model.weights[0].dtype == np.float32
