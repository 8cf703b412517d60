"""Watching a PyTorch module run: which layers are called, in what order, and who feeds whom.

Shared by :func:`initlab.torch.check` and :func:`initlab.torch.apply`. Forward hooks on every
leaf module record the calls in order. A tensor is *owned* by the analysed layer (Linear, Conv,
Embedding, normalization) that produced it, and stays owned through the element-wise modules
that follow (activations, dropout, identity, flatten) as long as nothing else modifies it in
place (PyTorch's version counter tells): so a layer's *consumers* are the analysed layers that
read its output, and its activation is the activation module called right after it on that
output. Functional calls (``F.relu``, ``x + y``) are invisible to hooks and break the chain.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..initializers import compute_fans
from ._compat import nn, torch

ANALYSED = ("weight", "embedding", "norm")
PASS_THROUGH = ("activation", "transparent", "flatten")


@functools.cache
def _types() -> dict[str, tuple[type, ...]]:
    return {
        "weight": (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d),
        "embedding": (nn.Embedding,),
        "norm": (
            nn.BatchNorm1d,
            nn.BatchNorm2d,
            nn.BatchNorm3d,
            nn.SyncBatchNorm,
            nn.LayerNorm,
            nn.GroupNorm,
        ),
        "transparent": (
            nn.Identity,
            nn.Dropout,
            nn.Dropout1d,
            nn.Dropout2d,
            nn.Dropout3d,
            nn.AlphaDropout,
            nn.FeatureAlphaDropout,
        ),
        "flatten": (nn.Flatten,),
    }


def activation_spec(module: Any) -> str | None:
    """initlab's activation spec for an activation module, None for any other module."""
    if isinstance(module, nn.ReLU):
        return "relu"
    if isinstance(module, nn.LeakyReLU):
        return f"leaky_relu(slope={float(module.negative_slope)!r})"
    if isinstance(module, nn.ELU):
        return f"elu(alpha={float(module.alpha)!r})"
    simple = {
        nn.Tanh: "tanh",
        nn.Sigmoid: "sigmoid",
        nn.SELU: "selu",
        nn.GELU: "gelu",
        nn.SiLU: "silu",
        nn.Softplus: "softplus",
    }
    for cls, name in simple.items():
        if isinstance(module, cls):
            return name
    return None


def kind_of(module: Any) -> str:
    """One of weight, embedding, norm, activation, transparent, flatten, other."""
    types = _types()
    for kind in ("weight", "embedding", "norm"):
        if isinstance(module, types[kind]):
            return kind
    if activation_spec(module) is not None:
        return "activation"
    for kind in ("transparent", "flatten"):
        if isinstance(module, types[kind]):
            return kind
    return "other"


def is_weight_layer(module: Any) -> bool:
    """Linear or Conv1d/2d/3d: the layers whose weight is (out, in, *kernel)."""
    return isinstance(module, _types()["weight"])


def units_of(module: Any) -> int:
    """Output units (features or channels) of an analysed layer."""
    if isinstance(module, nn.Linear):
        return module.out_features
    if isinstance(module, nn.Embedding):
        return module.embedding_dim
    if isinstance(module, nn.LayerNorm):
        return int(module.normalized_shape[-1])
    if isinstance(module, nn.GroupNorm):
        return module.num_channels
    if hasattr(module, "num_features"):  # BatchNorm
        return module.num_features
    return module.out_channels


@dataclass(eq=False)
class Call:
    """One call of a hooked module during the forward pass."""

    name: str
    module: Any
    kind: str
    inp: Any  # the first tensor argument (a reference)
    out: Any  # the first tensor of the output (a reference)
    first: bool  # the module's first call
    source: Call | None = None  # the analysed layer whose output this call reads
    consumers: list[Call] = field(default_factory=list)  # analysed layers reading this output
    act: Call | None = None  # the activation module called next, on this output
    flatten: Any = None  # an nn.Flatten between this layer and its consumers
    z: Any = None  # a detached copy of the output, taken when the layer returned
    a: Any = None  # a detached copy of the activation's output
    inp_zero: bool = False  # every entry of the input is zero
    grad_seen: dict[str, bool] = field(default_factory=dict)  # "z", "a": a gradient arrived
    grad_nonzero: dict[str, bool] = field(default_factory=dict)  # ... and it was non-zero


