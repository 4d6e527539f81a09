"""The native side of nnfast.sklearn's MLPs: scikit-learn's semantics translated onto the core.

scikit-learn's estimators keep their parameter validation, label binarization, weight
initialization (its Glorot draws from ``random_state``), early-stopping split and stopping
rules; this mixin replaces what does the arithmetic -- the epochs of sgd/adam, the L-BFGS
objective and the forward pass -- with nnfast's API: an nnfast MLP of the estimator's shape
and its training handle (nnfast.models.training), which run in the C core (GIL released).
The learning-rate schedule is scikit-learn's own optimizer object (``_optimizer``, an
SGDOptimizer or AdamOptimizer kept in step with the core's state): it sets the handle's lr
between epochs, and scikit-learn's row order is passed to each epoch.

The translation (scikit-learn's ``_base.py`` and ``_multilayer_perceptron.py`` against
docs/semantics.md):

| scikit-learn | nnfast core |
|---|---|
| hidden activation logistic | sigmoid (tanh, relu, identity: same names) |
| out_activation_ softmax + log_loss | softmax + cross_entropy (same loss and gradient) |
| out_activation_ logistic + log_loss | sigmoid + binary_cross_entropy (same) |
| identity + squared_error: 1/2 mean_k (a-y)^2, delta a - y | identity + mse: mean_k (a-y)^2, delta 2(a-y)/K |
| exp + poisson: sum_k a - y log a + (y log y - y), delta a - y | exp + poisson: sum_k e^z - y z, delta a - y |
| L2 alpha/2 sum W^2 / n, gradient alpha W / n | the same (n = rows of the batch) |
| coefs_[l], intercepts_[l] (n_in, n_out), (n_out,) | W[l], b[l]: the same layout, one flat vector |

So for squared_error with K outputs scikit-learn's gradient is c = K/2 times the core's mse
gradient taken with alpha' = 2 alpha / K. The core trains with alpha', and the optimizer
absorbs c: sgd uses the learning rate c lr (velocity and step scale linearly), adam uses
epsilon / c (Adam is invariant to the gradient's scale but for epsilon). The reported loss is
half the core's data term plus scikit-learn's L2 term: the core's epochs report their L2 term
with loss_alpha = 2 alpha (FitSettings), L-BFGS adds it here. (With K > 1 outputs
scikit-learn's reported loss is not the one it differentiates: its L2 gradient is alpha W / n,
its data gradient K/2 times that of its reported 1/2 mean_k (a-y)^2.)
For poisson the gradients are the same (c = 1) and the reported loss adds the term
y log y - y that scikit-learn's half Poisson deviance holds and the core's loss leaves out
(it does not depend on the weights), averaged as scikit-learn averages its batches.

Extras scikit-learn has not: MLPRegressor's loss="absolute_error" (the core's mae) and
"huber" (huber_delta), reported as the core computes them, and dropout for sgd and adam.
"""
import contextlib
import copy
import sys
import warnings

import numpy as np
import scipy.optimize
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network._base import LOSS_FUNCTIONS
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
from sklearn.utils.validation import validate_data
from scipy.special import xlogy

from .. import _validation as check
from .. import vocabulary
from ..models import MLP
from ..models.lbfgs import BLAS_AT_ONE_THREAD
from ..models.parameters import split_parameters
from ..models.sparse_training import SparseRowsTrainer
from ..models.training import FitSettings
from ..models.validation import ValidationSet
from ..ops import RandomStateShuffler

# The core networks predictions run through, by shape and activations (_forward_engine); at
# most FORWARD_ENGINES_KEPT of them (then the cache starts over).
FORWARD_ENGINES: dict = {}
FORWARD_ENGINES_KEPT = 32
# scikit-learn's activation names -> nnfast's.
ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
               "softmax": "softmax", "exp": "exp"}
# out_activation_ -> nnfast's loss for it (scikit-learn's loss given that output).
OUTPUT_LOSSES = {"softmax": "cross_entropy", "logistic": "binary_cross_entropy",
                 "identity": "mse", "exp": "poisson"}
# MLPRegressor's loss -> nnfast's: scikit-learn's own, and the extras of nnfast.sklearn.
REGRESSION_LOSSES = {"squared_error": "mse", "poisson": "poisson", "absolute_error": "mae",
                     "huber": "huber"}
# loss -> (gradient scale c as a function of the outputs K, reported loss = core loss * this).
LOSS_SCALES = {"cross_entropy": (lambda K: 1.0, 1.0),
               "binary_cross_entropy": (lambda K: 1.0, 1.0),
               "mse": (lambda K: K / 2.0, 0.5),
               "poisson": (lambda K: 1.0, 1.0),
               "mae": (lambda K: 1.0, 1.0),
               "huber": (lambda K: 1.0, 1.0)}
