"""Re-initializing a PyTorch module with an initlab scheme: :func:`initlab.torch.apply`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._random import check_random_state
from .._validation import check_option
from ..engine import resolve_initializer
from ._compat import nn, torch
from ._trace import (
    Call,
    Trace,
    activation_spec,
    as_inputs,
    is_weight_layer,
    kind_of,
    preserved_state,
    run_forward,
)


class _Stop(Exception):
    """Raised by a hook to end a forward pass once the layer of interest has run."""


def apply(
    module: Any,
    spec: Any,
    *,
    example_input: Any = None,
    random_state: Any = None,
    bias: str = "auto",
) -> dict[str, dict[str, Any]]:
    if not isinstance(module, nn.Module):
        raise ValueError(
            "The 'module' parameter of apply must be a torch.nn.Module. "
            f"Got {type(module).__name__} instead."
        )
    bias = check_option("apply", "bias", bias, ("auto", "keep", "zeros"))
    layers = [
        (name or type(m).__name__, m) for name, m in module.named_modules() if is_weight_layer(m)
    ]
    if not layers:
        raise ValueError(
            "The 'module' parameter of apply must contain a Linear or Conv1d/2d/3d layer. "
            f"Got a {type(module).__name__} without one."
        )
    for name, m in layers:
        if isinstance(m.weight, nn.parameter.UninitializedParameter):
            raise ValueError(
                f"The layer {name!r} of the 'module' parameter of apply is lazy and not yet "
                "initialized: run one forward pass first."
            )
    inputs = None if example_input is None else as_inputs(example_input, "apply")
    if inputs is not None:
        acts, order = _traced_activations(module, inputs)
    else:
        acts, order = _registered_activations(module), {}
    # Resolve every layer's scheme before touching any weight: a bad spec changes nothing.
    inits = {name: resolve_initializer(spec, acts.get(id(m), "linear")) for name, m in layers}
    lsuv = [(name, m) for name, m in layers if inits[name].data_dependent]
    if lsuv and inputs is None:
        raise ValueError(
            f"The 'example_input' parameter of apply is required by the data-dependent scheme "
            f"{inits[lsuv[0][0]].spec!r}: it rescales each layer on a batch. Got None instead."
        )

    rng = check_random_state(random_state)
    summary: dict[str, dict[str, Any]] = {}
    with torch.no_grad():
        for name, m in layers:
            init, shape = inits[name], tuple(m.weight.shape)
            old = _std(m.weight)
            # One draw of the whole (out, in, *kernel) weight, then the bias (only a scheme that
            # draws its own bias draws): initlab's order, so the same seed gives the same start.
            m.weight.copy_(torch.from_numpy(init(rng, shape, np.float64)))
            if m.bias is not None and bias != "keep":
                if bias == "auto" and init.draws_bias:
                    m.bias.copy_(torch.from_numpy(init.bias(rng, shape, np.float64)))
                else:
                    m.bias.zero_()
            summary[name] = {
                "scheme": init.spec,
                "activation": acts.get(id(m), "linear"),
                "old_std": old,
                "new_std": _std(m.weight),
            }
    if lsuv:
        _lsuv(module, inputs, lsuv, order, inits, summary)
    return summary


def _std(w: Any) -> float:
    return float(w.detach().double().std(correction=0)) if w.numel() else 0.0


def _lsuv(module, inputs, layers, order, inits, summary) -> None:
    """Mishkin and Matas's rescaling, in call order: divide a layer's weights by the std of its
    output on the batch until the variance is 1 within tol (engine.lsuv, through hooks)."""
    layers = sorted(layers, key=lambda nm: order.get(id(nm[1]), math.inf))
    with preserved_state(module), torch.no_grad():
        for name, m in layers:
            if id(m) not in order:
                summary[name]["lsuv"] = "not called on example_input: not rescaled"
                continue
            tol, max_iter = inits[name].params["tol"], inits[name].params["max_iter"]
            for it in range(max_iter + 1):
                var = _output_variance(module, inputs, m)
                # A zero (or non-finite) variance cannot be rescaled: the layer is left as it is.
                if not (math.isfinite(var) and var > 0) or abs(var - 1.0) < tol or it == max_iter:
                    break
                m.weight.div_(math.sqrt(var))
            summary[name].update(iterations=it, output_variance=var, new_std=_std(m.weight))


def _output_variance(module: Any, inputs: tuple[Any, ...], layer: Any) -> float:
    """Variance of ``layer``'s output over the batch, all units and positions together; the
    forward pass stops right after the layer."""
    seen: dict[str, float] = {}

    def hook(mod: Any, args: Any, out: Any) -> None:
        seen["var"] = float(out.detach().double().var(correction=0))
        raise _Stop

    handle = layer.register_forward_hook(hook)
    try:
        module(*inputs)
    except _Stop:
        pass
    finally:
        handle.remove()
    return seen["var"]


def _traced_activations(module: Any, inputs: tuple[Any, ...]) -> tuple[dict, dict]:
    """Per Linear/Conv layer (by id): the activation seen after it on the batch, and its rank
    in call order."""
    with preserved_state(module), torch.no_grad():
        trace = Trace(module, record=False)
        try:
            run_forward(module, inputs, trace, "apply")
        finally:
            trace.remove()
    acts, order = {}, {}
    for c in trace.calls:
        if c.kind == "weight" and c.first:
            order[id(c.module)] = len(order)
            acts[id(c.module)] = _following_activation(c)
    return acts, order


def _following_activation(c: Call) -> str:
    if c.act is not None:
        return activation_spec(c.act.module)
    for n in c.consumers:  # Linear/Conv -> normalization -> activation
        if n.kind == "norm" and n.act is not None:
            return activation_spec(n.act.module)
    return "linear"


def _registered_activations(module: Any) -> dict[int, str]:
    """Without a batch: the first activation module registered after each Linear/Conv layer in
    its parent, skipping normalization, dropout and identity (registration order is call
    order in an nn.Sequential, and usually elsewhere)."""
    acts = {}
    for parent in module.modules():
        children = [m for m in parent._modules.values() if m is not None]
        for i, m in enumerate(children):
            if not is_weight_layer(m):
                continue
            for n in children[i + 1 :]:
                kind = kind_of(n)
                if kind == "activation":
                    acts[id(m)] = activation_spec(n)
                if kind not in ("norm", "transparent"):
                    break
    return acts
