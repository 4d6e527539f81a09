"""to_nnfast(), and the estimators' registration with skl2onnx (nnfast.interop)."""
from ..interop.skl2onnx_converters import register_when_imported


class NnfastModelMixin:
    """Adds ``to_nnfast()`` to a fitted estimator; registers each estimator class with
    skl2onnx (when skl2onnx is imported), so ``skl2onnx.to_onnx`` converts it."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register_when_imported(cls)

    def to_nnfast(self):
        """The fitted network as an nnfast.MLP with the same weights and class labels (the
        model nnfast.MLP.from_sklearn gives; for the Perceptron a one-layer MLP whose predict
        gives the same classes), to save, export or predict without scikit-learn."""
        from ..models import MLP

        if hasattr(self, "coefs_") or not hasattr(self, "coef_"):
            return MLP.from_sklearn(self)
        from ..interop.sklearn_weights import record_from_sklearn_linear
        return MLP.from_record(record_from_sklearn_linear(self))
