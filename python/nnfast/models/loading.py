"""nnfast.load: a model file back into the model it was saved from."""
from __future__ import annotations

import os
from typing import Any, Dict, Union

from .files import ModelFileError, read_record
from .mlp import MLP
from .perceptron import Perceptron

# A record's kind -> the model class that reads it (Model.from_record).
MODEL_KINDS: Dict[str, Any] = {"MLP": MLP, "Perceptron": Perceptron}


def load(path: Union[str, os.PathLike[str]]) -> Union[MLP, Perceptron]:
    """Read a model written by save(). Raises ModelFileError (a ValueError) for a file that
    is not a valid nnfast model; FileNotFoundError when there is no file."""
    record = read_record(path, MODEL_KINDS)
    try:
        return MODEL_KINDS[record.kind].from_record(record)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{os.fspath(path)}: invalid model description ({exc})") from None
