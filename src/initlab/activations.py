"""Activations and their derivatives, by name.

Each activation is a pair: ``f(z)`` and ``df(z, a)``, the derivative phi'(z), which may reuse the
already computed output ``a = f(z)`` (sigmoid: a (1 - a); tanh: 1 - a^2). Derivatives at kinks
follow PyTorch: ReLU'(0) = 0, leaky_relu'(0) = slope, elu'(0) = alpha.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import erf, ndtr

from ._spec import Registry, format_spec
from ._validation import check_number

__all__ = ["Activation", "get_activation", "list_activations", "sigmoid"]

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# SELU's constants (Klambauer et al., 2017), as in PyTorch.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@dataclass(frozen=True, eq=False)
class Activation:
    """A named activation phi with its derivative.

    Attributes
    ----------
    name : str
        Registered name.
    params : dict
        Its parameters (``{"slope": 0.01}`` for leaky_relu).
    f : callable
        ``f(z) -> phi(z)``, elementwise, same shape and dtype.
    df : callable
        ``df(z, a) -> phi'(z)`` where ``a = f(z)`` (an array that multiplies like phi'(z); ReLU's
        is a boolean mask).
    """

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    df: Callable[[np.ndarray, np.ndarray], np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> str:
        return format_spec(self.name, self.params)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.f(z)

    def __repr__(self) -> str:
        return f"Activation({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Activation) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), the textbook formula (exact in relative terms; exp overflow gives 0)."""
    with np.errstate(over="ignore"):
        return _sigmoid_f(z)


def _sigmoid_f(z: np.ndarray) -> np.ndarray:
    # The hot-path form: the engine already ignores exp's overflow (to 0) for the whole run.
    # In place, the same operations as 1.0 / (1.0 + np.exp(-z)), bit for bit.
    if not isinstance(z, np.ndarray) or z.ndim == 0:
        return 1.0 / (1.0 + np.exp(-z))
    e = np.negative(z)
    np.exp(e, out=e)
    e += 1.0
    return np.divide(1.0, e, out=e)


def _ones_like(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    return np.ones_like(z)


def relu() -> Activation:
    """max(0, z); derivative 1 where z > 0, else 0 (0 at z = 0, as in PyTorch)."""
    # The derivative is a boolean mask: multiplying by it is the course's `* np.int64(a > 0)`.
    return Activation("relu", lambda z: np.maximum(z, 0), lambda z, a: z > 0)


def leaky_relu(slope: float = 0.01) -> Activation:
    """z where z > 0, else slope * z (PyTorch's negative_slope, default 0.01)."""
    slope = float(check_number("leaky_relu", "slope", slope))
    return Activation(
        "leaky_relu",
        lambda z: np.where(z > 0, z, slope * z),
        lambda z, a: np.where(z > 0, 1.0, slope).astype(z.dtype),
        {"slope": slope},
    )


def tanh() -> Activation:
    """tanh(z); derivative 1 - tanh(z)^2."""
    return Activation("tanh", np.tanh, lambda z, a: 1.0 - a * a)


def _sigmoid() -> Activation:
    """1 / (1 + exp(-z)); derivative sigma(z) (1 - sigma(z))."""
    return Activation("sigmoid", _sigmoid_f, lambda z, a: a * (1.0 - a))


def linear() -> Activation:
    """The identity z; derivative 1."""
    return Activation("linear", lambda z: z, _ones_like)


def _elu_f(z: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def elu(alpha: float = 1.0) -> Activation:
    """z where z > 0, else alpha (exp(z) - 1) (Clevert et al., 2016)."""
    alpha = float(check_number("elu", "alpha", alpha))
    return Activation(
        "elu",
        lambda z: _elu_f(z, alpha),
        lambda z, a: np.where(z > 0, 1.0, a + alpha).astype(z.dtype),
        {"alpha": alpha},
    )


def selu() -> Activation:
    """scale * elu(z, alpha) with PyTorch's alpha = 1.6733, scale = 1.0507 (Klambauer 2017)."""
    return Activation(
        "selu",
        lambda z: SELU_SCALE * _elu_f(z, SELU_ALPHA),
        lambda z, a: np.where(z > 0, SELU_SCALE, a + SELU_SCALE * SELU_ALPHA).astype(z.dtype),
    )


def gelu() -> Activation:
    """z Phi(z) = z (1 + erf(z / sqrt 2)) / 2, the exact form; derivative Phi(z) + z phi(z)."""
    return Activation(
        "gelu",
        lambda z: 0.5 * z * (1.0 + erf(z / _SQRT2)),
        lambda z, a: ndtr(z) + z * np.exp(-0.5 * z * z) * _INV_SQRT_2PI,
    )


def silu() -> Activation:
    """z sigma(z) (also known as swish); derivative sigma(z) (1 + z (1 - sigma(z)))."""

    def df(z: np.ndarray, a: np.ndarray) -> np.ndarray:
        s = sigmoid(z)
        return s * (1.0 + z * (1.0 - s))

    return Activation("silu", lambda z: z * sigmoid(z), df)


def softplus() -> Activation:
    """log(1 + exp(z)), computed without overflow; derivative sigma(z)."""
    return Activation("softplus", lambda z: np.logaddexp(0, z), lambda z, a: sigmoid(z))


ACTIVATIONS = Registry("activation")
ACTIVATIONS.register("relu", relu, formula="max(0, z)")
ACTIVATIONS.register("leaky_relu", leaky_relu, formula="z if z > 0 else slope * z")
ACTIVATIONS.register("tanh", tanh, formula="tanh(z)")
ACTIVATIONS.register("sigmoid", _sigmoid, aliases=("logistic",), formula="1 / (1 + exp(-z))")
ACTIVATIONS.register("linear", linear, aliases=("identity",), formula="z")
ACTIVATIONS.register("elu", elu, formula="z if z > 0 else alpha (exp(z) - 1)")
ACTIVATIONS.register("selu", selu, formula="1.0507 elu(z, alpha=1.6733)")
ACTIVATIONS.register("gelu", gelu, formula="z Phi(z) = z (1 + erf(z / sqrt 2)) / 2")
ACTIVATIONS.register("silu", silu, aliases=("swish",), formula="z sigmoid(z)")
ACTIVATIONS.register("softplus", softplus, formula="log(1 + exp(z))")


def get_activation(spec: str | Activation) -> Activation:
    """The activation named by ``spec`` (``"relu"``, ``"leaky_relu(slope=0.2)"``, ...).

    Raises
    ------
    ValueError
        For an unknown name or parameter; the message lists what is valid.

    Examples
    --------
    >>> act = get_activation("leaky_relu(slope=0.2)")
    >>> act(np.array([-1.0, 2.0])).tolist()
    [-0.2, 2.0]
    """
    if isinstance(spec, Activation):
        return spec
    return ACTIVATIONS.build(spec)


def list_activations() -> list[str]:
    """Registered activation names (aliases not included)."""
    return ACTIVATIONS.names()
