"""The training handle (MLP.trainer), its settings record, and the model records."""
import dataclasses

import numpy as np
import pytest

import nnfast
from nnfast.models import FitSettings
from nnfast.models.preprocessing import Preprocessing

X = np.random.default_rng(0).normal(size=(24, 3))
Y = (X @ [1.0, -2.0, 0.5] > 0).astype(np.int64)


def fresh(seed=3):
    return nnfast.MLP([3, 5, 1], "tanh", seed=seed)


def same_model(a, b):
    for Wa, Wb in zip(a.weights + a.biases, b.weights + b.biases):
        assert np.array_equal(Wa, Wb)
    assert a.loss_curve_ == b.loss_curve_ and a.rng_state == b.rng_state


@pytest.mark.parametrize("settings, message", [
    (dict(optimizer="rmsprop"), "unknown optimizer 'rmsprop'"),
    (dict(lr=0.0), "lr must be"),
    (dict(momentum=1.0), "momentum must be"),
    (dict(beta1=1.0), "beta1 must be"),
    (dict(beta2=-0.1), "beta2 must be"),
    (dict(epsilon=0.0), "epsilon must be"),
    (dict(alpha=-1.0), "alpha must be"),
    (dict(batch_size=0), "batch_size must be a positive integer"),
])
def test_each_setting_is_checked_when_the_record_is_made(settings, message):
    with pytest.raises(ValueError, match=message):
        FitSettings(**settings)


def test_settings_are_frozen_and_clip_the_batch_to_the_data():
    settings = FitSettings(batch_size=100, shuffle=np.bool_(False))
    assert settings.shuffle is False  # normalized once, to a Python bool
    assert settings.rows_per_batch(24) == 24 and FitSettings().rows_per_batch(7) == 7
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lr = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        FitSettings(shuffle="yes")


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_epochs_one_by_one_then_commit_is_fit(optimizer):
    settings = FitSettings(optimizer=optimizer, lr=0.05, momentum=0.5, batch_size=5)
    fitted = fresh().fit(X, Y, epochs=4, optimizer=optimizer, lr=0.05, momentum=0.5,
                         batch_size=5)
    model = fresh()
    trainer = model.trainer(settings)
    losses = [trainer.epoch(X, Y) for _ in range(4)]
    with pytest.raises(nnfast.NotFittedError):
        model.loss_curve_  # nothing is written before commit
    trainer.commit()
    same_model(model, fitted)
    assert losses == fitted.loss_curve_ and trainer.epochs_done == 4


def test_a_new_learning_rate_applies_from_the_next_epoch():
    settings = FitSettings(lr=0.1, batch_size=6, shuffle=False)
    changed = fresh().trainer(settings)
    changed.epoch(X, Y)
    changed.lr = 0.4
    assert changed.lr == 0.4
    changed.epoch(X, Y)
    constant = fresh().trainer(settings)
    constant.epoch(X, Y)
    constant.epoch(X, Y)
    assert np.abs(changed.params - constant.params).max() > 1e-6
    with pytest.raises(ValueError, match="lr must be"):
        changed.lr = -1.0
    assert changed.lr == 0.4


def test_a_diverging_epoch_names_its_epoch_and_leaves_the_model_as_it_was():
    model = nnfast.MLP([3, 8, 1], "relu", output="identity", seed=2)
    before = [W.copy() for W in model.weights]
    trainer = model.trainer(FitSettings(lr=1e-4, batch_size=4))
    trainer.epoch(X * 10, X[:, 0] * 100.0)
    trainer.epoch(X * 10, X[:, 0] * 100.0)  # two finite epochs, then a learning rate too large
    trainer.lr = 1e6
    epochs = 2
    with pytest.raises(FloatingPointError) as error:
        for epochs in range(3, 60):
            trainer.epoch(X * 10, X[:, 0] * 100.0)
    assert f"in epoch {epochs};" in str(error.value)  # counted across one-epoch calls
    assert "training diverged" in str(error.value)
    assert all(np.array_equal(W, B) for W, B in zip(model.weights, before))


