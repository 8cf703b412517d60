"""The diagnosis of a network's start: per-layer and per-block reports, findings, one verdict.

These types are shared by :func:`initlab.diagnose` (initlab's models) and
:func:`initlab.torch.check` (PyTorch modules), so that both speak the same language and print
the same report.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "VERDICTS",
    "BlockReport",
    "Diagnosis",
    "Finding",
    "LayerReport",
    "assign_verdicts",
    "layer_signal",
    "overall_verdict",
]

# Ordered from worst to best: the overall verdict is the worst one found. "non-finite" (NaN or inf
# in the parameters, the input or the signal) comes first: no other statistic means anything then.
VERDICTS = (
    "non-finite",
    "stuck",
    "symmetric",
    "dead",
    "exploding",
    "vanishing",
    "saturated",
    "healthy",
)

# Thresholds, in one place. A signal that shrinks (grows) by more than these factors from the first
# to the last layer is vanishing (exploding); per layer, the geometric mean ratio is reported too.
VANISH_TOTAL = 1e-2
EXPLODE_TOTAL = 1e2
SATURATED_SHARE = 0.5
DEAD_SHARE = 0.5


@dataclass
class Finding:
    """One thing the diagnosis found, with what to do about it."""

    code: str  # a verdict name, or "zero_gradient", "torch_default", "copied_layer", ...
    message: str
    suggestion: str = ""
    layer: str | None = None
    severity: str = "error"  # "error", "warning" or "info"


@dataclass
class LayerReport:
    """Signal statistics of one layer on the batch given, and its symmetry.

    ``preact_*`` describe the pre-activations z, ``act_*`` the activations phi(z): the mean over
    all samples and units, and the std over samples pooled over units, sqrt(mean over units of each
    unit's variance over samples), the part of the signal that changes with the input (a bias
    shifts a unit by a constant, which carries nothing about the input). ``std_ratio`` is act_std
    over the previous layer's act_std (the input's for the first layer). ``dead_units`` are units
    whose activation is zero on every sample (ReLU family); ``saturated_share`` is the share of
    activations within 1e-6 of a bound of sigmoid or tanh (or exactly at it in floating point).
    """

    name: str
    units: int
    activation: str
    preact_mean: float
    preact_std: float
    act_mean: float
    act_std: float
    std_ratio: float | None = None
    dead_units: list[int] = field(default_factory=list)
    saturated_share: float | None = None
    weight_grad_norm: float | None = None
    effective_width: int | None = None
    groups: list[list[int]] = field(default_factory=list)  # groups of 2+ interchangeable units
    verdict: str = "healthy"


@dataclass
class BlockReport:
    """One parameter block (a weight matrix or a bias vector) and its gradient on the data."""

    name: str
    shape: tuple[int, ...]
    grad_norm: float
    zero: bool  # the gradient is exactly zero
    cause: str | None = None  # why, read from the backpropagation formulas
    equal_update_groups: list[list[int]] = field(default_factory=list)


@dataclass(repr=False)
class Diagnosis:
    """What :func:`initlab.diagnose` and :func:`initlab.torch.check` return.

    Attributes
    ----------
    verdict : str
        One of healthy, saturated, vanishing, exploding, dead, symmetric, stuck, non-finite: the
        worst found.
    layers : list of LayerReport
    blocks : list of BlockReport
    findings : list of Finding
        Each with a concrete suggestion.
    loss : float or None
        The loss on the data given, where a target was given.
    model : str
        What was diagnosed.
    """

    verdict: str
    layers: list[LayerReport]
    blocks: list[BlockReport]
    findings: list[Finding]
    loss: float | None = None
    model: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.verdict == "healthy"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready: non-finite numbers become strings)."""
        return _jsonable(asdict(self) | {"healthy": self.healthy})

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.table import Table

        colour = "green" if self.healthy else "red"
        yield f"[bold]{self.model}[/]: verdict [bold {colour}]{self.verdict}[/]"
        if self.loss is not None:
            yield f"loss on the data given: {self.loss:.6g}"
        layers = Table(title="Layers (on the batch given)", title_justify="left")
        left = ("layer", "act", "verdict")
        for col in (
            "layer",
            "units",
            "width",
            "act",
            "z mean",
            "z std",
            "a std",
            "ratio",
            "dead",
            "saturated",
            "grad |W|",
            "verdict",
        ):
            layers.add_column(col, justify="left" if col in left else "right", no_wrap=True)
        for r in self.layers:
            layers.add_row(
                r.name,
                str(r.units),
                "-" if r.effective_width is None else str(r.effective_width),
                r.activation,
                _g(r.preact_mean),
                _g(r.preact_std),
                _g(r.act_std),
                _g(r.std_ratio),
                str(len(r.dead_units)) if r.dead_units else "0",
                "-" if r.saturated_share is None else f"{r.saturated_share:.0%}",
                _g(r.weight_grad_norm),
                r.verdict,
            )
        yield layers
        if self.blocks:
            blocks = Table(title="Gradients (per parameter block)", title_justify="left")
            for col in ("block", "shape", "grad norm", "why zero"):
                blocks.add_column(col, justify="right" if col == "grad norm" else "left")
            for b in self.blocks:
                blocks.add_row(
                    b.name,
                    "x".join(map(str, b.shape)),
                    _g(b.grad_norm),
                    b.cause or ("" if not b.zero else "(zero)"),
                )
            yield blocks
        from rich.markup import escape

        for f in self.findings:
            mark = {"error": "[red]x[/]", "warning": "[yellow]![/]", "info": "[blue]i[/]"}
            yield f"{mark.get(f.severity, '-')} {escape(f.message)}"
            if f.suggestion:
                yield f"    -> {escape(f.suggestion)}"
        for n in self.notes:
            yield f"[dim]{escape(n)}[/]"

    def __str__(self) -> str:
        from rich.console import Console

        console = Console(width=120, record=True, file=_Null())
        console.print(self)
        return console.export_text()

    def __repr__(self) -> str:
        model = self.model if len(self.model) <= 60 else self.model[:59] + "…"
        return (
            f"Diagnosis(verdict={self.verdict!r}, model={model!r}, {len(self.layers)} layers, "
            f"{len(self.findings)} findings)"
        )

    def _repr_html_(self) -> str:
        from ..report import diagnosis_html  # the one HTML renderer

        return diagnosis_html(self)


