"""The loss curve of a fit as a model keeps it: the float64 array the core wrote, read-only.

A fit of many epochs writes one loss per epoch; turning them into Python floats costs more
than the epochs themselves for a small network (10,000 epochs of one neuron: ~0.9 ms of
training, ~0.25 ms of list building). The model keeps the array, and ``loss_curve_`` shows it
as a LossCurve: a sequence of Python floats that compares equal to a list of the same values,
and that ``np.asarray`` reads without a copy.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Iterator, List, Union, overload

import numpy as np


def frozen_curve(values: Any) -> np.ndarray:
    """values (a sequence of numbers or an array) as a read-only 1-D float64 array; an array
    that already is one is kept as it is, never copied."""
    arr = values if (type(values) is np.ndarray and values.dtype == np.float64
                     and values.ndim == 1 and not values.flags.writeable) else None
    if arr is None:
        arr = np.array(values, dtype=np.float64).reshape(-1)
        arr.flags.writeable = False
    return arr


class LossCurve(Sequence):
    """The mean training loss of each epoch of a fit: a read-only sequence of float.

    It behaves as the list of floats it stands for -- ``len``, indexing (a float; a slice
    gives a LossCurve), iteration, ``min``/``max``, ``==`` with a list, tuple, LossCurve or
    array of the same values -- and ``np.asarray(curve)`` is the float64 array itself
    (read-only). ``tolist()`` gives the list.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Any) -> None:
        self._values = frozen_curve(values)

    def __len__(self) -> int:
        return self._values.shape[0]

    @overload
    def __getitem__(self, index: int) -> float: ...

    @overload
    def __getitem__(self, index: slice) -> LossCurve: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[float, LossCurve]:
        if isinstance(index, slice):
            return LossCurve(self._values[index])
        return float(self._values[index])

    def __iter__(self) -> Iterator[float]:
        return iter(self._values.tolist())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy:
            return np.array(self._values, dtype=dtype)
        return self._values if dtype is None else self._values.astype(dtype, copy=False)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LossCurve):
            other = other._values
        elif not isinstance(other, (list, tuple, np.ndarray)):
            return NotImplemented
        try:
            values = np.asarray(other)
        except (TypeError, ValueError):
            return False
        if values.dtype.kind not in "biuf":  # only numbers equal numbers (never "0.5")
            return False
        return values.shape == self._values.shape and bool(np.all(values == self._values))

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]  # equal to a list, which is unhashable

    def tolist(self) -> List[float]:
        """The losses as a list of Python floats."""
        return self._values.tolist()

    def __repr__(self) -> str:
        return f"LossCurve({self._values.tolist()!r})"