class Trace:
    """Hooks on ``module``'s leaf modules (and its analysed layers), removed by :meth:`remove`.

    With ``record=True`` the analysed layers' outputs (and their activations' outputs) are
    copied as they are produced, before any in-place operation can change them, and tensor
    hooks note whether the error dL/dz (dL/da) reaching them is zero.
    """

    def __init__(self, module: Any, *, record: bool = True):
        self.module = module
        self.record = record
        self.calls: list[Call] = []
        self._owned: dict[int, tuple[Call, int, Any]] = {}
        self._entry: dict[int, tuple[Any, int | None]] = {}
        self._seen: set[int] = set()
        self._handles: list[Any] = []
        for name, m in module.named_modules():
            kind = kind_of(m)
            if kind in ANALYSED or not m._modules:
                label = name or type(m).__name__
                self._handles.append(m.register_forward_pre_hook(self._before, with_kwargs=True))
                self._handles.append(
                    m.register_forward_hook(
                        functools.partial(self._after, label, kind), with_kwargs=True
                    )
                )

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def owner_of(self, t: Any) -> Call | None:
        """The analysed layer that owns tensor ``t`` as it is now, if any."""
        entry = self._owned.get(id(t))
        if entry is None or entry[2] is not t or entry[1] != t._version:
            return None
        return entry[0]

    def _before(self, mod: Any, args: tuple, kwargs: dict) -> None:
        inp = _first_tensor((args, kwargs))
        self._entry[id(mod)] = (inp, None if inp is None else inp._version)

    def _after(self, name: str, kind: str, mod: Any, args: tuple, kwargs: dict, output: Any):
        inp, version = self._entry.pop(id(mod), (None, None))
        out = _first_tensor(output)
        src = None
        if inp is not None:
            entry = self._owned.get(id(inp))
            if entry is not None and entry[2] is inp and entry[1] == version:
                src = entry[0]
        first = id(mod) not in self._seen
        self._seen.add(id(mod))
        call = Call(name, mod, kind, inp, out, first, source=src)
        prev = self.calls[-1] if self.calls else None
        if kind in ANALYSED:
            if src is not None:
                src.consumers.append(call)
            if first and self.record and out is not None:
                call.z = out.detach().clone()
                if inp is not None and kind != "embedding":
                    call.inp_zero = not bool(inp.any())
                self._watch(out, call, "z")
            if out is not None:
                self._owned[id(out)] = (call, out._version, out)
        elif kind in PASS_THROUGH and src is not None and out is not None:
            self._owned[id(out)] = (src, out._version, out)
            if kind == "flatten":
                src.flatten = mod
            if kind == "activation" and prev is src and src.act is None and inp is src.out:
                src.act = call
                if src.first and self.record:
                    src.a = out.detach().clone()
                    self._watch(out, src, "a")
        self.calls.append(call)

    def _watch(self, t: Any, call: Call, which: str) -> None:
        if not t.requires_grad:
            return
        call.grad_seen[which] = False
        call.grad_nonzero[which] = False

        def note(g: Any) -> None:
            call.grad_seen[which] = True
            call.grad_nonzero[which] = call.grad_nonzero[which] or bool(g.any())

        self._handles.append(t.register_hook(note))


def _first_tensor(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, list | tuple):
        for item in x:
            t = _first_tensor(item)
            if t is not None:
                return t
    return None


def tensors_in(x: Any) -> list[Any]:
    """Every tensor in a (nested) tuple, list or dict output."""
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, list | tuple):
        return [t for item in x for t in tensors_in(item)]
    return []


