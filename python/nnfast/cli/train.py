"""`nnfast train DATA`: fit an MLP to a CSV file, an array file or a built-in data set."""
import argparse
import os
import time

from ..data import train_test_split
from ..data.sources import read_data
from ..data.targets import TASKS, encode_target
from ..models.preprocessing import Preprocessing
from ..vocabulary import (FORWARD_ONLY_ACTIVATIONS, HIDDEN_ACTIVATIONS, LOSS_OUTPUTS,
                          OPTIMIZER_NAMES, PRECISIONS, REGRESSION_LOSSES)
from . import plots
from .common import CommandError
from .metrics import VALIDATION_SCORES
from .progress import EpochProgress

# The network's last layer and loss for each task: (n_outputs, output activation, loss).
# Two classes train one sigmoid unit on binary cross-entropy; more, a softmax on cross-entropy.
HEADS = {
    "regression": lambda n_classes: (1, "identity", "mse"),
    "classification": lambda n_classes: ((1, "sigmoid", "binary_cross_entropy") if n_classes == 2
                                         else (n_classes, "softmax", "cross_entropy")),
}

DESCRIPTION = """\
Train a multi-layer perceptron and save it. DATA is a CSV file with a header row (numeric
features; the target is the column named by --target, else the last), a .npy matrix (target:
the last column), a .npz archive with arrays X and y, or a built-in data set: iris, and, or,
xor, moons, digits (digits needs scikit-learn). Text targets, and whole-number targets with at
most 20 values, make a classifier; other numbers a regression model (--task overrides).

Training is one nnfast.MLP.fit call; after each epoch it reports the loss and, with
--validation, the held-out score of the weights trained so far; the held-out loss is recorded
too, and --early-stopping watches it."""

EXAMPLES = """\
examples:
  nnfast train iris --layers 16 --epochs 100 --validation 0.2 --standardize --out iris.npz
  nnfast train houses.csv --target price --layers 64,32 --lr 0.01 --standardize
  nnfast train moons --layers 16,16 --activation tanh --plot plots/
  nnfast train iris --epochs 500 --validation 0.2 --early-stopping --class-weight balanced
  nnfast train iris --optimizer lbfgs --max-iter 200 --alpha 0.001 --standardize"""


