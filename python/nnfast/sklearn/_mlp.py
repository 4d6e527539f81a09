"""MLPClassifier and MLPRegressor: scikit-learn's estimators, trained by the nnfast core.

Same constructor parameters, defaults, attributes and methods as
``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor``, plus ``dtype`` (None, the
default: X's dtype as in scikit-learn; or "float64" / "float32": the precision the network is
trained and evaluated in, whatever X is), and extras scikit-learn has not: ``dropout`` for
both, MLPRegressor's ``loss="absolute_error"`` and ``"huber"`` (with ``huber_delta``); the
defaults are scikit-learn's. Sparse input (CSR/CSC) is accepted and converted to a dense array
once per call.
"""
from numbers import Real

from sklearn import neural_network
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import NativeMLPMixin
from ._interop import NnfastModelMixin

# nnfast's extras (docs/semantics.md, "Dropout"): one rate for every hidden layer, or a list
# with one rate per hidden layer (checked against the layers at fit).
DROPOUT = [Interval(Real, 0, 1, closed="left"), "array-like"]


class MLPClassifier(NativeMLPMixin, NnfastModelMixin, neural_network.MLPClassifier):
    """Multi-layer perceptron classifier (log-loss), trained by the nnfast core.

    Parameters: those of ``sklearn.neural_network.MLPClassifier``, with the same defaults and
    meaning, and

    dtype : {"float64", "float32", "bfloat16"} or None, default=None
        The precision of the weights and of training. None does as scikit-learn does: sgd
        and adam train in X's dtype (float32 X gives float32 coefs_ and predict_proba),
        L-BFGS in float64. A dtype given here is used whatever X is (X is converted to it).
        "bfloat16" (sgd and adam, dense X): float32 weights and outputs, the training
        products' operands rounded to bfloat16 (nnfast.MLP's dtype).
    class_weight : dict {label: weight}, "balanced" or None, default=None
        nnfast's extra (scikit-learn's MLPClassifier has none): each sample's weight is
        multiplied by its class's, as scikit-learn's linear models do; "balanced" is
        n_samples / (n_classes * np.bincount(y)). None changes nothing. A dict label that is
        not a class is a ValueError; "balanced" is refused by partial_fit.
    dropout : float or list of float in [0, 1), default=0.0
        An extra (scikit-learn has no dropout): inverted dropout of the hidden layers'
        outputs while sgd or adam trains, one rate for all or one per hidden layer; the
        masks are drawn from a stream seeded by random_state. predict never drops. lbfgs
        refuses a rate above 0.

    Attributes: those of scikit-learn's MLPClassifier (classes_, loss_, best_loss_,
    loss_curve_, validation_scores_, best_validation_score_, t_, coefs_, intercepts_,
    n_features_in_, feature_names_in_, n_iter_, n_layers_, n_outputs_, out_activation_), and
    validation_loss_curve_ (nnfast's extra, sgd and adam): with early_stopping=True the loss
    of the held-out rows after each epoch (as loss_curve_ computes it, without the L2 term),
    else None.
    """

    _parameter_constraints = {**neural_network.MLPClassifier._parameter_constraints,
                              "dtype": [StrOptions({"float64", "float32", "bfloat16"}), type,
                                        None],
                              "class_weight": [StrOptions({"balanced"}), dict, None],
                              "dropout": DROPOUT}

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, class_weight=None, dropout=0.0):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun)
        self.dtype = dtype
        self.class_weight = class_weight
        self.dropout = dropout


class MLPRegressor(NativeMLPMixin, NnfastModelMixin, neural_network.MLPRegressor):
    """Multi-layer perceptron regressor, trained by the nnfast core.

    Parameters: those of ``sklearn.neural_network.MLPRegressor``, with the same defaults and
    meaning (loss="poisson": the exp output and scikit-learn's half Poisson deviance as
    loss_, trained by the core), ``dtype`` and ``dropout`` as in MLPClassifier, and these
    extras (scikit-learn has them not):

    loss : {"squared_error", "poisson", "absolute_error", "huber"}, default="squared_error"
        "absolute_error": mean_k |a - y| (its derivative at a = y taken as 0); "huber":
        mean_k of r^2 / 2 for |r| <= huber_delta, else huber_delta (|r| - huber_delta / 2),
        r = a - y. Both with the identity output; loss_ reports them as written here.
    huber_delta : float > 0, default=1.0
        Where the huber loss turns from quadratic to linear.

    Attributes: those of scikit-learn's MLPRegressor, and validation_loss_curve_ as in
    MLPClassifier (sgd and adam, with early_stopping=True).
    """

    _parameter_constraints = {**neural_network.MLPRegressor._parameter_constraints,
                              "dtype": [StrOptions({"float64", "float32", "bfloat16"}), type,
                                        None],
                              "loss": [StrOptions({"squared_error", "poisson", "absolute_error",
                                                   "huber"})],
                              "dropout": DROPOUT,
                              "huber_delta": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, dropout=0.0, huber_delta=1.0):
        super().__init__(
            loss=loss, hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            solver=solver, alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun)
        self.dtype = dtype
        self.dropout = dropout
        self.huber_delta = huber_delta
