"""nnfast.sklearn: scikit-learn's MLPClassifier, MLPRegressor, BernoulliRBM and Perceptron on
the nnfast core.

Change one import and keep the rest of the code::

    from nnfast.sklearn import MLPClassifier   # was: from sklearn.neural_network import ...

The estimators are scikit-learn estimators (they subclass scikit-learn's own classes, so
parameters, validation, label handling, attributes, cloning and pickling are scikit-learn's);
what they compute -- the epochs of sgd/adam, the L-BFGS objective and gradient, the forward
pass, the Perceptron's SGD epochs, the RBM's Gibbs steps -- runs in the C core with the GIL
released. What code reaches for beyond the public API is scikit-learn's too: the dtype that
follows X, the optimizer object (``_optimizer``), L-BFGS's packing and objective, the errors
of a diverging run, warnings that scikit-learn's filters (``module="sklearn"``) catch.

Where the results differ from scikit-learn's (documented in README.md, "nnfast.sklearn"):
- ``dtype`` is an extra of the MLPs: None (default) follows X as scikit-learn does; a dtype
  given is used whatever X is.
- a fit that raises leaves the estimator as it was before the call (scikit-learn's leaves
  the NaN weights of the failed run).
Importing nnfast does not import scikit-learn; importing nnfast.sklearn does.
"""
from ._mlp import MLPClassifier, MLPRegressor
from ._perceptron import Perceptron
from ._rbm import BernoulliRBM

__all__ = ["BernoulliRBM", "MLPClassifier", "MLPRegressor", "Perceptron"]
