"""Feature maps that make data linearly separable for a single-layer perceptron."""
import numpy as np
import numpy.typing as npt

from ._validation import allocation, as_matrix, real_in


def rbf(X: npt.ArrayLike, centers: npt.ArrayLike, gamma: float = 1.0) -> npt.NDArray[np.float64]:
    """Radial-basis-function features: phi_ij = exp(-gamma * ||x_i - c_j||^2).

    Seed 000's remedy for data a perceptron cannot separate, such as XOR: with centers at
    (0, 1) and (1, 0), XOR becomes "close to either center".

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    centers : array-like of shape (n_centers, n_features)
    gamma : float > 0

    Returns
    -------
    ndarray of shape (n_samples, n_centers)
    """
    X = as_matrix(X, "X", np.float64)
    C = as_matrix(centers, "centers", np.float64)
    if C.shape[1] != X.shape[1]:
        raise ValueError(f"centers have {C.shape[1]} features, X has {X.shape[1]}")
    gamma = real_in(gamma, "gamma", 0.0, low_open=True)
    allocation(len(X) * len(C) * X.shape[1], 8, "rbf of X and centers")
    sq_dist = ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
    return np.exp(-gamma * sq_dist)