@contextlib.contextmanager
def preserved_state(module: Any) -> Iterator[None]:
    """Run a block and put back what a forward pass may change: the training flags, every buffer
    (BatchNorm's running statistics and batch count) and torch's random number generators
    (dropout draws from them). Parameters are not copied: a forward pass does not write them,
    and ``torch.autograd.grad`` leaves ``.grad`` alone."""
    flags = [(m, m.training) for m in module.modules()]
    buffers = []
    for m in module.modules():
        for key, b in m._buffers.items():
            if b is not None:
                buffers.append((m, key, b, b.detach().clone()))
    tensors = [*module.parameters(), *module.buffers()]
    devices = sorted({t.device.index or 0 for t in tensors if t.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            with torch.no_grad():
                for m, key, b, saved in buffers:
                    m._buffers[key] = b  # in case the forward replaced the buffer object
                    b.copy_(saved)
            for m, flag in flags:
                m.training = flag


def as_inputs(example_input: Any, where: str) -> tuple[Any, ...]:
    """The positional arguments of the forward pass, checked: a batch of 2 or more samples."""
    if isinstance(example_input, torch.Tensor):
        inputs: tuple[Any, ...] = (example_input,)
    elif (
        isinstance(example_input, tuple | list)
        and example_input
        and all(isinstance(t, torch.Tensor) for t in example_input)
    ):
        inputs = tuple(example_input)
    else:
        raise ValueError(
            f"The 'example_input' parameter of {where} must be a torch.Tensor holding a batch "
            "(samples on the first axis), or a tuple of them (the forward's positional "
            f"arguments). Got {type(example_input).__name__} instead."
        )
    x = inputs[0]
    if x.ndim == 0 or x.shape[0] < 2:
        raise ValueError(
            f"The 'example_input' parameter of {where} must hold a batch of at least 2 samples "
            "on its first axis (the statistics are over samples). "
            f"Got shape {tuple(x.shape)} instead."
        )
    return inputs


def run_forward(module: Any, inputs: tuple[Any, ...], trace: Trace | None, where: str) -> Any:
    """``module(*inputs)``; a failure before any analysed layer ran, on an input that does not
    fit the first layer, becomes a ValueError naming the shape that layer expects."""
    try:
        return module(*inputs)
    except (RuntimeError, ValueError, IndexError, TypeError) as err:
        ran = trace is not None and any(c.kind in ANALYSED for c in trace.calls)
        message = None if ran else expected_input_message(module, inputs[0], where)
        if message is None:
            raise
        raise ValueError(f"{message} (PyTorch: {err})") from err


_SPATIAL = {1: "length", 2: "height, width", 3: "depth, height, width"}


def expected_input_message(module: Any, x: Any, where: str) -> str | None:
    """What the first Linear, Conv or Embedding layer expects, if ``x`` does not fit it."""
    first = next(
        ((n, m) for n, m in module.named_modules() if kind_of(m) in ("weight", "embedding")), None
    )
    if first is None:
        return None
    name, layer = first
    name = name or type(layer).__name__
    shape = tuple(x.shape)
    head = f"The 'example_input' parameter of {where} must"
    tail = f"to fit the first layer {name!r} ({layer!r}). Got"
    if isinstance(layer, nn.Embedding):
        if x.is_floating_point() or x.is_complex():
            return f"{head} hold integer indices in [0, {layer.num_embeddings}) {tail} {x.dtype}."
        return None
    if isinstance(layer, nn.Linear):
        if x.ndim < 2 or shape[-1] != layer.in_features:
            return f"{head} have shape (batch, {layer.in_features}) {tail} shape {shape} instead."
    else:
        n = len(layer.kernel_size)
        if x.ndim != n + 2 or shape[1] != layer.in_channels:
            return (
                f"{head} have shape (batch, {layer.in_channels}, {_SPATIAL[n]}) {tail} "
                f"shape {shape} instead."
            )
    if x.dtype != layer.weight.dtype:
        return f"{head} have dtype {layer.weight.dtype} {tail} {x.dtype} instead."
    return None


def std_over_samples(t: Any, unit_axis: int = 1) -> float:
    """sqrt of the mean over units of each unit's variance over samples (every other axis).

    The part of a signal that changes with the input: a constant offset per unit (a bias) does
    not count."""
    t = t.detach()
    if not t.is_floating_point():
        t = t.double()
    elif t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    if t.ndim < 2:
        return float(t.double().std(correction=0))
    dims = [d for d in range(t.ndim) if d != unit_axis]
    # Summed in float64: a float32 sum of squares of 1e20-sized activations overflows.
    return float(t.var(dim=dims, correction=0).double().mean().sqrt())


def fan_in_of(weight: Any) -> int:
    return compute_fans(tuple(weight.shape))[0]
