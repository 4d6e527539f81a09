"""The fused training step gives the bits of the step it replaces.

Training (src/nncore/network.c, train.c) writes each layer's gradient rather than adding it to
zeroed buffers, and steps each layer's parameters right after that layer's backward. With
NNFAST_FUSED_STEP=0 (read once per process) the core keeps the unfused step: the whole
gradient into zeroed buffers, then one optimizer step over every parameter. Both run here in
fresh processes, the small-network engine off (NNFAST_SMALL_ENGINE=0) so that every shape
takes the general path, and the parameters, optimizer results and loss curves must be the same
bits: for sgd, sgd with momentum, nesterov and adam, with and without L2, with dropout and
with sample weights, float32 and float64 (and bfloat16 products on the shape larger than L2),
on 1 and 2 threads, on shapes like W3's and W4's (odd batch sizes, a short last batch), one
large enough that its products and its first layer's update are split over the threads, one
whose output layer's weight gradient is computed transposed (the step then follows C's blocks
in the caller's layout), one whose first layer is larger than L2 (each tile of its gradient
stepped as the kernel computes it, the gradient never stored), and one larger than L2 from a
batch longer than a k block (stepped after its product, in one sweep). A diverging fit must
stop with every parameter as the unfused step leaves it (no layer stepped on a non-finite
loss). sgd without momentum keeps its velocity only at each epoch's last batch: after each
epoch it holds the unfused step's values.
"""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import nnfast

SHAPES = {  # layers, rows, batch size
    "w3_like": ([96, 64, 64, 10], 200, 37),
    "w4_like": ([40, 33, 17, 10], 150, 29),
    "parallel": ([300, 256, 10], 200, 64),
    # the last layer's dW (2100 x 10 x 128) runs as the transposed product on the blocked
    # path, which steps C block by block in the caller's layout
    "transposed_dw": ([40, 2100, 10], 200, 128),
    # a first layer larger than a 2 MiB L2 (2.1 MiB in float32): each tile stepped from the
    # kernel's sums (gemm.c's step_tiles)
    "over_l2": ([700, 800, 10], 72, 32),
    # larger than L2 too, from a batch of 600 (k blocks of at most 512 floats): its gradient
    # in two k blocks, stepped after the product in one sweep
    "over_l2_long_batch": ([520, 1100, 10], 1200, 600),
}
OPTIMIZERS = {
    "sgd": dict(optimizer="sgd", lr=0.05),
    "momentum": dict(optimizer="sgd", lr=0.05, momentum=0.9),
    "nesterov": dict(optimizer="sgd", lr=0.05, momentum=0.9, nesterov=True),
    "adam": dict(optimizer="adam", lr=0.01),
}

SCRIPT = r"""
import sys
import numpy as np
import nnfast
from nnfast.models import FitSettings

SHAPES = %r
OPTIMIZERS = %r
out = {}


def data(layers, n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, layers[0]))
    y = np.eye(layers[-1])[rng.integers(0, layers[-1], n)]
    return X, y


def record(key, model):
    for l, (W, b) in enumerate(zip(model.weights, model.biases)):
        out[f"{key}/W{l}"] = W
        out[f"{key}/b{l}"] = b
    if getattr(model, "loss_curve_", None) is not None:
        out[f"{key}/loss"] = np.asarray(model.loss_curve_)


for threads in (1, 2):
    nnfast.set_num_threads(threads)
    for shape, (layers, n, batch) in SHAPES.items():
        X, y = data(layers, n, 3)
        for dtype in ("float32", "float64"):
            for opt, fit in OPTIMIZERS.items():
                for alpha in (0.0, 1e-3):
                    model = nnfast.MLP(layers, "relu", seed=7, dtype=dtype)
                    model.fit(X, y, epochs=2, batch_size=batch, alpha=alpha, shuffle=True, **fit)
                    record(f"{threads}/{shape}/{dtype}/{opt}/{alpha}", model)
            # dropout, and sample weights, with L2 and momentum
            model = nnfast.MLP(layers, "tanh", seed=7, dtype=dtype,
                               dropout=[0.25] * (len(layers) - 2))
            model.fit(X, y, epochs=2, batch_size=batch, alpha=1e-3, shuffle=True,
                      **OPTIMIZERS["momentum"])
            record(f"{threads}/{shape}/{dtype}/dropout", model)
            sw = np.random.default_rng(5).uniform(0.2, 2.0, size=n)
            model = nnfast.MLP(layers, "relu", seed=7, dtype=dtype)
            model.fit(X, y, epochs=2, batch_size=batch, alpha=1e-3, shuffle=True,
                      sample_weight=sw, **OPTIMIZERS["adam"])
            record(f"{threads}/{shape}/{dtype}/weighted", model)
        if shape == "over_l2":  # bfloat16 products (batch 32: alpha 1/32 packed, tiles stepped)
            for opt, fit in OPTIMIZERS.items():
                model = nnfast.MLP(layers, "relu", seed=7, dtype="bfloat16")
                model.fit(X, y, epochs=2, batch_size=batch, shuffle=True, **fit)
                record(f"{threads}/{shape}/bfloat16/{opt}", model)
        # sgd without momentum: the fused steps keep the velocity at each epoch's last batch
        # only (train.c); after each epoch it is the unfused step's, -lr g of that batch
        for dtype in ("float32", "float64"):
            trainer = nnfast.MLP(layers, "relu", seed=7, dtype=dtype).trainer(
                FitSettings(optimizer="sgd", lr=0.05, batch_size=batch))
            for epoch in range(2):
                trainer.epoch(X, y)
                out[f"{threads}/{shape}/{dtype}/sgd_velocity{epoch}"] = trainer.state[0]
            out[f"{threads}/{shape}/{dtype}/sgd_velocity_params"] = trainer.params.copy()
        # divergence: the fit stops on the first non-finite batch loss
        model = nnfast.MLP(layers, "relu", output="identity", loss="mse", seed=7)
        try:
            model.fit(X * 1e3, y * 1e6, epochs=20, batch_size=batch, lr=1e3, shuffle=False)
            diverged = 0
        except FloatingPointError:
            diverged = 1
        out[f"{threads}/{shape}/diverged"] = np.array([diverged])
        record(f"{threads}/{shape}/diverged", model)
np.savez(sys.argv[1], **out)
"""


