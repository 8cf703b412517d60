"""All-zero weights judged by their gradients, and why a gradient is exactly zero.

A layer whose weights are all zero is *stuck* when its own gradient is zero too (gradient
descent never moves it), and a *zero start* when it is not: it moves at the first step and
unblocks the layers it cut off. Zero starts are standard practice where a convention explains
them (a residual branch that starts as zero, a zero head, LoRA's B); elsewhere an all-zero tensor
is possibly one that was never initialized.

When each parameter first gets a gradient is reasoned from the gradient graph (the cause of each
zero gradient names the zero layer that blocks it: the parameter moves one step after that layer
does) and, for small models, measured by a few SGD steps on a copy.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from ._compat import torch
from ._layers import main_weight
from ._stats import all_zero
from ._trace import Add, Layer

# Why a gradient block is exactly zero, read from the backpropagation formulas of a layer
# z = W a_in + b, a = phi(z):  dW = delta^T a_in,  db = sum over samples of delta,
# delta = dL/dz = dL/da * phi'(z),  dL/da_in = W^T delta.
INPUTS_ZERO = "the inputs feeding this layer are all zero"
OWN_ZERO = "all-zero weights in this layer"
NEXT_ZERO = "the error reaching this layer is zero because the next layer's weights are zero"
DERIVATIVE_ZERO = "the activation's derivative is zero on every sample"
DERIVATIVE_ZERO_INPUT = (
    "the activation's derivative is zero on every sample: its input is all zero, so z is the "
    "bias alone"
)
ERROR_ZERO = "the error reaching this layer is zero"
NORMALIZED_ZERO = (
    "the normalized inputs are zero on every sample (the input is constant where it is normalized)"
)
CANCEL = "the contributions of the samples cancel exactly"
UNUSED = "the loss does not depend on it on this input (not used, or its output is not used)"

# Measured by SGD on a copy only up to this many parameters (a copy and a few steps).
MEASURE_MAX_PARAMETERS = 5_000_000
NEVER = math.inf


def is_zero_layer(layer: Layer) -> bool:
    """Every entry of the layer's weight (a norm's scale) is zero and its output does not vary
    from sample to sample; read once per layer. A layer is judged by what it outputs: a norm
    applied as (1 + w), as Gemma's RMSNorm, stores w = 0 at its start and passes the normalized
    signal at full scale."""
    if layer.zero_weight is None:
        w = layer_weight(layer)
        zero = isinstance(w, torch.Tensor) and w.numel() > 0 and all_zero(w)
        if zero and layer.z is not None and layer.z.std > 0:
            zero = False
        layer.zero_weight = zero
    return layer.zero_weight


def layer_weight(layer: Layer) -> Any:
    if layer.module is None:
        return layer.params.get("weight")
    return main_weight(layer.module)


def cause(layer: Layer, role: str) -> tuple[str, Layer | None]:
    """Why parameter ``role`` of ``layer`` has an exactly zero gradient, and the zero layer to
    blame when there is one."""
    weighted = layer.family in ("weight", "param", "attention", "recurrent")
    if weighted and "weight" in role and layer.inp_zero:
        return INPUTS_ZERO, layer.source
    g = layer.grad.get("z")
    if g is not None and g[1]:
        if layer.family == "norm" and role == "weight":
            return NORMALIZED_ZERO, None
        return CANCEL, None
    return _error_cause(layer, set())


def _error_cause(layer: Layer, seen: set[int]) -> tuple[str, Layer | None]:
    """Why dL/dz is zero on every sample at the output of ``layer``: follow what it feeds (layers
    and residual adds, through any calls) to where the error is cut."""
    a = layer.grad.get("a")
    if layer.act not in (None, "gated") and a is not None and a[1]:
        # The error reaches phi(z) but not z: phi'(z) = 0 wherever it arrives.
        if is_zero_layer(layer):
            return OWN_ZERO, layer
        if layer.inp_zero:
            return DERIVATIVE_ZERO_INPUT, layer.source
        return DERIVATIVE_ZERO, None
    node, via = layer, None
    while True:
        seen.add(id(node))
        nxt = [n for n in dict.fromkeys(node.feeds) if id(n) not in seen]
        where = ERROR_ZERO if via is None else f"{ERROR_ZERO}: it is already zero at {via.name}"
        zero = next((n for n in nxt if isinstance(n, Layer) and is_zero_layer(n)), None)
        if zero is not None:  # W^T delta = 0: the next layer's weights are zero
            return (NEXT_ZERO if via is None else where), zero
        if not nxt or any((n.grad.get("z") or [0, 0])[1] for n in nxt):
            return where, None
        via = via or nxt[0]
        node = nxt[0]


@dataclass
class ZeroLayer:
    layer: Layer
    own_moves: bool  # its own gradient is non-zero
    convention: str | None
    blocked: list[str] = field(default_factory=list)  # parameters it blocks at the first step
    first_step: float = 1.0  # when every parameter it blocks has a gradient (inf: never)


def convention(layer: Layer, frozen: set[int]) -> str | None:
    """The standard practice an all-zero layer matches, or None."""
    if layer.into_add:
        others = [b.layer for add in layer.into_add for b in _partners(add, layer)]
        if "lora" in layer.name.lower() or any(
            all(id(p) in frozen for p in o.params.values()) for o in others if o.params
        ):
            return "LoRA's B = 0 (Hu et al. 2021): the adapted layer starts as its frozen base"
        if layer.family == "norm":
            return (
                "a zero norm scale at the end of a residual branch (Goyal et al. 2017; "
                "torchvision's zero_init_residual): the block starts as the identity"
            )
        return (
            "a zero-initialized residual branch (Fixup, SkipInit, timm's zero_init_last): the "
            "block starts as the identity"
        )
    if layer.is_output or (layer.family in ("weight", "param") and not layer.downstream):
        return "a zero head (torchvision's ViT, muP's zero readout): the first output is zero"
    if layer.into_mul:
        return "a zero gate (DiT's adaLN-Zero, ReZero): the gated branch starts at zero"
    return None


def _partners(add: Add, layer: Layer) -> list[Any]:
    return [b for b in add.branches if b.layer is not layer]


def root_blame(name: str, blame: dict[str, Layer | None], weight_of: dict[int, str]):
    """The all-zero layer at the end of a chain of blame (layer 6 reads zeros because layer 4
    does, because layer 2 is all zero), or None."""
    seen: set[str] = set()
    who = blame.get(name)
    while who is not None and not is_zero_layer(who):
        w = weight_of.get(id(who))
        if w is None or w in seen:
            return None
        seen.add(w)
        who = blame.get(w)
    return who


def first_steps(blocks: dict[str, Any], blame: dict[str, Layer | None], weight_of: dict[int, str]):
    """Reasoned: the step at which each parameter first has a non-zero gradient. 1 for a
    parameter with one now; one more than the zero layer blocking it; never for a cycle (two
    zero layers waiting on each other) or a cause no step changes (dead units, a zero layer whose
    own gradient is zero)."""
    memo: dict[str, float] = {}

    def step(name: str, visiting: set[str]) -> float:
        if name in memo:
            return memo[name]
        b = blocks.get(name)
        if b is None or not b.zero:
            return 1.0
        who = blame.get(name)
        if who is None or name in visiting or b.cause in (OWN_ZERO, DERIVATIVE_ZERO):
            memo[name] = NEVER
            return NEVER
        w = weight_of.get(id(who))
        result = NEVER if w is None else step(w, visiting | {name}) + 1
        memo[name] = result
        return result

    return {name: step(name, set()) for name in blocks}


def measure_first_steps(module: Any, inputs: Any, objective: Any, names: list[str], steps: int):
    """Measured: SGD steps on a deep copy of the module (the probe's objective, learning rate
    0.01); for each parameter the first step at which its gradient is non-zero, or inf. None
    when the module cannot be copied."""
    from ._probe import preserved_state

    try:
        twin = copy.deepcopy(module)
    except Exception:  # a module that does not deep-copy (open files, locks): reason instead
        return None
    params = dict(twin.named_parameters())
    trainable = [(n, params[n]) for n in names if n in params]
    found: dict[str, float] = {n: math.inf for n, _ in trainable}
    with preserved_state(twin), torch.enable_grad():
        for k in range(1, steps + 1):
            out = inputs.call(twin)
            obj = objective(out)
            if obj is None or not obj.requires_grad:
                return None
            grads = torch.autograd.grad(obj, [p for _, p in trainable], allow_unused=True)
            with torch.no_grad():
                for (n, p), g in zip(trainable, grads):
                    if g is not None and not all_zero(g):
                        found[n] = min(found[n], k)
                        p.sub_(0.01 * g)
            if all(v < math.inf for v in found.values()):
                break
    return found
