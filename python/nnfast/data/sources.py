"""One entry point for the command line's DATA argument: a built-in name or a file."""
import os

from .builtin import BUILTIN
from .tables import DataError, read_file


def read_data(source, target=None, has_target=True, features=None):
    """The Table named by `source`: a built-in data set (iris, and, or, xor, moons, digits)
    or a .csv/.npy/.npz file.

    target : the target column (CSV: a name; .npy: a number); None for the last column.
    has_target : False when the data may hold features only (predicting).
    features : for CSV, the feature columns to read by name (those a model was trained on).
    """
    if source in BUILTIN and not os.path.exists(source):
        if target is not None:
            raise DataError(f"--target does not apply to the built-in data set {source!r}")
        return BUILTIN[source]()
    if not os.path.exists(source):
        raise DataError(f"{source}: no such file, and not a built-in data set "
                        f"({', '.join(BUILTIN)})")
    return read_file(source, target, has_target, features)
