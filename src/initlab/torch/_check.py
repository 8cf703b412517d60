"""The diagnosis of a PyTorch module's start, read through hooks: :func:`initlab.torch.check`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_number
from ..diagnostics import (
    BlockReport,
    Diagnosis,
    Finding,
    LayerReport,
    assign_verdicts,
    layer_signal,
    overall_verdict,
    symmetry_groups,
)
from ..initializers import auto_initializer
from ._compat import nn, torch
from ._trace import (
    ANALYSED,
    PASS_THROUGH,
    Call,
    Trace,
    activation_spec,
    as_inputs,
    fan_in_of,
    kind_of,
    preserved_state,
    run_forward,
    std_over_samples,
    tensors_in,
    units_of,
)

# Why a gradient block is exactly zero, read from the backpropagation formulas of a layer
# z = W a_in + b, a = phi(z):  dW = delta^T a_in,  db = sum over samples of delta,
# delta = dL/dz = dL/da * phi'(z),  dL/da_in = W^T delta.
INPUTS_ZERO = "the inputs feeding this layer are all zero"
OWN_ZERO = "all-zero weights in this layer"
NEXT_ZERO = "the error reaching this layer is zero because the next layer's weights are zero"
DERIVATIVE_ZERO = "the activation's derivative is zero on every sample"
ERROR_ZERO = "the error reaching this layer is zero"
NORMALIZED_ZERO = (
    "the normalized inputs are zero on every sample (the input is constant where it is normalized)"
)
CANCEL = "the contributions of the samples cancel exactly"
UNUSED = "the loss does not depend on it on this input (not used, or its output is not used)"

# A start is read as PyTorch's default (kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(fan_in),
# 1/sqrt(fan_in)), Var = 1/(3 fan_in)) when a weight of at least this many entries matches both.
DEFAULT_MIN_SIZE = 64
# ... and the signal is said to shrink under it when the std over samples falls by more than
# this factor per layer (geometric mean over the analysed layers).
SHRINK_PER_LAYER = 0.8
PROBE_SEED = 0
_SEVERITY = {"error": 0, "warning": 1, "info": 2}


def check(
    module: Any,
    example_input: Any,
    target: Any = None,
    loss_fn: Any = None,
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
) -> Diagnosis:
    if not isinstance(module, nn.Module):
        raise ValueError(
            "The 'module' parameter of check must be a torch.nn.Module. "
            f"Got {type(module).__name__} instead."
        )
    atol = check_number("check", "atol", atol, low=0)
    rtol = check_number("check", "rtol", rtol, low=0)
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
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    frozen = [n for n, p in module.named_parameters() if not p.requires_grad]
    with preserved_state(module):
        trace = Trace(module)
        try:
            with torch.enable_grad():
                output = run_forward(module, inputs, trace, "check")
                objective, loss = _objective(output, target, loss_fn)
                grads: list[Any] = [None] * len(named)
                if objective is not None and objective.requires_grad and named:
                    # autograd.grad, not backward: the parameters' .grad are never written.
                    grads = list(
                        torch.autograd.grad(objective, [p for _, p in named], allow_unused=True)
                    )
        finally:
            trace.remove()
    return _diagnose(module, inputs, output, trace, named, grads, loss, target, frozen, atol, rtol)


def _objective(output: Any, target: Any, loss_fn: Any) -> tuple[Any, float | None]:
    """The scalar to differentiate, and the loss value when there is a target."""
    if target is None:
        # A fixed random error at every output: dL/dy = r / batch, r ~ N(0, 1) from a private
        # generator. Unlike a loss of the output itself, it does not vanish when the output does,
        # so a zero gradient is the network's doing, not the probe's.
        outs = [t for t in tensors_in(output) if t.is_floating_point() and t.requires_grad]
        if not outs:
            return None, None
        g = torch.Generator().manual_seed(PROBE_SEED)
        total = None
        for t in outs:
            r = torch.randn(tuple(t.shape), generator=g, dtype=torch.float64)
            term = (t * r.to(device=t.device, dtype=t.dtype)).sum() / max(t.shape[0], 1)
            total = term if total is None else total + term
        return total, None
    if loss_fn is None:
        if not isinstance(output, torch.Tensor):
            raise ValueError(
                "The 'loss_fn' parameter of check must be given when the module returns "
                f"{type(output).__name__} rather than one tensor."
            )
        if target.is_floating_point():
            if target.shape != output.shape:
                raise ValueError(
                    "The 'target' parameter of check must have the output's shape "
                    f"{tuple(output.shape)} for the default mean squared error (float targets). "
                    f"Got shape {tuple(target.shape)} instead."
                )
            loss = torch.nn.functional.mse_loss(output, target)
        else:
            try:
                loss = torch.nn.functional.cross_entropy(output, target.long())
            except (RuntimeError, IndexError, ValueError) as err:
                raise ValueError(
                    "The 'target' parameter of check must hold class indices that fit the "
                    f"output of shape {tuple(output.shape)} for the default cross-entropy "
                    f"(integer targets). Got shape {tuple(target.shape)} instead ({err})."
                ) from err
    else:
        loss = loss_fn(output, target)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError(
            f"The 'loss_fn' parameter of check must return a scalar tensor. Got {loss!r} instead."
        )
    loss = loss.reshape(())
    return loss, float(loss.detach())


# --------------------------------------------------------------------------------------------
# From the trace to the diagnosis
# --------------------------------------------------------------------------------------------


def _diagnose(module, inputs, output, trace, named, grads, loss, target, frozen, atol, rtol):
    layers_calls = [c for c in trace.calls if c.kind in ANALYSED and c.first]
    zero_w = _ZeroWeights()
    notes: list[str] = []

    # Gradient blocks first: the layers read their weight gradient norms from them.
    owner = {}
    for _, m in module.named_modules():
        for role, p in m._parameters.items():
            if p is not None:
                owner.setdefault(id(p), (m, role))
    first_call = {id(c.module): c for c in layers_calls}
    blocks, blame, grad_norm = [], {}, {}
    for (name, p), g in zip(named, grads):
        norm = 0.0 if g is None else float(torch.linalg.vector_norm(g, dtype=torch.float64))
        zero = g is None or not bool(g.any())
        cause = None
        if zero:
            m, role = owner[id(p)]
            c = first_call.get(id(m))
            if g is None:
                cause = UNUSED
            elif c is not None:
                cause, blame[name] = _cause(c, role, zero_w)
        grad_norm[id(p)] = norm
        blocks.append(BlockReport(name, tuple(p.shape), norm, zero, cause))

    # Layers, in call order.
    outputs = tensors_in(output)
    out_owners = {trace.owner_of(t) for t in outputs} - {None}
    weight_calls = [c for c in layers_calls if c.kind == "weight"]
    parents = _parents(module)
    x = inputs[0]
    input_std = std_over_samples(x, 1) if x.is_floating_point() else None
    prev = input_std
    layers: list[LayerReport] = []
    incoming_only, output_layers, no_activation, grouped = [], [], [], []
    for c in layers_calls:
        z = _units_second(c, c.z)
        a = _units_second(c, c.a) if c.act is not None else z
        activation = _act_spec(c)
        r = layer_signal(c.name, _numpy(z), _numpy(a), activation, prev, unit_axis=1)
        w = getattr(c.module, "weight", None)
        if w is not None and id(w) in grad_norm:
            r.weight_grad_norm = grad_norm[id(w)]
        is_output = c in out_owners or (weight_calls and c is weight_calls[-1] and not c.consumers)
        if c.kind == "weight":
            if is_output:
                output_layers.append(c.name)
            elif getattr(c.module, "groups", 1) != 1:
                grouped.append(c.name)
            else:
                W_out = _outgoing(c, parents)
                if W_out is None:
                    incoming_only.append(c.name)
                r.effective_width, r.groups = _groups(c.module, W_out, atol, rtol)
        if c.act is None and not is_output and not _norm_follows(c):
            no_activation.append(c.name)
        layers.append(r)
        prev = r.act_std
    if input_std is None and layers:
        input_std = layers[0].act_std
        notes.append(
            "The input holds indices, not values: vanishing and exploding are measured against "
            f"the first layer's output ({layers[0].name})."
        )
    assign_verdicts(layers, input_std or 0.0)

    by_name = {r.name: r for r in layers}
    params = dict(named)
    for b in blocks:
        m, _ = owner[id(params[b.name])]
        c = first_call.get(id(m))
        if c is not None and c.name in by_name and by_name[c.name].groups:
            b.equal_update_groups = by_name[c.name].groups

    findings = _findings(module, layers_calls, layers, blocks, blame, zero_w, input_std)
    findings.sort(key=lambda f: _SEVERITY.get(f.severity, 3))
    notes.extend(
        _notes(
            module,
            trace,
            layers_calls,
            target,
            frozen,
            incoming_only,
            output_layers,
            no_activation,
            grouped,
        )
    )
    return Diagnosis(
        verdict=overall_verdict(layers, blocks),
        layers=layers,
        blocks=blocks,
        findings=findings,
        loss=loss,
        model=type(module).__name__,
        notes=notes,
    )


class _ZeroWeights:
    """Whether a module's weight is all zero, computed once per module."""

    def __init__(self) -> None:
        self._memo: dict[int, bool] = {}

    def __call__(self, m: Any) -> bool:
        if id(m) not in self._memo:
            w = getattr(m, "weight", None)
            self._memo[id(m)] = (
                isinstance(w, torch.Tensor) and w.numel() > 0 and not bool(w.detach().any())
            )
        return self._memo[id(m)]


