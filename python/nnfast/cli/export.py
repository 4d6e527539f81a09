"""`nnfast export MODEL --c HEADER | --onnx FILE`: the model as a C99 header (float, or int8
with --int8 --calibrate DATA) or as an ONNX graph."""
import argparse
import os
import tempfile

import numpy as np

from . import metrics
from .common import (CommandError, encode_for_model, load_model, read_for_model, task_of,
                     write_atomically)

EXAMPLES = """\
examples:
  nnfast export iris.npz --c iris_model.h
  cc -std=c99 -O2 main.c -lm        (main.c: #include "iris_model.h", calls inference)
  nnfast export iris.npz --onnx iris.onnx
  nnfast export digits.npz --c digits_int8.h --int8 --calibrate digits"""


def add_parser(commands):
    p = commands.add_parser(
        "export", help="write a model as a C99 header or an ONNX graph",
        description="Write a model as a self-contained C99 header: the weights as static "
                    "const arrays and `int inference(const float *input, float *output)` "
                    "(double for float64 models), which applies the stored standardization, "
                    "writes the output activations (what predict --proba prints) and returns "
                    "the predicted class. No allocation, nothing beyond <math.h>. "
                    "With --int8 the weights are int8 (a scale per output unit) and the "
                    "layers run in integers, with activation scales calibrated on DATA. "
                    "--onnx writes an ONNX graph (needs the onnx package).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a model file")
    p.add_argument("--c", dest="header", metavar="HEADER", help="the C header to write")
    p.add_argument("--onnx", metavar="FILE", help="the ONNX file to write")
    p.add_argument("--prefix", metavar="NAME",
                   help="name the function NAME_inference (and the arrays NAME_*), to put "
                        "several models in one program")
    p.add_argument("--int8", action="store_true",
                   help="quantize the header: int8 weights and activations, int32 sums")
    p.add_argument("--calibrate", metavar="DATA",
                   help="with --int8: the data (CSV/.npy/.npz or a built-in set) whose range "
                        "sets each layer's activation scale")
    p.set_defaults(run=run)
    return p


def check_arguments(args):
    if args.header is None and args.onnx is None:
        raise CommandError("nothing to write: give --c HEADER or --onnx FILE (or both)")
    if args.int8 and args.header is None:
        raise CommandError("--int8 quantizes the C header: give --c HEADER")
    if args.int8 != (args.calibrate is not None):
        raise CommandError("--int8 needs --calibrate DATA (and --calibrate needs --int8): the "
                           "activation scales are calibrated on data")


def run(args, out=print):
    check_arguments(args)
    model = load_model(args.model)
    source = os.path.basename(args.model)
    if args.header is not None and args.int8:
        write_int8_header(model, args, source, out)
    elif args.header is not None:
        from ..export import to_c

        text = to_c(model, args.prefix, source=source)
        write_atomically(args.header, text)
        out(f"wrote {args.header} ({len(text.encode()):,} bytes)")
    if args.onnx is not None:
        write_onnx(model, args.onnx, out)
    return 0


def write_onnx(model, path, out):
    from ..interop.onnx_graph import to_onnx

    try:
        proto = to_onnx(model)
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    write_atomically_bytes(path, proto.SerializeToString())
    outputs = ", ".join(o.name for o in proto.graph.output)
    out(f"wrote {path} ({os.path.getsize(path):,} bytes; ONNX opset "
        f"{proto.opset_import[0].version}, outputs {outputs})")


def write_atomically_bytes(path, data):
    """write_atomically for bytes: a temporary file in the same folder, then a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{path}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".nnfast-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_int8_header(model, args, source, out):
    """Quantize on the calibration data, write the header, and compare the int8 model with
    the float one on that data: accuracy (or R^2) of each against its target, and how often
    the two agree."""
    from ..export import quantize
    from ..models.preprocessing import Preprocessing

    X, y_raw, table = read_for_model(model, args.calibrate)
    try:
        quantized = quantize(model, X)
    except ValueError as exc:
        raise CommandError(f"{args.calibrate}: {exc}") from None
    text = quantized.to_c(args.prefix, source)
    write_atomically(args.header, text)
    out(f"wrote {args.header} ({len(text.encode()):,} bytes; int8 weights, biases and scales "
        f"{quantized.weight_bytes:,} bytes)")
    pre = Preprocessing.of(model)
    y = None if y_raw is None else encode_for_model(model, y_raw, table.source)
    where = f"{table.source} ({len(X)} samples)"
    if task_of(model) == "regression":
        float_values = pre.values(model.forward(pre.inputs(X)))
        int8_values = quantized.forward(X)
        if y is not None and float_values.shape[1] == 1:
            out(f"R^2 on {where}: int8 {metrics.r2(y, int8_values[:, 0]):.4f}, float "
                f"{metrics.r2(y, float_values[:, 0]):.4f}")
        out(f"R^2 of the int8 outputs against the float model's: "
            f"{metrics.r2(float_values.ravel(), int8_values.ravel()):.4f}")
        return
    float_classes = model.predict(pre.inputs(X))
    int8_classes = (quantized.predict(X) if float_classes.ndim == 1
                    else (quantized.forward(X) >= 0.5).astype(np.int64))
    if y is not None and float_classes.ndim == 1:
        out(f"accuracy on {where}: int8 {np.mean(int8_classes == y):.4f}, float "
            f"{np.mean(float_classes == y):.4f}")
    out(f"the int8 model agrees with the float model on "
        f"{np.mean(int8_classes == float_classes):.2%} of the predictions")
