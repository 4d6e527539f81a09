"""The flat parameter vector of a network and its per-layer views."""
import numpy as np

# Bytes the vector's first element is aligned to: a cache line. The GEMM reads a layer's
# weights where they are, without packing them, only when their rows start on cache lines
# (src/nncore/gemm.c, b_in_place_applies): W3's forward products at batch 64.
ALIGNMENT = 64


def aligned_zeros(n, dtype):
    """A zero vector of n elements whose first element starts on an ALIGNMENT-byte boundary
    (a view into a slightly longer array: NumPy guarantees 16 bytes only)."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.zeros(n + ALIGNMENT // itemsize, dtype=dtype)
    skip = (-raw.ctypes.data % ALIGNMENT) // itemsize
    return raw[skip:skip + n]


def aligned_copy(vector):
    """A copy of a 1-D vector, aligned as aligned_zeros."""
    out = aligned_zeros(vector.shape[0], vector.dtype)
    out[...] = vector
    return out


def split_parameters(flat, layers):
    """(W list, b list) as views into a flat vector laid out W0, b0, W1, b1, ..."""
    weights, biases, at = [], [], 0
    for n_in, n_out in zip(layers[:-1], layers[1:]):
        weights.append(flat[at:at + n_in * n_out].reshape(n_in, n_out))
        at += n_in * n_out
        biases.append(flat[at:at + n_out])
        at += n_out
    return weights, biases


def count_parameters(layers):
    """sum over layers of n_in * n_out weights + n_out biases."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(layers[:-1], layers[1:]))
