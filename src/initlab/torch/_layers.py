"""What the PyTorch adapter recognises: layers, normalizations, activations, pass-through ops.

One place for every question "what is this module (or this function call)?", asked by the trace
(:mod:`._trace`), the check and :func:`initlab.torch.apply`:

- **layers**, by family: ``weight`` (Linear, Conv, ConvTranspose, transformers' ``Conv1D`` whose
  weight is laid out (in, out)), ``embedding``, ``norm`` (every PyTorch normalization, and
  modules that behave as one: a leaf whose class name says "norm" and that holds a 1-D scale,
  such as ``LlamaRMSNorm`` or ``T5LayerNorm``), ``attention`` (``nn.MultiheadAttention``),
  ``recurrent`` (RNN, LSTM, GRU and their cells); and ``param`` for a raw parameter used by a
  function call inside ``forward`` (``F.linear(x, self.w)``, ``x @ self.w``, MoE experts);
- **activations**, as modules (by class, or by behaviour: transformers' ``NewGELUActivation``
  is a module of tanh and pow calls) and as functions (``F.relu``, ``torch.tanh``, ...), each
  mapped to an initlab activation spec;
- **pass-through** calls that keep a unit a unit: dropout, identity, casts, scaling by a number.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from ..initializers import compute_fans
from ._compat import nn, torch

FAMILIES = ("weight", "embedding", "norm", "attention", "recurrent", "param")


@functools.cache
def _norm_types() -> tuple[type, ...]:
    types = [
        nn.BatchNorm1d,
        nn.BatchNorm2d,
        nn.BatchNorm3d,
        nn.SyncBatchNorm,
        nn.LayerNorm,
        nn.GroupNorm,
        nn.InstanceNorm1d,
        nn.InstanceNorm2d,
        nn.InstanceNorm3d,
        nn.LocalResponseNorm,
    ]
    if hasattr(nn, "RMSNorm"):
        types.append(nn.RMSNorm)
    return tuple(types)


def _is_hf_conv1d(m: Any) -> bool:
    """transformers' ``Conv1D`` (GPT-2, GPT): a Linear whose weight is (in, out)."""
    w = getattr(m, "weight", None)
    return (
        type(m).__name__ == "Conv1D"
        and isinstance(w, torch.Tensor)
        and w.ndim == 2
        and tuple(w.shape) == (getattr(m, "nx", None), getattr(m, "nf", None))
    )


def _is_named_norm(m: Any) -> bool:
    """A leaf module whose class name says it normalizes and that holds a 1-D scale: the
    RMSNorm and LayerNorm classes of transformers (``LlamaRMSNorm``, ``T5LayerNorm``, ...)."""
    if m._modules or "norm" not in type(m).__name__.lower():
        return False
    w = m._parameters.get("weight")
    return w is not None and w.ndim == 1


def family_of(m: Any) -> str | None:
    """The layer family of a module, or None for a module that is not a layer itself."""
    if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d):
        return "weight"
    if isinstance(m, nn.ConvTranspose1d | nn.ConvTranspose2d | nn.ConvTranspose3d):
        return "weight"
    if _is_hf_conv1d(m):
        return "weight"
    if isinstance(m, nn.Embedding | nn.EmbeddingBag):
        return "embedding"
    if isinstance(m, _norm_types()) or _is_named_norm(m):
        return "norm"
    if isinstance(m, nn.MultiheadAttention):
        return "attention"
    if isinstance(m, nn.RNNBase | nn.RNNCellBase):
        return "recurrent"
    return None


def kind_of(m: Any) -> str:
    """The layer's type as shown in the report: the class name."""
    return type(m).__name__


def is_lazy(m: Any) -> bool:
    return any(isinstance(p, nn.parameter.UninitializedParameter) for p in m._parameters.values())


def unit_axis(m: Any, out: Any) -> int:
    """The axis of ``out`` that holds the layer's units (channels or features)."""
    if isinstance(m, nn.modules.conv._ConvNd):
        return 1
    if isinstance(
        m,
        nn.modules.batchnorm._NormBase | nn.GroupNorm | nn.LocalResponseNorm,
    ):
        return 1 if out.ndim > 1 else 0
    if isinstance(m, nn.RNNCellBase) or out.ndim < 2:
        return out.ndim - 1
    w = m._parameters.get("weight")
    if family_of(m) == "norm" and w is not None and w.ndim == 1 and out.shape[-1] != w.numel():
        return 1  # a channel-first norm of another library
    return out.ndim - 1


def main_weight(m: Any) -> Any:
    """The layer's weight as (out, in, *kernel), a view (transformers' Conv1D and ConvTranspose
    store it otherwise), or None for a layer without one."""
    if isinstance(m, nn.MultiheadAttention):
        return m.in_proj_weight if m.in_proj_weight is not None else m.q_proj_weight
    if isinstance(m, nn.RNNBase):
        return m.weight_ih_l0
    if isinstance(m, nn.RNNCellBase):
        return m.weight_ih
    w = m._parameters.get("weight")
    if w is None:
        return None
    if _is_hf_conv1d(m):
        return w.t()
    if isinstance(m, nn.modules.conv._ConvTransposeNd):
        return w.transpose(0, 1) if m.groups == 1 else None
    return w


