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

from .._terminal import Hanging

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
# A sigmoid or tanh unit is in its flat part where its derivative is below 2% of its peak:
# |tanh(z)| > 0.99 (tanh' = 1 - a^2 < 0.0199), and for sigmoid, whose derivative is
# (1 - tanh(z / 2)^2) / 4, |2 a - 1| > 0.99 (a below 0.005 or above 0.995).
FLAT_TANH = 0.99
# Values within this distance of a bound are "at" it: the textbook loss -log p is inf or huge.
AT_BOUND = 1e-6
# Layer roles whose scale is not judged against their reference: a residual branch's output is
# small on purpose (it is added to a stream that carries the signal), a head may start small on
# purpose (its loss is judged instead), a constant input gives a constant output by
# construction, and a recognised zero start is zero by design.
UNJUDGED_ROLES = ("residual branch", "output", "constant input", "zero start")


@dataclass
class Finding:
    """One thing the diagnosis found, with what to do about it."""

    code: str  # a verdict name, or "zero_gradient", "torch_default", "copied_layer", ...
    message: str
    suggestion: str = ""
    layer: str | None = None
    severity: str = "error"  # "error", "warning" or "info"
    # Keyword arguments of initlab.torch.apply that carry out the suggestion (PyTorch only).
    fix: dict[str, Any] | None = None


@dataclass
class LayerReport:
    """Signal statistics of one layer on the batch given, and its symmetry.

    ``preact_*`` describe the pre-activations z, ``act_*`` the activations phi(z): the mean over
    all samples and units, and the std over samples pooled over units, sqrt(mean over units of each
    unit's variance over samples), the part of the signal that changes with the input (a bias
    shifts a unit by a constant, which carries nothing about the input). ``std_ratio`` is act_std
    over the reference's (the previous layer's for initlab's models, the input's for the first;
    for PyTorch modules the start of the layer's chain, ``reference``). ``dead_units`` are units
    whose activation is zero on every sample (ReLU family); ``saturated_share`` is the share of
    sigmoid or tanh outputs in the flat part, where the derivative is below 2% of its peak
    (``|tanh| > 0.99``); ``at_bound_share`` the share within 1e-6 of a bound.

    ``kind`` names the layer's type (its class), ``family`` what it is to the check (weight,
    embedding, norm, attention, recurrent, param: a raw parameter used by a function call, add: a
    residual add); ``role`` is "" for a layer on the main path, or one of
    "residual branch" (its output is added to a residual stream), "residual stream" (the sum
    itself), "output", "constant input", "zero start" (``UNJUDGED_ROLES`` are not judged for
    vanishing or exploding). ``error_rms`` is the root mean square of the error dL/dz reaching
    the layer's output.
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
    kind: str = ""
    family: str = ""  # weight, embedding, norm, attention, recurrent, param, add
    role: str = ""
    reference: str | None = None  # what std_ratio compares with
    reference_std: float | None = None
    error_rms: float | None = None
    at_bound_share: float | None = None


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
    notes : list of str
    coverage : float or None
        The share of the model's parameters (elements, a shared tensor counted once) in the
        layers that were analysed; 1.0 when nothing was left out.
    unanalysed : list of str
        The parameters that were not analysed (scanned only for non-finite and all-zero values).
    """

    verdict: str
    layers: list[LayerReport]
    blocks: list[BlockReport]
    findings: list[Finding]
    loss: float | None = None
    model: str = ""
    notes: list[str] = field(default_factory=list)
    coverage: float | None = None
    unanalysed: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.verdict == "healthy"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready: non-finite numbers become strings)."""
        return _jsonable(asdict(self) | {"healthy": self.healthy})

    def __rich_console__(self, console: Any, options: Any) -> Any:
        # The answer first (the verdict, then each finding's sentence), the evidence after.
        from rich.markup import escape

        colour = "green" if self.healthy else "red"
        yield f"[bold]{escape(self.model)}[/]: verdict [bold {colour}]{self.verdict}[/]"
        if self.loss is not None:
            yield f"loss on the data given: {self.loss:.6g}"
        if self.coverage is not None and self.coverage < 1:
            yield f"analysed: {self.coverage:.1%} of the parameters (see the notes)"
        for f in self.findings:
            yield _finding_lines(f)
        yield from _titled(_layer_table(self.layers, options.max_width))
        if self.blocks:
            yield from _titled(_block_table(self.blocks))
        for n in self.notes:
            yield Hanging(n, style="dim")

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


def _finding_lines(f: Finding) -> Any:
    """A finding: its mark and sentence, the suggestion under it after an arrow, every wrapped
    line indented under the text it continues."""
    from rich.console import Group

    style = {"error": ("x", "red"), "warning": ("!", "yellow"), "info": ("i", "blue")}
    mark, colour = style.get(f.severity, ("-", ""))
    parts = [Hanging(f.message, mark + " ", first_style=colour)]
    if f.suggestion:
        parts.append(Hanging(f.suggestion, "  -> "))
    return Group(*parts)


class _Stripped:
    """A renderable (a table) with the blanks at the end of its lines removed: rich pads every
    cell to its column's width, and the last column's padding would be copied with the text."""

    def __init__(self, renderable: Any) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.segment import Segment

        for line in console.render_lines(self.renderable, options, pad=False):
            while line and not line[-1].control and not line[-1].text.strip():
                line.pop()
            if line and not line[-1].control:
                last = line[-1]
                line[-1] = Segment(last.text.rstrip(), last.style)
            yield from line
            yield Segment.line()


def _titled(table: Any) -> Any:
    """A table's title as a line of its own, wrapped at the terminal's width rather than at the
    table's, then the table."""
    from rich.table import Table
    from rich.text import Text

    title = table.title if isinstance(table, Table) else None
    if title is None:
        yield table
        return
    table.title = None
    yield Text(title, style="italic")
    yield _Stripped(table)