def train_everything(tmp_path, fused):
    """Every case trained in a fresh process, fused or not: {name: array}."""
    root = str(pathlib.Path(nnfast.__file__).resolve().parents[1])  # this session's nnfast
    env = dict(os.environ, NNFAST_SMALL_ENGINE="0",
               PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    env.pop("NNFAST_FUSED_STEP", None)
    if not fused:
        env["NNFAST_FUSED_STEP"] = "0"
    path = tmp_path / ("fused.npz" if fused else "unfused.npz")
    result = subprocess.run([sys.executable, "-c", SCRIPT % (SHAPES, OPTIMIZERS), str(path)],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    with np.load(path) as arrays:
        return {name: arrays[name] for name in arrays.files}


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("fused_step")
    return train_everything(tmp_path, True), train_everything(tmp_path, False)


def bits(a):
    """The array's bytes: -0.0 and 0.0 differ, NaNs compare as their bit patterns."""
    return np.ascontiguousarray(a).view(np.uint8)


def test_fused_step_gives_the_unfused_bits(both):
    fused, unfused = both
    assert sorted(fused) == sorted(unfused)
    assert len(fused) > 500
    # a velocity kept once an epoch is 0 v - lr g with a stale v: the same values, but where
    # lr g is 0 its zero's sign may be the other one (v = -0 - 0 after a positive v)
    differ = [name for name in fused
              if fused[name].dtype != unfused[name].dtype
              or not (np.array_equal(fused[name], unfused[name]) if "sgd_velocity" in name
                      else np.array_equal(bits(fused[name]), bits(unfused[name])))]
    assert not differ, differ[:10]
    velocities = [name for name in fused if "sgd_velocity1" in name]
    assert len(velocities) == 2 * len(SHAPES) * 2
    assert all(np.abs(fused[name]).max() > 0 for name in velocities)


def test_the_cases_train_and_diverge(both):
    fused, _ = both
    for threads in (1, 2):
        for shape in SHAPES:
            for dtype in ("float32", "float64"):
                for opt in OPTIMIZERS:
                    loss = fused[f"{threads}/{shape}/{dtype}/{opt}/0.001/loss"]
                    assert np.all(np.isfinite(loss)) and loss[-1] < loss[0], (shape, opt)
            # the diverging fit did stop, with finite parameters (no step on a NaN loss)
            assert fused[f"{threads}/{shape}/diverged"][0] == 1
            W0 = fused[f"{threads}/{shape}/diverged/W0"]
            assert np.all(np.isfinite(W0))


def test_thread_counts_give_the_same_bits(both):
    fused, _ = both
    for name in fused:
        if name.startswith("1/"):
            other = "2/" + name[2:]
            assert np.array_equal(bits(fused[name]), bits(fused[other])), name


@pytest.mark.parametrize("isa", ["portable", "avx2"])
def test_each_kernel_sets_step_gives_the_unfused_bits(isa):
    """The optimizer steps that travel with each kernel set (optim.c's baseline loops for
    portable, optim_step_avx2.c's for avx2; the avx512 sets', also optim_step_avx2.c's, run in
    the tests above on an AVX-512 machine), the L2 term in the step's loop: the fused step's
    bits equal the unfused step's, in a fresh process with the set forced."""
    from helpers import pytest_with_kernel
    pytest_with_kernel(isa, __file__, "gives_the_unfused_bits and not each_kernel")
