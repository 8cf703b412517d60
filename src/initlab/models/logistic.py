"""Logistic regression by gradient descent from any starting weights."""

from __future__ import annotations

from typing import Any

from ._network import _NetworkClassifier

__all__ = ["LogisticRegression"]


class LogisticRegression(_NetworkClassifier):
    """Logistic (two classes) or softmax (more) regression trained by gradient descent.

    The same engine as :class:`MLPClassifier` with no hidden layer: the loss is convex in the
    weights, so every start, zeros included, leads to the same solution where the data are not
    separable (where they are, the weights grow without bound in the direction that separates
    them).

    Parameters
    ----------
    init : spec or Initializer, default="zeros"
    bias_init : spec or "auto", default="auto"
    learning_rate : float, default=0.1
    max_iter : int, default=1000
    solver : {"gd", "sgd", "adam"}, default="gd"
    batch_size : int or None, default=None
    shuffle : bool, default=True
    alpha : float, default=0.0
        L2 penalty alpha / (2 m) ||w||^2.
    momentum, nesterov, beta_1, beta_2, epsilon
        Optimizer settings, as in :class:`MLPClassifier`.
    snapshot_every : int or None, default=None
    random_state : None, int, Generator or RandomState, default=None
    dtype : {"float64", "float32"}, default="float64"

    Attributes
    ----------
    classes_, coefs_, intercepts_, loss_curve_, n_iter_, init_used_, diverged_, history_
        As in :class:`MLPClassifier` (one layer).
    coef_ : ndarray, shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray, shape (1,) or (n_classes,)

    Examples
    --------
    >>> from initlab import LogisticRegression, load_dataset
    >>> X, y = load_dataset("iris2")
    >>> LogisticRegression(init="zeros").fit(X, y).score(X, y)
    1.0
    """

    def __init__(
        self,
        init: Any = "zeros",
        bias_init: Any = "auto",
        learning_rate: float = 0.1,
        max_iter: int = 1000,
        solver: str = "gd",
        batch_size: int | None = None,
        shuffle: bool = True,
        alpha: float = 0.0,
        momentum: float = 0.9,
        nesterov: bool = False,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        snapshot_every: int | None = None,
        random_state: Any = None,
        dtype: str = "float64",
    ):
        self.init = init
        self.bias_init = bias_init
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.solver = solver
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.alpha = alpha
        self.momentum = momentum
        self.nesterov = nesterov
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.snapshot_every = snapshot_every
        self.random_state = random_state
        self.dtype = dtype

    def _hidden_sizes(self) -> tuple[int, ...]:
        return ()

    def _activation_spec(self) -> str:
        return "linear"

    @property
    def coef_(self):
        return self.coefs_[0]

    @property
    def intercept_(self):
        return self.intercepts_[0]
