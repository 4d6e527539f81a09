"""The data of a distributed fit: dask collections checked, persisted and split into
partitions that stay on the workers.

X is partitioned by rows only (each block holds every column); y and sample_weight are
partitioned as X is, block for block. Persisting (rather than scattering) keeps the graph
that made each partition on the scheduler, so a partition lost with a worker is computed
again.
"""
from typing import Any, List, NamedTuple, Optional

import numpy as np

import dask.array as da
from dask.base import is_dask_collection
from distributed import Future, futures_of, wait


def as_dask_array(value: Any, name: str) -> da.Array:
    """A dask array, or a dask DataFrame / Series as one (its row counts computed)."""
    if isinstance(value, da.Array):
        return value
    if is_dask_collection(value) and hasattr(value, "to_dask_array"):
        return value.to_dask_array(lengths=True)
    raise TypeError(f"{name} must be a dask array or a dask DataFrame/Series, partitioned by "
                    f"rows across the cluster; got {type(value).__name__} (for data in this "
                    f"process use model.fit)")


def row_blocks(array: da.Array, name: str, ndims=(1, 2)) -> da.Array:
    """array, after checking its rank and that its columns are one chunk."""
    if array.ndim not in ndims:
        raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in ndims)}, got "
                         f"{array.ndim}-D (shape {array.shape})")
    if array.ndim == 2 and len(array.chunks[1]) != 1:
        raise ValueError(f"{name}'s chunks split its columns into {len(array.chunks[1])} "
                         f"blocks {array.chunks[1]}; each partition must hold whole rows: "
                         f"{name}.rechunk({{1: -1}})")
    return array


def same_rows(X: da.Array, other: da.Array, name: str) -> None:
    """other is partitioned by rows exactly as X is."""
    if other.numblocks[0] != X.numblocks[0]:
        raise ValueError(f"X and {name} are partitioned differently: X has "
                         f"{X.numblocks[0]} row blocks, {name} has {other.numblocks[0]}; "
                         f"rechunk {name} to X.chunks[0]")
    for index, (a, b) in enumerate(zip(X.chunks[0], other.chunks[0])):
        if not (np.isnan(a) or np.isnan(b)) and a != b:
            raise ValueError(f"X and {name} are partitioned differently: partition {index} "
                             f"has {a} rows of X and {b} of {name}; rechunk {name} to "
                             f"X.chunks[0]")


class Partitions(NamedTuple):
    """The persisted collections and one future per row block of each (None: no weights)."""
    collections: list
    X: List[Future]
    y: List[Future]
    sample_weight: List[Optional[Future]]

    def __len__(self):
        return len(self.X)

    def blocks(self):
        return zip(self.X, self.y, self.sample_weight)


def block_futures(array: da.Array) -> List[Future]:
    """The futures of a persisted array's blocks, in row order."""
    by_key = {future.key: future for future in futures_of(array)}
    keys = array.__dask_keys__()
    return [by_key[(row[0] if isinstance(row, list) else row)] for row in keys]


def partitions(client, n_inputs: int, X: Any, y: Any, sample_weight: Any) -> Partitions:
    """X, y and sample_weight checked for their layout and persisted on the cluster."""
    X = row_blocks(as_dask_array(X, "X"), "X", (2,))
    if not np.isnan(X.shape[1]) and X.shape[1] != n_inputs:
        raise ValueError(f"X has {X.shape[1]} features, the network expects {n_inputs}")
    y = row_blocks(as_dask_array(y, "y"), "y")
    same_rows(X, y, "y")
    arrays = [X, y]
    if sample_weight is not None:
        sample_weight = row_blocks(as_dask_array(sample_weight, "sample_weight"),
                                   "sample_weight", (1,))
        same_rows(X, sample_weight, "sample_weight")
        arrays.append(sample_weight)
    # each block aligned and writable once, where it is made (a block that arrives in a
    # message lies where the message put it); the core reads it as it is from then on
    persisted = client.persist([array.map_blocks(np.require, dtype=array.dtype,
                                                 requirements=["C", "A", "W"])
                                for array in arrays])
    futures = [block_futures(array) for array in persisted]
    wait([f for block in futures for f in block])
    weights: List[Optional[Future]] = (list(futures[2]) if sample_weight is not None
                                       else [None] * len(futures[0]))
    return Partitions(persisted, futures[0], futures[1], weights)