def hidden_sizes(text):
    """--layers "64,32" -> [64, 32]; "" or "none" -> [] (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 64,32, got {text!r}") from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def fraction(text):
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


# Activations backprop can train (step has no derivative).
TRAINABLE_ACTIVATIONS = [a for a in HIDDEN_ACTIVATIONS if a not in FORWARD_ONLY_ACTIVATIONS]


def activations(text):
    """--activation "relu" -> "relu"; "relu,tanh" -> ["relu", "tanh"], one per hidden layer."""
    names = [part.strip() for part in text.split(",")]
    for name in names:
        if name not in TRAINABLE_ACTIVATIONS:
            raise argparse.ArgumentTypeError(
                f"unknown activation {name!r}; choose from {', '.join(TRAINABLE_ACTIVATIONS)}, "
                f"or a comma list with one per hidden layer")
    return names[0] if len(names) == 1 else names


def rates(text):
    """--dropout "0.2" -> 0.2; "0.2,0.1" -> [0.2, 0.1], one per hidden layer."""
    try:
        values = [fraction(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected rates in [0, 1) like 0.2 or 0.2,0.1, "
                                         f"got {text!r}") from None
    return values[0] if len(values) == 1 else values


def positive_float(text):
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def regression_head(loss):
    """(n_outputs, output activation, loss) of a regression model trained on `loss`: the
    identity output, or the one the loss needs (poisson: exp)."""
    return 1, "identity" if "identity" in LOSS_OUTPUTS[loss] else LOSS_OUTPUTS[loss][0], loss


def add_parser(commands):
    p = commands.add_parser("train", help="train a model on a CSV, .npy/.npz or built-in data",
                            description=DESCRIPTION, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", metavar="DATA", help="CSV/.npy/.npz file or built-in data set name")
    p.add_argument("--target", metavar="COLUMN",
                   help="the target column (CSV: its name; .npy: its number); default the last")
    p.add_argument("--task", choices=TASKS, help="override the task guessed from the target")
    p.add_argument("--layers", type=hidden_sizes, default=[16], metavar="SIZES",
                   help="hidden layer sizes, comma separated, or none (default 16)")
    # step has no derivative, so backprop cannot train it
    p.add_argument("--activation", type=activations, default="relu", metavar="NAMES",
                   help=f"hidden activation ({', '.join(TRAINABLE_ACTIVATIONS)}; default relu), "
                        f"or a comma list with one per hidden layer, e.g. relu,tanh")
    p.add_argument("--dropout", type=rates, default=0.0, metavar="RATES",
                   help="dropout rate of the hidden layers while training, in [0, 1), or a "
                        "comma list with one per hidden layer (default 0)")
    p.add_argument("--loss", choices=REGRESSION_LOSSES, default=None,
                   help="regression loss (default mse); poisson trains an exp output on "
                        "targets >= 0")
    p.add_argument("--huber-delta", type=positive_float, default=1.0, metavar="DELTA",
                   help="where the huber loss turns from quadratic to linear (default 1)")
    p.add_argument("--epochs", type=positive, default=100, help="default 100")
    p.add_argument("--batch-size", type=positive, default=32,
                   help="rows per gradient step (default 32; clipped to the data)")
    p.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    # lbfgs is MLP.fit's full-batch optimizer (SciPy), beside the core's sgd and adam
    p.add_argument("--optimizer", choices=OPTIMIZER_NAMES + ("lbfgs",), default="sgd",
                   help="default sgd; lbfgs: full-batch L-BFGS (needs SciPy: "
                        "pip install 'nnfast[lbfgs]')")
    p.add_argument("--max-iter", type=positive, metavar="N",
                   help="lbfgs: the most iterations (default: --epochs)")
    p.add_argument("--momentum", type=float, default=0.0,
                   help="sgd momentum (default 0)")
    p.add_argument("--nesterov", action="store_true", help="Nesterov momentum (sgd)")
    p.add_argument("--alpha", type=float, default=0.0, help="L2 penalty (default 0)")
    p.add_argument("--seed", type=int, default=0,
                   help="initialization, shuffling and validation split (default 0)")
    p.add_argument("--dtype", choices=tuple(PRECISIONS), default="float64",
                   help="default float64; bfloat16: float32 weights, training products in "
                        "bfloat16 (sgd and adam)")
    p.add_argument("--validation", type=fraction, default=0.0, metavar="FRACTION",
                   help="hold out this fraction and report its score and loss each epoch")
    p.add_argument("--validation-fraction", type=fraction, default=0.0, metavar="FRACTION",
                   help="let fit hold out this fraction (stratified, from the model's random "
                        "stream) and record its loss each epoch; an alternative to "
                        "--validation")
    p.add_argument("--early-stopping", action="store_true",
                   help="stop after --patience epochs without a lower validation loss and "
                        "keep the best epoch's weights (validation: --validation, "
                        "--validation-fraction, else --validation-fraction 0.1)")
    p.add_argument("--patience", type=positive, default=10,
                   help="epochs without a new best validation loss before early stopping "
                        "(default 10)")
    p.add_argument("--class-weight", choices=("balanced",),
                   help="balanced: weigh each class by n / (classes * its rows)")
    p.add_argument("--standardize", action="store_true",
                   help="scale features (and a regression target) to mean 0, std 1; "
                        "the scaling is stored in the model file")
    p.add_argument("--out", default="model.npz", help="model file to write (default model.npz)")
    p.add_argument("--plot", metavar="DIR",
                   help="write loss.png (and boundary.png for 2 features) to DIR "
                        "(needs matplotlib: pip install nnfast[plot])")
    p.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    p.set_defaults(run=run)
    return p


def describe_data(table, task, classes, out):
    n, d = table.X.shape
    what = (f"{len(classes)} classes: {', '.join(str(c) for c in classes)}"
            if task == "classification" else f"regression on {table.target_name}")
    out(f"data: {table.source}, {n} samples, {d} features, {what}")


def check_outputs(args):
    """Fail before training, not after, on a folder that does not exist or a missing
    matplotlib."""
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        raise CommandError(f"{args.out}: the folder {folder} does not exist")
    if args.plot:
        plots.pyplot()


def prepare(args, out):
    """(table, targets, task, split, preprocessing) from DATA and the options."""
    table = read_data(args.data, args.target)
    if table.y is None:
        raise CommandError(f"{args.data}: no target column to train on")
    y, task, classes = encode_target(table.y, args.task, table.source, table.classes)
    describe_data(table, task, classes, out)
    if args.validation and args.validation_fraction:
        raise CommandError("give --validation or --validation-fraction, not both")
    if args.class_weight and task != "classification":
        raise CommandError("--class-weight needs a classification target")
    if args.validation:
        if len(table.X) < 2:
            raise CommandError("--validation needs at least 2 samples")
        split = train_test_split(table.X, y, test_fraction=args.validation, seed=args.seed)
    else:
        split = (table.X, None, y, None)
    if args.loss is not None and task != "regression":
        raise CommandError(f"--loss {args.loss} is a regression loss; this target makes a "
                           f"{task} model (--task regression overrides)")
    preprocessing = Preprocessing.learned(
        split[0], split[2], standardize=args.standardize,
        # poisson's targets are counts (>= 0): they keep their scale
        scale_target=args.standardize and task == "regression" and args.loss != "poisson",
        features=table.feature_names, target=table.target_name, classes=classes)
    return table, y, task, split, preprocessing


def predictions(model, preprocessing, X):
    """What the model predicts for raw features X: class indices, or values in the target's
    units."""
    return preprocessing.values(model.predict(preprocessing.inputs(X)))


def train_epochs(model, preprocessing, task, split, args, progress):
    """Fit in one call, scoring the held-out split after each epoch; return the loss curve
    and the validation scores."""
    from ..models.mlp import predictions_from_outputs

    X, X_val, y, y_val = split
    X_fit = preprocessing.inputs(X)
    X_val_fit = None if X_val is None else preprocessing.inputs(X_val)
    y_fit = preprocessing.targets(y)
    score = VALIDATION_SCORES[task][1]
    curve, scores, start = [], [], time.perf_counter()

    def after_epoch(epoch, loss, forward):
        curve.append(loss)
        if X_val_fit is not None:
            predicted = preprocessing.values(
                predictions_from_outputs(forward(X_val_fit), model.loss_name))
            scores.append(score(y_val, predicted))
        # training samples per second of the run so far (one epoch's alone is too noisy)
        progress.update(epoch + 1, loss, scores[-1] if scores else None,
                        (epoch + 1) * len(X) / max(time.perf_counter() - start, 1e-9))
        return False

    try:
        model.fit(X_fit, y_fit, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                  optimizer=args.optimizer, momentum=args.momentum, nesterov=args.nesterov,
                  alpha=args.alpha, callback=after_epoch, **fit_options(args, X_val_fit, y_val,
                                                                        preprocessing))
    except KeyboardInterrupt:
        raise CommandError(f"interrupted after {len(curve)} of {args.epochs} epochs; "
                           f"{args.out} was not written", status=130) from None
    finally:
        progress.close()
    return curve, scores


def fit_options(args, X_val_fit, y_val, preprocessing):
    """MLP.fit's validation, early-stopping, class-weight and L-BFGS arguments."""
    options = dict(early_stopping=args.early_stopping, patience=args.patience,
                   class_weight=args.class_weight,
                   validation_fraction=args.validation_fraction)
    if X_val_fit is not None:
        options["validation_data"] = (X_val_fit, preprocessing.targets(y_val))
    elif args.early_stopping and not args.validation_fraction:
        options["validation_fraction"] = 0.1
    if args.optimizer == "lbfgs":
        options["max_iter"] = args.max_iter
    elif args.max_iter is not None:
        raise CommandError("--max-iter bounds the iterations of --optimizer lbfgs")
    return options


