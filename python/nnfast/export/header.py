"""Export a trained model as a self-contained C99 header, for programs without Python.

The header holds the weights as static const arrays and one function,

    int inference(const float input[N_INPUTS], float output[N_OUTPUTS]);

(double for float64 models) that computes what `nnfast predict --proba` computes for one
sample: the stored standardization, every dense layer Z = A_prev @ W + b with its activation,
and a regression target's scaling undone. It returns the predicted class index for a
classifier (0 for regression). No allocation (two stack buffers of the widest layer), no
dependency beyond <math.h>, reentrant.
"""
import re

import numpy as np

from .._version import __version__
from ..models import Perceptron
from ..models.preprocessing import Preprocessing
from ..vocabulary import REGRESSION_LOSSES

C_TYPES = {"float32": ("float", "f"), "float64": ("double", "")}

# Each activation as C that turns z[0..n) into f(z) in place, by name (docs/semantics.md).
# {s} is the math-function suffix (f for float), {t} the C type.
ACTIVATIONS_C = {
    "identity": "",
    "step": "    for (j = 0; j < n; j++) z[j] = z[j] >= 0 ? ({t})1 : ({t})0;\n",
    # e^z / (1 + e^z) for z < 0, so e^-z never overflows
    "sigmoid": ("    for (j = 0; j < n; j++)\n"
                "        z[j] = z[j] >= 0 ? 1 / (1 + exp{s}(-z[j])) : "
                "exp{s}(z[j]) / (1 + exp{s}(z[j]));\n"),
    "tanh": "    for (j = 0; j < n; j++) z[j] = tanh{s}(z[j]);\n",
    "relu": "    for (j = 0; j < n; j++) z[j] = z[j] > 0 ? z[j] : ({t})0;\n",
    # e^(z_j - max z) / sum_i e^(z_i - max z): the shift keeps every e^x <= 1
    "softmax": ("    {t} zmax = z[0], sum = 0;\n"
                "    for (j = 1; j < n; j++) if (z[j] > zmax) zmax = z[j];\n"
                "    for (j = 0; j < n; j++) {{ z[j] = exp{s}(z[j] - zmax); sum += z[j]; }}\n"
                "    for (j = 0; j < n; j++) z[j] = z[j] / sum;\n"),
    # a Poisson output's rate
    "exp": "    for (j = 0; j < n; j++) z[j] = exp{s}(z[j]);\n",
}

# How the predicted class follows from the outputs, by loss.
PREDICTION_C = {
    "cross_entropy": ("    for (j = 1; j < {n}; j++) if (output[j] > output[best]) best = j;\n"),
    "binary_cross_entropy": "    best = output[0] >= ({t})0.5;\n",
    **{loss: "" for loss in REGRESSION_LOSSES},  # regression: no class
}


def c_identifier(text):
    name = re.sub(r"\W", "_", text)
    if not name or name[0].isdigit():
        raise ValueError(f"{text!r} cannot begin a C name")
    return name


def c_array(values, t):
    """Values as a C initializer, each printed with enough digits to read back exactly."""
    digits = 9 if t == "float" else 17
    suffix = "f" if t == "float" else ""
    cells = [f"{v:.{digits}g}" for v in np.asarray(values, dtype=np.float64).ravel()]
    cells = [(c if "." in c or "e" in c else c + ".0") + suffix for c in cells]
    lines = ["    " + ", ".join(cells[i:i + 6]) for i in range(0, len(cells), 6)]
    return "{\n" + ",\n".join(lines) + "\n}"


def prediction_rule(model, net):
    """The key of PREDICTION_C: how one class follows from the outputs."""
    if isinstance(model, Perceptron):
        return "binary_cross_entropy" if net.layers[-1] == 1 else "mse"
    if net.loss_name == "binary_cross_entropy" and net.layers[-1] > 1:
        return "mse"  # several independent 0/1 outputs: no single class to return
    return net.loss_name


def header_comment(model, net, function, activations, source):
    layers = net.layers
    return [
        f"/* An nnfast {type(model).__name__} as C99, written by `nnfast export` "
        f"(nnfast {__version__}) from {source}.",
        f" * Layers {' -> '.join(map(str, layers))}: {', '.join(activations)}; {net.dtype}.",
        f" * {function}(input, output): output = the model's {layers[-1]} output activations "
        "for one sample",
        " * (`nnfast predict --proba`); returns the predicted class index (0 for regression).",
        " * Input is raw features: the standardization stored with the model is applied here.",
        " * No allocation, no dependency beyond <math.h> (link with -lm); reentrant. */",
    ]


