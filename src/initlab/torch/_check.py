"""The diagnosis of a PyTorch module's start, read while it runs: :func:`initlab.torch.check`."""

from __future__ import annotations

import math
from typing import Any

from .._validation import check_number
from ..diagnostics import BlockReport, Diagnosis, LayerReport, assign_verdicts
from ..diagnostics._report import VANISH_TOTAL, overall_verdict
from ._compat import nn, torch
from ._findings import CHAIN, findings_of
from ._layers import weight_std_expected
from ._loss import first_loss as _first_loss
from ._loss import has_logits, logits_of, objective
from ._probe import PROBE_SEED, as_inputs, check_module, preserved_state, run_forward
from ._sharing import sharing
from ._stats import all_zero, norm2
from ._symmetry import effective_widths
from ._trace import Add, Layer, Trace, tensors_in
from ._zeros import (
    MEASURE_MAX_PARAMETERS,
    UNUSED,
    ZeroLayer,
    cause,
    convention,
    first_steps,
    is_zero_layer,
    layer_weight,
    measure_first_steps,
    root_blame,
)


def check(
    module: Any,
    example_input: Any,
    target: Any = None,
    loss_fn: Any = None,
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
    measure_steps: bool | None = None,
) -> Diagnosis:
    check_module(module, "check")
    atol = check_number("check", "atol", atol, low=0)
    rtol = check_number("check", "rtol", rtol, low=0)
    if measure_steps not in (None, True, False):
        raise ValueError(
            "The 'measure_steps' parameter of check must be True, False or None. "
            f"Got {measure_steps!r} instead."
        )
    inputs = as_inputs(example_input, "check")
    if target is not None and not isinstance(target, torch.Tensor):
        raise ValueError(
            "The 'target' parameter of check must be a torch.Tensor or None. "
            f"Got {type(target).__name__} instead."
        )
    if loss_fn is not None and (target is None or not callable(loss_fn)):
        raise ValueError(
            "The 'loss_fn' parameter of check must be a callable loss_fn(output, target) used "
            f"together with a target, or None. Got {loss_fn!r} with target {type(target).__name__}"
            " instead."
        )
    params = list(module.named_parameters())
    named = [(n, p) for n, p in params if p.requires_grad]
    frozen = [n for n, p in params if not p.requires_grad]
    versions = {id(p): p._version for _, p in params}
    trace = Trace(module)
    with preserved_state(module):
        try:
            # Gradients even when called under torch.no_grad() or torch.inference_mode().
            with torch.inference_mode(False), torch.enable_grad():
                inputs = inputs.outside_inference_mode()
                with trace:
                    for t in inputs.tensors():
                        trace.mark_input(t)
                    output = run_forward(module, inputs, trace, "check")
                logits = logits_of(output)
                trace.mark_outputs([logits] if logits is not None else tensors_in(output))
                scalar, loss = objective(output, logits, target, loss_fn)
                grads: list[Any] | None = None  # no backward pass: nothing to differentiate
                if scalar is not None and scalar.requires_grad and named:
                    # autograd.grad, not backward: the parameters' .grad are never written.
                    grads = list(
                        torch.autograd.grad(scalar, [p for _, p in named], allow_unused=True)
                    )
                trace.backward = grads is not None
                first_loss = _first_loss(logits, target, loss, has_logits(output))
        finally:
            trace.remove_tensor_hooks()
    changed = [n for n, p in params if p._version != versions[id(p)]]

    def probe(out: Any) -> Any:
        return objective(out, logits_of(out), target, loss_fn)[0]

    return _diagnose(
        module,
        inputs,
        trace,
        named,
        grads,
        loss,
        first_loss,
        logits,
        target,
        frozen,
        changed,
        probe,
        atol,
        rtol,
        measure_steps,
    )


# --------------------------------------------------------------------------------------------
# From the trace to the diagnosis
# --------------------------------------------------------------------------------------------


