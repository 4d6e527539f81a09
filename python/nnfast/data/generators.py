"""Small synthetic data sets of our own, drawn from the SplitMix64 stream every nnfast model
uses, so they are the same on every machine and NumPy version."""
import math

import numpy as np

from ..reference.rng import SplitMix64


def gaussian_pair(rng):
    """Two independent standard normal numbers by the Box-Muller transform:
    r = sqrt(-2 ln(1 - u1)), (r cos 2 pi u2, r sin 2 pi u2)."""
    r = math.sqrt(-2.0 * math.log(1.0 - rng.uniform()))
    angle = 2.0 * math.pi * rng.uniform()
    return r * math.cos(angle), r * math.sin(angle)


def make_moons(n_samples=200, noise=0.15, seed=0):
    """Two interleaving half circles, a 2-feature task no straight line separates.

    Class 0: (cos t, sin t); class 1: (1 - cos t, 0.5 - sin t), t uniform in [0, pi], plus
    Gaussian noise of standard deviation `noise` on each coordinate. Classes alternate.

    Returns X of shape (n_samples, 2) and y of shape (n_samples,) holding 0 and 1.
    """
    rng = SplitMix64(seed)
    X = np.empty((n_samples, 2))
    y = np.arange(n_samples) % 2
    for i in range(n_samples):
        t = math.pi * rng.uniform()
        x0, x1 = (math.cos(t), math.sin(t)) if y[i] == 0 else (1 - math.cos(t), 0.5 - math.sin(t))
        e0, e1 = gaussian_pair(rng)
        X[i] = x0 + noise * e0, x1 + noise * e1
    return X, y
