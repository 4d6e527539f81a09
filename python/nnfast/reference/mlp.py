"""The multi-layer perceptron, built from the kernels in ops.py.

The model checks and converts its arguments (checks.py), looks the math up in the tables of
ops by name, and keeps the state: weights, biases, the random stream. A call that fails
leaves the model as it was. Its files: MLP.save and load, JSON.
"""

import copy
import json
import math

from .. import vocabulary
from ..errors import NotFittedError
from . import fitting, ops
from .checks import (is_number, check_features, check_int, check_float, check_bool, check_weights,
                     check_layers, check_targets)

FILE_FORMAT = "nnfast-reference"
FILE_VERSION = 2  # 2: per-layer activations, dropout, huber_delta; version 1 files still load


# ---------------------------------------------------------------- predictions

def _argmax_rows(A):
    """Index of the largest value of each row (the first, on ties). (n, K) -> (n,)."""
    return [max(range(len(row)), key=row.__getitem__) for row in A]


def _threshold(A):
    """0/1 labels int(a >= 0.5). (n, K) -> (n,) when K = 1, else (n, K)."""
    return _squeeze([[int(a >= 0.5) for a in row] for row in A])


def _squeeze(A):
    """(n, 1) -> (n,); any other shape is returned as it is."""
    return [row[0] for row in A] if len(A[0]) == 1 else A


PREDICTIONS = {  # what predict returns, by loss
    "cross_entropy": _argmax_rows,
    "binary_cross_entropy": _threshold,
    "mse": _squeeze,
    "mae": _squeeze,
    "huber": _squeeze,
    "poisson": _squeeze,
}


# ---------------------------------------------------------------- the model

