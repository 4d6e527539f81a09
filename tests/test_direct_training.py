"""Whole training runs through the direct mid-size products (src/nncore/gemm_direct.c).

The shapes are chosen so the step's products fall in the direct range (m n k above 32^3, k at
most 256): [24, 48, 16] with batches of 64 (the last batch of 150 rows is short, 22 rows, and
takes the other paths) and the fused small-network engine turned off (NNFAST_SMALL_ENGINE=0,
read when a trainer is made: the net fits its budget), and [200, 180, 8] with batch 1 (beyond
the small engine's budget; its first layer's dW, 200 x 180 x 1, is direct). float64 runs equal the reference to 1e-9 (docs/semantics.md) for every
hidden activation, sgd and adam, shuffled; the digits-sized step (batch 200, 64 -> 100 -> 10,
whose largest products are split over threads) gives the same bits on 1 and 2 threads; and
each instruction set's kernels, forced in a fresh process (NNFAST_GEMM_KERNEL, read once per
process), train to the reference within the same bound.
"""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import nnfast
from nnfast import reference

from helpers import assert_close, assert_params_close, targets_for
from test_vecmath import X86_SETS, runs

F64 = 1e-9
HIDDEN = ["identity", "tanh", "sigmoid", "relu"]
OPTIMIZERS = {"sgd": dict(optimizer="sgd", lr=0.05, momentum=0.5),
              "adam": dict(optimizer="adam", lr=0.01)}
MID = dict(layers=[24, 48, 16], n=150, batch=64)


def mid_data(n, n_features, n_classes, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, n_features))
    return X, targets_for("cross_entropy", n_classes, n=n, seed=seed + 1)


def train_pair(layers, activation, X, y, **fit):
    native = nnfast.MLP(layers, activation, seed=5)
    ref = reference.MLP(layers, activation, seed=5)
    native.fit(X, y, **fit)
    ref.fit(X.tolist(), y.tolist(), **fit)
    return native, ref


@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_mid_size_training_matches_reference(activation, optimizer, monkeypatch):
    monkeypatch.setenv("NNFAST_SMALL_ENGINE", "0")
    X, y = mid_data(MID["n"], MID["layers"][0], MID["layers"][-1])
    fit = dict(epochs=3, batch_size=MID["batch"], alpha=0.001, shuffle=True,
               **OPTIMIZERS[optimizer])
    native, ref = train_pair(MID["layers"], activation, X, y, **fit)
    assert_params_close(native, ref, rtol=F64, atol=1e-12)
    assert_close("loss_curve", native.loss_curve_, ref.loss_curve_, F64)
    assert native.loss_curve_[-1] < native.loss_curve_[0]


def test_batch_one_through_wide_layers_matches_reference():
    X, y = mid_data(12, 200, 8, seed=3)
    fit = dict(epochs=2, batch_size=1, shuffle=True, lr=0.02, optimizer="sgd")
    native, ref = train_pair([200, 180, 8], "relu", X, y, **fit)
    assert_params_close(native, ref, rtol=F64, atol=1e-12)
    assert_close("loss_curve", native.loss_curve_, ref.loss_curve_, F64)


def digits_sized_fit(threads):
    """Parameters and loss curve of a digits-sized fit (random data) on `threads` threads."""
    rng = np.random.default_rng(11)
    X = rng.random((500, 64))
    y = rng.integers(0, 10, 500)
    before = nnfast.get_num_threads()
    nnfast.set_num_threads(threads)
    try:
        model = nnfast.MLP([64, 100, 10], "relu", seed=2)
        model.fit(X, y, epochs=3, batch_size=200, optimizer="adam", lr=0.001, alpha=1e-4,
                  shuffle=True)
    finally:
        nnfast.set_num_threads(before)
    return model


def test_digits_sized_step_bit_identical_on_one_and_two_threads():
    one, two = digits_sized_fit(1), digits_sized_fit(2)
    for a, b in zip(one.weights + one.biases, two.weights + two.biases):
        assert np.array_equal(a, b)
    assert one.loss_curve_ == two.loss_curve_
    assert one.loss_curve_[-1] < one.loss_curve_[0]


SCRIPT = """
import json, sys
import numpy as np
import nnfast
from nnfast import _core
X = np.array(json.loads(sys.argv[1]))
y = np.array(json.loads(sys.argv[2]))
fit = json.loads(sys.argv[3])
model = nnfast.MLP(json.loads(sys.argv[4]), "tanh", seed=5).fit(X, y, **fit)
print(json.dumps({"kernel": _core.build_info()["gemm_kernel_float64"],
                  "params": [w.tolist() for w in model.weights + model.biases],
                  "loss": list(model.loss_curve_)}))
"""


def isas():
    """The instruction sets this machine runs (test_vecmath's reading of the CPU's flags)."""
    return [name for name in X86_SETS if runs(name)]


@pytest.mark.parametrize("isa", isas())
def test_each_instruction_set_trains_to_the_reference(isa):
    X, y = mid_data(MID["n"], MID["layers"][0], MID["layers"][-1], seed=4)
    fit = dict(epochs=2, batch_size=MID["batch"], shuffle=True, optimizer="adam", lr=0.01,
               alpha=0.001)
    root = str(pathlib.Path(nnfast.__file__).resolve().parents[1])  # this session's nnfast
    env = dict(os.environ, NNFAST_GEMM_KERNEL=isa, NNFAST_SMALL_ENGINE="0",
               PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(X.tolist()), json.dumps(y.tolist()),
         json.dumps(fit), json.dumps(MID["layers"])],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["kernel"].startswith(isa), got["kernel"]  # the set asked for ran
    ref = reference.MLP(MID["layers"], "tanh", seed=5)
    ref.fit(X.tolist(), y.tolist(), **fit)
    want = ref.weights + ref.biases
    for l, (p, q) in enumerate(zip(got["params"], want)):
        assert_close(f"{isa} params[{l}]", p, q, F64, 1e-12)
    assert_close(f"{isa} loss_curve", got["loss"], ref.loss_curve_, F64)