def _diagnose(
    module, inputs, trace, named, grads, loss, first_loss, logits, target, frozen, changed,
    probe, atol, rtol, measure,
) -> Diagnosis:  # fmt: skip
    layers = [L for L in trace.layers if L.z is not None]
    names_of = {id(p): n for n, p in named}
    blocks, blame, grad_norm = _blocks(trace, named, grads)
    zero_layers, how = _zero_layers(
        module, trace, blocks, blame, names_of, inputs, probe, named, measure
    )
    zero_start = {id(z.layer) for z in zero_layers if z.own_moves and z.convention}
    rows, by_layer = _rows(trace, layers, zero_start, grad_norm)
    incoming_only = effective_widths(layers, by_layer, zero_start, atol, rtol)
    assign_verdicts(rows, 0.0)
    drowned = _judge_at_norms(layers, by_layer)

    scan = _scan(module)
    nonfinite_input = any(
        t.is_floating_point() and not bool(torch.isfinite(t).all()) for t in inputs.tensors()
    )
    findings = findings_of(
        module=module,
        trace=trace,
        layers=layers,
        rows=rows,
        by_layer=by_layer,
        blocks=blocks,
        blame=blame,
        zero_layers=zero_layers,
        how=how,
        first_loss=first_loss,
        logits=logits,
        sharing=sharing(module),
        scan=scan,
        nonfinite_input=nonfinite_input,
        target=target,
        inputs=inputs,
        param_names=names_of,
        drowned=drowned,
    )
    extra = _special_verdicts(module, trace, layers, by_layer, zero_layers, scan, findings)
    if nonfinite_input:
        extra.append("non-finite")
    coverage, unanalysed = _coverage(module, trace)
    notes = _notes(module, trace, target, frozen, incoming_only, changed, unanalysed, first_loss)
    extra += _finding_verdicts(findings)
    return Diagnosis(
        verdict=overall_verdict(rows, blocks, extra),
        layers=rows,
        blocks=blocks,
        findings=findings,
        loss=loss if loss is not None else (first_loss[0] if first_loss else None),
        model=type(module).__name__,
        notes=notes,
        coverage=coverage,
        unanalysed=unanalysed,
    )


# The verdict an error finding stands for when its code is not a verdict itself: a zero layer
# gradient descent never moves is stuck, so is a model whose every block gets a zero gradient; a
# default start that makes a chain vanish, or a layer possibly never initialized (all-zero with
# no convention, stale memory, values no initializer draws), is not a start that trains well.
_VERDICT_OF = {
    "zero_weights": "stuck",
    "zero_gradient": "stuck",
    "torch_default": "vanishing",
    "never_initialized": "vanishing",
    "exploding_gradient": "exploding",
    "copied_layer": "symmetric",
}


def _finding_verdicts(findings: list[Any]) -> list[str]:
    """The verdicts of the error findings: a model with an error is never called healthy."""
    from ..diagnostics import VERDICTS

    out = []
    for f in findings:
        if f.severity != "error":
            continue
        v = f.code if f.code in VERDICTS else _VERDICT_OF.get(f.code)
        if v is None:
            raise AssertionError(f"an error finding {f.code!r} has no verdict")  # initlab's bug
        out.append(v)
    return out


def _base(t: Any) -> Any:
    """A parameter, for a view of it (transformers' Conv1D weight is seen transposed)."""
    return t if t._base is None else t._base


def _blocks(trace: Trace, named, grads):
    """One BlockReport per trainable parameter, the zero layer to blame for each zero gradient,
    and each parameter's gradient norm (none when there was no backward pass)."""
    if grads is None:
        return [], {}, {}
    owner: dict[int, tuple[Layer, str]] = {}
    for L in trace.layers:
        for role, p in L.params.items():
            owner.setdefault(id(p), (L, role))
    blocks, blame, grad_norm = [], {}, {}
    for (name, p), g in zip(named, grads):
        norm = 0.0 if g is None else norm2(g) ** 0.5
        zero = g is None or (norm == 0 and all_zero(g))
        why = None
        if zero:
            if g is None:
                why = UNUSED
            elif id(p) in owner:
                L, role = owner[id(p)]
                why, blame[name] = cause(L, role)
        grad_norm[id(p)] = norm
        blocks.append(BlockReport(name, tuple(p.shape), norm, zero, why))
    return blocks, blame, grad_norm


