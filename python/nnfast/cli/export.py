"""`nnfast export MODEL --c HEADER`: the model as a self-contained C99 header."""
import argparse
import os

from .common import load_model, write_atomically

EXAMPLES = """\
example:
  nnfast export iris.npz --c iris_model.h
  cc -std=c99 -O2 main.c -lm        (main.c: #include "iris_model.h", calls inference)"""


def add_parser(commands):
    p = commands.add_parser(
        "export", help="write a model as a C99 header",
        description="Write a model as a self-contained C99 header: the weights as static "
                    "const arrays and `int inference(const float *input, float *output)` "
                    "(double for float64 models), which applies the stored standardization, "
                    "writes the output activations (what predict --proba prints) and returns "
                    "the predicted class. No allocation, nothing beyond <math.h>.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a model file")
    p.add_argument("--c", dest="header", metavar="HEADER", required=True,
                   help="the C header to write")
    p.add_argument("--prefix", metavar="NAME",
                   help="name the function NAME_inference (and the arrays NAME_*), to put "
                        "several models in one program")
    p.set_defaults(run=run)
    return p


def run(args, out=print):
    from ..export import to_c

    model = load_model(args.model)
    text = to_c(model, args.prefix, source=os.path.basename(args.model))
    write_atomically(args.header, text)
    out(f"wrote {args.header} ({len(text.encode()):,} bytes)")
    return 0
