"""An MLP quantized to int8 for microcontrollers, and its C99 header.

The arithmetic (all scales symmetric: a real value v is stored as round(v / scale)):

    input     x' = (x - mean) / std              float, once per input
              q0 = clamp(round(x' / s0))          int8, s0 from the calibration data
    layer l   acc = bq + q @ Wq                   int32 sums of int8 products
              Wq[:, j] = round(W[:, j] / w_j)     int8, one scale w_j per output unit
              bq[j] = round(b[j] / (s_in w_j))    int32
    hidden    qz = clamp(round(acc * M_j))        M_j = s_in w_j / s_z = m_j 2^-shift_j:
                                                  an int64 product and a rounding shift
              q = table_l[qz]                     the activation as a 256-entry int8 table
                                                  (scale s_a of the table's range)
    output    z = acc * (s_in w_j)                float, once per output; then the output
                                                  activation, a regression target's scaling

s_z is the largest |pre-activation| of each hidden layer on the calibration data, over 127.
No float arithmetic in the inner loops (the int32 sums, the requantization and the tables).
Rounding of a float is half away from zero; of a shifted product also (on its magnitude),
so the C never shifts a negative number (implementation-defined in C99).

QuantizedMLP's methods compute what the header computes: ``accumulators`` and ``predict``
bit for bit (the same integer operations, the same float32 operations in the same order);
``forward`` to the last bit of exp/tanh (C's libm and NumPy's may differ there).
"""
from dataclasses import dataclass
from typing import Any, List, Optional

import numpy as np

from .. import _validation as check
from ..models.preprocessing import Preprocessing
from ..vocabulary import REGRESSION_LOSSES
from .header import ACTIVATIONS_C, C_TYPES, c_array, c_identifier, prediction_rule

INT8_MAX = 127
INT32_MAX = 2**31 - 1

# Each activation on an array, by name (docs/semantics.md): the tables are made from these.
ACTIVATIONS_NP = {
    "identity": lambda z: z,
    "step": lambda z: (z >= 0).astype(z.dtype),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "softmax": lambda z: (lambda e: e / e.sum(axis=1, keepdims=True))(
        np.exp(z - z.max(axis=1, keepdims=True))),
    "exp": np.exp,
}
# The class each prediction rule (export.header.prediction_rule) gives from the output
# layer's z, before its activation: argmax z is argmax softmax(z), z >= 0 is sigmoid(z) >= 0.5.
CLASS_FROM_Z = {
    "cross_entropy": lambda z: z.argmax(axis=1),
    "binary_cross_entropy": lambda z: (z[:, 0] >= 0).astype(np.int64),
    **{loss: (lambda z: np.zeros(len(z), dtype=np.int64)) for loss in REGRESSION_LOSSES},
}
CLASS_FROM_Z_C = {
    "cross_entropy": "    for (j = 1; j < {n}; j++) if (output[j] > output[best]) best = j;\n",
    "binary_cross_entropy": "    best = output[0] >= 0.0f;\n",
    **{loss: "" for loss in REGRESSION_LOSSES},
}


def scale_of(largest):
    """The scale that maps [-largest, largest] onto [-127, 127] (1 when largest is 0)."""
    largest = np.asarray(largest, dtype=np.float64)
    return np.where(largest > 0, largest / INT8_MAX, 1.0)


def fixed_point(M):
    """(m, shift) with M ~ m * 2^-shift, m in [2^30, 2^31): the requantization multipliers of
    one layer as integers. A multiplier below 2^-31 (every product rounds to 0) keeps
    shift 62 and a smaller m."""
    mantissa, exponent = np.frexp(np.asarray(M, dtype=np.float64))  # M = f 2^e, f in [0.5, 1)
    m = np.round(mantissa * 2.0**31).astype(np.int64)
    shift = 31 - exponent.astype(np.int64)
    carry = m == 2**31  # f rounded up to 1
    m, shift = np.where(carry, 2**30, m), np.where(carry, shift - 1, shift)
    if (shift < 1).any():
        raise ValueError(f"a requantization multiplier of {float(np.max(M)):.3g} is beyond the "
                         f"int8 format's range: the layer's output scale is too small")
    excess = np.maximum(shift - 62, 0)
    return (m >> excess).astype(np.int64), np.minimum(shift, 62)


