"""Exceptions shared by nnfast.reference and nnfast.

Standard library only: the reference imports this module, and runs without NumPy.
"""


class NotFittedError(ValueError, AttributeError):
    """Raised when a model is asked for something only ``fit`` produces.

    It is both a ``ValueError`` and an ``AttributeError``, as in scikit-learn,
    so ``hasattr(model, "loss_curve_")`` is False before the first ``fit``.
    """
