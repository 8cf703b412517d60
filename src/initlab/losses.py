"""Losses on stacks of networks: numerically stable from logits, plus the textbook formulas.

Arrays are feature-major, the engine's layout and the course's: logits ``z`` of shape (K, c, m)
(K networks, c outputs, m samples) and targets ``y`` of shape (c, m) shared by the stack, or
(K, c, m). Every loss returns one value per network, the mean over samples;
:func:`loss_and_grad` also returns dL/dz, the error that backpropagation starts from.

=====================  ===========  =====================================================
loss                   output       L (mean over the m samples)
=====================  ===========  =====================================================
binary_cross_entropy   sigmoid      softplus(z) - y z = -y log p - (1 - y) log(1 - p)
cross_entropy          softmax      logsumexp(z) - sum_c y_c z_c
squared_error          any          sum_c (out_c - y_c)^2 / 2
=====================  ===========  =====================================================

The gradient of the first two with respect to the logits is (p - y) / m, computed as
``(1.0 / m) * (p - y)`` with p = 1 / (1 + exp(-z)), the same floating-point operations as the
Coursera Deep Learning Specialization's backpropagation, so that its runs are reproduced.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import logsumexp

from .activations import _sigmoid_f

__all__ = [
    "LOSSES",
    "OUTPUTS",
    "binary_cross_entropy",
    "check_loss",
    "cross_entropy",
    "loss_and_grad",
    "output_activation",
    "softmax",
    "squared_error",
    "textbook_binary_cross_entropy",
]


def softmax(z: np.ndarray) -> np.ndarray:
    """exp(z - max z) / sum exp(z - max z) over the class axis (-2)."""
    e = np.exp(z - z.max(axis=-2, keepdims=True))
    return e / e.sum(axis=-2, keepdims=True)


def _identity(z: np.ndarray) -> np.ndarray:
    return z


# Callers ignore exp's overflow (the engine for a whole run, predict_output around its call).
OUTPUTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": _sigmoid_f,
    "softmax": softmax,
    "identity": _identity,
}
# The output each loss goes with by default, and the outputs it accepts.
LOSSES: dict[str, tuple[str, ...]] = {
    "binary_cross_entropy": ("sigmoid",),
    "cross_entropy": ("softmax",),
    "squared_error": ("identity", "sigmoid", "softmax"),
}


def check_loss(loss: str, output: str) -> None:
    """Raise ValueError unless ``loss`` is known and goes with ``output``."""
    if loss not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}. Valid losses: {', '.join(LOSSES)}.")
    if output not in LOSSES[loss]:
        raise ValueError(
            f"The output {output!r} does not go with the loss {loss!r}. Allowed outputs: "
            f"{', '.join(LOSSES[loss])}."
        )


def output_activation(z: np.ndarray, output: str) -> np.ndarray:
    """The network's output from its logits: probabilities for sigmoid and softmax."""
    with np.errstate(over="ignore"):
        return OUTPUTS[output](z)


def binary_cross_entropy(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean over samples of softplus(z) - y z, with softplus(z) = log(1 + exp(z)) evaluated as
    ``logaddexp(0, z)``, which never overflows: finite for finite z."""
    per_sample = np.logaddexp(0, z)
    per_sample -= y * z
    return per_sample.sum(axis=(-2, -1)) / z.shape[-1]


def cross_entropy(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean of logsumexp(z) - sum_c y_c z_c, the softmax cross-entropy from logits."""
    return (logsumexp(z, axis=-2) - (y * z).sum(axis=-2)).mean(axis=-1)


def squared_error(out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean over samples of sum_c (out_c - y_c)^2 / 2."""
    return 0.5 * ((out - y) ** 2).sum(axis=-2).mean(axis=-1)


def textbook_binary_cross_entropy(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(1/m) nansum(-y log p - (1 - y) log(1 - p)) from probabilities, as textbooks write it.

    Kept for faithful reproduction: where p rounds to exactly 0 or 1 the loss is ``inf``, and
    the ``0 * inf = nan`` terms of correctly classified saturated samples are dropped by the
    nansum, as in the Coursera Deep Learning Specialization's ``compute_loss``. Use
    :func:`binary_cross_entropy` (from logits) for training.

    Parameters
    ----------
    p : ndarray, shape (..., 1, m)
    y : ndarray, shape (1, m) or (..., 1, m)

    Returns
    -------
    ndarray, shape (...,)
    """
    m = p.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.multiply(-np.log(p), y) + np.multiply(-np.log(1 - p), 1 - y)
    return 1.0 / m * np.nansum(terms, axis=(-2, -1))


def loss_and_grad(
    z: np.ndarray, y: np.ndarray, loss: str, output: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loss per network, dL/dz, and the output, for logits z of shape (K, c, m).

    Returns
    -------
    value : ndarray, shape (K,)
    dz : ndarray, shape (K, c, m)
        The gradient of the mean loss with respect to the logits.
    out : ndarray, shape (K, c, m)
        The network's output (probabilities for sigmoid and softmax).
    """
    m = z.shape[-1]
    out = OUTPUTS[output](z)
    if loss in ("binary_cross_entropy", "cross_entropy"):
        dz = out - y
        dz *= 1.0 / m  # the same product as (1.0 / m) * (out - y), without a temporary
        value = (
            binary_cross_entropy(z, y) if loss == "binary_cross_entropy" else cross_entropy(z, y)
        )
        return value, dz, out
    # squared error: dL/dout = (out - y) / m, then the output's Jacobian.
    g = 1.0 / m * (out - y)
    if output == "sigmoid":
        g = g * out * (1.0 - out)
    elif output == "softmax":
        g = out * (g - (g * out).sum(axis=-2, keepdims=True))
    return squared_error(out, y), g, out