def fan_in_of(weight: Any) -> int:
    return compute_fans(tuple(weight.shape))[0]


def layer_parameters(m: Any) -> dict[str, Any]:
    """Every parameter a layer owns, by role (``weight``, ``bias``, ``in_proj_weight``,
    ``weight_hh_l0``, ...); nn.MultiheadAttention's ``out_proj`` is part of it (it is read as a
    tensor inside the attention, never called as a module)."""
    params = {k: p for k, p in m._parameters.items() if p is not None}
    if isinstance(m, nn.MultiheadAttention):
        for k, p in m.out_proj._parameters.items():
            if p is not None:
                params[f"out_proj.{k}"] = p
    return params


# --------------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------------


def _module_activations() -> list[tuple[type, Any]]:
    return [
        (nn.ReLU, "relu"),
        (nn.ReLU6, "relu"),
        (nn.LeakyReLU, lambda m: f"leaky_relu(slope={float(m.negative_slope)!r})"),
        (nn.ELU, lambda m: f"elu(alpha={float(m.alpha)!r})"),
        (nn.CELU, lambda m: f"elu(alpha={float(m.alpha)!r})"),
        (nn.SELU, "selu"),
        (nn.GELU, "gelu"),
        (nn.SiLU, "silu"),
        (nn.Mish, "silu"),
        (nn.Hardswish, "silu"),
        (nn.Softplus, "softplus"),
        (nn.Tanh, "tanh"),
        (nn.Hardtanh, "tanh"),
        (nn.Softsign, "tanh"),
        (nn.Sigmoid, "sigmoid"),
        (nn.Hardsigmoid, "sigmoid"),
    ]


def activation_of_module(m: Any) -> str | None:
    """initlab's spec for an activation module known by its class, else None."""
    for cls, spec in _module_activations():
        if isinstance(m, cls):
            return spec(m) if callable(spec) else spec
    return None


@functools.cache
def _function_activations() -> dict[Any, str]:
    F = torch.nn.functional
    T = torch.Tensor
    table: dict[Any, str] = {}
    for name in ("relu", "relu6", "leaky_relu", "elu", "celu", "selu", "gelu", "silu", "mish"):
        for owner in (F, torch, T):
            for f in (getattr(owner, name, None), getattr(owner, name + "_", None)):
                if f is not None:
                    table[f] = name
    extra = {
        "hardswish": "silu",
        "softplus": "softplus",
        "tanh": "tanh",
        "hardtanh": "tanh",
        "softsign": "tanh",
        "sigmoid": "sigmoid",
        "hardsigmoid": "sigmoid",
    }
    for name, spec in extra.items():
        for owner in (F, torch, T, torch.special):
            for f in (getattr(owner, name, None), getattr(owner, name + "_", None)):
                if f is not None:
                    table[f] = spec
    return table


_ALIASES = {"relu6": "relu", "celu": "elu", "mish": "silu"}


def activation_of_function(func: Any, args: tuple, kwargs: dict) -> str | None:
    """initlab's spec for an activation function call (``F.relu``, ``torch.tanh``, ...)."""
    name = _function_activations().get(func)
    if name is None:
        return None
    name = _ALIASES.get(name, name)
    if name == "leaky_relu":
        slope = kwargs.get("negative_slope", args[1] if len(args) > 1 else 0.01)
        return f"leaky_relu(slope={float(slope)!r})"
    if name == "elu":
        alpha = kwargs.get("alpha", args[1] if len(args) > 1 else 1.0)
        return f"elu(alpha={float(alpha)!r})"
    return name


def _candidates() -> list[tuple[str, Any]]:
    F = torch.nn.functional
    return [
        ("relu", F.relu),
        ("gelu", F.gelu),
        ("gelu", lambda x: F.gelu(x, approximate="tanh")),
        ("gelu", lambda x: x * torch.sigmoid(1.702 * x)),  # "quick_gelu"
        ("silu", F.silu),
        ("tanh", torch.tanh),
        ("sigmoid", torch.sigmoid),
        ("elu(alpha=1.0)", F.elu),
        ("selu", F.selu),
        ("softplus", F.softplus),
        ("silu", F.mish),
    ]


