"""Tests of the reference's bfloat16 products: ops.bfloat16, ops.matmul_bfloat16, the product
keyword of the dense kernels, and MLP(dtype="bfloat16"), whose fit rounds the operands of its
three matrix products and nothing else.

bfloat16 keeps float32's exponent range and 8 significant bits (1 implicit + 7 stored): in
[1, 2) the spacing is 2^-7, so 1 + 2^-8 lies halfway between 1 and 1 + 2^-7.
"""

import copy
import json
import math

import numpy as np
import pytest

from nnfast.reference import MLP, SplitMix64, load, ops

LARGEST = (2 - 2 ** -7) * 2.0 ** 127   # the largest finite bfloat16
HALFWAY_TO_INF = (2 - 2 ** -8) * 2.0 ** 127  # between LARGEST (odd) and 2^128 (even)


# ---------------------------------------------------------------- bfloat16, by hand

@pytest.mark.parametrize("x,expected", [
    (1.0, 1.0),
    (1 + 2 ** -8, 1.0),                       # a tie: 1 (last bit 0) is the even neighbour
    (1 + 3 * 2 ** -8, 1 + 2 ** -6),           # a tie between 1 + 2^-7 (odd) and 1 + 2^-6
    (1 + 2 ** -8 + 2 ** -20, 1 + 2 ** -7),    # just past the tie: up
    (1 + 2 ** -8 - 2 ** -20, 1.0),            # just before it: down
    (3.0, 3.0),
    (0.1, 0.10009765625),                     # 0.1 = 1.6 * 2^-4 -> 205 * 2^-11
    (3.0e38, 226 * 2.0 ** 120),               # 3e38 / 2^120 = 225.70 -> 226
    (LARGEST, LARGEST),
    (math.nextafter(HALFWAY_TO_INF, 0.0), LARGEST),
    (HALFWAY_TO_INF, math.inf),               # the tie goes to the even 2^128: past the range
    (2.0 ** 128, math.inf),
    (1e300, math.inf),
    (2.0 ** -126, 2.0 ** -126),               # the smallest normal
    (2.0 ** -130, 2.0 ** -130),               # on the subnormal grid (spacing 2^-133)
    (2.0 ** -133, 2.0 ** -133),               # the smallest subnormal
    (1.5 * 2 ** -133, 2.0 ** -132),           # a tie between 1 and 2 times 2^-133: even
    (2.5 * 2 ** -133, 2.0 ** -132),           # a tie between 2 and 3 times 2^-133: even
    (3 * 2 ** -135, 2.0 ** -133),             # 0.75 of the smallest subnormal: up
    (2.0 ** -135, 0.0),                       # a quarter of it: to zero
    (5e-324, 0.0),                            # the smallest double
    (math.inf, math.inf),
])
def test_bfloat16_by_hand(x, expected):
    assert ops.bfloat16(x) == expected
    assert ops.bfloat16(-x) == -expected     # rounding is symmetric in the sign
    assert isinstance(ops.bfloat16(x), float)


def test_bfloat16_keeps_the_sign_of_zero_and_passes_nan():
    assert math.copysign(1.0, ops.bfloat16(0.0)) == 1.0
    assert math.copysign(1.0, ops.bfloat16(-0.0)) == -1.0
    assert math.copysign(1.0, ops.bfloat16(-2.0 ** -140)) == -1.0  # rounds to -0.0
    assert math.isnan(ops.bfloat16(math.nan))
    assert ops.bfloat16(-math.inf) == -math.inf


def bfloat16_oracle(values):
    """Round float32 values to bfloat16 by their bits u (NumPy, independent of the reference):
    u + 0x7FFF + (bit 16 of u) carries into the kept 16 bits exactly when the dropped ones are
    past half, or at half with the kept last bit odd. Finite inputs only."""
    u = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)


