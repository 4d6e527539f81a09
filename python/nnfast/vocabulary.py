"""The names nnfast understands, in one place: activations, losses, optimizers, initializers,
and the rules that tie them together (docs/semantics.md).

Standard library only: the pure-Python reference, the API, the binding and the scikit-learn
face all read their names from here. The ``*_CODES`` tables give the number each name has in
the C core's enums (src/nncore/nncore.h); the binding checks them against the core at import.
"""
import math
import numbers

# Elementwise activations a hidden layer may use, in the order of the core's nn_act enum.
HIDDEN_ACTIVATIONS = ("identity", "step", "sigmoid", "tanh", "relu")
# softmax is row-wise, exp is poisson's output (its rate e^z): output activations only.
OUTPUT_ACTIVATIONS = HIDDEN_ACTIVATIONS + ("softmax", "exp")
# New names are appended, so the codes of the earlier ones never move.
LOSS_NAMES = ("mse", "binary_cross_entropy", "cross_entropy", "mae", "huber", "poisson")
OPTIMIZER_NAMES = ("sgd", "adam")
INIT_NAMES = ("glorot", "zeros")
# The precision of a training step's products: the parameters' dtype's own, or bfloat16
# operands with float32 sums (nn_products).
PRODUCTS_NAMES = ("native", "bfloat16")
# A model's dtype argument: the dtype of its parameters, inputs and outputs, and the
# precision of fit's products (docs/semantics.md, "bfloat16 training").
PRECISIONS = {"float64": ("float64", "native"), "float32": ("float32", "native"),
              "bfloat16": ("float32", "bfloat16")}

ACTIVATION_CODES = {name: code for code, name in enumerate(OUTPUT_ACTIVATIONS)}
LOSS_CODES = {name: code for code, name in enumerate(LOSS_NAMES)}
OPTIMIZER_CODES = {name: code for code, name in enumerate(OPTIMIZER_NAMES)}
INIT_CODES = {name: code for code, name in enumerate(INIT_NAMES)}
PRODUCTS_CODES = {name: code for code, name in enumerate(PRODUCTS_NAMES)}

# The output activation a network gets when none is given, by its number of outputs.
DEFAULT_OUTPUT = {True: "softmax", False: "sigmoid"}  # keyed by n_outputs > 1
# The natural loss of an output activation; any other output defaults to mse.
DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy", "exp": "poisson"}
# The outputs each loss accepts: the cross-entropies and poisson are computed from the logits
# of their own output; mse, mae and huber work through the chain rule with any output.
LOSS_OUTPUTS = {
    "binary_cross_entropy": ("sigmoid",),
    "cross_entropy": ("softmax",),
    "mse": OUTPUT_ACTIVATIONS,
    "mae": OUTPUT_ACTIVATIONS,
    "huber": OUTPUT_ACTIVATIONS,
    "poisson": ("exp",),
}
# Losses of real-valued targets, whose predictions are the outputs themselves.
REGRESSION_LOSSES = ("mse", "mae", "huber", "poisson")
# Activations without a derivative: a network using one runs forward only.
FORWARD_ONLY_ACTIVATIONS = ("step",)
# A perceptron's activations: step trains by the perceptron rule, sigmoid by gradient descent.
PERCEPTRON_ACTIVATIONS = ("step", "sigmoid")


def check_name(kind, name, valid):
    """Raise ValueError unless `name` is one of `valid`, listing the valid names.

    Parameters
    ----------
    kind : str
        What the name is for, e.g. "activation"; used in the message.
    name : object
    valid : iterable of str
    """
    if not isinstance(name, str) or name not in valid:
        raise ValueError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(valid))}")


def choose(value, names, what):
    """Return value if it is one of names, else raise check_name's ValueError."""
    check_name(what, value, names)
    return value


def hidden_activations(activation, n_hidden):
    """The activation of each of n_hidden hidden layers: one name for all, or a list (any
    sequence but a string) with one name per hidden layer. Raises ValueError naming
    `activation` for an unknown name or a list of the wrong length."""
    if isinstance(activation, (str, bytes)) or not hasattr(activation, "__len__"):
        check_name("activation", activation, HIDDEN_ACTIVATIONS)
        return [activation] * n_hidden
    names = list(activation)
    if len(names) != n_hidden:
        raise ValueError(f"activation lists {len(names)} names for {n_hidden} hidden "
                         f"layer(s): give one name per hidden layer")
    for i, name in enumerate(names):
        check_name(f"activation[{i}]", name, HIDDEN_ACTIVATIONS)
    return names


def dropout_rates(dropout, n_hidden):
    """The dropout rate of each of n_hidden hidden layers: one rate for all, or a list with
    one per hidden layer, each 0 <= p < 1. Raises ValueError (TypeError for a non-number)
    naming `dropout`."""
    is_number = isinstance(dropout, numbers.Real) and not isinstance(dropout, bool)
    if is_number:
        rates = [dropout] * n_hidden
    elif isinstance(dropout, (str, bytes)) or not hasattr(dropout, "__len__"):
        raise TypeError(f"dropout must be a rate or a list of rates, got {dropout!r}")
    else:
        rates = list(dropout)
        if len(rates) != n_hidden:
            raise ValueError(f"dropout lists {len(rates)} rates for {n_hidden} hidden "
                             f"layer(s): give one rate per hidden layer")
    for i, p in enumerate(rates):
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(f"dropout[{i}] must be a number, got {p!r}")
        if not 0 <= p < 1:  # also refuses NaN
            where = "" if is_number else f" (dropout[{i}])"
            raise ValueError(f"dropout must be in [0, 1) (the rate of units dropped), got "
                             f"{p!r}{where}")
    if is_number and not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1) (the rate of units dropped), got "
                         f"{dropout!r}")
    return [float(p) for p in rates]


def check_huber_delta(huber_delta):
    """huber_delta as a float: finite and > 0, else ValueError (TypeError) naming it."""
    if isinstance(huber_delta, bool) or not isinstance(huber_delta, numbers.Real):
        raise TypeError(f"huber_delta must be a number, got {huber_delta!r}")
    if not (math.isfinite(huber_delta) and huber_delta > 0):
        raise ValueError(f"huber_delta must be finite and > 0, got {huber_delta!r}")
    return float(huber_delta)


def check_output_loss(output, loss):
    """Raise ValueError unless the loss may follow the output activation (LOSS_OUTPUTS; mse
    after step makes a forward-only network, which fit refuses)."""
    check_name("output activation", output, OUTPUT_ACTIVATIONS)
    check_name("loss", loss, LOSS_NAMES)
    if output not in LOSS_OUTPUTS[loss]:
        raise ValueError(f"loss {loss!r} cannot follow output {output!r}; "
                         f"it needs output {' or '.join(map(repr, LOSS_OUTPUTS[loss]))}")
