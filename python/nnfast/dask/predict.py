"""nnfast.dask.predict / predict_proba: lazy dask arrays, one native forward per block.

The model goes into the graph once, as one task every block depends on (a copy taken when
the array is made, so later changes to the model do not reach it); each worker receives it
once, whatever the number of blocks it computes.
"""
import uuid
from typing import Any, Optional

import numpy as np

import dask
import dask.array as da

from ..models.mlp import MLP
from ..models.parameters import split_parameters
from .inputs import as_dask_array, row_blocks
from .tasks import Portable, predict_block


def snapshot(model: Any, params: Optional[np.ndarray] = None) -> MLP:
    """A copy of the model (its network as an MLP), with `params` when given."""
    copy = MLP.from_record(model.network.to_record())
    if params is not None:
        weights, biases = split_parameters(np.asarray(params, dtype=copy.dtype), copy.layers)
        copy.set_parameters(weights, biases)
    return copy


# What each method returns per block: (number of dimensions for K outputs, dtype).
OUTPUT_SHAPES = {
    "forward": lambda model: (2, model.dtype),
    "predict": lambda model: ((1 if model.layers[-1] == 1 or model.loss_name == "cross_entropy"
                               else 2),
                              model.dtype if model.loss_name == "mse" else np.int64),
}


def lazy(model: Any, X: Any, method: str) -> da.Array:
    X = row_blocks(as_dask_array(X, "X"), "X", (2,))
    copy = snapshot(model)
    if not np.isnan(X.shape[1]) and X.shape[1] != copy.layers[0]:
        raise ValueError(f"X has {X.shape[1]} features, the network expects {copy.layers[0]}")
    ndim, dtype = OUTPUT_SHAPES[method](copy)
    model_task = dask.delayed(Portable(copy), name=f"nnfast-model-{uuid.uuid4().hex}")
    if ndim == 1:
        return X.map_blocks(predict_block, model_task, method, dtype=dtype, drop_axis=1,
                            meta=np.empty((0,), dtype))
    return X.map_blocks(predict_block, model_task, method, dtype=dtype,
                        chunks=(X.chunks[0], (copy.layers[-1],)),
                        meta=np.empty((0, 0), dtype))


def predict(model: Any, X: Any) -> da.Array:
    """model.predict(X) as a lazy dask array: one native call per row block of X."""
    return lazy(model, X, "predict")


def predict_proba(model: Any, X: Any) -> da.Array:
    """model.forward(X), the output activations (class probabilities for a softmax or sigmoid
    output), as a lazy dask array: one native call per row block of X."""
    return lazy(model, X, "forward")
