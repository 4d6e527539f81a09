"""Perceptron: scikit-learn's linear Perceptron, its SGD epochs run by the nnfast core.

scikit-learn's Perceptron is SGD on the perceptron loss max(0, -y p), y in {-1, +1}, with a
constant learning rate eta0, one binary problem per class (one-vs-rest). Without early
stopping, one core call (``nnfast.ops.perceptron_sgd_fit``) runs a block of epochs for every
class -- the update, the L2/L1/elasticnet penalty, the objective, then scikit-learn's stopping
rule (tol, n_iter_no_change) and the finiteness check after each epoch -- the classes on the
core's threads, each class's epoch orders made by the core as the epochs run (scikit-learn's,
below). With n_jobs given, joblib runs the classes (threads; the core releases the GIL), a
class a call. With early_stopping each epoch is a call of the same fit, its validation score
taken in Python on the unscaled weights, as scikit-learn takes it. The coefficients are the same
whichever way (docs/semantics.md).

With a penalty the epochs follow scikit-learn's WeightVector arithmetic (weights kept as
wscale * v, its running norms, its types), so coef_ is scikit-learn's bit for bit.

Sparse input stays sparse: CSR (CSC is converted to CSR, as scikit-learn does) runs the core's
CSR epochs (``nnfast._sparse.perceptron_sgd_fit`` / ``perceptron_sgd_epoch``), which keep the weights as scale * v, so
an update costs the row's nonzeros, never the number of features. Its semantics are
scikit-learn's on sparse input: the L1 step touches each row's nonzero columns only, the
stopping objective uses scikit-learn's running norms, and the intercept moves by 0.01 of each
step (scikit-learn's SPARSE_INTERCEPT_DECAY), so sparse and dense input train differently
here exactly as they do in scikit-learn. predict and decision_function are scikit-learn's (a
sparse product, never densified).

With shuffle=True each epoch's order is scikit-learn's: its seeds drawn from random_state as
scikit-learn's fit_binary draws them (make_dataset's seed, the validation split, then the
shuffle seed; for several classes one seed per class first, each a generator of its own), and
each class's rows shuffled by the core as scikit-learn's SequentialDataset shuffles them
(``nnfast.ops.SGDDatasetOrders``), so the coefficients are scikit-learn's.
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
# the row indices one core call's epoch orders may hold (8 bytes each: 16 MiB)
ORDER_BUDGET = 1 << 21
OVERFLOW_MESSAGE = ("Floating-point under-/overflow occurred at epoch #%d. Scaling input data "
                    "with StandardScaler or MinMaxScaler might help.")
L1_RATIOS = {None: None, "l2": lambda r: 0.0, "l1": lambda r: 1.0, "elasticnet": lambda r: r}


class Perceptron(NnfastModelMixin, linear_model.Perceptron):
    """Linear perceptron classifier, trained by the nnfast core.

    Parameters, attributes (coef_, intercept_, classes_, n_iter_, t_, n_features_in_,
    feature_names_in_) and methods (fit with sample_weight, partial_fit with classes,
    predict, decision_function, score) are those of ``sklearn.linear_model.Perceptron``.
    """

    def _fit_binary(self, X, y, alpha, sample_weight, learning_rate, max_iter):
        # scikit-learn's fit_binary: make_dataset draws first, then the validation split
        # (from the same generator when random_state is a RandomState), then the shuffle seed
        rng = check_random_state(self.random_state)
        draw_dataset_seed(rng)
        y_1 = np.where(y == self.classes_[1], 1.0, -1.0)
        validation_mask = self._make_validation_split(y_1, sample_mask=sample_weight > 0)
        seed = rng.randint(MAX_INT)
        coef = np.array(self.coef_.ravel(), dtype=X.dtype)
        intercept, n_iter = self._fit_one_vs_rest(
            1, X, y, alpha, max_iter, self._expanded_class_weight[1],
            self._expanded_class_weight[0], sample_weight, validation_mask, seed, coef)
        self.t_ += n_iter * X.shape[0]
        self.n_iter_ = n_iter
        self.coef_ = coef.reshape(1, -1)
        self.intercept_ = np.atleast_1d(intercept)

    def _fit_multiclass(self, X, y, alpha, learning_rate, sample_weight, max_iter):
        validation_mask = self._make_validation_split(y, sample_mask=sample_weight > 0)
        # class i's fit_binary draws from RandomState(seeds[i]): make_dataset's seed, then
        # its shuffle seed
        seeds = [shuffle_seed(np.random.RandomState(seed)) for seed in
                 check_random_state(self.random_state).randint(MAX_INT, size=len(self.classes_))]
        # every class trains its row of a new matrix in place: coef_ changes only once all
        # classes are done, and no class holds a second copy of its row (2^18 features: 2 MiB)
        coef = np.array(self.coef_, dtype=X.dtype, order="C")
        # the classes share the validation split, so the rows they train on: prepared once
        rows = self._training_rows(X, validation_mask)
        if self.early_stopping or self.n_jobs is not None:
            results = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(self._fit_one_vs_rest)(
                    i, X, y, alpha, max_iter, self._expanded_class_weight[i], 1.0,
                    sample_weight, validation_mask, seed, coef[i], rows)
                for i, seed in enumerate(seeds))
        else:
            # all classes in one core call a block of epochs, spread over the core's threads
            train = ~validation_mask
            problems = [self._class_problem(i, y, self._expanded_class_weight[i], 1.0,
                                            sample_weight, train, X.dtype)
                        for i in range(len(self.classes_))]
            intercepts, epochs = self._fit_native(
                coef, self.intercept_, np.stack([p[1] for p in problems]),
                np.stack([p[2] for p in problems]), seeds, rows, alpha, max_iter)
            results = zip(intercepts, epochs)
        n_iter = 0
        for i, (intercept, n_iter_i) in enumerate(results):
            self.intercept_[i] = intercept
            n_iter = max(n_iter, int(n_iter_i))
        if coef.dtype == self.coef_.dtype:
            self.coef_ = coef
        else:
            self.coef_[...] = coef
        self.t_ += n_iter * X.shape[0]
        self.n_iter_ = n_iter

    @staticmethod
    def _training_rows(X, validation_mask):
        """The rows outside the validation split and the core fit that reads them: CSR rows
        (never densified) for sparse X, C-contiguous rows otherwise."""
        X_train = X[~validation_mask] if validation_mask.any() else X
        if _sparse.issparse(X_train):
            return _sparse.as_csr(X_train, X.dtype), sparse_fit
        return np.ascontiguousarray(X_train, dtype=X.dtype), dense_fit

    def _class_problem(self, i, y, pos_weight, neg_weight, sample_weight, train, dtype):
        """Class i against the rest: (its -1/+1 labels, those of the training rows, the
        training rows' weights), class weights folded into the sample weights."""
        y_i = np.where(y == self.classes_[i], 1.0, -1.0).astype(dtype)
        y_train = np.ascontiguousarray(y_i[train])
        weights = np.where(y_train > 0, pos_weight, neg_weight) * sample_weight[train]
        return y_i, y_train, np.ascontiguousarray(weights, dtype=dtype)

    def _penalty(self, alpha):
        """(alpha, l1_ratio) the epochs use: (0, 0) without a penalty."""
        l1_ratio = L1_RATIOS[self.penalty]
        return (0.0, 0.0) if l1_ratio is None else (alpha, l1_ratio(self.l1_ratio))

    def _fit_one_vs_rest(self, i, X, y, alpha, max_iter, pos_weight, neg_weight, sample_weight,
                         validation_mask, seed, w, rows=None):
        """Class i against the rest, its coefficients w (of X's dtype) trained in place on
        rows (_training_rows' answer; None: made here), epochs shuffled with scikit-learn's
        shuffle seed `seed`: (intercept, epochs run)."""
        intercept = self.intercept_[0 if len(self.classes_) == 2 else i]
        train = ~validation_mask
        y_i, y_train, weights = self._class_problem(i, y, pos_weight, neg_weight,
                                                    sample_weight, train, X.dtype)
        rows = rows or self._training_rows(X, validation_mask)
        if not self.early_stopping:
            intercepts, epochs = self._fit_native(w[None], [intercept], y_train[None],
                                                  weights[None], [seed], rows, alpha, max_iter)
            return intercepts[0], int(epochs[0])
        score_on_validation = self._make_validation_score_cb(
            validation_mask, X, y_i, sample_weight, classes=np.array([-1, 1], dtype=X.dtype))
        return self._fit_with_validation(w, intercept, y_train, weights, seed, rows,
                                         validation_mask, score_on_validation, alpha, max_iter)

    def _fit_native(self, W, intercepts, Y, SW, seeds, rows, alpha, max_iter):
        """The classes (rows of W, labels Y, weights SW, trained in place) by the core, a
        block of epochs a call with the stopping rule and the finiteness check run there:
        (intercepts, epochs run), one each per class. Each class's orders are scikit-learn's
        dataset shuffles with its seed: made by the core as each epoch runs for dense rows
        (one call for every epoch), drawn ahead a block at a time for CSR rows (a class that
        stops early leaves some unused: the streams are discarded, so that changes
        nothing)."""
        X_train, fit = rows
        n = X_train.shape[0]
        alpha, l1_ratio = self._penalty(alpha)
        state = ops.perceptron_sgd_classes(intercepts, W)
        Q = np.zeros_like(W) if alpha and l1_ratio else None
        # each class's scikit-learn dataset shuffles of its n rows, made by the core
        rngs = ops.SGDDatasetOrders(seeds, n) if self.shuffle else None
        while True:
            training = np.flatnonzero((state["status"] == ops.SGD_TRAINING)
                                      & (state["epochs"] < max_iter))
            if not len(training):
                break
            block = max(1, max_iter - int(state["epochs"][training[0]]))
            # dense rows: the core draws each epoch's order as it runs it (one call)
            orders = rngs
            if rngs is not None and fit is sparse_fit:
                # CSR rows take the orders drawn ahead, a budget of them a call
                block = max(1, min(block, ORDER_BUDGET // (n * len(W))))
                orders = np.zeros((len(W), block, n), dtype=np.int64)
                active = np.zeros(len(W), dtype=bool)
                active[training] = True
                rngs.fill(orders, active)
            fit(W, Q, state, X_train, Y, SW, orders, self.eta0, alpha, l1_ratio,
                bool(self.fit_intercept), -np.inf if self.tol is None else self.tol,
                self.n_iter_no_change, max_iter, n_epochs=block)
        overflowed = np.flatnonzero(state["status"] == ops.SGD_NONFINITE)
        if len(overflowed):
            raise ValueError(OVERFLOW_MESSAGE % state["epochs"][overflowed[0]])
        return state["b"].tolist(), state["epochs"].tolist()

    def _fit_with_validation(self, w, intercept, y_train, weights, seed, rows,
                             validation_mask, score_on_validation, alpha, max_iter):
        """One class with early stopping on the validation split: an epoch a core call
        (``perceptron_sgd_fit`` with one epoch, the scale and the running norms carried in its
        state as scikit-learn's WeightVector carries them), the score taken in Python after
        each on the unscaled weights and the intercept, as scikit-learn's callback takes it:
        (intercept, epochs run). scikit-learn shuffles all n rows and skips the validation
        ones: each epoch shuffles the full index with the class's stream, drops the
        validation rows and renumbers the rest as training-row positions, so the rows are
        visited in scikit-learn's sequence."""
        X_train, fit = rows
        alpha, l1_ratio = self._penalty(alpha)
        W = w[None]  # the class's row, trained in place
        Q = np.zeros_like(W) if alpha and l1_ratio else None
        state = ops.perceptron_sgd_classes([intercept], W)
        train = ~validation_mask
        stream = ops.SGDDatasetOrders([seed], len(train)) if self.shuffle else None
        shuffled = np.empty((1, 1, len(train)), dtype=np.int64)
        position = np.cumsum(train) - 1  # a training row's position among the training rows
        tol = self.tol if self.tol is not None else -np.inf
        best_score, no_improvement = -np.inf, 0
        epoch = 0
        for epoch in range(max_iter):
            order = None
            if stream is not None:
                stream.fill(shuffled)
                order = position[shuffled[0, 0][train[shuffled[0, 0]]]][None, None]
            # the objective's stopping rule is off (tol -inf): scikit-learn's early stopping
            # never computes it
            fit(W, Q, state, X_train, y_train[None], weights[None], order, self.eta0, alpha,
                l1_ratio, bool(self.fit_intercept), -np.inf, self.n_iter_no_change, max_iter,
                n_epochs=1)
            if state["status"][0] == ops.SGD_NONFINITE:
                raise ValueError(OVERFLOW_MESSAGE % (epoch + 1))
            score = score_on_validation(w, float(state["b"][0]))
            no_improvement = no_improvement + 1 if score < best_score + tol else 0
            best_score = max(best_score, score)
            if no_improvement >= self.n_iter_no_change:
                break
        w *= w.dtype.type(state["wscale"][0])  # scikit-learn's last reset_wscale
        return float(state["b"][0]), epoch + 1


def draw_dataset_seed(rng):
    """make_dataset's draw from fit_binary's generator: the dataset's own seed, which
    scikit-learn uses for random sampling only (never for the shuffle) but which moves the
    generator before the shuffle seed is drawn."""
    return rng.randint(1, MAX_INT)


def shuffle_seed(rng):
    """The shuffle seed fit_binary draws from rng without a validation split of its own:
    after make_dataset's."""
    draw_dataset_seed(rng)
    return rng.randint(MAX_INT)


def dense_fit(*args, **kwargs):
    """perceptron_sgd_fit on dense rows."""
    return ops.perceptron_sgd_fit(*args, **kwargs)


def sparse_fit(*args, **kwargs):
    """perceptron_sgd_fit on CSR rows: the intercept moves by scikit-learn's
    SPARSE_INTERCEPT_DECAY (0.01) of each step, as scikit-learn's does on sparse data."""
    return _sparse.perceptron_sgd_fit(*args, intercept_decay=SPARSE_INTERCEPT_DECAY, **kwargs)