class MLP:
    """Multi-layer perceptron: A_0 = X, A_{l+1} = f_l(A_l @ W[l] + b[l]).

    Parameters
    ----------
    layers : list of int, [n_inputs, hidden..., n_outputs]
    activation : {"sigmoid", "tanh", "relu", "identity", "step"} or list of them
        Activation of the hidden layers ("step" runs forward but cannot be fit): one
        name for all, or a list with one name per hidden layer.
    output : {"softmax", "sigmoid", "identity", "tanh", "relu", "exp"}, optional
        Output activation; default softmax when n_outputs > 1, else sigmoid.
    loss : {"cross_entropy", "binary_cross_entropy", "mse", "mae", "huber", "poisson"}
        Default: cross_entropy after softmax, binary_cross_entropy after sigmoid,
        poisson after exp, else mse.
    seed : int in [0, 2^64)
        State of the model's SplitMix64 stream (initialization, shuffling, dropout).
    dtype : {"float64", "bfloat16"}
        "bfloat16": the three matrix products of each training step of fit (A @ W forward,
        A_prev^T @ delta and delta @ W^T backward) take operands rounded to bfloat16
        (ops.matmul_bfloat16); every value stored and every other operation stay float64.
        forward, predict, loss, gradients and the validation loss use the exact products.
    init : {"glorot", "zeros"}
    dropout : float or list of float in [0, 1)
        Inverted dropout of the hidden layers' outputs during fit: one rate for all or
        one per hidden layer (docs/semantics.md, "Dropout").
    huber_delta : float > 0
        Where huber's loss turns from quadratic to linear.

    Attributes
    ----------
    weights : list of matrices, W[l] of shape (n_l, n_{l+1})
    biases : list of vectors, b[l] of shape (n_{l+1},)
    rng : SplitMix64
        Carries over from one fit to the next.
    loss_curve_ : list of float
        Mean training loss of each epoch of the last fit.
    """

    def __init__(self, layers, activation="sigmoid", output=None, loss=None, *, seed=0,
                 dtype="float64", init="glorot", dropout=0.0, huber_delta=1.0):
        layers = check_layers(layers)
        activations = vocabulary.hidden_activations(activation, len(layers) - 2)
        if output is None:
            output = vocabulary.DEFAULT_OUTPUT[layers[-1] > 1]
        if loss is None:
            loss = vocabulary.DEFAULT_LOSS.get(output, "mse")
        vocabulary.check_output_loss(output, loss)
        rates = vocabulary.dropout_rates(dropout, len(layers) - 2)
        huber_delta = vocabulary.check_huber_delta(huber_delta)
        seed = check_int("seed", seed, low=0, high=2 ** 64 - 1)
        if not isinstance(dtype, str) or dtype not in ops.PRODUCTS:
            raise ValueError(f"dtype must be 'float64' or 'bfloat16' (the reference stores and "
                             f"computes in float64 only; 'bfloat16' rounds the operands of "
                             f"fit's products), got dtype={dtype!r}")
        vocabulary.check_name("init", init, vocabulary.INIT_NAMES)
        self.layers, self.output, self.loss_name = layers, output, loss
        # one name when every hidden layer has it (what version 1 files hold), else the list
        self.activation = activation if isinstance(activation, str) else list(activation)
        self.activations, self.dropout, self.huber_delta = activations, rates, huber_delta
        self.seed, self.dtype, self.init = seed, dtype, init
        self.rng = ops.SplitMix64(seed)
        self.weights, self.biases = ops.init_params(layers, self._layer_activations(), self.rng,
                                                    init)
        self._loss_curve = None
        self._validation_loss_curve = self._best_epoch = None

    def _layer_activations(self):
        """The activation of each layer: hidden ones, then the output."""
        return self.activations + [self.output]

    @property
    def loss_curve_(self):
        if self._loss_curve is None:
            raise NotFittedError("this MLP is not fitted yet: call fit before reading loss_curve_")
        return self._loss_curve

    @property
    def validation_loss_curve_(self):
        """The validation loss after each epoch of the last fit; None when it had no
        validation rows."""
        self.loss_curve_  # NotFittedError before the first fit
        return self._validation_loss_curve

    @property
    def best_epoch_(self):
        """The 0-based epoch of the lowest validation loss (the first, on ties); None when
        the last fit had no validation rows."""
        self.loss_curve_
        return self._best_epoch

    # ------------------------------------------------ forward and backward

    def _forward_pass(self, X, dropout_rng=None, masks=None, product=ops.matmul):
        """All layer outputs [A_0 = X, A_1, ..., A_L] and the output logits Z_L; each A @ W
        by product (fit's training steps pass ops.PRODUCTS[dtype]).

        With dropout_rng (training), each hidden layer of rate p > 0 draws its mask from it,
        in layer order (ops.dropout_mask), and passes F * S on; the list masks, when given,
        receives (F, S) for each such layer and None for the others, for dense_backward."""
        outputs, Z = [X], None
        masks = [] if masks is None else masks
        masks.append(None)  # X
        rates = self.dropout + [0.0]
        for W, b, activation, p in zip(self.weights, self.biases, self._layer_activations(),
                                       rates):
            Z = ops.dense_linear(outputs[-1], W, b, product)
            F = ops.ACTIVATIONS[activation](Z)
            if dropout_rng is not None and p > 0:
                S = ops.dropout_mask(dropout_rng, len(F), len(F[0]), p)
                masks.append((F, S))
                F = ops.apply_mask(F, S)
            else:
                masks.append(None)
            outputs.append(F)
        return outputs, Z

    def _loss_value(self, Z, A, Y, alpha, sample_weight=None):
        """mean_rows(loss) + alpha / 2 * sum(W^2) / m; with sample weights sw the weighted
        mean sum_i sw_i loss_i / S + alpha / 2 * sum(W^2) / S, S = sum_i sw_i."""
        if sample_weight is None:
            return (ops.LOSSES[self.loss_name](Z, A, Y, self.huber_delta)
                    + ops.l2_penalty(self.weights, alpha, len(Y)))
        return (ops.weighted_loss(Z, A, Y, sample_weight, self.loss_name, self.huber_delta)
                + ops.l2_penalty(self.weights, alpha, sum(sample_weight)))

    def _backprop(self, X, Y, alpha, sample_weight=None, dropout_rng=None, product=ops.matmul):
        """Batch loss and its gradients (dW list, db list) by backpropagation.

        With sample weights sw (S = sum sw): dW = (A^T (sw * delta) + alpha W) / S.
        With dropout_rng, the masks of the hidden layers are drawn from it (training).
        product computes the matrix products, forward and backward (ops.PRODUCTS)."""
        masks = []
        outputs, Z = self._forward_pass(X, dropout_rng, masks, product)
        loss = self._loss_value(Z, outputs[-1], Y, alpha, sample_weight)
        delta = ops.output_delta(Z, outputs[-1], Y, self.output, self.loss_name,
                                 self.huber_delta)
        divisor = len(Y)
        if sample_weight is not None:
            divisor = sum(sample_weight)
            # dense_backward divides by m: row i scaled by sw_i m / S gives sw_i / S
            delta = [[d * w * len(Y) / divisor for d in row]
                     for row, w in zip(delta, sample_weight)]
        activations = [None] + self._layer_activations()  # activation that made outputs[l]
        dWs, dbs = [], []
        for l in reversed(range(len(self.weights))):
            dW, db, delta = ops.dense_backward(outputs[l], self.weights[l], delta, activations[l],
                                               masks[l], product)
            l2 = ops.l2_gradient(self.weights[l], alpha, divisor)
            dWs.insert(0, [[d + r for d, r in zip(dr, rr)] for dr, rr in zip(dW, l2)])
            dbs.insert(0, db)
        return loss, dWs, dbs

    def _check_differentiable(self):
        if "step" in self._layer_activations():
            raise ValueError("step has no derivative, so this network cannot be fit by gradient "
                             "descent: use Perceptron for the perceptron rule, or another "
                             "activation")

    # ------------------------------------------------ public API

    def forward(self, X):
        """Output activations. X (n, n_inputs) -> A (n, n_outputs)."""
        outputs, _ = self._forward_pass(check_features(X, self.layers[0]))
        return outputs[-1]

    def predict(self, X):
        """cross_entropy: class indices (n,); binary_cross_entropy: 0/1 labels
        int(a >= 0.5); mse: the outputs. (n,) when n_outputs = 1, else (n, n_outputs)."""
        return PREDICTIONS[self.loss_name](self.forward(X))

    def loss(self, X, y, alpha=0.0, sample_weight=None):
        """mean_rows(loss(X, y)) + alpha / 2 * sum_l sum(W[l]^2) / n. -> float.
        With sample_weight (n,): sum_i sw_i loss_i / S + alpha / 2 * sum W^2 / S, S = sum sw."""
        X = check_features(X, self.layers[0])
        Y = check_targets(y, len(X), self.layers[-1], self.loss_name)
        alpha = check_float("alpha", alpha)
        outputs, Z = self._forward_pass(X)
        return self._loss_value(Z, outputs[-1], Y, alpha, check_weights(sample_weight, len(X)))

    def gradients(self, X, y, alpha=0.0, sample_weight=None):
        """Gradients of .loss(X, y, alpha, sample_weight) by backpropagation.

        Returns
        -------
        dW : list of matrices, dW[l] of shape (n_l, n_{l+1})
        db : list of vectors, db[l] of shape (n_{l+1},)
        """
        self._check_differentiable()
        X = check_features(X, self.layers[0])
        Y = check_targets(y, len(X), self.layers[-1], self.loss_name)
        # the exact products whatever the dtype: bfloat16 is a precision of fit's steps only
        _, dWs, dbs = self._backprop(X, Y, check_float("alpha", alpha),
                                     check_weights(sample_weight, len(X)), product=ops.matmul)
        return dWs, dbs

    def fit(self, X, y, *, epochs=100, batch_size=None, lr=0.1, optimizer="sgd", momentum=0.0,
            nesterov=False, alpha=0.0, shuffle=True, verbose=False, sample_weight=None,
            class_weight=None, validation_data=None, validation_fraction=0.0,
            early_stopping=False, patience=10, restore_best=True):
        """Train by mini-batch gradient descent (docs/semantics.md, "Training" and
        "Validation, early stopping, class weights").

        Each epoch: an order of the rows (a fresh permutation when shuffle=True),
        cut into consecutive batches; per batch: forward, loss, backward, one
        optimizer step. Optimizer state starts at zero at each call.

        Parameters
        ----------
        X : matrix of shape (n, n_inputs)
        y : list of shape (n,) or (n, n_outputs)
        epochs : int >= 1
        batch_size : int >= 1 or None (the full batch)
        lr : float > 0
        optimizer : {"sgd", "adam"}
        momentum : float in [0, 1]; nesterov : bool (sgd only)
        alpha : float >= 0, the L2 penalty
        shuffle, verbose : bool
        sample_weight : list of n floats >= 0, optional
        class_weight : None, "balanced" or dict {class index: weight}
            Multiplies sample_weight (classification losses only).
        validation_data : (X_val, y_val), optional
        validation_fraction : float in [0, 1)
            Rows held out from X, drawn from the model's stream (stratified by class).
        early_stopping : bool
            Stop after `patience` epochs without a lower validation loss.
        restore_best : bool
            With early_stopping: end with the weights and stream of the best epoch.

        Returns
        -------
        self
        """
        self._check_differentiable()
        X = check_features(X, self.layers[0])
        Y = check_targets(y, len(X), self.layers[-1], self.loss_name)
        epochs = check_int("epochs", epochs)
        lr = check_float("lr", lr, low_open=True)
        vocabulary.check_name("optimizer", optimizer, vocabulary.OPTIMIZER_NAMES)
        momentum = check_float("momentum", momentum, high=1.0)
        alpha = check_float("alpha", alpha)
        nesterov, shuffle, verbose = (check_bool("nesterov", nesterov),
                                      check_bool("shuffle", shuffle),
                                      check_bool("verbose", verbose))
        weights = self._fit_weights(Y, sample_weight, class_weight)
        before = (copy.deepcopy(self.weights), copy.deepcopy(self.biases), self.rng.state)
        try:
            X, Y, weights, validation = self._validation_rows(
                X, Y, weights, class_weight, validation_data, validation_fraction)
            batch = len(X) if batch_size is None else min(check_int("batch_size", batch_size),
                                                          len(X))
            watch = self._early_stopping(validation, early_stopping, patience)
            restore_best = check_bool("restore_best", restore_best)
            curve, validation_curve = self._train(
                X, Y, weights, validation, watch, epochs, batch, lr, optimizer, momentum,
                nesterov, alpha, shuffle, verbose)
        except (FloatingPointError, OverflowError) as error:
            self.weights, self.biases, self.rng.state = before
            raise FloatingPointError(f"{error}; the model is left as it was before fit "
                                     f"(try a smaller lr)") from None
        except (TypeError, ValueError):
            self.weights, self.biases, self.rng.state = before
            raise
        if watch is not None and restore_best:
            self.weights, self.biases, self.rng.state = watch.best_state
        self._loss_curve, self._validation_loss_curve = curve, validation_curve
        self._best_epoch = None if validation is None else min(
            range(len(validation_curve)), key=validation_curve.__getitem__)
        return self

    def _fit_weights(self, Y, sample_weight, class_weight):
        """Each row's weight: sample_weight times its class weight; None when neither."""
        weights = check_weights(sample_weight, len(Y))
        if class_weight is None:
            return weights
        by_class = fitting.class_weight_of_rows(class_weight, Y, self.loss_name)
        return by_class if weights is None else [w * c for w, c in zip(weights, by_class)]

    def _validation_rows(self, X, Y, weights, class_weight, validation_data, fraction):
        """(X, Y, weights) to train on and the validation set (X_val, Y_val, weights_val), or
        None: validation_data, or the rows validation_fraction holds out of X."""
        fraction = check_float("validation_fraction", fraction, high=1.0)
        if fraction >= 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {fraction}")
        if validation_data is not None and fraction > 0:
            raise ValueError("give validation_data or validation_fraction > 0, not both")
        if validation_data is not None:
            try:
                X_val, y_val = validation_data
                X_val = check_features(X_val, self.layers[0])
                Y_val = check_targets(y_val, len(X_val), self.layers[-1], self.loss_name)
                weights_val = None if class_weight is None else fitting.class_weight_of_rows(
                    class_weight, Y_val, self.loss_name)
            except (TypeError, ValueError) as error:
                raise type(error)(f"validation_data: {error}") from None
            return X, Y, weights, (X_val, Y_val, weights_val)
        if fraction == 0:
            return X, Y, weights, None
        train, held = fitting.hold_out(Y, self.loss_name, fraction, self.rng)
        if not held or not train:
            raise ValueError(f"validation_fraction {fraction} of {len(Y)} rows holds out "
                             f"{len(held)} rows and leaves {len(train)} to train on: "
                             f"both need at least one")

        def rows(values, chosen):
            return None if values is None else [values[i] for i in chosen]
        return (rows(X, train), rows(Y, train), rows(weights, train),
                (rows(X, held), rows(Y, held), rows(weights, held)))

    def _early_stopping(self, validation, early_stopping, patience):
        """The early-stopping watch of a fit, or None without early stopping."""
        early_stopping = check_bool("early_stopping", early_stopping)
        patience = check_int("patience", patience)
        if not early_stopping:
            return None
        if validation is None:
            raise ValueError("early_stopping watches the validation loss: give "
                             "validation_data or validation_fraction > 0")
        return fitting.EarlyStopping(patience)

    def _parameter_vectors(self, weights, biases):
        """The flat vectors the optimizer updates, in file order: rows of W[0], b[0], ..."""
        vectors = []
        for W, b in zip(weights, biases):
            vectors.extend(W)
            vectors.append(b)
        return vectors

    def _train(self, X, Y, weights, validation, watch, epochs, batch, lr, optimizer, momentum,
               nesterov, alpha, shuffle, verbose):
        """The epoch loop of fit; returns the loss curve and the validation loss curve (None
        without validation)."""
        n = len(X)
        product = ops.PRODUCTS[self.dtype]  # the training steps' products only
        parameters = self._parameter_vectors(self.weights, self.biases)
        states = [ops.OPTIMIZERS[optimizer](len(p), lr, momentum, nesterov) for p in parameters]
        curve, validation_curve = [], None if validation is None else []
        for epoch in range(epochs):
            order = ops.permutation(self.rng, n) if shuffle else list(range(n))
            total = 0.0
            for start in range(0, n, batch):
                rows = order[start:start + batch]
                batch_weights = None if weights is None else [weights[i] for i in rows]
                if batch_weights is not None and not sum(batch_weights) > 0:
                    raise ValueError(f"the sample weights of a batch in epoch {epoch + 1} "
                                     f"sum to 0")
                loss, dWs, dbs = self._backprop([X[i] for i in rows], [Y[i] for i in rows],
                                                alpha, batch_weights, dropout_rng=self.rng,
                                                product=product)
                if not math.isfinite(loss):
                    raise FloatingPointError(f"the loss became {loss} in epoch {epoch + 1}")
                total += loss * len(rows)
                for w, g, state in zip(parameters, self._parameter_vectors(dWs, dbs), states):
                    state.step(w, g)
            curve.append(total / n)
            if verbose:
                print(f"epoch {epoch + 1}/{epochs}: loss {curve[-1]:.6g}")
            if validation is not None:
                validation_curve.append(self._validation_loss(validation, epoch))
                if watch is not None:
                    if watch.update(epoch, validation_curve[-1]):
                        watch.best_state = (copy.deepcopy(self.weights), copy.deepcopy(self.biases),
                                      self.rng.state)
                    if watch.stop:
                        break
        if not all(math.isfinite(v) for p in parameters for v in p):
            raise FloatingPointError("a parameter became NaN or infinite in the last update")
        return curve, validation_curve

    def _validation_loss(self, validation, epoch):
        """The (weighted) mean loss of the validation rows, without the L2 term."""
        X_val, Y_val, weights_val = validation
        outputs, Z = self._forward_pass(X_val)
        loss = self._loss_value(Z, outputs[-1], Y_val, 0.0, weights_val)
        if not math.isfinite(loss):
            raise FloatingPointError(f"the validation loss became {loss} in epoch {epoch + 1}")
        return loss

    # ------------------------------------------------ files

    def save(self, path):
        """Write the model to `path` as JSON (format "nnfast-reference", version 1)."""
        data = {
            "format": FILE_FORMAT, "format_version": FILE_VERSION, "kind": "MLP",
            "layers": self.layers, "activation": self.activation, "output": self.output,
            "loss": self.loss_name, "seed": self.seed, "dtype": self.dtype, "init": self.init,
            "dropout": self.dropout, "huber_delta": self.huber_delta,
            "rng_state": self.rng.state, "weights": self.weights, "biases": self.biases,
            "loss_curve": self._loss_curve,
        }
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, allow_nan=False)

    def __repr__(self):
        dtype = "" if self.dtype == "float64" else f", dtype={self.dtype!r}"
        return (f"MLP({self.layers}, activation={self.activation!r}, output={self.output!r}, "
                f"loss={self.loss_name!r}, seed={self.seed}{dtype}, init={self.init!r}, "
                f"dropout={self.dropout!r}, huber_delta={self.huber_delta!r})")