class _Null:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass


# Terminals narrower than this get the compact layer table: name, activation, std, ratio, verdict.
WIDE = 120
_ROLE = {
    "residual branch": "branch",
    "residual stream": "stream",
    "output": "output",
    "constant input": "const",
    "zero start": "zero",
}


def _fold(name: str, width: int) -> str:
    """A long module name on several lines, each broken after a dot."""
    lines, line = [], ""
    for part in name.replace(".", ".\0").split("\0"):
        if line and len(line) + len(part) > width:
            lines.append(line)
            line = "  "
        line += part
    lines.append(line)
    return "\n".join(lines)


def _verdict_cell(r: LayerReport) -> str:
    if r.verdict == "dead" and r.units:
        return f"dead {len(r.dead_units)}/{r.units}"
    if r.verdict == "saturated" and r.saturated_share is not None:
        return f"saturated {r.saturated_share:.0%}"
    if r.verdict == "symmetric" and r.effective_width is not None:
        return f"symmetric {r.effective_width}/{r.units}"
    return r.verdict


def _layer_table(rows: list[LayerReport], width: int) -> Any:
    from rich import box
    from rich.table import Table

    title = "Layers (on the batch given; ratio: std over the start of its chain)"
    if width >= WIDE:
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        cols = (
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
            "role",
            "verdict",
        )
        left = ("layer", "act", "role", "verdict")
        for col in cols:
            table.add_column(col, justify="left" if col in left else "right", no_wrap=True)
        for r in rows:
            table.add_row(
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
                _ROLE.get(r.role, r.role),
                r.verdict,
            )
        return table
    # Compact: the name takes what the other columns leave, folded at dots when longer.
    verdicts = [_verdict_cell(r) for r in rows]
    acts = [
        "-" if r.family in ("norm", "embedding", "add") else r.activation.split("(")[0]
        for r in rows
    ]
    fixed = {
        "act": max([3, *map(len, acts)]),
        "a std": 7,
        "ratio": 7,
        "role": max([4, *(len(_ROLE.get(r.role, r.role)) for r in rows)]),
        "verdict": max([7, *map(len, verdicts)]),
    }
    # Between two columns: a space of padding each side and the box's separator (no edges).
    gaps = 3 * len(fixed)
    longest = max([5, *(len(r.name) for r in rows)])
    name_width = max(16, min(longest, width - sum(fixed.values()) - gaps))
    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False
    )
    table.add_column("layer", no_wrap=True, min_width=min(longest, name_width))
    for col, w in fixed.items():
        justify = "right" if col in ("a std", "ratio") else "left"
        table.add_column(col, justify=justify, no_wrap=True, min_width=w)
    for r, verdict, act in zip(rows, verdicts, acts):
        table.add_row(
            _fold(r.name, name_width),
            act,
            _g(r.act_std),
            _g(r.std_ratio),
            _ROLE.get(r.role, r.role),
            verdict,
        )
    return table