def random_float32s():
    """About 10,000 finite float32 values of both signs: any bit pattern, subnormals, values
    whose dropped 16 bits are exactly half (ties) or one off it, and normal(0, 1) draws."""
    rng = np.random.default_rng(20240607)
    bits = rng.integers(0, 2 ** 32, size=4000, dtype=np.uint64).astype(np.uint32)
    bits = bits[(bits & 0x7F800000) != 0x7F800000]                       # no inf or nan
    subnormal = rng.integers(0, 2 ** 23, size=2000, dtype=np.uint32)
    subnormal |= rng.integers(0, 2, size=2000, dtype=np.uint32) << 31
    near_tie = rng.integers(0, 2 ** 32, size=2000, dtype=np.uint64).astype(np.uint32)
    near_tie = (near_tie & 0xFFFF0000) | rng.choice([0x7FFF, 0x8000, 0x8001], size=2000)
    near_tie = near_tie.astype(np.uint32)
    near_tie = near_tie[(near_tie & 0x7F800000) != 0x7F800000]
    normal = rng.normal(size=2000).astype(np.float32)
    largest = np.array([np.finfo(np.float32).max, -np.finfo(np.float32).max], np.float32)
    return np.concatenate([bits.view(np.float32), subnormal.view(np.float32),
                           near_tie.view(np.float32), normal, largest])


def test_bfloat16_equals_the_bit_trick_on_random_float32s():
    values = random_float32s()
    assert len(values) > 9000
    assert np.count_nonzero(np.abs(values) < np.finfo(np.float32).tiny) > 1000  # subnormals
    assert np.count_nonzero(values < 0) > 3000
    ours = np.array([ops.bfloat16(float(v)) for v in values], dtype=np.float64)
    expected = bfloat16_oracle(values).astype(np.float64)
    # bit for bit, so -0.0 and 0.0 are told apart and inf must match inf
    different = np.flatnonzero(ours.view(np.uint64) != expected.view(np.uint64))
    if different.size:
        i = different[0]
        pytest.fail(f"{different.size} values differ; first: bfloat16({values[i]!r}) = "
                    f"{ours[i]!r}, expected {expected[i]!r}")


def test_bfloat16_of_doubles_is_the_nearest_grid_value():
    # doubles that are not float32 values: the result is a bfloat16 value, no farther than half
    # the spacing 2^(e - 7) of the binade [2^e, 2^(e+1)) holding x
    rng = SplitMix64(5)
    for _ in range(2000):
        x = (2.0 * rng.uniform() - 1.0) * 2.0 ** int(rng.uniform() * 60 - 30)
        y = ops.bfloat16(x)
        assert ops.bfloat16(y) == y
        spacing = 2.0 ** (math.frexp(x)[1] - 1 - 7)
        assert abs(y - x) <= spacing / 2


# ---------------------------------------------------------------- products

def random_matrix(rng, n, d):
    return [[2.0 * rng.uniform() - 1.0 for _ in range(d)] for _ in range(n)]


def round_matrix(A):
    return [[ops.bfloat16(a) for a in row] for row in A]


def test_products_table():
    assert ops.PRODUCTS == {"float64": ops.matmul, "bfloat16": ops.matmul_bfloat16}


def test_matmul_bfloat16_is_matmul_of_the_rounded_operands():
    rng = SplitMix64(1)
    A, B = random_matrix(rng, 4, 6), random_matrix(rng, 6, 3)
    C = ops.matmul_bfloat16(A, B)
    assert C == ops.matmul(round_matrix(A), round_matrix(B))  # the same sums, bit for bit
    exact = ops.matmul(A, B)
    assert all(c != e for row_c, row_e in zip(C, exact) for c, e in zip(row_c, row_e))
    # bfloat16 keeps about 3 decimal digits of each operand: close to the exact product
    assert all(abs(c - e) < 2e-2 for row_c, row_e in zip(C, exact) for c, e in zip(row_c, row_e))
    # on operands that are bfloat16 values already, nothing is rounded
    small = [[1.0, -2.5], [0.375, 4.0]]
    assert ops.matmul_bfloat16(small, small) == ops.matmul(small, small)
    assert A == random_matrix(SplitMix64(1), 4, 6)  # the operands are not changed


