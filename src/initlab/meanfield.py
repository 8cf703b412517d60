"""Mean-field theory of signal propagation in deep random networks: order, chaos, depth scales.

A fully connected network with weights ``W_ij ~ N(0, sigma_w^2 / N_in)`` and biases
``b_i ~ N(0, sigma_b^2)`` computes, layer after layer,

    z[l] = W[l] phi(z[l-1]) + b[l].

When the layers are wide, the pre-activations of one input are Gaussian with a variance ("length")
``q_l`` that obeys a deterministic recursion, the *length map*, and the correlation ``c_l`` of two
inputs obeys the *correlation map* (Poole et al., 2016; Schoenholz et al., 2017)::

    q_l = sigma_w^2 E_z[phi(sqrt(q_{l-1}) z)^2] + sigma_b^2,                   z ~ N(0, 1)
    c_l = (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q_l,
          u1 = sqrt(q) z1,  u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2),              z1, z2 ~ N(0, 1)

with ``q = q_{l-1}``, ``c = c_{l-1}``. The length converges to a fixed point ``q*``; there

    chi_1 = sigma_w^2 E_z[phi'(sqrt(q*) z)^2]

is the slope of the correlation map at ``c = 1`` and the factor by which the squared gradient norm
grows per layer going backwards. ``chi_1 < 1``: the *ordered* phase, nearby inputs converge
(``c -> 1``) and gradients vanish; ``chi_1 > 1``: the *chaotic* phase, nearby inputs decorrelate
to ``c* < 1`` and gradients explode; ``chi_1 = 1``: the *edge of chaos*, where the depth scale
``xi_c`` over which correlations are remembered diverges and arbitrarily deep networks train.

All Gaussian expectations are computed by quadrature (no sampling): 1-D ones with the rule of
:func:`initlab.initializers.variance_preserving_gain` (split at 0, where the rectifiers have their
kink), 2-D ones nested in ``z1`` and ``z2`` with the inner line split where ``u2`` changes sign.
Both are accurate to about 1e-14 for every activation initlab ships (checked against closed forms
and adaptive quadrature); the 2-D rule loses digits only for a derivative with a jump (relu's
step) at c within ~1e-3 of 1 (3e-12 at c = 0.999).

References
----------
.. [1] S. S. Schoenholz, J. Gilmer, S. Ganguli, J. Sohl-Dickstein, "Deep Information
   Propagation", ICLR 2017, arXiv:1611.01232. Section 2 (length map, correlation map, chi_1)
   and Section 3 (depth scales xi_q and xi_c).
.. [2] B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein, S. Ganguli, "Exponential expressivity in
   deep neural networks through transient chaos", NeurIPS 2016, arXiv:1606.05340.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq

from . import engine
from . import initializers as _inits
from ._random import check_random_state
from ._validation import check_number, check_spec
from .activations import Activation, get_activation
from .initializers import _QUAD_CUTOFF, _QUAD_NODES, _half_line_rule

__all__ = [
    "MeanField",
    "PhaseDiagram",
    "Simulation",
    "analyze",
    "chi_1",
    "chi_c",
    "cmap",
    "critical_sigma_w",
    "depth_scales",
    "fixed_point",
    "phase_diagram",
    "qmap",
    "simulate",
]

# |chi - 1| below this is the edge of chaos: the quadrature gives chi_1 to ~1e-14 and
# critical_sigma_w puts it at 1 to ~1e-13, so analyze(critical_sigma_w(...)) reads "critical".
_CRITICAL_ATOL = 1e-9
# q = 0 and q = inf are evaluated as the limits q -> 0+ and q -> inf. At q = 0 exactly every
# u = sqrt(q) z is 0 and a derivative would be read at the kink (relu'(0) = 0 by convention)
# instead of its one-sided limits; at 1e-300 it is not (tanh(1e-150 z) = 1e-150 z exactly).
# At q = 1e200 a rectifier-like activation has reached its asymptotes (errors ~ 1e-100).
_Q_TINY = 1e-300
_Q_HUGE = 1e200
# Beyond this the length map is said to diverge (fixed_point returns inf); a length that keeps
# shrinking below _Q_ZERO converges to 0.
_Q_MAX = 1e100
_Q_ZERO = 1e-250


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _check(
    owner: str, activation: Any, sigma_w: Any, sigma_b: Any
) -> tuple[Activation, float, float]:
    """The activation, sigma_w^2 and sigma_b^2, checked."""
    act = check_spec(owner, "activation", activation, get_activation)
    sigma_w = check_number(owner, "sigma_w", sigma_w, low=0, low_open=True)
    sigma_b = check_number(owner, "sigma_b", sigma_b, low=0)
    return act, float(sigma_w) ** 2, float(sigma_b) ** 2


def _check_q(owner: str, q: Any, *, allow_inf: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(q, dtype=float)
    except (TypeError, ValueError):
        arr = np.asarray(np.nan)
    ok = arr.size > 0 and not np.isnan(arr).any() and (allow_inf or np.isfinite(arr).all())
    if isinstance(q, bool) or not ok or (arr < 0).any():
        what = "a float >= 0 (inf allowed)" if allow_inf else "a finite float >= 0"
        raise ValueError(
            f"The 'q' parameter of {owner} must be {what} or an array of them. Got {q!r} instead."
        )
    return arr


def _check_c(owner: str, c: Any) -> np.ndarray:
    try:
        arr = np.asarray(c, dtype=float)
    except (TypeError, ValueError):
        arr = np.asarray(np.nan)
    if (
        isinstance(c, bool)
        or arr.size == 0
        or not np.isfinite(arr).all()
        or (np.abs(arr) > 1).any()
    ):
        raise ValueError(
            f"The 'c' parameter of {owner} must be a float in [-1, 1] (or an array of them). "
            f"Got {c!r} instead."
        )
    return arr


def _scalar_or_array(x: np.ndarray) -> float | np.ndarray:
    return float(x) if x.ndim == 0 else x


# --------------------------------------------------------------------------------------------
# Gaussian expectations
# --------------------------------------------------------------------------------------------


def _sqrt_q(q: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip(q, _Q_TINY, _Q_HUGE))


def _phi(act: Activation, u: np.ndarray) -> np.ndarray:
    return np.asarray(act.f(u), dtype=float)


def _dphi(act: Activation, u: np.ndarray) -> np.ndarray:
    # ReLU's derivative is a boolean mask: make it a number before squaring or summing.
    return np.asarray(act.df(u, act.f(u)), dtype=float)


def _mean(g: Callable[[np.ndarray, np.ndarray], np.ndarray], q: np.ndarray) -> np.ndarray:
    """E_z[g(sqrt(q) z, z)], z ~ N(0, 1), for every q (any shape), by the split-at-0 rule.

    ``initializers._half_line_rule`` integrates each half line by Gauss-Legendre on [0, 12];
    the kinks of the rectifiers (and their derivatives' jumps) sit at u = 0, i.e. z = 0, for
    every q.
    """
    z, w = _half_line_rule()
    z = np.concatenate([z, -z])
    w = np.concatenate([w, w])
    s = _sqrt_q(np.asarray(q, dtype=float))[..., None]
    with np.errstate(over="ignore", under="ignore"):
        return np.sum(w * g(s * z, z), axis=-1)


@functools.cache
def _legendre() -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(_QUAD_NODES)


def _mean2(
    g1: Callable[[np.ndarray], np.ndarray],
    g2: Callable[[np.ndarray], np.ndarray],
    q: float,
    c: np.ndarray,
) -> np.ndarray:
    """E[g1(u1) g2(u2)], u1 = sqrt(q) z1, u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2), for every c.

    Nested quadrature in the independent normals z1 (outer, split at 0 where u1 changes sign)
    and z2 (inner, split at z2 = -c z1 / sqrt(1 - c^2) where u2 changes sign, then
    Gauss-Legendre on each side within [-12, 12]). Splitting both lines where the integrand has
    its kinks keeps the ~1e-14 accuracy of the 1-D rule for relu and for relu's step derivative
    (checked against the arc-cosine kernel); a fixed split at 0 would converge only
    algebraically.
    """
    z, w = _half_line_rule()
    z1 = np.concatenate([z, -z])  # (n1,)
    w1 = np.concatenate([w, w])
    x, wx = _legendre()
    L = _QUAD_CUTOFF
    c = np.asarray(c, dtype=float)[..., None]  # (..., 1)
    s = np.sqrt(np.clip(1.0 - c * c, 0.0, 1.0))
    sq = float(_sqrt_q(np.asarray(q, dtype=float)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        # At c = +-1 (s = 0) the kink is at +-inf: all of [-12, 12] lies on one side.
        kink = np.clip(np.where(s > 0, -c * z1 / s, -np.sign(c * z1) * np.inf), -L, L)
        lo = np.stack([np.full_like(kink, -L), kink], axis=-1)  # (..., n1, 2) panels
        hi = np.stack([kink, np.full_like(kink, L)], axis=-1)
        half = (hi - lo) / 2
        z2 = (lo + half)[..., None] + half[..., None] * x  # (..., n1, 2, n2)
        w2 = half[..., None] * wx * np.exp(-0.5 * z2 * z2) / math.sqrt(2.0 * math.pi)
        u2 = sq * (c[..., None, None] * z1[:, None, None] + s[..., None, None] * z2)
        inner = np.sum(w2 * g2(u2), axis=(-2, -1))  # (..., n1)
        return np.sum(w1 * g1(sq * z1) * inner, axis=-1)


# --------------------------------------------------------------------------------------------
# The maps and their slopes (unchecked cores, on sigma_w^2 and sigma_b^2)
# --------------------------------------------------------------------------------------------


def _qmap_limit(act: Activation, sw2: float, sb2: float, q: np.ndarray) -> np.ndarray:
    # The length map with q = 0 read as q = 1e-300 (see _sqrt_q), as the covariance is in _cmap.
    return sw2 * _mean(lambda u, z: _phi(act, u) ** 2, q) + sb2


def _qmap(act: Activation, sw2: float, sb2: float, q: np.ndarray) -> np.ndarray:
    # At q = 0 exactly the value phi(0)^2, not that at q = 1e-300: q = 0 must stay a fixed point
    # (tanh, relu with sigma_b = 0) rather than become a tiny positive start.
    q = np.asarray(q, dtype=float)
    out = _qmap_limit(act, sw2, sb2, q)
    return np.where(q == 0, sw2 * float(_phi(act, np.zeros(1))[0]) ** 2 + sb2, out)


def _qmap_slope(act: Activation, sw2: float, q: np.ndarray) -> np.ndarray:
    # d/dq sigma_w^2 E[phi(sqrt(q) z)^2] = sigma_w^2 E[z phi(u) phi'(u)] / sqrt(q), u = sqrt(q) z,
    # which Gaussian integration by parts (E[z g(z)] = E[g'(z)]) turns into the paper's
    # chi_1 + sigma_w^2 E[phi''(u) phi(u)] without needing phi'' (a delta for relu).
    s = _sqrt_q(np.asarray(q, dtype=float))
    return sw2 * _mean(lambda u, z: z * _phi(act, u) * _dphi(act, u), q) / s


def _chi_1(act: Activation, sw2: float, q: np.ndarray) -> np.ndarray:
    return sw2 * _mean(lambda u, z: _dphi(act, u) ** 2, q)


def _cmap(act: Activation, sw2: float, sb2: float, c: np.ndarray, q: float) -> np.ndarray:
    # Covariance over variance, both in the limit q -> 0+ at q = 0: a relu network's correlation
    # map is then the arc-cosine map, a tanh network's the identity (linear near 0).
    cov = sw2 * _mean2(act.f, act.f, q, c) + sb2
    return cov / _qmap_limit(act, sw2, sb2, np.asarray(q))


def _chi_c(act: Activation, sw2: float, c: np.ndarray, q: float) -> np.ndarray:
    return sw2 * _mean2(lambda u: _dphi(act, u), lambda u: _dphi(act, u), q, c)


def _depth_scale(slope: float) -> float:
    """-1 / log|slope|: the depth over which a deviation shrinking by ``slope`` per layer decays
    by e; inf at slope 1 (within the critical tolerance), 0 at slope 0."""
    if not np.isfinite(slope):
        return math.nan
    if abs(abs(slope) - 1.0) <= _CRITICAL_ATOL:
        return math.inf
    if slope == 0:
        return 0.0
    return -1.0 / math.log(abs(slope))


def _fixed_point(
    act: Activation, sw2: float, sb2: float, q0: float, tol: float, max_iter: int
) -> float:
    """The limit of q_{l+1} = qmap(q_l) from q0, by bracketing and Brent's method.

    The length map is increasing, so the iterates move monotonically from q0 towards the nearest
    fixed point in the direction of h(q0) = qmap(q0) - q0 and never pass it. The first trial
    point is the iterate qmap(q0) itself; later ones move away from q0 by factors that grow
    (x 2, 4, 8, ... of the previous one) until h changes sign; Brent's method then finds the
    root in that bracket. (Plain iteration converges like slope^l, which near slope 1 takes
    thousands of layers.) This assumes h has one sign change between q0 and that root, as it
    does for every activation initlab ships.
    """

    def h(q: float) -> float:
        return float(_qmap(act, sw2, sb2, np.asarray(q))) - q

    h0 = h(q0)
    f0 = q0 + h0
    if abs(h0) <= tol * max(q0, f0):
        return float(q0)
    prev, p = q0, f0
    factor = 2.0
    if h0 > 0:  # the length grows: search upwards
        while h(p) > 0:
            if p > _Q_MAX:
                return math.inf
            prev, p = p, p * factor
            factor *= 2.0
        lo, hi = prev, p
    else:  # the length shrinks: search downwards, towards 0
        while h(p) < 0:
            if p < _Q_ZERO:
                return 0.0
            prev, p = p, p / factor
            factor *= 2.0
        lo, hi = p, prev
    if h(lo) == 0:
        return float(lo)
    if h(hi) == 0:
        return float(hi)
    try:
        root = brentq(
            h, lo, hi, xtol=_Q_TINY, rtol=max(tol, 4 * np.finfo(float).eps), maxiter=max_iter
        )
    except RuntimeError:
        raise RuntimeError(
            f"fixed_point did not converge in {max_iter} iterations of Brent's method on the "
            f"bracket [{lo!r}, {hi!r}]; raise max_iter or tol."
        ) from None
    # A growing length that meets the diagonal tangentially (slope 1) is a marginal map that
    # grows without bound (relu at sigma_w^2 = 2, linear at sigma_w = 1, with a bias: q gains
    # about sigma_b^2 per layer); the crossing is rounding's (near sigma_b^2 / 1e-15).
    if h0 > 0 and abs(float(_qmap_slope(act, sw2, np.asarray(root))) - 1) <= _CRITICAL_ATOL:
        return math.inf
    return float(root)


def _correlation_fixed_point(
    act: Activation, sw2: float, sb2: float, q: float, chi1: float
) -> float:
    """The stable fixed point c* of the correlation map at q = q*.

    1 when chi_1 <= 1 (the ordered phase and the edge). Otherwise the correlation map, whose
    Taylor series in c has non-negative coefficients (its Hermite expansion), is increasing and
    convex on [0, 1] with cmap(0) >= 0 and slope chi_1 > 1 at 1: it crosses the diagonal exactly
    once in [0, 1), at c*. The bracket's upper end 1 - delta halves delta until
    cmap(1 - delta) < 1 - delta.
    """
    if chi1 <= 1.0 + _CRITICAL_ATOL:
        return 1.0

    def g(c: float) -> float:
        return float(_cmap(act, sw2, sb2, np.asarray(c), q)) - c

    if g(0.0) <= 0:
        return 0.0
    delta = 0.5
    while g(1.0 - delta) >= 0:
        delta /= 2
        if delta < 1e-12:  # indistinguishable from the edge of chaos
            return 1.0
    return float(brentq(g, 0.0, 1.0 - delta, xtol=1e-15, rtol=4 * np.finfo(float).eps))


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def qmap(
    q: float | np.ndarray, activation: str | Activation, sigma_w: float, sigma_b: float = 0.0
) -> float | np.ndarray:
    """The length map: the pre-activation variance of the next layer.

    ``q_l = sigma_w^2 E_z[phi(sqrt(q_{l-1}) z)^2] + sigma_b^2`` with z ~ N(0, 1) ([1]_ Section 2,
    after [2]_): the mean squared pre-activation of layer l of a wide random network whose layer
    l - 1 has mean squared pre-activation ``q_{l-1}``.

    Parameters
    ----------
    q : float or array of float
        Variance(s) ``q_{l-1}``, finite and ``>= 0``.
    activation : str or Activation
        Name or spec (``"tanh"``, ``"leaky_relu(slope=0.2)"``).
    sigma_w : float
        Weight scale, ``> 0``: ``W_ij ~ N(0, sigma_w^2 / fan_in)``.
    sigma_b : float, default 0.0
        Bias standard deviation, ``>= 0``: ``b_i ~ N(0, sigma_b^2)``.

    Returns
    -------
    float or ndarray
        ``q_l``, the shape of ``q``.

    Raises
    ------
    ValueError
        For an unknown activation, ``sigma_w <= 0``, ``sigma_b < 0`` or a negative ``q``.

    Examples
    --------
    >>> round(qmap(1.0, "relu", sigma_w=2**0.5), 12)        # He: E[relu(z)^2] = 1/2
    1.0
    >>> qmap(np.array([0.0, 1.0]), "linear", sigma_w=0.5, sigma_b=1.0).round(12).tolist()
    [1.0, 1.25]
    """
    act, sw2, sb2 = _check("qmap", activation, sigma_w, sigma_b)
    arr = _check_q("qmap", q)
    return _scalar_or_array(_qmap(act, sw2, sb2, arr))


def fixed_point(
    activation: str | Activation,
    sigma_w: float,
    sigma_b: float = 0.0,
    *,
    q0: float = 1.0,
    tol: float = 1e-12,
    max_iter: int = 200,
) -> float:
    """The fixed point ``q*`` the length map converges to from ``q0``.

    ``q* = lim_l q_l`` for ``q_{l+1} = qmap(q_l)``, ``q_0 = q0`` ([1]_ Section 2).

    Parameters
    ----------
    activation : str or Activation
    sigma_w : float
        ``> 0``.
    sigma_b : float, default 0.0
        ``>= 0``.
    q0 : float, default 1.0
        Starting variance, finite and ``>= 0``. It matters only where the map has several fixed
        points: with ``sigma_b = 0``, q = 0 is a fixed point of every activation with
        phi(0) = 0, and ``q0 = 0`` stays there.
    tol : float, default 1e-12
        Relative accuracy of ``q*``.
    max_iter : int, default 200
        Iterations of Brent's method.

    Returns
    -------
    float
        ``q*``, or ``inf`` when the length grows without bound (beyond 1e100): relu with
        ``sigma_w^2 > 2``, or ``sigma_w^2 = 2`` and ``sigma_b > 0``; linear with
        ``sigma_w >= 1`` and ``sigma_b > 0``. (A growing length whose map meets the diagonal
        with slope 1 +- 1e-9 is reported as diverging: at those marginal points rounding would
        otherwise put a spurious fixed point near ``sigma_b^2 / 1e-15``.) When every q is a
        fixed point (relu with ``sigma_w^2 = 2``, linear with ``sigma_w = 1``, both with
        ``sigma_b = 0``) it is ``q0``.

    Raises
    ------
    ValueError
        For an invalid parameter.
    RuntimeError
        If Brent's method does not converge in ``max_iter`` iterations.

    Notes
    -----
    The result is the limit of the iteration, but is found by bracketing the root of
    ``qmap(q) - q`` on the side the iterates move to and solving with Brent's method: plain
    iteration converges like ``slope^l`` and needs thousands of layers near a slope of 1. This
    relies on the length map being increasing and crossing the diagonal once between ``q0`` and
    the limit, as it does for every activation initlab ships. A length that keeps shrinking
    below 1e-250 has the limit 0.

    Examples
    --------
    >>> round(fixed_point("linear", 0.5, 1.0), 12)           # sigma_b^2 / (1 - sigma_w^2)
    1.333333333333
    >>> fixed_point("relu", 1.0), fixed_point("relu", 1.5)  # sigma_w^2 < 2: 0; > 2: inf
    (0.0, inf)
    >>> round(fixed_point("tanh", 1.5, 0.3), 6)
    0.960844
    """
    act, sw2, sb2 = _check("fixed_point", activation, sigma_w, sigma_b)
    q0 = check_number("fixed_point", "q0", q0, low=0)
    tol = check_number("fixed_point", "tol", tol, low=0, high=1, low_open=True, high_open=True)
    max_iter = check_number("fixed_point", "max_iter", max_iter, integer=True, low=1)
    return _fixed_point(act, sw2, sb2, float(q0), float(tol), int(max_iter))


def _q_or_fixed_point(owner: str, act: Activation, sw2: float, sb2: float, q: Any) -> float:
    if q is None:
        return _fixed_point(act, sw2, sb2, 1.0, 1e-12, 200)
    arr = _check_q(owner, q)
    if arr.ndim != 0:
        raise ValueError(
            f"The 'q' parameter of {owner} must be a float >= 0 or None. Got {q!r} instead."
        )
    return float(arr)


def chi_1(
    activation: str | Activation,
    sigma_w: float,
    sigma_b: float = 0.0,
    q: float | np.ndarray | None = None,
) -> float | np.ndarray:
    """``chi_1 = sigma_w^2 E_z[phi'(sqrt(q*) z)^2]``: the order parameter of [1]_.

    The slope of the correlation map at ``c = 1`` and the factor by which the mean squared
    gradient grows per layer, backwards ([1]_ Section 2, and its mean-field theory of
    backpropagation). ``< 1``: ordered
    (vanishing gradients); ``> 1``: chaotic (exploding gradients); ``= 1``: the edge of chaos.

    Parameters
    ----------
    activation : str or Activation
    sigma_w : float
        ``> 0``.
    sigma_b : float, default 0.0
        ``>= 0``.
    q : float, array of float or None, default None
        The variance at which to evaluate; None: the fixed point ``fixed_point(...)`` (from
        ``q0 = 1``). ``q = 0`` is the limit q -> 0+ (``sigma_w^2 / 2`` for relu, whatever the
        convention for relu'(0)), ``q = inf`` the limit q -> inf.

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> round(chi_1("relu", 1.2), 12)                       # sigma_w^2 / 2 at any q
    0.72
    >>> round(chi_1("tanh", 0.9), 12)                       # q* = 0: sigma_w^2 tanh'(0)^2
    0.81
    """
    act, sw2, sb2 = _check("chi_1", activation, sigma_w, sigma_b)
    arr = (
        np.asarray(_fixed_point(act, sw2, sb2, 1.0, 1e-12, 200))
        if q is None
        else _check_q("chi_1", q, allow_inf=True)
    )
    return _scalar_or_array(_chi_1(act, sw2, arr))


def cmap(
    c: float | np.ndarray,
    activation: str | Activation,
    sigma_w: float,
    sigma_b: float = 0.0,
    q: float | None = None,
) -> float | np.ndarray:
    """The correlation map: the correlation of two inputs' pre-activations at the next layer.

    ``c_l = (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q_l`` with
    ``u1 = sqrt(q) z1``, ``u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2)``, z1, z2 ~ N(0, 1)
    independent, ``c = c_{l-1}``, and ``q_l = qmap(q)`` ([1]_ Section 2, after [2]_): both
    inputs have variance ``q`` at layer l - 1. At ``q = q*`` (the default), ``q_l = q*`` and this
    is the paper's map, with ``cmap(1) = 1``.

    Parameters
    ----------
    c : float or array of float
        Correlation(s) ``c_{l-1}`` in [-1, 1].
    activation : str or Activation
    sigma_w : float
        ``> 0``.
    sigma_b : float, default 0.0
        ``>= 0``.
    q : float or None, default None
        Variance of both inputs at layer l - 1, finite and ``>= 0``; None: the fixed point
        ``q*`` (its q -> inf limit when the length diverges). ``q = 0`` is the limit q -> 0+.

    Returns
    -------
    float or ndarray
        ``c_l``, the shape of ``c``.

    Examples
    --------
    >>> round(cmap(0.0, "relu", 1.0), 12)                   # arc-cosine kernel: 1 / pi
    0.318309886184
    >>> round(cmap(1.0, "tanh", 1.5, 0.3), 12)
    1.0
    """
    act, sw2, sb2 = _check("cmap", activation, sigma_w, sigma_b)
    carr = _check_c("cmap", c)
    qv = _q_or_fixed_point("cmap", act, sw2, sb2, q)
    return _scalar_or_array(_cmap(act, sw2, sb2, carr, qv))


def chi_c(
    activation: str | Activation,
    sigma_w: float,
    sigma_b: float = 0.0,
    c: float | None = None,
) -> float:
    """The slope of the correlation map at ``c`` (default: at its stable fixed point ``c*``).

    ``chi_c = sigma_w^2 E[phi'(u1) phi'(u2)]``, u1 and u2 as in :func:`cmap` at ``q = q*``
    ([1]_ Section 3, the linearization of the correlation map). In the ordered phase
    ``c* = 1`` and ``chi_c = chi_1``; in the chaotic phase ``c* < 1`` and ``chi_c < 1``, so
    that ``xi_c = -1 / log(chi_c)`` is finite on both sides of the edge of chaos, where
    ``chi_c = chi_1 = 1``.

    Parameters
    ----------
    activation : str or Activation
    sigma_w : float
        ``> 0``.
    sigma_b : float, default 0.0
        ``>= 0``.
    c : float or None, default None
        The correlation in [-1, 1] at which to take the slope; None: ``c*``.

    Returns
    -------
    float
        NaN when ``q* = inf`` (the length diverges and the map is not defined).

    Notes
    -----
    When ``q* = 0`` (``sigma_b = 0`` and an activation with phi(0) = 0, in the ordered phase),
    this is the paper's expression in the limit q -> 0+, equal to ``chi_1``. The correlation
    map itself is then marginal (the network is linear near 0 and preserves correlations:
    its slope at 1 is ``q chi_1 / qmap(q) -> 1``), so ``xi_c`` describes the decay of the
    gradient signal rather than of correlations there.

    Examples
    --------
    >>> round(chi_c("tanh", 0.9, 0.1) - chi_1("tanh", 0.9, 0.1), 12)   # ordered: c* = 1
    0.0
    >>> chi_c("tanh", 1.5, 0.3) < 1 < chi_1("tanh", 1.5, 0.3)         # chaotic: c* < 1
    True
    """
    act, sw2, sb2 = _check("chi_c", activation, sigma_w, sigma_b)
    if c is not None:
        c = float(_check_c("chi_c", c))
    q = _fixed_point(act, sw2, sb2, 1.0, 1e-12, 200)
    if not np.isfinite(q):
        return math.nan
    if c is None:
        c = _correlation_fixed_point(act, sw2, sb2, q, float(_chi_1(act, sw2, np.asarray(q))))
    return float(_chi_c(act, sw2, np.asarray(c), q))


def depth_scales(
    activation: str | Activation, sigma_w: float, sigma_b: float = 0.0
) -> tuple[float, float]:
    """The depth scales ``(xi_q, xi_c)`` of [1]_ Section 3.

    Near the fixed points, ``|q_l - q*| ~ exp(-l / xi_q)`` and ``|c_l - c*| ~ exp(-l / xi_c)``:

    * ``xi_q^-1 = -log(chi_1 + sigma_w^2 E_z[phi''(sqrt(q*) z) phi(sqrt(q*) z)])``, the
      logarithm of the length map's slope at ``q*``;
    * ``xi_c^-1 = -log(chi_c)``, chi_c the correlation map's slope at its fixed point
      (:func:`chi_c`); ``-log(chi_1)`` in the ordered phase.

    ``xi_c`` diverges (inf) at the edge of chaos, ``|chi_1 - 1| <= 1e-9``.

    Returns
    -------
    tuple of float
        ``(xi_q, xi_c)``; NaN when ``q* = inf``.

    Notes
    -----
    The length map's slope is computed as ``sigma_w^2 E[z phi(u) phi'(u)] / sqrt(q*)``,
    ``u = sqrt(q*) z``, equal to the paper's ``chi_1 + sigma_w^2 E[phi''(u) phi(u)]`` by
    Gaussian integration by parts, which needs no second derivative (a delta for relu, where
    ``phi(0) phi''`` vanishes anyway). A negative slope (never met for initlab's activations)
    gives ``-1 / log|slope|``.

    Examples
    --------
    >>> xi_q, xi_c = depth_scales("relu", 1.0, 0.5)         # relu: xi_c = -1 / log(sigma_w^2 / 2)
    >>> round(xi_c, 6), round(xi_q, 6)
    (1.442695, 1.442695)
    >>> depth_scales("tanh", 1.0)[1]                         # sigma_b = 0: the edge is sigma_w = 1
    inf
    """
    m = analyze(activation, sigma_w, sigma_b)
    return m.xi_q, m.xi_c


def critical_sigma_w(activation: str | Activation, sigma_b: float = 0.0) -> float:
    """The weight scale at the edge of chaos: the ``sigma_w`` with ``chi_1 = 1`` at ``q*``.

    Returns ``sigma_w``, not ``sigma_w^2`` (the axis of the paper's phase diagrams is
    ``sigma_w^2``: square it).

    Parameters
    ----------
    activation : str or Activation
    sigma_b : float, default 0.0
        ``>= 0``.

    Returns
    -------
    float
        ``sigma_w``, by Brent's method on ``chi_1(sigma_w) - 1`` (the bracket found by doubling
        or halving from sigma_w = 1): to about 1e-13 relative where chi_1 crosses 1 with a
        non-zero slope. At ``sigma_b = 0`` for tanh-like activations (phi(0) = 0,
        phi''(0) = 0) ``chi_1 - 1`` grows only like ``(sigma_w^2 - 1)^2 / 3`` on the chaotic
        side, and the rounding of chi_1 (~1e-16) leaves the root uncertain by ~1e-8.

    Raises
    ------
    ValueError
        For an invalid parameter, or when ``chi_1`` does not cross 1 for sigma_w in
        [1e-6, 1e6].

    Notes
    -----
    relu: ``sqrt(2)`` for every sigma_b (``chi_1 = sigma_w^2 / 2`` does not depend on q*);
    tanh: 1 at ``sigma_b = 0`` (``q* = 0``, ``chi_1 = sigma_w^2``), rising with sigma_b
    (``sigma_w^2 = 1.761`` at ``sigma_b^2 = 0.05``, where [1]_'s phase diagram crosses).

    Examples
    --------
    >>> round(critical_sigma_w("relu") ** 2, 12), round(critical_sigma_w("tanh"), 6)
    (2.0, 1.0)
    >>> round(critical_sigma_w("tanh", sigma_b=0.05**0.5) ** 2, 6)
    1.760955
    """
    act = check_spec("critical_sigma_w", "activation", activation, get_activation)
    sigma_b = check_number("critical_sigma_w", "sigma_b", sigma_b, low=0)
    return _critical_sigma_w(act, float(sigma_b) ** 2)


def _critical_sigma_w(act: Activation, sb2: float) -> float:
    def g(sw: float) -> float:
        sw2 = sw * sw
        q = _fixed_point(act, sw2, sb2, 1.0, 1e-12, 200)
        return float(_chi_1(act, sw2, np.asarray(q))) - 1.0

    lo = hi = 1.0
    g_lo = g_hi = g(1.0)
    while g_hi < 0 and hi < 1e6:
        lo, g_lo = hi, g_hi
        hi *= 2.0
        g_hi = g(hi)
    while g_lo > 0 and lo > 1e-6:
        hi, g_hi = lo, g_lo
        lo /= 2.0
        g_lo = g(lo)
    if g_lo == 0:
        return lo
    if g_hi == 0:
        return hi
    if not (g_lo < 0 < g_hi):
        raise ValueError(
            "The 'activation' parameter of critical_sigma_w must have an edge of chaos (chi_1 "
            f"crossing 1 for some sigma_w in [1e-6, 1e6]). Got {act.spec!r} instead."
        )
    return float(brentq(g, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps))


@dataclass(frozen=True)
class MeanField:
    """The mean-field picture of one (activation, sigma_w, sigma_b): what :func:`analyze` returns.

    Attributes
    ----------
    activation : str
        The activation's spec.
    sigma_w, sigma_b : float
    q_star : float
        Fixed point of the length map (inf when the length diverges).
    c_star : float
        Stable fixed point of the correlation map: 1 in the ordered phase and at the edge,
        < 1 in the chaotic phase; NaN when ``q_star`` is inf.
    chi_1 : float
        ``sigma_w^2 E[phi'(sqrt(q*) z)^2]`` (its q -> inf limit when ``q_star`` is inf).
    chi_c : float
        Slope of the correlation map at ``c_star``.
    xi_q, xi_c : float
        Depth scales of the length and of the correlation (inf at criticality).
    phase : str
        ``"ordered"`` (chi_1 < 1), ``"critical"`` (|chi_1 - 1| <= 1e-9) or ``"chaotic"``.
    """

    activation: str
    sigma_w: float
    sigma_b: float
    q_star: float
    c_star: float
    chi_1: float
    chi_c: float
    xi_q: float
    xi_c: float
    phase: str

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values, for JSON (inf and NaN stay floats)."""
        return asdict(self)

    def __repr__(self) -> str:
        numbers = ", ".join(
            f"{name}={getattr(self, name):.4g}"
            for name in ("q_star", "c_star", "chi_1", "chi_c", "xi_q", "xi_c")
        )
        return (
            f"MeanField(activation={self.activation!r}, sigma_w={self.sigma_w:g}, "
            f"sigma_b={self.sigma_b:g}, {numbers}, phase={self.phase!r})"
        )


def _phase(chi1: float) -> str:
    if abs(chi1 - 1.0) <= _CRITICAL_ATOL:
        return "critical"
    return "ordered" if chi1 < 1 else "chaotic"


def _analyze(act: Activation, sigma_w: float, sigma_b: float, q0: float = 1.0) -> MeanField:
    sw2, sb2 = sigma_w * sigma_w, sigma_b * sigma_b
    q = _fixed_point(act, sw2, sb2, q0, 1e-12, 200)
    chi1 = float(_chi_1(act, sw2, np.asarray(q)))
    if np.isfinite(q):
        c = _correlation_fixed_point(act, sw2, sb2, q, chi1)
        chic = chi1 if c == 1.0 else float(_chi_c(act, sw2, np.asarray(c), q))
        xi_q = _depth_scale(float(_qmap_slope(act, sw2, np.asarray(q))))
        xi_c = math.inf if _phase(chi1) == "critical" else _depth_scale(chic)
    else:
        c = chic = xi_q = xi_c = math.nan
    return MeanField(act.spec, sigma_w, sigma_b, q, c, chi1, chic, xi_q, xi_c, _phase(chi1))


def analyze(
    activation: str | Activation, sigma_w: float, sigma_b: float = 0.0, *, q0: float = 1.0
) -> MeanField:
    """Fixed points, chi_1, chi_c, depth scales and phase of a random network ([1]_).

    Parameters
    ----------
    activation : str or Activation
    sigma_w : float
        ``> 0``.
    sigma_b : float, default 0.0
        ``>= 0``.
    q0 : float, default 1.0
        Where the length map starts (see :func:`fixed_point`).

    Returns
    -------
    MeanField

    Examples
    --------
    >>> analyze("tanh", 1.5, 0.3)
    MeanField(activation='tanh', sigma_w=1.5, sigma_b=0.3, q_star=0.9608, c_star=0.7668,
              chi_1=1.061, chi_c=0.951, xi_q=1.167, xi_c=19.92, phase='chaotic')
    >>> analyze("relu", 2**0.5).phase
    'critical'
    """
    act, _, _ = _check("analyze", activation, sigma_w, sigma_b)
    q0 = check_number("analyze", "q0", q0, low=0)
    return _analyze(act, float(sigma_w), float(sigma_b), float(q0))


# --------------------------------------------------------------------------------------------
# Phase diagram
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PhaseDiagram:
    """Depth scales over a grid of (sigma_w^2, sigma_b^2): what :func:`phase_diagram` returns.

    Attributes
    ----------
    activation : str
    sigma_w2 : ndarray, shape (n_w,)
    sigma_b2 : ndarray, shape (n_b,)
    xi_c, xi_q, chi_1, q_star : ndarray, shape (n_b, n_w)
        Row i is ``sigma_b2[i]``, column j is ``sigma_w2[j]`` (the layout of ``pcolormesh``).
    critical_sigma_b2, critical_sigma_w2 : ndarray, shape (n_line,)
        The edge of chaos: the critical ``sigma_w^2`` (:func:`critical_sigma_w` squared) at 101
        values of ``sigma_b^2`` spanning the grid (finer than the grid: the line is steep near
        ``sigma_b = 0``).
    """

    activation: str
    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    xi_c: np.ndarray
    xi_q: np.ndarray
    chi_1: np.ndarray
    q_star: np.ndarray
    critical_sigma_b2: np.ndarray
    critical_sigma_w2: np.ndarray

    @property
    def phase(self) -> np.ndarray:
        """``"ordered"``, ``"critical"`` or ``"chaotic"`` for each grid point."""
        return np.vectorize(_phase, otypes=[object])(self.chi_1).astype(str)

    def to_dict(self) -> dict[str, Any]:
        """Nested lists of plain floats (for JSON)."""
        return {
            k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()
        }

    def __repr__(self) -> str:
        return (
            f"PhaseDiagram(activation={self.activation!r}, sigma_w2=[{self.sigma_w2[0]:g}, "
            f"{self.sigma_w2[-1]:g}] x {self.sigma_w2.size}, sigma_b2=[{self.sigma_b2[0]:g}, "
            f"{self.sigma_b2[-1]:g}] x {self.sigma_b2.size})"
        )


def _check_grid(name: str, values: Any, low_open: bool) -> np.ndarray:
    arr = np.asarray(values, dtype=float) if not isinstance(values, str) else np.array([])
    bad = arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all()
    if not bad:
        bad = bool((arr <= 0).any()) if low_open else bool((arr < 0).any())
    if bad:
        rule = "> 0" if low_open else ">= 0"
        raise ValueError(
            f"The {name!r} parameter of phase_diagram must be a 1-D sequence of floats {rule}. "
            f"Got {values!r} instead."
        )
    return arr


def phase_diagram(
    activation: str | Activation = "tanh",
    sigma_w2: Sequence[float] | np.ndarray | None = None,
    sigma_b2: Sequence[float] | np.ndarray | None = None,
) -> PhaseDiagram:
    """The ordered and chaotic phases over (sigma_w^2, sigma_b^2), as in [1]_ Figure 1.

    Parameters
    ----------
    activation : str or Activation, default "tanh"
    sigma_w2 : sequence of float > 0, default ``np.linspace(0.5, 4, 36)``
        Weight variances (times fan_in) on the horizontal axis.
    sigma_b2 : sequence of float >= 0, default ``np.linspace(0, 0.25, 21)``
        Bias variances on the vertical axis.

    Returns
    -------
    PhaseDiagram
        ``xi_c``, ``xi_q``, ``chi_1`` and ``q*`` on the grid, and the edge of chaos (the
        critical ``sigma_w^2`` against ``sigma_b^2``, by :func:`critical_sigma_w`).

    Notes
    -----
    Each chaotic grid point solves for ``c*`` with 2-D quadratures, ~10 ms; the default grid
    takes a few seconds. Draw it with :func:`initlab.plots.phase_diagram`.

    Examples
    --------
    >>> d = phase_diagram("tanh", sigma_w2=[0.5, 1.5, 3.0], sigma_b2=[0.0, 0.05])
    >>> d.phase.tolist()
    [['ordered', 'chaotic', 'chaotic'], ['ordered', 'ordered', 'chaotic']]
    >>> round(float(np.interp(0.05, d.critical_sigma_b2, d.critical_sigma_w2)), 4)
    1.761
    """
    act = check_spec("phase_diagram", "activation", activation, get_activation)
    w2 = _check_grid("sigma_w2", np.linspace(0.5, 4.0, 36) if sigma_w2 is None else sigma_w2, True)
    b2 = _check_grid(
        "sigma_b2", np.linspace(0.0, 0.25, 21) if sigma_b2 is None else sigma_b2, False
    )
    shape = (b2.size, w2.size)
    out = {k: np.empty(shape) for k in ("xi_c", "xi_q", "chi_1", "q_star")}
    for i, sb2 in enumerate(b2):
        for j, sw2 in enumerate(w2):
            m = _analyze(act, math.sqrt(sw2), math.sqrt(sb2))
            for k in out:
                out[k][i, j] = getattr(m, k)
    line_b2 = np.linspace(b2.min(), b2.max(), 101) if b2.size > 1 else b2.copy()
    line_w2 = np.array([_critical_sigma_w(act, float(sb2)) ** 2 for sb2 in line_b2])
    return PhaseDiagram(
        act.spec, w2, b2, critical_sigma_b2=line_b2, critical_sigma_w2=line_w2, **out
    )


# --------------------------------------------------------------------------------------------
# Simulation: a finite random network, through initlab's engine
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Simulation:
    """Measured and predicted signal propagation: what :func:`simulate` returns.

    Attributes
    ----------
    activation : str
    sigma_w, sigma_b : float
    width : int
    q : ndarray, shape (depth,)
        Mean squared pre-activation of layers 1..depth, averaged over the inputs.
    c : ndarray, shape (depth,)
        Correlation ``z_a . z_b / (|z_a| |z_b|)`` of the pre-activations of two inputs at layers
        1..depth, averaged over the pairs of inputs.
    q_theory, c_theory : ndarray, shape (depth,)
        The mean-field prediction from the same input length and correlation: layer 1 is
        ``sigma_w^2 q0 + sigma_b^2`` and ``(sigma_w^2 q0 c0 + sigma_b^2) / q_1``, then
        :func:`qmap` and :func:`cmap` layer after layer.
    """

    activation: str
    sigma_w: float
    sigma_b: float
    width: int
    q: np.ndarray
    c: np.ndarray
    q_theory: np.ndarray
    c_theory: np.ndarray

    @property
    def layers(self) -> np.ndarray:
        """1, 2, ..., depth."""
        return np.arange(1, self.q.size + 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values and lists (for JSON)."""
        return {
            k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()
        }

    def __repr__(self) -> str:
        return (
            f"Simulation(activation={self.activation!r}, sigma_w={self.sigma_w:g}, "
            f"sigma_b={self.sigma_b:g}, width={self.width}, depth={self.q.size}, "
            f"q[-1]={self.q[-1]:.4g} (theory {self.q_theory[-1]:.4g}), "
            f"c[-1]={self.c[-1]:.4g} (theory {self.c_theory[-1]:.4g}))"
        )


def _trajectory(
    act: Activation, sw2: float, sb2: float, depth: int, q0: float, c0: float
) -> tuple[np.ndarray, np.ndarray]:
    q = np.empty(depth)
    c = np.empty(depth)
    q[0] = sw2 * q0 + sb2  # layer 1 sees the input itself, not phi of it
    c[0] = (sw2 * q0 * c0 + sb2) / q[0] if q[0] > 0 else 1.0
    for l in range(1, depth):
        q[l] = float(_qmap(act, sw2, sb2, np.asarray(q[l - 1])))
        c[l] = float(_cmap(act, sw2, sb2, np.asarray(c[l - 1]), q[l - 1]))
    return q, c


def simulate(
    activation: str | Activation,
    sigma_w: float,
    sigma_b: float = 0.0,
    *,
    depth: int = 20,
    width: int = 1000,
    n_inputs: int = 2,
    q0: float = 1.0,
    c0: float = 0.5,
    random_state: Any = None,
) -> Simulation:
    """Propagate inputs through one deep random network and measure q_l and c_l.

    The network has ``depth`` layers of ``width`` units, weights
    ``variance_scaling(scale=sigma_w^2, mode="fan_in", distribution="normal")`` (that is,
    N(0, sigma_w^2 / width)) and biases ``normal(std=sigma_b)``, drawn by
    :func:`initlab.engine.init_params` and run by :func:`initlab.engine.forward`. The inputs
    have exactly mean square ``q0`` and pairwise correlation ``c0``.

    Parameters
    ----------
    activation : str or Activation
    sigma_w : float
        ``> 0``.
    sigma_b : float, default 0.0
        ``>= 0``.
    depth : int, default 20
    width : int, default 1000
        Units per layer, also the input dimension; ``> n_inputs``.
    n_inputs : int, default 2
        Inputs propagated together (``>= 2``); ``c`` averages over their pairs.
    q0 : float, default 1.0
        Mean square of each input, ``|x|^2 / width``, ``> 0``.
    c0 : float, default 0.5
        Correlation of every pair of inputs, ``x_a . x_b / (|x_a| |x_b|)``, in [0, 1].
    random_state : None, int, Generator or RandomState
        Draws the inputs' directions first, then the network.

    Returns
    -------
    Simulation
        The measured ``q`` and ``c`` per layer, and the mean-field ``q_theory`` and
        ``c_theory``. With width N, one layer's ``q`` fluctuates about its prediction by about
        ``sqrt(2 / N)`` relative (given the layer below, the N pre-activations are independent
        Gaussians). A network whose signal overflows gives inf or NaN, without warnings.

    Notes
    -----
    The inputs are ``x_a = sqrt(width q0) (sqrt(c0) e_0 + sqrt(1 - c0) e_a)`` with
    ``e_0, e_1, ...`` orthonormal (the QR factor of a Gaussian matrix), so their length and
    correlation are exact.

    Examples
    --------
    >>> sim = simulate("tanh", 1.5, 0.3, depth=10, width=400, random_state=0)
    >>> bool(abs(sim.q[-1] / sim.q_theory[-1] - 1) < 5 * (2 / 400) ** 0.5)
    True
    """
    act, sw2, sb2 = _check("simulate", activation, sigma_w, sigma_b)
    depth = check_number("simulate", "depth", depth, integer=True, low=1)
    n_inputs = check_number("simulate", "n_inputs", n_inputs, integer=True, low=2)
    width = check_number("simulate", "width", width, integer=True, low=n_inputs + 1)
    q0 = check_number("simulate", "q0", q0, low=0, low_open=True)
    c0 = check_number("simulate", "c0", c0, low=0, high=1)
    rng = check_random_state(random_state)

    G = rng.standard_normal((width, n_inputs + 1))
    E = np.linalg.qr(G)[0]  # (width, n_inputs + 1), orthonormal columns
    X = math.sqrt(width * q0) * (math.sqrt(c0) * E[:, :1] + math.sqrt(1 - c0) * E[:, 1:])
    params = engine.init_params(
        [width] * (depth + 1),
        init=_inits.variance_scaling(scale=sw2, mode="fan_in", distribution="normal"),
        bias_init=_inits.normal(std=math.sqrt(sb2)),
        activation=act,
        random_state=rng,
    )
    with np.errstate(over="ignore", invalid="ignore"):
        zs, _ = engine.forward(params, X, act)
    q = np.empty(depth)
    c = np.empty(depth)
    pairs = np.triu_indices(n_inputs, k=1)
    for l, z in enumerate(zs):
        z = z[0]  # (width, n_inputs)
        gram = z.T @ z / width
        q[l] = np.mean(np.diag(gram))
        norm = np.sqrt(np.diag(gram))
        with np.errstate(invalid="ignore", divide="ignore"):
            c[l] = np.mean((gram / np.outer(norm, norm))[pairs])
    q_theory, c_theory = _trajectory(act, sw2, sb2, depth, float(q0), float(c0))
    return Simulation(act.spec, math.sqrt(sw2), math.sqrt(sb2), width, q, c, q_theory, c_theory)
