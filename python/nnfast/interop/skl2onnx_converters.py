"""nnfast.sklearn's estimators for ``skl2onnx.to_onnx``, as scikit-learn's own.

skl2onnx picks a converter by the estimator's exact class, so nnfast's subclasses are
registered under the alias of the scikit-learn estimator each one subclasses: skl2onnx's own
shape calculator and converter then read the same fitted attributes (coefs_, intercepts_,
coef_, classes_ ...). The Perceptron goes with skl2onnx's SGD-classifier converter, as
scikit-learn's Perceptron does: its "probabilities" output is decision_function's scores
(the linear-classifier converter would put them through a softmax or logistic).

Importing skl2onnx takes seconds, so nothing here imports it: each estimator class asks for
its registration when it is defined (``register_when_imported``), which happens at once if
skl2onnx is loaded, else right after skl2onnx's own import finishes.
"""
import importlib.abc
import importlib.util
import sys
from typing import List

# scikit-learn's class name -> (skl2onnx alias, its shape calculator, its converter, options)
CONVERTERS = {
    "MLPClassifier": ("SklearnMLPClassifier", "linear_classifier.calculate_linear_classifier_"
                      "output_shapes", "multilayer_perceptron.convert_sklearn_mlp_classifier",
                      {"zipmap": [True, False, "columns"], "output_class_labels": [False, True],
                       "nocl": [True, False]}),
    "MLPRegressor": ("SklearnMLPRegressor", "linear_regressor.calculate_linear_regressor_"
                     "output_shapes", "multilayer_perceptron.convert_sklearn_mlp_regressor",
                     None),
    "Perceptron": ("SklearnSGDClassifier", "linear_classifier.calculate_linear_classifier_"
                   "output_shapes", "sgd_classifier.convert_sklearn_sgd_classifier",
                   {"zipmap": [True, False, "columns"], "nocl": [True, False],
                    "output_class_labels": [False, True], "raw_scores": [True, False]}),
}
PENDING: List[type] = []  # estimator classes defined before skl2onnx was imported


def scikit_learn_name(estimator_class):
    """The name of the scikit-learn estimator estimator_class derives from (a key of
    CONVERTERS), or None."""
    for base in estimator_class.__mro__:
        if base.__module__.startswith("sklearn.") and base.__name__ in CONVERTERS:
            return base.__name__
    return None


def _function(package, dotted):
    module, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(f"skl2onnx.{package}.{module}"), name)


def register(estimator_class):
    """Register estimator_class with skl2onnx under its scikit-learn estimator's converter."""
    from skl2onnx import update_registered_converter

    alias, shape, convert, options = CONVERTERS[scikit_learn_name(estimator_class)]
    update_registered_converter(estimator_class, alias, _function("shape_calculators", shape),
                                _function("operator_converters", convert), options=options)


def register_pending():
    while PENDING:
        register(PENDING.pop())


def register_when_imported(estimator_class):
    """Register estimator_class now if skl2onnx is loaded, else once it is."""
    if scikit_learn_name(estimator_class) is None:
        return
    PENDING.append(estimator_class)
    if "skl2onnx" in sys.modules:
        register_pending()
    elif not any(isinstance(finder, AfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, AfterImport())


class AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when skl2onnx is imported it lets the other finders find it, and
    has its loader run register_pending after skl2onnx's module has executed."""

    def find_spec(self, name, path=None, target=None):
        if name != "skl2onnx":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = LoaderThenRegister(spec.loader)
        return spec


class LoaderThenRegister(importlib.abc.Loader):
    """A module's own loader, then register_pending."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        register_pending()

    def __getattr__(self, name):  # get_resource_reader, is_package, ...: the loader's own
        return getattr(self.loader, name)