def _block_table(blocks: list[BlockReport], limit: int = 24) -> Any:
    from rich import box
    from rich.table import Table

    shown = blocks if len(blocks) <= limit else [b for b in blocks if b.zero]
    if not shown:
        return Hanging(
            f"Gradients: all {len(blocks)} parameter blocks have a non-zero gradient "
            "(Diagnosis.blocks gives each norm)."
        )
    title = "Gradients (per parameter block)"
    if len(shown) < len(blocks):
        title += (
            f": the {len(shown)} of {len(blocks)} blocks with a zero gradient "
            "(Diagnosis.blocks has them all)"
        )
    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False
    )
    for col in ("block", "shape", "grad norm", "why zero"):
        table.add_column(col, justify="right" if col == "grad norm" else "left")
    for b in shown:
        table.add_row(
            b.name,
            "x".join(map(str, b.shape)),
            _g(b.grad_norm),
            b.cause or ("" if not b.zero else "(zero)"),
        )
    return table


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


def flat_share(a: np.ndarray, activation: str) -> tuple[float | None, float | None]:
    """The share of sigmoid or tanh outputs ``a`` in the flat part (derivative below 2% of its
    peak) and the share within ``AT_BOUND`` of a bound; (None, None) for other activations."""
    base = activation.split("(")[0]
    if base not in ("sigmoid", "tanh"):
        return None, None
    a = np.asarray(a, dtype=np.float64)
    if base == "sigmoid":
        lo, u = 0.0, 2 * a - 1
    else:
        lo, u = -1.0, a
    flat = float((np.abs(u) > FLAT_TANH).mean())
    near = float(((np.abs(a - 1.0) <= AT_BOUND) | (np.abs(a - lo) <= AT_BOUND)).mean())
    return flat, near


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
    if activation.split("(")[0] == "relu":
        # Zero on every sample: for ReLU no gradient can reach the unit's weights again.
        report.dead_units = np.flatnonzero(~(a_units != 0).any(axis=1)).tolist()
    report.saturated_share, report.at_bound_share = flat_share(a, activation)
    return report


def overall_verdict(
    diagnosis_layers: list[LayerReport], blocks: list[BlockReport], extra: Any = ()
) -> str:
    """The worst verdict over layers, gradients (all zero: ``stuck``) and ``extra`` verdicts
    found elsewhere (non-finite parameters or input)."""
    found = {r.verdict for r in diagnosis_layers} | set(extra)
    if blocks and all(b.zero for b in blocks):
        found.add("stuck")
    for v in VERDICTS:
        if v in found:
            return v
    return "healthy"


def assign_verdicts(layers: list[LayerReport], input_std: float) -> None:
    """Set each layer's verdict from its statistics, in place.

    In order of precedence: ``non-finite`` (NaN or inf in the layer's output; kept when set
    before), ``symmetric`` (fewer distinct units than units), ``dead`` (more than half the units
    zero on every sample, while the layer's input still carries signal: where the input has
    already vanished, each unit is its bias plus almost nothing and about half sit below zero, a
    symptom of ``vanishing``), ``exploding`` / ``vanishing`` (activation std more than 100x above
    / below the reference's: ``reference_std`` when set, else ``input_std``; not judged for the
    ``UNJUDGED_ROLES``), ``saturated`` (more than half the sigmoid or tanh outputs in the flat
    part), else ``healthy``.
    """
    prev = input_std
    for r in layers:
        ref = input_std if r.reference_std is None else r.reference_std
        input_vanished = ref > 0 and prev < VANISH_TOTAL * ref
        prev = r.act_std
        judged = r.role not in UNJUDGED_ROLES
        if r.verdict == "non-finite" or not math.isfinite(r.act_std):
            r.verdict = "non-finite"
        elif r.effective_width is not None and r.effective_width < r.units:
            r.verdict = "symmetric"
        elif r.units and len(r.dead_units) > DEAD_SHARE * r.units and not input_vanished:
            r.verdict = "dead"
        elif judged and ref > 0 and r.act_std > EXPLODE_TOTAL * ref:
            r.verdict = "exploding"
        elif judged and ref > 0 and r.act_std < VANISH_TOTAL * ref:
            r.verdict = "vanishing"
        elif r.saturated_share is not None and r.saturated_share > SATURATED_SHARE:
            r.verdict = "saturated"
        else:
            r.verdict = "healthy"