def fit_summary(model, curve, args):
    """What the run did: epochs (or L-BFGS iterations), and where early stopping stopped."""
    unit = "iterations" if args.optimizer == "lbfgs" else "epochs"
    text = f"trained {len(curve)} {unit}: loss {curve[0]:.4f} -> {curve[-1]:.4f}"
    validation = model.validation_loss_curve_
    if validation is not None:
        best = model.best_epoch_
        text += f", validation loss {validation[-1]:.4f} (best {validation[best]:.4f} at " \
                f"{unit[:-1]} {best + 1}"
        if args.early_stopping:
            stopped = len(curve) < args.epochs
            text += ("; stopped early" if stopped else "") + ", its weights kept"
        text += ")"
    return text


def run(args, out=print):
    from ..models import MLP

    check_outputs(args)
    table, y_all, task, split, preprocessing = prepare(args, out)
    n_out, output, loss = (regression_head(args.loss) if args.loss is not None
                           else HEADS[task](len(preprocessing.classes or ())))
    try:
        model = MLP([table.X.shape[1], *args.layers, n_out], activation=args.activation,
                    output=output, loss=loss, seed=args.seed, dtype=args.dtype,
                    dropout=args.dropout, huber_delta=args.huber_delta)
    except ValueError as exc:  # an activation or dropout list of the wrong length
        raise CommandError(f"{exc} (--layers gives {len(args.layers)} hidden layer(s))") \
            from None
    preprocessing.store(model)
    extras = f", dropout {','.join(map(str, model.dropout))}" if any(model.dropout) else ""
    extras += f", huber delta {model.huber_delta:g}" if loss == "huber" else ""
    out(f"model: MLP {' -> '.join(map(str, model.layers))}, hidden "
        f"{','.join(model.activations) or 'none'}, output {output}, loss {loss}{extras}, "
        f"{args.dtype}, {model.n_params} parameters")
    score_name, score = VALIDATION_SCORES[task]
    steps = args.max_iter or args.epochs if args.optimizer == "lbfgs" else args.epochs
    progress = EpochProgress(steps, score_name, quiet=args.quiet, out=out)
    curve, scores = train_epochs(model, preprocessing, task, split, args, progress)
    if scores:
        model.validation = {"metric": score_name, "scores": scores}
    model.save(args.out)

    X_train, X_val, y_train, _ = split
    summary = (f"{fit_summary(model, curve, args)}, training {score_name} "
               f"{score(y_train, predictions(model, preprocessing, X_train)):.4f}")
    if scores:
        # the score of the weights kept: the best epoch's after early stopping
        kept = model.best_epoch_ if args.early_stopping else -1
        summary += f", validation {score_name} {scores[kept]:.4f} ({len(X_val)} samples)"
    out(summary)
    out(f"wrote {args.out}")
    if args.plot:
        for path in plots.training_plots(args.plot, model, table.X, y_all, curve,
                                         model.validation if scores else None,
                                         model.validation_loss_curve_):
            out(f"wrote {path}")
    return 0
