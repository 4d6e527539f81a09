"""The dense perceptron SGD epoch of each instruction set (src/nncore/perceptron_simd.h: portable
C, avx2, avx512; it follows NNFAST_GEMM_KERNEL, so each runs in a fresh process with the kernel
forced) gives the same bits as the portable one: odd feature counts (the vectors' masked
tails), float32 and float64, shuffled and row orders, with and without a penalty (one row at a
time) and without (rows in batches). The portable epoch itself follows the documented order:
sixteen partial sums s_l over j = l mod 16, then (s_l + s_{l+8}), (+4), (+2), (+1). And
numpy.random.RandomState's seeding and permutations, drawn by the core as the epochs run."""
import os
import subprocess
import sys

import numpy as np
import pytest

import nnfast
from nnfast import ops

from test_vecmath import runs

FEATURES = [1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 65, 100]
PENALTIES = {"none": (0.0, 0.0), "l2": (1e-3, 0.0), "elasticnet": (1e-3, 0.5)}
NNFAST_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(nnfast.__file__)))


def problem(k, dtype, n=37, seed=0):
    """Rows that keep a perceptron busy: noisy labels, so mistakes come now and then."""
    rng = np.random.default_rng(seed + k)
    X = rng.normal(size=(n, k)).astype(dtype)
    y = np.where(X[:, 0] + 0.8 * rng.normal(size=n) > 0, 1.0, -1.0).astype(dtype)
    sw = rng.uniform(0.5, 1.5, size=n).astype(dtype)
    return X, y, sw, rng.permutation(n).astype(np.int64)


def epoch_results():
    """Every case's (w, b, u, objective) after 3 epochs, in one dict of arrays."""
    out = {}
    for dtype in ("float32", "float64"):
        for k in FEATURES:
            X, y, sw, order = problem(k, dtype)
            for name, (alpha, l1_ratio) in PENALTIES.items():
                for shuffled in (False, True):
                    w, q, b, u, objs = np.zeros(k, dtype), np.zeros(k, dtype), 0.0, 0.0, []
                    for _ in range(3):
                        b, u, obj = ops.perceptron_sgd_epoch(
                            w, b, u, q, X, y, sw, 0.5, alpha, l1_ratio, True,
                            order if shuffled else None)
                        objs.append(obj)
                    key = f"{dtype}-{k}-{name}-{shuffled}"
                    out[key + "-w"] = w
                    out[key + "-bu"] = np.array([b, u] + objs)
    # many classes, orders drawn by the core as the epochs run, on 2 threads
    X, y, _, _ = problem(64, "float64", n=300)
    Y = np.stack([y, -y, np.sign(X[:, 1] + 0.1)])
    W = np.zeros((3, 64))
    state = ops.perceptron_sgd_classes(np.zeros(3), W)
    nnfast.set_num_threads(2)
    ops.perceptron_sgd_fit(W, None, state, X, Y, np.ones_like(Y), ops.RandomStateOrders([1, 2, 3]),
                           1.0, n_epochs=20, max_iter=20)
    out["fit-W"] = W
    out["fit-b"] = state["b"].copy()
    return out


def mlp_and_epoch_results():
    """epoch_results() and the weights of a float64 MLP fit whose products take the direct
    kernels (batch 200, 64 -> 32 -> 10)."""
    out = epoch_results()
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 64))
    y = rng.integers(0, 10, 400)
    model = nnfast.MLP([64, 32, 10], "relu", seed=3, dtype="float64")
    model.fit(X, y, epochs=3, batch_size=200, lr=0.01)
    out["mlp-params"] = np.concatenate([p.ravel() for p in model.weights + model.biases])
    return out


