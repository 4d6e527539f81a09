"""The native side of nnfast.sklearn's MLPs: scikit-learn's semantics translated onto the core.

scikit-learn's estimators keep their parameter validation, label binarization, weight
initialization (its Glorot draws from ``random_state``), early-stopping split and stopping
rules; this mixin replaces what does the arithmetic -- the epochs of sgd/adam, the L-BFGS
objective and the forward pass -- with nnfast's API: an nnfast MLP of the estimator's shape
and its training handle (nnfast.models.training), which run in the C core (GIL released).
The schedule of the learning rate stays here (_schedules.py): it sets the handle's lr
between epochs, and scikit-learn's row order is passed to each epoch.

The translation (scikit-learn's ``_base.py`` and ``_multilayer_perceptron.py`` against
docs/semantics.md):

| scikit-learn | nnfast core |
|---|---|
| hidden activation logistic | sigmoid (tanh, relu, identity: same names) |
| out_activation_ softmax + log_loss | softmax + cross_entropy (same loss and gradient) |
| out_activation_ logistic + log_loss | sigmoid + binary_cross_entropy (same) |
| identity + squared_error: 1/2 mean_k (a-y)^2, delta a - y | identity + mse: mean_k (a-y)^2, delta 2(a-y)/K |
| L2 alpha/2 sum W^2 / n, gradient alpha W / n | the same (n = rows of the batch) |
| coefs_[l], intercepts_[l] (n_in, n_out), (n_out,) | W[l], b[l]: the same layout, one flat vector |

So for squared_error with K outputs scikit-learn's gradient is c = K/2 times the core's mse
gradient taken with alpha' = 2 alpha / K. The core trains with alpha', and the optimizer
absorbs c: sgd uses the learning rate c lr (velocity and step scale linearly), adam uses
epsilon / c (Adam is invariant to the gradient's scale but for epsilon). The reported loss is
half the core's: exactly scikit-learn's for one output; with K > 1 outputs and alpha > 0 the
stochastic solvers' loss_curve_ holds the L2 term divided by K (lbfgs reports it exactly).
"""
import warnings

import numpy as np
import scipy.optimize
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import validate_data

from .. import _validation as check
from ..models import MLP
from ..models.parameters import split_parameters
from ..models.training import FitSettings
from ._schedules import schedule_for

# scikit-learn's activation names -> nnfast's.
ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
               "softmax": "softmax"}
# out_activation_ -> nnfast's loss for it (scikit-learn's loss given that output).
OUTPUT_LOSSES = {"softmax": "cross_entropy", "logistic": "binary_cross_entropy",
                 "identity": "mse"}
# loss -> (gradient scale c as a function of the outputs K, reported loss = core loss * this).
LOSS_SCALES = {"cross_entropy": (lambda K: 1.0, 1.0),
               "binary_cross_entropy": (lambda K: 1.0, 1.0),
               "mse": (lambda K: K / 2.0, 0.5)}
# The FitSettings of each solver for an estimator at learning rate `rate`, gradient scale c:
# sgd absorbs c in the learning rate, adam in epsilon (see the module docstring).
SOLVER_SETTINGS = {
    "sgd": lambda est, rate, c: dict(lr=rate * c, momentum=est.momentum,
                                     nesterov=bool(est.nesterovs_momentum)),
    "adam": lambda est, rate, c: dict(lr=rate, beta1=est.beta_1, beta2=est.beta_2,
                                      epsilon=est.epsilon / c),
}


def dense(X):
    """Sparse input is converted to a dense array once (the core works on dense rows)."""
    return X.toarray() if scipy.sparse.issparse(X) else X


