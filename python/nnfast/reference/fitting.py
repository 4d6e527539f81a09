"""What a fit does around its epochs (docs/semantics.md, "Validation, early stopping, class
weights"): each row's class and class weight, the held-out rows of validation_fraction, and
the early-stopping watch. Standard library only, like the rest of the reference.
"""

import math
import numbers

from .ops import permutation

# The losses whose target rows each name one class: class_weight and the stratified
# hold-out need that class. binary_cross_entropy names one only with a single output.
CLASS_OF_ROW = {
    "cross_entropy": lambda row: max(range(len(row)), key=row.__getitem__),
    "binary_cross_entropy": lambda row: int(row[0] >= 0.5) if len(row) == 1 else None,
}


def row_classes(Y, loss):
    """The class of each target row: the argmax of a cross_entropy row (the first, on ties),
    int(y >= 0.5) for one binary_cross_entropy output; None for other losses and shapes."""
    rule = CLASS_OF_ROW.get(loss)
    if rule is None or rule(Y[0]) is None:
        return None
    return [rule(row) for row in Y]


def class_weight_of_rows(class_weight, Y, loss):
    """The weight of each row's class: "balanced" gives class k the weight n / (K n_k), K the
    number of classes present and n_k the rows of class k (scikit-learn's
    compute_class_weight); a dict {class: weight} gives its classes their weight, others 1."""
    classes = row_classes(Y, loss)
    if classes is None:
        raise ValueError(f"class_weight needs a classification loss with one class per row "
                         f"(cross_entropy, or binary_cross_entropy with one output), got "
                         f"loss {loss!r} with {len(Y[0])} outputs")
    n_classes = 2 if len(Y[0]) == 1 else len(Y[0])
    if class_weight == "balanced":
        counts = {}
        for k in classes:
            counts[k] = counts.get(k, 0) + 1
        weight = {k: len(classes) / (len(counts) * count) for k, count in counts.items()}
    elif isinstance(class_weight, dict):
        weight = {}
        for label, value in class_weight.items():
            if isinstance(label, bool) or not isinstance(label, numbers.Integral) \
                    or not 0 <= label < n_classes:
                raise ValueError(f"class_weight names {label!r}, which is not a class "
                                 f"(the classes are 0..{n_classes - 1})")
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not math.isfinite(value) or value < 0:
                raise ValueError(f"class_weight[{label!r}] must be a finite number >= 0, "
                                 f"got {value!r}")
            weight[int(label)] = float(value)
    else:
        raise ValueError(f"class_weight must be None, 'balanced' or a dict "
                         f"{{class: weight}}, got {class_weight!r}")
    return [weight.get(k, 1.0) for k in classes]


def held_out_count(fraction, n):
    """Rows a group of n rows gives to validation: floor(fraction * n + 0.5)."""
    return math.floor(fraction * n + 0.5)


def hold_out(Y, loss, fraction, rng):
    """(training rows, validation rows), each ascending, drawn from the stream rng.

    The rows are grouped by class (classification losses, row_classes) or form one group;
    for each group in increasing class order, a Fisher-Yates permutation of its rows (in
    ascending order) is drawn and its first held_out_count(fraction, size) rows are held out.
    """
    classes = row_classes(Y, loss) or [0] * len(Y)
    groups = {}
    for i, k in enumerate(classes):
        groups.setdefault(k, []).append(i)
    held = []
    for k in sorted(groups):
        rows = groups[k]
        order = permutation(rng, len(rows))
        held += [rows[j] for j in order[:held_out_count(fraction, len(rows))]]
    held_set = set(held)
    return [i for i in range(len(Y)) if i not in held_set], sorted(held)


class EarlyStopping:
    """The watch over the validation loss: the best epoch so far and the epochs since.

    update(epoch, loss) -> True when a new best (strictly lower loss) was seen;
    stop -> True once `patience` epochs in a row brought no new best. best_state is what
    the caller keeps of the best epoch (its weights and stream state).
    """

    def __init__(self, patience):
        self.patience, self.best_loss, self.best_epoch, self.waited = patience, math.inf, None, 0
        self.best_state = None

    def update(self, epoch, loss):
        if loss < self.best_loss:
            self.best_loss, self.best_epoch, self.waited = loss, epoch, 0
            return True
        self.waited += 1
        return False

    @property
    def stop(self):
        return self.waited >= self.patience
