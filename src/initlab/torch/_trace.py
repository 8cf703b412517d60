"""Watching a PyTorch module run: every layer, every activation, every residual add, in order.

Shared by :func:`initlab.torch.check` and :func:`initlab.torch.apply`. Two recorders run
together during one forward pass:

- **forward hooks on every module** name what runs. A recognised layer (:mod:`._layers`), an
  activation module and a parameter-free leaf are *atomic*: their call is one event, and the
  function calls inside them are not looked at.
- **a** :class:`torch.overrides.TorchFunctionMode` sees every function call made outside the
  atomic modules: ``F.relu``, ``torch.tanh``, the residual ``x + f(x)``, the gated product of a
  SwiGLU, ``F.linear(x, self.w)`` on a raw parameter.

Every tensor produced is tagged (by id, weakly, and by PyTorch's version counter so that an
in-place change makes a new tensor) with an :class:`Info`: the *reference* of its chain (the std
over samples where the chain started: the input, an embedding, a normalization), its
*provenance* (the layer whose units it still is, through element-wise and pass-through calls),
and its *lineage* (the last layers it was computed from, so that a layer nothing reads is known
as an output). Statistics of each layer's output are taken when the layer returns, before any
in-place operation can change it, and no copy of a layer's output is kept.
"""

from __future__ import annotations

import dataclasses
import functools
import weakref
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics._report import VANISH_TOTAL
from ._compat import nn, torch
from ._gates import gate_saturation
from ._layers import (
    activation_by_behaviour,
    activation_of_function,
    activation_of_module,
    call_kind,
    family_of,
    layer_parameters,
    param_op_layout,
    unit_axis,
)
from ._stats import Stats, all_zero, norm2, std_over_samples, tensor_stats


@functools.cache
def _pools() -> tuple[type, ...]:
    """Pooling keeps a channel a channel (for a conv's units; it mixes a Linear's)."""
    return (
        nn.MaxPool1d,
        nn.MaxPool2d,
        nn.MaxPool3d,
        nn.AvgPool1d,
        nn.AvgPool2d,
        nn.AvgPool3d,
        nn.AdaptiveAvgPool1d,
        nn.AdaptiveAvgPool2d,
        nn.AdaptiveAvgPool3d,
        nn.AdaptiveMaxPool1d,
        nn.AdaptiveMaxPool2d,
        nn.AdaptiveMaxPool3d,
    )


@dataclass(frozen=True)
class Ref:
    """Where a chain of layers started, and the std over samples it started with."""

    std: float
    origin: str
    seq: int
    depth: int = 0  # weight layers since the start


@dataclass(eq=False)
class Layer:
    """One analysed layer: a module, or a raw parameter used by a function call."""

    name: str
    module: Any
    family: str
    kind: str
    params: dict[str, Any]
    seq: int
    calls: int = 1
    units: int = 0
    axis: int = -1
    last_axis: bool = True
    z: Stats | None = None
    a: Stats | None = None
    act: str | None = None  # an initlab activation spec, "gated", or None (none follows)
    act_via: str = ""
    gate_partner: Layer | None = None
    ref: Ref | None = None  # the reference its input carries
    out_ref: Ref | None = None
    const_input: str | None = None
    inp_zero: bool = False
    source: Layer | None = None
    consumers: list[tuple[Any, Any]] = field(default_factory=list)  # (Layer | str, Prov)
    into_add: list[Any] = field(default_factory=list)  # the Add points it flows into
    into_mul: bool = False
    segment_add: Add | None = None  # the residual add its segment (since a norm) ends in
    branch_end: bool = False  # its output is the branch f(x) of a residual add x + f(x)
    downstream: bool = False
    feeds: list[Any] = field(default_factory=list)  # the layers and adds computed from it
    is_output: bool = False
    grad: dict[str, list[Any]] = field(default_factory=dict)  # seen, nonzero, sum of squares, n
    weight: Any = None  # for a raw parameter: the tensor as used, and its layout
    layout: str = ""
    zero_weight: bool | None = None  # read once by _zeros.is_zero_layer
    gates: Any = None  # LSTM, GRU: how saturated each gate is (a _gates.Gates)
    in_std: float | None = None  # a norm's input std over samples (what it divides by)

    def error_rms(self, which: str = "z") -> float | None:
        g = self.grad.get(which)
        if not g or not g[0] or not g[3]:
            return None
        return (g[2] / g[3]) ** 0.5