def round_shift(p, shift):
    """round(p * 2^-shift), half away from zero, for int64 p and shift >= 1."""
    half = np.left_shift(np.int64(1), shift - 1)
    return np.where(p >= 0, (p + half) >> shift, -((-p + half) >> shift))


def round_to_int8(v):
    """float32 v as int8, the way the header does it: NaN and below -127 to -127, above 127
    to 127, then v + 0.5 (v - 0.5 when negative) truncated."""
    v = np.where(v >= np.float32(-INT8_MAX), v, np.float32(-INT8_MAX))
    v = np.where(v > np.float32(INT8_MAX), np.float32(INT8_MAX), v)
    v = np.where(v >= 0, v + np.float32(0.5), v - np.float32(0.5)).astype(np.float32)
    return np.trunc(v).astype(np.int8)


@dataclass
class QuantizedLayer:
    """One dense layer in int8.

    weights : int8 (n_in, n_out); biases : int32 (n_out,)
    multipliers, shifts : int64 (n_out,), hidden layers: qz = round(acc * m 2^-shift)
    table : int8 (256,), hidden layers: the activation of qz, at index qz + 128
    scales : float32 (n_out,), the output layer: z = acc * scales
    """

    weights: np.ndarray
    biases: np.ndarray
    multipliers: Optional[np.ndarray] = None
    shifts: Optional[np.ndarray] = None
    table: Optional[np.ndarray] = None
    scales: Optional[np.ndarray] = None


def quantize_dense(W, b, input_scale, name):
    """(int8 weights, int32 biases, weight scales) of one layer taking inputs of input_scale;
    ValueError when its int32 sums could overflow."""
    w_scale = scale_of(np.abs(W).max(axis=0))
    Wq = np.clip(np.round(W / w_scale), -INT8_MAX, INT8_MAX).astype(np.int8)
    bq = np.round(b / (input_scale * w_scale))
    bound = np.abs(bq) + W.shape[0] * INT8_MAX * INT8_MAX
    if not np.all(bound <= INT32_MAX):
        raise ValueError(f"{name}: a bias of {float(np.abs(b).max()):.3g} against weights of "
                         f"{float(w_scale.min() * INT8_MAX):.3g} does not fit the int32 sums "
                         f"of the int8 format")
    return Wq, bq.astype(np.int32), w_scale


def activation_table(activation, z_scale):
    """(int8 table of 256, its output scale s_a): table[q + 128] = round(f(q s_z) / s_a)."""
    f = ACTIVATIONS_NP[activation](np.arange(-128, 128) * z_scale)
    a_scale = float(scale_of(np.abs(f[1:]).max()))
    return np.clip(np.round(f / a_scale), -INT8_MAX, INT8_MAX).astype(np.int8), a_scale