class _Null:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def _g(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if math.isfinite(x) else str(x)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def layer_signal(
    name: str,
    z: np.ndarray,
    a: np.ndarray,
    activation: str,
    prev_act_std: float | None,
    unit_axis: int = 0,
) -> LayerReport:
    """Statistics of one layer from its pre-activations ``z`` and activations ``a``.

    ``unit_axis`` is the axis of the units (0 for initlab's feature-major (units, m) arrays, 1 for
    PyTorch's (m, units, ...)); every other axis counts as samples (or positions).
    """
    z = np.asarray(z, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)
    units = z.shape[unit_axis]
    z_units = np.moveaxis(z, unit_axis, 0).reshape(units, -1)
    a_units = np.moveaxis(a, unit_axis, 0).reshape(units, -1)
    with np.errstate(over="ignore", invalid="ignore"):
        act_std = float(np.sqrt(a_units.var(axis=1).mean()))
        ratio = act_std / prev_act_std if prev_act_std else None
        report = LayerReport(
            name=name,
            units=units,
            activation=activation,
            preact_mean=float(z.mean()),
            preact_std=float(np.sqrt(z_units.var(axis=1).mean())),
            act_mean=float(a.mean()),
            act_std=act_std,
            std_ratio=ratio,
        )
    base = activation.split("(")[0]
    if base in ("relu", "leaky_relu", "elu", "selu", "gelu", "silu", "softplus"):
        # Zero on every sample: for ReLU no gradient can reach the unit's weights again.
        report.dead_units = (
            np.flatnonzero(~(a_units != 0).any(axis=1)).tolist() if base == "relu" else []
        )
    if base in ("sigmoid", "tanh"):
        lo = 0.0 if base == "sigmoid" else -1.0
        near = (np.abs(a - 1.0) <= 1e-6) | (np.abs(a - lo) <= 1e-6)
        report.saturated_share = float(near.mean())
    return report


def overall_verdict(diagnosis_layers: list[LayerReport], blocks: list[BlockReport]) -> str:
    """The worst verdict over layers and gradients."""
    found = {r.verdict for r in diagnosis_layers}
    if blocks and all(b.zero for b in blocks):
        found.add("stuck")
    for v in VERDICTS:
        if v in found:
            return v
    return "healthy"


def assign_verdicts(layers: list[LayerReport], input_std: float) -> None:
    """Set each layer's verdict from its statistics, in place.

    In order of precedence: ``symmetric`` (fewer distinct units than units), ``dead`` (more than
    half the units zero on every sample, while the layer's input still carries signal: where the
    input has already vanished, each unit is its bias plus almost nothing and about half sit below
    zero, a symptom of ``vanishing``), ``exploding`` / ``vanishing`` (activation std more than
    100x above / below the input's), ``saturated`` (more than half the sigmoid or tanh outputs at a
    bound), else ``healthy``.
    """
    prev = input_std
    for r in layers:
        input_vanished = input_std > 0 and prev < VANISH_TOTAL * input_std
        prev = r.act_std
        if r.effective_width is not None and r.effective_width < r.units:
            r.verdict = "symmetric"
        elif r.units and len(r.dead_units) > DEAD_SHARE * r.units and not input_vanished:
            r.verdict = "dead"
        elif input_std > 0 and r.act_std > EXPLODE_TOTAL * input_std:
            r.verdict = "exploding"
        elif input_std > 0 and r.act_std < VANISH_TOTAL * input_std:
            r.verdict = "vanishing"
        elif r.saturated_share is not None and r.saturated_share > SATURATED_SHARE:
            r.verdict = "saturated"
        else:
            r.verdict = "healthy"