@dataclass(eq=False)
class Prov:
    """This tensor still holds ``layer``'s units: its output (``z``), its activation's (``a``),
    or, ``gated``, the product of its activation with ``partner``'s output."""

    layer: Layer
    stage: str
    partner: Layer | None = None
    flattened: bool = False
    dropout: bool = False
    chain: tuple[Any, ...] = ()  # the Infos along the way, each of which must be used once

    def extend(self, info: Info, **changes: Any) -> Prov:
        fields = dict(
            layer=self.layer,
            stage=self.stage,
            partner=self.partner,
            flattened=self.flattened,
            dropout=self.dropout,
            chain=(*self.chain, info),
        )
        fields.update(changes)
        return Prov(**fields)


@dataclass(eq=False)
class Info:
    ref: Ref | None
    lineage: frozenset  # the last layers this tensor was computed from
    prov: Prov | None = None
    uses: int = 0
    open: frozenset = frozenset()  # the layers since the last normalization or residual add
    data: bool = False  # computed from the module's inputs (not from buffers or constants)
    born: int = 0  # when it was produced (call order)


@dataclass(eq=False)
class Add:
    """A residual add ``x + f(x)``: one point of the residual stream."""

    name: str
    seq: int
    units: int
    axis: int
    stats: Stats | None
    ref: Ref | None
    branches: list[Prov]
    others: list[Info | None]
    members: frozenset = frozenset()  # the layers of the segments it closes
    feeds: list[Any] = field(default_factory=list)
    grad: dict[str, list[Any]] = field(default_factory=dict)
    downstream: bool = False
    family: str = "add"


@dataclass(eq=False)
class _Pending:
    module: Any
    role: str  # "layer", "activation", "pass", "view", "leaf"
    inp: Any
    info: Info | None
    version: int | None
    inp_zero: bool = False
    const: str | None = None


