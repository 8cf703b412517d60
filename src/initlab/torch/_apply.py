"""Re-initializing a PyTorch module with an initlab scheme: :func:`initlab.torch.apply`.

Every layer family the check analyses has a rule that suits it:

- weight layers (Linear, Conv, ConvTranspose, transformers' Conv1D) and raw parameters used as a
  layer's weight: one draw of the (out, in, *kernel) weight by the scheme, written in the
  module's own layout; the bias by the scheme's rule;
- ``nn.MultiheadAttention``: each of the query, key and value projections drawn on its own
  (fan-in = the embedding size), the output projection by the scheme, biases zero;
- recurrent layers: each gate's input weights by the scheme (for the gate's activation), each
  gate's recurrent weights orthogonal (Saxe et al. 2014), biases zero but the LSTM's forget gate
  at 1 (Jozefowicz et al. 2015);
- embeddings: N(0, 1/embedding_dim), each token's vector of norm about 1: the scale at which an
  output layer tied to it gives logits of std about 1 on unit-variance features (the padding row
  stays zero);
- normalizations: scale 1, shift 0, running statistics reset.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._random import check_random_state
from .._validation import check_option
from ..engine import resolve_initializer
from ._compat import nn, torch
from ._layers import activation_of_module, family_of, main_weight
from ._probe import as_inputs, check_module, preserved_state, run_forward
from ._trace import Layer, Trace, module_names

FAMILIES_APPLIED = ("weight", "embedding", "norm", "attention", "recurrent", "param")


class _Stop(Exception):
    """Raised by a hook to end a forward pass once the layer of interest has run."""


def apply(
    module: Any,
    spec: Any,
    *,
    example_input: Any = None,
    random_state: Any = None,
    bias: str = "auto",
    layers: list[str] | None = None,
    embeddings: str = "auto",
    include_frozen: bool = False,
) -> dict[str, dict[str, Any]]:
    check_module(module, "apply")
    bias = check_option("apply", "bias", bias, ("auto", "keep", "zeros"))
    if not isinstance(include_frozen, bool):
        raise ValueError(
            "The 'include_frozen' parameter of apply must be a bool. "
            f"Got {include_frozen!r} instead."
        )
    if not isinstance(embeddings, str):
        raise ValueError(
            "The 'embeddings' parameter of apply must be 'auto', 'keep' or a scheme's spec "
            f"string. Got {embeddings!r} instead."
        )
    inputs = None if example_input is None else as_inputs(example_input, "apply")
    if inputs is not None:
        found = _traced_layers(module, inputs)
    else:
        found = _registered_layers(module)
    if not found:
        raise ValueError(
            "The 'module' parameter of apply must contain a layer to re-initialize (Linear, "
            f"Conv, Embedding, a normalization, ...). Got a {type(module).__name__} without one."
        )
    if layers is not None:
        if isinstance(layers, str) or not all(isinstance(n, str) for n in layers):
            raise ValueError(
                "The 'layers' parameter of apply must be a list of layer names or None. "
                f"Got {layers!r} instead."
            )
        known = {L.name for L in found}
        unknown = [n for n in layers if n not in known]
        if unknown:
            valid = ", ".join(sorted(known)[:12]) + (", ..." if len(known) > 12 else "")
            raise ValueError(
                f"The 'layers' parameter of apply must name layers of the module ({valid}). "
                f"Got {unknown[0]!r} instead."
            )
    # Resolve every layer's scheme before touching any weight: a bad spec changes nothing.
    plan = []
    for L in found:
        if layers is not None and L.name not in layers:
            continue
        act = _activation(L)
        init = None
        if L.family in ("weight", "param", "attention"):
            init = resolve_initializer(spec, act)
        elif L.family == "recurrent":
            gate = "tanh" if spec == "auto" else act
            init = resolve_initializer(spec if not _data_dependent(spec) else "orthogonal", gate)
        elif L.family == "embedding" and embeddings not in ("auto", "keep"):
            init = resolve_initializer(embeddings, "linear")
        plan.append((L, act, init))
    lsuv = [(L, init) for L, _, init in plan if init is not None and init.data_dependent]
    if lsuv and inputs is None:
        raise ValueError(
            f"The 'example_input' parameter of apply is required by the data-dependent scheme "
            f"{lsuv[0][1].spec!r}: it rescales each layer on a batch. Got None instead."
        )

    rng = check_random_state(random_state)
    done: dict[int, str] = {}  # parameter id -> the layer that drew it (a tie is drawn once)
    owners = _first_owners(module, found)
    summary: dict[str, dict[str, Any]] = {}
    with torch.no_grad():
        for L, act, init in plan:
            entry = {"kind": L.kind, "activation": act}
            w = _main_tensor(L)
            first = owners.get(id(w)) if w is not None else None
            if first is not None and first is not L and (layers is None or first.name in layers):
                entry["tied_to"] = first.name  # drawn with its first owner
                summary[L.name] = entry
                continue
            if first is not None and first is not L:
                L = first  # the tie's rule is its first owner's
                act = _activation(L)
            entry["old_std"] = _std(w) if w is not None else None
            drew = _draw(L, init, act, rng, bias, embeddings, include_frozen, done)
            entry.update(drew)
            entry["new_std"] = _std(w) if w is not None else None
            summary[L.name] = entry
    if lsuv:
        _lsuv(module, inputs, [(L, init) for L, init in lsuv if L.family == "weight"], summary)
    return summary


def _data_dependent(spec: Any) -> bool:
    return isinstance(spec, str) and spec.split("(")[0] == "lsuv"


def _activation(L: Layer) -> str:
    if L.act not in (None, "gated"):
        return L.act
    for c, _ in L.consumers:  # Linear/Conv -> normalization -> activation
        if isinstance(c, Layer) and c.family == "norm" and c.act not in (None, "gated"):
            return c.act
    return "linear"


def _std(w: Any) -> float:
    return float(w.detach().double().std(correction=0)) if w.numel() else 0.0


def _main_tensor(L: Layer) -> Any:
    if L.module is None:
        return L.params.get("weight")
    w = L.module._parameters.get("weight")
    if w is None:
        w = main_weight(L.module)
    return w


def _first_owners(module: Any, found: list[Layer]) -> dict[int, Layer]:
    """For each layer's weight tensor: the layer that owns it first in registration order."""
    order = {id(m): i for i, m in enumerate(module.modules())}
    owners: dict[int, Layer] = {}
    ranked = sorted(found, key=lambda L: order.get(id(L.module), math.inf))
    for L in ranked:
        w = _main_tensor(L)
        if w is not None:
            owners.setdefault(id(w), L)
    return owners


