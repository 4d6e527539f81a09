"""Training plots as PNG files (matplotlib, the `plot` extra): the training and validation
loss curves with the validation score, and for 2-feature classifiers the decision boundary
with the samples."""
import os

import numpy as np

from ..models.preprocessing import Preprocessing
from .common import CommandError, classes_of, task_of

FIGURE_SIZE = (6.4, 4.8)  # inches; at DPI this is 640 x 480 pixels
DPI = 100
GRID_POINTS = 300  # per axis of the decision-boundary picture
VALIDATION_LOSS_COLOR = "tab:red"


def pyplot():
    try:
        import matplotlib
    except ImportError:
        raise CommandError("--plot needs matplotlib: pip install 'nnfast[plot]'") from None
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt
    return plt


def loss_plot(path, curve, validation=None, validation_loss=None):
    """The mean training loss per epoch, the validation loss beside it on the same axis, and
    the validation score on a second axis; return the labels of the lines drawn."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGURE_SIZE, dpi=DPI)
    epochs = np.arange(1, len(curve) + 1)
    ax.plot(epochs, curve, color="tab:blue", label="training loss")
    losses = list(curve)
    if validation_loss is not None:
        ax.plot(np.arange(1, len(validation_loss) + 1), validation_loss,
                color=VALIDATION_LOSS_COLOR, label="validation loss")
        losses += list(validation_loss)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if min(losses) > 0 and max(losses) / min(losses) > 100:
        ax.set_yscale("log")
    lines = list(ax.get_lines())
    if validation:
        right = ax.twinx()
        right.plot(epochs, validation["scores"], color="tab:orange",
                   label=f"validation {validation['metric']}")
        right.set_ylabel(f"validation {validation['metric']}")
        lines += right.get_lines()
    ax.legend(lines, [line.get_label() for line in lines],
              loc="center right" if validation else "upper right")
    ax.set_title("training")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return [line.get_label() for line in lines]


def boundary_plot(path, model, X, y):
    """The class the model predicts over the plane of two raw features, and the samples."""
    plt = pyplot()
    classes = classes_of(model)
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0) + 1e-12)
    low, high = X.min(axis=0) - pad, X.max(axis=0) + pad
    g0, g1 = np.meshgrid(np.linspace(low[0], high[0], GRID_POINTS),
                         np.linspace(low[1], high[1], GRID_POINTS))
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    preprocessing = Preprocessing.of(model)
    predicted = np.asarray(model.predict(preprocessing.inputs(grid))).reshape(g0.shape)
    fig, ax = plt.subplots(figsize=FIGURE_SIZE, dpi=DPI)
    cmap = plt.get_cmap("tab10")
    levels = np.arange(len(classes) + 1) - 0.5
    ax.contourf(g0, g1, predicted, levels=levels, colors=[cmap(k) for k in range(len(classes))],
                alpha=0.25)
    for k, label in enumerate(classes):
        rows = y == k
        ax.scatter(X[rows, 0], X[rows, 1], s=18 if len(X) > 50 else 80, color=cmap(k),
                   edgecolors="black", linewidths=0.4, label=str(label))
    names = preprocessing.features or ["x0", "x1"]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.legend(loc="best", title="class")
    ax.set_title("decision boundary")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def training_plots(folder, model, X, y, curve, validation, validation_loss=None):
    """Write loss.png (the training and validation losses, the validation score), and
    boundary.png for a 2-feature classifier, into folder; return the paths written."""
    pyplot()  # fail before creating anything when matplotlib is missing
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, "loss.png")]
    loss_plot(paths[0], curve, validation, validation_loss)
    if X.shape[1] == 2 and task_of(model) == "classification":
        paths.append(os.path.join(folder, "boundary.png"))
        boundary_plot(paths[1], model, X, y)
    return paths
