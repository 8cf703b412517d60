"""Statistics of a layer's output over samples, computed when the layer returns: no copy kept.

The std over samples is sqrt of the mean over units of each unit's variance over every other
axis (samples and positions): the part of a signal that changes with the input; a constant
offset per unit (a bias) does not count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..diagnostics._report import AT_BOUND, FLAT_TANH
from ._compat import torch


@dataclass(eq=False)
class Stats:
    """Statistics of one tensor over samples (and positions), per unit, pooled."""

    mean: float
    std: float
    finite: bool
    zero: bool
    dead: list[int] | None = None
    flat: float | None = None
    at_bound: float | None = None


# The std over samples (and the flat share) of a wider layer is estimated on this many of its
# units, evenly spaced: the pooled std is a mean over units, and a 50257-way output layer would
# otherwise cost more than its own matrix product.
MAX_UNITS = 2048


def _prepare(t: Any, axis: int) -> tuple[Any, int, list[int]]:
    """The tensor as float (at least float32), its unit axis, and the other axes."""
    t = t.detach()
    if not t.is_floating_point():
        t = t.double()
    elif t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    if t.ndim == 0:
        t = t.reshape(1, 1)
    elif t.ndim == 1:
        t = t.reshape(-1, 1)
        axis = 1
    axis = axis % t.ndim
    return t, axis, [d for d in range(t.ndim) if d != axis]


def _some_units(t: Any, axis: int) -> Any:
    units = t.shape[axis]
    if units <= MAX_UNITS:
        return t
    idx = torch.arange(MAX_UNITS, device=t.device) * (units - 1) // (MAX_UNITS - 1)
    return t.index_select(axis, idx)


def std_over_samples(t: Any, axis: int = 1) -> float:
    """sqrt of the mean over units of each unit's variance over samples (every other axis): the
    part of a signal that changes with the input; a constant offset per unit does not count."""
    t, axis, dims = _prepare(t, axis)
    return _pooled_std(_some_units(t, axis), dims)


def _pooled_std(x: Any, dims: list[int]) -> float:
    var = x.var(dim=dims, correction=0)
    std = float(var.mean(dtype=torch.float64).sqrt())
    if std != std or std == float("inf"):
        # A float32 sum of squares of 1e20-sized values overflows: again in float64.
        std = float(x.double().var(dim=dims, correction=0).mean().sqrt())
    return std


def tensor_stats(t: Any, axis: int, activation: str | None = None) -> Stats:
    """The statistics of a layer's output (or of its activation's, given ``activation``)."""
    x, axis, dims = _prepare(t, axis)
    lo, hi = torch.aminmax(x.reshape(-1))
    lo, hi = float(lo), float(hi)
    finite = math.isfinite(lo) and math.isfinite(hi)  # a NaN anywhere makes both NaN
    mean = float(x.sum()) / max(x.numel(), 1)
    if finite and not math.isfinite(mean):
        mean = float(x.double().mean())  # a float32 sum that overflowed
    sub = _some_units(x, axis)
    s = Stats(
        mean=mean,
        std=_pooled_std(sub, dims) if finite else float("nan"),
        finite=finite,
        zero=lo == 0 and hi == 0,
    )
    base = (activation or "").split("(")[0]
    if base == "relu":
        # relu(z) >= 0: a unit is zero on every sample where its largest value is 0.
        s.dead = torch.nonzero(x.amax(dim=dims) == 0).reshape(-1).tolist()
    elif base in ("tanh", "sigmoid"):
        u = sub if base == "tanh" else 2 * sub - 1
        lo = -1.0 if base == "tanh" else 0.0
        s.flat = float((u.abs() > FLAT_TANH).float().mean(dtype=torch.float64))
        near = ((sub - 1).abs() <= AT_BOUND) | ((sub - lo).abs() <= AT_BOUND)
        s.at_bound = float(near.float().mean(dtype=torch.float64))
    return s


def norm2(g: Any) -> float:
    """The squared 2-norm of a tensor, in float32 (fast), again in float64 if that overflows."""
    n = float(torch.linalg.vector_norm(g.detach().float()))
    if not math.isfinite(n):
        n = float(torch.linalg.vector_norm(g.detach(), dtype=torch.float64))
    return n * n


def all_zero(t: Any) -> bool:
    """Every entry is exactly zero (a NaN is not). One min-max pass: count_nonzero is many times
    slower on CPU for tensors of a million entries."""
    if t.numel() == 0:
        return True
    lo, hi = torch.aminmax(t.detach().reshape(-1))
    return bool(lo == 0) and bool(hi == 0)