def _zero_layers(module, trace, blocks, blame, names_of, inputs, probe, named, measure):
    """Every all-zero trainable layer: whether its own gradient moves it, the convention it
    matches, what it cuts off and when all of that has a gradient (reasoned, or measured by SGD
    on a copy for a model small enough)."""
    frozen = {id(p) for p in module.parameters() if not p.requires_grad}
    by_block = {b.name: b for b in blocks}
    weight_name = {}
    for L in trace.layers:
        w = layer_weight(L)
        if w is not None:
            weight_name[id(L)] = names_of.get(id(_base(w)), names_of.get(id(w)))
    steps = first_steps(by_block, blame, weight_name)
    found: list[ZeroLayer] = []
    for L in trace.layers:
        wname = weight_name.get(id(L))
        if wname is None or not is_zero_layer(L):
            continue
        moves = not by_block[wname].zero
        z = ZeroLayer(L, moves, convention(L, frozen) if moves else None)
        own = {names_of[id(q)] for q in L.params.values() if id(q) in names_of}
        z.blocked = [n for n in blame if n not in own and root_blame(n, blame, weight_name) is L]
        z.first_step = max([steps[n] for n in z.blocked] + [steps[wname]])
        found.append(z)
    how = "reasoned from the gradient graph"
    blocked = any(z.blocked for z in found)
    n_params = sum(p.numel() for p in module.parameters())
    if blocked and (measure or (measure is None and n_params <= MEASURE_MAX_PARAMETERS)):
        finite = [z.first_step for z in found if math.isfinite(z.first_step)]
        horizon = int(max(finite, default=1)) + 1
        first = measure_first_steps(module, inputs, probe, [n for n, _ in named], horizon)
        if first is not None:
            how = "measured by SGD steps on a copy"
            for z in found:
                names = [*z.blocked, weight_name[id(z.layer)]]
                z.first_step = max(first.get(n, math.inf) for n in names)
    return found, how


def _rows(trace: Trace, layers: list[Layer], zero_start: set[int], grad_norm: dict):
    """The layer reports and residual-stream points, in call order."""
    reports: list[tuple[int, LayerReport]] = []
    by_layer = {}
    for L in layers:
        r = _layer_report(L, zero_start)
        w = layer_weight(L)
        if w is not None:
            r.weight_grad_norm = grad_norm.get(id(_base(w)), grad_norm.get(id(w)))
        reports.append((L.seq, r))
        by_layer[id(L)] = r
    for add in trace.adds:
        if add.stats is not None:
            reports.append((add.seq, _stream_report(add)))
    reports.sort(key=lambda sr: sr[0])
    return [r for _, r in reports], by_layer


def _judge_at_norms(layers: list[Layer], by_layer: dict) -> list[tuple[Layer, Layer, float]]:
    """A small layer whose output goes into normalizations (and residual adds) and nowhere
    else, with no layer of weights between (only activations, shape-only calls, dropout, sums),
    is judged at those norms, which rescale it: what the layers after them receive is its share
    of what each norm divides by (its std over the norm's input std), not its scale against the
    chain's start (a conv stem with a position table added, as Whisper's). Below 1/100 it is
    drowned by what is added to it: a warning (returned: the layer, the norm and the share),
    not a vanishing verdict, since the norm's gain still carries its gradient."""
    drowned = []
    for L in layers:
        r = by_layer[id(L)]
        if r.verdict != "vanishing" or L.family == "norm" or not L.feeds:
            continue
        norms = [n for n in L.feeds if isinstance(n, Layer) and n.family == "norm"]
        # A residual add it also reaches carries the same sum on: judged as a stream point.
        rest = [n for n in L.feeds if n not in norms and not isinstance(n, Add)]
        if not norms or rest or any(not n.in_std for n in norms):
            continue
        worst = min(norms, key=lambda n: r.act_std / n.in_std)
        share = r.act_std / worst.in_std
        r.verdict, r.role = "healthy", "into a norm"
        if share < VANISH_TOTAL:
            drowned.append((L, worst, share))
    return drowned


