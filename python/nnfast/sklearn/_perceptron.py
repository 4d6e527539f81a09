"""Perceptron: scikit-learn's linear Perceptron, its SGD epochs run by the nnfast core.

scikit-learn's Perceptron is SGD on the perceptron loss max(0, -y p), y in {-1, +1}, with a
constant learning rate eta0, one binary problem per class (one-vs-rest). Each epoch runs in
the core (``nnfast.ops.perceptron_sgd_epoch``: the update, the L2/L1/elasticnet penalty, the epoch's
objective); the stopping rule (tol, n_iter_no_change, early_stopping on a validation split)
and everything else stay scikit-learn's. Classes are fitted in threads when n_jobs > 1 (the
core releases the GIL).

Sparse input stays sparse: CSR (CSC is converted to CSR, as scikit-learn does) runs the core's
CSR epoch (``nnfast._sparse.perceptron_sgd_epoch``), which keeps the weights as scale * v, so
an update costs the row's nonzeros, never the number of features. Its semantics are
scikit-learn's on sparse input: the L1 step touches each row's nonzero columns only, the
stopping objective uses scikit-learn's running norms, and the intercept moves by 0.01 of each
step (scikit-learn's SPARSE_INTERCEPT_DECAY), so sparse and dense input train differently
here exactly as they do in scikit-learn. predict and decision_function are scikit-learn's (a
sparse product, never densified).

One difference: with shuffle=True the order of each epoch is a NumPy permutation seeded from
random_state, not scikit-learn's internal generator; with shuffle=False the updates are
scikit-learn's.
"""
import numpy as np
from joblib import Parallel, delayed
from sklearn import linear_model
from sklearn.linear_model._base import SPARSE_INTERCEPT_DECAY
from sklearn.utils import check_random_state

from .. import _sparse, ops
from ._interop import NnfastModelMixin

MAX_INT = np.iinfo(np.int32).max
# penalty -> the fraction of alpha that is L1 (None: no penalty at all)
L1_RATIOS = {None: None, "l2": lambda r: 0.0, "l1": lambda r: 1.0, "elasticnet": lambda r: r}