def _writable(p: Any, include_frozen: bool, done: dict[int, str]) -> bool:
    return p is not None and id(p) not in done and (p.requires_grad or include_frozen)


def _put(p: Any, values: np.ndarray, name: str, done: dict[int, str]) -> None:
    p.copy_(torch.from_numpy(np.ascontiguousarray(values)))
    done[id(p)] = name


def _draw(L, init, act, rng, bias, embeddings, include_frozen, done) -> dict[str, Any]:
    """Draw one layer by its family's rule; returns what was done."""
    m = L.module
    name = L.name
    skipped = []

    def ok(p: Any) -> bool:
        if p is not None and not p.requires_grad and not include_frozen:
            skipped.append(p)
        return _writable(p, include_frozen, done)

    out: dict[str, Any] = {}
    if L.family == "norm":
        w, b = L.params.get("weight"), L.params.get("bias")
        if ok(w):
            w.fill_(1.0)
            done[id(w)] = name
        if b is not None and ok(b):
            b.zero_()
            done[id(b)] = name
        if m is not None and hasattr(m, "reset_running_stats") and m.track_running_stats:
            m.reset_running_stats()
        out["scheme"] = "ones (scale), zeros (shift)"
    elif L.family == "embedding":
        w = L.params.get("weight")
        if embeddings == "keep":
            out["scheme"] = "kept"
        elif ok(w):
            if init is None:
                std = 1.0 / math.sqrt(w.shape[1])
                w.copy_(torch.from_numpy(rng.standard_normal(tuple(w.shape)) * std))
                out["scheme"] = f"normal(std={std:.4g})"
            else:
                w.copy_(torch.from_numpy(init(rng, tuple(w.shape), np.float64)))
                out["scheme"] = init.spec
            pad = getattr(m, "padding_idx", None)
            if pad is not None:
                w[pad].zero_()
            done[id(w)] = name
    elif L.family == "weight":
        w = m.weight
        W = main_weight(m)
        out["scheme"] = init.spec
        if ok(w):
            W.copy_(torch.from_numpy(init(rng, tuple(W.shape), np.float64)))
            done[id(w)] = name
        # The bias on its own: a trainable bias of a frozen layer (BitFit) is drawn too.
        if m.bias is not None and bias != "keep" and ok(m.bias):
            if bias == "auto" and init.draws_bias:
                m.bias.copy_(torch.from_numpy(init.bias(rng, tuple(W.shape), np.float64)))
            else:
                m.bias.zero_()
            done[id(m.bias)] = name
    elif L.family == "param":
        w = L.params["weight"]
        if ok(w):
            _draw_raw(L, w, init, rng)
            done[id(w)] = name
            out["scheme"] = init.spec
    elif L.family == "attention":
        out["scheme"] = init.spec
        d = m.embed_dim
        if m.in_proj_weight is not None and ok(m.in_proj_weight):
            for k in range(3):  # query, key, value: each its own (d, d) draw
                m.in_proj_weight[k * d : (k + 1) * d].copy_(
                    torch.from_numpy(init(rng, (d, d), np.float64))
                )
            done[id(m.in_proj_weight)] = name
        for key in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
            p = getattr(m, key, None)
            if p is not None and ok(p):
                p.copy_(torch.from_numpy(init(rng, tuple(p.shape), np.float64)))
                done[id(p)] = name
        if ok(m.out_proj.weight):
            m.out_proj.weight.copy_(
                torch.from_numpy(init(rng, tuple(m.out_proj.weight.shape), np.float64))
            )
            done[id(m.out_proj.weight)] = name
        for p in (m.in_proj_bias, m.out_proj.bias):
            if p is not None and bias != "keep" and ok(p):
                p.zero_()
                done[id(p)] = name
    elif L.family == "recurrent":
        out.update(_draw_recurrent(m, init, rng, bias, ok, done, name))
    if skipped:
        out["frozen_kept"] = len(skipped)
    return out