# ---------------------------------------------------------------- files

FILE_FIELDS = ("layers", "activation", "output", "loss", "seed", "dtype", "init", "rng_state",
               "weights", "biases", "loss_curve")


def _check_parameters(data, layers):
    """Check every W[l] is (n_l, n_{l+1}) and b[l] is (n_{l+1},), all finite numbers."""
    weights, biases = data["weights"], data["biases"]
    if not isinstance(weights, list) or not isinstance(biases, list) \
            or len(weights) != len(layers) - 1 or len(biases) != len(layers) - 1:
        raise ValueError(f"weights and biases must be lists of {len(layers) - 1} layers")
    for l, (W, b) in enumerate(zip(weights, biases)):
        if not isinstance(W, list) or len(W) != layers[l] \
                or any(not isinstance(row, list) or len(row) != layers[l + 1] for row in W):
            raise ValueError(f"weights[{l}] must have shape ({layers[l]}, {layers[l + 1]})")
        if not isinstance(b, list) or len(b) != layers[l + 1]:
            raise ValueError(f"biases[{l}] must have shape ({layers[l + 1]},)")
        if not all(is_number(v) and math.isfinite(v) for v in b + [v for row in W for v in row]):
            raise ValueError(f"layer {l} holds a value that is not a finite number")
    return ([[[float(v) for v in row] for row in W] for W in weights],
            [[float(v) for v in b] for b in biases])


