"""The scores the command line reports, by task: accuracy for classifiers, R^2 for regression."""
import numpy as np


def accuracy(y_true, y_pred):
    """Fraction of samples whose predicted class is the true class."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def confusion_matrix(y_true, y_pred, n_classes):
    """C[i, j] = number of samples of true class i predicted as class j."""
    C = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(C, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return C


def r2(y_true, y_pred):
    """R^2 = 1 - sum (y - y_hat)^2 / sum (y - mean y)^2 (0 for a constant target)."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    total = np.sum((y_true - y_true.mean()) ** 2)
    residual = np.sum((y_true - y_pred) ** 2)
    return float(1.0 - residual / total) if total > 0 else 0.0


def rmse(y_true, y_pred):
    """sqrt(mean (y - y_hat)^2)."""
    return float(np.sqrt(np.mean((np.asarray(y_true, float) - np.asarray(y_pred, float)) ** 2)))


def mae(y_true, y_pred):
    """mean |y - y_hat|."""
    return float(np.mean(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))))


# The score reported each epoch on the validation split, by task: (name, function).
VALIDATION_SCORES = {"classification": ("accuracy", accuracy), "regression": ("R^2", r2)}
