"""Interchangeable units, effective width, and the smaller network with the same function.

Two hidden units i and j of a layer are interchangeable when they have the same incoming weights,
the same bias and the same outgoing weights: then they compute the same activation on every
input, receive the same gradient (dW rows and db entries are equal), and so stay equal under any
gradient method that treats parameters alike. A layer's effective width is its number of groups of
interchangeable units; a layer started from a constant has effective width 1.
"""

from __future__ import annotations

import numpy as np

__all__ = ["effective_width", "merge_units", "symmetry_groups", "unit_signatures"]


def unit_signatures(W_in: np.ndarray, b: np.ndarray | None, W_out: np.ndarray | None) -> np.ndarray:
    """One row per unit: its incoming weights, its bias, its outgoing weights.

    ``W_in`` is (units, fan_in) (a convolution's (out, in, *kernel) is flattened), ``b`` (units,),
    ``W_out`` (next_units, units) or for a convolution (next_out, units, *kernel).
    """
    units = W_in.shape[0]
    parts = [np.asarray(W_in).reshape(units, -1)]
    if b is not None:
        parts.append(np.asarray(b).reshape(units, 1))
    if W_out is not None:
        W_out = np.asarray(W_out)
        parts.append(np.moveaxis(W_out, 1, 0).reshape(units, -1))
    return np.concatenate(parts, axis=1)


def symmetry_groups(
    W_in: np.ndarray,
    b: np.ndarray | None = None,
    W_out: np.ndarray | None = None,
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
) -> list[list[int]]:
    """Groups of interchangeable units of one layer, each a sorted list of unit indices.

    With ``atol = rtol = 0`` (the default) units are compared exactly, bit for bit; otherwise two
    units belong together when every entry of their signatures agrees within
    ``atol + rtol * |entry|`` (the first unit of a group is its reference).

    Returns every group, singletons included, ordered by their first unit.

    Examples
    --------
    >>> W = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0]])
    >>> symmetry_groups(W, np.zeros(3), np.ones((1, 3)))
    [[0, 1], [2]]
    """
    sig = unit_signatures(W_in, b, W_out)
    units = sig.shape[0]
    if atol == 0 and rtol == 0:
        _, inverse = np.unique(sig, axis=0, return_inverse=True)
        groups: dict[int, list[int]] = {}
        for i, g in enumerate(np.ravel(inverse)):
            groups.setdefault(int(g), []).append(i)
        return sorted(groups.values())
    # Tolerance: units that agree entrywise agree on a projection too, so sort by a fixed random
    # projection and compare only neighbours whose projections are close enough.
    v = np.random.default_rng(0).standard_normal(sig.shape[1])
    proj = sig @ v
    bound = (atol + rtol * np.abs(sig).max(axis=1)) * np.abs(v).sum()
    order = np.argsort(proj, kind="stable")
    assigned = np.full(units, -1)
    out: list[list[int]] = []
    for pos, i in enumerate(order):
        if assigned[i] >= 0:
            continue
        group = [int(i)]
        assigned[i] = len(out)
        for j in order[pos + 1 :]:
            if proj[j] - proj[i] > bound[i] + bound[j]:
                break
            if assigned[j] < 0 and np.all(np.abs(sig[j] - sig[i]) <= atol + rtol * np.abs(sig[i])):
                group.append(int(j))
                assigned[j] = assigned[i]
        out.append(sorted(group))
    return sorted(out)


def effective_width(groups: list[list[int]]) -> int:
    """The number of distinct units: the number of groups."""
    return len(groups)


def merge_units(
    W_in: np.ndarray, b: np.ndarray, W_out: np.ndarray, groups: list[list[int]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge each group into its first unit: keep its incoming weights and bias, and give it the
    sum of the group's outgoing weights, so the next layer receives the same input.

    Returns the new (W_in, b, W_out) with one unit per group.
    """
    keep = [g[0] for g in groups]
    W_next = np.stack([W_out[:, g].sum(axis=1) for g in groups], axis=1)
    return W_in[keep].copy(), b[keep].copy(), W_next
