"""The stacked engine: forward, hand-written backward and update for K networks at once.

Every parameter array carries a leading axis K: ``W[l]`` has shape (K, out, in) and ``b[l]``
(K, out). One model is K = 1 through the same code; a sweep trains many networks of one
architecture side by side. Inside the engine activations are feature-major, ``a[l]`` of shape
(K, units, m) (or (units, m) for the data shared by the stack), the layout of the course notation

    z[l] = W[l] a[l-1] + b[l],    a[l] = phi(z[l]),

so that each layer is one batched matrix product, the bias gradients are sums over contiguous
memory, and a run of the Coursera Deep Learning Specialization's NumPy code is reproduced
operation for operation. Backpropagation reads like its derivation:

    delta[L] = dLoss/dz[L]                       (losses.loss_and_grad: (p - y) / m)
    dW[l]    = delta[l] a[l-1]^T,   db[l] = sum over samples of delta[l]
    delta[l-1] = (W[l]^T delta[l]) * phi'(z[l-1])

Non-finite values are detected per network: a network whose loss or gradient is not finite is
marked diverged at that iteration and rolled back to its last parameters whose loss and gradient
were finite (those of the previous step; its start if it diverged at iteration 0), and the
others go on.
"""

from __future__ import annotations

import inspect
import itertools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from . import _kernels
from . import initializers as _inits
from ._random import check_random_state
from ._spec import parse_spec
from .activations import Activation, get_activation
from .losses import check_loss, loss_and_grad, output_activation

__all__ = [
    "BACKENDS",
    "KERNEL_MAX_WIDTH",
    "SOLVERS",
    "Params",
    "TrainResult",
    "backward",
    "forward",
    "has_equal_units",
    "init_params",
    "logits",
    "lsuv",
    "predict_output",
    "resolve_initializer",
    "train",
    "unit_signatures",
]

SOLVERS = ("gd", "sgd", "adam")