def _draw_raw(L: Layer, w: Any, init: Any, rng: Any) -> None:
    """A raw parameter: drawn in the (out, in) layout of its use, one draw per leading index
    (MoE experts stacked as (experts, ., .))."""
    lead = w.shape[: w.ndim - 2] if w.ndim > 2 and L.layout in ("out_in", "in_out") else ()
    for idx in np.ndindex(*lead) if lead else [()]:
        target = w[idx] if idx else w
        if L.layout == "in_out" and target.ndim == 2:
            drawn = init(rng, (target.shape[1], target.shape[0]), np.float64).T
        else:
            drawn = init(rng, tuple(target.shape), np.float64)
        target.copy_(torch.from_numpy(np.ascontiguousarray(drawn)))


def _draw_recurrent(m, init, rng, bias, ok, done, name) -> dict[str, Any]:
    gates = {"LSTM": 4, "GRU": 3}.get(type(m).__name__.replace("Cell", ""), 1)
    orth = resolve_initializer("orthogonal", "linear")
    for key, p in m._parameters.items():
        if p is None or not ok(p):
            continue
        if key.startswith("weight_ih"):
            n = p.shape[0] // gates
            for k in range(gates):
                p[k * n : (k + 1) * n].copy_(
                    torch.from_numpy(init(rng, (n, p.shape[1]), np.float64))
                )
        elif key.startswith("weight_hh"):
            n = p.shape[0] // gates
            for k in range(gates):
                p[k * n : (k + 1) * n].copy_(
                    torch.from_numpy(orth(rng, (n, p.shape[1]), np.float64))
                )
        elif key.startswith("weight_hr"):
            p.copy_(torch.from_numpy(init(rng, tuple(p.shape), np.float64)))
        elif key.startswith("bias"):
            if bias == "keep":
                continue
            p.zero_()
            if gates == 4 and key.startswith("bias_ih"):
                n = p.shape[0] // 4
                p[n : 2 * n].fill_(1.0)  # the forget gate: remember by default
        done[id(p)] = name
    return {
        "scheme": f"{init.spec} (input weights), orthogonal (recurrent weights)",
    }


