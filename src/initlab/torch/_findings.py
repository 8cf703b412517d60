"""The findings of :func:`initlab.torch.check`: each a sentence generated from the run's numbers,
a suggestion, and the :func:`initlab.torch.apply` call that carries it out (``Finding.fix``)."""

from __future__ import annotations

import math
from typing import Any

from ..diagnostics import Finding
from ..initializers import auto_initializer
from ._compat import torch
from ._layers import looks_like_torch_default, main_weight
from ._trace import Layer
from ._zeros import CANCEL, DERIVATIVE_ZERO, NORMALIZED_ZERO, UNUSED

# The signal is said to shrink under PyTorch's default start when its std over samples falls by
# more than this factor per layer along an unnormalized chain of at least CHAIN layers.
SHRINK_PER_LAYER = 0.8
CHAIN = 4
# The first loss is far too large when above this many times ln(classes), and 1 nat above it.
LOSS_FACTOR = 2.0
# Named when the error grows by more than this factor from the last layer of a chain to the first.
GRADIENT_GROWTH = 10.0

# Reported first: what looks never initialized (all-zero with no convention, stale memory,
# non-finite values).
_RANK = {"never_initialized": 0, "non-finite": 0, "zero_weights": 0}
_SEVERITY = {"error": 1, "warning": 2, "info": 3}


def names(items: list[str], k: int = 6) -> str:
    if len(items) <= k:
        return ", ".join(items)
    return f"{', '.join(items[:k])}, ... ({len(items)} in all)"


def apply_call(fix: dict[str, Any]) -> str:
    """The Python call that carries out a fix, as a suggestion shows it."""
    parts = [repr(fix["spec"])]
    if fix.get("layers"):
        parts.append(f"layers={names_repr(fix['layers'])}")
    for key in ("bias", "embeddings"):
        if key in fix:
            parts.append(f"{key}={fix[key]!r}")
    return f"initlab.torch.apply(model, {', '.join(parts)}, example_input=x)"


def names_repr(items: list[str]) -> str:
    if len(items) <= 4:
        return repr(items)
    return f"[{items[0]!r}, ..., {items[-1]!r}] ({len(items)} layers)"