class Perceptron(NnfastModelMixin, linear_model.Perceptron):
    """Linear perceptron classifier, trained by the nnfast core.

    Parameters, attributes (coef_, intercept_, classes_, n_iter_, t_, n_features_in_,
    feature_names_in_) and methods (fit with sample_weight, partial_fit with classes,
    predict, decision_function, score) are those of ``sklearn.linear_model.Perceptron``.
    """

    def _fit_binary(self, X, y, alpha, sample_weight, learning_rate, max_iter):
        seed = check_random_state(self.random_state).randint(MAX_INT)
        coef = np.array(self.coef_.ravel(), dtype=X.dtype)
        intercept, n_iter = self._fit_one_vs_rest(
            1, X, y, alpha, max_iter, self._expanded_class_weight[1],
            self._expanded_class_weight[0], sample_weight, None, seed, coef)
        self.t_ += n_iter * X.shape[0]
        self.n_iter_ = n_iter
        self.coef_ = coef.reshape(1, -1)
        self.intercept_ = np.atleast_1d(intercept)

    def _fit_multiclass(self, X, y, alpha, learning_rate, sample_weight, max_iter):
        validation_mask = self._make_validation_split(y, sample_mask=sample_weight > 0)
        seeds = check_random_state(self.random_state).randint(MAX_INT, size=len(self.classes_))
        # every class trains its row of a new matrix in place: coef_ changes only once all
        # classes are done, and no class holds a second copy of its row (2^18 features: 2 MiB)
        coef = np.array(self.coef_, dtype=X.dtype, order="C")
        # the classes share the validation split, so the rows they train on: prepared once
        rows = self._training_rows(X, validation_mask)
        results = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(self._fit_one_vs_rest)(
                i, X, y, alpha, max_iter, self._expanded_class_weight[i], 1.0, sample_weight,
                validation_mask, seed, coef[i], rows)
            for i, seed in enumerate(seeds))
        n_iter = 0
        for i, (intercept, n_iter_i) in enumerate(results):
            self.intercept_[i] = intercept
            n_iter = max(n_iter, n_iter_i)
        if coef.dtype == self.coef_.dtype:
            self.coef_ = coef
        else:
            self.coef_[...] = coef
        self.t_ += n_iter * X.shape[0]
        self.n_iter_ = n_iter

    @staticmethod
    def _training_rows(X, validation_mask):
        """The rows outside the validation split and the epoch that reads them: CSR rows
        (never densified) for sparse X, C-contiguous rows otherwise."""
        X_train = X[~validation_mask] if validation_mask.any() else X
        if _sparse.issparse(X_train):
            return _sparse.as_csr(X_train, X.dtype), sparse_epoch
        return np.ascontiguousarray(X_train, dtype=X.dtype), dense_epoch

    def _fit_one_vs_rest(self, i, X, y, alpha, max_iter, pos_weight, neg_weight, sample_weight,
                         validation_mask, seed, w, rows=None):
        """Class i against the rest, its coefficients w (of X's dtype) trained in place on
        rows (_training_rows' answer; None: made here): (intercept, epochs run)."""
        dtype = X.dtype
        y_i = np.where(y == self.classes_[i], 1.0, -1.0).astype(dtype)
        intercept = self.intercept_[0 if len(self.classes_) == 2 else i]
        if validation_mask is None:
            validation_mask = self._make_validation_split(y_i, sample_mask=sample_weight > 0)
        score_on_validation = self._make_validation_score_cb(
            validation_mask, X, y_i, sample_weight, classes=np.array([-1, 1], dtype=dtype))
        train = ~validation_mask
        X_train, epoch_kernel = rows or self._training_rows(X, validation_mask)
        y_train = np.ascontiguousarray(y_i[train])
        # class weights folded into the sample weights: update *= class_weight * sample_weight
        weights = np.where(y_train > 0, pos_weight, neg_weight) * sample_weight[train]
        weights = np.ascontiguousarray(weights, dtype=dtype)
        l1_ratio = L1_RATIOS[self.penalty]
        alpha, l1_ratio = (0.0, 0.0) if l1_ratio is None else (alpha, l1_ratio(self.l1_ratio))

        # q: the L1 penalty applied so far to each weight (the CSR epoch needs it only with L1)
        q = None if epoch_kernel is sparse_epoch and not (alpha and l1_ratio) else np.zeros_like(w)
        b, u = float(intercept), 0.0
        # scikit-learn's running |w|^2 and |w|_1, from the full norms at the start of the call
        norms = _sparse.weight_norms(w)
        rng = np.random.RandomState(seed)
        tol = self.tol if self.tol is not None else -np.inf
        train_count = X_train.shape[0]
        best_objective, best_score, no_improvement = np.inf, -np.inf, 0
        epoch = 0
        for epoch in range(max_iter):
            order = rng.permutation(train_count).astype(np.int64) if self.shuffle else None
            b, u, objective = epoch_kernel(
                w, b, u, q, norms, X_train, y_train, weights, self.eta0, alpha, l1_ratio,
                bool(self.fit_intercept), order)
            if not np.isfinite(b) or not np.all(np.isfinite(w)):
                raise ValueError("Floating-point under-/overflow occurred at epoch #%d. "
                                 "Scaling input data with StandardScaler or MinMaxScaler "
                                 "might help." % (epoch + 1))
            if self.early_stopping:
                score = score_on_validation(w, b)
                no_improvement = no_improvement + 1 if score < best_score + tol else 0
                best_score = max(best_score, score)
            else:
                objective /= train_count
                no_improvement = (no_improvement + 1
                                  if objective > best_objective - tol else 0)
                best_objective = min(best_objective, objective)
            if no_improvement >= self.n_iter_no_change:
                break
        return b, epoch + 1


def dense_epoch(w, b, u, q, norms, X, y, weights, eta, alpha, l1_ratio, fit_intercept, order):
    """One epoch on dense rows (the exact norms each row; norms is not used)."""
    return ops.perceptron_sgd_epoch(w, b, u, q, X, y, weights, eta, alpha, l1_ratio,
                                    fit_intercept, order)


def sparse_epoch(w, b, u, q, norms, X, y, weights, eta, alpha, l1_ratio, fit_intercept, order):
    """One epoch on CSR rows, norms carried from epoch to epoch; the intercept moves by
    scikit-learn's SPARSE_INTERCEPT_DECAY (0.01) of each step, as scikit-learn's does on
    sparse data."""
    return _sparse.perceptron_sgd_epoch(w, b, u, q, norms, X, y, weights, eta, alpha,
                                        l1_ratio, fit_intercept, order, SPARSE_INTERCEPT_DECAY)

