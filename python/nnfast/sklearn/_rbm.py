"""BernoulliRBM: scikit-learn's Restricted Boltzmann Machine, its Gibbs steps on nnfast's kernels.

scikit-learn's estimator (parameters, validation, attributes, fit / partial_fit / transform /
gibbs / score_samples) with the arithmetic replaced: each conditional mean is one dense layer
with a sigmoid,

    P(h=1 | v) = sigmoid(v @ components_.T + intercept_hidden_)      (hidden, n_components)
    P(v=1 | h) = sigmoid(h @ components_ + intercept_visible_)       (visible, n_features)

computed by ``nnfast.ops.dense_forward`` (the core's GEMM with the bias and sigmoid applied
as it writes the result), and the persistent-contrastive-divergence update of a mini-batch,

    components_ += lr / n * (h_pos^T v_pos - h_neg^T v_neg)

by one ``nnfast.ops.matmul`` of the stacked positive and negative phases. The samples are
drawn from scikit-learn's generator (``random_state_``, numpy's RandomState) in scikit-learn's
order, so the same random_state gives the same chain.

The kernels are used where they pay: a call into nnfast.ops checks its arrays (a few tens of
microseconds), so products of fewer than NATIVE_MIN_WORK multiply-adds (rows x n_features x
n_components: scikit-learn's own default of 10-row batches on 8x8 digits) keep
scikit-learn's numpy arithmetic, which gives the same numbers.
"""
import numpy as np
import scipy.sparse
from sklearn import neural_network

from .. import ops

# Multiply-adds of one product from which nnfast's kernels beat NumPy's on these small
# products (measured on 1000 binary rows: 64 x 256 x 100 is even, 784 x 256 x 10 twice
# faster, 64 x 256 x 10 several times slower).
NATIVE_MIN_WORK = 1 << 20


def dense(X):
    """A sparse mini-batch as a dense array (batch_size rows), as the kernels take it."""
    return X.toarray() if scipy.sparse.issparse(X) else X


class BernoulliRBM(neural_network.BernoulliRBM):
    """Bernoulli Restricted Boltzmann Machine, trained by nnfast's kernels.

    Parameters (n_components, learning_rate, batch_size, n_iter, verbose, random_state),
    attributes (components_, intercept_hidden_, intercept_visible_, h_samples_,
    random_state_, n_features_in_, feature_names_in_) and methods are those of
    ``sklearn.neural_network.BernoulliRBM``, with the same defaults and meaning.
    """

    def _native(self, v):
        """Whether the kernels pay for a product over the rows of v (dense v only)."""
        n_components, n_features = self.components_.shape
        return (not scipy.sparse.issparse(v)
                and v.shape[0] * n_features * n_components >= NATIVE_MIN_WORK)

    def _real(self, v):
        # samples are booleans; the kernels take them in the weights' dtype
        return np.asarray(dense(v), dtype=self.components_.dtype)

    def _mean_hiddens(self, v):
        """P(h=1 | v) = sigmoid(v @ components_.T + intercept_hidden_), shape
        (n_samples, n_components)."""
        if not self._native(v):
            # small, or a sparse data set (transform): scikit-learn's product rather than a
            # dense copy of it (_fit densifies each mini-batch, batch_size rows, instead)
            return super()._mean_hiddens(v)
        return ops.dense_forward(self._real(v), self.components_.T, self.intercept_hidden_,
                                 "sigmoid")

    def _sample_visibles(self, h, rng):
        """v ~ P(v | h), drawn as scikit-learn draws it (one uniform per unit)."""
        if not self._native(h):
            return super()._sample_visibles(h, rng)
        p = ops.dense_forward(self._real(h), self.components_, self.intercept_visible_,
                              "sigmoid")
        return rng.uniform(size=p.shape) < p

    def _free_energy(self, v):
        """F(v) = -v @ intercept_visible_ - sum_j log(1 + exp(v @ components_[j] + b_j))."""
        if not self._native(v):
            return super()._free_energy(v)
        v = self._real(v)
        Z = ops.dense_linear(v, self.components_.T, self.intercept_hidden_)
        return -(v @ self.intercept_visible_) - np.logaddexp(0, Z).sum(axis=1)

    def _fit(self, v_pos, rng):
        """One mini-batch of stochastic maximum likelihood (persistent CD), as scikit-learn's
        _fit: the same draws from rng, in the same order."""
        v_pos = dense(v_pos)
        if not self._native(v_pos):
            return super()._fit(v_pos, rng)
        v_pos = self._real(v_pos)
        v_neg = self._real(self._sample_visibles(self.h_samples_, rng))
        # P(h | v) of both phases in one product (h_pos draws nothing from rng)
        hiddens = self._mean_hiddens(np.concatenate([v_pos, v_neg]))
        h_pos, h_neg = hiddens[:len(v_pos)], hiddens[len(v_pos):]
        lr = float(self.learning_rate) / v_pos.shape[0]
        # h_pos^T v_pos - h_neg^T v_neg as one product over the stacked phases
        update = ops.matmul(np.concatenate([h_pos, -h_neg]).T,
                            np.concatenate([v_pos, v_neg]))
        self.components_ += lr * update
        self.intercept_hidden_ += lr * (h_pos.sum(axis=0) - h_neg.sum(axis=0))
        self.intercept_visible_ += lr * (v_pos.sum(axis=0) - v_neg.sum(axis=0))
        h_neg[rng.uniform(size=h_neg.shape) < h_neg] = 1.0  # sample binomial
        self.h_samples_ = np.floor(h_neg, h_neg)
