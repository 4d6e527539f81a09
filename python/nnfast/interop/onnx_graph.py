"""An nnfast model as an ONNX graph (the onnx extra: pip install "nnfast[onnx]").

The graph takes the raw features, as ``nnfast predict`` does, and computes:

    input (n, d) -> [Sub mean, Div std]           the stored standardization, if any
                 -> MatMul W0, Add b0, f(.) ...    each dense layer and its activation
    classifier:  -> probabilities (n, K)           what ``predict --proba`` prints
                 -> label (n,)                     the class label (ArgMax, or p >= 0.5 for
                                                   one sigmoid output; several sigmoid
                                                   outputs: a (n, K) 0/1 matrix)
    regression:  -> variable (n, K)                the outputs in the target's units

in the model's dtype (float32 or float64). Opset 17, IR version 8: what onnxruntime and
skl2onnx read.
"""
import numpy as np

from ..vocabulary import REGRESSION_LOSSES

OPSET = 17
IR_VERSION = 8
ELEMENT_TYPES = {"float32": 1, "float64": 11}  # onnx.TensorProto.FLOAT, DOUBLE


def _step(builder, z):
    """1 where z >= 0, else 0, in the model's dtype."""
    return builder.node("Cast", [builder.node("GreaterOrEqual", [z, builder.constant(0.0)])],
                        to=builder.element_type)


# Each activation as the nodes computing it from z, by name (docs/semantics.md).
ACTIVATIONS_ONNX = {
    "identity": lambda builder, z: z,
    "step": _step,
    "sigmoid": lambda builder, z: builder.node("Sigmoid", [z]),
    "tanh": lambda builder, z: builder.node("Tanh", [z]),
    "relu": lambda builder, z: builder.node("Relu", [z]),
    "softmax": lambda builder, z: builder.node("Softmax", [z], axis=-1),
    "exp": lambda builder, z: builder.node("Exp", [z]),  # a Poisson output's rate
}


class GraphBuilder:
    """Nodes and constant tensors of one graph, each output named in order."""

    def __init__(self, dtype):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.dtype, self.element_type = dtype, ELEMENT_TYPES[dtype]
        self.nodes, self.initializers = [], []

    def constant(self, values, name=None, dtype=None):
        name = name or f"c{len(self.initializers)}"
        array = np.asarray(values, dtype=dtype or self.dtype)
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, output=None, **attributes):
        output = output or f"{op.lower()}{len(self.nodes)}"
        self.nodes.append(self.helper.make_node(op, inputs, [output], **attributes))
        return output


def class_labels(classes, n_classes):
    """The labels as a constant tensor's values and its numpy dtype: int64 when they are all
    integers, float64 when all numbers, else strings."""
    labels = list(classes) if classes else list(range(n_classes))
    if all(isinstance(c, (int, np.integer)) for c in labels):
        return np.array(labels, dtype=np.int64)
    if all(isinstance(c, (int, float, np.integer, np.floating)) for c in labels):
        return np.array(labels, dtype=np.float64)
    return np.array([str(c) for c in labels], dtype=object)


def is_classifier(model, net):
    """A Perceptron (its network is its one layer) or a network trained on a cross-entropy."""
    return net is not model or net.loss_name not in REGRESSION_LOSSES


def to_onnx(model, path=None):
    """The ONNX graph of an nnfast MLP or Perceptron.

    Parameters
    ----------
    model : nnfast.MLP or nnfast.Perceptron
    path : str or os.PathLike, optional
        Where to write it (the .onnx file).

    Returns
    -------
    onnx.ModelProto, checked with onnx.checker.
    """
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install \"nnfast[onnx]\"") \
            from None
    from .._version import __version__
    from ..models.preprocessing import Preprocessing

    net = model.network
    pre = Preprocessing.of(model)  # the standardization, target scaling and class labels
    builder = GraphBuilder(net.dtype)
    helper, T = onnx.helper, builder.element_type
    a = "input"
    if pre.mean is not None:
        a = builder.node("Sub", [a, builder.constant(pre.mean, "mean")])
        a = builder.node("Div", [a, builder.constant(pre.std, "std")])
    activations = list(net.activations) + [net.output]
    for l, (W, b, activation) in enumerate(zip(net.weights, net.biases, activations)):
        z = builder.node("MatMul", [a, builder.constant(W, f"W{l}")])
        z = builder.node("Add", [z, builder.constant(b, f"b{l}")])
        a = ACTIVATIONS_ONNX[activation](builder, z)
    n_outputs = net.layers[-1]
    if is_classifier(model, net):
        outputs = classifier_outputs(builder, a, net, pre, n_outputs)
    else:
        if pre.target_mean is not None:
            a = builder.node("Mul", [a, builder.constant(pre.target_std)])
            a = builder.node("Add", [a, builder.constant(pre.target_mean)])
        builder.node("Identity", [a], "variable")
        outputs = [helper.make_tensor_value_info("variable", T, [None, n_outputs])]
    graph = helper.make_graph(
        builder.nodes, f"nnfast_{type(model).__name__}",
        [helper.make_tensor_value_info("input", T, [None, net.layers[0]])], outputs,
        builder.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="nnfast", producer_version=__version__,
                              ir_version=IR_VERSION)
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        onnx.save_model(proto, path)
    return proto


def classifier_outputs(builder, a, net, pre, n_outputs):
    """Nodes of the "label" and "probabilities" outputs from the output activations a; the
    value infos of both."""
    helper, T = builder.helper, builder.element_type
    if n_outputs > 1 and net.output != "softmax":
        # several independent 0/1 outputs (multilabel): the label is a 0/1 matrix
        builder.node("Identity", [a], "probabilities")
        above = builder.node("GreaterOrEqual", [a, builder.constant(0.5)])
        builder.node("Cast", [above], "label", to=7)  # TensorProto.INT64
        return [helper.make_tensor_value_info("label", 7, [None, n_outputs]),
                helper.make_tensor_value_info("probabilities", T, [None, n_outputs])]
    if n_outputs == 1:
        # one sigmoid (or step) unit: p(class 1) = a, p(class 0) = 1 - a; class 1 when a >= 0.5
        complement = builder.node("Sub", [builder.constant([1.0]), a])
        builder.node("Concat", [complement, a], "probabilities", axis=1)
        above = builder.node("GreaterOrEqual", [a, builder.constant(0.5)])
        column = builder.node("Squeeze", [above, builder.constant([1], dtype=np.int64)])
        index = builder.node("Cast", [column], to=7)
        n_classes = 2
    else:
        builder.node("Identity", [a], "probabilities")
        index = builder.node("ArgMax", [a], axis=1, keepdims=0)
        n_classes = n_outputs
    labels = class_labels(pre.classes, n_classes)
    builder.initializers.append(builder.numpy_helper.from_array(labels, "classes"))
    builder.node("Gather", ["classes", index], "label", axis=0)
    label_type = {"int64": 7, "float64": 11}.get(labels.dtype.name, 8)  # 8: STRING
    return [helper.make_tensor_value_info("label", label_type, [None]),
            helper.make_tensor_value_info("probabilities", T, [None, n_classes])]
