"""`nnfast evaluate MODEL DATA`: accuracy and the confusion matrix, or R^2, RMSE and MAE."""
import argparse

from ..models.preprocessing import Preprocessing
from . import metrics
from .common import classes_of, encode_for_model, load_model, read_for_model, task_of

EXAMPLES = """\
examples:
  nnfast evaluate iris.npz iris
  nnfast evaluate houses.npz test.csv --target price"""


def add_parser(commands):
    p = commands.add_parser(
        "evaluate", help="score a saved model on labelled data",
        description="Score a saved model on data with a target column: a classifier's "
                    "accuracy and confusion matrix, or a regression model's R^2, RMSE and MAE.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a model file written by nnfast train")
    p.add_argument("data", metavar="DATA", help="CSV/.npy/.npz file or built-in data set name")
    p.add_argument("--target", metavar="COLUMN",
                   help="the target column (default: the one the model was trained on, "
                        "else the last)")
    p.set_defaults(run=run)
    return p


def confusion_table(C, classes):
    """The confusion matrix as text lines, rows the true class, columns the predicted one."""
    labels = [str(c) for c in classes]
    width = max(max(len(s) for s in labels), len(str(C.max())), 4)
    lines = [" " * width + "  " + "  ".join(f"{s:>{width}}" for s in labels)]
    for label, row in zip(labels, C):
        lines.append(f"{label:<{width}}  " + "  ".join(f"{v:>{width}}" for v in row))
    return lines


def run(args, out=print):
    model = load_model(args.model)
    X, y_raw, table = read_for_model(model, args.data, args.target, require_target=True)
    y = encode_for_model(model, y_raw, table.source)
    preprocessing = Preprocessing.of(model)
    predicted = model.predict(preprocessing.inputs(X))
    if task_of(model) == "regression":
        predicted = preprocessing.values(predicted)
        out(f"{table.source}: {len(y)} samples")
        out(f"R^2   {metrics.r2(y, predicted):.4f}")
        out(f"RMSE  {metrics.rmse(y, predicted):.4g}")
        out(f"MAE   {metrics.mae(y, predicted):.4g}")
        return 0
    classes = classes_of(model)
    correct = int((predicted == y).sum())
    out(f"{table.source}: {len(y)} samples, accuracy {correct / len(y):.4f} "
        f"({correct}/{len(y)})")
    out("confusion matrix (rows: true class, columns: predicted class)")
    for line in confusion_table(metrics.confusion_matrix(y, predicted, len(classes)), classes):
        out(line)
    return 0