def _cause(c: Call, role: str, zero_w: _ZeroWeights) -> tuple[str, Call | None]:
    """Why parameter ``role`` of the layer called in ``c`` has an exactly zero gradient, and
    the layer to blame when it is another one (or this one, for its own zero weights)."""
    if role == "weight" and c.kind == "weight" and c.inp_zero:
        return INPUTS_ZERO, c.source
    if c.grad_nonzero.get("z", False):
        if c.kind == "norm" and role == "weight":
            return NORMALIZED_ZERO, None
        return CANCEL, None
    return _error_cause(c, zero_w, set())


def _error_cause(c: Call, zero_w: _ZeroWeights, seen: set[int]) -> tuple[str, Call | None]:
    """Why dL/dz is zero on every sample at the output of ``c``."""
    seen.add(id(c))
    if c.act is not None and c.grad_nonzero.get("a", False):
        # The error reaches phi(z) but not z: phi'(z) = 0 wherever it arrives.
        if c.kind == "weight" and zero_w(c.module):
            return OWN_ZERO, c
        return DERIVATIVE_ZERO, None
    consumers = [n for n in c.consumers if id(n) not in seen]
    if consumers and all(zero_w(n.module) for n in consumers):
        return NEXT_ZERO, consumers[0]
    if consumers and not any(n.grad_nonzero.get("z", False) for n in consumers):
        _, blame = _error_cause(consumers[0], zero_w, seen)
        return f"{ERROR_ZERO}: it is already zero at {consumers[0].name}", blame
    return ERROR_ZERO, None


