"""`nnfast info MODEL`: what a model file holds."""
import argparse

from ..models.preprocessing import Preprocessing
from .common import classes_of, load_model, task_of

EXAMPLES = """\
example:
  nnfast info iris.npz"""


def add_parser(commands):
    p = commands.add_parser(
        "info", help="describe a saved model",
        description="Print a model file's architecture, dtype, parameter count, classes, "
                    "preprocessing and training history.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a model file")
    p.set_defaults(run=run)
    return p


def history_lines(model):
    record = model.to_record()
    curve, errors, validation = record.loss_curve, record.errors, model.validation
    lines = []
    if curve:
        best = min(range(len(curve)), key=curve.__getitem__)
        lines.append(f"training: {len(curve)} epochs, loss {curve[0]:.4f} -> {curve[-1]:.4f} "
                     f"(lowest {curve[best]:.4f} at epoch {best + 1})")
    if errors:
        lines.append(f"training: {len(errors)} perceptron-rule epochs, mistakes "
                     f"{errors[0]} -> {errors[-1]}")
    if record.validation_loss_curve:
        losses, best = record.validation_loss_curve, record.best_epoch
        lines.append(f"validation loss: {len(losses)} epochs, last {losses[-1]:.4f}, best "
                     f"{losses[best]:.4f} at epoch {best + 1}")
    if validation and validation["scores"]:
        scores = validation["scores"]
        best = max(range(len(scores)), key=scores.__getitem__)
        lines.append(f"validation {validation['metric']}: last {scores[-1]:.4f}, best "
                     f"{scores[best]:.4f} at epoch {best + 1}")
    return lines or ["training: none recorded (an untrained model)"]


def run(args, out=print):
    from ..models.files import lowest_version

    model = load_model(args.model)
    net = model.network
    out(f"{args.model}: nnfast {type(model).__name__} (model file format version "
        f"{lowest_version(model.to_record().config)})")
    hidden = f"hidden {','.join(net.activations)}, " if len(net.layers) > 2 else ""
    loss = net.loss_name + (f" (delta {net.huber_delta:g})" if net.loss_name == "huber" else "")
    out(f"layers: {' -> '.join(map(str, net.layers))} ({hidden}output {net.output}, "
        f"loss {loss})")
    if any(getattr(net, "dropout", ())):
        out(f"dropout: {', '.join(f'{p:g}' for p in net.dropout)} (training only)")
    precision = getattr(net, "precision", net.dtype)
    out(f"dtype: {net.dtype}" + ("" if precision == net.dtype else
                                 f" ({precision} products in training)"))
    out(f"parameters: {net.n_params:,}")
    task = task_of(model)
    if task == "classification":
        out(f"task: classification, classes {', '.join(str(c) for c in classes_of(model))}")
    else:
        out("task: regression")
    preprocessing = Preprocessing.of(model)
    if preprocessing.features:
        out(f"features: {', '.join(preprocessing.features)}"
            + (f"; target: {preprocessing.target}" if preprocessing.target else ""))
    out(f"preprocessing: {', '.join(preprocessing.steps) or 'none'}")
    for line in history_lines(model):
        out(line)
    return 0