def _special_verdicts(module, trace, layers, by_layer, zero_layers, scan, findings) -> list[str]:
    """Verdicts the signal statistics alone do not give: a stuck zero layer, a zero layer no
    convention explains (its output does not vary: vanishing), a first loss far above
    ln(classes), non-finite or never-initialized values. Returns the verdicts that belong to no
    layer (a non-finite parameter outside the layers)."""
    for z in zero_layers:
        r = by_layer.get(id(z.layer))
        if r is None:
            continue
        if not z.own_moves and math.isinf(z.first_step):
            r.verdict = "stuck"
        elif z.convention is None and z.layer.z is not None and z.layer.z.std == 0:
            r.verdict = "vanishing"
    for L in layers:
        if not L.z.finite or (L.a is not None and not L.a.finite):
            by_layer[id(L)].verdict = "non-finite"
    by_name = {r.name: r for r in by_layer.values()}
    for f in findings:
        if f.code == "exploding" and f.layer in by_name and f.message.startswith("the first loss"):
            by_name[f.layer].verdict = "exploding"
    extra = []
    owner = {id(p): L for L in trace.layers for p in L.params.values()}
    for name, (what, _) in scan.items():
        L = owner.get(id(module.get_parameter(name)))
        if what in ("nan", "inf"):
            extra.append("non-finite")
        elif what == "subnormal" and L is not None and id(L) in by_layer:
            r = by_layer[id(L)]
            if r.verdict == "healthy":
                r.verdict = "vanishing"  # weights of about 1e-40: zero in all but name
    return extra


def _layer_report(L: Layer, zero_start: set[int]) -> LayerReport:
    z = L.z
    a = L.a if L.a is not None else z
    act = L.act or "linear"
    if L.family == "recurrent" and L.act is None:
        act = "gates"  # LSTM, GRU: sigmoid and tanh inside
    r = LayerReport(
        name=L.name,
        units=L.units,
        activation=act,
        preact_mean=z.mean,
        preact_std=z.std,
        act_mean=a.mean,
        act_std=a.std,
        kind=L.kind,
        family=L.family,
    )
    if L.const_input:
        r.role = "constant input"
    elif id(L) in zero_start:
        r.role = "zero start"
    elif L.family != "norm" and (
        L.branch_end
        or (
            L.segment_add is not None
            and sum(m.family != "norm" for m in L.segment_add.members) < CHAIN
        )
    ):
        r.role = "residual branch"  # in a short segment that ends in a residual add
    elif L.family in ("weight", "param", "attention", "recurrent") and (
        L.is_output or not L.downstream
    ):
        r.role = "output"
    if L.family == "norm":
        scale = weight_std_expected(L.params.get("weight"))
        r.reference, r.reference_std = f"{L.name}'s scale", scale
    elif L.family == "embedding":
        r.reference, r.reference_std = None, 0.0  # a chain's start: its scale is a convention
    elif L.ref is not None:
        r.reference, r.reference_std = L.ref.origin, L.ref.std
    else:
        r.reference_std = 0.0
    if r.reference_std:
        r.std_ratio = r.act_std / r.reference_std
    if a.dead is not None:
        r.dead_units = a.dead
    r.saturated_share, r.at_bound_share = a.flat, a.at_bound
    if L.gates is not None:  # LSTM, GRU: its most saturated gate, judged as a layer of units
        _, r.saturated_share, r.at_bound_share = L.gates.worst()
    r.error_rms = L.error_rms("z")
    return r


def _stream_report(add: Any) -> LayerReport:
    s = add.stats
    r = LayerReport(
        name=add.name,
        units=add.units,
        activation="linear",
        preact_mean=s.mean,
        preact_std=s.std,
        act_mean=s.mean,
        act_std=s.std,
        kind="add",
        family="add",
        role="residual stream",
    )
    if add.ref is not None:
        r.reference, r.reference_std = add.ref.origin, add.ref.std
        if add.ref.std:
            r.std_ratio = s.std / add.ref.std
    else:
        r.reference_std = 0.0
    if not s.finite:
        r.verdict = "non-finite"
    return r


# Subnormal numbers and huge values are looked for in a strided sample of this many entries per
# tensor: stale memory holds them throughout, and a full pass over every weight of a large model
# would cost more than its forward pass.
SCAN_SAMPLE = 65536