def constant_arrays(net, preprocessing, t, p):
    """The parameters (and the input scaling) as static const arrays."""
    out = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        n_in, n_out = W.shape
        out.append(f"/* W{l} ({n_in}, {n_out}) row-major: W{l}[i * {n_out} + j]; "
                   f"b{l} ({n_out}) */")
        out.append(f"static const {t} {p}W{l}[{n_in * n_out}] = {c_array(W, t)};")
        out.append(f"static const {t} {p}b{l}[{n_out}] = {c_array(b, t)};")
    if preprocessing.mean is not None:
        n = net.layers[0]
        out.append("/* input standardization: x = (input - mean) / std */")
        out.append(f"static const {t} {p}mean[{n}] = {c_array(preprocessing.mean, t)};")
        out.append(f"static const {t} {p}std[{n}] = {c_array(preprocessing.std, t)};")
    return out


def layer_functions(activations, t, s, p):
    """The dense layer and each activation the network uses, as C functions."""
    out = ["/* z = a_prev @ W + b for one sample: a_prev (n_in), W (n_in, n), b (n), z (n) */",
           f"static inline void {p}dense({t} *z, const {t} *a_prev, const {t} *W, "
           f"const {t} *b, int n_in, int n)\n{{\n    int i, j;\n"
           f"    for (j = 0; j < n; j++) z[j] = b[j];\n"
           f"    for (i = 0; i < n_in; i++)\n"
           f"        for (j = 0; j < n; j++) z[j] += a_prev[i] * W[i * n + j];\n}}\n"]
    for name in sorted(set(activations) - {"identity"}):
        out.append(f"/* z = {name}(z) in place */")
        out.append(f"static inline void {p}{name}({t} *z, int n)\n{{\n    int j;\n"
                   + ACTIVATIONS_C[name].format(t=t, s=s) + "}\n")
    return out


def inference_function(layers, activations, preprocessing, rule, function, t, p, P):
    """The body: scale the input, run each layer between two stack buffers, unscale a
    regression output, pick the class."""
    body = [f"static inline int {function}(const {t} *input, {t} *output)", "{",
            f"    {t} a[2][{P}MAX_WIDTH];", "    int j, best = 0;"]
    current = "input"
    if preprocessing.mean is not None:
        body.append(f"    for (j = 0; j < {layers[0]}; j++) "
                    f"a[1][j] = (input[j] - {p}mean[j]) / {p}std[j];")
        current = "a[1]"
    last = len(activations) - 1
    for l, act in enumerate(activations):
        target = "output" if l == last else f"a[{l % 2}]"
        body.append(f"    {p}dense({target}, {current}, {p}W{l}, {p}b{l}, {layers[l]}, "
                    f"{layers[l + 1]});")
        if act != "identity":
            body.append(f"    {p}{act}({target}, {layers[l + 1]});")
        current = target
    if preprocessing.target_mean is not None:
        body.append(f"    output[0] = output[0] * ({t}){preprocessing.target_std!r} + "
                    f"({t}){preprocessing.target_mean!r};")
    body.append(PREDICTION_C[rule].format(n=layers[-1], t=t).rstrip("\n"))
    body += ["    (void)a; (void)j;", "    return best;", "}"]
    return [line for line in body if line]


def to_c(model, prefix=None, source="a model"):
    """The C99 header text for model (an nnfast MLP or Perceptron).

    prefix : str or None
        None names the function `inference` and the rest `nnfast_*`; a prefix P names them
        `P_inference`, `P_W0`, ... so several models can live in one program.
    """
    net = model.network
    t, s = C_TYPES[net.dtype]
    p = c_identifier(prefix) + "_" if prefix else "nnfast_"
    P = p.upper()
    function = f"{p}inference" if prefix else "inference"
    layers = net.layers
    activations = list(net.activations) + [net.output]
    preprocessing = Preprocessing.of(model)
    guard = f"{P}MODEL_H"
    out = header_comment(model, net, function, activations, source)
    out += [f"#ifndef {guard}", f"#define {guard}", "", "#include <math.h>", "",
            f"#define {P}N_INPUTS {layers[0]}", f"#define {P}N_OUTPUTS {layers[-1]}",
            f"#define {P}MAX_WIDTH {max(layers)}", ""]
    out += constant_arrays(net, preprocessing, t, p) + [""]
    out += layer_functions(activations, t, s, p)
    out += inference_function(layers, activations, preprocessing, prediction_rule(model, net),
                              function, t, p, P)
    out += ["", f"#endif /* {guard} */", ""]
    return "\n".join(out)