@dataclass
class Params:
    """Weights (K, out, in) and biases (K, out) of K networks with the same layer sizes."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]

    @property
    def K(self) -> int:
        return self.weights[0].shape[0]

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.weights[0].shape[2], *(W.shape[1] for W in self.weights))

    def copy(self) -> Params:
        return Params([W.copy() for W in self.weights], [b.copy() for b in self.biases])

    def select(self, k: int | np.ndarray | slice) -> Params:
        """The networks ``k`` of the stack (an int keeps the axis: K = 1)."""
        key = [k] if isinstance(k, int | np.integer) else k
        return Params([W[key].copy() for W in self.weights], [b[key].copy() for b in self.biases])

    @classmethod
    def from_layers(cls, coefs: Sequence[np.ndarray], intercepts: Sequence[np.ndarray]) -> Params:
        """One network (K = 1) from per-layer (out, in) weights and (out,) biases."""
        return cls([np.asarray(W)[None] for W in coefs], [np.asarray(b)[None] for b in intercepts])

    def __repr__(self) -> str:
        return f"Params(K={self.K}, layer_sizes={self.layer_sizes}, dtype={self.weights[0].dtype})"


# --- initialization -------------------------------------------------------------------------


def resolve_initializer(init: Any, activation: str | Activation = "relu") -> _inits.Initializer:
    """The initializer for a spec, with ``"auto"`` and the ``activation`` parameter filled in.

    ``"auto"`` picks the scheme suited to the activation (:func:`initializers.auto_initializer`).
    A registered factory with an ``activation`` parameter (``sklearn_mlp``) that the spec leaves
    unset gets the network's hidden activation.
    """
    act = get_activation(activation)
    if isinstance(init, str):
        spec = _inits.auto_initializer(act.spec) if init == "auto" else init
        name, kwargs = parse_spec(spec, what="init")
        entry = _inits.INITIALIZERS.entry(name)
        if "activation" in inspect.signature(entry.factory).parameters and "activation" not in (
            kwargs
        ):
            return entry.factory(**kwargs, activation=act.name)
        return _inits.get_initializer(spec)
    return _inits.get_initializer(init)


def _per_layer(value: Any, n_layers: int, name: str) -> list[Any]:
    if isinstance(value, list | tuple):
        if len(value) != n_layers:
            raise ValueError(
                f"The {name!r} parameter must be one spec or a list of {n_layers} specs (one per "
                f"layer). Got a list of {len(value)} instead."
            )
        return list(value)
    return [value] * n_layers


def init_params(
    layer_sizes: Sequence[int],
    init: Any = "auto",
    bias_init: Any = "auto",
    *,
    activation: str | Activation = "relu",
    random_state: Any = None,
    K: int = 1,
    dtype: Any = np.float64,
) -> Params:
    """Draw the starting parameters of K networks.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, inputs first: ``(2, 10, 5, 1)``.
    init : spec, Initializer, or a list of them (one per layer)
        Weight scheme; ``"auto"`` picks one for the activation.
    bias_init : spec, Initializer, ``"auto"`` or a list of them
        ``"auto"``: the weight scheme's own bias rule (uniform for ``torch_linear`` and
        ``sklearn_mlp``, zeros otherwise).
    activation : str or Activation
        Hidden activation (for ``"auto"`` and for schemes that depend on it).
    random_state : None, int, Generator, RandomState, or a sequence of K of them
        One generator: the K networks are drawn one after another from it. A sequence: network
        k is drawn from its own generator, so it does not depend on the others in the stack.
    K : int
        Number of networks (ignored when ``random_state`` is a sequence).
    dtype : float64 or float32

    Notes
    -----
    For each network, layer by layer, first layer first: the weights are one draw of their
    whole (out, in) shape, then the biases, drawn only by a non-zero bias rule. A scheme that
    draws nothing (zeros, constants, identity, zero_hadamard) consumes no randomness.
    """
    sizes = [int(s) for s in layer_sizes]
    n_layers = len(sizes) - 1
    inits = [resolve_initializer(s, activation) for s in _per_layer(init, n_layers, "init")]
    bias_specs = _per_layer(bias_init, n_layers, "bias_init")
    if isinstance(random_state, list | tuple):
        rngs = [check_random_state(r) for r in random_state]
    else:
        rng = check_random_state(random_state)
        rngs = [rng] * int(K)
    dtype = np.dtype(dtype)
    weights = [np.empty((len(rngs), o, i), dtype) for i, o in itertools.pairwise(sizes)]
    biases = [np.zeros((len(rngs), o), dtype) for o in sizes[1:]]
    for k, rng in enumerate(rngs):
        for l, (w_init, b_spec) in enumerate(zip(inits, bias_specs)):
            shape = (sizes[l + 1], sizes[l])
            weights[l][k] = w_init(rng, shape, dtype)
            if isinstance(b_spec, str) and b_spec == "auto":
                if w_init.draws_bias:
                    biases[l][k] = w_init.bias(rng, shape, dtype)
            else:
                biases[l][k] = resolve_initializer(b_spec, activation).bias(rng, shape, dtype)
    return Params(weights, biases)


# --- forward and backward -------------------------------------------------------------------


# --- matrix products ---------------------------------------------------------------------------
#
# A BLAS matrix product sums each output element in an order that depends on where the element
# falls in the kernel's blocks: two equal rows of W can give two rows of W a that differ in the
# last bit (seen here with OpenBLAS for odd numbers of rows). Equal units would then drift apart
# by rounding, which exact arithmetic never does. einsum's own loops sum every element in the same
# order, so equal units stay equal bit for bit; it is slower, and used only when a start has equal
# units (see `products` in `train`).


def _mm(W: np.ndarray, A: np.ndarray, exact: bool) -> np.ndarray:
    """W A for W (K, o, i) and A (i, m) or (K, i, m)."""
    if not exact:
        return np.matmul(W, A)
    return np.einsum("koi,im->kom" if A.ndim == 2 else "koi,kim->kom", W, A)


def _mm_at(delta: np.ndarray, A: np.ndarray, out: np.ndarray | None, exact: bool) -> np.ndarray:
    """delta A^T for delta (K, o, m) and A (i, m) or (K, i, m): the weight gradient."""
    if not exact:
        return np.matmul(delta, A.T if A.ndim == 2 else A.transpose(0, 2, 1), out=out)
    return np.einsum("kom,im->koi" if A.ndim == 2 else "kom,kim->koi", delta, A, out=out)


def _mm_t(W: np.ndarray, delta: np.ndarray, exact: bool) -> np.ndarray:
    """W^T delta for W (K, o, i) and delta (K, o, m): the error sent back."""
    if not exact:
        return np.matmul(W.transpose(0, 2, 1), delta)
    return np.einsum("koi,kom->kim", W, delta)


def unit_signatures(params: Params, l: int) -> np.ndarray:
    """Per network and hidden unit of layer l: its incoming weights, bias and outgoing weights,
    shape (K, units, fan_in + 1 + fan_out). Equal rows are interchangeable units."""
    W, b, W_next = params.weights[l], params.biases[l], params.weights[l + 1]
    return np.concatenate([W, b[:, :, None], W_next.transpose(0, 2, 1)], axis=2)


def has_equal_units(params: Params) -> bool:
    """Whether any network of the stack has two hidden units with equal parameters."""
    for l in range(len(params.weights) - 1):
        for sig in unit_signatures(params, l):
            if len(np.unique(sig, axis=0)) < len(sig):
                return True
    return False


def forward(
    params: Params, A0: np.ndarray, activation: Activation, *, exact: bool = False
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pre-activations z[1..L] and activations a[0..L-1] (a[0] is the input).

    ``A0`` is feature-major: (n_features, m) shared by the stack, or (K, n_features, m).
    The last z is the logits; the output activation is the loss's business. ``exact`` sums every
    element of a product in the same order, so that equal units give equal values bit for bit.
    """
    zs: list[np.ndarray] = []
    acts = [A0]
    A = A0
    last = len(params.weights) - 1
    for l, (W, b) in enumerate(zip(params.weights, params.biases)):
        z = _mm(W, A, exact)
        z += b[:, :, None]
        zs.append(z)
        if l < last:
            A = activation.f(z)
            acts.append(A)
    return zs, acts