# The FitSettings of each solver from scikit-learn's optimizer object (the hyperparameters it
# was made with: a partial_fit goes on with them whatever set_params changed since), for
# gradient scale c: sgd absorbs c in the learning rate, adam in epsilon (module docstring).
SOLVER_SETTINGS = {
    "sgd": lambda optimizer, c: dict(lr=optimizer.learning_rate * c,
                                     momentum=optimizer.momentum,
                                     nesterov=bool(optimizer.nesterov)),
    "adam": lambda optimizer, c: dict(lr=optimizer.learning_rate_init, beta1=optimizer.beta_1,
                                      beta2=optimizer.beta_2, epsilon=optimizer.epsilon / c),
}
# scikit-learn's optimizer object of each solver (estimator._optimizer), made as its
# _fit_stochastic makes it; its learning_rate schedule (iteration_ends, trigger_stopping) is
# scikit-learn's own code.
OPTIMIZERS = {
    "sgd": lambda est, params: SGDOptimizer(
        params, est.learning_rate_init, est.learning_rate, est.momentum,
        est.nesterovs_momentum, est.power_t),
    "adam": lambda est, params: AdamOptimizer(
        params, est.learning_rate_init, est.beta_1, est.beta_2, est.epsilon),
}


def warn(message, category=UserWarning):
    """warnings.warn, attributed to the nearest scikit-learn frame on the stack (the code of
    scikit-learn's that called into nnfast.sklearn), so that the filters users write for
    scikit-learn's warnings (``module="sklearn"``) catch nnfast's as well."""
    frame, level = sys._getframe(1), 1
    while frame is not None and not frame.f_globals.get("__name__", "").startswith("sklearn."):
        frame, level = frame.f_back, level + 1
    if frame is None:
        warnings.warn_explicit(message, category, __file__, 0,
                               module="sklearn.neural_network._multilayer_perceptron")
    else:
        warnings.warn(message, category, stacklevel=level + 1)


def check_lbfgs_result(result, max_iter):
    """scikit-learn's _check_optimize_result("lbfgs", ...): the iterations run, and its
    ConvergenceWarning when scipy did not converge (here attributed to scikit-learn's code,
    as warn() does, rather than to the caller as that function's stacklevel would)."""
    n_iter = min(result.nit, max_iter)
    if result.status != 0:
        message = (f"lbfgs failed to converge after {n_iter} iteration(s) "
                   f"(status={result.status}):\n{result.message}\n")
        if n_iter == max_iter:
            message += ("\nIncrease the number of iterations to improve the convergence "
                        f"(max_iter={max_iter}).")
        message += ("\nYou might also want to scale the data as shown in:\n"
                    "    https://scikit-learn.org/stable/modules/preprocessing.html")
        warn(message, ConvergenceWarning)
    return n_iter


def training_rows(X, dtype):
    """X in dtype: a CSR matrix stays sparse (CSC is converted to CSR, never densified); a
    dense array C-contiguous and aligned (a block dask.distributed received lies where its
    message put it)."""
    if scipy.sparse.issparse(X):
        return X.tocsr().astype(dtype, copy=False)
    return np.require(X, dtype=dtype, requirements=["C", "A"])


def raise_zero_weight_batch(sample_weight):
    """Called on a ValueError of the core's: with sample weights that are not all positive,
    it is a batch whose weights sum to zero, said in scikit-learn's terms."""
    if sample_weight is not None and not np.all(np.asarray(sample_weight) > 0):
        raise ValueError("the sample weights of a batch sum to zero: scikit-learn "
                         "cannot average such a batch either; use positive weights "
                         "or shuffle=True") from None


@contextlib.contextmanager
def zero_weight_batches(sample_weight):
    """A ValueError of the core's inside, with sample weights that are not all positive, is a
    batch whose weights sum to zero (raise_zero_weight_batch)."""
    try:
        yield
    except ValueError:
        raise_zero_weight_batch(sample_weight)
        raise


def poisson_constant(Y):
    """Per row, sum_k y log y - y: what scikit-learn's half Poisson deviance adds to the
    core's poisson loss (0 log 0 = 0). Y (n, K) -> (n,)."""
    return (xlogy(Y, Y) - Y).sum(axis=1)