def load(path):
    """Read a model written by MLP.save; every field and shape is checked.

    Raises
    ------
    ValueError
        When the file is not a valid nnfast-reference model file.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{path} is not an nnfast-reference model file: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
        raise ValueError(f"{path} is not an nnfast-reference model file (format is not "
                         f"{FILE_FORMAT!r})")
    version = data.get("format_version")
    if type(version) is not int or version not in (1, FILE_VERSION) or data.get("kind") != "MLP":
        raise ValueError(f"{path}: unsupported format_version {version!r} or kind "
                         f"{data.get('kind')!r}; this reads versions 1 to {FILE_VERSION}, "
                         f"kind 'MLP'")
    fields = FILE_FIELDS + (() if version == 1 else ("dropout", "huber_delta"))
    missing = [field for field in fields if field not in data]
    if missing:
        raise ValueError(f"{path}: missing fields {missing}")
    try:
        layers = check_layers(data["layers"])
        weights, biases = _check_parameters(data, layers)  # before MLP() allocates anything
        extras = {} if version == 1 else {"dropout": data["dropout"],
                                           "huber_delta": data["huber_delta"]}
        model = MLP(layers, data["activation"], data["output"], data["loss"], seed=data["seed"],
                    dtype=data["dtype"], init=data["init"], **extras)
        model.weights, model.biases = weights, biases
        model.rng.state = check_int("rng_state", data["rng_state"], low=0, high=2 ** 64 - 1)
        curve = data["loss_curve"]
        if curve is not None and (not isinstance(curve, list) or
                                  not all(is_number(v) and math.isfinite(v) for v in curve)):
            raise ValueError("loss_curve must be null or a list of finite numbers")
        model._loss_curve = curve
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: invalid model file: {error}") from None
    return model