def _act_spec(c: Call) -> str:
    return activation_spec(c.act.module) if c.act is not None else "linear"


def _units_second(c: Call, t: Any) -> Any:
    """Move the units to axis 1: Linear, Embedding and LayerNorm act on the last axis."""
    if t.ndim > 2 and isinstance(c.module, nn.Linear | nn.Embedding | nn.LayerNorm):
        return t.movedim(-1, 1)
    return t


def _numpy(t: Any) -> np.ndarray:
    t = t.detach()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return t.cpu().numpy()


def _norm_follows(c: Call) -> bool:
    """A normalization layer reads this layer's output (conv -> batch norm -> ReLU)."""
    return any(n.kind == "norm" for n in c.consumers)


def _parents(module: Any) -> dict[int, tuple[Any, int]]:
    parents: dict[int, tuple[Any, int]] = {}
    for m in module.modules():
        for i, child in enumerate(m._modules.values()):
            if child is not None:
                parents.setdefault(id(child), (m, i))
    return parents


def _outgoing(c: Call, parents: dict[int, tuple[Any, int]]) -> np.ndarray | None:
    """The next layer's weights on this layer's units, (next_out, units, ...), when the next
    Linear/Conv of the same nn.Sequential reads this layer's output and nothing else does."""
    if len(c.consumers) != 1 or c.consumers[0].kind != "weight":
        return None
    nxt = c.consumers[0]
    p, q = parents.get(id(c.module)), parents.get(id(nxt.module))
    if p is None or q is None or p[0] is not q[0] or q[1] <= p[1]:
        return None
    seq = p[0]
    if not isinstance(seq, nn.Sequential) or type(seq).forward is not nn.Sequential.forward:
        return None  # a custom forward may use the output elsewhere too
    between = list(seq._modules.values())[p[1] + 1 : q[1]]
    if any(kind_of(m) not in PASS_THROUGH for m in between):
        return None
    units = units_of(c.module)
    W = _numpy(nxt.module.weight)
    if isinstance(nxt.module, nn.Linear):
        if W.shape[1] == units or (c.flatten is not None and W.shape[1] % units == 0):
            return W.reshape(W.shape[0], units, -1)  # a flattened (C, *spatial) is channel-major
        return None
    if isinstance(c.module, nn.Linear) or nxt.module.groups != 1 or W.shape[1] != units:
        return None
    return W