def snapshot(attributes):
    """A deep copy of an estimator's attributes that shares their NumPy arrays (the weights,
    the optimizer's moments: each as large as the parameters): a fit never writes into an
    array it was given -- it trains a copy of the weights and of the optimizer state, and
    rebinds the attributes to the results -- so the arrays need no copy to restore the
    estimator; the lists, the optimizer object and the random state that a fit changes in
    place are copied."""
    memo = {}

    def share_arrays(value, depth=0):
        if isinstance(value, np.ndarray):
            memo[id(value)] = value
        elif depth < 3 and isinstance(value, (list, tuple)):
            for item in value:
                share_arrays(item, depth + 1)
        elif depth < 3 and isinstance(value, dict):
            for item in value.values():
                share_arrays(item, depth + 1)
        elif depth < 3 and hasattr(value, "__dict__"):
            share_arrays(vars(value), depth + 1)

    share_arrays(attributes)
    return copy.deepcopy(attributes, memo)


class Network:
    """An nnfast MLP of the shape of an estimator's coefs_ and intercepts_ (loss: the
    estimator's regression loss, None for a classifier).

    forward and trainer take the weights they compute with, and the training handle works on
    the model's own parameter vector, so that a fit holds one copy of the weights."""

    def __init__(self, coefs, intercepts, activation, out_activation, loss=None, dropout=0.0,
                 huber_delta=1.0, precision=None):
        layer_units = [coefs[0].shape[0]] + [W.shape[1] for W in coefs]
        self.loss_name = REGRESSION_LOSSES.get(loss, OUTPUT_LOSSES[out_activation])
        self.model = MLP(layer_units, ACTIVATIONS[activation],
                         output=ACTIVATIONS[out_activation], loss=self.loss_name,
                         dtype=coefs[0].dtype if precision is None else precision,
                         init="zeros", dropout=dropout,
                         huber_delta=huber_delta)
        self.layer_units, self.dtype = layer_units, coefs[0].dtype
        grad_scale, self.loss_scale = LOSS_SCALES[self.loss_name]
        self.grad_scale = grad_scale(layer_units[-1])

    def forward(self, X, coefs, intercepts):
        """Output activations (n_samples, n_outputs) of coefs and intercepts, computed as
        scikit-learn does: a value that overflows is inf or NaN, not an error (the training
        handle's forward; MLP.forward would refuse it)."""
        self.model.set_parameters(coefs, intercepts)
        if scipy.sparse.issparse(X):
            return self.model.forward_sparse(X, check_overflow=False)  # never densified
        return self.model.trainer(FitSettings()).forward(X)

    def trainer(self, settings, coefs=None, intercepts=None):
        """A training handle (sparse X stays sparse: models.sparse_training) on the model's
        own parameters, set to coefs and intercepts (checked as MLP.set_parameters checks
        them; None: the zeros they are)."""
        trainer = SparseRowsTrainer.on_model(self.model, settings)
        if coefs is not None:
            W_views, b_views = self.unpack(trainer.params)
            for l, (view, W) in enumerate(zip(W_views, coefs)):
                W = check.as_matrix(W, f"coefs_[{l}]", self.dtype, view.shape[1], "the layer")
                if W.shape != view.shape:
                    raise ValueError(f"coefs_[{l}] has shape {W.shape}, expected {view.shape}")
                view[...] = W
            for l, (view, b) in enumerate(zip(b_views, intercepts)):
                view[...] = check.as_vector(b, f"intercepts_[{l}]", self.dtype, view.shape[0])
        return trainer

    def unpack(self, params):
        """coefs_, intercepts_ as views into a flat parameter vector."""
        return split_parameters(params, self.layer_units)

    def core_alpha(self, alpha):
        """nnfast's L2 strength: scikit-learn's gradient = c * nnfast's with alpha / c."""
        return alpha / self.grad_scale

    def loss_alpha(self, alpha):
        """The L2 weight of the core's reported loss whose loss_scale multiple holds
        scikit-learn's L2 term alpha / 2 sum W^2 / n (None without a penalty)."""
        return alpha / self.loss_scale if alpha > 0 else None

    def loss_offset(self, Y, sample_weight, order=None, batch_size=None):
        """What scikit-learn's reported loss adds to the core's scaled one: for poisson the
        (weighted) mean of poisson_constant over each batch, the batches weighted by their
        rows as scikit-learn accumulates an epoch; 0 for the other losses."""
        if self.loss_name != "poisson":
            return 0.0
        constant = poisson_constant(np.asarray(Y, dtype=np.float64))
        weights = np.ones(len(constant)) if sample_weight is None else sample_weight
        if order is not None:
            constant, weights = constant[order], weights[order]
        batch = batch_size or len(constant)
        total = 0.0
        for start in range(0, len(constant), batch):
            c, w = constant[start:start + batch], weights[start:start + batch]
            total += np.average(c, weights=w) * len(c)
        return total / len(constant)


