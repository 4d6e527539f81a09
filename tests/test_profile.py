"""The C core's products profile (src/nncore/profile.c, nnfast._core.profile_start / stop) and
its report (nnfast.benchmark.profile, bench/profile_products.py): every product a fit runs is
counted under its shape, with its fused step, its precision and its parallel loops; nothing is
counted while the profile is off. The networks here are past the fused small-net engine (whose
products are its own, not the GEMM's: a step of more than 256 KiB)."""
import dataclasses
import re
import time

import numpy as np
import pytest

import nnfast
from nnfast import _core
from nnfast.benchmark.profile import FitProfile, products_isolated, profile_fit, profile_text
from nnfast.benchmark.workloads import FULL


@pytest.fixture
def two_threads():
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(2)
    yield
    nnfast.set_num_threads(previous)


def _rows_by_shape(rows):
    return {(r["m"], r["n"], r["k"], r["trans_a"], r["trans_b"], r["step"], r["dtype"]): r
            for r in rows}


def _fit(dtype="float32", rows=96, batch=32, epochs=2):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, 100)).astype(np.float32)
    y = rng.integers(0, 5, rows)
    model = nnfast.MLP([100, 128, 96, 5], activation="relu", output="softmax", seed=1,
                       dtype=dtype)
    _core.profile_start()
    try:
        model.fit(X, y, epochs=epochs, batch_size=batch, lr=0.1, shuffle=False)
    finally:
        profiled = _core.profile_stop()
    return profiled


def test_a_fit_counts_every_product_of_every_step():
    rows = _rows_by_shape(_fit())
    steps = 2 * 3  # 2 epochs of 3 batches of 32
    # forward X W per layer; backward delta W^T for all but the first; dW = A^T delta with
    # the optimizer step fused in (m x n = the weights' shape, k = the batch)
    expected = [(32, 128, 100, False, False, False), (32, 96, 128, False, False, False),
                (32, 5, 96, False, False, False), (32, 96, 5, False, True, False),
                (32, 128, 96, False, True, False), (100, 128, 32, True, False, True),
                (128, 96, 32, True, False, True), (96, 5, 32, True, False, True)]
    for shape in expected:
        row = rows.get(shape + ("float32",))
        assert row is not None, f"no row for {shape}: {sorted(rows)}"
        assert row["calls"] == steps, (shape, row["calls"])
        assert row["seconds"] > 0
        assert row["loops_alone"] <= row["loops"]


def test_nothing_is_counted_while_the_profile_is_off():
    first = _fit()
    A = np.ones((32, 100), np.float32)
    B = np.ones((100, 128), np.float32)
    nnfast.ops.matmul(A, B)  # the profile is off: not counted
    again = _core.profile_stop()
    assert again == first
    _core.profile_start()  # starting clears the rows
    assert _core.profile_stop() == []


def test_matmul_rows_and_parallel_loops(two_threads):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((256, 384)).astype(np.float32)
    B = rng.standard_normal((384, 512)).astype(np.float32)
    _core.profile_start()
    for _ in range(4):
        nnfast.ops.matmul(A, B)
    nnfast.ops.matmul(B.T.copy(), A.T.copy())
    rows = _rows_by_shape(_core.profile_stop())
    big = rows[(256, 512, 384, False, False, False, "float32")]
    assert big["calls"] == 4
    # 100 MFLOP: split over the two threads, one parallel loop (or more) a call
    assert big["loops"] >= big["calls"]
    assert 0 <= big["loops_alone"] <= big["loops"]
    assert big["end_wait"] >= 0
    assert rows[(512, 256, 384, False, False, False, "float32")]["calls"] == 1
    assert not [r for r in rows.values() if r["dtype"] == "float64"]


def test_the_forward_of_many_rows_is_counted(two_threads):
    rng = np.random.default_rng(2)
    # parameters past the small-net forward (256 KiB)
    model = nnfast.MLP([300, 256, 128, 5], activation="relu", output="softmax", seed=1)
    X = rng.standard_normal((5000, 300)).astype(np.float32)
    _core.profile_start()
    model.forward(X)
    rows = _core.profile_stop()
    # the rows in chunks (over the threads), each layer's product against one packed W
    first = [r for r in rows if (r["n"], r["k"]) == (256, 300)]
    assert first and sum(r["m"] * r["calls"] for r in first) == 5000
    assert sum(r["m"] * r["calls"] for r in rows if (r["n"], r["k"]) == (5, 128)) == 5000


def test_double_and_bfloat16_products_have_their_own_rows():
    rows = _fit(dtype="float64")
    assert {r["dtype"] for r in rows} == {"float64"}
    rows = _fit(dtype="bfloat16")
    dtypes = {r["dtype"] for r in rows if r["m"]}
    assert "bfloat16" in dtypes
    step_rows = [r for r in rows if r["step"]]
    assert step_rows and all(r["dtype"] == "bfloat16" for r in step_rows)


def test_profile_fit_and_its_table():
    workload = dataclasses.replace(FULL["W3"], n_samples=320, epochs=1)
    p = profile_fit(workload, threads=1, fits=2)
    assert p.steps == 2 * 5
    assert p.seconds > 0
    forward = [r for r in p.rows if (r["m"], r["n"], r["k"]) == (64, 256, 784)]
    assert forward and forward[0]["calls"] == p.steps
    text = profile_text(p)
    assert text.splitlines()[0].startswith("W3, 1 thread(s), 2 fit(s)")
    assert "64 x 256 x 784 A B " in text
    assert "784 x 256 x 64 A^T B +step" in text
    assert text.splitlines()[-1].startswith("outside the products")
    with pytest.raises(ValueError, match="fits must be >= 1"):
        profile_fit(workload, threads=1, fits=0)
    assert p.isolated == []


