"""Rosenblatt's perceptron, exactly as the textbooks run it, from any starting weights."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._random import check_random_state
from .._resources import check_memory
from .._validation import check_number, check_spec
from ..initializers import get_initializer
from ._network import DivergedWarning

__all__ = ["Perceptron"]


class Perceptron(ClassifierMixin, BaseEstimator):
    """Rosenblatt's perceptron with the online rule, in data order.

    For each sample in turn, predict ``+1`` where w . x + b >= 0, else ``-1``, then

        update = eta * (target - prediction),   w <- w + update * x,   b <- b + update,

    with the first class encoded -1 and the second +1 (so a mistake moves the weights by
    ``2 eta x``), as in Raschka's *Python Machine Learning*. The start is one draw of size
    ``1 + n_features`` from ``init``, bias first, so ``random_state=1`` and the default
    ``init="normal(std=0.01)"`` draw exactly the book's ``RandomState(1).normal(0, 0.01, 3)``.

    Parameters
    ----------
    eta : float, default=0.1
        Learning rate, > 0.
    n_iter : int, default=10
        Epochs (passes over the data).
    init : spec or Initializer, default="normal(std=0.01)"
        Scheme for the start [b, w_1, ..., w_n], drawn as one (1, 1 + n_features) array.
    random_state : None, int, Generator or RandomState, default=None
        An int seeds a ``RandomState``, as in the book and in scikit-learn.
    shuffle : bool, default=False
        Shuffle the samples before every epoch (from ``random_state``, after the start).

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    errors_ : list of int
        Updates (misclassifications) in each epoch.
    history_ : dict
        ``"weights"``: array of shape (n_iter_ + 1, 1 + n_features), [b, w] at the start and
        after every epoch; ``"diverged_at"``: the epoch that diverged, or None.
    n_iter_ : int
        Epochs run: ``n_iter``, or fewer if training diverged.
    diverged_ : bool
        True when an update would have made the weights non-finite (``eta`` far too large for
        the data's scale): training stopped there with a ``DivergedWarning``, and the model
        keeps its last finite weights.

    Examples
    --------
    >>> from initlab import Perceptron, load_dataset
    >>> X, y = load_dataset("iris2")
    >>> Perceptron(eta=0.1, n_iter=10, random_state=1).fit(X, y).errors_
    [1, 3, 3, 2, 1, 0, 0, 0, 0, 0]
    """

    def __init__(
        self,
        eta: float = 0.1,
        n_iter: int = 10,
        init: Any = "normal(std=0.01)",
        random_state: Any = None,
        shuffle: bool = False,
    ):
        self.eta = eta
        self.n_iter = n_iter
        self.init = init
        self.random_state = random_state
        self.shuffle = shuffle

    def fit(self, X: Any, y: Any) -> Perceptron:
        """Run ``n_iter`` epochs of the online rule from the start ``init`` draws."""
        check_number("Perceptron", "eta", self.eta, low=0, low_open=True)
        check_number("Perceptron", "n_iter", self.n_iter, integer=True, low=1)
        init = check_spec("Perceptron", "init", self.init, get_initializer)
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(
                "Only binary classification is supported. Perceptron needs y with exactly 2 "
                f"classes; got {len(self.classes_)} class{'es' if len(self.classes_) != 1 else ''}"
                f": {self.classes_.tolist()!r}."
            )
        target = np.where(y_idx == 1, 1.0, -1.0)
        # The path of the weights (one row per epoch) and the error counts are kept.
        check_memory(
            (8 * (1 + X.shape[1]) + 64) * (self.n_iter + 1),
            f"Perceptron.fit ({self.n_iter:,} epochs, the weights after each kept)",
        )
        rng = check_random_state(self.random_state)
        start = init(rng, (1, 1 + X.shape[1]), np.float64)[0]
        if not np.isfinite(start).all():
            raise ValueError(
                f"The 'init' parameter of Perceptron is invalid: the start it drew "
                f"({init.spec!r}) holds non-finite values, so there is nothing to train. Use a "
                "smaller scale."
            )
        b, w = start[0], start[1:].copy()
        eta = self.eta
        path = [start.copy()]
        self.errors_ = []
        diverged_at = None
        with np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(self.n_iter):
                order = rng.permutation(len(X)) if self.shuffle else range(len(X))
                errors = 0
                for i in order:
                    xi = X[i]
                    prediction = 1.0 if np.dot(xi, w) + b >= 0.0 else -1.0
                    update = eta * (target[i] - prediction)
                    new_w, new_b = w + update * xi, b + update
                    if update != 0.0:
                        if not (np.isfinite(new_w).all() and np.isfinite(new_b)):
                            diverged_at = epoch  # keep the last finite weights, stop
                            break
                        errors += 1
                    w, b = new_w, new_b
                self.errors_.append(errors)
                path.append(np.concatenate([[b], w]))
                if diverged_at is not None:
                    break
        self.coef_ = w[None, :]
        self.intercept_ = np.array([b], dtype=np.float64)
        self.n_iter_ = len(self.errors_)
        self.diverged_ = diverged_at is not None
        self.history_ = {"weights": np.array(path), "diverged_at": diverged_at}
        if self.diverged_:
            warnings.warn(
                f"Perceptron diverged in epoch {diverged_at}: an update would make the weights "
                "non-finite (eta is too large for the data's scale). The model keeps its last "
                "finite weights.",
                DivergedWarning,
                stacklevel=2,
            )
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """w . x + b per sample; the second class where it is >= 0."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return X @ self.coef_[0] + self.intercept_[0]

    def predict(self, X: Any) -> np.ndarray:
        """The second class where w . x + b >= 0, else the first."""
        positive = self.decision_function(X) >= 0.0
        return self.classes_[positive.astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