class NativeMLPMixin:
    """Overrides the arithmetic of scikit-learn's BaseMultilayerPerceptron (see module doc).

    Everything else -- validation, initialization, the stopping rules, the optimizer object
    and its learning-rate schedule, the final check of the weights -- is scikit-learn's code,
    called as scikit-learn calls it.
    """

    def _fit(self, X, y, sample_weight=None, incremental=False):
        """scikit-learn's _fit; a fit that fails (a diverging run: scikit-learn's ValueError
        "Solver produced non-finite parameter weights ...") leaves the estimator as it was
        before the call, every attribute included."""
        before = snapshot(self.__dict__)
        try:
            sample_weight = self._class_weighted(y, sample_weight, incremental)
            return super()._fit(X, y, sample_weight=sample_weight, incremental=incremental)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    def _class_weighted(self, y, sample_weight, incremental):
        """sample_weight times the class_weight of each row's label (MLPClassifier's
        class_weight, nnfast's extra): "balanced" is scikit-learn's n / (K * n_k), computed
        on the y of the call; a dict maps labels to weights, others weigh 1."""
        class_weight = getattr(self, "class_weight", None)
        if class_weight is None:
            return sample_weight
        if incremental and class_weight == "balanced":
            raise ValueError("class_weight='balanced' needs the whole y: it is not supported "
                             "by partial_fit; pass a dict {label: weight}")
        labels = np.unique(np.asarray(y))
        if hasattr(self, "classes_"):
            labels = np.union1d(labels, self.classes_)
        if isinstance(class_weight, dict):
            unknown = [label for label in class_weight if label not in set(labels.tolist())]
            if unknown:
                raise ValueError(f"class_weight names {unknown}, which are not classes "
                                 f"(the classes are {labels.tolist()})")
        weights = compute_sample_weight(class_weight, np.asarray(y))
        if sample_weight is None:
            return weights
        return np.asarray(sample_weight, dtype=np.float64) * weights

    # ---- input ------------------------------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset):
        X, y = super()._validate_input(X, y, incremental, reset)
        # dtype=None: X's own dtype, float32 or float64, as scikit-learn validated it (its
        # initial weights take that dtype; _fit_lbfgs then goes on in float64, as it does)
        dtype = X.dtype if self.dtype is None else check.storage_dtype_of(self.dtype)
        return training_rows(X, dtype), y

    def _network(self):
        return Network(self.coefs_, self.intercepts_, self.activation, self.out_activation_,
                       self.loss, getattr(self, "dropout", 0.0),
                       getattr(self, "huber_delta", 1.0), getattr(self, "dtype", None))

    # ---- forward ----------------------------------------------------------------------------
    def _forward_pass_fast(self, X, check_input=True):
        flat = self._flat_weights()
        if flat is not None and not scipy.sparse.issparse(X):
            # the weights as the fit left them: forward from their one vector, no copy
            if not check.all_finite(flat):
                return super()._forward_pass_fast(X, check_input=check_input)
            engine = self._forward_engine()
            if check_input and self._ready_rows(X):
                rows = X if X.dtype == engine.dtype else engine.checked_X(X)
            else:
                if check_input:
                    X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
                rows = engine.checked_X(X)
            output = engine.forward(flat, rows)
            if self.dtype is not None:
                return output  # the asked precision, whatever X is
            return output.astype(np.result_type(X.dtype, flat.dtype), copy=False)
        weights = self.coefs_ + self.intercepts_
        if not all(check.all_finite(w) for w in weights):
            # non-finite weights (a diverged run being scored): scikit-learn's NaN outputs
            return super()._forward_pass_fast(X, check_input=check_input)
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        output = self._network().forward(X, self.coefs_, self.intercepts_)
        if self.dtype is not None:
            return output  # the asked precision, whatever X is
        # scikit-learn's output has the dtype of X @ coefs_ (float32 only when both are)
        return output.astype(np.result_type(X.dtype, self.coefs_[0].dtype), copy=False)

    def _flat_weights(self):
        """The one vector (W0, b0, W1, b1, ...) that coefs_ and intercepts_ are views of, as a
        fit leaves them, or None (weights assigned or loaded, early stopping's best copies,
        a precision other than theirs): then forward copies them into a model of its own. One
        sample through a 784-256-128-10 classifier spent 50 us copying its weights and 50 more
        building that model and its training handle, against 9 us in the forward itself."""
        precision = getattr(self, "dtype", None)
        if precision is not None and precision != self.coefs_[0].dtype.name:
            return None
        base = self.coefs_[0].base  # the parameters' buffer (aligned: it may start earlier)
        if (type(base) is not np.ndarray or base.ndim != 1 or not base.flags.c_contiguous or
                base.dtype != self.coefs_[0].dtype):
            return None
        start = self.coefs_[0].__array_interface__["data"][0]
        first = (start - base.__array_interface__["data"][0]) // base.itemsize
        at = 0
        for W, b in zip(self.coefs_, self.intercepts_):
            for a in (W, b):  # each where the layout puts it
                if (a.base is not base or a.dtype != base.dtype or not a.flags.c_contiguous or
                        a.__array_interface__["data"][0] != start + at * base.itemsize):
                    return None
                at += a.size
        return base[first:first + at] if first + at <= base.size else None

    def _forward_engine(self):
        """The core network of the estimator's shape and activations, kept from call to call
        (FORWARD_ENGINES; it holds no weights, and the estimator pickles without it)."""
        key = (tuple(W.shape for W in self.coefs_), self.coefs_[0].dtype.name, self.activation,
               self.out_activation_, getattr(self, "loss", None),
               getattr(self, "dropout", 0.0), getattr(self, "huber_delta", 1.0))
        engine = FORWARD_ENGINES.get(key)
        if engine is None:
            if len(FORWARD_ENGINES) >= FORWARD_ENGINES_KEPT:
                FORWARD_ENGINES.clear()
            engine = FORWARD_ENGINES[key] = self._network().model._engine
        return engine

    def _ready_rows(self, X):
        """True when X is what validate_data(self, X, reset=False) returns unchanged: a
        C-contiguous float32 or float64 ndarray of the fitted width, every value finite, for
        an estimator fitted without feature names (check.ready_rows: one native pass); such
        X skips scikit-learn's checks (44 us of a one-sample prediction)."""
        return not hasattr(self, "feature_names_in_") and check.ready_rows(X, self.n_features_in_)

    # ---- sgd and adam -----------------------------------------------------------------------
    def _fit_stochastic(self, X, y, sample_weight, activations, deltas, coef_grads,
                        intercept_grads, layer_units, incremental):
        if not self.early_stopping:
            # the copy of the initial weights scikit-learn's _initialize makes as the best
            # ones is read by early stopping alone: without it, no copy (set again below)
            self._best_coefs, self._best_intercepts = self.coefs_, self.intercepts_
        fresh = not incremental or not hasattr(self, "_optimizer")
        if fresh:
            # made without parameters, so without its zero arrays: its params and state are
            # set to views of the training handle's (_trainer)
            self._optimizer = OPTIMIZERS[self.solver](self, [])
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        X_val = y_val = Y_val = sample_weight_val = None
        if early_stopping:
            # scikit-learn's split, drawn from the same random_state
            stratify = y if self._is_stratified() else None
            arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
            split = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X, X_val, y, y_val = split[:4]
            if sample_weight is not None:
                sample_weight, sample_weight_val = split[4:]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            Y_val = np.reshape(y_val, (X_val.shape[0], -1))  # the targets the loss takes
            if hasattr(self, "_label_binarizer"):
                y_val = self._label_binarizer.inverse_transform(y_val)
        n_samples = X.shape[0]
        if self.batch_size != "auto" and self.batch_size > n_samples:
            warn("Got `batch_size` less than 1 or larger than sample size. "
                 "It is going to be clipped")
        Y = np.reshape(y, (n_samples, -1))
        network = self._network()
        batch_size = min(200 if self.batch_size == "auto" else self.batch_size, n_samples)
        trainer = self._trainer(network, batch_size, fresh)
        # X, Y and the weights are checked (and Y converted) once here, not every epoch
        rows = self._checked_rows(trainer, X, Y, sample_weight)
        # the handle's parameters are the weights from here on: the arrays they were copied
        # from are let go (the optimizer object and the best weights held them too)
        self.coefs_, self.intercepts_ = network.unpack(trainer.params)
        self._optimizer.params = self.coefs_ + self.intercepts_
        if not early_stopping:
            self._best_coefs, self._best_intercepts = self.coefs_, self.intercepts_
        validation = self._validation_loss_rows(trainer, X_val, Y_val if early_stopping
                                                else None, sample_weight_val)
        sample_idx = np.arange(n_samples, dtype=np.int64) if self.shuffle else None
        # the epochs' shuffles drawn by the core from the generator's state, written back at
        # the end (the generator serves nothing else during the epochs); for one epoch
        # (partial_fit) reading and writing the state would cost more than it saves
        shuffler = None
        if self.shuffle:
            shuffler = (self._random_state if incremental or self.max_iter == 1
                        else RandomStateShuffler(self._random_state))
        lr = None
        loss_type = self._loss_type(Y, sample_weight)
        diverged = False
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    # scikit-learn's permutation from the same random_state (what
                    # sklearn.utils.shuffle draws), so the same seed gives the same batches:
                    # it shuffles an arange and indexes sample_idx with it, which moves the
                    # entries as shuffling sample_idx in place does (the same swaps)
                    shuffler.shuffle(sample_idx)
                if diverged:
                    loss = np.nan  # NaN weights give a NaN loss, as scikit-learn's epochs do
                else:
                    epoch_lr = SOLVER_SETTINGS[self.solver](self._optimizer,
                                                            network.grad_scale)["lr"]
                    if epoch_lr != lr:  # the schedule's: set (and checked) when it changes
                        trainer.lr = lr = epoch_lr
                    loss, diverged = self._train_epoch(trainer, rows, sample_idx)
                    loss = loss * network.loss_scale + network.loss_offset(
                        Y, sample_weight, sample_idx, batch_size)
                self.n_iter_ += 1
                self.loss_ = loss_type(loss)
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if validation is not None:
                    self.validation_loss_curve_.append(
                        loss_type(trainer.validation_loss(validation) * network.loss_scale))
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                self._update_no_improvement_count(early_stopping, X_val, y_val,
                                                  sample_weight_val)
                self._optimizer.iteration_ends(self.t_)
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if early_stopping else "Training loss"
                    msg = ("%s did not improve more than tol=%f for %d consecutive epochs."
                           % (what, self.tol, self.n_iter_no_change))
                    if self._optimizer.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warn("Stochastic Optimizer: Maximum iterations (%d) reached and the "
                         "optimization hasn't converged yet." % self.max_iter,
                         ConvergenceWarning)
        except KeyboardInterrupt:
            warn("Training interrupted by user.")
        finally:
            if isinstance(shuffler, RandomStateShuffler):
                shuffler.close()
            self._optimizer_from_core(trainer, network)
        if early_stopping:
            self.coefs_ = self._best_coefs
            self.intercepts_ = self._best_intercepts

    def _validation_loss_rows(self, trainer, X_val, Y_val, sample_weight_val):
        """The held-out rows of early stopping as the trainer's validation set, and
        validation_loss_curve_ (nnfast's extra: scikit-learn's loss of the held-out rows after
        each epoch, without the L2 term; None without early stopping), started afresh where
        scikit-learn starts loss_curve_ afresh."""
        if Y_val is None:
            self.validation_loss_curve_ = None
            return None
        if not self.loss_curve_ or getattr(self, "validation_loss_curve_", None) is None:
            self.validation_loss_curve_ = []
        engine = trainer.engine
        X_val = engine.checked_X(X_val)
        weights = None if sample_weight_val is None else np.ascontiguousarray(
            sample_weight_val, dtype=np.float64)
        return ValidationSet(X_val, engine.checked_Y(Y_val, X_val.shape[0]), weights)

    def _loss_type(self, Y, sample_weight):
        """The NumPy type of scikit-learn's loss_ for targets Y and these weights: its loss
        function's result on one row of these dtypes plus its L2 term of coefs_'s dtype
        (np.float64 but for a float32 regression: float32 X, coefs_ and y)."""
        name = self.loss
        if name == "log_loss" and self.out_activation_ == "logistic":
            name = "binary_log_loss"
        if name not in LOSS_FUNCTIONS:  # nnfast's extras: the dtype rule of squared_error
            name = "squared_error"
        row = np.full((1, Y.shape[1]), 0.5, dtype=self.coefs_[0].dtype)
        weight = None if sample_weight is None else np.ones_like(sample_weight[:1])
        loss = LOSS_FUNCTIONS[name](np.zeros_like(Y[:1]), row, weight)
        W = np.zeros(1, dtype=self.coefs_[0].dtype)
        loss += (0.5 * self.alpha) * np.dot(W, W) / 1
        return type(loss)

    def _is_stratified(self):
        return hasattr(self, "_label_binarizer") and self.n_outputs_ == 1

    def _trainer(self, network, batch_size, fresh):
        """The training handle of a stochastic solver on coefs_ and intercepts_, continuing
        the state of the optimizer object (its velocities, or Adam's moments and step count;
        fresh: the optimizer was just made, its state all zeros)."""
        # nnfast's own shuffle is off: the epoch loop passes scikit-learn's order
        settings = FitSettings(
            optimizer=self.solver, alpha=network.core_alpha(self.alpha), batch_size=batch_size,
            loss_alpha=network.loss_alpha(self.alpha), shuffle=False, **SOLVER_SETTINGS[self.solver](self._optimizer, network.grad_scale))
        trainer = network.trainer(settings, self.coefs_, self.intercepts_)
        trainer.state = self._optimizer_to_core(trainer, network, fresh)
        if any(network.model.dropout):
            # the masks' stream, seeded from random_state (drawn only when there is dropout,
            # so that without it the estimator draws exactly what scikit-learn draws)
            trainer.rng_state = int(self._random_state.randint(0, 2**31 - 1))
        return trainer

    def _optimizer_to_core(self, trainer, network, fresh):
        """The core's optimizer state (state1, state2, step) from self._optimizer: new
        arrays, so that the run never writes into the optimizer's (a fit that fails leaves
        them as they were). A fresh optimizer's state is zeros: np.zeros, whose pages are
        not touched before the first step, and the optimizer's own zeros are let go for
        views of them.

        scikit-learn's lists hold coefs_ then intercepts_; the core's vectors hold them layer
        by layer, as its parameters. sgd's velocity is the same in both; Adam's moments are
        of scikit-learn's gradient, c times the core's, so m / c and v / c^2."""
        c = network.grad_scale
        optimizer = self._optimizer
        if fresh:
            adam = isinstance(optimizer, AdamOptimizer)
            zeros = [np.zeros(trainer.params.shape, trainer.params.dtype)
                     for _ in range(2 if adam else 1)]
            state = (zeros[0], zeros[1] if adam else None, 0)
            self._optimizer_views(state, network)
            return state

        def packed(arrays, scale):
            flat = np.empty_like(trainer.params)
            coefs, intercepts = network.unpack(flat)
            for view, value in zip(coefs + intercepts, arrays):
                np.divide(value, scale, out=view)
            return flat

        if isinstance(optimizer, AdamOptimizer):
            return packed(optimizer.ms, c), packed(optimizer.vs, c * c), int(optimizer.t)
        return packed(optimizer.velocities, 1.0), None, 0

    def _optimizer_from_core(self, trainer, network):
        """self._optimizer's arrays (and Adam's t and learning_rate) from the core's state:
        the attributes scikit-learn's optimizer would hold after the same updates, as views
        into the handle's state (scaled in place: the handle is not used again), not copies
        of it."""
        state = trainer.state
        if state is None:
            return
        c = network.grad_scale
        state1, state2, step = state
        optimizer = self._optimizer
        if isinstance(optimizer, AdamOptimizer) and c != 1.0:  # sgd's velocity is unscaled
            state1 *= c
            state2 *= c * c
        self._optimizer_views(state, network)
        if isinstance(optimizer, AdamOptimizer):
            optimizer.t = int(step)
            if optimizer.t > 0:
                optimizer.learning_rate = (optimizer.learning_rate_init
                                           * np.sqrt(1 - optimizer.beta_2 ** optimizer.t)
                                           / (1 - optimizer.beta_1 ** optimizer.t))

    def _optimizer_views(self, state, network):
        """self._optimizer's arrays (Adam's ms and vs, or sgd's velocities) as views into
        the flat vectors of a state (scikit-learn's order: coefs_ then intercepts_)."""
        state1, state2, _ = state

        def unpacked(flat):
            coefs, intercepts = network.unpack(flat)
            return coefs + intercepts

        if isinstance(self._optimizer, AdamOptimizer):
            self._optimizer.ms, self._optimizer.vs = unpacked(state1), unpacked(state2)
        else:
            self._optimizer.velocities = unpacked(state1)

    @staticmethod
    def _checked_rows(trainer, X, Y, sample_weight):
        """The training rows, checked once for every epoch (nnfast.models.training)."""
        with zero_weight_batches(sample_weight):
            return trainer.rows(X, Y, sample_weight)

    def _train_epoch(self, trainer, rows, order):
        """One epoch in the core on checked rows: (loss, diverged). A loss that becomes
        infinite or NaN is a diverged run: its weights become NaN, as scikit-learn's updates
        would make them."""
        try:
            return trainer.epoch(rows, order=order), False
        except FloatingPointError:
            trainer.params[:] = np.nan
            return np.nan, True
        except ValueError:
            raise_zero_weight_batch(rows.sample_weight)
            raise

    # ---- lbfgs ------------------------------------------------------------------------------
    def _fit_lbfgs(self, X, y, sample_weight, activations, deltas, coef_grads, intercept_grads,
                   layer_units):
        if self.dtype == "bfloat16":
            raise ValueError("dtype='bfloat16' rounds the products of the stochastic solvers "
                             "(sgd, adam); lbfgs's loss and gradient are float32's: use "
                             "dtype='float32' with lbfgs")
        if any(vocabulary.dropout_rates(self.dropout, len(layer_units) - 2)):
            raise ValueError("dropout is applied by the stochastic solvers (sgd, adam); "
                             "lbfgs minimizes the full-batch loss: use dropout=0 with lbfgs")
        self._set_indptr(layer_units)
        # scikit-learn's packing: in the weights' dtype, which scipy keeps for the points it
        # evaluates (float32 X: float32 evaluations); its result, and so coefs_, is float64
        packed = np.hstack([W.ravel() for W in self.coefs_] + self.intercepts_)
        loss_type = self._loss_type(np.reshape(y, (X.shape[0], -1)), sample_weight)
        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol,
                   **_get_additional_lbfgs_options_dict("iprint", iprint)}
        self._lbfgs_objective = LBFGSObjective(self)
        try:
            with BLAS_AT_ONE_THREAD.held():  # SciPy's idle BLAS threads spin (models/lbfgs.py)
                result = scipy.optimize.minimize(
                    self._loss_grad_lbfgs, packed, method="L-BFGS-B", jac=True,
                    options=options, args=(X, y, sample_weight, activations, deltas,
                                           coef_grads, intercept_grads))
        finally:
            del self._lbfgs_objective
        self.n_iter_ = check_lbfgs_result(result, self.max_iter)
        self.loss_ = loss_type(result.fun)
        self._unpack(result.x)
        if self.dtype is not None:  # the asked precision (scikit-learn's _unpack: float64)
            self.coefs_ = [W.astype(check.dtype_of(self.dtype)) for W in self.coefs_]
            self.intercepts_ = [b.astype(check.dtype_of(self.dtype)) for b in self.intercepts_]

    def _set_indptr(self, layer_units):
        """scikit-learn's _coef_indptr, _intercept_indptr: where each coefs_[i] (start, end,
        shape) and intercepts_[i] (start, end) lie in the packed vector of L-BFGS."""
        self._coef_indptr, self._intercept_indptr = [], []
        start = 0
        for n_fan_in, n_fan_out in zip(layer_units[:-1], layer_units[1:]):
            self._coef_indptr.append((start, start + n_fan_in * n_fan_out,
                                      (n_fan_in, n_fan_out)))
            start += n_fan_in * n_fan_out
        for n_fan_out in layer_units[1:]:
            self._intercept_indptr.append((start, start + n_fan_out))
            start += n_fan_out

    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight, activations, deltas,
                         coef_grads, intercept_grads):
        """scikit-learn's L-BFGS objective: (loss, gradient packed as packed_coef_inter), at
        packed_coef_inter, computed by the core; coefs_/intercepts_ and coef_grads/
        intercept_grads are left as scikit-learn's leaves them."""
        self._unpack(packed_coef_inter)
        objective = getattr(self, "_lbfgs_objective", None) or LBFGSObjective(self)
        loss, grad = objective(packed_coef_inter, X, y, sample_weight)
        for i, ((start, end, shape), (b_start, b_end)) in enumerate(
                zip(self._coef_indptr, self._intercept_indptr)):
            coef_grads[i] = grad[start:end].reshape(shape)
            intercept_grads[i] = grad[b_start:b_end]
        return loss, grad