def activation_by_behaviour(inp: Any, out: Any) -> str | None:
    """Which activation a parameter-free module computed, read from what it did on the batch:
    its output compared, on up to 4096 entries, with each candidate applied to its input."""
    if (
        not isinstance(inp, torch.Tensor)
        or not isinstance(out, torch.Tensor)
        or inp is out
        or inp.shape != out.shape
        or not inp.is_floating_point()
        or inp.numel() == 0
    ):
        return None
    x = inp.detach().reshape(-1)[:4096].float()
    y = out.detach().reshape(-1)[:4096].float()
    if not (bool(torch.isfinite(x).all()) and bool(torch.isfinite(y).all())):
        return None
    tol = 1e-3 + 2e-2 * y.abs()  # quick_gelu is within 2% of gelu
    matches = {name for name, f in _candidates() if bool(((f(x) - y).abs() <= tol).all())}
    if len(matches) == 1:
        return matches.pop()
    if matches:
        return None  # the batch cannot tell them apart (an all-zero input fits relu and gelu)
    neg = x < 0
    if bool(neg.any()) and bool((~neg).any()) and bool((y[~neg] == x[~neg]).all()):
        slopes = y[neg] / x[neg]
        slope = float(slopes.mean())
        if 0 < slope < 1 and bool(((slopes - slope).abs() <= 1e-4).all()):
            return f"leaky_relu(slope={round(slope, 6)!r})"
    return None


# --------------------------------------------------------------------------------------------
# Pass-through calls: a unit stays a unit
# --------------------------------------------------------------------------------------------


@functools.cache
def _unary_pass() -> frozenset[Any]:
    T = torch.Tensor
    names = (
        "contiguous",
        "clone",
        "to",
        "float",
        "double",
        "half",
        "bfloat16",
        "type",
        "type_as",
        "detach",
    )
    return frozenset(getattr(T, n) for n in names if hasattr(T, n))


@functools.cache
def _dropouts() -> frozenset[Any]:
    F = torch.nn.functional
    fs = [
        F.dropout,
        F.dropout1d,
        F.dropout2d,
        F.dropout3d,
        F.alpha_dropout,
        F.feature_alpha_dropout,
        torch.dropout,
        torch.dropout_,
    ]
    return frozenset(f for f in fs if f is not None)


@functools.cache
def _views() -> frozenset[Any]:
    T = torch.Tensor
    fs = [T.view, T.reshape, T.flatten, torch.reshape, torch.flatten, T.view_as, T.reshape_as]
    return frozenset(fs)


@functools.cache
def _scalings() -> frozenset[Any]:
    T = torch.Tensor
    names = ("mul", "mul_", "__mul__", "__rmul__", "__imul__", "div", "div_", "__truediv__")
    fs = {getattr(T, n) for n in names if hasattr(T, n)}
    fs |= {torch.mul, torch.div, torch.true_divide}
    return frozenset(fs)


@functools.cache
def _adds() -> frozenset[Any]:
    T = torch.Tensor
    names = ("add", "add_", "__add__", "__radd__", "__iadd__")
    return frozenset({getattr(T, n) for n in names} | {torch.add})


def call_kind(func: Any) -> str:
    """``pass``, ``dropout``, ``view``, ``scale`` (a product: by a number it passes, by a tensor
    it gates), ``add`` or ``other``."""
    if func in _unary_pass():
        return "pass"
    if func in _dropouts():
        return "dropout"
    if func in _views():
        return "view"
    if func in _scalings():
        return "scale"
    if func in _adds():
        return "add"
    return "other"


@functools.cache
def _param_ops() -> dict[Any, str]:
    """Function calls that use a parameter as a layer's weight, and the layout of that weight:
    ``out_in`` (F.linear), ``in_out`` (x @ W, addmm), ``conv``, ``embedding``, ``norm``."""
    F = torch.nn.functional
    T = torch.Tensor
    ops = {
        F.linear: "out_in",
        torch.matmul: "in_out",
        T.matmul: "in_out",
        T.__matmul__: "in_out",
        torch.mm: "in_out",
        torch.bmm: "in_out",
        torch.addmm: "in_out",
        torch.baddbmm: "in_out",
        torch.einsum: "in_out",
        F.conv1d: "conv",
        F.conv2d: "conv",
        F.conv3d: "conv",
        F.embedding: "embedding",
        F.layer_norm: "norm",
        F.group_norm: "norm",
        F.batch_norm: "norm",
        F.instance_norm: "norm",
    }
    if hasattr(F, "rms_norm"):
        ops[F.rms_norm] = "norm"
    # Mixture-of-experts kernels (transformers' grouped_mm experts): input (S, K), weight
    # (experts, K, N).
    for f in (getattr(F, "grouped_mm", None), getattr(torch, "_grouped_mm", None)):
        if f is not None:
            ops[f] = "in_out"
    return ops


def param_op_layout(func: Any) -> str | None:
    return _param_ops().get(func)


def weight_std_expected(w: Any) -> float:
    """The root mean square of a norm's scale (what its output's std is, per unit)."""
    return float(w.detach().double().pow(2).mean().sqrt()) if w is not None else 1.0


def looks_like_torch_default(w: Any) -> bool:
    """Is ``w`` statistically a draw of PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in))?

    Both must hold: the variance is 1/(3 fan_in) within 6 standard errors (for n uniform
    entries the relative standard error of the variance is sqrt(4/5) / sqrt(n)), and the largest
    |w| is the bound 1/sqrt(fan_in), within the gap that n uniform draws leave below it with
    probability 1 - 1e-6.
    """
    n = w.numel()
    if n < 64 or w.ndim < 2:
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
