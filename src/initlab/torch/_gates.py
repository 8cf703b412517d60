"""The gates inside ``nn.LSTM`` and ``nn.GRU``, recomputed from the real input and weights.

A recurrent layer's output is ``h``, bounded by tanh whatever its gates do, so its statistics
cannot tell a healthy start from one whose gates sit at their bounds (sigmoid at 0 or 1, tanh at
-1 or 1) for most samples, where their derivatives vanish and nothing is learnt through them.
Each gate's pre-activation at step t is an affine function of the layer's input x_t and of the
previous state h_{t-1}; both are known: x_t is the layer's input, h_{t-1} its own output one step
earlier (h_0 the initial state). Layer l > 0 of a stack reads layer l - 1's output, which the
module does not return: it is computed here by a one-layer copy of layer l - 1's weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..diagnostics._report import AT_BOUND, FLAT_TANH
from ._compat import nn, torch


@dataclass(frozen=True)
class Gates:
    """Per gate, the share of its outputs in the flat part and within 1e-6 of a bound (over
    units, steps, samples, layers and directions), and the flat share over all gate outputs."""

    shares: dict[str, tuple[float, float]]
    overall: float

    def worst(self) -> tuple[str, float, float]:
        """The gate with the largest flat share: its name, flat share and at-bound share."""
        name = max(self.shares, key=lambda n: self.shares[n][0])
        return name, *self.shares[name]


def gate_saturation(mod: Any, args: tuple, kwargs: dict, output: Any) -> Gates | None:
    """How saturated each gate of an LSTM or GRU is on this input: each gate is a layer of
    units with its own nonlinearity, judged as such (flat: |tanh| > 0.99, a sigmoid within
    0.005 of 0 or 1, a derivative below 2% of its peak); None when the input is not a plain
    tensor (a PackedSequence) or the layer is not an LSTM or GRU. ``output`` is the module's
    output sequence (its last layer's states)."""
    if not isinstance(mod, nn.LSTM | nn.GRU) or not isinstance(output, torch.Tensor):
        return None
    x = args[0] if args else kwargs.get("input")
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim not in (2, 3):
        return None
    hx = args[1] if len(args) > 1 else kwargs.get("hx")
    cx = None
    if isinstance(hx, tuple):
        hx, cx = hx
    unbatched = x.ndim == 2

    def batch_first(t: Any) -> Any:
        t = t.detach()
        if unbatched:
            return t.unsqueeze(0)
        return t if mod.batch_first else t.transpose(0, 1)

    def state(t: Any) -> Any:
        return None if t is None else (t.detach().unsqueeze(1) if unbatched else t.detach())

    hx, cx = state(hx), state(cx)
    with torch.no_grad():
        inp, last = batch_first(x), batch_first(output)
        dirs = 2 if mod.bidirectional else 1
        counts: dict[str, list[float]] = {}
        for layer in range(mod.num_layers):
            out = last if layer == mod.num_layers - 1 else _layer_output(mod, layer, inp, hx, cx)
            size = out.shape[-1] // dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                h = out[..., d * size : (d + 1) * size]
                h0 = (
                    hx[layer * dirs + d].unsqueeze(1)
                    if hx is not None
                    else torch.zeros_like(h[:, :1])
                )
                # The state each step starts from: one step earlier in the layer's own order.
                if d == 0:
                    prev = torch.cat([h0, h[:, :-1]], dim=1)
                else:
                    prev = torch.cat([h[:, 1:], h0], dim=1)
                c0 = cx[layer * dirs + d] if cx is not None else None
                for name, c in _gates(mod, sfx, inp, prev, d == 1, c0).items():
                    acc = counts.setdefault(name, [0.0, 0.0, 0.0])
                    for k in range(3):
                        acc[k] += c[k]
            inp = out
    total = sum(c[2] for c in counts.values())
    if not total:
        return None
    shares = {name: (c[0] / c[2], c[1] / c[2]) for name, c in counts.items()}
    overall = sum(c[0] for c in counts.values()) / total
    return Gates(shares, overall)


def _layer_output(mod: Any, layer: int, inp: Any, hx: Any, cx: Any) -> Any:
    """Layer ``layer``'s output sequence (batch first), from a one-layer copy of its weights
    (without the dropout between layers, which a forward in training mode draws)."""
    dirs = 2 if mod.bidirectional else 1
    kw = dict(
        input_size=inp.shape[-1],
        hidden_size=mod.hidden_size,
        num_layers=1,
        bias=mod.bias,
        batch_first=True,
        bidirectional=mod.bidirectional,
        dtype=inp.dtype,
        device="meta",  # no draw from torch's global generator: the weights are assigned below
    )
    if isinstance(mod, nn.LSTM):
        kw["proj_size"] = mod.proj_size
    one = type(mod)(**kw)
    weights = {}
    for name, p in mod.named_parameters():
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            if name.endswith(sfx):
                weights[name[: -len(sfx)] + ("_l0_reverse" if d else "_l0")] = p.detach()
    one.load_state_dict(weights, assign=True)
    if hx is None:
        return one(inp)[0]
    h0 = hx[layer * dirs : (layer + 1) * dirs]
    if isinstance(mod, nn.LSTM):
        c0 = cx[layer * dirs : (layer + 1) * dirs] if cx is not None else torch.zeros_like(h0)
        return one(inp, (h0, c0))[0]
    return one(inp, h0)[0]


def _gates(
    mod: Any, sfx: str, x: Any, prev: Any, reverse: bool, c0: Any
) -> dict[str, tuple[float, float, int]]:
    """Each gate's flat and at-bound counts and number of outputs, for one layer and direction."""
    w_ih = getattr(mod, "weight_ih" + sfx).detach()
    w_hh = getattr(mod, "weight_hh" + sfx).detach()
    gi = x @ w_ih.T
    gh = prev @ w_hh.T
    if mod.bias:
        gi = gi + getattr(mod, "bias_ih" + sfx).detach()
        gh = gh + getattr(mod, "bias_hh" + sfx).detach()
    if isinstance(mod, nn.LSTM):
        i, f, g, o = (gi + gh).chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        # The cell state, c_t = f_t c_{t-1} + i_t g_t (from c_0 = 0, as when none is given;
        # reversed for the reverse direction), goes out through tanh(c_t): a gate too.
        steps = range(x.shape[1]) if not reverse else range(x.shape[1] - 1, -1, -1)
        c = torch.zeros_like(g[:, 0]) if c0 is None else c0
        cells = torch.empty_like(g)
        for t in steps:
            c = f[:, t] * c + i[:, t] * g[:, t]
            cells[:, t] = c
        gates = {
            "input gate i (sigmoid)": (i, 0.0),
            "forget gate f (sigmoid)": (f, 0.0),
            "cell candidate g (tanh)": (g, -1.0),
            "output gate o (sigmoid)": (o, 0.0),
            "cell output tanh(c)": (torch.tanh(cells), -1.0),
        }
    else:
        ir, iz, in_ = gi.chunk(3, dim=-1)
        hr, hz, hn = gh.chunk(3, dim=-1)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        gates = {
            "reset gate r (sigmoid)": (r, 0.0),
            "update gate z (sigmoid)": (z, 0.0),
            "candidate n (tanh)": (torch.tanh(in_ + r * hn), -1.0),
        }
    out = {}
    for name, (a, lo) in gates.items():
        u = a if lo < 0 else 2 * a - 1  # on [-1, 1]: sigmoid(z) = (1 + tanh(z / 2)) / 2
        flat = float((u.abs() > FLAT_TANH).sum())
        bound = float(((a - 1).abs() <= AT_BOUND).sum() + ((a - lo).abs() <= AT_BOUND).sum())
        out[name] = (flat, bound, a.numel())
    return out
