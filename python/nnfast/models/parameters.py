"""The flat parameter vector of a network and its per-layer views."""


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