def _groups(
    layer: Any, W_out: np.ndarray | None, atol: float, rtol: float
) -> tuple[int, list[list[int]]]:
    """The effective width (the number of groups of interchangeable units: incoming weights,
    bias, outgoing weights) and the groups of two or more units."""
    W_in = _numpy(layer.weight)
    units = W_in.shape[0]
    W_in = W_in.reshape(units, -1)
    b = None if layer.bias is None else _numpy(layer.bias)
    if atol == 0 and rtol == 0:
        # Exact screen: units that are equal in full are equal on a few columns, so only units
        # sharing such a key can share a group; symmetry_groups compares those in full. This
        # keeps a 1024-unit layer from sorting 1024 rows of 2000 entries when all differ.
        parts = [W_in[:, :4]]
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
        W_in[candidates],
        None if b is None else b[candidates],
        None if W_out is None else W_out[:, candidates],
        atol=atol,
        rtol=rtol,
    )
    groups = sorted([candidates[g].tolist() for g in sub if len(g) > 1])
    return units - candidates.size + len(sub), groups


# --------------------------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------------------------


def looks_like_torch_default(w: Any) -> bool:
    """Is ``w`` statistically a draw of PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in))?

    Both must hold: the variance is 1/(3 fan_in) within 6 standard errors (for n uniform
    entries the relative standard error of the variance is sqrt(4/5) / sqrt(n)), and the largest
    |w| is the bound 1/sqrt(fan_in), within the gap that n uniform draws leave below it with
    probability 1 - 1e-6.
    """
    n = w.numel()
    if n < DEFAULT_MIN_SIZE or w.ndim < 2:
        return False
    fan_in = fan_in_of(w)
    w = w.detach().float()
    var = float(w.var(correction=0))
    lo, hi = torch.aminmax(w)
    top = max(-float(lo), float(hi))
    bound = 1.0 / math.sqrt(fan_in)
    var_ok = abs(var * 3 * fan_in - 1) <= max(0.05, 6 * math.sqrt(0.8 / n))
    gap = 1 - 1e-6 ** (1 / n)
    return var_ok and bound * (1 - gap) <= top <= bound * (1 + 1e-5)


