"""nnfast.sklearn: scikit-learn's MLPClassifier, MLPRegressor and Perceptron on the nnfast core.

Change one import and keep the rest of the code::

    from nnfast.sklearn import MLPClassifier   # was: from sklearn.neural_network import ...

The estimators are scikit-learn estimators (they subclass scikit-learn's own classes, so
parameters, validation, label handling, attributes, cloning and pickling are scikit-learn's);
what they compute -- the epochs of sgd/adam, the L-BFGS objective and gradient, the forward
pass, the Perceptron's SGD epochs -- runs in the C core with the GIL released.

Where the results differ from scikit-learn's (documented in README.md, "nnfast.sklearn"):
- float32 training only when asked (``dtype="float32"``); scikit-learn follows X's dtype.
- sparse input is converted to dense once per call.
- MLPRegressor with several outputs and alpha > 0: the stochastic solvers' loss_curve_ holds
  the L2 term divided by the number of outputs (the updates are scikit-learn's).
- MLPRegressor(loss="poisson") is trained by scikit-learn's own code (no core Poisson loss).
- Perceptron with shuffle=True draws its sample order from NumPy, not from scikit-learn's
  internal generator, so the same random_state gives a different (equally valid) order.
Importing nnfast does not import scikit-learn; importing nnfast.sklearn does.
"""
from ._mlp import MLPClassifier, MLPRegressor
from ._perceptron import Perceptron
from ._rbm import BernoulliRBM

__all__ = ["BernoulliRBM", "MLPClassifier", "MLPRegressor", "Perceptron"]
