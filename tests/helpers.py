"""Comparison helpers for the tests: tensor by tensor, by name, with a stated tolerance."""
import numpy as np


def assert_close(name, actual, expected, rtol, atol=0.0):
    """Assert |actual - expected| <= atol + rtol * |expected| elementwise; on failure, name the
    tensor and print the largest difference and where it is."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    diff = np.abs(actual - expected)
    bound = atol + rtol * np.abs(expected)
    if not np.all(diff <= bound):
        worst = np.unravel_index(np.argmax(diff - bound), diff.shape)
        raise AssertionError(
            f"{name}: largest difference {diff[worst]:.3e} at {tuple(int(i) for i in worst)} "
            f"(actual {actual[worst]!r}, expected {expected[worst]!r}; rtol {rtol}, atol {atol})")


def assert_params_close(native, ref, rtol, atol=0.0, what=""):
    """Compare every W[l] and b[l] of a native model with a reference model."""
    for l, (W, W_ref) in enumerate(zip(native.weights, ref.weights)):
        assert_close(f"{what}W[{l}]", W, W_ref, rtol, atol)
    for l, (b, b_ref) in enumerate(zip(native.biases, ref.biases)):
        assert_close(f"{what}b[{l}]", b, b_ref, rtol, atol)


def classification_data(n=23, n_features=3, n_classes=3, seed=0):
    """Fixed random features and class indices."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    y = rng.integers(0, n_classes, size=n)
    return X, y


def targets_for(loss, n_outputs, n=23, seed=1):
    """Fixed random targets of the kind each loss takes, shape (n,) or (n, K)."""
    rng = np.random.default_rng(seed)
    if loss == "cross_entropy":
        return rng.integers(0, n_outputs, size=n)
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n, n_outputs)).astype(float)
    return rng.normal(size=(n, n_outputs))