def test_order_needs_the_callers_shuffle_and_valid_indices():
    trainer = fresh().trainer(FitSettings(shuffle=True))
    with pytest.raises(ValueError, match="needs shuffle=False"):
        trainer.epoch(X, Y, order=np.arange(24))
    trainer = fresh().trainer(FitSettings(shuffle=False))
    with pytest.raises(ValueError, match="order holds indices"):
        trainer.epoch(X, Y, order=np.arange(1, 25))
    with pytest.raises(ValueError, match="sample_weight must be >= 0 with a positive sum"):
        trainer.epoch(X, Y, sample_weight=np.zeros(24))


def test_the_step_network_has_no_trainer():
    with pytest.raises(ValueError, match="perceptron rule"):
        nnfast.MLP([2, 1], output="step", loss="mse").trainer()


def test_records_round_trip_without_a_file():
    model = fresh().fit(X, Y, epochs=3)
    model.classes = ["no", "yes"]
    record = model.to_record()
    assert record.kind == "MLP" and record.records["classes"] == ["no", "yes"]
    record.weights[0][0, 0] += 1.0  # a copy: the model is not changed through its record
    assert model.weights[0][0, 0] != record.weights[0][0, 0]
    same = nnfast.MLP.from_record(model.to_record())
    same_model(same, model)
    assert same.classes == ["no", "yes"]
    perceptron = nnfast.Perceptron(3).fit(X, Y)
    again = nnfast.Perceptron.from_record(perceptron.to_record())
    assert again.errors_ == perceptron.errors_ and again.network is not perceptron.network
    assert perceptron.network.layers == [3, 1] and model.network is model


def test_preprocessing_scales_inputs_and_target_and_undoes_the_target():
    y = X[:, 0] * 10 + 3
    pre = Preprocessing.learned(X, y, standardize=True, scale_target=True,
                                features=["a", "b", "c"], target="t", classes=None)
    assert np.allclose(pre.inputs(X).mean(axis=0), 0) and np.allclose(pre.inputs(X).std(axis=0), 1)
    assert np.allclose(pre.values(pre.targets(y)), y) and abs(pre.targets(y).std() - 1) < 1e-12
    model = nnfast.MLP([3, 1], output="identity")
    pre.store(model)
    again = Preprocessing.of(model)
    assert np.array_equal(again.mean, pre.mean) and again.target_std == pre.target_std
    assert again.steps == ["standardize", "target_scale"] and again.features == ["a", "b", "c"]
    assert Preprocessing.of(fresh()).steps == [] and Preprocessing.of(fresh()).class_labels(1) == [0, 1]


@pytest.mark.parametrize("layers, engine", [([3, 5, 2], "fused"), ([3, 3000, 2], "general")])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_loss_alpha_changes_the_reported_loss_and_nothing_else(layers, engine, dtype, weighted,
                                                                optimizer):
    # one full batch: the epoch's loss is the loss at the weights W0 it started from, so
    # loss_alpha b adds (b - alpha) / 2 sum W0^2 / S to it, S the rows' weight
    rng = np.random.default_rng(1)
    X, T = rng.normal(size=(24, 3)), rng.normal(size=(24, 2))
    sw = rng.uniform(0.5, 2.0, size=24) if weighted else None
    runs = {}
    for loss_alpha in (None, 0.7):
        model = nnfast.MLP(layers, "tanh", "identity", "mse", seed=4, dtype=dtype)
        trainer = model.trainer(FitSettings(optimizer=optimizer, lr=0.05, alpha=0.1,
                                            loss_alpha=loss_alpha, batch_size=24))
        W0 = [W.astype(np.float64) for W in model.weights]
        losses = [trainer.epoch(X, T, sample_weight=sw) for _ in range(3)]
        # (the fused engine needs a vector ISA; the general path takes the net on any CPU)
        assert trainer._core.engine in (engine, "general")
        runs[loss_alpha] = (losses, trainer.params.copy(), W0)
    (plain, params, W0), (reported, params_b, _) = runs[None], runs[0.7]
    assert np.array_equal(params, params_b)  # the same updates, bit for bit
    S = 24.0 if sw is None else float(sw.sum())
    extra = (0.7 - 0.1) / 2 * sum(float(np.sum(W * W)) for W in W0) / S
    rtol = 1e-12 if dtype == "float64" else 1e-6
    assert reported[0] == pytest.approx(plain[0] + extra, rel=rtol)
    assert all(r > p for r, p in zip(reported, plain))


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_loss_alpha_is_checked(value):
    with pytest.raises(ValueError, match="loss_alpha must be"):
        FitSettings(alpha=0.1, loss_alpha=value)

