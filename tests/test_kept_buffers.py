"""Page faults: a fit's large buffers (the core's gradient, optimizer state and batch buffers)
come back to the next fit of the same size on the same thread instead of being returned to
the system and faulted in again page by page (scratch.c's kept blocks)."""
import resource
import sys

import numpy as np
import pytest

import nnfast

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="minor page faults as Linux's getrusage counts them")

LAYERS = [512, 1024, 1024, 10]
ROWS, BATCH = 512, 256


def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def workspace_pages(model):
    """4 KiB pages of the core's buffers of a sgd fit with momentum: gradient and velocity
    (n_params each) and the batch's activations and deltas (batch x the widths)."""
    n_params = sum(W.size + b.size for W, b in zip(model.weights, model.biases))
    batch_values = BATCH * (sum(LAYERS[1:]) + LAYERS[-1] + 2 * max(LAYERS[1:]))
    return (2 * n_params + batch_values) * 4 // 4096


@pytest.mark.parametrize("threads", [1, 2])
def test_second_fit_reuses_the_first_fits_pages(threads):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((ROWS, LAYERS[0]), dtype=np.float32)
    y = rng.integers(0, LAYERS[-1], ROWS)
    model = nnfast.MLP(LAYERS, activation="relu", output="softmax", dtype="float32", seed=1)
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(threads)
    try:
        faults = []
        for _ in range(3):
            before = minor_faults()
            model.fit(X, y, epochs=1, batch_size=BATCH, lr=0.01, momentum=0.9, shuffle=False)
            faults.append(minor_faults() - before)
    finally:
        nnfast.set_num_threads(previous)
    pages = workspace_pages(model)
    assert np.isfinite(model.loss_curve_).all()
    # the first fit faults the buffers in (unless an earlier test left blocks this size);
    # the later ones reuse them: a small fraction of those pages at most
    assert max(faults[1:]) < pages // 4, (faults, pages)
