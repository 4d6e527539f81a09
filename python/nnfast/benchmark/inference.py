"""Large inference: the forward pass of 10,000 rows through W3's network (784-256-128-10,
relu, softmax, float32) by nnfast (MLP.forward), NumPy (its BLAS) and PyTorch (under
torch.inference_mode), each at 1 thread and at every core, from the same weights (nnfast's
glorot draw) and the same rows. Every output is checked against nnfast's at 1 thread: the
largest absolute difference of the probabilities within TOLERANCE.

The calls are interleaved (every implementation once per repeat), so that a change in the
machine's load falls on all of them alike; medians are reported.
"""
import contextlib
import importlib.util
import statistics
import time

import numpy as np

from . import numpy_mlp
from .comparison import SETTLE_SECONDS
from .workloads import DATA_SEED, MODEL_SEED

ROWS = {False: 10_000, True: 300}
LAYERS = {False: (784, 256, 128, 10), True: (64, 32, 16, 10)}
ACTIVATION, OUTPUT, DTYPE = "relu", "softmax", "float32"
TOLERANCE = 1e-5  # float32 probabilities; sums of a few hundred terms in another order


def _flops(layers, rows):
    return sum(2 * rows * k * n for k, n in zip(layers[:-1], layers[1:]))


@contextlib.contextmanager
def _thread_count(get, set_count, n):
    """A library's thread count set to n (get and set_count its functions), then restored."""
    previous = get()
    set_count(n)
    try:
        yield
    finally:
        set_count(previous)


def _nnfast_threads(n):
    import nnfast

    return _thread_count(nnfast.get_num_threads, nnfast.set_num_threads, n)


def _torch_threads(n):
    import torch

    return _thread_count(torch.get_num_threads, torch.set_num_threads, n)


@contextlib.contextmanager
def _numpy_threads(n):
    """NumPy's BLAS limited to n threads (threadpoolctl; as it is without it)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def _torch_forward(weights, biases, X):
    import torch

    from .runners import torch_sequential

    model = torch.nn.Sequential(torch_sequential(weights, biases, ACTIVATION, DTYPE),
                                torch.nn.Softmax(dim=1))
    X_t = torch.from_numpy(X)

    def call():
        with torch.inference_mode():
            return model(X_t).numpy()
    return call


def implementations(cores, weights, biases, model, X):
    """{key: (label, threads context, forward call)}, the call None when the library is
    missing; each at 1 thread and at every core."""
    counts = sorted({1, cores})
    plural = {t: f"{t} thread{'s' * (t > 1)}" for t in counts}
    activations = [ACTIVATION] * (len(weights) - 1) + [OUTPUT]
    table = {}
    for t in counts:
        table[f"nnfast-{t}t"] = (f"nnfast {plural[t]}", lambda t=t: _nnfast_threads(t),
                                 lambda: model.forward(X))
    for t in counts:
        table[f"numpy-{t}t"] = (
            f"NumPy {plural[t]}", lambda t=t: _numpy_threads(t),
            lambda: numpy_mlp.forward_layers(weights, biases, X, activations)[0][-1])
    have_torch = importlib.util.find_spec("torch") is not None
    torch_call = _torch_forward(weights, biases, X) if have_torch else None
    for t in counts:
        table[f"torch-{t}t"] = (f"PyTorch CPU {plural[t]}", lambda t=t: _torch_threads(t),
                                torch_call)
    return table


def run(cores, repeats, quick=False, settle=SETTLE_SECONDS, log=print):
    """The inference comparison: a dict for the JSON report and report.inference_lines. Each
    timed call starts `settle` seconds after the one before (comparison.SETTLE_SECONDS): in
    turn without a pause, PyTorch's 2-thread forward ran while NumPy's BLAS threads still
    spun, and took 2-3 times as long."""
    import nnfast

    layers, rows = LAYERS[quick], ROWS[quick]
    X = np.random.default_rng(DATA_SEED).standard_normal((rows, layers[0]), dtype=np.float32)
    model = nnfast.MLP(list(layers), activation=ACTIVATION, output=OUTPUT, seed=MODEL_SEED,
                       dtype=DTYPE)
    weights = [W.copy() for W in model.weights]
    biases = [b.copy() for b in model.biases]
    table = implementations(cores, weights, biases, model, X)
    times = {key: [] for key in table}
    outputs = {}
    for key, (_, threads, call) in table.items():  # warm up: pools, caches, first calls
        if call is not None:
            with threads():
                outputs[key] = call()
    for _ in range(repeats):
        for key, (_, threads, call) in table.items():
            if call is None:
                continue
            time.sleep(settle)
            with threads():
                start = time.perf_counter()
                call()
                times[key].append(time.perf_counter() - start)
    reference = outputs["nnfast-1t"]
    results = {}
    for key, (label, _, call) in table.items():
        if call is None:
            results[key] = {"label": label, "status": "skipped", "reason": "torch not installed"}
            continue
        difference = float(np.abs(outputs[key] - reference).max())
        median = statistics.median(times[key])
        results[key] = {"label": label, "status": "ok", "times": times[key], "median": median,
                        "gflops": _flops(layers, rows) / median / 1e9,
                        "max_difference": difference, "passed": difference <= TOLERANCE}
        log(f"  inference {label:<22} median {median * 1e3:8.3f} ms, output difference "
            f"{difference:.1e}")
    return {"layers": list(layers), "rows": rows, "dtype": DTYPE, "activation": ACTIVATION,
            "output": OUTPUT, "repeats": repeats, "tolerance": TOLERANCE, "results": results}