def _lsuv(module, inputs, layers, summary) -> None:
    """Mishkin and Matas's rescaling, in call order: divide a layer's weights by the std of its
    output on the batch until the variance is 1 within tol (engine.lsuv, through hooks)."""
    with preserved_state(module), torch.no_grad():
        for L, init in sorted(layers, key=lambda li: li[0].seq):
            m = L.module
            tol, max_iter = init.params["tol"], init.params["max_iter"]
            var = math.nan
            for it in range(max_iter + 1):
                var = _output_variance(module, inputs, m)
                # A zero (or non-finite) variance cannot be rescaled: the layer is left as it is.
                if not (math.isfinite(var) and var > 0) or abs(var - 1.0) < tol or it == max_iter:
                    break
                m.weight.div_(math.sqrt(var))
            summary[L.name].update(iterations=it, output_variance=var, new_std=_std(m.weight))


def _output_variance(module: Any, inputs: Any, layer: Any) -> float:
    """Variance of ``layer``'s output over the batch, all units and positions together; the
    forward pass stops right after the layer."""
    seen: dict[str, float] = {}

    def hook(mod: Any, args: Any, out: Any) -> None:
        seen["var"] = float(out.detach().double().var(correction=0))
        raise _Stop

    handle = layer.register_forward_hook(hook)
    try:
        inputs.call(module)
    except _Stop:
        pass
    finally:
        handle.remove()
    return seen.get("var", math.nan)


def _traced_layers(module: Any, inputs: Any) -> list[Layer]:
    """The layers that run on the batch, with the activation seen after each."""
    trace = Trace(module, record=False)
    with preserved_state(module), torch.no_grad():
        with trace:
            for t in inputs.tensors():
                trace.mark_input(t)
            run_forward(module, inputs, trace, "apply")
    found = list(trace.layers)
    called = {id(L.module) for L in found if L.module is not None}
    names = module_names(module)
    for m in module.modules():  # layers this batch does not reach are re-drawn too
        fam = family_of(m)
        if fam is not None and id(m) not in called and not _inside_attention(module, m):
            found.append(_registered(m, names, fam, len(found)))
    return found


def _inside_attention(module: Any, m: Any) -> bool:
    return any(isinstance(p, nn.MultiheadAttention) and m is p.out_proj for p in module.modules())


def _registered(m: Any, names: dict[int, str], fam: str, seq: int) -> Layer:
    from ._layers import layer_parameters

    return Layer(
        names.get(id(m), type(m).__name__), m, fam, type(m).__name__, layer_parameters(m), seq
    )


def _registered_layers(module: Any) -> list[Layer]:
    """Without a batch: every layer module, and as its activation the first activation module
    registered after it in its parent, skipping normalization, dropout and identity
    (registration order is call order in an nn.Sequential, and usually elsewhere)."""
    names = module_names(module)
    found = []
    for m in module.modules():
        fam = family_of(m)
        if fam is not None and not _inside_attention(module, m):
            found.append(_registered(m, names, fam, len(found)))
    by_module = {id(L.module): L for L in found}
    for parent in module.modules():
        children = [m for m in parent._modules.values() if m is not None]
        for i, m in enumerate(children):
            if id(m) not in by_module or family_of(m) != "weight":
                continue
            for n in children[i + 1 :]:
                spec = activation_of_module(n)
                if spec is not None:
                    by_module[id(m)].act = spec
                    break
                if family_of(n) != "norm" and not isinstance(
                    n, nn.Dropout | nn.Identity | nn.modules.dropout._DropoutNd
                ):
                    break
    return found