def _fix(spec: str, layers: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    fix: dict[str, Any] = {"spec": spec}
    if layers:
        fix["layers"] = list(layers)
    fix.update(extra)
    return fix


def _scheme_for(activations: list[str | None]) -> str:
    """initlab's automatic scheme for the activations seen: one scheme, or 'auto' per layer."""
    schemes = set()
    for a in activations:
        if a in (None, "gated", "linear"):
            continue
        try:
            schemes.add(auto_initializer(a))
        except ValueError:
            return "auto"
    return schemes.pop() if len(schemes) == 1 else "auto"


def _finding(code, message, fix=None, layer=None, severity="error", suggestion=None) -> Finding:
    if suggestion is None:
        suggestion = ""
    if fix is not None:
        call = apply_call(fix)
        suggestion = f"{suggestion}: {call}" if suggestion else call
    return Finding(code, message, suggestion, layer, severity, fix)


def findings_of(**ctx: Any) -> list[Finding]:
    out: list[Finding] = []
    for part in (
        _non_finite,
        _zeros,
        _sharing,
        _constant_inputs,
        _symmetry,
        _dead,
        _signal,
        _drowned,
        _first_loss,
        _saturated,
        _gradient_growth_findings,
        _torch_default,
        _zero_gradients,
    ):
        out.extend(part(ctx))
    out.sort(key=lambda f: (_RANK.get(f.code, 1), _SEVERITY.get(f.severity, 4)))
    return out


def _owner_layer(ctx: dict, pname: str) -> Layer | None:
    p = ctx["module"].get_parameter(pname)
    for L in ctx["trace"].layers:
        if any(q is p for q in L.params.values()):
            return L
    return None


def _non_finite(ctx: dict) -> list[Finding]:
    out = []
    if ctx["nonfinite_input"]:
        bad = [t for t in _input_tensors(ctx) if t.is_floating_point()]
        count = sum(int((~torch.isfinite(t)).sum()) for t in bad)
        total = sum(t.numel() for t in bad)
        out.append(
            _finding(
                "non-finite",
                f"the example input holds NaN or inf ({count} of {total} entries): every "
                "statistic computed from it is non-finite",
                suggestion="check the data pipeline; a start cannot be judged on this batch",
            )
        )
    groups: dict[str, list[tuple[str, Any]]] = {}
    for pname, (what, value) in ctx["scan"].items():
        groups.setdefault(what, []).append((pname, value))
    where = "torch.empty, nn.utils.skip_init, or to_empty after building on the meta device"
    for what, items in groups.items():
        pnames = [n for n, _ in items]
        params = [ctx["module"].get_parameter(n) for n in pnames]
        owners = [_owner_layer(ctx, n) for n in pnames]
        layers = list(
            dict.fromkeys(L.name for L in owners if L is not None and L.module is not None)
        )
        first = owners[0].name if owners[0] is not None else pnames[0]
        if what in ("nan", "inf"):
            word = "NaN" if what == "nan" else "inf"
            count = sum(v for _, v in items)
            message = (
                f"{names(pnames)} {'holds' if len(items) == 1 else 'hold'} {word} ({count} of "
                f"{sum(p.numel() for p in params)} entries): possibly never initialized ({where}),"
                " or overflowed"
            )
        elif what == "subnormal":
            tiny = torch.finfo(params[0].dtype).tiny
            message = (
                f"{names(pnames)} {'holds' if len(items) == 1 else 'hold'} "
                f"{sum(v for _, v in items)} subnormal numbers (below {tiny:.2g} in magnitude), "
                f"which no random draw produces: stale memory, possibly never initialized ({where})"
            )
        else:
            message = (
                f"{names(pnames)} {'holds' if len(items) == 1 else 'hold'} values up to "
                f"{max(v for _, v in items):.3g}, which no initializer draws: possibly never "
                f"initialized ({where})"
            )
        out.append(
            _finding(
                "never_initialized",
                message,
                _fix("auto", layers) if layers else None,
                first,
                suggestion="draw them" if len(items) > 1 else "draw it",
            )
        )
    return out


def _input_tensors(ctx: dict) -> list[Any]:
    return ctx["inputs"].tensors()


def _when(step: float, how: str) -> str:
    if math.isinf(step):
        return "some parameters never get one"
    return f"every parameter it cut off has a gradient from step {int(step)} ({how})"


def _zeros(ctx: dict) -> list[Finding]:
    out = []
    how = ctx["how"]
    starts: dict[str, list[Any]] = {}
    for z in ctx["zero_layers"]:
        L = z.layer
        what = "scale" if L.family == "norm" else "weight"
        scheme = "ones" if L.family == "norm" else _scheme_for([L.act])
        if not z.own_moves:
            message = (
                f"{L.name}: every {what} is zero (possibly never initialized) and its own "
                "gradient is zero too, so gradient descent never moves it"
            )
            if z.blocked:
                message += f"; it makes the gradients of {names(z.blocked)} exactly zero"
            out.append(
                _finding(
                    "zero_weights",
                    message,
                    _fix(scheme if scheme != "ones" else "auto", [L.name]),
                    L.name,
                    suggestion="draw it at random",
                )
            )
        elif z.convention is None:
            message = (
                f"{L.name}: every {what} is zero, which no convention explains for it: possibly "
                "never initialized"
            )
            if L.z is not None and L.z.std == 0:
                message += (
                    "; its output does not change with the input, so the signal vanishes there"
                )
            message += (
                f"; its own gradient is non-zero, so it moves at the first step, and "
                f"{_when(z.first_step, how)}"
            )
            out.append(
                _finding(
                    "never_initialized",
                    message,
                    _fix(scheme if scheme != "ones" else "auto", [L.name]),
                    L.name,
                    suggestion="initialize it",
                )
            )
        else:
            starts.setdefault(z.convention, []).append(z)
    for conv, group in starts.items():
        step = max(z.first_step for z in group)
        layers = [z.layer.name for z in group]
        blocked = sorted({n for z in group for n in z.blocked})
        message = (
            f"{len(group)} layer(s) start at zero on purpose ({names(layers, 8)}): {conv}. "
            "Each has a non-zero gradient of its own, so it moves at the first step"
        )
        if blocked:
            message += f"; the {len(blocked)} parameters it cuts off until then get theirs"
            message += " never" if math.isinf(step) else f" from step {int(step)} ({how})"
        out.append(Finding("zero_start", message, "", layers[0], "info"))
    return out


def _sharing(ctx: dict) -> list[Finding]:
    share = ctx["sharing"]
    out = []
    for group in share.tied:
        out.append(
            Finding(
                "tied",
                f"{names(group[1:])} {'is' if len(group) == 2 else 'are'} {group[0]} (one tensor "
                "used in several places: tied weights, whose gradient is the sum over its uses)",
                "",
                group[0],
                "info",
            )
        )
    for group in share.aliases:
        out.append(
            Finding(
                "tied",
                f"{names(group[1:])} {'is' if len(group) == 2 else 'are'} the module {group[0]} "
                "(one module registered in several places: its parameters are tied)",
                "",
                group[0],
                "info",
            )
        )
    for group in share.shared_modules:
        count = sum(p.numel() for p in ctx["module"].get_submodule(group[0]).parameters())
        out.append(
            Finding(
                "shared_module",
                f"{names(group)} are one module registered {len(group)} times (as "
                f"nn.ModuleList([block] * {len(group)}) builds it): the {count:,} parameters of "
                f"one block are used at {len(group)} depths",
                f"build one instance per place: nn.ModuleList([Block() for _ in "
                f"range({len(group)})]); if the sharing is meant, as in ALBERT, call one "
                "registered module several times instead",
                group[0],
                "warning",
            )
        )
    for group in share.copies:
        layers = _layers_under(ctx, group[1:])
        out.append(
            _finding(
                "copied_layer",
                f"{names(group, 8)} are copies: their weights are equal bit for bit, tensor by "
                "tensor, in distinct tensors. They part at the first step, but the start is one "
                "draw, not several",
                _fix("auto", layers) if layers else None,
                group[0],
                "warning",
                suggestion="deep-copying an initialized layer (nn.TransformerEncoder does), or "
                "seeding the generator again before each layer (torch.manual_seed(s) in a loop),"
                " repeats one draw; re-draw the copies",
            )
        )
    return out


def _layers_under(ctx: dict, prefixes: list[str]) -> list[str]:
    found = []
    for L in ctx["trace"].layers:
        if L.module is None:
            continue
        if any(L.name == p or L.name.startswith(p + ".") for p in prefixes):
            found.append(L.name)
    if not found:  # a group of parameters, not modules
        for L in ctx["trace"].layers:
            if any(f"{L.name}.{role}" in prefixes for role in L.params):
                found.append(L.name)
    return found


def _constant_inputs(ctx: dict) -> list[Finding]:
    out = []
    for L in ctx["layers"]:
        if L.const_input:
            out.append(
                Finding(
                    "constant_input",
                    f"{L.name} is looked up with the single {L.const_input} on every sample"
                    if L.const_input.startswith("index")
                    else f"{L.name} reads {L.const_input}",
                    "its output is the same for every sample by construction (not a vanishing "
                    "signal; a default input such as all-zero token_type_ids); it is not judged",
                    L.name,
                    "info",
                )
            )
    return out


def _symmetry(ctx: dict) -> list[Finding]:
    rows = [r for r in ctx["rows"] if r.groups]
    if not rows:
        return []
    first = rows[0]
    layers = {L.name: L for L in ctx["layers"]}
    fix_layers = []
    for r in rows:
        fix_layers.append(r.name)
        L = layers.get(r.name)
        nxt = _next_weight_layer(L) if L is not None else None
        if nxt is not None:
            fix_layers.append(nxt.name)
    return [
        _finding(
            "symmetric",
            f"duplicate units in {names([r.name for r in rows])}: {first.name} has {first.units} "
            f"units but only {first.effective_width} distinct; units with the same incoming "
            "weights, bias and outgoing weights get equal gradients and stay equal",
            _fix(_scheme_for([r.activation for r in rows]), list(dict.fromkeys(fix_layers))),
            first.name,
            suggestion="draw the weights at random so that the units differ",
        )
    ]


def _next_weight_layer(L: Layer) -> Layer | None:
    cur = L
    for _ in range(8):
        if len(cur.consumers) != 1 or not isinstance(cur.consumers[0][0], Layer):
            return None
        cur = cur.consumers[0][0]
        if cur.family in ("weight", "param"):
            return cur
    return None


def _dead(ctx: dict) -> list[Finding]:
    rows = ctx["rows"]
    out = []
    dead = [r for r in rows if r.verdict == "dead"]
    if dead:
        worst = max(dead, key=lambda r: len(r.dead_units) / r.units)
        out.append(
            _finding(
                "dead",
                f"more than half of the ReLU units of {names([r.name for r in dead])} are zero "
                f"on every sample (dead; {len(worst.dead_units)} of {worst.units} in "
                f"{worst.name}); no gradient reaches their incoming weights",
                _fix("he_normal", [r.name for r in dead], bias="zeros"),
                dead[0].name,
                suggestion="a He start with zero biases keeps about half of each ReLU layer active",
            )
        )
    zero = {z.layer.name for z in ctx["zero_layers"]}
    some = [
        r
        for r in rows
        if r.dead_units and r.verdict not in ("dead", "vanishing", "stuck") and r.name not in zero
    ]
    if some:
        worst = max(some, key=lambda r: len(r.dead_units) / r.units)
        out.append(
            Finding(
                "dead",
                f"{len(some)} layer(s) have ReLU units that are zero on every sample of this batch "
                f"(most: {len(worst.dead_units)} of {worst.units} in {worst.name})",
                "a few are harmless; many mean large negative biases or inputs that all look alike",
                worst.name,
                "info",
            )
        )
    return out


def _chain_layers(ctx: dict, origin: str) -> list[Layer]:
    return [
        L
        for L in ctx["layers"]
        if L.family in ("weight", "param", "recurrent", "attention")
        and L.ref is not None
        and L.ref.origin == origin
    ]


def _signal(ctx: dict) -> list[Finding]:
    out = []
    rows = ctx["rows"]
    layers = {L.name: L for L in ctx["layers"]}
    for verdict, word, rule in (
        ("vanishing", "vanishes", "below 1/100 of"),
        ("exploding", "explodes", "above 100 times"),
    ):
        bad = [
            r
            for r in rows
            if r.verdict == verdict
            and r.role not in ("zero start",)
            and not (verdict == "exploding" and r.role == "output")
            and not (
                verdict == "vanishing"
                and r.kind
                and layers.get(r.name) is not None
                and _is_zero_row(ctx, r)
            )
        ]
        explained = _faulty(ctx)
        bad = [r for r in bad if not _downstream_of(layers.get(r.name), explained)]
        by_origin: dict[str | None, list[Any]] = {}
        for r in bad:
            by_origin.setdefault(r.reference, []).append(r)
        for origin, group in by_origin.items():
            first = group[0]
            extreme = (min if verdict == "vanishing" else max)(group, key=lambda r: r.act_std)
            if first.kind == "add":
                where = "the residual stream"
            elif layers.get(first.name) is not None and layers[first.name].family == "norm":
                where = "a normalization's output"
            else:
                where = "the signal"
            chain = _chain_layers(ctx, origin) if origin else []
            fix = _chain_fix(chain) if chain else _fix("auto")
            detail = ""
            L = layers.get(extreme.name)
            if L is not None and L.out_ref is not None and L.out_ref.depth and chain:
                depth = L.out_ref.depth
                ratio = extreme.act_std / first.reference_std if first.reference_std else 0
                if ratio > 0:
                    detail = f", {ratio ** (1 / depth):.3g}x per layer over {depth} layers"
            if layers.get(first.name) is not None and layers[first.name].family == "norm":
                message = (
                    f"{where} {word}: {first.name}'s output has a std over samples of "
                    f"{first.act_std:.3g} against its scale {first.reference_std:.3g} (its input "
                    "varies too little from sample to sample, or its variance is below eps)"
                )
            else:
                message = (
                    f"{where} {word}: its std over samples goes from {first.reference_std:.3g} "
                    f"at {origin} to {extreme.act_std:.3g} at {extreme.name}{detail}; "
                    f"{first.name} is the first {rule} the start's"
                )
            out.append(
                _finding(
                    verdict,
                    message,
                    fix,
                    first.name,
                    suggestion="re-initialize the chain for its activations",
                )
            )
    return out


def _drowned(ctx: dict) -> list[Finding]:
    """Layers whose output a normalization rescales, but which make less than 1/100 of what
    it normalizes: the layers after it receive mostly what was added to them."""
    out = []
    for L, norm, share in ctx.get("drowned", ()):
        r = next(r for r in ctx["rows"] if r.name == L.name)
        out.append(
            _finding(
                "drowned",
                f"{L.name}'s output (std over samples {r.act_std:.3g}) is {share:.2g} of what "
                f"{norm.name} normalizes (std {norm.in_std:.3g}): the norm rescales it, but the "
                "layers after it receive mostly what is added to it",
                _fix("auto", [L.name]),
                L.name,
                "warning",
                suggestion="start it larger",
            )
        )
    return out


def _faulty(ctx: dict) -> set[int]:
    """Layers whose own fault (all-zero weights, dead units) explains what follows them."""
    rows = {r.name: r for r in ctx["rows"]}
    found = {id(z.layer) for z in ctx["zero_layers"]}
    for L in ctx["layers"]:
        r = rows.get(L.name)
        if r is not None and r.verdict in ("dead", "stuck"):
            found.add(id(L))
    return found


def _downstream_of(L: Layer | None, faulty: set[int]) -> bool:
    seen = 0
    while L is not None and seen < 10_000:
        if id(L) in faulty:
            return True
        L = L.source
        seen += 1
    return False


def _is_zero_row(ctx: dict, r: Any) -> bool:
    return any(z.layer.name == r.name for z in ctx["zero_layers"])


def _implied_scale(spec: str) -> float | None:
    """sigma_w^2 = fan_in Var(W) of a square layer drawn by an automatic scheme."""
    name = spec.split("(")[0]
    if name == "he_normal":
        slope = float(spec.split("a=")[1].rstrip(")")) if "a=" in spec else 0.0
        return 2.0 / (1 + slope * slope)
    if name in ("glorot_uniform", "lecun_normal"):
        return 1.0
    return None


def critical_scale(act: str) -> float | None:
    """Mean-field theory's edge of chaos for ``act`` (sigma_b = 0): the fan_in Var(W) at which
    the signal's part that depends on the input neither shrinks nor grows with depth."""
    from ..meanfield import critical_sigma_w

    try:
        return critical_sigma_w(act) ** 2
    except ValueError:
        return None


def _chain_fix(chain: list[Layer]) -> dict[str, Any]:
    """Re-draw a chain for its activation. Where initlab's automatic scheme is far from the edge
    of chaos (sigmoid: Glorot and He leave its signal falling by 4x per layer, sigmoid' <= 1/4;
    GELU, SiLU), the layers the activation feeds are drawn at the critical scale instead."""
    acts = {L.act for L in chain if L.act not in (None, "gated")}
    if len(acts) == 1:
        act = acts.pop()
        crit = critical_scale(act)
        implied = _implied_scale(auto_initializer(act)) if crit else None
        if crit and (implied is None or abs(implied / crit - 1) > 0.1):
            fed = [
                L.name
                for L in chain
                if L.source is not None and L.source.act == act and L.downstream
            ]
            if fed:
                return _fix(f"variance_scaling(scale={crit:.4g}, distribution='normal')", fed)
    return _fix("auto", [L.name for L in chain])


def _first_loss(ctx: dict) -> list[Finding]:
    first = ctx["first_loss"]
    if first is None:
        return []
    value, classes, std = first
    base = math.log(classes)
    if not (value > LOSS_FACTOR * base and value > base + 1):
        return []
    layer = _output_layer(ctx)
    what = "with the target" if ctx["target"] is not None else "against uniformly random labels"
    fix = _fix("auto", [layer.name]) if layer is not None and layer.module is not None else None
    weights = ""
    w = main_weight(layer.module) if layer is not None and layer.module is not None else None
    if w is not None:
        param = w if w._base is None else w._base
        owner = ctx["param_names"].get(id(param), "")
        tied = f" ({owner}, tied)" if owner and not owner.startswith(layer.name + ".") else ""
        weights = f"; {layer.name}'s weights{tied} have std {float(w.detach().std()):.3g}"
    return [
        _finding(
            "exploding",
            f"the first loss is {value:.3g} ({what}), against ln({classes}) = {base:.3g} for a "
            f"uniform prediction: the logits' std is {std:.3g}{weights}, so the start is "
            "confidently wrong",
            fix,
            layer.name if layer is not None else None,
            suggestion="start the output layer small",
        )
    ]


def _output_layer(ctx: dict) -> Layer | None:
    logits = ctx["logits"]
    info = ctx["trace"]._get(logits) if logits is not None else None
    if info is not None and info.prov is not None:
        return info.prov.layer
    outs = [
        L
        for L in ctx["layers"]
        if L.is_output or (L.family in ("weight", "param") and not L.downstream)
    ]
    return outs[-1] if outs else None


def _saturated(ctx: dict) -> list[Finding]:
    rows = [r for r in ctx["rows"] if r.verdict == "saturated"]
    if not rows:
        return []
    layers = {L.name: L for L in ctx["layers"]}
    worst = max(rows, key=lambda r: r.saturated_share)
    L = layers.get(worst.name)
    chain = _chain_layers(ctx, L.ref.origin) if L is not None and L.ref is not None else []
    growth = _gradient_growth(chain)
    if L is not None and L.gates is not None:
        gate, share, _ = L.gates.worst()
        message = (
            f"{share:.0%} of the outputs of {worst.name}'s {gate} are in the flat part (a "
            "derivative below 2% of its peak: |tanh| > 0.99, a sigmoid within 0.005 of 0 or 1), "
            f"and {L.gates.overall:.0%} of all its gate outputs (recomputed from its input and "
            "weights)"
        )
    else:
        message = (
            f"{worst.saturated_share:.0%} of the {worst.activation} outputs of {worst.name} are "
            "in the flat part (|tanh| > 0.99, a derivative below 2% of its peak)"
        )
    if len(rows) > 1:
        message += f"; more than half in {names([r.name for r in rows])}"
    if growth is not None:
        g, first, last = growth
        trend = "grows" if g >= 1 else "falls"
        message += (
            f"; the error's rms {trend} {g if g >= 1 else 1 / g:.3g}x from {last} back to "
            f"{first}, toward the input"
        )
    return [
        _finding(
            "saturated",
            message,
            _chain_fix(chain) if chain else _fix("auto"),
            worst.name,
            suggestion="smaller weights: re-initialize for the activation",
        )
    ]


def _gradient_growth_findings(ctx: dict) -> list[Finding]:
    """An unnormalized chain whose error grows by more than GRADIENT_GROWTH from its last layer
    back to its first (the chaotic phase), where no saturation finding already says so."""
    if any(r.verdict == "saturated" for r in ctx["rows"]):
        return []
    out = []
    by_origin: dict[str, list[Layer]] = {}
    for L in ctx["layers"]:
        if L.family in ("weight", "param") and L.ref is not None:
            by_origin.setdefault(L.ref.origin, []).append(L)
    for chain in by_origin.values():
        if len(chain) < 3:
            continue
        growth = _gradient_growth(chain)
        if growth is None or growth[0] <= GRADIENT_GROWTH:
            continue
        g, first, last = growth
        out.append(
            _finding(
                "exploding_gradient",
                f"the error's rms grows {g:.3g}x from {last} back to {first}, toward the input: "
                "the first layers get the largest updates (the chaotic phase of the start)",
                _chain_fix(chain),
                first,
                "warning",
                suggestion="smaller weights: re-initialize the chain for its activation",
            )
        )
    return out


def _gradient_growth(chain: list[Layer]) -> tuple[float, str, str] | None:
    """The error's rms at the chain's first layer over its last hidden one (the output layer's
    error is the loss's own, on another scale)."""
    errs = [(L, L.error_rms("z")) for L in chain if L.error_rms("z") and L.downstream]
    if len(errs) < 2:
        return None
    (first, e0), (last, e1) = errs[0], errs[-1]
    return e0 / e1, first.name, last.name


def _torch_default(ctx: dict) -> list[Finding]:
    out = []
    by_origin: dict[str, list[Layer]] = {}
    for L in ctx["layers"]:
        if L.family == "weight" and L.ref is not None and L.module is not None:
            by_origin.setdefault(L.ref.origin, []).append(L)
    rows = {r.name: r for r in ctx["rows"]}
    for origin, chain in by_origin.items():
        if len(chain) < CHAIN:
            continue
        flagged = [L for L in chain if _is_default(L)]
        if len(flagged) < CHAIN:
            continue
        # The fall per layer, up to the first layer where the signal has vanished: beyond it
        # the part that depends on the input sits at the floating-point floor under the biases.
        upto = next((L for L in chain if rows[L.name].verdict == "vanishing"), chain[-1])
        r = rows[upto.name]
        if not r.reference_std or not r.act_std or upto.out_ref is None:
            continue
        per_layer = (r.act_std / r.reference_std) ** (1 / max(upto.out_ref.depth, 1))
        if per_layer >= SHRINK_PER_LAYER:
            continue
        acts = sorted({L.act for L in flagged if L.act not in (None, "gated")})
        crit = critical_scale(acts[0]) if len(acts) == 1 else None
        keeps = (
            f", where {acts[0]} keeps it with Var = {crit:.3g}/fan_in (the edge of chaos)"
            if crit
            else ""
        )
        fix = _chain_fix(chain)
        vanishing = any(rows[L.name].verdict == "vanishing" for L in chain)
        out.append(
            _finding(
                "torch_default",
                f"activation std falls by {1 / per_layer:.3g}x per layer: torch's default "
                f"gives Var = 1/(3 fan_in){keeps}",
                fix,
                flagged[0].name,
                "error" if vanishing else "warning",
                suggestion=f"{len(flagged)} of {len(chain)} layers of the chain from {origin} "
                f"({names([L.name for L in flagged])}) have PyTorch's default start, "
                "kaiming_uniform_(a=sqrt(5)) = U(±1/sqrt(fan_in)) (read from their variance and "
                "bound)",
            )
        )
    return out


def _is_default(L: Layer) -> bool:
    w = main_weight(L.module)
    return w is not None and looks_like_torch_default(w)


def _zero_gradients(ctx: dict) -> list[Finding]:
    # Gradients cut off by an all-zero layer are told with that layer.
    pnames = ctx["param_names"]
    explained = {n for z in ctx["zero_layers"] for n in z.blocked}
    explained |= {
        pnames[id(p)]
        for z in ctx["zero_layers"]
        for p in z.layer.params.values()
        if id(p) in pnames
    }
    zero = [b for b in ctx["blocks"] if b.zero and b.name not in explained]
    unused = [b for b in zero if b.cause == UNUSED]
    other = [b for b in zero if b.cause != UNUSED]
    out = []
    if unused:
        out.append(
            Finding(
                "unused",
                f"{names([b.name for b in unused])}: the loss does not depend on "
                f"{'it' if len(unused) == 1 else 'them'} on this input (no gradient at all)",
                "fine for parts this input does not reach (a pooler, a second head); otherwise "
                "look for a branch whose output is dropped",
                unused[0].name,
                "info",
            )
        )
    if other:
        causes = {b.cause for b in other}
        everything = len(zero) == len(ctx["blocks"])
        if DERIVATIVE_ZERO in causes:
            suggestion = (
                "the pre-activations sit where the activation is flat (dead ReLU units, "
                "saturation): re-initialize for the activation"
            )
        elif causes <= {CANCEL, NORMALIZED_ZERO}:
            suggestion = "Diagnosis.blocks gives each block's cause"
        else:
            suggestion = "Diagnosis.blocks gives each block's cause"
        out.append(
            Finding(
                "zero_gradient",
                f"{len(other)} of {len(ctx['blocks'])} parameter blocks get exactly zero "
                f"gradient on this batch: {names([b.name for b in other])}",
                suggestion,
                None,
                "error" if everything else "warning",
            )
        )
    return out
