"""Interchangeable units of a PyTorch layer: its incoming weights and bias, the per-unit norms
and gated partner on the way, and the outgoing weights of the one layer that reads it."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..diagnostics import symmetry_groups
from ._compat import torch
from ._layers import main_weight
from ._trace import Layer
from ._zeros import is_zero_layer

# Per-unit normalizations: equal units before them stay equal after (given equal scale and
# shift), so the units of a layer can be followed through them to the next layer's weights.
_PER_UNIT_NORMS = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LayerNorm")


def effective_widths(layers, by_layer, zero_start, atol, rtol) -> list[str]:
    """Effective widths where both incoming and outgoing weights can be compared; the layers
    whose units share incoming weights but whose outgoing weights could not be followed."""
    incoming_only = []
    for L in layers:
        r = by_layer[id(L)]
        if L.family not in ("weight", "param") or r.role == "output" or L.act == "gated":
            continue
        if id(L) in zero_start or is_zero_layer(L):
            continue  # all rows equal because all are zero: the zero-weight findings say so
        sig = _signature_parts(L)
        if sig is None:
            continue
        W_in, b, extra, W_out = sig
        if W_out is None:
            width, groups = _groups(W_in, b, extra, None, atol, rtol)
            if groups:
                incoming_only.append(f"{L.name} ({width} distinct of {r.units})")
            continue
        r.effective_width, r.groups = _groups(W_in, b, extra, W_out, atol, rtol)
    return incoming_only


def _numpy(t: Any) -> np.ndarray:
    t = t.detach()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return t.cpu().numpy()


def _in_out_weight(L: Layer) -> Any:
    """The layer's weight as (out, in, *kernel)."""
    if L.module is not None:
        w = main_weight(L.module)
        if w is None or getattr(L.module, "groups", 1) != 1:
            return None
        return w
    w = L.params.get("weight")  # a raw parameter; the layout is the parameter's own
    if w is None or w.ndim != 2:
        return None
    return w if L.layout == "out_in" else w.t() if L.layout == "in_out" else None


def _signature_parts(L: Layer):
    """(incoming weights (units, fan_in), bias, per-unit extras, outgoing (next_out, units, ...))
    with the outgoing part None when it cannot be followed: the output must reach exactly one
    weight layer through element-wise calls and per-unit norms, each tensor on the way used once,
    with no active dropout (which gives each unit its own mask)."""
    W = _in_out_weight(L)
    if W is None or W.shape[0] != L.units:
        return None
    W_in = _numpy(W).reshape(L.units, -1)
    bias = L.params.get("bias")
    b = None if bias is None or bias.ndim != 1 or bias.numel() != L.units else _numpy(bias)
    extra = []
    if L.gate_partner is None and L.act != "gated":
        partner = next(
            (c for c, prov in L.consumers if prov.stage == "gated" and prov.partner is not None),
            None,
        )
        del partner
    cur, units = L, L.units
    for _ in range(8):  # through at most a few per-unit norms
        if len(cur.consumers) != 1:
            return W_in, b, extra, None
        nxt, prov = cur.consumers[0]
        if not isinstance(nxt, Layer) or prov.dropout or any(i.uses != 1 for i in prov.chain):
            return W_in, b, extra, None
        if prov.stage == "gated" and prov.partner is not None:
            up = _in_out_weight(prov.partner)
            if up is None or up.shape[0] != units:
                return W_in, b, extra, None
            extra.append(_numpy(up).reshape(units, -1))
        if nxt.family == "norm":
            if nxt.kind not in _PER_UNIT_NORMS or nxt.units != units:
                return W_in, b, extra, None
            for role in ("weight", "bias"):
                p = nxt.params.get(role)
                if p is not None:
                    extra.append(_numpy(p).reshape(units, 1))
            cur = nxt
            continue
        if nxt.family not in ("weight", "param"):
            return W_in, b, extra, None
        W2 = _in_out_weight(nxt)
        if W2 is None:
            return W_in, b, extra, None
        W2 = _numpy(W2)
        if W2.shape[1] == units:
            return W_in, b, extra, W2
        if prov.flattened and W2.ndim == 2 and W2.shape[1] % units == 0:
            return W_in, b, extra, W2.reshape(W2.shape[0], units, -1)  # channel-major
        return W_in, b, extra, None
    return W_in, b, extra, None


def _groups(W_in, b, extra, W_out, atol, rtol) -> tuple[int, list[list[int]]]:
    """The effective width (the number of groups of interchangeable units: incoming weights,
    bias, per-unit extras, outgoing weights) and the groups of two or more units."""
    units = W_in.shape[0]
    inc = np.concatenate([W_in, *extra], axis=1) if extra else W_in
    if atol == 0 and rtol == 0:
        # Exact screen: units that are equal in full are equal on a few columns, so only units
        # sharing such a key can share a group; symmetry_groups compares those in full.
        parts = [inc[:, :4]]
        if b is not None:
            parts.append(b[:, None])
        if W_out is not None:
            parts.append(np.moveaxis(W_out[:2], 1, 0).reshape(units, -1))
        key = np.concatenate(parts, axis=1)
        _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        candidates = np.flatnonzero(counts[np.ravel(inverse)] > 1)
    else:
        candidates = np.arange(units)
    if not candidates.size:
        return units, []
    sub = symmetry_groups(
        inc[candidates],
        None if b is None else b[candidates],
        None if W_out is None else W_out[:, candidates],
        atol=atol,
        rtol=rtol,
    )
    groups = sorted([candidates[g].tolist() for g in sub if len(g) > 1])
    return units - candidates.size + len(sub), groups
