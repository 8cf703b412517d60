"""initlab's models: scikit-learn estimators trained from any starting weights."""

from ._network import DivergedWarning
from .logistic import LogisticRegression
from .mlp import MLPClassifier
from .perceptron import Perceptron

__all__ = ["DivergedWarning", "LogisticRegression", "MLPClassifier", "Perceptron"]
