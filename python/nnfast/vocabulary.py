"""The names nnfast understands, in one place: activations, losses, optimizers, initializers,
and the rules that tie them together (docs/semantics.md).

Standard library only: the pure-Python reference, the API, the binding and the scikit-learn
face all read their names from here. The ``*_CODES`` tables give the number each name has in
the C core's enums (src/nncore/nncore.h); the binding checks them against the core at import.
"""

# Elementwise activations a hidden layer may use, in the order of the core's nn_act enum.
HIDDEN_ACTIVATIONS = ("identity", "step", "sigmoid", "tanh", "relu")
# softmax is row-wise: an output activation only.
OUTPUT_ACTIVATIONS = HIDDEN_ACTIVATIONS + ("softmax",)
LOSS_NAMES = ("mse", "binary_cross_entropy", "cross_entropy")
OPTIMIZER_NAMES = ("sgd", "adam")
INIT_NAMES = ("glorot", "zeros")

ACTIVATION_CODES = {name: code for code, name in enumerate(OUTPUT_ACTIVATIONS)}
LOSS_CODES = {name: code for code, name in enumerate(LOSS_NAMES)}
OPTIMIZER_CODES = {name: code for code, name in enumerate(OPTIMIZER_NAMES)}
INIT_CODES = {name: code for code, name in enumerate(INIT_NAMES)}

# The output activation a network gets when none is given, by its number of outputs.
DEFAULT_OUTPUT = {True: "softmax", False: "sigmoid"}  # keyed by n_outputs > 1
# The natural loss of an output activation; any other output defaults to mse.
DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}
# The outputs each loss accepts: the cross-entropies are computed from the logits of their
# own output; mse works through the chain rule with any output.
LOSS_OUTPUTS = {
    "binary_cross_entropy": ("sigmoid",),
    "cross_entropy": ("softmax",),
    "mse": OUTPUT_ACTIVATIONS,
}
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


def check_output_loss(output, loss):
    """Raise ValueError unless the loss may follow the output activation (LOSS_OUTPUTS; mse
    after step makes a forward-only network, which fit refuses)."""
    check_name("output activation", output, OUTPUT_ACTIVATIONS)
    check_name("loss", loss, LOSS_NAMES)
    if output not in LOSS_OUTPUTS[loss]:
        raise ValueError(f"loss {loss!r} cannot follow output {output!r}; "
                         f"it needs output {' or '.join(map(repr, LOSS_OUTPUTS[loss]))}")