class Trace:
    """Hooks and a function mode on ``module``; use as a context manager around the forward.

    With ``record=False`` only what :func:`initlab.torch.apply` needs is kept (the layers in call
    order and the activation after each); no statistics, no gradient hooks.
    """

    def __init__(self, module: Any, *, record: bool = True, names: dict[int, str] | None = None):
        self.module = module
        self.record = record
        self.names = names or module_names(module)
        self.param_names = parameter_names(module)
        self.layers: list[Layer] = []
        self.by_key: dict[int, Layer] = {}
        self.adds: list[Add] = []
        self.calls: dict[int, int] = {}  # module id -> number of calls
        self.backward = False  # set by the check once gradients were computed
        self.seq = 0
        self._info: dict[int, tuple[Any, int, Info]] = {}
        self._pending: list[_Pending | None] = []
        self._atomic = 0
        self._scope: list[str] = []
        self._add_count: dict[str, int] = {}
        self._derived: dict[int, tuple[Any, Any]] = {}  # tensor id -> (weakref, parameter)
        self._handles: list[Any] = []  # module hooks, removed on exit
        self._tensor_handles: list[Any] = []  # gradient hooks, removed by remove_tensor_hooks
        self._born = 0
        self._busy = False  # the trace's own tensor calls are not recorded
        self._probing = False  # a module run on a probe input: not part of the forward
        self._behaviour: dict[tuple[str, str], str | None] = {}
        self._mode = _Recorder(self)

    # -- setup --------------------------------------------------------------------------------

    def __enter__(self) -> Trace:
        for m in self.module.modules():
            self._handles.append(m.register_forward_pre_hook(self._before, with_kwargs=True))
            self._handles.append(m.register_forward_hook(self._after, with_kwargs=True))
        self._mode.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._mode.__exit__(*exc)
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def remove_tensor_hooks(self) -> None:
        for h in self._tensor_handles:
            h.remove()
        self._tensor_handles.clear()

    def mark_input(self, x: Any) -> None:
        """Tag a model input: a float input starts the first chain."""
        if not isinstance(x, torch.Tensor):
            return
        ref = None
        if x.is_floating_point():
            axis = 1 if x.ndim in (4, 5) else x.ndim - 1
            ref = Ref(std_over_samples(x, axis), "the input", 0)
        self._set(x, Info(ref, frozenset(), data=True))

    def mark_outputs(self, outputs: list[Any]) -> None:
        for t in outputs:
            info = self._get(t)
            if info is not None and info.prov is not None:
                info.prov.layer.is_output = True

    # -- tensor tags --------------------------------------------------------------------------

    def _get(self, t: Any) -> Info | None:
        entry = self._info.get(id(t))
        if entry is None or entry[0]() is not t or entry[1] != t._version:
            return None
        return entry[2]

    def _set(self, t: Any, info: Info) -> None:
        self._born += 1
        info.born = self._born
        try:
            self._info[id(t)] = (weakref.ref(t), t._version, info)
        except (TypeError, RuntimeError):  # a tensor without a version counter or weakref
            pass

    def _param_of(self, t: Any) -> Any:
        """The parameter ``t`` is, or is a view or slice of (MoE experts: ``self.w[e]``)."""
        if isinstance(t, nn.Parameter):
            return t
        entry = self._derived.get(id(t))
        if entry is not None and entry[0]() is t:
            return entry[1]
        return None

    # -- module hooks -------------------------------------------------------------------------

    def _before(self, mod: Any, args: tuple, kwargs: dict) -> None:
        if self._probing:
            return
        self._busy = True
        try:
            self._before_call(mod, args, kwargs)
        finally:
            self._busy = False

    def _after(self, mod: Any, args: tuple, kwargs: dict, output: Any) -> None:
        if self._probing:
            return
        self._busy = True
        try:
            self._after_call(mod, args, kwargs, output)
        finally:
            self._busy = False

    def _before_call(self, mod: Any, args: tuple, kwargs: dict) -> None:
        self.calls[id(mod)] = self.calls.get(id(mod), 0) + 1
        self._scope.append(self.names.get(id(mod), type(mod).__name__))
        if self._atomic:
            self._pending.append(None)
            return
        role = self._role(mod)
        if role is None:
            self._pending.append(None)
            return
        self._atomic += 1
        inp = first_tensor((args, kwargs))
        info = self._get(inp) if inp is not None else None
        if info is not None:
            info.uses += 1
        p = _Pending(mod, role, inp, info, None if inp is None else inp._version)
        if role == "layer" and inp is not None and self.record:
            fam = family_of(mod)
            if fam == "embedding":
                if inp.numel() and not inp.is_floating_point():
                    lo, hi = torch.aminmax(inp.detach().reshape(-1))
                    if int(lo) == int(hi):
                        p.const = f"index {int(lo)}"
            elif id(mod) not in self.by_key and inp.is_floating_point():
                p.inp_zero = all_zero(inp)
        self._pending.append(p)

    def _role(self, mod: Any) -> str | None:
        if family_of(mod) is not None:
            return "layer"
        if activation_of_module(mod) is not None:
            return "activation"
        if isinstance(
            mod,
            nn.Dropout | nn.Dropout1d | nn.Dropout2d | nn.Dropout3d | nn.AlphaDropout | nn.Identity,
        ) or isinstance(mod, _pools()):
            return "pass"
        if isinstance(mod, nn.Flatten):
            return "view"
        if not mod._modules and not any(p is not None for p in mod._parameters.values()):
            return "leaf"
        return None

    def _after_call(self, mod: Any, args: tuple, kwargs: dict, output: Any) -> None:
        self._scope.pop()
        p = self._pending.pop()
        if p is None:
            return
        self._atomic -= 1
        out = self._layer_output(mod, output) if p.role == "layer" else first_tensor(output)
        if p.role == "layer":
            first = id(mod) not in self.by_key
            self._on_layer(mod, p, out, output)
            if first and self.record and self.by_key[id(mod)].family == "recurrent":
                self.by_key[id(mod)].gates = gate_saturation(mod, args, kwargs, out)
            return
        if out is None:
            return
        name = type(mod).__name__
        if p.role == "activation":
            self._on_activation(activation_of_module(mod), p.info, out, name)
        elif p.role == "pass":
            dropout = isinstance(mod, nn.modules.dropout._DropoutNd) and mod.training and mod.p > 0
            self._on_pass(p.info, out, dropout=dropout, pool=isinstance(mod, _pools()))
        elif p.role == "view":
            self._on_view(p.info, p.inp, out)
        else:
            spec = self._behaviour_of(mod, p.inp, out)
            if spec is not None:
                self._on_activation(spec, p.info, out, f"{name} (by behaviour)")
            else:
                self._on_other(name, [p.info], tensors_in(output))

    def _behaviour_of(self, mod: Any, inp: Any, out: Any) -> str | None:
        """The activation a parameter-free module computes: read from what it did on the batch,
        or, when the batch cannot tell (an all-zero input fits relu and gelu alike), from one
        run on a grid of values in [-5, 5]. Remembered per class and configuration."""
        key = (type(mod).__qualname__, repr(mod))
        if key in self._behaviour:
            return self._behaviour[key]
        spec = activation_by_behaviour(inp, out) if inp is not None else None
        if spec is None and isinstance(inp, torch.Tensor) and inp.is_floating_point():
            n = inp.numel()
            grid = torch.linspace(-5, 5, 257, dtype=inp.dtype, device=inp.device)
            probe = grid.repeat(n // 257 + 1)[:n].reshape(inp.shape)
            self._probing = True
            try:
                with torch.no_grad():
                    spec = activation_by_behaviour(probe, mod(probe))
            except Exception:  # a module that does not take a lone tensor: not an activation
                spec = None
            finally:
                self._probing = False
        self._behaviour[key] = spec
        return spec

    @staticmethod
    def _layer_output(mod: Any, output: Any) -> Any:
        if isinstance(output, torch.Tensor):
            return output
        return first_tensor(output)

    # -- events -------------------------------------------------------------------------------

    def _new_layer(self, key: int, name: str, module: Any, family: str, kind: str, params) -> Layer:
        self.seq += 1
        layer = Layer(name, module, family, kind, params, self.seq)
        self.layers.append(layer)
        self.by_key[key] = layer
        return layer

    def _on_layer(self, mod: Any, p: _Pending, out: Any, output: Any) -> None:
        layer = self.by_key.get(id(mod))
        first = layer is None
        if first:
            fam = family_of(mod)
            name = self.names.get(id(mod), type(mod).__name__)
            layer = self._new_layer(id(mod), name, mod, fam, type(mod).__name__, None)
            layer.params = layer_parameters(mod)
        else:
            layer.calls += 1
        self._link(layer, p.info, first)
        if out is None:
            return
        if first:
            self._measure(layer, out, unit_axis(mod, out))
            self._measure_input(layer, p.inp, p.version, out)
            if isinstance(mod, nn.RNN | nn.RNNCell) and self.record and out.is_floating_point():
                # An Elman RNN's output is its activation's: tanh (or relu) of the sum.
                layer.act, layer.act_via = mod.nonlinearity, type(mod).__name__
                layer.a = tensor_stats(out, layer.axis, mod.nonlinearity)
            layer.inp_zero = p.inp_zero
            # Constant by construction: an input that does not come from the module's inputs
            # (all-zero token_type_ids from a buffer); downstream of a fault it is not.
            by_construction = p.info is None or not p.info.data
            if isinstance(mod, nn.Embedding | nn.EmbeddingBag) and mod.num_embeddings == 1:
                by_construction = True  # one row: index 0 whatever the input (RoBERTa's types)
            layer.const_input = p.const if by_construction else None
            if (
                by_construction
                and layer.const_input is None
                and layer.z is not None
                and layer.z.std == 0
            ):
                inp = p.inp
                if (
                    inp is not None
                    and inp.is_floating_point()
                    and p.version == inp._version
                    and inp.ndim > 1
                    and std_over_samples(inp, inp.ndim - 1) == 0
                ):
                    layer.const_input = "a constant input"
        out_ref = self._out_ref(layer, p.info, out)
        if first:
            layer.out_ref = out_ref
        info = Info(
            out_ref,
            frozenset([layer]),
            Prov(layer, "z"),
            open=self._open(layer, p.info),
            data=p.info is not None and p.info.data,
        )
        self._set(out, info)
        for t in tensors_in(output):
            if t is not out:
                self._set(t, Info(out_ref, frozenset([layer]), data=info.data))
        if first:
            self._watch(out, layer, "z")

    def _link(self, layer: Layer, info: Info | None, first: bool) -> None:
        if info is None:
            return
        for lay in info.lineage:
            lay.downstream = True
            lay.feeds.append(layer)
        if first:
            layer.ref = info.ref
        if info.prov is not None:
            if first:
                layer.source = info.prov.layer
            info.prov.layer.consumers.append((layer, info.prov))

    def _out_ref(self, layer: Layer, info: Info | None, out: Any) -> Ref | None:
        if layer.family in ("norm", "embedding"):
            std = layer.z.std if layer.z is not None and layer.out_ref is None else None
            if std is None:
                std = std_over_samples(out, layer.axis) if self.record else 0.0
            return Ref(std, layer.name, layer.seq)
        ref = info.ref if info is not None else None
        if ref is None:
            return None
        return Ref(ref.std, ref.origin, ref.seq, ref.depth + 1)

    def _measure_input(self, layer: Layer, inp: Any, version: int | None, out: Any) -> None:
        """A norm's input std over samples: what it divides by, read while the input is as the
        norm saw it."""
        if (
            layer.family == "norm"
            and self.record
            and isinstance(inp, torch.Tensor)
            and inp.is_floating_point()
            and (version is None or inp._version == version)
            and inp.shape == out.shape
        ):
            layer.in_std = std_over_samples(inp, layer.axis)

    def _measure(self, layer: Layer, out: Any, axis: int) -> None:
        axis = axis % max(out.ndim, 1)
        layer.axis = axis
        layer.last_axis = axis == out.ndim - 1
        layer.units = out.shape[axis] if out.ndim else 1
        if self.record and out.is_floating_point():
            layer.z = tensor_stats(out, axis)

    def _on_activation(self, spec: str, info: Info | None, out: Any, via: str) -> None:
        if info is None:
            return
        prov = None
        if info.prov is not None:
            L = info.prov.layer
            if info.prov.stage == "z" and L.act is None and not info.prov.flattened:
                L.act, L.act_via = spec, via
                if self.record and out.is_floating_point():
                    L.a = tensor_stats(out, L.axis, spec)
                    self._watch(out, L, "a")
            prov = info.prov.extend(info, stage="a" if info.prov.stage == "z" else info.prov.stage)
        self._set(out, Info(info.ref, info.lineage, prov, open=info.open, data=info.data))

    def _on_pass(self, info: Info | None, out: Any, *, dropout: bool, pool: bool = False) -> None:
        if info is None:
            return
        prov = info.prov
        if prov is not None:
            if pool and prov.layer.last_axis:
                prov = None  # pooling over the feature axis mixes units
            else:
                prov = prov.extend(info, dropout=prov.dropout or dropout)
        self._set(out, Info(info.ref, info.lineage, prov, open=info.open, data=info.data))

    def _on_view(self, info: Info | None, inp: Any, out: Any) -> None:
        if info is None:
            return
        prov = info.prov
        if prov is not None and isinstance(inp, torch.Tensor):
            L = prov.layer
            if L.last_axis and out.ndim >= 1 and inp.ndim >= 1 and out.shape[-1] == inp.shape[-1]:
                prov = prov.extend(info)
            elif (
                not L.last_axis
                and out.ndim == 2
                and inp.ndim > 2
                and out.shape[0] == inp.shape[0]
                and out.shape[1] == inp[0].numel()
            ):
                prov = prov.extend(info, flattened=True)
            else:
                prov = None
        self._set(out, Info(info.ref, info.lineage, prov, open=info.open, data=info.data))

    def _on_other(
        self, what: str, infos: list[Info | None], outs: list[Any], func: Any = None
    ) -> None:
        known = [i for i in infos if i is not None]
        for i in known:
            if i.prov is not None:
                i.prov.layer.consumers.append((what, i.prov))
        # The data operand comes first (q * cos, attention @ v): its chain goes on.
        ref = next((i.ref for i in known if i.ref is not None), None)
        lineage = frozenset().union(*(i.lineage for i in known)) if known else frozenset()
        opened = frozenset().union(*(i.open for i in known)) if known else frozenset()
        if func in _selections() and infos:
            # gather(buffer, index=...): the values come from the first operand alone, so
            # RoBERTa's all-zero token types stay constant by construction.
            data = infos[0] is not None and infos[0].data
        else:
            data = any(i.data for i in known)
        for t in outs:
            self._set(t, Info(ref, lineage, open=opened, data=data))

    def _on_add(self, tensors: list[Any], infos: list[Info | None], out: Any) -> None:
        # A residual add x + f(x): both sides computed from the input, f(x) by layers since the
        # last norm or add (a layer's output, or a mixture of experts' weighted sum). A sum of
        # embeddings (token + position + type), or a parameter added on (ViT's position
        # embeddings), starts a chain instead.
        branches = [
            i.prov
            for i in infos
            if i is not None and i.prov is not None and i.prov.layer.family != "embedding"
        ]
        # The stream's reference is the oldest chain's: x + f(x) stays on x's. A chain started
        # at zero (a zero-scale norm of a zero-init branch) carries no reference.
        refs = [i.ref for i in infos if i is not None and i.ref is not None and i.ref.std > 0]
        ref = min(refs, key=lambda r: r.seq) if refs else None
        lineage = frozenset().union(*(i.lineage for i in infos if i is not None))
        data = any(i.data for i in infos if i is not None)
        # In x + f(x), f(x) is computed after x: the operand produced last is the branch, and
        # the layers of its segment (since the last norm or add) are the branch's.
        known = [i for i in infos if i is not None]
        last = max(known, key=lambda i: i.born, default=None)
        opened = last.open if last is not None else frozenset()
        axis = out.ndim - 1
        if (
            any(not L.last_axis for L in [b.layer for b in branches] + list(opened))
            and out.ndim > 1
        ):
            axis = 1
        residual = len(known) == len(infos) and self._stream_varies(tensors, infos, last, out, axis)
        if not residual or not (branches or opened):
            union = frozenset().union(*(i.open for i in known)) if known else frozenset()
            self._set(out, Info(ref, lineage, open=union, data=data))
            return
        scope = self._scope[-1] if self._scope else type(self.module).__name__
        k = self._add_count.get(scope, 0) + 1
        self._add_count[scope] = k
        self.seq += 1
        stats = tensor_stats(out, axis) if self.record and out.is_floating_point() else None
        add = Add(
            f"{scope} +{k}",
            self.seq,
            out.shape[axis] if out.ndim else 1,
            axis,
            stats,
            ref,
            branches,
            [i for i in infos if i is None or i.prov is None],
            opened,
        )
        self.adds.append(add)
        for node in lineage:
            node.downstream = True
            node.feeds.append(add)
        lineage = frozenset([add])
        self._watch(out, add, "z")
        for L in opened:
            if L.segment_add is None:
                L.segment_add = add
        for b in branches:
            b.layer.into_add.append(add)
            b.layer.consumers.append((add, b))
        if last is not None and last.prov is not None and last.prov in branches:
            last.prov.layer.branch_end = True
        # The layers the branch was last computed from end it, whatever shape-only calls
        # (window reverse, roll, permute, slicing) or dropout came between them and the add.
        for L in last.lineage if last is not None else ():
            if isinstance(L, Layer) and L.family not in ("norm", "embedding"):
                L.branch_end = True
                if add not in L.into_add:
                    L.into_add.append(add)
        self._set(out, Info(ref, lineage, data=data))

    def _stream_varies(
        self, tensors: list[Any], infos: list[Info], last: Info | None, out: Any, axis: int
    ) -> bool:
        """Whether an add of two tagged tensors is x + f(x) on a stream that carries the signal:
        the operand computed first (the stream x) changes from sample to sample, by at least
        1/100 of its chain's start (measured; read from its tag when the add overwrote it in
        place). A stream that is zero or constant (a buffer, a position table) makes the sum a
        chain's start, not a residual point."""
        others = [(t, i) for t, i in zip(tensors, infos) if i is not last]
        if not others:
            return False
        t, info = others[0]
        if t is out or not self.record or not t.is_floating_point():
            return info.data
        std = std_over_samples(t, axis)
        floor = VANISH_TOTAL * info.ref.std if info.ref is not None else 0.0
        return std > 0 and std >= floor

    def _on_param_op(
        self,
        func: Any,
        layout: str,
        param: Any,
        weight: Any,
        args,
        kwargs,
        infos,
        tensors,
        out: Any,
    ) -> None:
        data = next(
            (
                (t, i)
                for t, i in zip(tensors, infos)
                if self._param_of(t) is None and t.is_floating_point()
            ),
            (None, None),
        )
        if layout == "embedding":
            data = next(((t, i) for t, i in zip(tensors, infos) if not t.is_floating_point()), data)
        inp, info = data
        layer = self.by_key.get(id(param))
        first = layer is None
        if first:
            name = self.param_names.get(id(param), "parameter")
            if name.endswith(".weight"):
                name = name[: -len(".weight")]
            fam = {"embedding": "embedding", "norm": "norm"}.get(layout, "param")
            layer = self._new_layer(
                id(param), name, None, fam, getattr(func, "__name__", "op"), {"weight": param}
            )
            if (
                weight is not param
                and weight.ndim >= 2
                and weight.stride()[-2:] == param.stride()[-2:][::-1]
                and layout in ("in_out", "out_in")
            ):
                # The call reads the parameter transposed: the layout is the parameter's own.
                layout = "out_in" if layout == "in_out" else "in_out"
            layer.weight, layer.layout = weight, layout
        else:
            layer.calls += 1
        self._link(layer, info, first)
        if first:
            axis = (
                1
                if layout == "conv"
                or (layout == "norm" and func.__name__ != "layer_norm" and out.ndim > 2)
                else out.ndim - 1
            )
            self._measure(layer, out, axis)
            if layout == "norm" and self.record and inp is not None and inp.shape == out.shape:
                layer.in_std = std_over_samples(inp, layer.axis)
            by_construction = info is None or not info.data
            if layout == "embedding" and inp is not None and inp.numel():
                lo, hi = torch.aminmax(inp.detach().reshape(-1))
                if int(lo) == int(hi) and by_construction:
                    layer.const_input = f"index {int(lo)}"
            elif inp is not None and self.record:
                layer.inp_zero = all_zero(inp)
        out_ref = self._out_ref(layer, info, out)
        if first:
            layer.out_ref = out_ref
        self._set(
            out,
            Info(
                out_ref,
                frozenset([layer]),
                Prov(layer, "z"),
                open=self._open(layer, info),
                data=info is not None and info.data,
            ),
        )
        if first:
            self._watch(out, layer, "z")

    def _open(self, layer: Layer, info: Info | None) -> frozenset:
        if layer.family in ("norm", "embedding"):
            return frozenset()
        return (info.open if info is not None else frozenset()) | {layer}

    def function_inputs(self, args: tuple, kwargs: dict) -> tuple[list[Any], list[Info | None]]:
        """The tensors of a call and their tags, read before the call (it may work in place)."""
        tensors = tensors_in((args, kwargs))
        return tensors, [self._get(t) for t in tensors]

    def on_function(self, func: Any, args: tuple, kwargs: dict, pre: Any, out: Any) -> None:
        outs = tensors_in(out)
        tensors, infos = pre
        if not outs:
            if tensors:
                self._on_write(tensors, infos)
            return
        for i in infos:
            if i is not None:
                i.uses += 1
        first_out = outs[0]
        spec = activation_of_function(func, args, kwargs) if tensors else None
        if spec is not None:
            self._on_activation(spec, infos[0], first_out, getattr(func, "__name__", "function"))
            return
        layout = param_op_layout(func)
        if layout is not None:
            params = [(t, self._param_of(t)) for t in tensors]
            params = [(t, p) for t, p in params if p is not None and p.ndim >= 1]
            if params and (layout != "norm" or params[0][1].ndim == 1):
                weight, param = params[0]
                if layout in ("out_in", "in_out", "conv") and weight.ndim < 2:
                    pass
                else:
                    self._on_param_op(
                        func, layout, param, weight, args, kwargs, infos, tensors, first_out
                    )
                    return
        kind = call_kind(func)
        if kind == "pass" and len(tensors) >= 1:
            self._note_derived(func, tensors[0], first_out)
            self._on_pass(infos[0], first_out, dropout=False)
            return
        if kind == "dropout" and tensors:
            p = kwargs.get("p", args[1] if len(args) > 1 else 0.5)
            train = kwargs.get("training", kwargs.get("train", args[2] if len(args) > 2 else True))
            self._on_pass(infos[0], first_out, dropout=bool(train) and float(p) > 0)
            return
        if kind == "view" and tensors:
            self._note_derived(func, tensors[0], first_out)
            self._on_view(infos[0], tensors[0], first_out)
            return
        numbers = [a for a in args if isinstance(a, int | float) and not isinstance(a, bool)]
        if kind in ("scale", "add") and len(tensors) == 1 and numbers:
            self._on_pass(infos[0], first_out, dropout=False)  # x * 0.5, x + 1
            return
        if kind == "scale" and len(tensors) == 2:
            small = [i for i, t in enumerate(tensors) if t.numel() == 1]
            if len(small) == 1:
                big = 1 - small[0]
                self._on_pass(infos[big], first_out, dropout=False)
                return
            if self._on_gate(tensors, infos, first_out):
                return
            for i in infos:
                if i is not None and i.prov is not None:
                    i.prov.layer.into_mul = True
        if (
            kind == "add"
            and len(tensors) == 2
            and tensors[0].shape == tensors[1].shape
            and all(t.is_floating_point() for t in tensors)
        ):
            self._on_add(tensors, infos, first_out)
            return
        if tensors and isinstance(tensors[0], nn.Parameter) and kind == "other":
            for o in outs:  # a slice or view of a parameter: MoE experts' self.w[e]
                self._derived[id(o)] = (weakref.ref(o), tensors[0])
        self._on_other(getattr(func, "__name__", "function"), infos, outs, func)

    def _on_write(self, tensors: list[Any], infos: list[Info | None]) -> None:
        """A call that writes into its first operand and returns nothing (``x[:, 1:] = y``, as
        transformers' shift_tokens_right builds decoder inputs): the written tensor keeps a tag,
        computed from every operand, so that what is built from the input stays known as such."""
        t = tensors[0]
        if self._get(t) is not None:
            return  # not changed in place
        known = [i for i in infos if i is not None]
        if not known:
            return
        ref = next((i.ref for i in known if i.ref is not None), None)
        lineage = frozenset().union(*(i.lineage for i in known))
        opened = frozenset().union(*(i.open for i in known))
        self._set(t, Info(ref, lineage, open=opened, data=any(i.data for i in known)))

    def _note_derived(self, func: Any, t: Any, out: Any) -> None:
        p = self._param_of(t)
        if p is not None:
            self._derived[id(out)] = (weakref.ref(out), p)

    def _on_gate(self, tensors: list[Any], infos: list[Info | None], out: Any) -> bool:
        """silu(gate(x)) * up(x): the SwiGLU product, unit by unit."""
        if tensors[0].shape != tensors[1].shape or None in infos:
            return False
        p0, p1 = infos[0].prov, infos[1].prov
        if p0 is None or p1 is None:
            return False
        if p1.stage == "a" and p0.stage == "z":
            p0, p1 = p1, p0
            infos = [infos[1], infos[0]]
        if p0.stage != "a" or p1.stage != "z" or p0.layer.units != p1.layer.units:
            return False
        up = p1.layer
        if up.act is None:
            up.act, up.act_via = "gated", f"times {p0.layer.name}"
            up.gate_partner = p0.layer
        prov = p0.extend(
            infos[0], stage="gated", partner=up, chain=(*p0.chain, infos[0], *p1.chain, infos[1])
        )
        refs = [i.ref for i in infos if i.ref is not None]
        ref = min(refs, key=lambda r: r.seq) if refs else None
        self._set(
            out,
            Info(
                ref,
                infos[0].lineage | infos[1].lineage,
                prov,
                open=infos[0].open | infos[1].open,
                data=infos[0].data or infos[1].data,
            ),
        )
        return True

    # -- gradients ----------------------------------------------------------------------------

    def _watch(self, t: Any, layer: Any, which: str) -> None:
        if not self.record or not t.requires_grad:
            return
        acc = [False, False, 0.0, t.numel()]
        layer.grad[which] = acc

        def note(g: Any) -> None:
            acc[0] = True
            n2 = norm2(g)
            if n2 > 0 or not all_zero(g):  # a norm can underflow; zero only if every entry is
                acc[1] = True
            acc[2] += n2

        self._tensor_handles.append(t.register_hook(note))


class _Recorder(torch.overrides.TorchFunctionMode if torch is not None else object):
    """The function mode: hands every call made outside an atomic module to the trace."""

    def __init__(self, trace: Trace):
        super().__init__()
        self.trace = trace

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        trace = self.trace
        if trace._busy:
            return func(*args, **kwargs)
        pre = None if trace._atomic else trace.function_inputs(args, kwargs)
        try:
            out = func(*args, **kwargs)
        except Exception as err:
            err._initlab_user = True  # raised by the module's call, not by the trace
            raise
        if pre is None:
            return out
        trace._busy = True
        try:
            trace.on_function(func, args, kwargs, pre, out)
        finally:
            trace._busy = False
        return out


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@functools.cache
def _selections() -> frozenset[Any]:
    """Calls whose output's values are the first operand's, picked by the others."""
    T = torch.Tensor
    fs = [
        torch.gather,
        T.gather,
        torch.index_select,
        T.index_select,
        T.__getitem__,
        torch.take_along_dim,
        T.expand,
        T.expand_as,
        T.repeat,
    ]
    return frozenset(fs)


def module_names(module: Any) -> dict[int, str]:
    names: dict[int, str] = {}
    for name, m in module.named_modules(remove_duplicate=False):
        names.setdefault(id(m), name or type(m).__name__)
    return names


def parameter_names(module: Any) -> dict[int, str]:
    names: dict[int, str] = {}
    for name, p in module.named_parameters(remove_duplicate=False):
        names.setdefault(id(p), name)
    return names


def _items(x: Any) -> list[Any] | None:
    """The parts of a container: a tuple, list, dict (a transformers ModelOutput is one) or
    dataclass; None for anything else."""
    if isinstance(x, dict):
        return list(x.values())
    if isinstance(x, list | tuple):
        return list(x)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return [getattr(x, f.name) for f in dataclasses.fields(x)]
    return None


def first_tensor(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x
    for item in _items(x) or ():
        t = first_tensor(item)
        if t is not None:
            return t
    return None


def tensors_in(x: Any) -> list[Any]:
    """Every tensor in a (nested) tuple, list, dict or dataclass."""
    if isinstance(x, torch.Tensor):
        return [x]
    return [t for item in _items(x) or () for t in tensors_in(item)]