def _findings(module, calls, layers, blocks, blame, zero_w, input_std) -> list[Finding]:
    findings: list[Finding] = []
    zero_blocks = [b for b in blocks if b.zero]

    # All-zero weights, and the gradients they kill.
    for c in calls:
        if c.kind not in ("weight", "norm", "embedding") or not zero_w(c.module):
            continue
        killed = [name for name, who in blame.items() if who is c]
        own = next((b for b in blocks if b.name in _param_names(module, c.module, "weight")), None)
        stuck = own is not None and own.zero
        message = f"{c.name}: every weight is zero"
        if killed:
            message += f"; it makes the gradients of {_names(killed)} exactly zero"
        if stuck:
            message += "; its own gradient is zero too, so gradient descent never moves it"
        elif killed:
            message += "; it moves after the first step, and until then the layers before it learn"
            message += " nothing"
        if c.kind == "norm":
            suggestion = (
                "a zero scale is deliberate for the last normalization of a residual branch "
                "(Goyal et al. 2017); elsewhere set it to one: nn.init.ones_(layer.weight)"
            )
            severity = "error" if stuck else "info"
        else:
            scheme = _scheme_for([_act_spec(c)])
            suggestion = (
                f"draw it at random: initlab.torch.apply(model, {scheme!r}) re-draws every "
                f"Linear/Conv layer (or call reset_parameters() on layer {c.name!r})"
            )
            severity = "error" if stuck or killed else "warning"
        findings.append(Finding("zero_weights", message, suggestion, c.name, severity))

    if zero_blocks:
        stuck = len(zero_blocks) == len(blocks)
        causes = {b.cause for b in zero_blocks}
        if any(b.name in blame and blame[b.name] is not None for b in zero_blocks):
            suggestion = "re-draw the all-zero layers at random; Diagnosis.blocks gives each cause"
        elif DERIVATIVE_ZERO in causes:
            suggestion = (
                "the pre-activations sit where the activation is flat (dead ReLU units, "
                "saturation): re-initialize for the activation, initlab.torch.apply(model, 'auto')"
            )
        else:
            suggestion = "Diagnosis.blocks gives each block's cause"
        findings.append(
            Finding(
                "zero_gradient",
                f"{len(zero_blocks)} of {len(blocks)} parameter blocks get exactly zero gradient "
                f"on this batch: {_names([b.name for b in zero_blocks])}",
                suggestion,
                None,
                "error" if stuck else "warning",
            )
        )

    # The same weight tensor in several layers: a copied layer or a re-seeded generator.
    for names in _identical_weights(module):
        findings.append(
            Finding(
                "copied_layer",
                f"weights of {_names(names)} are identical across layers (equal bit for bit)",
                "each layer needs its own draw: deep-copying an initialized layer, or seeding the "
                "generator again before each layer (torch.manual_seed(s) in a loop), repeats one "
                "draw; re-draw them all from one generator: initlab.torch.apply(model, 'auto', "
                "random_state=0)",
                names[0],
                "warning",
            )
        )

    symmetric = [r for r in layers if r.groups]
    if symmetric:
        first = symmetric[0]
        findings.append(
            Finding(
                "symmetric",
                f"duplicate units in {_names([r.name for r in symmetric])}: {first.name} has "
                f"{first.units} units but only {first.effective_width} distinct; units with the "
                "same incoming and outgoing weights and bias get equal gradients and stay equal",
                "draw the weights at random so that units differ: initlab.torch.apply(model, "
                f"{_scheme_for([r.activation for r in symmetric])!r})",
                first.name,
                "error",
            )
        )
    dead = [r for r in layers if r.verdict == "dead"]
    if dead:
        worst = max(dead, key=lambda r: len(r.dead_units) / r.units)
        findings.append(
            Finding(
                "dead",
                f"more than half of the ReLU units of {_names([r.name for r in dead])} are zero "
                f"on every sample (dead; {len(worst.dead_units)} of {worst.units} in {worst.name})"
                "; no gradient reaches their incoming weights",
                "a He start with zero biases keeps about half of each ReLU layer active; look "
                "for large negative biases or an all-zero layer before them",
                dead[0].name,
                "error",
            )
        )
    some = [r for r in layers if r.dead_units and r.verdict != "dead"]
    if some:
        worst = max(some, key=lambda r: len(r.dead_units) / r.units)
        findings.append(
            Finding(
                "dead",
                f"{len(some)} layer(s) have ReLU units that are zero on every sample of this batch "
                f"(most: {len(worst.dead_units)} of {worst.units} in {worst.name})",
                "a few are harmless; many mean large negative biases or inputs that all look alike",
                worst.name,
                "info",
            )
        )

    bad = {
        v: [r for r in layers if r.verdict == v] for v in ("vanishing", "exploding", "saturated")
    }
    if bad["vanishing"] or bad["exploding"]:
        for v, word, rule in (
            ("vanishing", "vanishes", "below 1/100 of"),
            ("exploding", "explodes", "above 100 times"),
        ):
            if not bad[v]:
                continue
            first = bad[v][0]
            extreme = (min if v == "vanishing" else max)(r.act_std for r in layers)
            findings.append(
                Finding(
                    v,
                    f"the signal {word}: the activations' std over samples goes from "
                    f"{input_std:.3g} at the input to {extreme:.3g}; {first.name} is the first "
                    f"layer {rule} the input's",
                    "re-initialize for the activation: initlab.torch.apply(model, 'auto') (He for "
                    "ReLU, Glorot for tanh and sigmoid), or add normalization layers",
                    first.name,
                    "error",
                )
            )
    if bad["saturated"]:
        names = [r.name for r in bad["saturated"]]
        findings.append(
            Finding(
                "saturated",
                f"more than half of the sigmoid or tanh outputs of {_names(names)} sit at a bound, "
                "where the derivative is about zero",
                "smaller weights: initlab.torch.apply(model, 'glorot_uniform')",
                names[0],
                "error",
            )
        )

    # PyTorch's default start, where it shrinks the signal.
    flagged = [c for c in calls if c.kind == "weight" and looks_like_torch_default(c.module.weight)]
    # The fall per layer, up to the first layer where the signal has vanished: beyond it the
    # part that depends on the input sits at the floating-point floor under the biases.
    upto = next((i for i, r in enumerate(layers) if r.verdict == "vanishing"), len(layers) - 1)
    ratios = [r.std_ratio for r in layers[: upto + 1] if r.std_ratio and math.isfinite(r.std_ratio)]
    if flagged and ratios:
        per_layer = math.exp(sum(math.log(q) for q in ratios) / len(ratios))
        if per_layer < SHRINK_PER_LAYER:
            acts = [_act_spec(c) for c in flagged if c.act is not None]
            scheme = _scheme_for(acts)
            seen = f"the {acts[0]} activation seen" if len(set(acts)) == 1 else "each activation"
            weights = sum(c.kind == "weight" for c in calls)
            which = _names([c.name for c in flagged])
            findings.append(
                Finding(
                    "torch_default",
                    f"activation std falls by {1 / per_layer:.3g}x per layer: torch's default "
                    "gives Var = 1/(3 fan_in), He gives 2/fan_in",
                    f"{len(flagged)} of {weights} Linear/Conv layers ({which}) have"
                    " PyTorch's default start, kaiming_uniform_(a=sqrt(5)) = "
                    "U(±1/sqrt(fan_in)) (read from their variance and bound); initlab uses "
                    f"{scheme!r} for {seen}: initlab.torch.apply(model, {scheme!r})",
                    flagged[0].name,
                    "error" if any(r.verdict == "vanishing" for r in layers) else "warning",
                )
            )
    return findings


