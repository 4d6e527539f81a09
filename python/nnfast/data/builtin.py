"""The data sets the command line knows by name: `nnfast train iris`.

Each is read from the installed package or generated (nothing is downloaded); `digits` comes
from scikit-learn, which bundles it, when scikit-learn is installed.
"""
import numpy as np

from . import GATE_TARGETS, load_iris, logic_gate
from .generators import make_moons
from .tables import DataError, Table


def iris():
    X, y, features, classes = load_iris()
    return Table(X, np.array(classes)[y], features, "species", "iris", classes=classes)


def gate(name):
    def load():
        X, y = logic_gate(name)
        return Table(X, y, ["a", "b"], name, name, classes=[0, 1])
    load.__doc__ = f"The {name.upper()} gate: inputs 00, 01, 10, 11 and the gate's output."
    return load


def moons():
    X, y = make_moons()
    return Table(X, y, ["x0", "x1"], "moon", "moons", classes=[0, 1])


def digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("the digits data set comes with scikit-learn, which is not installed: "
                        "pip install scikit-learn") from None
    bunch = load_digits()
    return Table(bunch.data.astype(np.float64), bunch.target.astype(np.int64),
                 [f"pixel{j}" for j in range(bunch.data.shape[1])], "digit", "digits",
                 classes=list(range(10)))


BUILTIN = {"iris": iris, **{name: gate(name) for name in GATE_TARGETS}, "moons": moons,
           "digits": digits}