def test_profile_fit_times_its_products_on_their_own_between_fits():
    workload = dataclasses.replace(FULL["W3"], n_samples=320, epochs=1)
    p = profile_fit(workload, threads=1, fits=2, isolated=True)
    assert len(p.isolated) == len(p.rows)
    for row, seconds in zip(p.rows, p.isolated):
        if row["dtype"] == "float32":
            assert seconds is not None and seconds > 0, row
        else:
            assert seconds is None, row
    text = profile_text(p)
    assert "us isolated" in text.splitlines()[1]
    assert text.splitlines()[-1].startswith("products in the step over isolated")


def test_profile_text_shares():
    rows = [{"m": 8, "n": 4, "k": 2, "trans_a": False, "trans_b": False, "dtype": "float32",
             "step": False, "calls": 10, "seconds": 0.25, "loops": 10, "loops_alone": 5,
             "end_wait": 1e-5}]
    text = profile_text(FitProfile("Wx", 2, 1, 10, 1.0, rows))
    line = [x for x in text.splitlines() if x.startswith("8 x 4 x 2 A B")][0]
    fields = line.split()
    # calls a step 1, 25000 us a call, 25 % of the fit, half the loops alone, 1 us waited
    assert fields[-6:] == ["1", "25000.00", "0.0", "25.0", "50.0", "1.00"]
    assert text.splitlines()[-1].split()[3] == "75.0"


def test_products_isolated_times_each_float_product_at_its_shape():
    rows = [{"m": 8, "n": 4, "k": 3, "trans_a": True, "trans_b": False, "dtype": "float32"},
            {"m": 5, "n": 6, "k": 7, "trans_a": False, "trans_b": True, "dtype": "float64"},
            {"m": 5, "n": 6, "k": 7, "trans_a": False, "trans_b": False, "dtype": "bfloat16"},
            {"m": 0, "n": 0, "k": 0, "trans_a": False, "trans_b": False, "dtype": None}]
    seen = set()

    def gemm(C, A, B, trans_a, trans_b):
        # a stand-in: 1 ms a call, 0.5 ms for 1 x 1 x 1 (the call's own cost)
        seen.add((C.shape, A.shape, B.shape, trans_a, trans_b, C.dtype.name))
        until = time.perf_counter() + (5e-4 if C.size == 1 else 1e-3)
        while time.perf_counter() < until:
            pass

    isolated = products_isolated(rows, threads=1, min_seconds=1e-4, samples=5, gemm=gemm)
    assert len(isolated) == 4 and isolated[2] is None and isolated[3] is None
    # 1 ms less the 0.5 ms call
    assert 4e-4 < isolated[0] < 8e-4 and 4e-4 < isolated[1] < 8e-4, isolated
    # op(A) (m, k) and op(B) (k, n) of each row, as stored: A^T is (k, m), B^T (n, k)
    assert ((8, 4), (3, 8), (3, 4), True, False, "float32") in seen
    assert ((5, 6), (5, 7), (6, 7), False, True, "float64") in seen
    # the 1 x 1 x 1 call whose time is taken off (the call from Python)
    assert ((1, 1), (1, 1), (1, 1), False, False, "float32") in seen


def test_products_isolated_with_the_core_and_the_table_columns():
    rows = [{"m": 64, "n": 48, "k": 32, "trans_a": False, "trans_b": False,
             "dtype": "float32", "step": False, "calls": 10, "seconds": 0.25, "loops": 0,
             "loops_alone": 0, "end_wait": 0.0},
            {"m": 0, "n": 0, "k": 0, "trans_a": False, "trans_b": False, "dtype": None,
             "step": False, "calls": 0, "seconds": 0.0, "loops": 4, "loops_alone": 0,
             "end_wait": 0.0}]
    isolated = products_isolated(rows, threads=1, min_seconds=1e-3, samples=3)
    assert isolated[1] is None and 0 < isolated[0] < 0.025  # a 98 kFLOP product: microseconds
    isolated[0] = 0.02  # 20000 us a call on its own against 25000 in the step
    text = profile_text(FitProfile("Wx", 1, 1, 5, 1.0, rows, isolated))  # 5 steps, 10 calls
    header = text.splitlines()[1]
    assert header.split()[-3:] == ["isolated", "excess", "us/step"]
    line = [x for x in text.splitlines() if x.startswith("64 x 48 x 32 A B")][0]
    # 20000 us on its own; 5000 us more a call in the step, two calls a step
    assert line.split()[-2:] == ["20000.00", "10000.00"]
    last = text.splitlines()[-1]
    assert last.startswith("products in the step over isolated")
    # 10000 us of a 200000 us step: 5 %
    assert last.split()[-5:] == ["5.0", "(10000.0", "us", "a", "step)"]
    assert "us isolated" not in profile_text(FitProfile("Wx", 1, 1, 5, 1.0, rows))


def test_profile_products_runs_another_batch_size(capsys):
    """bench/profile_products.py --batch-size and --samples: the workload's network on other
    rows a step (the products' m) and fewer samples (the steps)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "profile_products.py"
    spec = importlib.util.spec_from_file_location("profile_products", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--workload", "W3", "--threads", "1", "--fits", "1", "--batch-size",
                        "32", "--samples", "320"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^(\d+) x (\d+) x (\d+) .*?\s{2,}(\S+)\s", out, re.M)
    assert len(rows) == 8  # W3's three layers: 3 forward, 3 weight gradients, 2 deltas
    # every product of every step has 32 rows: m, or k for a weight gradient (A^T B)
    assert all(32 in (int(m), int(k)) and float(calls) == 1.0 for m, n, k, calls in rows)
    assert "32 x 256 x 784 A B" in out