def isa_results(isa, tmp_path, what="epoch_results"):
    """what() (epoch_results) in a fresh process with NNFAST_GEMM_KERNEL=isa, and its kernel
    name."""
    path = tmp_path / f"{isa}.npz"
    code = (f"import sys; sys.path[:0] = [{NNFAST_PARENT!r}, {os.path.dirname(__file__)!r}]\n"
            "import numpy as np, test_perceptron_kernels as t\n"
            "from nnfast import _core\n"
            f"np.savez({str(path)!r}, **t.{what}())\n"
            "print(_core.build_info()['gemm_kernel_float64'])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(os.environ, NNFAST_GEMM_KERNEL=isa), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    with np.load(path) as data:
        return {key: data[key] for key in data.files}, result.stdout.strip()


@pytest.fixture(scope="module")
def portable(tmp_path_factory):
    return isa_results("portable", tmp_path_factory.mktemp("portable"))[0]


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_every_instruction_set_epoch_gives_the_portable_bits(isa, portable, tmp_path):
    if not runs(isa):
        pytest.skip(f"this CPU does not run {isa}")
    results, kernel = isa_results(isa, tmp_path)
    assert kernel.startswith(isa), kernel
    assert results.keys() == portable.keys()
    for key, expected in portable.items():
        np.testing.assert_array_equal(results[key], expected, err_msg=key)


def test_a_kernel_set_named_by_its_tile_keeps_its_instruction_set(tmp_path):
    """NNFAST_GEMM_KERNEL=avx512_12x32 (the AVX-512 set with the older float tile) runs the
    AVX-512 direct products and Perceptron epochs: float64 results equal the avx512 set's."""
    if not runs("avx512"):
        pytest.skip("this CPU does not run avx512")
    default, _ = isa_results("avx512", tmp_path, "mlp_and_epoch_results")
    named, kernel = isa_results("avx512_12x32", tmp_path, "mlp_and_epoch_results")
    assert kernel.startswith("avx512"), kernel
    for key, expected in default.items():
        if expected.dtype == np.float64:
            np.testing.assert_array_equal(named[key], expected, err_msg=key)


def dot16(w, x):
    """The documented order, one float64 operation at a time."""
    s = [0.0] * 16
    for j in range(len(w)):
        s[j % 16] += float(w[j]) * float(x[j])
    t = [s[l] + s[l + 8] for l in range(8)]
    u = [t[l] + t[l + 4] for l in range(4)]
    v = [u[l] + u[l + 2] for l in range(2)]
    return v[0] + v[1]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("k", [7, 17, 64, 65])
def test_epoch_follows_the_documented_dot_product_order(dtype, k):
    X, y, sw, order = problem(k, dtype)
    w = np.zeros(k, dtype)
    b, _, objective = ops.perceptron_sgd_epoch(w, 0.0, 0.0, np.zeros(k, dtype), X, y, sw, 0.5,
                                               order=order)
    w_ref, b_ref, obj_ref = np.zeros(k, dtype), 0.0, 0.0
    for i in order:
        yp = float(y[i]) * (dot16(w_ref, X[i]) + b_ref)
        if yp <= 0:
            obj_ref -= yp
            step = 0.5 * float(y[i]) * float(sw[i])
            w_ref += np.array(step, dtype) * X[i]
            b_ref += step
    np.testing.assert_array_equal(w, w_ref)
    assert (b, objective) == (b_ref, obj_ref)


@pytest.mark.parametrize("seeds", [[0], [1, 12345, 2**31 - 2], [2**32 - 1, 7]])
def test_core_seeding_is_random_states(seeds):
    streams = ops.RandomStateOrders(seeds)
    for s, seed in enumerate(seeds):
        _, key, pos = np.random.RandomState(seed).get_state(legacy=True)[:3]
        np.testing.assert_array_equal(streams.keys[s], key)
        assert streams.pos[s] == pos


def test_streams_draw_one_order_per_epoch_run():
    """The orders drawn as the epochs run are the orders drawn ahead: the same coefficients,
    each stream left where RandomState is after the permutations of the epochs its class
    ran (a class that stops early draws no more), whatever the thread count."""
    X, y, sw, _ = problem(20, "float64", n=200)
    Y = np.stack([y, -y, np.where(X[:, 2] > 0, 1.0, -1.0), np.ones_like(y)])
    SW = np.stack([sw] * 4)
    seeds = [5, 6, 7, 8]
    fits = []
    try:
        for threads in (1, 2):
            nnfast.set_num_threads(threads)
            for drawn in (True, False):
                W = np.zeros((4, 20))
                state = ops.perceptron_sgd_classes(np.zeros(4), W)
                streams = ops.RandomStateOrders(seeds)
                if drawn:
                    orders = streams
                else:
                    orders = np.zeros((4, 12, 200), np.int64)
                    streams.fill(orders)
                ops.perceptron_sgd_fit(W, None, state, X, Y, SW, orders, 0.7, tol=1e-3,
                                       n_iter_no_change=2, max_iter=12, n_epochs=12)
                fits.append((W, state.copy(), streams))
    finally:
        nnfast.set_num_threads(None)
    epochs = fits[0][1]["epochs"]
    assert len(set(epochs.tolist())) > 1  # some classes stopped early
    for W, state, _ in fits[1:]:
        np.testing.assert_array_equal(W, fits[0][0])
        np.testing.assert_array_equal(state, fits[0][1])
    for W, state, streams in (fits[0], fits[2]):
        for s, seed in enumerate(seeds):
            rng = np.random.RandomState(seed)
            for _ in range(epochs[s]):
                rng.permutation(200)
            _, key, pos = rng.get_state(legacy=True)[:3]
            np.testing.assert_array_equal(streams.keys[s], key)
            assert streams.pos[s] == pos


def test_streams_are_refused_where_they_cannot_be_used():
    X, y, sw, _ = problem(5, "float64", n=10)
    W = np.zeros((2, 5))
    state = ops.perceptron_sgd_classes(np.zeros(2), W)
    Y, SW = np.stack([y, -y]), np.stack([sw, sw])
    with pytest.raises(ValueError, match="one stream per class"):
        ops.perceptron_sgd_fit(W, None, state, X, Y, SW, ops.RandomStateOrders([1, 2, 3]), 1.0)
    from nnfast import _sparse
    import scipy.sparse as sp
    rows = _sparse.as_csr(sp.csr_matrix(X), np.float64)
    with pytest.raises(TypeError, match="RandomStateOrders"):
        _sparse.perceptron_sgd_fit(W, None, state, rows, Y, SW, ops.RandomStateOrders([1, 2]),
                                   1.0)
    assert not W.any()