def test_dense_forward_with_the_bfloat16_product():
    A, W, b = [[0.1, 0.2]], [[0.3], [0.7]], [0.05]
    # bf(0.1) = 0.10009765625, bf(0.2) = 0.2001953125, bf(0.3) = 0.30078125, bf(0.7) = 0.69921875
    z = 0.10009765625 * 0.30078125 + 0.2001953125 * 0.69921875 + 0.05  # b is not rounded
    assert ops.dense_linear(A, W, b, product=ops.matmul_bfloat16) == [[z]]
    assert ops.dense_forward(A, W, b, "tanh", product=ops.matmul_bfloat16) == [[math.tanh(z)]]
    assert ops.dense_linear(A, W, b) == [[0.1 * 0.3 + 0.2 * 0.7 + 0.05]]


def test_dense_backward_with_the_bfloat16_product_by_hand():
    # m = 2 rows, 2 inputs (from a sigmoid layer), 1 output
    A_prev = [[0.3, 0.6], [0.9, 0.2]]
    W = [[0.7], [-1.3]]
    delta = [[0.1], [-0.45]]
    bf = ops.bfloat16
    dW, db, delta_prev = ops.dense_backward(A_prev, W, delta, "sigmoid",
                                            product=ops.matmul_bfloat16)
    # dW[j] = sum_i bf(A_prev[i][j]) bf(delta[i]) / m
    assert dW == [[(bf(0.3) * bf(0.1) + bf(0.9) * bf(-0.45)) / 2],
                  [(bf(0.6) * bf(0.1) + bf(0.2) * bf(-0.45)) / 2]]
    assert db == [(0.1 - 0.45) / 2]  # a column sum, exact
    # delta_prev[i][j] = bf(delta[i]) bf(W[j]) * a (1 - a), the derivative from the exact a
    assert delta_prev == [[bf(0.1) * bf(0.7) * (0.3 * (1 - 0.3)),
                           bf(0.1) * bf(-1.3) * (0.6 * (1 - 0.6))],
                          [bf(-0.45) * bf(0.7) * (0.9 * (1 - 0.9)),
                           bf(-0.45) * bf(-1.3) * (0.2 * (1 - 0.2))]]
    exact = ops.dense_backward(A_prev, W, delta, "sigmoid")
    assert exact[0] != dW and exact[2] != delta_prev and exact[1] == db
    assert ops.dense_backward(A_prev, W, delta, "sigmoid", product=ops.matmul) == exact


# ---------------------------------------------------------------- MLP(dtype="bfloat16")

def dataset(n=40):
    """40 rows of 3 features in [-1, 1) and a class 0/1 (two outputs, softmax)."""
    rng = SplitMix64(3)
    X = random_matrix(rng, n, 3)
    y = [int(x[0] + 0.5 * x[1] - x[2] > 0) for x in X]
    return X, y


def fitted(dtype, epochs=8, **kwargs):
    X, y = dataset()
    return MLP([3, 5, 2], activation="tanh", seed=7, dtype=dtype).fit(
        X, y, epochs=epochs, batch_size=10, lr=0.5, **kwargs)


def test_bfloat16_fit_rounds_but_stays_close_to_float64():
    exact, rounded = fitted("float64"), fitted("bfloat16")
    assert rounded.loss_curve_ != exact.loss_curve_
    assert rounded.weights != exact.weights
    for a, b in zip(rounded.loss_curve_, exact.loss_curve_):
        assert abs(a - b) <= 0.05 * b
    assert exact.loss_curve_[-1] < exact.loss_curve_[0]          # it learns,
    assert rounded.loss_curve_[-1] < rounded.loss_curve_[0]      # and so does bfloat16
    assert rounded.rng.state == exact.rng.state                  # the same draws