class Network:
    """An nnfast MLP of scikit-learn's shape, holding an estimator's coefs_ and intercepts_."""

    def __init__(self, coefs, intercepts, activation, out_activation):
        layer_units = [coefs[0].shape[0]] + [W.shape[1] for W in coefs]
        self.loss_name = OUTPUT_LOSSES[out_activation]
        self.model = MLP(layer_units, ACTIVATIONS[activation],
                         output=ACTIVATIONS[out_activation], loss=self.loss_name,
                         dtype=coefs[0].dtype, init="zeros")
        self.model.set_parameters(coefs, intercepts)
        self.layer_units, self.dtype = layer_units, coefs[0].dtype
        grad_scale, self.loss_scale = LOSS_SCALES[self.loss_name]
        self.grad_scale = grad_scale(layer_units[-1])

    def forward(self, X):
        """Output activations (n_samples, n_outputs) of coefs_ and intercepts_, computed as
        scikit-learn does: a value that overflows is inf or NaN, not an error (the training
        handle's forward; MLP.forward would refuse it)."""
        return self.model.trainer(FitSettings()).forward(X)

    def unpack(self, params):
        """coefs_, intercepts_ as views into a flat parameter vector."""
        return split_parameters(params, self.layer_units)

    def core_alpha(self, alpha):
        """nnfast's L2 strength: scikit-learn's gradient = c * nnfast's with alpha / c."""
        return alpha / self.grad_scale


