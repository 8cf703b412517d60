"""Weight initialization schemes, their registry and spec strings, fans and gains.

Every scheme is a factory (JAX style) that returns an :class:`Initializer`, a callable
``init(rng, shape, dtype=np.float64) -> np.ndarray`` drawing a new array from ``rng`` (a NumPy
``Generator`` or a legacy ``RandomState``, never NumPy's global state). Weights are laid out
(out, in) as in PyTorch, convolution kernels (out, in, *receptive); :func:`compute_fans` gives
``fan_in = in * receptive`` and ``fan_out = out * receptive``. Schemes are named everywhere by
spec strings such as ``"he_normal"``, ``"normal(std=10)"`` or
``"variance_scaling(scale=2, mode=fan_out)"``, resolved by :func:`get_initializer`.

The named variance schemes are one-line specializations of one core, :func:`variance_scaling`:
``std = sqrt(scale / fan)``, uniform bound ``sqrt(3) * std``, truncated normal cut at
``±2 std`` with ``std / 0.8796`` so that the realized standard deviation is still ``std``.

=================  ========================  ====================================================
scheme             also known as             distribution of W (shape (out, in))
=================  ========================  ====================================================
zeros, ones                                  W = 0, W = 1
constant                                     W = value
uniform            random_uniform            U(low, high), default U(-0.05, 0.05)
normal             random_normal, gaussian   N(mean, std^2), default N(0, 1)
truncated_normal   trunc_normal              N(mean, std^2) cut to [a, b]
variance_scaling                             variance scale / fan: normal, truncated or uniform
glorot_uniform     xavier_uniform            U(±gain sqrt(6 / (fan_in + fan_out)))
glorot_normal      xavier_normal             N(0, gain^2 2 / (fan_in + fan_out))
he_normal          kaiming_normal            N(0, 2 / ((1 + a^2) fan_in))
he_uniform         kaiming_uniform           U(±sqrt(6 / ((1 + a^2) fan_in)))
lecun_normal                                 N(0, 1 / fan_in)
lecun_uniform                                U(±sqrt(3 / fan_in))
orthogonal                                   gain Q, Q from the QR of a normal matrix
identity           eye                       gain I (ones on the main diagonal)
sparse                                       N(0, std^2), ceil(sparsity out) zeros a column
zero_hadamard      zero_init, ZerO           I, partial I, or scaled Hadamard block
torch_linear                                 torch.nn.Linear: W, b ~ U(±1 / sqrt(fan_in))
keras_dense                                  Keras Dense: glorot_uniform, b = 0
sklearn_mlp                                  scikit-learn MLP: W, b ~ U(±sqrt(6 / (in + out)))
flax_dense                                   Flax Dense: truncated N(0, 1 / fan_in), b = 0
lsuv                                         orthogonal, then rescaled on data (data dependent)
=================  ========================  ====================================================

:func:`list_initializers` gives the same table as data; :func:`register_initializer` adds a
user's own scheme; :func:`calculate_gain` is PyTorch's gain table, extended to every activation
initlab knows; :func:`auto_initializer` is what ``init="auto"`` resolves to.

Examples
--------
>>> import numpy as np
>>> init = get_initializer("he_normal")
>>> W = init(np.random.RandomState(3), (5, 10))
>>> bool(np.array_equal(W, np.random.RandomState(3).randn(5, 10) * np.sqrt(2.0 / 10)))
True
"""

from __future__ import annotations

import copyreg
import functools
import inspect
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.linalg import hadamard
from scipy.special import ndtr, ndtri

from ._spec import Registry, format_spec, parse_spec
from ._validation import check_number, check_option
from .activations import ACTIVATIONS, Activation, get_activation

__all__ = [
    "INITIALIZERS",
    "Initializer",
    "auto_initializer",
    "calculate_gain",
    "compute_fans",
    "constant",
    "flax_dense",
    "get_initializer",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "kaiming_normal",
    "kaiming_uniform",
    "keras_dense",
    "lecun_normal",
    "lecun_uniform",
    "list_initializers",
    "lsuv",
    "normal",
    "ones",
    "orthogonal",
    "register_initializer",
    "sklearn_mlp",
    "sparse",
    "torch_linear",
    "truncated_normal",
    "uniform",
    "variance_preserving_gain",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zero_hadamard",
    "zeros",
]

Generator = np.random.Generator | np.random.RandomState
Shape = tuple[int, ...]
# sample(rng, shape, fan_in, fan_out) -> float64 array of `shape`
Sampler = Callable[[Generator, Shape, float, float], np.ndarray]

# Standard deviation of a standard normal truncated to [-2, 2]: Keras and JAX divide the target
# std by it so that the truncated draw still has the target std.
TRUNCATED_NORMAL_STD = 0.87962566103423978


# --------------------------------------------------------------------------------------------
# Checks shared by every scheme
# --------------------------------------------------------------------------------------------


def _check_shape(shape: Any) -> Shape:
    try:
        dims = (operator.index(shape),) if not hasattr(shape, "__iter__") else tuple(shape)
        dims = tuple(operator.index(d) for d in dims)
    except TypeError:
        dims = None
    if dims is None or any(d < 0 for d in dims):
        raise ValueError(
            f"The 'shape' parameter must be a tuple of non-negative ints. Got {shape!r} instead."
        )
    return dims


def _check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise ValueError(
            "The 'dtype' parameter must be a floating dtype such as np.float64 or np.float32. "
            f"Got {dtype!r} instead."
        )
    return dt


def _check_rng(rng: Any) -> None:
    if not isinstance(rng, np.random.Generator | np.random.RandomState):
        raise ValueError(
            "The 'rng' parameter must be a numpy.random.Generator or a numpy.random.RandomState "
            "(initlab.check_random_state turns a seed into one). "
            f"Got {rng!r} instead."
        )


def _require_ndim(scheme: str, shape: Shape, *, exact: int | None = None, low: int = 2) -> None:
    if exact is not None and len(shape) != exact:
        raise ValueError(
            f"The {scheme} initializer needs a {exact}-D weight shape (out, in). "
            f"Got shape {shape} instead."
        )
    if len(shape) < low:
        raise ValueError(
            f"The {scheme} initializer needs a weight shape with at least {low} dimensions "
            f"(out, in, ...). Got shape {shape} instead."
        )


def _defaults(factory: Callable[..., Any]) -> dict[str, Any]:
    return {
        p.name: p.default
        for p in inspect.signature(factory).parameters.values()
        if p.default is not p.empty
    }