def quantize(model, X):
    """The int8 form of model (an nnfast MLP or Perceptron), its activation scales calibrated
    on X.

    Parameters
    ----------
    model : nnfast.MLP or nnfast.Perceptron
    X : array-like of shape (n_samples, n_inputs)
        Raw features, as the model's users pass them: the model's stored standardization is
        applied first. Typically the training data, or a few hundred rows of it.

    Returns
    -------
    QuantizedMLP
    """
    net = model.network
    pre = Preprocessing.of(model)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"the calibration data must be a non-empty matrix (n_samples, "
                         f"{net.layers[0]}), got shape {X.shape}")
    if X.shape[1] != net.layers[0]:
        raise ValueError(f"the calibration data has {X.shape[1]} columns; the model takes "
                         f"{net.layers[0]} inputs")
    if not check.all_finite(X):
        raise ValueError("the calibration data holds NaN or infinite values")
    mean = np.zeros(net.layers[0]) if pre.mean is None else pre.mean
    std = np.ones(net.layers[0]) if pre.std is None else pre.std
    a = (X - mean) / std
    input_scale = scale = float(scale_of(np.abs(a).max()))
    activations = list(net.activations) + [net.output]
    layers: List[QuantizedLayer] = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        W, b = W.astype(np.float64), b.astype(np.float64)
        Wq, bq, w_scale = quantize_dense(W, b, scale, f"layer {l}")
        z = a @ W + b
        if l == len(activations) - 1:
            layers.append(QuantizedLayer(Wq, bq, scales=(scale * w_scale).astype(np.float32)))
            break
        z_scale = float(scale_of(np.abs(z).max()))
        m, shift = fixed_point(scale * w_scale / z_scale)
        table, scale = activation_table(activations[l], z_scale)
        layers.append(QuantizedLayer(Wq, bq, m, shift, table))
        a = ACTIVATIONS_NP[activations[l]](z)
    return QuantizedMLP(
        mean.astype(np.float32), (1 / (std * input_scale)).astype(np.float32), layers,
        net.output, prediction_rule(model, net),
        pre.target_mean, pre.target_std, type(model).__name__, list(net.layers), net.dtype)


@dataclass
class QuantizedMLP:
    """An MLP in int8 (see the module docstring), and the Python twin of its C header."""

    mean: np.ndarray             # float32 (n_inputs,)
    inverse_scale: np.ndarray    # float32 (n_inputs,): q0 = round((x - mean) * inverse_scale)
    layers: List[QuantizedLayer]
    output: str                  # the output activation
    rule: str                    # how the class follows: a key of CLASS_FROM_Z
    target_mean: Any = None
    target_std: Any = None
    kind: str = "MLP"
    sizes: Any = None            # [n_inputs, ..., n_outputs]
    dtype: str = "float64"       # the float model's

    def input_codes(self, X):
        """The int8 inputs (n, n_inputs) of raw features X."""
        X = np.asarray(X, dtype=np.float32)
        return round_to_int8((X - self.mean) * self.inverse_scale)

    def accumulators(self, X):
        """The output layer's int32 sums (n, n_outputs) for raw features X: the header's
        ``accumulators``, bit for bit."""
        q = self.input_codes(X).astype(np.int64)
        for layer in self.layers[:-1]:
            acc = q @ layer.weights.astype(np.int64) + layer.biases
            qz = np.clip(round_shift(acc * layer.multipliers, layer.shifts),
                         -INT8_MAX, INT8_MAX)
            q = layer.table[qz + 128].astype(np.int64)
        last = self.layers[-1]
        return (q @ last.weights.astype(np.int64) + last.biases).astype(np.int32)

    def logits(self, X):
        """The output layer's z (n, n_outputs) in float32, before its activation."""
        return self.accumulators(X).astype(np.float32) * self.layers[-1].scales

    def predict(self, X):
        """The class index the header's ``inference`` returns (0 for regression)."""
        return CLASS_FROM_Z[self.rule](self.logits(X))

    def forward(self, X):
        """The outputs (n, n_outputs) the header's ``inference`` writes, in float32: the
        output activation of z, a regression target's scaling undone."""
        a = ACTIVATIONS_NP[self.output](self.logits(X)).astype(np.float32)
        if self.target_mean is not None:
            a = a * np.float32(self.target_std) + np.float32(self.target_mean)
        return a

    @property
    def weight_bytes(self):
        """Bytes of the int8 weights, int32 biases and per-unit constants."""
        return sum(layer.weights.nbytes + layer.biases.nbytes
                   + sum(a.nbytes for a in (layer.multipliers, layer.table, layer.scales)
                         if a is not None) for layer in self.layers)

    def to_c(self, prefix=None, source="a model"):
        """The C99 header (text) computing this int8 model; names as export.to_c's."""
        return int8_header(self, prefix, source)