def test_one_bfloat16_step_is_the_textbook_step_with_all_three_products_rounded():
    X, y = dataset()
    model = MLP([3, 5, 2], activation="tanh", seed=7, dtype="bfloat16")
    (W0, W1), (b0, b1) = copy.deepcopy(model.weights), copy.deepcopy(model.biases)
    model.fit(X, y, epochs=1, batch_size=None, lr=0.5, shuffle=False)
    bf = ops.matmul_bfloat16
    A1 = ops.dense_forward(X, W0, b0, "tanh", product=bf)
    A2 = ops.dense_forward(A1, W1, b1, "softmax", product=bf)
    Y = [[1.0 - c, float(c)] for c in y]
    delta = [[a - t for a, t in zip(ar, tr)] for ar, tr in zip(A2, Y)]
    dW1, db1, delta = ops.dense_backward(A1, W1, delta, "tanh", product=bf)
    dW0, db0, _ = ops.dense_backward(X, W0, delta, None, product=bf)

    def step(P, G):
        return [[p - 0.5 * g for p, g in zip(pr, gr)] for pr, gr in zip(P, G)]
    assert model.weights == [step(W0, dW0), step(W1, dW1)]
    assert model.biases == [step([b0], [db0])[0], step([b1], [db1])[0]]


def test_everything_outside_fit_uses_the_exact_products():
    X, y = dataset()
    rounded = fitted("bfloat16")
    exact = MLP([3, 5, 2], activation="tanh", seed=7)
    exact.weights, exact.biases = copy.deepcopy(rounded.weights), copy.deepcopy(rounded.biases)
    assert rounded.forward(X) == exact.forward(X)
    (W0, W1), (b0, b1) = rounded.weights, rounded.biases
    for product, same in ((ops.matmul, True), (ops.matmul_bfloat16, False)):
        A2 = ops.dense_forward(ops.dense_forward(X, W0, b0, "tanh", product), W1, b1, "softmax",
                               product)
        assert (rounded.forward(X) == A2) is same
    assert rounded.predict(X) == exact.predict(X)
    assert rounded.loss(X, y, alpha=0.1) == exact.loss(X, y, alpha=0.1)
    assert rounded.gradients(X, y, alpha=0.1) == exact.gradients(X, y, alpha=0.1)
    # ... and the rounded products would have given other gradients
    Y = [[1.0 - c, float(c)] for c in y]
    _, dWs, _ = rounded._backprop(X, Y, 0.1, product=ops.matmul_bfloat16)
    assert dWs != rounded.gradients(X, y, alpha=0.1)[0]


def test_the_validation_loss_uses_the_exact_products():
    X, y = dataset()
    X_val, y_val = X[:12], y[:12]
    rounded = MLP([3, 5, 2], activation="tanh", seed=7, dtype="bfloat16").fit(
        X, y, epochs=1, lr=0.5, validation_data=(X_val, y_val))
    exact = MLP([3, 5, 2], activation="tanh", seed=7)
    exact.weights, exact.biases = rounded.weights, rounded.biases
    assert rounded.validation_loss_curve_ == [exact.loss(X_val, y_val)]


def test_save_load_round_trips_bfloat16(tmp_path):
    X, y = dataset()
    model = fitted("bfloat16", epochs=2)
    path = tmp_path / "model.json"
    model.save(path)
    loaded = load(path)
    assert loaded.dtype == "bfloat16"
    assert loaded.weights == model.weights and loaded.biases == model.biases
    assert loaded.rng.state == model.rng.state and loaded.loss_curve_ == model.loss_curve_
    assert repr(loaded) == repr(model)
    # training goes on in bfloat16, as it would have without the file
    model.fit(X, y, epochs=2, batch_size=10, lr=0.5)
    loaded.fit(X, y, epochs=2, batch_size=10, lr=0.5)
    assert loaded.weights == model.weights


def test_repr_names_dtype_only_when_it_is_not_float64():
    assert "dtype='bfloat16'" in repr(MLP([2, 1], dtype="bfloat16"))
    assert "dtype" not in repr(MLP([2, 1]))


@pytest.mark.parametrize("dtype", ["float32", "float16", "bf16", None, ["bfloat16"]])
def test_other_dtypes_are_refused(dtype):
    with pytest.raises(ValueError, match=r"dtype must be 'float64' or 'bfloat16'.*got dtype="):
        MLP([3, 5, 2], dtype=dtype)


def test_load_refuses_an_unknown_dtype(tmp_path):
    path = tmp_path / "model.json"
    MLP([2, 1], dtype="bfloat16").save(path)
    data = json.loads(path.read_text())
    data["dtype"] = "float16"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="invalid model file: dtype must be"):
        load(path)
