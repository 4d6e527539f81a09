"""`nnfast predict MODEL DATA`: predictions as CSV, on stdout or in a file."""
import argparse

import numpy as np

from .common import (csv_text, format_number, load_model, predict_labels, predict_proba,
                     read_for_model, write_atomically)

EXAMPLES = """\
examples:
  nnfast predict iris.npz iris
  nnfast predict iris.npz new_flowers.csv --proba --out predictions.csv"""


def add_parser(commands):
    p = commands.add_parser(
        "predict", help="predict with a saved model",
        description="Predict with a saved model, one CSV row per sample: the class label "
                    "(classifiers) or the value (regression), or with --proba each class's "
                    "probability. DATA's columns are matched to the model's features by name "
                    "(CSV) or by count; a target column, if present, is ignored.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a model file written by nnfast train")
    p.add_argument("data", metavar="DATA", help="CSV/.npy/.npz file or built-in data set name")
    p.add_argument("--target", metavar="COLUMN", help="the target column to leave out, if any")
    p.add_argument("--proba", action="store_true", help="class probabilities (classifiers)")
    p.add_argument("--out", metavar="FILE", help="write the CSV here instead of stdout")
    p.set_defaults(run=run)
    return p


def run(args, out=print):
    model = load_model(args.model)
    X, _, _ = read_for_model(model, args.data, args.target)
    dtype = model.network.dtype
    if args.proba:
        header, P = predict_proba(model, X)
        rows = [[format_number(p, dtype) for p in row] for row in P]
    else:
        header = ["prediction"]
        labels = predict_labels(model, X)
        rows = [[format_number(v, dtype)] for v in
                (labels.tolist() if isinstance(labels, np.ndarray) else labels)]
    text = csv_text(header, rows)
    if args.out:
        write_atomically(args.out, text)
        out(f"wrote {len(rows)} predictions to {args.out}")
    else:
        out(text, end="")
    return 0