class LBFGSObjective:
    """The L-BFGS loss and gradient of an estimator's network, in scikit-learn's packing
    (coefs_ raveled, then intercepts_), computed by the core's loss_gradient."""

    def __init__(self, estimator):
        self.alpha = estimator.alpha
        self.network = estimator._network()
        self.core_alpha = self.network.core_alpha(self.alpha)
        self.trainer = self.network.trainer(FitSettings(alpha=self.core_alpha))
        # core index of each packed entry: packed = params[order]
        coefs, intercepts = self.network.unpack(np.arange(self.trainer.params.shape[0]))
        self.order = np.concatenate([W.ravel() for W in coefs] + intercepts)
        self.n_coefs = sum(W.size for W in coefs)

    def __call__(self, packed, X, y, sample_weight):
        params = self.trainer.params
        params[self.order] = packed  # in the network's dtype
        Y = np.reshape(y, (X.shape[0], -1))
        try:
            loss, gradient = self.trainer.loss_gradient(X, Y, sample_weight)
        except (ValueError, FloatingPointError):
            if np.all(np.isfinite(packed)):
                raise
            # NaN weights (a diverged line search): scikit-learn's NaN loss and gradient
            return np.nan, np.full(packed.shape, np.nan)
        grad = gradient[self.order].astype(np.float64) * self.network.grad_scale
        # scikit-learn's loss: the core's data term scaled, scikit-learn's own L2 term
        # (for log-loss the scale is 1 and core_alpha = alpha: the core's loss as it is)
        weights = packed[:self.n_coefs]
        denominator = X.shape[0] if sample_weight is None else np.sum(sample_weight)
        penalty = float(np.dot(weights, weights)) / denominator
        loss = self.network.loss_scale * (loss - self.core_alpha / 2 * penalty) \
            + self.alpha / 2 * penalty + self.network.loss_offset(Y, sample_weight)
        return loss, grad