def _identical_weights(module: Any) -> list[list[str]]:
    """Names of Linear/Conv/Embedding layers whose weights are equal (and not constant).

    Tensors are grouped by shape, dtype and a few sampled entries; only tensors that agree on
    those are compared in full, so that fifty 1024 x 1024 layers cost fifty samplings, not 1225
    full comparisons."""
    buckets: dict[Any, list[tuple[str, Any]]] = {}
    seen: set[int] = set()
    for name, m in module.named_modules():
        if kind_of(m) not in ("weight", "embedding"):
            continue
        w = m.weight
        if id(w) in seen or w.numel() < 2:
            continue  # a shared (tied) parameter is one tensor, not a copy
        seen.add(id(w))
        flat = w.detach().reshape(-1)
        idx = torch.linspace(0, flat.numel() - 1, 16, device=flat.device).long()
        sample = tuple(flat[idx].tolist())
        if len(set(sample)) == 1:
            lo, hi = torch.aminmax(flat)
            if bool(lo == hi):
                continue  # a constant tensor: a constant start, reported as symmetry instead
        key = (tuple(w.shape), w.dtype, str(w.device), sample)
        buckets.setdefault(key, []).append((name or type(m).__name__, w))
    out = []
    for members in buckets.values():
        while len(members) > 1:
            head, rest = members[0], members[1:]
            same = [n for n, w in rest if torch.equal(w, head[1])]
            if same:
                out.append([head[0], *same])
            members = [(n, w) for n, w in rest if n not in same]
    return out