def compute_fans(shape: Any) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape``, as PyTorch computes them.

    Parameters
    ----------
    shape : tuple of int
        ``(out, in)`` for a dense layer, ``(out, in, *receptive)`` for a convolution kernel.

    Returns
    -------
    fan_in, fan_out : int
        ``in * prod(receptive)`` and ``out * prod(receptive)``. A 1-D shape ``(n,)`` gives
        ``(n, n)`` (Keras's rule, used for biases); a 0-D shape gives ``(1, 1)``.

    Examples
    --------
    >>> compute_fans((5, 3))
    (3, 5)
    >>> compute_fans((16, 8, 3, 3))
    (72, 144)
    >>> compute_fans((7,))
    (7, 7)
    """
    shape = _check_shape(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


# --------------------------------------------------------------------------------------------
# The initializer object
# --------------------------------------------------------------------------------------------


class Initializer:
    """A named weight initialization scheme: ``init(rng, shape, dtype) -> new array``.

    Built by a scheme's factory (``normal(std=10)``) or by :func:`get_initializer` from a spec
    string; users rarely construct one directly.

    Parameters
    ----------
    name : str
        The scheme's registered name.
    sample : callable
        ``sample(rng, shape, fan_in, fan_out) -> ndarray``: the draw, in float64, of a new array
        of ``shape``; the fans are those of the weight (see :meth:`bias`).
    params : dict, optional
        Every parameter of the scheme, defaults included.
    bias : {"scheme", "zeros"}, default "scheme"
        The bias rule: ``"scheme"`` draws the scheme itself at shape ``(out,)`` with the weight's
        fans; ``"zeros"`` gives zeros (structured schemes, and frameworks whose bias is zero).
    draws_bias : bool, default False
        True only for framework defaults whose own bias is drawn non-zero (``torch_linear``,
        ``sklearn_mlp``); a model uses it to decide whether ``bias_init`` follows the scheme.
    data_dependent : bool, default False
        True when a model must finish the initialization on data (``lsuv``).
    defaults : dict, optional
        The factory's defaults; parameters equal to them are left out of :attr:`spec`.

    Attributes
    ----------
    name : str
    params : dict
        Every parameter, defaults included (``lsuv``'s ``tol`` and ``max_iter`` are read here).
    spec : str
        The spec string that rebuilds it; ``repr`` shows it.
    draws_bias : bool
    data_dependent : bool

    Examples
    --------
    >>> init = get_initializer("normal(std=10)")
    >>> init
    Initializer('normal(std=10)')
    >>> init.params
    {'std': 10, 'mean': 0.0}
    >>> init(np.random.default_rng(0), (2, 3), np.float32).dtype
    dtype('float32')
    """

    def __init__(
        self,
        name: str,
        sample: Sampler,
        params: dict[str, Any] | None = None,
        *,
        bias: str = "scheme",
        draws_bias: bool = False,
        data_dependent: bool = False,
        defaults: dict[str, Any] | None = None,
    ):
        self.name = name
        self.params = dict(params or {})
        self.draws_bias = bool(draws_bias)
        self.data_dependent = bool(data_dependent)
        self._sample = sample
        self._fn: Callable[..., Any] | None = None
        self._bias = check_option("Initializer", "bias", bias, ("scheme", "zeros"))
        self._defaults = dict(defaults or {})
        self._from_spec = False  # True when a registered factory built it from its spec

    @classmethod
    def from_callable(cls, f: Callable[..., Any], name: str | None = None) -> Initializer:
        """Wrap a plain ``f(rng, shape, dtype) -> array``; its bias is ``f`` at shape (out,)."""
        if not callable(f):
            raise ValueError(f"An initializer must be callable. Got {f!r} instead.")
        init = cls(name or getattr(f, "__name__", type(f).__name__), _no_sampler)
        init._fn = f
        return init

    @property
    def spec(self) -> str:
        """The spec string that builds this initializer (parameters at their default omitted)."""
        changed = {
            k: v
            for k, v in self.params.items()
            if k not in self._defaults or not _same(v, self._defaults[k])
        }
        return format_spec(self.name, changed)

    def __call__(self, rng: Generator, shape: Any, dtype: Any = np.float64) -> np.ndarray:
        """Draw a new array of ``shape`` and ``dtype`` from ``rng``.

        Parameters
        ----------
        rng : numpy.random.Generator or numpy.random.RandomState
        shape : tuple of int
            ``(out, in)`` or ``(out, in, *receptive)``.
        dtype : floating dtype, default np.float64
            The draw is made in float64 and then cast.

        Returns
        -------
        ndarray
            A new C-contiguous array.
        """
        _check_rng(rng)
        shape = _check_shape(shape)
        dtype = _check_dtype(dtype)
        if self._fn is not None:
            return self._call_user(rng, shape, dtype)
        if math.prod(shape) == 0:
            return np.zeros(shape, dtype)  # nothing to draw; fans may be 0
        fan_in, fan_out = compute_fans(shape)
        # A scale near the float range overflows to inf: that is a start like any other, which
        # diagnose reports as non-finite and fit refuses by name, never a RuntimeWarning.
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(self._sample(rng, shape, fan_in, fan_out), dtype=dtype, order="C")

    def bias(self, rng: Generator, weight_shape: Any, dtype: Any = np.float64) -> np.ndarray:
        """The scheme's own bias for a layer whose weight has ``weight_shape``.

        Parameters
        ----------
        rng : numpy.random.Generator or numpy.random.RandomState
        weight_shape : tuple of int
            The layer's WEIGHT shape ``(out, in, ...)``; the fans come from it.
        dtype : floating dtype, default np.float64

        Returns
        -------
        ndarray of shape (out,)
            Zeros for structured schemes (identity, orthogonal, sparse, zero_hadamard, lsuv) and
            for frameworks whose bias is zero (keras_dense, flax_dense); otherwise the scheme
            drawn at shape ``(out,)`` with the weight's fans (``torch_linear``: U(±1/sqrt(fan_in));
            ``he_normal``: N(0, 2 / fan_in)).

        Examples
        --------
        >>> get_initializer("torch_linear").bias(np.random.default_rng(0), (3, 4)).shape
        (3,)
        """
        _check_rng(rng)
        weight_shape = _check_shape(weight_shape)
        dtype = _check_dtype(dtype)
        if len(weight_shape) == 0:
            raise ValueError(
                "The 'weight_shape' parameter must have at least one dimension (out, ...). "
                f"Got {weight_shape} instead."
            )
        out = weight_shape[0]
        if self._fn is not None:
            return self._call_user(rng, (out,), dtype)
        if self._bias == "zeros" or out == 0:
            return np.zeros(out, dtype)
        fan_in, fan_out = compute_fans(weight_shape)
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(self._sample(rng, (out,), fan_in, fan_out), dtype=dtype)

    def _call_user(self, rng: Generator, shape: Shape, dtype: np.dtype) -> np.ndarray:
        out = np.array(self._fn(rng, shape, dtype), dtype=dtype, order="C")  # always a copy
        if out.shape != shape:
            raise ValueError(
                f"The initializer {self.name!r} returned an array of shape {out.shape} for the "
                f"requested shape {shape}."
            )
        return out

    def __repr__(self) -> str:
        return f"Initializer({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Initializer) or other.spec != self.spec:
            return False
        if self._from_spec and other._from_spec:
            return True  # the same registered scheme with the same parameters
        return self._fn is other._fn and self._from_spec == other._from_spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def __reduce__(self) -> tuple[Any, ...]:
        # Samplers are closures: a registered scheme is rebuilt from its spec (for pickling by
        # sweeps and for copies); anything else is pickled attribute by attribute.
        if self._from_spec:
            return (get_initializer, (self.spec,))
        return (copyreg.__newobj__, (type(self),), dict(self.__dict__))


def _no_sampler(rng: Generator, shape: Shape, fan_in: float, fan_out: float) -> np.ndarray:
    raise AssertionError("unreachable: a wrapped callable draws through _call_user")


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # exotic values are simply shown in the spec
        return False


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------

INITIALIZERS = Registry("init")


def _register(
    name: str,
    *,
    aliases: tuple[str, ...] = (),
    formula: str,
    reference: str,
    draws_bias: bool = False,
    data_dependent: bool = False,
) -> Callable[[Callable[..., Initializer]], Callable[..., Initializer]]:
    def decorate(factory: Callable[..., Initializer]) -> Callable[..., Initializer]:
        INITIALIZERS.register(
            name,
            factory,
            aliases=aliases,
            formula=formula,
            reference=reference,
            draws_bias=draws_bias,
            data_dependent=data_dependent,
        )
        return factory

    return decorate


def _make(
    factory: Callable[..., Initializer], sample: Sampler, params: dict[str, Any], **flags: Any
) -> Initializer:
    entry = INITIALIZERS.entry(factory.__name__)
    init = Initializer(
        factory.__name__,
        sample,
        params,
        draws_bias=entry.extra.get("draws_bias", False),
        data_dependent=entry.extra.get("data_dependent", False),
        defaults=_defaults(factory),
        **flags,
    )
    init._from_spec = True
    return init


# --------------------------------------------------------------------------------------------
# Basic distributions
# --------------------------------------------------------------------------------------------


def _truncated_standard_normal(rng: Generator, shape: Shape, lo: float, hi: float) -> np.ndarray:
    """N(0, 1) conditioned on [lo, hi], by the inverse CDF of one uniform draw per value."""
    if lo > 0:
        # All the mass sits in the upper tail, where ndtr rounds to 1: sample the mirror image.
        return -_truncated_standard_normal(rng, shape, -hi, -lo)
    u = rng.uniform(ndtr(lo), ndtr(hi), shape)
    return np.clip(ndtri(u), lo, hi)


@_register("zeros", formula="W = 0", reference="torch.nn.init.zeros_; keras.initializers.Zeros")
def zeros() -> Initializer:
    """All zeros.

    Every unit of a layer then computes the same function and receives the same gradient, so
    hidden units never become different (the symmetry problem); fine for biases and for a
    single-layer model such as logistic regression.

    Returns
    -------
    Initializer

    References
    ----------
    PyTorch ``torch.nn.init.zeros_``; Keras ``Zeros``.

    Examples
    --------
    >>> zeros()(np.random.default_rng(0), (2, 2)).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    return _make(zeros, lambda rng, shape, fi, fo: np.zeros(shape), {})


@_register("ones", formula="W = 1", reference="torch.nn.init.ones_; keras.initializers.Ones")
def ones() -> Initializer:
    """All ones (symmetric like :func:`zeros`, and large).

    Returns
    -------
    Initializer

    References
    ----------
    PyTorch ``torch.nn.init.ones_``; Keras ``Ones``.

    Examples
    --------
    >>> ones()(np.random.default_rng(0), (1, 3)).tolist()
    [[1.0, 1.0, 1.0]]
    """
    return _make(ones, lambda rng, shape, fi, fo: np.ones(shape), {})


@_register(
    "constant",
    formula="W = value",
    reference="torch.nn.init.constant_; keras.initializers.Constant",
)
def constant(value: float = 0.0) -> Initializer:
    """Every weight equal to ``value``.

    Parameters
    ----------
    value : float, default 0.0
        The constant (Keras's default; PyTorch's ``constant_`` has none).

    Returns
    -------
    Initializer

    References
    ----------
    PyTorch ``torch.nn.init.constant_``; Keras ``Constant``.

    Examples
    --------
    >>> constant(0.5)(np.random.default_rng(0), (2,)).tolist()
    [0.5, 0.5]
    """
    value = check_number("constant", "value", value)
    return _make(
        constant, lambda rng, shape, fi, fo: np.full(shape, float(value)), {"value": value}
    )


@_register(
    "uniform",
    aliases=("random_uniform",),
    formula="W ~ U(low, high)",
    reference="keras.initializers.RandomUniform; torch.nn.init.uniform_",
)
def uniform(low: float = -0.05, high: float = 0.05) -> Initializer:
    """Uniform on ``[low, high)``, drawn as ``rng.uniform(low, high, shape)``.

    Parameters
    ----------
    low, high : float, default -0.05 and 0.05
        The bounds, ``low < high``. The default is Keras's ``RandomUniform``: symmetric about 0
        and small, which is what a weight initializer is expected to give. PyTorch's
        ``uniform_`` defaults to U(0, 1), all-positive weights; ask for it with
        ``"uniform(low=0, high=1)"``.

    Returns
    -------
    Initializer

    Notes
    -----
    Mean ``(low + high) / 2``, standard deviation ``(high - low) / sqrt(12)``.

    References
    ----------
    Keras ``RandomUniform``; PyTorch ``torch.nn.init.uniform_``.

    Examples
    --------
    >>> W = uniform()(np.random.default_rng(0), (100, 100))
    >>> bool(W.min() >= -0.05 and W.max() < 0.05)
    True
    """
    low = check_number("uniform", "low", low)
    high = check_number("uniform", "high", high)
    if not high > low:
        raise ValueError(
            f"The 'high' parameter of uniform must be > low = {low!r}. Got {high!r} instead."
        )
    if not math.isfinite(float(high) - float(low)):  # NumPy's uniform draws low + (high - low) u
        raise ValueError(
            f"The 'high' parameter of uniform must be within the float range of low = {low!r} "
            f"(high - low finite). Got {high!r} instead."
        )
    return _make(
        uniform,
        lambda rng, shape, fi, fo: rng.uniform(low, high, shape),
        {"low": low, "high": high},
    )


@_register(
    "normal",
    aliases=("random_normal", "gaussian"),
    formula="W ~ N(mean, std^2)",
    reference="torch.nn.init.normal_; np.random.randn(out, in) * std",
)
def normal(std: float = 1.0, mean: float = 0.0) -> Initializer:
    """Normal with standard deviation ``std``: ``rng.standard_normal(shape) * std (+ mean)``.

    Parameters
    ----------
    std : float, default 1.0
        Standard deviation, ``>= 0``.
    mean : float, default 0.0
        Added only when non-zero, so that ``normal(std=s)`` draws exactly what textbook code
        ``np.random.randn(out, in) * s`` draws from the same ``RandomState``.

    Returns
    -------
    Initializer

    References
    ----------
    PyTorch ``torch.nn.init.normal_``; the course notation ``W = np.random.randn(n_h, n_x) * 0.01``
    (Ng, Deep Learning Specialization).

    Examples
    --------
    >>> W = normal(std=10)(np.random.RandomState(1), (2, 2))
    >>> bool(np.array_equal(W, np.random.RandomState(1).randn(2, 2) * 10))
    True
    """
    std = check_number("normal", "std", std, low=0)
    mean = check_number("normal", "mean", mean)

    def sample(rng: Generator, shape: Shape, fan_in: float, fan_out: float) -> np.ndarray:
        W = rng.standard_normal(shape) * std
        return W + mean if mean != 0 else W

    return _make(normal, sample, {"std": std, "mean": mean})


@_register(
    "truncated_normal",
    aliases=("trunc_normal",),
    formula="W ~ N(mean, std^2) conditioned on a <= W <= b",
    reference="torch.nn.init.trunc_normal_",
)
def truncated_normal(
    mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0
) -> Initializer:
    """Normal N(mean, std^2) conditioned on ``[a, b]``, with PyTorch's meaning of ``a`` and ``b``.

    Parameters
    ----------
    mean : float, default 0.0
    std : float, default 1.0
        Standard deviation of the normal BEFORE truncation, ``>= 0``; the realized std is
        smaller (0.8796 for the defaults, whose cut-offs ±2 lie at ±2 std).
    a, b : float, default -2.0 and 2.0
        Absolute cut-offs (not in units of std), ``a < b``: ``truncated_normal(std=0.02)``
        cuts at ±2, i.e. at ±100 std, and so is practically untruncated, as in PyTorch.

    Returns
    -------
    Initializer

    Notes
    -----
    Sampled by the inverse CDF: ``u ~ U(Phi(alpha), Phi(beta))`` with
    ``alpha = (a - mean) / std``, ``beta = (b - mean) / std``, then
    ``W = mean + std * Phi^{-1}(u)`` (scipy's ``ndtr``, ``ndtri``), one uniform per value.
    For :func:`variance_scaling`'s truncated normal, whose cut-offs are in std units and whose
    std is corrected, see there.

    References
    ----------
    PyTorch ``torch.nn.init.trunc_normal_``.

    Examples
    --------
    >>> W = truncated_normal(std=1.0, a=-0.5, b=0.5)(np.random.default_rng(0), (100, 100))
    >>> bool(W.min() >= -0.5 and W.max() <= 0.5)
    True
    """
    mean = check_number("truncated_normal", "mean", mean)
    std = check_number("truncated_normal", "std", std, low=0)
    a = check_number("truncated_normal", "a", a)
    b = check_number("truncated_normal", "b", b)
    if not b > a:
        raise ValueError(
            f"The 'b' parameter of truncated_normal must be > a = {a!r}. Got {b!r} instead."
        )

    def sample(rng: Generator, shape: Shape, fan_in: float, fan_out: float) -> np.ndarray:
        if std == 0:
            return np.full(shape, min(max(float(mean), a), b))
        z = _truncated_standard_normal(rng, shape, (a - mean) / std, (b - mean) / std)
        W = z * std
        return np.clip(W + mean if mean != 0 else W, a, b)

    return _make(truncated_normal, sample, {"mean": mean, "std": std, "a": a, "b": b})


# --------------------------------------------------------------------------------------------
# The variance-scaling core and its named specializations
# --------------------------------------------------------------------------------------------

_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")


def _variance_scaling_sampler(scale: float, mode: str, distribution: str) -> Sampler:
    def sample(rng: Generator, shape: Shape, fan_in: float, fan_out: float) -> np.ndarray:
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        if distribution == "uniform":
            bound = math.sqrt(3.0 * scale / fan)  # = sqrt(3) std: U(-b, b) has std b / sqrt(3)
            return rng.uniform(-bound, bound, shape)
        std = math.sqrt(scale / fan)
        if distribution == "normal":
            return rng.standard_normal(shape) * std
        return _truncated_standard_normal(rng, shape, -2.0, 2.0) * (std / TRUNCATED_NORMAL_STD)

    return sample


@_register(
    "variance_scaling",
    formula="std = sqrt(scale / fan); uniform bound sqrt(3) std; truncated at ±2 std, std / 0.8796",
    reference="keras.initializers.VarianceScaling; jax.nn.initializers.variance_scaling",
)
def variance_scaling(
    scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal"
) -> Initializer:
    """The core: weights with variance ``scale / fan``; the named schemes specialize it.

    Parameters
    ----------
    scale : float, default 1.0
        Target variance times fan, ``> 0`` (2 for He, 1 for LeCun, gain^2 in general).
    mode : {"fan_in", "fan_out", "fan_avg"}, default "fan_in"
        Which fan: ``fan_in`` keeps the forward signal's variance, ``fan_out`` the backward
        gradient's, ``fan_avg = (fan_in + fan_out) / 2`` compromises (Glorot).
    distribution : {"truncated_normal", "normal", "uniform"}, default "truncated_normal"
        Keras's default. ``normal``: ``rng.standard_normal(shape) * std``;
        ``uniform``: U(-bound, bound) with ``bound = sqrt(3 scale / fan)``;
        ``truncated_normal``: a standard normal cut at ±2, times ``std / 0.87962566103423978``
        (0.8796 is the std of a standard normal truncated to [-2, 2], so the realized std is
        exactly ``std``; all values lie within ``2 std / 0.8796``).

    Returns
    -------
    Initializer

    Notes
    -----
    ``std = sqrt(scale / fan)``. Fans come from :func:`compute_fans` (PyTorch's layout).

    ================  ============================================
    glorot_uniform    variance_scaling(gain^2, fan_avg, uniform)
    glorot_normal     variance_scaling(gain^2, fan_avg, normal)
    he_normal         variance_scaling(2 / (1 + a^2), fan_in, normal)
    he_uniform        variance_scaling(2 / (1 + a^2), fan_in, uniform)
    lecun_normal      variance_scaling(1, fan_in, normal)
    lecun_uniform     variance_scaling(1, fan_in, uniform)
    flax_dense        variance_scaling(1, fan_in, truncated_normal)
    ================  ============================================

    References
    ----------
    Keras ``VarianceScaling``; JAX ``jax.nn.initializers.variance_scaling``.

    Examples
    --------
    >>> init = get_initializer("variance_scaling(scale=2, mode=fan_out, distribution=uniform)")
    >>> W = init(np.random.default_rng(0), (4, 9))
    >>> bool(np.abs(W).max() <= np.sqrt(3 * 2 / 4))
    True
    """
    scale = check_number("variance_scaling", "scale", scale, low=0, low_open=True)
    mode = check_option("variance_scaling", "mode", mode, _MODES)
    distribution = check_option("variance_scaling", "distribution", distribution, _DISTRIBUTIONS)
    return _make(
        variance_scaling,
        _variance_scaling_sampler(scale, mode, distribution),
        {"scale": scale, "mode": mode, "distribution": distribution},
    )


def _glorot(factory: Callable[..., Initializer], gain: float, distribution: str) -> Initializer:
    gain = check_number(factory.__name__, "gain", gain, low=0, low_open=True)
    sample = _variance_scaling_sampler(gain * gain, "fan_avg", distribution)
    return _make(factory, sample, {"gain": gain})


@_register(
    "glorot_uniform",
    aliases=("xavier_uniform",),
    formula="W ~ U(±gain sqrt(6 / (fan_in + fan_out)))",
    reference="Glorot & Bengio 2010; torch.nn.init.xavier_uniform_",
)
def glorot_uniform(gain: float = 1.0) -> Initializer:
    """Glorot (Xavier) uniform: U(-bound, bound), ``bound = gain sqrt(6 / (fan_in + fan_out))``.

    Also known as Xavier uniform. Keeps the variance of both the forward signal and the
    backward gradient near 1 for linear (and tanh near 0) units:
    ``variance_scaling(gain^2, "fan_avg", "uniform")``.

    Parameters
    ----------
    gain : float, default 1.0
        PyTorch's optional scaling factor, ``> 0`` (see :func:`calculate_gain`).

    Returns
    -------
    Initializer

    References
    ----------
    X. Glorot and Y. Bengio, "Understanding the difficulty of training deep feedforward neural
    networks", AISTATS 2010. PyTorch ``xavier_uniform_``; Keras ``GlorotUniform``.

    Examples
    --------
    >>> W = glorot_uniform()(np.random.default_rng(0), (4, 2))
    >>> bool(np.abs(W).max() <= 1.0)
    True
    """
    return _glorot(glorot_uniform, gain, "uniform")


@_register(
    "glorot_normal",
    aliases=("xavier_normal",),
    formula="W ~ N(0, gain^2 * 2 / (fan_in + fan_out))",
    reference="Glorot & Bengio 2010; torch.nn.init.xavier_normal_",
)
def glorot_normal(gain: float = 1.0) -> Initializer:
    """Glorot (Xavier) normal: N(0, std^2), ``std = gain sqrt(2 / (fan_in + fan_out))``.

    Also known as Xavier normal. Untruncated, as PyTorch's ``xavier_normal_`` (Keras's
    ``GlorotNormal`` truncates: use ``variance_scaling(mode=fan_avg)`` for it).
    ``variance_scaling(gain^2, "fan_avg", "normal")``.

    Parameters
    ----------
    gain : float, default 1.0
        ``> 0``.

    Returns
    -------
    Initializer

    References
    ----------
    X. Glorot and Y. Bengio, AISTATS 2010. PyTorch ``xavier_normal_``.

    Examples
    --------
    >>> glorot_normal(gain=2.0).spec
    'glorot_normal(gain=2.0)'
    """
    return _glorot(glorot_normal, gain, "normal")


_HE_MODES = ("fan_in", "fan_out")


def _he(factory: Callable[..., Initializer], a: float, mode: str, nonlinearity: Any, dist: str):
    scheme = factory.__name__
    a = check_number(scheme, "a", a)
    mode = check_option(scheme, "mode", mode, _HE_MODES)
    act = _resolve_nonlinearity(nonlinearity, "nonlinearity", scheme)
    if act.name == "relu":
        scale = 2.0
    elif act.name == "leaky_relu":
        # The bare name takes its slope from `a`, as in PyTorch; a spec string carries its own.
        slope = a if _is_bare(nonlinearity, "leaky_relu") else act.params["slope"]
        # 2 / (1 + a^2) directly: gain**2 = sqrt(2)**2 would differ from 2 in the last bit.
        scale = 2.0 / (1 + slope * slope)
    else:
        scale = calculate_gain(act) ** 2
    params = {"a": a, "mode": mode, "nonlinearity": _as_spec(nonlinearity, act)}
    return _make(factory, _variance_scaling_sampler(scale, mode, dist), params)


@_register(
    "he_normal",
    aliases=("kaiming_normal",),
    formula="W ~ N(0, 2 / ((1 + a^2) fan)); gain^2 / fan for another nonlinearity",
    reference="He et al. 2015; torch.nn.init.kaiming_normal_",
)
def he_normal(
    a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Initializer:
    """He (Kaiming) normal: N(0, std^2), ``std = sqrt(2 / ((1 + a^2) fan))``.

    Also known as Kaiming normal, MSRA. Keeps the forward variance constant through ReLU
    layers, which halve the second moment: ``variance_scaling(2 / (1 + a^2), mode, "normal")``.
    With the defaults it draws exactly ``rng.standard_normal(shape) * sqrt(2 / fan_in)``, the
    Deep Learning Specialization's ``np.random.randn(n_l, n_prev) * np.sqrt(2. / n_prev)``.

    Parameters
    ----------
    a : float, default 0.0
        Negative slope of the leaky ReLU that follows the layer (only used with
        ``nonlinearity="leaky_relu"``, as in PyTorch).
    mode : {"fan_in", "fan_out"}, default "fan_in"
        ``fan_in`` preserves the forward pass, ``fan_out`` the backward pass.
    nonlinearity : str, default "leaky_relu"
        PyTorch's names, or any activation spec initlab knows (``"gelu"``, ``"elu(alpha=0.5)"``).
        For relu and leaky_relu the variance is ``2 / ((1 + a^2) fan)`` computed directly (so
        that it matches ``sqrt(2 / fan)`` to the last bit); otherwise
        ``calculate_gain(nonlinearity)^2 / fan``.

    Returns
    -------
    Initializer

    References
    ----------
    K. He, X. Zhang, S. Ren and J. Sun, "Delving Deep into Rectifiers: Surpassing Human-Level
    Performance on ImageNet Classification", ICCV 2015. PyTorch ``kaiming_normal_``.

    Examples
    --------
    >>> W = he_normal()(np.random.RandomState(3), (10, 2))
    >>> bool(np.array_equal(W, np.random.RandomState(3).randn(10, 2) * np.sqrt(2.0 / 2)))
    True
    """
    return _he(he_normal, a, mode, nonlinearity, "normal")


@_register(
    "he_uniform",
    aliases=("kaiming_uniform",),
    formula="W ~ U(±sqrt(6 / ((1 + a^2) fan))); ±gain sqrt(3 / fan) for another nonlinearity",
    reference="He et al. 2015; torch.nn.init.kaiming_uniform_",
)
def he_uniform(
    a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Initializer:
    """He (Kaiming) uniform: U(-bound, bound), ``bound = sqrt(6 / ((1 + a^2) fan))``.

    Also known as Kaiming uniform. The uniform twin of :func:`he_normal` (same variance,
    ``bound = sqrt(3) std``): ``variance_scaling(2 / (1 + a^2), mode, "uniform")``.
    ``he_uniform(a=math.sqrt(5))`` is PyTorch's ``nn.Linear`` weight (see :func:`torch_linear`).

    Parameters
    ----------
    a : float, default 0.0
        Negative slope of the following leaky ReLU.
    mode : {"fan_in", "fan_out"}, default "fan_in"
    nonlinearity : str, default "leaky_relu"
        As in :func:`he_normal`.

    Returns
    -------
    Initializer

    References
    ----------
    K. He et al., ICCV 2015. PyTorch ``kaiming_uniform_``.

    Examples
    --------
    >>> W = he_uniform()(np.random.default_rng(0), (3, 6))
    >>> bool(np.abs(W).max() <= 1.0)
    True
    """
    return _he(he_uniform, a, mode, nonlinearity, "uniform")


@_register(
    "lecun_normal",
    formula="W ~ N(0, 1 / fan_in)",
    reference="LeCun et al. 1998; Klambauer et al. 2017 (SELU)",
)
def lecun_normal() -> Initializer:
    """LeCun normal: N(0, 1 / fan_in), untruncated: ``variance_scaling(1, "fan_in", "normal")``.

    Preserves the forward variance of linear units; the initialization under which SELU
    networks self-normalize. Untruncated like every ``*_normal`` scheme of initlab (and as in
    the SELU paper and PyTorch's advice ``kaiming_normal_(nonlinearity="linear")``); Keras's
    and JAX's ``lecun_normal`` truncate at ±2 std, which is :func:`flax_dense` here.

    Returns
    -------
    Initializer

    References
    ----------
    Y. LeCun, L. Bottou, G. Orr and K.-R. Müller, "Efficient BackProp", 1998.
    G. Klambauer, T. Unterthiner, A. Mayr and S. Hochreiter, "Self-Normalizing Neural
    Networks", NeurIPS 2017.

    Examples
    --------
    >>> W = lecun_normal()(np.random.RandomState(0), (2, 4))
    >>> bool(np.array_equal(W, np.random.RandomState(0).randn(2, 4) * 0.5))
    True
    """
    return _make(lecun_normal, _variance_scaling_sampler(1.0, "fan_in", "normal"), {})


@_register(
    "lecun_uniform",
    formula="W ~ U(±sqrt(3 / fan_in))",
    reference="LeCun et al. 1998; keras.initializers.LecunUniform",
)
def lecun_uniform() -> Initializer:
    """LeCun uniform: U(±sqrt(3 / fan_in)): ``variance_scaling(1, "fan_in", "uniform")``.

    Returns
    -------
    Initializer

    References
    ----------
    Y. LeCun et al., "Efficient BackProp", 1998. Keras ``LecunUniform``.

    Examples
    --------
    >>> W = lecun_uniform()(np.random.default_rng(0), (2, 3))
    >>> bool(np.abs(W).max() <= 1.0)
    True
    """
    return _make(lecun_uniform, _variance_scaling_sampler(1.0, "fan_in", "uniform"), {})


# --------------------------------------------------------------------------------------------
# Structured schemes
# --------------------------------------------------------------------------------------------


def _orthogonal_sampler(gain: float, scheme: str) -> Sampler:
    def sample(rng: Generator, shape: Shape, fan_in: float, fan_out: float) -> np.ndarray:
        _require_ndim(scheme, shape)
        rows = shape[0]
        cols = math.prod(shape[1:])
        A = rng.standard_normal((rows, cols))
        if rows < cols:
            A = A.T
        Q, R = np.linalg.qr(A)
        # sign(diag R) makes the factorization unique, hence Q Haar-distributed.
        d = np.sign(np.diag(R))
        d[d == 0] = 1.0
        Q = Q * d
        if rows < cols:
            Q = Q.T
        return (Q * gain).reshape(shape)

    return sample


@_register(
    "orthogonal",
    formula="W = gain Q, Q from the QR of a standard normal matrix, times sign(diag R)",
    reference="Saxe et al. 2014; torch.nn.init.orthogonal_",
)
def orthogonal(gain: float = 1.0) -> Initializer:
    """A (semi-)orthogonal matrix times ``gain``, uniformly distributed (Haar).

    PyTorch's algorithm: flatten the shape to ``(rows, cols) = (out, in * receptive)``; draw a
    standard normal matrix (transposed if ``rows < cols``); take its reduced QR factorization;
    multiply Q's columns by ``sign(diag R)``; transpose back; times ``gain``. The rows (if
    ``rows <= cols``) or columns (otherwise) are orthonormal: ``W W^T = gain^2 I`` or
    ``W^T W = gain^2 I``. Needs at least 2 dimensions; the bias is zero.

    Parameters
    ----------
    gain : float, default 1.0
        ``> 0``.

    Returns
    -------
    Initializer

    References
    ----------
    A. M. Saxe, J. L. McClelland and S. Ganguli, "Exact solutions to the nonlinear dynamics of
    learning in deep linear neural networks", ICLR 2014. PyTorch ``orthogonal_``.

    Examples
    --------
    >>> W = orthogonal()(np.random.default_rng(0), (5, 3))
    >>> bool(np.allclose(W.T @ W, np.eye(3)))
    True
    """
    gain = check_number("orthogonal", "gain", gain, low=0, low_open=True)
    return _make(orthogonal, _orthogonal_sampler(gain, "orthogonal"), {"gain": gain}, bias="zeros")


@_register(
    "identity",
    aliases=("eye",),
    formula="W = gain I (ones on the main diagonal, also when out != in)",
    reference="torch.nn.init.eye_; Le, Jaitly & Hinton 2015",
)
def identity(gain: float = 1.0) -> Initializer:
    """``gain`` times the (out, in) identity: ones on the main diagonal, zeros elsewhere.

    As PyTorch's ``eye_``, also for a non-square matrix (a partial identity: the first
    ``min(out, in)`` inputs pass through). 2-D shapes only; the bias is zero. Draws nothing.

    Parameters
    ----------
    gain : float, default 1.0
        ``> 0``.

    Returns
    -------
    Initializer

    Raises
    ------
    ValueError
        When called with a shape that is not 2-D.

    References
    ----------
    PyTorch ``torch.nn.init.eye_``; Q. V. Le, N. Jaitly and G. E. Hinton, "A Simple Way to
    Initialize Recurrent Networks of Rectified Linear Units", 2015.

    Examples
    --------
    >>> identity()(np.random.default_rng(0), (2, 3)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    gain = check_number("identity", "gain", gain, low=0, low_open=True)

    def sample(rng: Generator, shape: Shape, fan_in: float, fan_out: float) -> np.ndarray:
        _require_ndim("identity", shape, exact=2)
        return np.eye(*shape) * gain

    return _make(identity, sample, {"gain": gain}, bias="zeros")


@_register(
    "sparse",
    formula="W ~ N(0, std^2) with ceil(sparsity out) zeros at random rows of each column",
    reference="Martens 2010; torch.nn.init.sparse_",
)
def sparse(sparsity: float = 0.1, std: float = 0.01) -> Initializer:
    """Sparse normal: N(0, std^2) with ``ceil(sparsity * out)`` zeros in every column.

    PyTorch's ``sparse_``: in each column (input), the zeroed rows (outputs) are a uniformly
    random subset. Drawn as the normal matrix first, then one uniform key per entry whose
    per-column order picks the zeroed rows. ``ceil`` of the float product, as PyTorch
    (``0.1 * 30`` rounds up to 4). 2-D shapes only; the bias is zero.

    Parameters
    ----------
    sparsity : float, default 0.1
        Fraction of zeros per column, in [0, 1).
    std : float, default 0.01
        Standard deviation of the non-zero entries, ``>= 0``.

    Returns
    -------
    Initializer

    References
    ----------
    J. Martens, "Deep learning via Hessian-free optimization", ICML 2010. PyTorch ``sparse_``.

    Examples
    --------
    >>> W = sparse(sparsity=0.5)(np.random.default_rng(0), (4, 3))
    >>> (W == 0).sum(axis=0).tolist()
    [2, 2, 2]
    """
    sparsity = check_number("sparse", "sparsity", sparsity, low=0, high=1, high_open=True)
    std = check_number("sparse", "std", std, low=0)

    def sample(rng: Generator, shape: Shape, fan_in: float, fan_out: float) -> np.ndarray:
        _require_ndim("sparse", shape, exact=2)
        rows = shape[0]
        num_zeros = math.ceil(sparsity * rows)
        W = rng.standard_normal(shape) * std
        if num_zeros:
            keys = rng.uniform(0.0, 1.0, shape)
            np.put_along_axis(W, np.argsort(keys, axis=0)[:num_zeros], 0.0, axis=0)
        return W

    return _make(sparse, sample, {"sparsity": sparsity, "std": std}, bias="zeros")


def _zero_matrix(out: int, n_in: int) -> np.ndarray:
    if out <= n_in:
        return np.eye(out, n_in)  # identity, or partial identity when narrowing
    m = (out - 1).bit_length()  # ceil(log2(out)) in exact integer arithmetic
    c = 2.0 ** (-(m - 1) / 2)
    return c * hadamard(2**m, dtype=np.float64)[:out, :n_in]


@_register(
    "zero_hadamard",
    aliases=("zero_init", "ZerO"),
    formula="W = I (out = in), partial I (out < in), 2^(-(m-1)/2) H_m[:out, :in] (out > in)",
    reference="Zhao, Schäfer & Anandkumar 2022, ZerO Initialization (TMLR), Algorithms 1-2",
)
def zero_hadamard() -> Initializer:
    """ZerO: deterministic initialization with only zeros and ones (up to one scale factor).

    Algorithm 1 of Zhao et al. for a weight of shape (out, in):

    - ``out == in``: the identity;
    - ``out < in``: the partial identity (ones on the main diagonal; the first ``out`` inputs
      pass through);
    - ``out > in``: ``c * I* H_m I*``, i.e. ``c * H_m[:out, :in]``, the top-left block of the
      ``2^m x 2^m`` Sylvester Hadamard matrix (``scipy.linalg.hadamard``), with
      ``m = ceil(log2(out))`` and ``c = 2^(-(m-1)/2)``.

    A convolution kernel (out, in, k1, k2, ...) with odd sizes gets that matrix at its spatial
    centre and zeros elsewhere (Algorithm 2). Takes ``rng`` but draws nothing; the bias is zero.

    Returns
    -------
    Initializer

    Raises
    ------
    ValueError
        When called with a 1-D shape or a kernel with an even receptive size.

    Notes
    -----
    Normalization: initlab uses the paper's ``c = 2^(-(m-1)/2)`` (Algorithm 1, TMLR 2022), so
    every column of ``c H_m`` has squared norm ``2^m c^2 = 2``. The authors' example notebook
    (github.com/jiaweizzhao/ZerO-initialization, ``example_mnist.ipynb``) divides by
    ``2^(m/2)`` instead, which makes ``H_m`` orthonormal and is ``1/sqrt(2)`` times the
    paper's; we follow the published algorithm, the citable definition. When ``out`` is a power
    of two the columns are orthogonal with equal norms sqrt(2); otherwise rows of ``H_m`` are
    dropped and they are only approximately so.

    References
    ----------
    J. Zhao, F. Schäfer and A. Anandkumar, "ZerO Initialization: Initializing Neural Networks
    with only Zeros and Ones", Transactions on Machine Learning Research, 2022.

    Examples
    --------
    >>> W = zero_hadamard()(np.random.default_rng(0), (4, 2))  # m = 2, c = 2^(-1/2)
    >>> np.sign(W).tolist()
    [[1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0]]
    >>> bool(np.all(np.abs(W) == 2**-0.5))
    True
    >>> zero_hadamard()(np.random.default_rng(0), (2, 3)).tolist()  # narrowing: partial identity
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """

    def sample(rng: Generator, shape: Shape, fan_in: float, fan_out: float) -> np.ndarray:
        _require_ndim("zero_hadamard", shape)
        M = _zero_matrix(shape[0], shape[1])
        if len(shape) == 2:
            return M
        if any(k % 2 == 0 for k in shape[2:]):
            raise ValueError(
                "The zero_hadamard initializer needs odd kernel sizes (it places the matrix at "
                f"the kernel's centre). Got shape {shape} instead."
            )
        K = np.zeros(shape)
        K[(slice(None), slice(None), *(k // 2 for k in shape[2:]))] = M
        return K

    return _make(zero_hadamard, sample, {}, bias="zeros")


# --------------------------------------------------------------------------------------------
# Framework defaults
# --------------------------------------------------------------------------------------------


@_register(
    "torch_linear",
    formula="W, b ~ U(±1 / sqrt(fan_in))",
    reference="torch.nn.Linear.reset_parameters (kaiming_uniform_(a=sqrt(5)))",
    draws_bias=True,
)
def torch_linear() -> Initializer:
    """PyTorch's ``nn.Linear`` default: weights and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    PyTorch draws the weight with ``kaiming_uniform_(a=sqrt(5))``, whose bound
    ``sqrt(3) sqrt(2 / (1 + 5)) / sqrt(fan_in)`` is ``1 / sqrt(fan_in)``, and the bias with
    the same bound, ``fan_in`` taken from the weight. A std of ``1 / sqrt(3 fan_in)``: a third
    of LeCun's variance. ``draws_bias`` is True.

    Returns
    -------
    Initializer

    References
    ----------
    PyTorch ``torch.nn.Linear.reset_parameters``; pytorch/pytorch issue #57109.

    Examples
    --------
    >>> init = torch_linear()
    >>> b = init.bias(np.random.default_rng(0), (3, 4))
    >>> bool(np.abs(b).max() <= 0.5), init.draws_bias
    (True, True)
    """

    def sample(rng: Generator, shape: Shape, fan_in: float, fan_out: float) -> np.ndarray:
        bound = 1.0 / math.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape)

    return _make(torch_linear, sample, {})


@_register(
    "keras_dense",
    formula="W ~ U(±sqrt(6 / (fan_in + fan_out))), b = 0",
    reference="keras.layers.Dense defaults (GlorotUniform, Zeros)",
)
def keras_dense() -> Initializer:
    """Keras's ``Dense`` default: ``glorot_uniform`` weights and a zero bias.

    Returns
    -------
    Initializer

    References
    ----------
    Keras ``keras.layers.Dense(kernel_initializer="glorot_uniform", bias_initializer="zeros")``.

    Examples
    --------
    >>> keras_dense().bias(np.random.default_rng(0), (2, 5)).tolist()
    [0.0, 0.0]
    """
    return _make(
        keras_dense, _variance_scaling_sampler(1.0, "fan_avg", "uniform"), {}, bias="zeros"
    )


@_register(
    "sklearn_mlp",
    formula="W, b ~ U(±sqrt(6 / (fan_in + fan_out))); 2 instead of 6 for logistic",
    reference="sklearn.neural_network.MLPClassifier._init_coef",
    draws_bias=True,
)
def sklearn_mlp(activation: str = "relu") -> Initializer:
    """scikit-learn's ``MLPClassifier`` default, reproducing its draws bit for bit.

    ``bound = sqrt(factor / (fan_in + fan_out))`` with ``factor = 6`` (Glorot uniform), or
    ``factor = 2`` when the activation is logistic (sigmoid); weights and bias
    U(-bound, bound). To match scikit-learn's random stream, a 2-D weight is drawn as
    ``rng.uniform(-bound, bound, (fan_in, fan_out))`` and transposed to (out, in); the bias is
    ``rng.uniform(-bound, bound, fan_out)``. Drawing, layer after layer, ``W = init(rng, (out,
    in))`` then ``b = init.bias(rng, (out, in))`` from ``np.random.RandomState(seed)`` gives
    exactly ``MLPClassifier(random_state=seed)``'s ``coefs_[l].T`` and ``intercepts_[l]``.
    ``draws_bias`` is True.

    Parameters
    ----------
    activation : str, default "relu"
        The network's activation (scikit-learn's names identity, logistic, tanh, relu, or any
        initlab activation); only logistic/sigmoid changes the bound. A model fills this
        parameter with its own activation when the user's spec leaves it unset
        (``MLPClassifier(activation="logistic", init="sklearn_mlp")`` uses factor 2; see
        ``initlab.engine.resolve_initializer``); an explicit ``activation=`` in the spec wins.

    Returns
    -------
    Initializer

    References
    ----------
    scikit-learn ``sklearn/neural_network/_multilayer_perceptron.py``, ``_init_coef``.

    Examples
    --------
    >>> init = sklearn_mlp(activation="logistic")
    >>> W = init(np.random.RandomState(0), (3, 2))
    >>> bound = np.sqrt(2 / (2 + 3))
    >>> bool(np.array_equal(W, np.random.RandomState(0).uniform(-bound, bound, (2, 3)).T))
    True
    """
    act = _resolve_nonlinearity(activation, "activation", "sklearn_mlp")
    factor = 2.0 if act.name == "sigmoid" else 6.0

    def sample(rng: Generator, shape: Shape, fan_in: float, fan_out: float) -> np.ndarray:
        bound = math.sqrt(factor / (fan_in + fan_out))
        if len(shape) == 2:
            return rng.uniform(-bound, bound, (shape[1], shape[0])).T
        return rng.uniform(-bound, bound, shape)

    return _make(sklearn_mlp, sample, {"activation": _as_spec(activation, act)})


@_register(
    "flax_dense",
    formula="W ~ N(0, 1 / fan_in) truncated at ±2 std (std / 0.8796), b = 0",
    reference="flax.linen.Dense defaults (jax.nn.initializers.lecun_normal, zeros)",
)
def flax_dense() -> Initializer:
    """Flax's ``Dense`` default: JAX's ``lecun_normal`` weights and a zero bias.

    JAX's ``lecun_normal`` is ``variance_scaling(1, "fan_in", "truncated_normal")``: a normal
    truncated at ±2 std whose std is corrected to exactly ``1 / sqrt(fan_in)`` (initlab's own
    :func:`lecun_normal` is untruncated).

    Returns
    -------
    Initializer

    References
    ----------
    Flax ``flax.linen.Dense``; JAX ``jax.nn.initializers.lecun_normal``.

    Examples
    --------
    >>> W = flax_dense()(np.random.default_rng(0), (50, 4))
    >>> bool(np.abs(W).max() <= 2 * 0.5 / 0.87962566103423978)
    True
    """
    return _make(
        flax_dense, _variance_scaling_sampler(1.0, "fan_in", "truncated_normal"), {}, bias="zeros"
    )


@_register(
    "lsuv",
    formula="orthogonal, then each layer scaled on a data batch until Var(output) = 1 ± tol",
    reference="Mishkin & Matas 2016, All you need is a good init (ICLR)",
    data_dependent=True,
)
def lsuv(tol: float = 0.1, max_iter: int = 10) -> Initializer:
    """Layer-sequential unit-variance (LSUV) initialization; data dependent.

    The algorithm (Mishkin & Matas, Algorithm 1):

    1. Initialize every weight with an orthonormal matrix (:func:`orthogonal` with gain 1) and
       every bias with zeros.
    2. For each layer in order, first to last: pass a batch of training data forward, take
       the variance ``v`` of the layer's pre-activation output ``z = a W^T + b`` over the
       batch, and divide ``W`` by ``sqrt(v)``; repeat until ``|v - 1| < tol`` or ``max_iter``
       passes (each layer is scaled with the earlier ones already fixed).

    As a plain initializer this draws step 1 only. The rescaling needs data, so a model does
    it: ``MLPClassifier(init="lsuv")`` applies it at ``fit``, on the first batch, reading
    ``init.params["tol"]`` and ``init.params["max_iter"]``. ``data_dependent`` is True.

    Parameters
    ----------
    tol : float, default 0.1
        Tolerance on the output variance, ``> 0`` (the paper's Tol_var).
    max_iter : int, default 10
        Rescaling passes per layer, ``>= 1`` (the paper's T_max).

    Returns
    -------
    Initializer

    References
    ----------
    D. Mishkin and J. Matas, "All you need is a good init", ICLR 2016.

    Examples
    --------
    >>> init = get_initializer("lsuv(tol=0.05)")
    >>> init.data_dependent, init.params
    (True, {'tol': 0.05, 'max_iter': 10})
    """
    tol = check_number("lsuv", "tol", tol, low=0, low_open=True)
    max_iter = check_number("lsuv", "max_iter", max_iter, integer=True, low=1)
    return _make(
        lsuv, _orthogonal_sampler(1.0, "lsuv"), {"tol": tol, "max_iter": max_iter}, bias="zeros"
    )


# Plain aliases, as in JAX.
xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_normal = he_normal
kaiming_uniform = he_uniform


# --------------------------------------------------------------------------------------------
# Specs, listing, registration
# --------------------------------------------------------------------------------------------


def get_initializer(spec: str | Initializer | Callable[..., Any]) -> Initializer:
    """The initializer named by ``spec``.

    Parameters
    ----------
    spec : str, Initializer or callable
        A spec string (``"he_normal"``, ``"normal(std=10)"``,
        ``"variance_scaling(scale=2, mode=fan_out)"``, any alias), an :class:`Initializer`
        (returned as is) or a plain callable ``f(rng, shape, dtype)`` (wrapped, named
        ``f.__name__``). ``"auto"`` depends on the network's activation and is resolved by the
        model (:func:`auto_initializer`).

    Returns
    -------
    Initializer

    Raises
    ------
    ValueError
        For an unknown name or parameter (the message lists what is valid) and for a bad
        parameter value (the message names the parameter, the value and what is allowed).

    Examples
    --------
    >>> get_initializer("kaiming_normal(mode=fan_out)")
    Initializer("he_normal(mode='fan_out')")
    >>> get_initializer("normal(std=-1)")
    Traceback (most recent call last):
        ...
    ValueError: The 'std' parameter of normal must be a float >= 0. Got -1 instead.
    """
    if isinstance(spec, Initializer):
        return spec
    if isinstance(spec, str):
        return INITIALIZERS.build(spec)
    if callable(spec):
        return Initializer.from_callable(spec)
    raise ValueError(
        "The 'init' parameter must be a spec string such as 'he_normal', an Initializer or a "
        f"callable f(rng, shape, dtype). Got {spec!r} instead."
    )


def list_initializers() -> list[dict[str, Any]]:
    """Every registered scheme, as data (what ``initlab inits`` prints).

    Returns
    -------
    list of dict
        One per scheme, in registration order, with keys ``name``, ``aliases`` (list),
        ``formula``, ``reference``, ``parameters`` (dict of defaults; ``"<required>"`` for a
        parameter without one), ``data_dependent`` and ``draws_bias``.

    Examples
    --------
    >>> row = next(r for r in list_initializers() if r["name"] == "he_normal")
    >>> row["aliases"], row["parameters"]
    (['kaiming_normal'], {'a': 0.0, 'mode': 'fan_in', 'nonlinearity': 'leaky_relu'})
    """
    rows = []
    for entry in INITIALIZERS.entries():
        parameters = {
            p.name: "<required>" if p.default is p.empty else p.default
            for p in inspect.signature(entry.factory).parameters.values()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        }
        rows.append(
            {
                "name": entry.name,
                "aliases": list(entry.aliases),
                "formula": entry.formula,
                "reference": entry.reference,
                "parameters": parameters,
                "data_dependent": bool(entry.extra.get("data_dependent", False)),
                "draws_bias": bool(entry.extra.get("draws_bias", False)),
            }
        )
    return rows


def register_initializer(
    name: str,
    factory: Callable[..., Any],
    *,
    aliases: tuple[str, ...] = (),
    formula: str = "",
    reference: str = "",
    overwrite: bool = False,
) -> None:
    """Register a user's own scheme under ``name``, usable in every spec string.

    Parameters
    ----------
    name : str
        A Python identifier (spec strings are parsed as Python calls).
    factory : callable
        ``factory(**params)`` returns ``init(rng, shape, dtype) -> array`` (or an
        :class:`Initializer`). Its keyword parameters are the spec's parameters; those without
        a default are required. The init must draw only from ``rng``; it is wrapped so that
        each call returns a new array of the requested dtype, and its bias is ``init`` drawn at
        shape ``(out,)``.
    aliases : tuple of str, optional
    formula, reference : str, optional
        Shown by :func:`list_initializers`.
    overwrite : bool, default False
        Replace an existing name or alias; otherwise that raises ValueError.

    Raises
    ------
    ValueError
        If ``name`` is not an identifier, ``factory`` is not callable, or a name is taken.

    Examples
    --------
    >>> def scaled_sign(scale=0.1):
    ...     def init(rng, shape, dtype):
    ...         return scale * np.sign(rng.standard_normal(shape))
    ...     return init
    >>> register_initializer("scaled_sign", scaled_sign, formula="W = scale sign(N(0, 1))")
    >>> init = get_initializer("scaled_sign(scale=0.5)")
    >>> init
    Initializer('scaled_sign(scale=0.5)')
    >>> np.abs(init(np.random.default_rng(0), (2, 2))).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    for key in (name, *aliases):
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(
                f"An initializer name must be a Python identifier such as 'my_init'. "
                f"Got {key!r} instead."
            )
    if not callable(factory):
        raise ValueError(
            f"The 'factory' parameter must be callable: factory(**params) -> init. "
            f"Got {factory!r} instead."
        )
    signature = inspect.signature(factory)
    defaults = _defaults(factory)

    @functools.wraps(factory)  # keeps the signature, which the registry checks specs against
    def build(*args: Any, **kwargs: Any) -> Initializer:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        made = factory(*bound.args, **bound.kwargs)
        if isinstance(made, Initializer):
            return made
        if not callable(made):
            raise ValueError(
                f"The factory of initializer {name!r} must return a callable "
                f"init(rng, shape, dtype). Got {made!r} instead."
            )
        init = Initializer.from_callable(made, name)
        init.params = dict(bound.arguments)
        init._defaults = defaults
        init._from_spec = True
        return init

    INITIALIZERS.register(
        name,
        build,
        aliases=tuple(aliases),
        formula=formula,
        reference=reference,
        overwrite=overwrite,
        draws_bias=False,
        data_dependent=False,
    )


# --------------------------------------------------------------------------------------------
# Gains
# --------------------------------------------------------------------------------------------

# PyTorch's names for layers without a nonlinearity (gain 1).
_TORCH_LINEAR = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)

# E[phi(z)^2] is split at 0, where the rectifier family has its kink, and each half line is
# integrated by Gauss-Legendre on [0, 12]: the Gaussian mass beyond 12 (z^2 phi(z) ~ 1e-30) is
# negligible, and each half's integrand is smooth, so 100 nodes give ~1e-15 for every
# activation initlab ships. (Gauss-Hermite over the whole line converges only like n^-2 for
# ELU and SELU, whose second derivative jumps at 0: 300 nodes still err by 3e-6.)
_QUAD_NODES = 100
_QUAD_CUTOFF = 12.0


@functools.cache
def _half_line_rule() -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(_QUAD_NODES)
    z = (x + 1.0) * (_QUAD_CUTOFF / 2)
    w = w * (_QUAD_CUTOFF / 2) * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


def _gaussian_second_moment(f: Callable[[np.ndarray], np.ndarray]) -> float:
    """E[f(z)^2] for z ~ N(0, 1)."""
    z, w = _half_line_rule()
    return float(np.sum(w * (f(z) ** 2 + f(-z) ** 2)))


def _activation_names() -> list[str]:
    names = set(_TORCH_LINEAR)
    for entry in ACTIVATIONS.entries():
        names.update((entry.name, *entry.aliases))
    return sorted(names)


def _as_spec(nonlinearity: Any, act: Activation) -> str:
    return nonlinearity if isinstance(nonlinearity, str) else act.spec


def _is_bare(spec: Any, name: str) -> bool:
    return isinstance(spec, str) and spec.strip() == name


def _resolve_nonlinearity(nonlinearity: Any, param: str, where: str) -> Activation:
    """The Activation for a name or spec; PyTorch's linear-layer names map to linear."""
    if isinstance(nonlinearity, Activation):
        return nonlinearity
    if isinstance(nonlinearity, str) and nonlinearity.strip() in _TORCH_LINEAR:
        return get_activation("linear")
    name = None
    if isinstance(nonlinearity, str):
        try:
            name = parse_spec(nonlinearity, what=param)[0]
        except ValueError:
            name = None
    if name is None or name not in ACTIVATIONS:
        raise ValueError(
            f"The {param!r} parameter of {where} must be one of "
            f"{', '.join(_activation_names())} (or a spec such as 'leaky_relu(slope=0.2)'). "
            f"Got {nonlinearity!r} instead."
        )
    return get_activation(nonlinearity)  # unknown parameters raise here, listing valid ones


def calculate_gain(nonlinearity: str | Activation, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: PyTorch's table, extended to every activation.

    ==========================================  =====================================
    nonlinearity                                gain
    ==========================================  =====================================
    linear, conv{1,2,3}d, conv_transpose*       1
    sigmoid                                     1
    tanh                                        5 / 3
    relu                                        sqrt(2)
    leaky_relu                                  sqrt(2 / (1 + negative_slope^2))
    selu                                        3 / 4
    any other activation initlab knows          1 / sqrt(E[phi(z)^2]), z ~ N(0, 1)
    ==========================================  =====================================

    Parameters
    ----------
    nonlinearity : str or Activation
        A PyTorch name, an initlab activation name or alias (``"logistic"``, ``"swish"``) or
        spec (``"leaky_relu(slope=0.2)"``, ``"elu(alpha=0.5)"``).
    param : float, optional
        The negative slope of the bare name ``"leaky_relu"`` (default 0.01), as in PyTorch;
        ignored by other nonlinearities.

    Returns
    -------
    float
        Equal to ``torch.nn.init.calculate_gain`` for every name in PyTorch's table. For
        gelu, silu, elu, softplus, ...: :func:`variance_preserving_gain`.

    Raises
    ------
    ValueError
        For an unknown nonlinearity (listing the valid names) or a non-numeric ``param``.

    Examples
    --------
    >>> calculate_gain("tanh")
    1.6666666666666667
    >>> calculate_gain("leaky_relu", 0.2) == calculate_gain("leaky_relu(slope=0.2)")
    True
    >>> round(calculate_gain("gelu"), 5)
    1.53353
    """
    act = _resolve_nonlinearity(nonlinearity, "nonlinearity", "calculate_gain")
    if act.name in ("linear", "sigmoid"):
        return 1.0
    if act.name == "tanh":
        return 5.0 / 3
    if act.name == "relu":
        return math.sqrt(2.0)
    if act.name == "leaky_relu":
        slope = act.params["slope"]
        if param is not None:
            if not _is_bare(nonlinearity, "leaky_relu"):
                raise ValueError(
                    "The 'param' parameter of calculate_gain must be None when the "
                    f"nonlinearity spec {act.spec!r} gives its slope. Got {param!r} instead."
                )
            slope = check_number("calculate_gain", "param", param)
        return math.sqrt(2.0 / (1 + slope**2))
    if act.name == "selu":
        return 3.0 / 4  # PyTorch's empirical value (pytorch/pytorch#50664)
    return variance_preserving_gain(act)


def variance_preserving_gain(activation: str | Activation) -> float:
    """``1 / sqrt(E[phi(z)^2])`` for z ~ N(0, 1), by numerical quadrature.

    The gain g for which ``W ~ N(0, g^2 / fan_in)`` keeps the second moment of the
    pre-activations constant from layer to layer when they are standard normal
    (``E[z_next^2] = g^2 E[phi(z)^2]``). For relu it is sqrt(2) (He); for linear 1; for selu 1
    (its fixed point). For tanh it is about 1.5925, not PyTorch's 5/3, and for sigmoid about
    1.846, not 1: PyTorch's table values are rules of thumb, this is the exact one-layer
    second-moment condition; :func:`calculate_gain` keeps PyTorch's values where PyTorch has
    them.

    Parameters
    ----------
    activation : str or Activation
        Any activation name or spec that :func:`calculate_gain` accepts.

    Returns
    -------
    float

    Notes
    -----
    ``E[phi(z)^2] = int_0^inf (phi(z)^2 + phi(-z)^2) N(z; 0, 1) dz`` by 100-node
    Gauss-Legendre quadrature on [0, 12]. Splitting at 0 keeps the accuracy (about 1e-15,
    checked against adaptive quadrature) for activations with a kink there (relu, leaky_relu,
    elu, selu), where Gauss-Hermite quadrature over the whole line converges only
    algebraically; the tail beyond 12 weighs less than 1e-30.

    Examples
    --------
    >>> round(variance_preserving_gain("relu") ** 2, 12)
    2.0
    >>> round(variance_preserving_gain("tanh"), 4)
    1.5925
    """
    act = _resolve_nonlinearity(activation, "activation", "variance_preserving_gain")
    return 1.0 / math.sqrt(_gaussian_second_moment(act.f))


_AUTO = {
    "relu": "he_normal",
    "elu": "he_normal",
    "gelu": "he_normal",
    "silu": "he_normal",
    "softplus": "he_normal",
    "tanh": "glorot_uniform",
    "sigmoid": "glorot_uniform",
    "linear": "glorot_uniform",
    "selu": "lecun_normal",
}


def auto_initializer(activation: str | Activation) -> str:
    """The spec ``init="auto"`` resolves to for a network with ``activation``.

    He for the ReLU family (relu, elu, gelu, silu, softplus: ``"he_normal"``; leaky_relu:
    ``"he_normal(a=SLOPE)"`` with its slope), Glorot for tanh, sigmoid and linear
    (``"glorot_uniform"``), LeCun for selu (``"lecun_normal"``).

    Parameters
    ----------
    activation : str or Activation
        Name, alias or spec (``"leaky_relu(slope=0.2)"``).

    Returns
    -------
    str
        A spec string for :func:`get_initializer`.

    Raises
    ------
    ValueError
        For an unknown activation, or one without a rule (a user-registered activation).

    Examples
    --------
    >>> auto_initializer("relu"), auto_initializer("logistic"), auto_initializer("selu")
    ('he_normal', 'glorot_uniform', 'lecun_normal')
    >>> auto_initializer("leaky_relu(slope=0.2)")
    'he_normal(a=0.2)'
    """
    act = _resolve_nonlinearity(activation, "activation", "auto_initializer")
    if act.name == "leaky_relu":
        return format_spec("he_normal", {"a": act.params["slope"]})
    if act.name not in _AUTO:
        raise ValueError(
            f"The 'activation' parameter of auto_initializer has no automatic scheme for "
            f"{act.spec!r}; rules exist for {', '.join(sorted([*_AUTO, 'leaky_relu']))}. "
            "Pass an explicit init instead."
        )
    return _AUTO[act.name]
