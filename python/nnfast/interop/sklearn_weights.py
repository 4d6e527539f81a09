"""A fitted scikit-learn MLPClassifier or MLPRegressor as an nnfast MLP with the same forward.

scikit-learn keeps the weights as nnfast does: ``coefs_[l]`` of shape (n_l, n_{l+1}) is W[l],
``intercepts_[l]`` is b[l]. What is translated is names:

| scikit-learn | nnfast |
|---|---|
| activation logistic / tanh / relu / identity | sigmoid / tanh / relu / identity |
| out_activation_ softmax (multiclass) | output softmax, loss cross_entropy |
| out_activation_ logistic (binary, multilabel) | output sigmoid, loss binary_cross_entropy |
| out_activation_ identity (squared_error) | output identity, loss mse |
| out_activation_ exp (poisson) | output exp, loss poisson |
| loss absolute_error / huber (nnfast.sklearn) | loss mae / huber (huber_delta) |
| dropout (nnfast.sklearn) | dropout |
| classes_ (single-label classifiers) | the model's classes record |

A binary classifier's predict_proba is [1 - p, p]: the nnfast model's forward is p, one column.
"""
import numpy as np

from ..models.files import ModelRecord

# scikit-learn's activation names -> nnfast's (nnfast.sklearn._base has the same table; this
# module reads fitted attributes only and imports neither scikit-learn nor nnfast.sklearn)
ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
               "softmax": "softmax", "exp": "exp"}
# out_activation_ -> nnfast's loss for that output
OUTPUT_LOSSES = {"softmax": "cross_entropy", "logistic": "binary_cross_entropy",
                 "identity": "mse", "exp": "poisson"}
# nnfast.sklearn's regression extras (loss) -> nnfast's loss
EXTRA_LOSSES = {"absolute_error": "mae", "huber": "huber"}


def record_from_sklearn(estimator):
    """The record of an nnfast MLP computing what a fitted scikit-learn MLP computes.

    Parameters
    ----------
    estimator : sklearn.neural_network.MLPClassifier or MLPRegressor, fitted
        (nnfast.sklearn's estimators are too).

    Returns
    -------
    ModelRecord of an MLP (MLP.from_record) whose forward(X) is the estimator's
    predict_proba(X) (its last column for a binary classifier) or predict(X) as a column, in
    the dtype of its coefs_.
    """
    coefs = getattr(estimator, "coefs_", None)
    out_activation = getattr(estimator, "out_activation_", None)
    if coefs is None or out_activation is None:
        unfitted = " that is not fitted: call fit first" if hasattr(
            estimator, "hidden_layer_sizes") else ""
        raise TypeError(f"from_sklearn takes a fitted scikit-learn MLPClassifier or "
                        f"MLPRegressor, got a {type(estimator).__name__}{unfitted}")
    if out_activation not in OUTPUT_LOSSES:
        raise ValueError(f"nnfast has no {out_activation!r} output activation (scikit-learn's "
                         f"output of loss={getattr(estimator, 'loss', None)!r}): this model "
                         f"cannot be expressed as an nnfast MLP")
    if estimator.activation not in ACTIVATIONS:
        raise ValueError(f"nnfast has no {estimator.activation!r} activation")
    dtype = np.dtype(coefs[0].dtype)
    if dtype.name not in ("float32", "float64"):
        raise ValueError(f"coefs_ are {dtype.name}: nnfast runs float32 and float64")
    layers = [coefs[0].shape[0]] + [W.shape[1] for W in coefs]
    config = {"layers": layers, "activation": ACTIVATIONS[estimator.activation],
              "output": ACTIVATIONS[out_activation],
              "loss": EXTRA_LOSSES.get(getattr(estimator, "loss", None),
                                       OUTPUT_LOSSES[out_activation]),
              "seed": 0, "dtype": dtype.name, "init": "zeros",
              "dropout": getattr(estimator, "dropout", 0.0),
              "huber_delta": getattr(estimator, "huber_delta", 1.0)}
    records = {}
    classes = getattr(estimator, "classes_", None)
    single_label = out_activation == "softmax" or (out_activation == "logistic"
                                                   and layers[-1] == 1)
    if classes is not None and single_label:
        records["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
    features = getattr(estimator, "feature_names_in_", None)
    if features is not None:
        records["preprocessing"] = {"columns": {"features": [str(f) for f in features],
                                                "target": None}}
    return ModelRecord("MLP", config, [np.array(W, dtype) for W in coefs],
                       [np.array(b, dtype) for b in estimator.intercepts_], 0, None, None,
                       records)


def record_from_sklearn_linear(estimator):
    """The record of an nnfast MLP with one layer for a fitted linear classifier of
    scikit-learn (Perceptron, SGDClassifier, LogisticRegression: coef_, intercept_,
    classes_).

    Its predict gives the estimator's classes: with K > 2 classes the output is softmax over
    the K decision_function scores (argmax: the same class); with 2 classes sigmoid of the one
    score (class 1 when the score is >= 0, where scikit-learn needs > 0: the two differ only
    for a score of exactly 0). forward(X) is those activations, not decision_function itself.
    """
    coef, intercept = getattr(estimator, "coef_", None), getattr(estimator, "intercept_", None)
    classes = getattr(estimator, "classes_", None)
    if coef is None or intercept is None or classes is None:
        raise TypeError(f"expected a fitted linear classifier of scikit-learn, got a "
                        f"{type(estimator).__name__} without coef_, intercept_ and classes_")
    coef = np.asarray(coef)
    dtype = coef.dtype.name if coef.dtype.name in ("float32", "float64") else "float64"
    W = np.array(coef.T, dtype)
    b = np.array(np.atleast_1d(intercept), dtype)
    output, loss = (("softmax", "cross_entropy") if W.shape[1] > 1
                    else ("sigmoid", "binary_cross_entropy"))
    config = {"layers": [W.shape[0], W.shape[1]], "activation": "identity", "output": output,
              "loss": loss, "seed": 0, "dtype": dtype, "init": "zeros"}
    records = {"classes": [c.item() if hasattr(c, "item") else c for c in classes]}
    return ModelRecord("MLP", config, [W], [b], 0, None, None, records)