def _scan(module: Any) -> dict[str, tuple[str, Any]]:
    """Parameters that look never initialized: NaN or inf (every entry looked at), subnormal
    numbers (which no random draw produces: stale bytes read as floats) or magnitudes no
    initializer draws (in a strided sample)."""
    found: dict[str, tuple[str, Any]] = {}
    for name, p in module.named_parameters():
        if not p.is_floating_point() or p.numel() == 0:
            continue
        with torch.no_grad():
            w = p.detach()
            lo, hi = torch.aminmax(w.reshape(-1))
            if not (math.isfinite(float(lo)) and math.isfinite(float(hi))):
                nan = int(torch.isnan(w).sum())
                if nan:
                    found[name] = ("nan", nan)
                else:
                    found[name] = ("inf", int(torch.isinf(w).sum()))
                continue
            flat = w.reshape(-1)
            step = max(1, flat.numel() // SCAN_SAMPLE)
            a = flat[::step].abs()
            tiny = torch.finfo(p.dtype).tiny
            sub = int(((a < tiny) & (a > 0)).sum())
            if sub:
                found[name] = ("subnormal", sub * step)
            elif max(-float(lo), float(hi)) > 1e8:
                found[name] = ("huge", max(-float(lo), float(hi)))
    return found


def _coverage(module: Any, trace: Trace) -> tuple[float, list[str]]:
    analysed = {id(p) for L in trace.layers for p in L.params.values()}
    # A parametrized layer (weight_norm, spectral_norm, orthogonal: wav2vec2's positional
    # convolution) computes its weight from the originals it holds; its output is analysed as
    # any layer's, so they belong to it.
    for L in trace.layers:
        for plist in getattr(getattr(L.module, "parametrizations", None), "values", list)():
            analysed.update(id(q) for q in plist.parameters())
    total, covered, missing = 0, 0, []
    for name, p in module.named_parameters():
        total += p.numel()
        if id(p) in analysed:
            covered += p.numel()
        else:
            missing.append(name)
    return (covered / total if total else 1.0), missing


def _notes(module, trace, target, frozen, incoming_only, changed, unanalysed, first_loss):
    from ._findings import names
    from ._layers import family_of

    notes = []
    if unanalysed:
        n = sum(module.get_parameter(k).numel() for k in unanalysed)
        total = sum(p.numel() for p in module.parameters())
        notes.append(
            f"Not analysed: {n:,} parameters ({100 * n / total:.1f}% of {total:,}), only scanned "
            f"for non-finite and all-zero values: {names(unanalysed, 8)}."
        )
    analysed = {id(p) for L in trace.layers for p in L.params.values()}
    uncalled = [
        n
        for n, m in module.named_modules()
        if family_of(m) is not None
        and id(m) not in trace.calls
        and not _inside_attention(module, n)
        and any(id(p) not in analysed for p in m.parameters())  # a tied layer is seen elsewhere
    ]
    if uncalled:
        notes.append(f"Not called on this input: {names(uncalled, 12)}.")
    for L in trace.layers:
        if L.calls > 1:
            notes.append(
                f"{L.name} is called {L.calls} times; its statistics are from the first call."
            )
    if incoming_only:
        notes.append(
            "Units with identical incoming weights and bias, whose outgoing weights could not be "
            f"followed (so no symmetry is claimed): {names(incoming_only)}."
        )
    if target is None and first_loss is not None:
        notes.append(
            "loss: the cross-entropy of the logits against uniformly random labels, "
            "logsumexp(z) - mean(z), since no target was given."
        )
    if not trace.backward:
        notes.append(
            "No backward pass: the output holds no floating-point tensor that depends on a "
            "trainable parameter, so nothing was differentiated (no gradient table)."
        )
    elif target is None:
        notes.append(
            "No target: the backward pass starts from a fixed random error at the output, "
            "dL/dy = r / batch with r ~ N(0, 1) (seed 0, a private generator)."
        )
    if frozen:
        notes.append(f"Frozen (requires_grad=False), not in the gradient table: {names(frozen)}.")
    if any(m.training for m in module.modules() if isinstance(m, nn.modules.dropout._DropoutNd)):
        notes.append(
            "The module is in training mode: dropout is active, with torch's generator seeded "
            f"{PROBE_SEED} for the check and put back afterwards."
        )
    if changed:
        notes.append(
            f"The forward pass changed {names(changed)} in place; initlab put back what an "
            "nn.Embedding's max_norm renormalizes, and nothing else."
        )
    notes.append(
        "Stds are over samples (and positions), per unit, pooled: a constant bias per unit "
        "carries nothing about the input and does not count. Each layer is compared with the "
        "start of its chain (the input, an embedding or a normalization); residual branches, "
        "heads and constant inputs are not judged on their own scale."
    )
    return notes


def _inside_attention(module: Any, name: str) -> bool:
    parent = name.rpartition(".")[0]
    if not parent and "." not in name:
        return False
    try:
        return isinstance(module.get_submodule(parent), nn.MultiheadAttention)
    except AttributeError:
        return False
