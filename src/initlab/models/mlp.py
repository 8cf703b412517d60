"""A multilayer perceptron classifier trained by initlab's engine from any starting weights."""

from __future__ import annotations

from typing import Any

from .._validation import check_number
from ._network import _NetworkClassifier

__all__ = ["MLPClassifier"]


class MLPClassifier(_NetworkClassifier):
    """Multilayer perceptron with hand-written backpropagation, from any initialization.

    A sigmoid output unit for two classes (the positive class where p > 0.5, strictly),
    softmax beyond, trained on the mean cross-entropy. The defaults are the Coursera Deep
    Learning Specialization's initialization experiment: layers [n, 10, 5, 1], ReLU, full-batch
    gradient descent with learning rate 0.01 for 15000 iterations.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(10, 5)
        Units per hidden layer; ``()`` gives logistic regression.
    activation : str, default="relu"
        Hidden activation spec: relu, leaky_relu(slope=...), tanh, sigmoid, linear, elu, selu,
        gelu, silu, softplus.
    init : spec, Initializer or list of them (one per layer), default="auto"
        Weight scheme (``initlab.list_initializers()``). ``"auto"`` picks He for the ReLU family,
        Glorot for tanh and sigmoid, LeCun for SELU; ``init_used_`` says which. ``"lsuv"``
        rescales an orthogonal start on the first batch at fit.
    bias_init : spec, "auto" or list, default="auto"
        ``"auto"``: the weight scheme's own bias rule (uniform for ``torch_linear`` and
        ``sklearn_mlp``, zeros otherwise); or any initializer spec (``"zeros"``,
        ``"constant(value=0.1)"``).
    solver : {"gd", "sgd", "adam"}, default="gd"
        Plain gradient descent, gradient descent with momentum, or Adam.
    learning_rate : float, default=0.01
    max_iter : int, default=15000
        Iterations: full-batch steps, or epochs with ``batch_size``.
    batch_size : int or None, default=None
        None for full-batch training.
    shuffle : bool, default=True
        Shuffle the samples every epoch of mini-batch training (from ``random_state``).
    alpha : float, default=0.0
        L2 penalty: alpha / (2 m) * sum of squared weights.
    momentum : float, default=0.9
        For ``solver="sgd"``.
    nesterov : bool, default=False
        Nesterov momentum for ``solver="sgd"``.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        For ``solver="adam"``.
    snapshot_every : int or None, default=None
        Keep parameters and gradients every this many iterations in ``history_["snapshots"]``.
    random_state : None, int, Generator or RandomState, default=None
        Draws the start, then the mini-batch order. An int seeds a ``RandomState``, as in
        scikit-learn, so ``random_state=3`` draws what ``np.random.seed(3)`` did in the course.
    dtype : {"float64", "float32"}, default="float64"

    Attributes
    ----------
    classes_ : ndarray
    coefs_ : list of ndarray, shape (out, in) per layer
    intercepts_ : list of ndarray, shape (out,) per layer
    loss_curve_ : ndarray, shape (n_iter_,)
        Loss at every iteration, on the parameters before its update (numerically stable, from
        logits).
    loss_ : float
    n_iter_ : int
    t_ : int
        Parameter updates made.
    init_used_ : str or list of str
        The initializer spec actually used (``"auto"`` resolved).
    diverged_ : bool
        True when training stopped being finite (a ``DivergedWarning`` says when).
    history_ : dict
        ``loss``, ``diverged_at``, ``n_steps``, ``snapshots`` and, for LSUV, ``lsuv``.

    Examples
    --------
    >>> import numpy as np
    >>> from initlab import MLPClassifier, load_dataset
    >>> X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
    >>> clf = MLPClassifier(init="zeros", max_iter=100).fit(X, y)
    >>> round(float(clf.loss_curve_[-1]), 6), clf.score(X, y)
    (0.693147, 0.5)
    """

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (10, 5),
        activation: str = "relu",
        init: Any = "auto",
        bias_init: Any = "auto",
        solver: str = "gd",
        learning_rate: float = 0.01,
        max_iter: int = 15000,
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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.bias_init = bias_init
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_iter = max_iter
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
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, int):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            sizes = (sizes,)
        for s in sizes:
            check_number("MLPClassifier", "hidden_layer_sizes", s, integer=True, low=1)
        return tuple(int(s) for s in sizes)

    def _activation_spec(self) -> str:
        return self.activation