def backward(
    params: Params,
    zs: list[np.ndarray],
    acts: list[np.ndarray],
    dz: np.ndarray,
    activation: Activation,
    out: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
    deltas: list[np.ndarray] | None = None,
    *,
    exact: bool = False,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Gradients of the loss for every W and b, from dL/dz of the last layer.

    ``out``, if given, holds arrays shaped like the weights and biases to write into; ``deltas``,
    if given (a list of L entries), receives the error dL/dz[l] of every layer. ``exact`` as in
    :func:`forward`.
    """
    L = len(params.weights)
    dWs, dbs = out if out is not None else ([None] * L, [None] * L)
    delta = dz
    for l in range(L - 1, -1, -1):
        if deltas is not None:
            deltas[l] = delta
        dWs[l] = _mm_at(delta, acts[l], dWs[l], exact)
        dbs[l] = delta.sum(axis=-1, out=dbs[l])
        if l > 0:
            delta = _mm_t(params.weights[l], delta, exact)
            delta *= activation.df(zs[l - 1], acts[l])
    return dWs, dbs


def logits(params: Params, X: np.ndarray, activation: str | Activation) -> np.ndarray:
    """The last layer's pre-activations (K, c, m) for sample-major X of shape (m, n_features)."""
    with np.errstate(over="ignore", invalid="ignore"):
        zs, _ = forward(params, np.ascontiguousarray(X.T), get_activation(activation))
    return zs[-1]


def predict_output(
    params: Params, X: np.ndarray, activation: str | Activation, output: str
) -> np.ndarray:
    """The network output (K, c, m) for sample-major X of shape (m, n_features)."""
    return output_activation(logits(params, X, activation), output)


# --- LSUV -------------------------------------------------------------------------------------


def lsuv(
    params: Params,
    A0: np.ndarray,
    activation: str | Activation,
    *,
    tol: float = 0.1,
    max_iter: int = 10,
) -> dict[str, Any]:
    """Layer-sequential unit-variance rescaling (Mishkin and Matas, 2016), in place.

    Layer by layer, first layer first: compute the layer's pre-activations z on the batch
    ``A0`` (feature-major) and divide its weights by sqrt(Var z) until |Var z - 1| < tol or
    ``max_iter`` rescalings; each network of the stack is scaled on its own. A layer whose
    output has zero variance (for example every input to it is zero) cannot be rescaled and is
    left as it is.

    Returns
    -------
    dict
        ``iterations`` per layer and the final ``variance`` per layer, shape (K,).
    """
    act = get_activation(activation)
    iterations, variances = [], []
    A = A0
    for l, (W, b) in enumerate(zip(params.weights, params.biases)):
        for it in range(max_iter + 1):
            z = np.matmul(W, A) + b[:, :, None]
            var = z.reshape(z.shape[0], -1).var(axis=1)
            scalable = var > 0
            done = ~scalable | (np.abs(var - 1.0) < tol)
            if done.all() or it == max_iter:
                break
            W[~done] /= np.sqrt(var[~done])[:, None, None].astype(W.dtype)
        iterations.append(it)
        variances.append(var)
        if l < len(params.weights) - 1:
            A = act.f(z)
    return {"iterations": iterations, "variance": variances}


# --- optimizers -------------------------------------------------------------------------------


class _GD:
    """theta <- theta - lr * g."""

    def __init__(self, params: list[np.ndarray], lr: float, **_: Any):
        self.lr = lr

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for p, g in zip(params, grads):
            p -= self.lr * g


class _Momentum:
    """v <- mu v - lr g; theta <- theta + v (Nesterov: theta <- theta + mu v - lr g)."""

    def __init__(self, params: list[np.ndarray], lr: float, momentum: float, nesterov: bool, **_):
        self.lr, self.mu, self.nesterov = lr, momentum, nesterov
        self.v = [np.zeros_like(p) for p in params]

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for p, g, v in zip(params, grads, self.v):
            v *= self.mu
            v -= self.lr * g
            p += self.mu * v - self.lr * g if self.nesterov else v


class _Adam:
    """Kingma and Ba (2015) with bias correction, as in the course:
    v <- b1 v + (1 - b1) g; s <- b2 s + (1 - b2) g^2;
    theta <- theta - lr (v / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps)."""

    def __init__(
        self, params: list[np.ndarray], lr: float, beta_1: float, beta_2: float, epsilon: float, **_
    ):
        self.lr, self.b1, self.b2, self.eps, self.t = lr, beta_1, beta_2, epsilon, 0
        self.v = [np.zeros_like(p) for p in params]
        self.s = [np.zeros_like(p) for p in params]

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        self.t += 1
        c1, c2 = 1.0 - self.b1**self.t, 1.0 - self.b2**self.t
        for p, g, v, s in zip(params, grads, self.v, self.s):
            v *= self.b1
            v += (1.0 - self.b1) * g
            s *= self.b2
            s += (1.0 - self.b2) * g * g
            p -= self.lr * (v / c1) / (np.sqrt(s / c2) + self.eps)


_OPTIMIZERS = {"gd": _GD, "sgd": _Momentum, "adam": _Adam}
# What an optimizer carries from one step to the next: TrainResult.optimizer_state.
_OPTIMIZER_STATE = ("v", "s", "t")


# --- training ---------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    params : Params
        The trained parameters. A diverged network keeps its last parameters whose loss and
        gradient were finite (the start, which may itself hold inf, if it diverged at 0).
    loss : ndarray, shape (n_iter, K)
        Loss per iteration (epoch) and network, on the parameters before that iteration's
        updates: the full-batch loss, or the size-weighted mean of the mini-batch losses. After
        a network diverges its entries are NaN.
    diverged_at : ndarray of int, shape (K,)
        The iteration at which each network's loss or gradient stopped being finite, -1 if never.
    n_iter : int
        Iterations (epochs) run; fewer than ``max_iter`` only when every network diverged.
    n_steps : int
        Parameter updates made.
    snapshots : list of dict
        Every ``snapshot_every`` iterations: ``iteration``, ``weights``, ``biases`` (before the
        iteration's first update) and ``grad_weights``, ``grad_biases`` (on its first batch).
    optimizer_state : dict
        What the optimizer carries from one step to the next (momentum's velocity, Adam's
        moments and step count; nothing for ``gd``): pass it to the next :func:`train` call on
        ``params`` to continue the run in chunks exactly as one call would.
    accuracy : ndarray, shape (n_points, K), or None
        With ``accuracy_every``: the share of the training samples each network classifies
        correctly (predicting as ``MLPClassifier.predict``) on the parameters before iterations
        0, accuracy_every, 2 accuracy_every, ... (those below ``n_iter``), then a last row on
        the trained parameters. A diverged network's rows after it diverged are those of its
        kept parameters.
    """

    params: Params
    loss: np.ndarray
    diverged_at: np.ndarray
    n_iter: int
    n_steps: int
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    optimizer_state: dict[str, Any] = field(default_factory=dict)
    accuracy: np.ndarray | None = None

    @property
    def diverged(self) -> np.ndarray:
        return self.diverged_at >= 0


def _batches(
    m: int, batch_size: int | None, shuffle: Any
) -> Callable[[], list[np.ndarray | slice]]:
    """A function giving one epoch's batches: slices (shared order) or (K, b) index arrays."""
    if batch_size is None or batch_size >= m:
        return lambda: [slice(None)]
    bounds = range(0, m, batch_size)
    if shuffle is None:
        return lambda: [slice(s, s + batch_size) for s in bounds]
    if isinstance(shuffle, list | tuple):
        rngs = [check_random_state(r) for r in shuffle]

        def per_network() -> list[np.ndarray]:
            order = np.stack([r.permutation(m) for r in rngs])
            return [order[:, s : s + batch_size] for s in bounds]

        return per_network
    rng = check_random_state(shuffle)

    def shared() -> list[np.ndarray]:
        order = rng.permutation(m)
        return [order[s : s + batch_size] for s in bounds]

    return shared


def _take(A: np.ndarray, idx: np.ndarray | slice) -> np.ndarray:
    """Columns (samples) ``idx`` of feature-major A; (K, b) indices give a (K, n, b) stack."""
    if isinstance(idx, slice):
        return A[..., idx]
    if idx.ndim == 1:
        return np.ascontiguousarray(A[..., idx])
    if A.ndim == 2:  # shared data, per-network order: (n, K, b) -> (K, n, b)
        return np.ascontiguousarray(A[:, idx].transpose(1, 0, 2))
    return np.take_along_axis(A, idx[:, None, :], axis=2)


def _check_train_args(solver: str, learning_rate: float, max_iter: int, batch_size: Any) -> None:
    if solver not in _OPTIMIZERS:
        raise ValueError(
            f"The 'solver' parameter must be one of {', '.join(SOLVERS)}. Got {solver!r} instead."
        )
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(
            f"The 'learning_rate' parameter must be a float > 0. Got {learning_rate!r} instead."
        )
    if int(max_iter) < 1:
        raise ValueError(f"The 'max_iter' parameter must be an int >= 1. Got {max_iter} instead.")
    if batch_size is not None and int(batch_size) < 1:
        raise ValueError(
            f"The 'batch_size' parameter must be None or an int >= 1. Got {batch_size} instead."
        )


def train(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    activation: str | Activation = "relu",
    output: str = "sigmoid",
    loss: str = "binary_cross_entropy",
    solver: str = "gd",
    learning_rate: float = 0.01,
    max_iter: int = 100,
    batch_size: int | None = None,
    shuffle: Any = None,
    momentum: float = 0.9,
    nesterov: bool = False,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    alpha: float = 0.0,
    snapshot_every: int | None = None,
    accuracy_every: int | None = None,
    callback: Callable[[int, np.ndarray], Any] | None = None,
    products: str = "auto",
    backend: str = "numpy",
    optimizer_state: dict[str, Any] | None = None,
) -> TrainResult:
    """Train the K networks of ``params`` (copied; the argument is left as it is).

    Parameters
    ----------
    params : Params
        Starting parameters, from :func:`init_params`.
    X : ndarray, shape (n_features, m) or (K, n_features, m)
        Inputs, feature-major (``X_samples.T``): shared by the stack or one set per network.
    Y : ndarray, shape (c, m) or (K, c, m)
        Targets: 0/1 for a sigmoid output, one-hot for softmax, values for identity.
    activation : str or Activation
        Hidden activation.
    output, loss : str
        Output function and loss (see :mod:`initlab.losses`).
    solver : {"gd", "sgd", "adam"}
        ``gd``: plain (mini-batch) gradient descent; ``sgd``: with momentum; ``adam``: Adam.
    learning_rate : float
    max_iter : int
        Iterations: full-batch steps, or epochs when ``batch_size`` is set.
    batch_size : int or None
        None: full batch. Otherwise mini-batches of this size.
    shuffle : None, a seed or generator, or a sequence of K of them
        Order of the samples in each epoch of mini-batch training: None keeps the data order,
        one generator shuffles the stack alike, a sequence gives each network its own order.
    momentum, nesterov : float, bool
        For ``sgd``.
    beta_1, beta_2, epsilon : float
        For ``adam``.
    alpha : float
        L2 penalty: the loss gains alpha / (2 m) * sum ||W||^2 (weights, not biases).
    snapshot_every : int or None
        Keep copies of the parameters and gradients every this many iterations.
    accuracy_every : int or None
        Measure each network's training accuracy every this many iterations and at the end
        (:attr:`TrainResult.accuracy`); for classification outputs (sigmoid, softmax).
    callback : callable(iteration, loss) or None
        Called after each iteration with its loss per network, shape (K,) (for progress bars).
        The compiled kernel runs full-batch gradient descent a stretch of iterations at a time
        (about a fifth of a second each) and then calls it for each iteration of the stretch.
    products : {"auto", "blas", "exact"}
        How matrix products sum: ``"blas"`` (fast; equal units may drift apart by rounding),
        ``"exact"`` (every element in the same order: equal units stay equal bit for bit, as in
        exact arithmetic), ``"auto"``: exact when the start has equal units, else BLAS. For the
        NumPy backend and wide networks; the compiled kernel always keeps equal units equal.
    backend : {"numpy", "numba", "auto"}
        ``"numpy"``: the reference path, array operations on the whole stack (the course's
        operations, reproduced bit for bit). ``"numba"``: compiled code. Networks whose layers
        have at most :data:`KERNEL_MAX_WIDTH` units run through the compiled kernel
        (:mod:`initlab._kernels`): each network trained by one core in its cache, blocks of
        samples carried through every layer in vector registers, the networks shared out over
        the cores; it agrees with the NumPy path to rounding (relative 1e-12 over a run,
        tested) and gives a network the same bits alone or in any stack. Wider networks keep
        NumPy's BLAS products, one network per core, with the bias, the activation and its
        derivative applied in place by compiled passes. ``"auto"``: ``"numba"`` when Numba is
        installed and has the activation, else ``"numpy"``.
    optimizer_state : dict or None
        ``optimizer_state`` of a previous result on the same stack and solver: the optimizer
        resumes from it (a run in chunks then equals one call; the playground trains this way).

    Returns
    -------
    TrainResult
    """
    _check_train_args(solver, learning_rate, max_iter, batch_size)
    check_loss(loss, output)
    if products not in ("auto", "blas", "exact"):
        raise ValueError(
            "The 'products' parameter must be one of 'auto', 'blas', 'exact'. Got "
            f"{products!r} instead."
        )
    for name, every in (("snapshot_every", snapshot_every), ("accuracy_every", accuracy_every)):
        if every is not None and (isinstance(every, bool) or int(every) != every or every < 1):
            raise ValueError(
                f"The '{name}' parameter must be None or an int >= 1. Got {every!r} instead."
            )
    if accuracy_every is not None and output == "identity":
        raise ValueError(
            "The 'accuracy_every' parameter needs a classification output (sigmoid or softmax). "
            "Got output='identity' instead."
        )
    act = get_activation(activation)
    path = _path(backend, params.layer_sizes, act)
    exact = path != "kernel" and (
        products == "exact" or (products == "auto" and has_equal_units(params))
    )
    K = params.K
    m = X.shape[-1]
    dtype = params.weights[0].dtype
    X = np.ascontiguousarray(X, dtype=dtype)
    Y = np.ascontiguousarray(Y, dtype=dtype)
    # All parameters of a network live in one row of `theta` (K, P), all gradients in one row of
    # `grad`: an update, a finiteness check or a freeze is one array operation, whatever the depth.
    theta = _flatten(params)
    full_batch = batch_size is None or batch_size >= m
    if path == "kernel" and solver == "gd" and full_batch:
        return _train_kernel(
            params,
            theta,
            X,
            Y,
            act,
            output,
            loss,
            learning_rate,
            int(max_iter),
            alpha,
            snapshot_every,
            accuracy_every,
            callback,
        )
    grad = np.empty_like(theta)
    # The last parameters whose loss and gradient were finite, per network: a network that
    # diverges is rolled back to them, so that what it keeps predicts finite probabilities.
    last = theta.copy()
    pre = np.empty_like(theta)  # the fused kernel's parameters before its in-place update
    params = _views(params, theta)
    grads = _views(params, grad)
    n_w = sum(W[0].size for W in params.weights)
    opt = _OPTIMIZERS[solver](
        [theta],
        lr=learning_rate,
        momentum=momentum,
        nesterov=nesterov,
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=epsilon,
    )
    for key, value in (optimizer_state or {}).items():
        setattr(opt, key, [a.copy() for a in value] if isinstance(value, list) else value)
    kernel = path == "kernel"
    if kernel:
        _kernels.ensure_compiled(dtype)
        codes = (
            _kernels.layout(params.layer_sizes),
            _kernels.activation_code(act),
            _kernels.OUTPUT_CODES[output],
            _kernels.LOSS_CODES[loss],
        )
        if full_batch:  # the data in blocks once, for every step
            Xk, nv = _kernels.pack(_stack3(X), dtype)
            packed = (Xk, _kernels.pack(_stack3(Y), dtype)[0], nv)
        # Plain gradient descent is applied inside the kernel; other solvers update here.
        fused = solver == "gd"
    elif path == "blas":
        _kernels.ensure_compiled(dtype, "passes")
    labels = _labels(Y) if accuracy_every else None

    def measure() -> np.ndarray:
        """The training accuracy of the current parameters, per network."""
        if kernel:
            return _kernel_accuracy(theta, X, Y, params.layer_sizes, act, output, loss)
        zs, _ = forward(params, X, act, exact=exact)
        return _correct_share(zs[-1], labels, output)

    epoch_batches = _batches(m, batch_size, shuffle)
    losses = np.full((int(max_iter), K), np.nan)
    diverged_at = np.full(K, -1)
    active = np.ones(K, dtype=bool)
    all_active = True
    snapshots: list[dict[str, Any]] = []
    accuracy: list[np.ndarray] = []
    n_steps = 0
    it = -1
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for it in range(int(max_iter)):
            epoch_loss = 0.0
            for bi, idx in enumerate(epoch_batches()):
                Xb, Yb = (X, Y) if full_batch else (_take(X, idx), _take(Y, idx))
                mb = Xb.shape[-1]
                snap = bool(snapshot_every) and bi == 0 and it % snapshot_every == 0
                check = bool(accuracy_every) and bi == 0 and it % accuracy_every == 0
                if check and (kernel or not full_batch):
                    accuracy.append(measure())
                if kernel:
                    if fused:
                        np.copyto(pre, theta)
                    before = pre if fused else theta
                    if full_batch:
                        Xk, Yk, nv = packed
                    else:
                        Xk, nv = _kernels.pack(_stack3(Xb), dtype)
                        Yk, _ = _kernels.pack(_stack3(Yb), dtype)
                    value = np.full(K, np.nan)
                    stopped = np.full(K, -1)
                    _kernels.run(
                        theta,
                        Xk,
                        Yk,
                        nv,
                        mb,
                        *codes,
                        grad=grad,
                        active=active.copy(),
                        learning_rate=learning_rate if fused else 0.0,
                        n_iter=1,
                        alpha=alpha,
                        losses=value[None],
                        diverged_at=stopped,
                    )
                    finite = stopped < 0
                else:
                    if path == "blas":
                        value, z_out = _fused_loss_grad(
                            params, grads, Xb, Yb, act, output, loss, exact
                        )
                    else:
                        zs, acts = forward(params, Xb, act, exact=exact)
                        value, dz, _ = loss_and_grad(zs[-1], Yb, loss, output)
                        backward(
                            params,
                            zs,
                            acts,
                            dz,
                            act,
                            out=(grads.weights, grads.biases),
                            exact=exact,
                        )
                        z_out = zs[-1]
                    if check and full_batch:
                        accuracy.append(_correct_share(z_out, labels, output))
                    if alpha:
                        w = theta[:, :n_w]
                        value = value + alpha / (2 * mb) * (w * w).sum(axis=1)
                        grad[:, :n_w] += (alpha / mb) * w
                    # A sum is non-finite iff some term is (or it overflowed: divergence too).
                    finite = np.isfinite(grad.sum(axis=1) + value)
                if not finite.all() and not finite[active].all():
                    newly = active & ~finite
                    diverged_at[newly] = it
                    losses[it, newly] = value[newly]
                    active &= finite
                    all_active = False
                    theta[newly] = last[newly]
                    if kernel and fused:  # the snapshot shows where a diverged network went back
                        pre[newly] = theta[newly]
                if kernel and fused:  # pre holds the parameters whose loss was finite
                    if all_active:
                        last, pre = pre, last
                    else:
                        last[active] = pre[active]
                elif all_active:
                    np.copyto(last, theta)
                else:
                    last[active] = theta[active]
                if snap:
                    snapshots.append(
                        _snapshot(it, _views(params, before) if kernel else params, grads)
                    )
                if kernel and fused:
                    # The kernel has updated the networks that were finite.
                    if not active.any():
                        break
                elif all_active:
                    opt.step([theta], [grad])
                elif active.any():
                    # Diverged networks keep their last finite parameters.
                    frozen = theta[~active].copy()
                    grad[~active] = 0
                    opt.step([theta], [grad])
                    theta[~active] = frozen
                else:
                    break
                n_steps += 1
                epoch_loss = epoch_loss + value * (mb / m) if mb != m else value
            if not active.any():
                break
            if all_active:
                losses[it] = epoch_loss
            else:
                losses[it, active] = epoch_loss[active]
            if callback is not None:
                callback(it, losses[it])
        if accuracy_every:
            accuracy.append(measure())
    n_iter = it + 1
    state = {k: getattr(opt, k) for k in _OPTIMIZER_STATE if hasattr(opt, k)}
    return TrainResult(
        params,
        losses[:n_iter],
        diverged_at,
        n_iter,
        n_steps,
        snapshots,
        state,
        _accuracy_rows(accuracy, diverged_at, accuracy_every) if accuracy_every else None,
    )


KERNEL_MAX_WIDTH = 256
"""The widest layer for which the compiled backend uses the kernel; wider networks train
through BLAS products with compiled element-wise passes. The kernel keeps B / 4 partial sums of
the gradient per parameter, which a core's caches hold for layers up to a few hundred units:
``benchmarks/bench_sweep.py`` measures both paths over widths (the kernel leads up to 256)."""

BACKENDS = ("numpy", "numba", "auto")

SEGMENT_SECONDS = 0.2
"""About how long the kernel runs between two returns to Python (callbacks, Ctrl-C)."""


def _path(backend: str, sizes: tuple[int, ...], act: Activation) -> str:
    """Which code trains: ``"numpy"`` (the reference), ``"kernel"`` (the compiled kernel) or
    ``"blas"`` (BLAS products with compiled element-wise passes, for wide layers)."""
    if backend not in BACKENDS:
        raise ValueError(
            f"The 'backend' parameter must be one of {', '.join(map(repr, BACKENDS))}. Got "
            f"{backend!r} instead."
        )
    supported = act.name in _kernels.ACTIVATION_CODES
    if backend == "numba":
        if not _kernels.AVAILABLE:
            raise ValueError(
                "The 'backend' parameter is 'numba' but Numba cannot be imported; use "
                "backend='numpy' or 'auto', or install numba."
            )
        if not supported:
            raise ValueError(
                f"The 'backend' parameter is 'numba' but the kernel has no activation "
                f"{act.name!r}. It has: {', '.join(_kernels.ACTIVATION_CODES)}."
            )
    elif backend == "numpy" or not (_kernels.AVAILABLE and supported):
        return "numpy"
    return "kernel" if max(sizes[1:]) <= KERNEL_MAX_WIDTH else "blas"


def _use_kernel(backend: str, sizes: tuple[int, ...], act: Activation) -> bool:
    """Whether :func:`train` runs these networks through the compiled kernel (which keeps equal
    units equal by itself: the NumPy and BLAS paths need exact products for that)."""
    return _path(backend, sizes, act) == "kernel"


def _labels(Y: np.ndarray) -> np.ndarray:
    """Class indices from targets (c, m) or (K, c, m): y > 0.5 for one output, else argmax."""
    return (Y[..., 0, :] > 0.5).astype(np.int64) if Y.shape[-2] == 1 else np.argmax(Y, axis=-2)


def _correct_share(z: np.ndarray, labels: np.ndarray, output: str) -> np.ndarray:
    """Share of correct predictions per network from logits (K, c, m), predicting as
    MLPClassifier.predict does: p > 0.5 for one output, else the most probable class."""
    p = output_activation(z, output)
    pred = (p[:, 0, :] > 0.5).astype(np.int64) if p.shape[1] == 1 else np.argmax(p, axis=1)
    return (pred == labels).mean(axis=-1)


def _accuracy_rows(rows: list[np.ndarray], diverged_at: np.ndarray, every: int) -> np.ndarray:
    """The accuracy table, with a diverged network's rows after it diverged set to those of its
    kept parameters (the last row)."""
    acc = np.array(rows)
    for k in np.flatnonzero(diverged_at >= 0):
        later = np.arange(len(acc) - 1) * every > diverged_at[k]
        acc[:-1][later, k] = acc[-1, k]
    return acc


def _kernel_accuracy(theta, X, Y, sizes, act, output, loss) -> np.ndarray:
    """The accuracy of the parameters ``theta`` on (X, Y), by the kernel's forward pass."""
    Xb, nv = _kernels.pack(_stack3(X), theta.dtype)
    Yb, _ = _kernels.pack(_stack3(Y), theta.dtype)
    out = np.full(theta.shape[0], np.nan)
    _kernels.run(
        theta,
        Xb,
        Yb,
        nv,
        X.shape[-1],
        _kernels.layout(sizes),
        _kernels.activation_code(act),
        _kernels.OUTPUT_CODES[output],
        _kernels.LOSS_CODES[loss],
        learning_rate=0.0,
        n_iter=0,
        active=np.zeros(theta.shape[0], bool),
        final_accuracy=out,
    )
    return out


def _train_kernel(
    template,
    theta,
    X,
    Y,
    act,
    output,
    loss,
    learning_rate,
    max_iter,
    alpha,
    snapshot_every,
    accuracy_every,
    callback,
) -> TrainResult:
    """Full-batch gradient descent in the compiled kernel: stretches of iterations, each network
    from one iteration to the next in its core's cache, back to Python between stretches."""
    dtype = theta.dtype
    _kernels.ensure_compiled(dtype)
    K, P = theta.shape
    m = X.shape[-1]
    Xb, nv = _kernels.pack(_stack3(X), dtype)
    Yb, _ = _kernels.pack(_stack3(Y), dtype)
    codes = (
        _kernels.layout(template.layer_sizes),
        _kernels.activation_code(act),
        _kernels.OUTPUT_CODES[output],
        _kernels.LOSS_CODES[loss],
    )
    losses = np.full((max_iter, K), np.nan)
    diverged_at = np.full(K, -1, np.int64)
    active = np.ones(K, bool)
    grad = np.zeros_like(theta)
    last = theta.copy()  # the last parameters whose loss was finite: where divergence goes back
    snaps = acc = None
    if snapshot_every:
        n_snap = -(-max_iter // snapshot_every)
        snaps = (np.full((n_snap, K, P), np.nan, dtype), np.full((n_snap, K, P), np.nan, dtype))
    if accuracy_every:
        acc = np.full((-(-max_iter // accuracy_every) + 1, K), np.nan)
    # The first stretch: a quarter of SEGMENT_SECONDS if an iteration took 0.1 ns per parameter
    # and sample (about twice the kernel's speed: the guess errs short), then measured.
    per_iteration = K * P * m * 1e-10 / _kernels.n_threads()
    it, stretch = 0, max(1, int(SEGMENT_SECONDS / 4 / per_iteration))
    while it < max_iter and active.any():
        n = min(stretch, max_iter - it)
        t0 = time.perf_counter()
        _kernels.run(
            theta,
            Xb,
            Yb,
            nv,
            m,
            *codes,
            learning_rate=learning_rate,
            n_iter=n,
            alpha=alpha,
            it0=it,
            active=active,
            last=last,
            grad=grad,
            losses=losses[it : it + n],
            diverged_at=diverged_at,
            accuracy_every=accuracy_every or 0,
            accuracy=acc,
            snapshot_every=snapshot_every or 0,
            snapshots=snaps,
        )
        seconds = time.perf_counter() - t0
        if callback is not None:
            # As the step-by-step loop does: no call for an iteration after which none is left.
            last = it + n if active.any() else int(diverged_at.max())
            for j in range(it, last):
                callback(j, losses[j])
        it += n
        # Aim the next stretch at SEGMENT_SECONDS, growing at most tenfold at a time.
        stretch = max(1, min(10 * n, int(n * SEGMENT_SECONDS / max(seconds, 1e-6))))
    everyone_diverged = not active.any()
    n_iter = int(diverged_at.max()) + 1 if everyone_diverged else max_iter
    n_steps = n_iter - 1 if everyone_diverged else max_iter
    params = _views(template, theta)
    snapshots = []
    if snaps is not None:
        for j in range(-(-n_iter // snapshot_every)):
            t = j * snapshot_every
            for k in np.flatnonzero((diverged_at >= 0) & (diverged_at < t)):
                # Kept parameters, and the gradient of the iteration that diverged, as the
                # step-by-step loop keeps them.
                snaps[0][j, k], snaps[1][j, k] = theta[k], grad[k]
            snapshots.append(
                _snapshot(
                    t, _views(template, snaps[0][j]), _views(template, snaps[1][j]), copy=False
                )
            )
    accuracy = None
    if acc is not None:
        final = _kernel_accuracy(theta, X, Y, template.layer_sizes, act, output, loss)
        rows = [*acc[: -(-n_iter // accuracy_every)], final]
        accuracy = _accuracy_rows(rows, diverged_at, accuracy_every)
    return TrainResult(
        params, losses[:n_iter], diverged_at, n_iter, n_steps, snapshots, accuracy=accuracy
    )


def _fused_loss_grad(params, grads, X, Y, act, output, loss, exact):
    """Loss (K,) and gradients (into ``grads``) of a stack of wide networks, and the logits
    (K, c, m). The networks are shared out over the cores, each core taking one network at a
    time with single-threaded BLAS products (einsum's when ``exact``) and compiled passes that
    add the bias, apply the activation and its derivative in place: the activations of one
    network (a few MB) stay in the cache, and no core waits for another."""
    K = params.K
    values = np.empty(K)
    z_out = np.empty((K, params.weights[-1].shape[1], X.shape[-1]), params.weights[0].dtype)
    threads = min(K, _kernels.n_threads())

    def work(ks):
        for k in ks:
            values[k] = _fused_network(params, grads, k, X, Y, act, output, loss, exact, z_out)

    # One BLAS thread per product: the parallelism is across networks (BLAS's own threads would
    # make two cores wait on each other at every product).
    with threadpool_limits(1, user_api="blas"):
        if threads == 1:
            work(range(K))
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(work, [range(t, K, threads) for t in range(threads)]))
    return values, z_out


def _fused_network(params, grads, k, X, Y, act, output, loss, exact, z_out) -> float:
    """Network k of :func:`_fused_loss_grad`: its loss, its gradients written into ``grads``."""
    L = len(params.weights)
    code, p = _kernels.activation_code(act)
    keep_z = code in _kernels.NEEDS_Z
    x = X[k] if X.ndim == 3 else X
    acts, zs = [x], []
    for l in range(L):
        W, b = params.weights[l][k], params.biases[l][k]
        z = _product(W, acts[-1], exact)
        if l < L - 1:
            a = np.empty_like(z) if keep_z else z
            _kernels.bias_activate(z, b, a, code, p)
            zs.append(z)
            acts.append(a)
        else:
            z += b[:, None]
            z_out[k] = z
    y = Y[k] if Y.ndim == 3 else Y
    value, dz, _ = loss_and_grad(z_out[k][None], y[None], loss, output)
    delta = dz[0]
    grads.biases[L - 1][k] = delta.sum(axis=-1)
    for l in range(L - 1, -1, -1):
        _product_t(delta, acts[l], grads.weights[l][k], exact)
        if l > 0:
            back = _product(params.weights[l][k].T, delta, exact)
            # back *= phi'(z) in place, and the bias gradient of layer l - 1 (its row sums)
            _kernels.times_derivative(back, zs[l - 1], acts[l], code, p, grads.biases[l - 1][k])
            delta = back
    return value[0]


def _product(W: np.ndarray, A: np.ndarray, exact: bool) -> np.ndarray:
    """W A for one network's matrices."""
    return np.einsum("oi,im->om", W, A) if exact else W @ A


def _product_t(delta: np.ndarray, A: np.ndarray, out: np.ndarray, exact: bool) -> None:
    """out = delta A^T (the weight gradient) for one network."""
    if exact:
        np.einsum("om,im->oi", delta, A, out=out)
    else:
        np.matmul(delta, A.T, out=out)


def _stack3(A: np.ndarray) -> np.ndarray:
    """Feature-major data as the kernel takes it: (1 or K, n, m), C-contiguous."""
    return np.ascontiguousarray(A[None] if A.ndim == 2 else A)


def _flatten(params: Params) -> np.ndarray:
    """The parameters as one (K, P) array, weights then biases: the layout of :func:`_views`."""
    K = params.K
    return np.concatenate([a.reshape(K, -1) for a in (*params.weights, *params.biases)], axis=1)


def _views(template: Params, flat: np.ndarray) -> Params:
    """Per-layer views into ``flat`` (K, P), in the order weights then biases."""
    views, offset = [], 0
    for a in (*template.weights, *template.biases):
        size = a[0].size
        views.append(flat[:, offset : offset + size].reshape(a.shape))
        offset += size
    n = len(template.weights)
    return Params(views[:n], views[n:])


def _snapshot(it: int, params: Params, grads: Params, copy: bool = True) -> dict:
    take = (lambda a: a.copy()) if copy else (lambda a: a)
    return {
        "iteration": it,
        "weights": [take(W) for W in params.weights],
        "biases": [take(b) for b in params.biases],
        "grad_weights": [take(g) for g in grads.weights],
        "grad_biases": [take(g) for g in grads.biases],
    }