def int_array(values):
    """Integers as a C initializer, 16 a line."""
    cells = [str(int(v)) for v in np.asarray(values).ravel()]
    lines = ["    " + ", ".join(cells[i:i + 16]) for i in range(0, len(cells), 16)]
    return "{\n" + ",\n".join(lines) + "\n}"


def int8_header(q, prefix, source):
    from .._version import __version__

    p = c_identifier(prefix) + "_" if prefix else "nnfast_"
    P = p.upper()
    function = f"{p}inference" if prefix else "inference"
    sizes, n_layers = q.sizes, len(q.layers)
    guard = f"{P}INT8_H"
    out = [
        f"/* An nnfast {q.kind} in int8, as C99, written by `nnfast export --int8` "
        f"(nnfast {__version__}) from {source}.",
        f" * Layers {' -> '.join(map(str, sizes))}: int8 weights with a scale per output "
        "unit, int8 activations",
        " * with a scale per layer (calibrated on data), int32 sums; no float arithmetic in the "
        "inner loops.",
        f" * {p}accumulators(input, acc): the output layer's int32 sums; its z = acc * "
        f"{p}output_scale.",
        f" * {function}(input, output): output = the model's {sizes[-1]} output activations "
        "(float), returns",
        " * the predicted class index (0 for regression). Input is raw features: the stored "
        "standardization",
        " * is applied here. No allocation; <stdint.h> and <math.h> (link with -lm); "
        "reentrant. */",
        f"#ifndef {guard}", f"#define {guard}", "", "#include <math.h>", "#include <stdint.h>",
        "", f"#define {P}N_INPUTS {sizes[0]}", f"#define {P}N_OUTPUTS {sizes[-1]}",
        f"#define {P}MAX_WIDTH {max(sizes)}", "",
        "/* input: q0 = round((input - mean) * inverse_scale), clamped to [-127, 127] */",
        f"static const float {p}mean[{sizes[0]}] = {c_array(q.mean, 'float')};",
        f"static const float {p}inverse_scale[{sizes[0]}] = "
        f"{c_array(q.inverse_scale, 'float')};",
    ]
    for l, layer in enumerate(q.layers):
        n_in, n_out = layer.weights.shape
        out.append(f"/* layer {l}: W{l} ({n_in}, {n_out}) int8 row-major, b{l} ({n_out}) int32"
                   + (f"; acc -> int8 by m{l} * 2^-shift{l}, then table{l}[q + 128] */"
                      if layer.table is not None else "; z = acc * output_scale */"))
        out.append(f"static const int8_t {p}W{l}[{n_in * n_out}] = {int_array(layer.weights)};")
        out.append(f"static const int32_t {p}b{l}[{n_out}] = {int_array(layer.biases)};")
        if layer.table is not None:
            out.append(f"static const int32_t {p}m{l}[{n_out}] = "
                       f"{int_array(layer.multipliers)};")
            out.append(f"static const uint8_t {p}shift{l}[{n_out}] = "
                       f"{int_array(layer.shifts)};")
            out.append(f"static const int8_t {p}table{l}[256] = {int_array(layer.table)};")
        else:
            out.append(f"static const float {p}output_scale[{n_out}] = "
                       f"{c_array(layer.scales, 'float')};")
    out += ["",
            "/* acc = b + a_prev @ W in int32: a_prev (n_in) int8, W (n_in, n) int8, b (n) */",
            f"static inline void {p}dense_int8(int32_t *acc, const int8_t *a_prev, "
            "const int8_t *W,",
            " " * len(f"static inline void {p}dense_int8(") + "const int32_t *b, int n_in, int n)",
            "{", "    int i, j;", "    for (j = 0; j < n; j++) acc[j] = b[j];",
            "    for (i = 0; i < n_in; i++) {", "        const int32_t x = a_prev[i];",
            "        for (j = 0; j < n; j++) acc[j] += x * W[i * n + j];", "    }", "}", "",
            "/* a = table[clamp(round(acc * m * 2^-shift)) + 128], the next layer's int8 input;",
            " * the rounding is half away from zero on the magnitude: no shift of a negative */",
            f"static inline void {p}requantize(int8_t *a, const int32_t *acc, const int32_t *m,",
            " " * len(f"static inline void {p}requantize(")
            + "const uint8_t *shift, const int8_t *table, int n)",
            "{", "    int j;", "    for (j = 0; j < n; j++) {",
            "        const int64_t p = (int64_t)acc[j] * m[j];",
            "        const int64_t half = (int64_t)1 << (shift[j] - 1);",
            "        int64_t qz = p >= 0 ? (p + half) >> shift[j] : -((-p + half) >> shift[j]);",
            "        if (qz > 127) qz = 127;", "        if (qz < -127) qz = -127;",
            "        a[j] = table[qz + 128];", "    }", "}", "",
            "/* the output layer's int32 sums for one sample of raw features */",
            f"static inline void {p}accumulators(const float *input, int32_t *acc_out)", "{",
            f"    int8_t a[2][{P}MAX_WIDTH];", f"    int32_t acc[{P}MAX_WIDTH];", "    int i;",
            f"    for (i = 0; i < {P}N_INPUTS; i++) {{",
            f"        float v = (input[i] - {p}mean[i]) * {p}inverse_scale[i];",
            "        if (!(v >= -127.0f)) v = -127.0f;  /* NaN too */",
            "        if (v > 127.0f) v = 127.0f;",
            "        v = v >= 0 ? v + 0.5f : v - 0.5f;",
            "        a[0][i] = (int8_t)v;", "    }"]
    for l, layer in enumerate(q.layers):
        n_in, n_out = layer.weights.shape
        if l == n_layers - 1:
            out.append(f"    {p}dense_int8(acc_out, a[{l % 2}], {p}W{l}, {p}b{l}, {n_in}, "
                       f"{n_out});")
        else:
            out.append(f"    {p}dense_int8(acc, a[{l % 2}], {p}W{l}, {p}b{l}, {n_in}, {n_out});")
            out.append(f"    {p}requantize(a[{(l + 1) % 2}], acc, {p}m{l}, {p}shift{l}, "
                       f"{p}table{l}, {n_out});")
    out += ["    (void)acc;", "}", ""]
    t, s = C_TYPES["float32"]
    if q.output != "identity":
        out.append(f"/* z = {q.output}(z) in place */")
        out.append(f"static inline void {p}{q.output}(float *z, int n)\n{{\n    int j;\n"
                   + ACTIVATIONS_C[q.output].format(t=t, s=s) + "}\n")
    body = [f"static inline int {function}(const float *input, float *output)", "{",
            f"    int32_t acc[{P}N_OUTPUTS];", "    int j, best = 0;",
            f"    {p}accumulators(input, acc);",
            f"    for (j = 0; j < {P}N_OUTPUTS; j++) output[j] = (float)acc[j] * "
            f"{p}output_scale[j];",
            CLASS_FROM_Z_C[q.rule].format(n=sizes[-1]).rstrip("\n")]
    if q.output != "identity":
        body.append(f"    {p}{q.output}(output, {P}N_OUTPUTS);")
    if q.target_mean is not None:
        body.append(f"    for (j = 0; j < {P}N_OUTPUTS; j++) output[j] = output[j] * "
                    f"{c_float(q.target_std)} + {c_float(q.target_mean)};")
    body += ["    return best;", "}"]
    out += [line for line in body if line]
    out += ["", f"#endif /* {guard} */", ""]
    return "\n".join(out)


def c_float(value):
    """A float32 constant as C text that reads back to the same float."""
    return c_array([np.float32(value)], "float")[2:-2].strip()