class NativeMLPMixin:
    """Overrides the arithmetic of scikit-learn's BaseMultilayerPerceptron (see module doc)."""

    def _native_supported(self):
        # loss="poisson" (output exp) has no core counterpart yet: scikit-learn trains it.
        return getattr(self, "loss", None) != "poisson"

    # ---- input ------------------------------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset):
        X, y = super()._validate_input(X, y, incremental, reset)
        return np.ascontiguousarray(dense(X), dtype=check.dtype_of(self.dtype)), y

    def _network(self):
        return Network(self.coefs_, self.intercepts_, self.activation, self.out_activation_)

    # ---- forward ----------------------------------------------------------------------------
    def _forward_pass_fast(self, X, check_input=True):
        if not self._native_supported():
            return super()._forward_pass_fast(X, check_input=check_input)
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        return self._network().forward(dense(X))

    # ---- sgd and adam -----------------------------------------------------------------------
    def _fit_stochastic(self, X, y, sample_weight, activations, deltas, coef_grads,
                        intercept_grads, layer_units, incremental):
        if not self._native_supported():
            return super()._fit_stochastic(X, y, sample_weight, activations, deltas,
                                           coef_grads, intercept_grads, layer_units,
                                           incremental)
        network = self._network()
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = {"rate": float(self.learning_rate_init), "state": None}
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        X_val = y_val = sample_weight_val = None
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
            if hasattr(self, "_label_binarizer"):
                y_val = self._label_binarizer.inverse_transform(y_val)
        n_samples = X.shape[0]
        if self.batch_size != "auto" and self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                          "It is going to be clipped")
        Y = np.reshape(y, (n_samples, -1))
        trainer = self._trainer(network, 200 if self.batch_size == "auto" else self.batch_size)
        self.coefs_, self.intercepts_ = network.unpack(trainer.params)
        schedule = schedule_for(self.solver, self.learning_rate)
        sample_idx = np.arange(n_samples) if self.shuffle else None
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    # scikit-learn's permutation from the same random_state (what
                    # sklearn.utils.shuffle draws), so the same seed gives the same batches
                    permutation = np.arange(n_samples)
                    self._random_state.shuffle(permutation)
                    sample_idx = sample_idx[permutation]
                trainer.lr = SOLVER_SETTINGS[self.solver](
                    self, self._optimizer["rate"], network.grad_scale)["lr"]
                loss = self._train_epoch(trainer, X, Y, sample_idx, sample_weight)
                self.n_iter_ += 1
                self.loss_ = loss * network.loss_scale
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                self._update_no_improvement_count(early_stopping, X_val, y_val,
                                                  sample_weight_val)
                self._optimizer["rate"] = schedule.epoch_end(
                    self._optimizer["rate"], self.learning_rate_init, self.t_, self.power_t)
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if early_stopping else "Training loss"
                    msg = ("%s did not improve more than tol=%f for %d consecutive epochs."
                           % (what, self.tol, self.n_iter_no_change))
                    self._optimizer["rate"], stop = schedule.plateau(self._optimizer["rate"])
                    if self.verbose:
                        print(msg + (" Stopping." if stop else " Setting learning rate to %f"
                                     % self._optimizer["rate"]))
                    if stop:
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and "
                                  "the optimization hasn't converged yet." % self.max_iter,
                                  ConvergenceWarning)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        except ValueError:
            # a diverging run leaves the weights as they were before this call: the trainer
            # trained a copy, the network still holds them
            self.coefs_, self.intercepts_ = network.model.weights, network.model.biases
            raise
        self._optimizer["state"] = trainer.state
        if early_stopping:
            self.coefs_ = self._best_coefs
            self.intercepts_ = self._best_intercepts

    def _is_stratified(self):
        return hasattr(self, "_label_binarizer") and self.n_outputs_ == 1

    def _trainer(self, network, batch_size):
        """The training handle of a stochastic solver, continuing the optimizer state of a
        previous call on the same architecture (partial_fit, warm_start)."""
        # nnfast's own shuffle is off: the epoch loop passes scikit-learn's order
        settings = FitSettings(
            optimizer=self.solver, alpha=network.core_alpha(self.alpha), batch_size=batch_size,
            shuffle=False, **SOLVER_SETTINGS[self.solver](self, self.learning_rate_init,
                                                          network.grad_scale))
        trainer = network.model.trainer(settings)
        state = self._optimizer.get("state")
        if state is not None and state[0].shape == trainer.params.shape:
            trainer.state = state
        return trainer

    def _train_epoch(self, trainer, X, Y, order, sample_weight):
        """One epoch in the core; a non-finite loss is scikit-learn's ValueError."""
        try:
            return trainer.epoch(X, Y, order, sample_weight)
        except ValueError:
            if sample_weight is not None and not np.all(sample_weight > 0):
                raise ValueError("the sample weights of a batch sum to zero: scikit-learn "
                                 "cannot average such a batch either; use positive weights "
                                 "or shuffle=True") from None
            raise
        except FloatingPointError as exc:
            raise ValueError(str(exc)) from None

    # ---- lbfgs ------------------------------------------------------------------------------
    def _fit_lbfgs(self, X, y, sample_weight, activations, deltas, coef_grads, intercept_grads,
                   layer_units):
        if not self._native_supported():
            return super()._fit_lbfgs(X, y, sample_weight, activations, deltas, coef_grads,
                                      intercept_grads, layer_units)
        network = self._network()
        Y = np.reshape(y, (X.shape[0], -1))
        core_alpha = network.core_alpha(self.alpha)
        trainer = network.model.trainer(FitSettings(alpha=core_alpha))
        params = trainer.params
        weight_mask = np.zeros(params.shape[0], dtype=bool)  # the W entries (L2 penalizes)
        for W in network.unpack(np.arange(params.shape[0]))[0]:
            weight_mask[W.ravel()] = True
        denominator = X.shape[0] if sample_weight is None else np.sum(sample_weight)

        def loss_and_gradient(packed):
            params[:] = packed
            loss, gradient = trainer.loss_gradient(X, Y, sample_weight)
            grad = gradient.astype(np.float64) * network.grad_scale
            # scikit-learn's loss: the core's data term scaled, scikit-learn's own L2 term
            # (for log-loss the scale is 1 and core_alpha = alpha: the core's loss as it is)
            penalty = float(np.dot(packed[weight_mask], packed[weight_mask])) / denominator
            loss = network.loss_scale * (loss - core_alpha / 2 * penalty) \
                + self.alpha / 2 * penalty
            return loss, grad

        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol,
                   **_get_additional_lbfgs_options_dict("iprint", iprint)}
        result = scipy.optimize.minimize(loss_and_gradient, params.astype(np.float64),
                                         method="L-BFGS-B", jac=True, options=options)
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = result.fun
        params[:] = result.x
        self.coefs_, self.intercepts_ = network.unpack(params)