def _param_names(module: Any, m: Any, role: str) -> set[str]:
    p = getattr(m, role, None)
    return {n for n, q in module.named_parameters() if q is p}


def _scheme_for(activations: list[str]) -> str:
    """initlab's automatic scheme for the activations seen: one scheme, or 'auto' per layer."""
    schemes = {auto_initializer(a) for a in activations if a != "linear"}
    if len(schemes) == 1:
        return schemes.pop()
    return "auto"


def _names(names: list[str], k: int = 6) -> str:
    if len(names) <= k:
        return ", ".join(names)
    return f"{', '.join(names[:k])}, ... ({len(names)} in all)"


def _notes(
    module,
    trace,
    layers_calls,
    target,
    frozen,
    incoming_only,
    output_layers,
    no_activation,
    grouped,
) -> list[str]:
    notes = []
    paired = {id(c.act.module) for c in layers_calls if c.act is not None}
    passed: dict[int, str] = {}
    for c in trace.calls:
        if c.kind not in ANALYSED and id(c.module) not in paired:
            passed.setdefault(id(c.module), f"{c.name} ({type(c.module).__name__})")
    called = {id(c.module) for c in trace.calls}
    for name, m in module.named_modules():
        own = any(p is not None for p in m._parameters.values())
        if own and kind_of(m) not in ANALYSED and id(m) not in called:
            passed.setdefault(id(m), f"{name or type(m).__name__} ({type(m).__name__})")
    if passed:
        notes.append(
            "Not analysed (passed through; parameters, if any, only in the gradient table): "
            + _names(list(passed.values()), 12)
        )
    uncalled = [
        n for n, m in module.named_modules() if kind_of(m) in ANALYSED and id(m) not in called
    ]
    if uncalled:
        notes.append(f"Not called on this input: {_names(uncalled, 12)}")
    repeated = {}
    for c in trace.calls:
        if c.kind in ANALYSED:
            repeated[c.name] = repeated.get(c.name, 0) + 1
    for name, k in repeated.items():
        if k > 1:
            notes.append(f"{name} is called {k} times; its statistics are from the first call.")
    if no_activation:
        notes.append(
            f"No activation module right after {_names(no_activation)}: their statistics take "
            "a = z (an activation called as a function, such as F.relu, is invisible to hooks)."
        )
    if incoming_only:
        notes.append(
            f"Effective width from incoming weights and bias only for {_names(incoming_only)}: "
            "their output does not go straight to the next Linear/Conv of an nn.Sequential."
        )
    if output_layers:
        notes.append(
            f"{_names(output_layers)}: output layer, whose units the loss tells apart; no "
            "effective width."
        )
    if grouped:
        notes.append(f"{_names(grouped)}: grouped convolution; no effective width.")
    if target is None:
        notes.append(
            "No target: the backward pass starts from a fixed random error at the output, "
            "dL/dy = r / batch with r ~ N(0, 1) (seed 0, a private generator); loss is None."
        )
    if frozen:
        notes.append(f"Frozen (requires_grad=False), not in the gradient table: {_names(frozen)}")
    notes.append(
        "Stds are over samples (and positions), per unit, pooled: a constant bias per unit "
        "carries nothing about the input and does not count."
    )
    return notes
