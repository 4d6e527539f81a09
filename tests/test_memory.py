"""Memory: a loop of fit / predict / save / load on a small model does not grow resident memory.

Every call allocates (the model's parameters, the training workspace in C, the .npz file's
buffers) and frees again; a leak of even one small buffer per call shows here as steady growth.
The test runs 600 iterations after a warm-up (a few seconds). The long measurement the
hardening issue asks for (10,000 iterations, resident memory printed every 1,000) is

    PYTHONPATH=python python tests/test_memory.py 10000
"""
import ctypes
import gc
import os
import sys
import tempfile
import threading

import numpy as np

import nnfast

WARM_UP = 150
ITERATIONS = 600
# Resident memory and the malloc heap in use may grow by this much over the measured
# iterations. Noise stays well inside it (10,000 iterations: +0 KiB both), while a leak of
# 256 bytes per iteration (150 KiB) would not. Resident memory alone would miss a small
# leak: the heap keeps the free space of the warm-up, and a 1 KiB-per-iteration leak grew it
# by only 8 KiB; the heap in use (glibc's mallinfo2, all arenas, the C core's buffers
# included) counts it exactly.
ALLOWED_GROWTH_BYTES = 128 << 10


def resident_bytes():
    """The process's resident set size, from /proc (Linux) or getrusage's peak elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _mallinfo2():
    """glibc's mallinfo2 (2.33+), or None elsewhere."""
    try:
        function = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return None
    function.restype = _MallInfo2
    return function


MALLINFO2 = _mallinfo2()


def heap_bytes():
    """Bytes malloc has handed out and not had back (all arenas, mmap'd blocks included):
    exact where resident memory is blurred by free space the heap keeps. 0 without glibc."""
    if MALLINFO2 is None:
        return 0
    info = MALLINFO2()
    return info.uordblks + info.hblkhd


def cycle(X, y, path, seed):
    """One fit, predict, save and load of a small MLP (float64 and float32 alternately)."""
    dtype = "float32" if seed % 2 else "float64"
    model = nnfast.MLP([4, 8, 3], "tanh", seed=seed, dtype=dtype)
    model.fit(X, y, epochs=3, batch_size=8, optimizer="adam" if seed % 3 else "sgd", lr=0.01)
    labels = model.predict(X)
    model.save(path)
    loaded = nnfast.load(path)
    assert np.array_equal(loaded.predict(X), labels)


def measure(iterations, report_every=None):
    """(resident, heap) bytes after the warm-up and after each report_every iterations."""
    X, y, _, _ = nnfast.data.load_iris()
    X, y = X[::5], y[::5]      # 30 rows
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.npz")
        for seed in range(WARM_UP):
            cycle(X, y, path, seed)
        gc.collect()
        samples = [(resident_bytes(), heap_bytes())]
        for i in range(iterations):
            cycle(X, y, path, i)
            if report_every and (i + 1) % report_every == 0:
                gc.collect()
                samples.append((resident_bytes(), heap_bytes()))
                print(f"{i + 1:6d} iterations: resident {samples[-1][0] / 2**20:.2f} MiB "
                      f"({(samples[-1][0] - samples[0][0]) / 2**10:+.0f} KiB), malloc heap in "
                      f"use {samples[-1][1] / 2**20:.2f} MiB "
                      f"({(samples[-1][1] - samples[0][1]) / 2**10:+.0f} KiB) since warm-up",
                      flush=True)
        gc.collect()
        samples.append((resident_bytes(), heap_bytes()))
    return samples


def test_fit_predict_save_load_loop_does_not_grow_resident_memory():
    samples = measure(ITERATIONS)
    for what, before, after in zip(("resident memory", "the malloc heap in use"),
                                   samples[0], samples[-1]):
        growth = after - before
        assert growth < ALLOWED_GROWTH_BYTES, (
            f"{what} grew by {growth / 2**10:.0f} KiB over {ITERATIONS} iterations "
            f"(allowed {ALLOWED_GROWTH_BYTES / 2**10:.0f} KiB)")


def test_threads_that_come_and_go_do_not_leak():
    """A server that answers each request in a new thread: short-lived threads, each one
    forward through a layer big enough for the blocked GEMM, must not grow the heap. (An earlier
    GEMM kept its packing buffers in thread-local storage that was never freed: 540 KiB lost
    per thread, 21 MB in each batch of 40 here.)"""
    model = nnfast.MLP([256, 256, 10], "relu", dtype="float32")
    X = np.random.default_rng(0).normal(size=(512, 256)).astype(np.float32)

    def in_a_new_thread():
        thread = threading.Thread(target=model.forward, args=(X,))
        thread.start()
        thread.join()

    def forty_threads():
        for _ in range(40):
            in_a_new_thread()
        gc.collect()
        return heap_bytes(), resident_bytes()

    for _ in range(5):
        in_a_new_thread()
    gc.collect()
    # The malloc heap is exact: it must not grow over 80 threads. Resident memory also moves
    # for reasons of its own (a page of an arena or of the interpreter touched for the first
    # time), once: a leak grows it in every batch, so it must stay flat in one of two batches.
    samples = [(heap_bytes(), resident_bytes())] + [forty_threads() for _ in range(2)]
    heap_growth = samples[-1][0] - samples[0][0]
    assert heap_growth < 1 << 20, (
        f"the malloc heap in use grew by {heap_growth / 2**10:.0f} KiB over 80 threads")
    resident_growths = [after[1] - before[1] for before, after in zip(samples, samples[1:])]
    assert min(resident_growths) < 1 << 20, (
        "resident memory grew in each batch of 40 threads: by "
        + " and ".join(f"{g / 2**10:.0f} KiB" for g in resident_growths))

if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    result = measure(n, report_every=max(1, n // 10))
    for what, before, after in zip(("resident", "malloc heap in use"), result[0], result[-1]):
        print(f"{what}: after warm-up {before / 2**20:.2f} MiB, after {n} iterations "
              f"{after / 2**20:.2f} MiB: growth {(after - before) / 2**10:+.0f} KiB")
