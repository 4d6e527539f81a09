"""The names a model accepts, and the rules that tie them together (docs/semantics.md)."""

HIDDEN_ACTIVATIONS = ("identity", "step", "sigmoid", "tanh", "relu")
OUTPUT_ACTIVATIONS = HIDDEN_ACTIVATIONS + ("softmax",)
LOSS_NAMES = ("binary_cross_entropy", "cross_entropy", "mse")
OPTIMIZER_NAMES = ("sgd", "adam")
INIT_NAMES = ("glorot", "zeros")

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


def choose(value, names, what):
    """Return value if it is one of names, else raise a ValueError listing them."""
    if not isinstance(value, str) or value not in names:
        raise ValueError(f"unknown {what} {value!r}; choose one of {list(names)}")
    return value
