"""Why a gradient is zero, read from the backpropagation formulas.

For layer l (z[l] = W[l] a[l-1] + b[l]) backpropagation computes

    dW[l] = delta[l] a[l-1]^T,     db[l] = sum over samples of delta[l],
    delta[l] = (W[l+1]^T delta[l+1]) * phi'(z[l]),     delta[L] = (p - y) / m,

so a gradient is zero when one of its factors is zero on every sample, or when its per-sample
terms cancel in the sum. :func:`zero_gradient_causes` names every factor that does it.
"""

from __future__ import annotations

import numpy as np

from .symmetry import symmetry_groups

__all__ = ["cancels", "equal_update_groups", "zero_gradient_causes"]

# A sum of per-sample terms is "zero up to rounding" when it is below this share of the sum of
# their magnitudes: float64 rounding leaves at most about m * 1.1e-16 of it.
CANCEL_RTOL = 1e-12


def cancels(total: np.ndarray, magnitude: np.ndarray) -> bool:
    """Whether a sum is zero exactly or up to rounding, given the sum of its terms' magnitudes."""
    return bool(np.all(np.abs(total) <= CANCEL_RTOL * magnitude))


def _delta_cause(l: int, weights, deltas, zs, acts, activation) -> str:
    """Why the error delta[l] is zero on every sample."""
    L = len(weights)
    if l == L - 1:
        return "the output already equals every target, so the output error p - y is zero"
    W_next = weights[l + 1]
    if not W_next.any():
        return (
            f"the error reaching this layer is zero because the next layer's weights (W{l + 2}) "
            "are zero"
        )
    if not deltas[l + 1].any():
        inner = _delta_cause(l + 1, weights, deltas, zs, acts, activation)
        return f"the error reaching this layer is zero because the error at layer {l + 2} is: " + (
            inner
        )
    if not np.any(activation.df(zs[l], acts[l + 1])):
        return "the activation's derivative is zero on every sample (dead or saturated units)"
    return "the error sent back, W^T delta, cancels to zero on every sample"


def zero_gradient_causes(
    weights: list[np.ndarray],
    zs: list[np.ndarray],
    acts: list[np.ndarray],
    deltas: list[np.ndarray],
    dWs: list[np.ndarray],
    dbs: list[np.ndarray],
    activation,
) -> dict[str, str | None]:
    """For every block ``W1, b1, W2, ...`` of one network, why its gradient is zero (None if not).

    Arrays are one network's, feature-major: ``weights[l]`` (out, in), ``zs[l]`` (out, m),
    ``acts[l]`` (in, m) (``acts[0]`` is the input), ``deltas[l]`` (out, m), the gradients
    ``dWs[l]`` (out, in) and ``dbs[l]`` (out,).
    """
    L = len(weights)
    causes: dict[str, str | None] = {}
    for l in range(L):
        a_prev, delta = acts[l], deltas[l]
        name = f"layer {l + 1}"
        # W: every factor that is zero on every sample, else the per-sample terms cancel.
        reasons = []
        if not a_prev.any():
            reasons.append(
                "the inputs are all zero"
                if l == 0
                else f"the activations feeding {name} are all zero"
            )
        if not delta.any():
            reasons.append(_delta_cause(l, weights, deltas, zs, acts, activation))
        w_zero = cancels(dWs[l], np.abs(delta) @ np.abs(a_prev).T)
        if w_zero and not reasons:
            reasons.append(
                "the per-sample terms delta a^T cancel over the data (exactly or up to rounding)"
            )
        causes[f"W{l + 1}"] = "; and ".join(reasons) if w_zero else None
        # b: the error itself is zero, or it cancels over the samples.
        b_zero = cancels(dbs[l], np.abs(delta).sum(axis=-1))
        if not b_zero:
            causes[f"b{l + 1}"] = None
        elif not delta.any():
            causes[f"b{l + 1}"] = _delta_cause(l, weights, deltas, zs, acts, activation)
        elif l == L - 1:
            causes[f"b{l + 1}"] = (
                "the output error p - y cancels over the data (balanced labels): "
                f"sum = {float(np.abs(dbs[l]).max()):.1e}"
            )
        else:
            causes[f"b{l + 1}"] = "the errors delta of this layer cancel over the data"
    return causes


def equal_update_groups(dW: np.ndarray, db: np.ndarray) -> list[list[int]]:
    """Groups (2 or more) of units of one layer whose gradients (dW row and db entry) are equal,
    bit for bit: such units receive the same update."""
    return [g for g in symmetry_groups(dW, db) if len(g) > 1]
