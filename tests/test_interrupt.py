"""Ctrl-C during a long fit raises KeyboardInterrupt promptly and leaves the model as it was."""
import subprocess
import sys

SCRIPT = r"""
import os, signal, threading, time
# A shell starts a background job (`pytest ... &`) with SIGINT ignored, and the child inherits
# that: Python then installs no handler and the SIGINT below would be lost. Ctrl-C's own.
signal.signal(signal.SIGINT, signal.default_int_handler)
import numpy as np
import nnfast

X = np.random.default_rng(0).normal(size=(4000, 40))
y = (X[:, 0] > 0).astype(int)
model = nnfast.MLP([40, 128, 1], "relu")
before = [W.copy() for W in model.weights]
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
start = time.perf_counter()
try:
    model.fit(X, y, epochs=100_000, batch_size=16)   # hours, if nothing stopped it
except KeyboardInterrupt:
    waited = time.perf_counter() - start
    unchanged = all(np.array_equal(a, b) for a, b in zip(before, model.weights))
    usable = model.forward(X[:3]).shape == (3, 1)
    print(f"interrupted after {waited:.2f} s unchanged={unchanged} usable={usable}")
"""


def test_ctrl_c_stops_fit_between_batches():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "unchanged=True usable=True" in result.stdout, result.stdout
    waited = float(result.stdout.split("after ")[1].split()[0])
    assert waited < 30, result.stdout      # stopped within the run, not after 100k epochs
