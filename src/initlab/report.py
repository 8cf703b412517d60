"""Self-contained HTML reports: figures embedded as PNG, readable offline.

:func:`write_report` takes study results (or a folder of their saved JSON and PNG files, as
``initlab tour`` writes it) and writes a single HTML file: the claims ledger first, then a section
per study with its question, setup, tables, figures and verdicts.

:func:`write_sweep_report` reads a sweep store and writes a single HTML file with a section per
sweep: its setup, heatmaps of median train accuracy and of median iterations-to-target over two
axes, loss curves with their median and interquartile range over seeds, and divergence.
"""

from __future__ import annotations

import base64
import html
import inspect
import io
import json
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .studies import STUDIES, Claim, StudyResult

__all__ = ["ledger", "load_results", "write_report", "write_sweep_report"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: .6em 0 1em; font-size: .85em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; vertical-align: top; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
.verdict { font-weight: 600; padding: .1em .5em; border-radius: .3em; white-space: nowrap; }
.holds { background: #dff3df; color: #1d6b1d; } .fails { background: #f8dddd; color: #8b1c1c; }
.qualified { background: #fbf0d0; color: #7a5a00; }
.question { font-style: italic; color: #444; } .setup { color: #555; font-size: .9em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; } .note { color: #555; font-size: .9em; }
nav a { margin-right: 1em; } .scroll { overflow-x: auto; max-width: 100%; }
"""


def load_results(folder: str | Path) -> list[StudyResult]:
    """The study results saved in ``folder`` (``NAME.json``), in the order of the tour."""
    folder = Path(folder)
    found = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and {"name", "title", "findings"} <= data.keys():
            found[data["name"]] = StudyResult.from_dict(data)
    if not found:
        raise ValueError(
            f"The folder {str(folder)!r} holds no saved study results (NAME.json files written by "
            "`initlab tour` or `initlab study --out`)."
        )
    order = list(STUDIES)
    return sorted(found.values(), key=lambda r: order.index(r.name) if r.name in order else 99)


def ledger(results: Sequence[StudyResult]) -> list[Claim]:
    """Every claim the studies tested, in the order of the studies."""
    return [c for r in results for c in r.findings]


def _table(frame: pd.DataFrame) -> str:
    numeric = {c: pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns}
    head = "".join(
        f'<th class="{"" if numeric[c] else "text"}">{html.escape(str(c))}</th>'
        for c in frame.columns
    )
    rows = []
    for row in frame.itertuples(index=False):
        cells = []
        for v in row:
            text = f"{v:.6g}" if isinstance(v, float) else str(v)
            cls = "" if isinstance(v, int | float) and not isinstance(v, bool) else "text"
            cells.append(f'<td class="{cls}">{html.escape(text)}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _verdict(v: str) -> str:
    return f'<span class="verdict {v}">{v}</span>'


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def write_report(
    results: Sequence[StudyResult] | str | Path,
    path: str | Path,
    *,
    figures_folder: str | Path | None = None,
    title: str = "initlab: what a network's start decides, measured",
) -> Path:
    """Write the HTML report and return its path.

    Parameters
    ----------
    results : list of StudyResult, or a folder of saved results
    path : str or Path
        The HTML file to write.
    figures_folder : str or Path, optional
        Where the PNG files named in the results are (default: the results' folder, or the
        report's folder). Results that still hold their figures are saved there first.
    """
    path = Path(path)
    if isinstance(results, str | Path):
        figures_folder = figures_folder or results
        results = load_results(results)
    folder = Path(figures_folder) if figures_folder else path.parent
    for r in results:
        if r.figures and not r.figure_files:
            r.save(folder)
    claims = ledger(results)
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts.append(
        "<nav>"
        + "".join(f'<a href="#{html.escape(r.name)}">{html.escape(r.name)}</a>' for r in results)
        + "</nav>"
    )
    parts.append('<h2 id="ledger">The claims ledger</h2>')
    parts.append(
        "<p>Common claims about starting weights, each tested by a study below; the verdict and "
        "the evidence come from the numbers measured in this run.</p>"
    )
    parts.append(
        '<table><thead><tr><th class="text">claim</th><th>verdict</th>'
        '<th class="text">evidence</th><th class="text">study</th></tr></thead><tbody>'
    )
    for c in claims:
        parts.append(
            f'<tr><td class="text">{html.escape(c.claim)}</td><td>{_verdict(c.verdict)}</td>'
            f'<td class="text">{html.escape(c.evidence)}</td>'
            f'<td class="text"><a href="#{html.escape(c.study)}">{html.escape(c.study)}</a>'
            "</td></tr>"
        )
    parts.append("</tbody></table>")
    for r in results:
        parts.append(f'<h2 id="{html.escape(r.name)}">{html.escape(r.title)}</h2>')
        parts.append(f'<p class="question">{html.escape(r.question)}</p>')
        setup = "".join(
            f"<li><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</li>"
            for k, v in r.setup.items()
        )
        parts.append(f'<ul class="setup">{setup}</ul>')
        parts.append(f'<p class="note">Size: {html.escape(r.size)}; ran in {r.seconds:.1f} s.</p>')
        for key, frame in r.tables.items():
            parts.append(f"<h3>{html.escape(key)}</h3>{_table(frame)}")
        for key, file in r.figure_files.items():
            png = folder / file
            if png.exists():
                parts.append(
                    f"<figure>{_image(png)}<figcaption>{html.escape(key)}</figcaption></figure>"
                )
        if r.findings:
            parts.append("<h3>Verdicts</h3><ul>")
            for c in r.findings:
                parts.append(
                    f"<li>{_verdict(c.verdict)} {html.escape(c.claim)}<br>"
                    f'<span class="note">{html.escape(c.evidence)}</span></li>'
                )
            parts.append("</ul>")
        for note in r.notes:
            parts.append(f'<p class="note">{html.escape(note)}</p>')
    body = "\n".join(parts)
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Sweep report
# --------------------------------------------------------------------------------------------


def _png(fig: Any, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _value_key(v: Any) -> str:
    """One grid value as canonical JSON (``hidden`` is a tuple in the frame, a list in the spec)."""
    return json.dumps(list(v) if isinstance(v, tuple) else v, sort_keys=True)


def _axis(name: str, values: list[Any]) -> tuple[str, list[Any], list[float] | None]:
    """How to show one axis: its title, a label per value and, if the labels are numbers, those
    numbers (the axis is then drawn in their order)."""
    from ._spec import parse_spec
    from .activations import ACTIVATIONS
    from .initializers import INITIALIZERS

    def numbers(labels: list[Any]) -> list[float] | None:
        ok = all(isinstance(v, int | float) and not isinstance(v, bool) for v in labels)
        return [float(v) for v in labels] if ok else None

    if name == "hidden" and all(v and len(set(v)) == 1 for v in values):
        widths = {v[0] for v in values}
        if len(widths) == 1 and len({len(v) for v in values}) == len(values):
            depths = [len(v) for v in values]
            return f"depth (hidden layers of width {widths.pop()})", depths, numbers(depths)
    if name in ("init", "bias_init", "activation") and all(isinstance(v, str) for v in values):
        try:
            parsed = [parse_spec(v, what=name) for v in values]
        except ValueError:
            parsed = []
        if parsed and len({n for n, _ in parsed}) == 1:
            keys = {k for _, kw in parsed for k in kw}
            varying = [k for k in sorted(keys) if len({repr(kw.get(k)) for _, kw in parsed}) > 1]
            if len(varying) == 1:
                k = varying[0]
                # A canonical spec leaves out arguments at their default: read it back.
                registry = ACTIVATIONS if name == "activation" else INITIALIZERS
                param = inspect.signature(registry.entry(parsed[0][0]).factory).parameters.get(k)
                default = None if param is None else param.default
                labels = [kw.get(k, default) for _, kw in parsed]
                title = f"{name}: {parsed[0][0]} {k}"
                if parsed[0][0] == "variance_scaling" and k == "scale":
                    title += " ($\\sigma_w^2$)"
                return title, labels, numbers(labels)
    labels = [list(v) if isinstance(v, tuple) else v for v in values]
    return name, labels, numbers(labels)


def _short(title: str) -> str:
    """An axis title for a legend: ``depth``, ``sigma_w^2`` or the varying argument's name."""
    if title.startswith("depth"):
        return "depth"
    if title.endswith("($\\sigma_w^2$)"):
        return "$\\sigma_w^2$"
    return title.split(" ")[-1] if ": " in title else title


def _sweep_axes(spec: dict[str, Any], df: pd.DataFrame) -> dict[str, list[Any]]:
    """The axes other than seed with more than one stored value, in spec order, with their
    values in spec order (only those stored)."""
    out = {}
    for name in spec["axes"]:
        if name == "seed" or name not in df.columns:
            continue
        stored = set(df[name].map(_value_key))
        values = [v for v in spec["grid"][name] if _value_key(v) in stored]
        if len(values) > 1:
            out[name] = values
    return out


def _pick_axes(
    axes: dict[str, list[Any]], x: str | None, y: str | None, sweep: str
) -> tuple[str | None, str | None]:
    for key, value in (("x", x), ("y", y)):
        if value is not None and value not in axes:
            raise ValueError(
                f"The {key!r} parameter of write_sweep_report must be an axis of sweep {sweep!r} "
                f"with more than one value: {', '.join(axes) or 'none'}. Got {value!r} instead."
            )
    if x is not None and x == y:
        raise ValueError(
            f"The 'x' and 'y' parameters of write_sweep_report must differ. Got {x!r} for both."
        )
    # The two axes with the most values (ties: the spec's order); the larger one across.
    given = (x, y)
    ranked = sorted(axes, key=lambda a: -len(axes[a]))
    rest = [a for a in ranked if a not in (x, y)]
    if x is None and rest:
        x = rest.pop(0)
    if y is None and rest:
        y = rest.pop(0)
    if given == (None, None) and x == "hidden" and y is not None:
        x, y = y, x  # depth goes up the y axis, as in Schoenholz et al.'s figures
    return x, y


def _ordered(name: str | None, axes: dict[str, list[Any]]) -> tuple[str, list[Any], list[Any]]:
    """Title, values and labels of an axis, numbers ascending; a single dummy value for none."""
    if name is None:
        return "", [None], [""]
    title, labels, numeric = _axis(name, axes[name])
    order = np.argsort(numeric, kind="stable") if numeric is not None else range(len(labels))
    return title, [axes[name][i] for i in order], [labels[i] for i in order]


def _cells(df: pd.DataFrame, x: str | None, xs: list[Any], y: str | None, ys: list[Any]):
    """Runs of each (y, x) cell: a dict (i, j) -> sub-frame, pooling every other axis."""
    kx = df[x].map(_value_key) if x else pd.Series("", index=df.index)
    ky = df[y].map(_value_key) if y else pd.Series("", index=df.index)
    cells = {}
    for i, vy in enumerate(ys):
        for j, vx in enumerate(xs):
            mask = (ky == (_value_key(vy) if y else "")) & (kx == (_value_key(vx) if x else ""))
            cells[i, j] = df[mask]
    return cells


def _theory(
    spec: dict[str, Any], x: str | None, xs: list[Any], y: str | None, ys: list[Any]
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str]:
    """The curve depth = 6 xi_c(sigma_w^2) in cell coordinates, or why it is not drawn."""
    from ._spec import parse_spec
    from .meanfield import analyze

    why = (
        "The mean-field curve 6 xi_c is drawn when the x axis is init = variance_scaling(scale="
        "sigma_w^2, mode='fan_in') and the y axis is the depth of equal-width hidden layers, "
        "with one activation and a fixed bias_init of zeros or normal(std=sigma_b)"
    )
    if x != "init" or y != "hidden":
        return {}, f"{why}; here x is {x!r} and y is {y!r}."
    grid = spec["grid"]
    if len(grid["activation"]) != 1 or len(grid["bias_init"]) != 1:
        return {}, f"{why}; this sweep varies the activation or bias_init."
    scales = []
    for v in xs:
        name, kw = parse_spec(v, what="init")
        if name != "variance_scaling" or kw.get("mode", "fan_in") != "fan_in":
            return {}, f"{why}; the init {v!r} is not of that form."
        scales.append(float(kw.get("scale", 1.0)))
    if not all(len(set(h)) == 1 for h in ys):
        return {}, f"{why}; the hidden layers are not of equal width."
    depths = [len(h) for h in ys]
    bias, kw = parse_spec(grid["bias_init"][0], what="bias_init")
    if bias == "zeros":
        sigma_b = 0.0
    elif bias == "normal" and float(kw.get("mean", 0.0)) == 0.0:
        sigma_b = float(kw.get("std", 1.0))
    else:
        return {}, f"{why}; bias_init is {grid['bias_init'][0]!r}."
    activation = grid["activation"][0]
    s2 = np.linspace(min(scales), max(scales), 400)
    try:
        xi = np.array([analyze(activation, math.sqrt(s), sigma_b).xi_c for s in s2])
    except ValueError as exc:
        return {}, f"{why}; the mean field of {activation!r} is not available: {exc}"
    # Cell coordinates: linear between the listed values; off the plot above the deepest row.
    cx = np.interp(s2, scales, np.arange(len(scales)))
    with np.errstate(invalid="ignore"):
        cy = np.interp(6 * xi, depths, np.arange(len(depths)), left=np.nan, right=np.nan)
    note = (
        f"Red line: depth = 6 xi_c, the mean-field correlation depth scale of a random "
        f"{activation} network (initlab.meanfield.analyze, sigma_b = {sigma_b:g}) times 6; "
        "Schoenholz et al. (2017) find deep networks train only below it. Between listed "
        "values the line is placed by linear interpolation of the cell coordinates; where 6 xi_c "
        f"exceeds the deepest network ({max(depths)} layers) it leaves the plot."
    )
    return {"6 $\\xi_c$ (mean field)": (cx, cy)}, note


def _sweep_section(store: Any, name: str, x: str | None, y: str | None) -> list[str]:
    from . import plots

    spec = store.spec(name)
    df = store.frame(name)
    total = next((s["total"] for s in store.sweeps() if s["name"] == name), len(df))
    anchor = "sweep-" + "".join(c if c.isalnum() else "-" for c in name)
    parts = [f'<h2 id="{html.escape(anchor)}">Sweep {html.escape(name)}</h2>']
    grid = spec["grid"]
    fixed = {k: v[0] for k, v in grid.items() if len(v) == 1}
    setup = [f"<li><b>configurations stored</b>: {len(df)} of {total}</li>"]
    for k, v in grid.items():
        if len(v) > 1:
            shown = ", ".join(json.dumps(e) for e in v)
            setup.append(f"<li><b>{html.escape(k)}</b> (axis, {len(v)}): {html.escape(shown)}</li>")
    setup.append(
        "<li><b>fixed</b>: "
        + html.escape("; ".join(f"{k} = {json.dumps(v)}" for k, v in fixed.items()))
        + "</li>"
    )
    record = spec["record"]
    setup.append(
        f"<li><b>record</b>: target accuracy {record['target_accuracy']:g}, "
        f"loss every {record['curve_every']} iterations; sweep seed {spec['seed']}</li>"
    )
    parts.append(f'<ul class="setup">{"".join(setup)}</ul>')
    if df.empty:
        parts.append('<p class="note">No configuration of this sweep is stored yet.</p>')
        return parts
    axes = _sweep_axes(spec, df)
    x, y = _pick_axes(axes, x, y, name)
    xtitle, xs, xlabels = _ordered(x, axes)
    ytitle, ys, ylabels = _ordered(y, axes)
    pooled = [a for a in axes if a not in (x, y)]
    seeds = len(grid.get("seed", [0]))
    parts.append(
        '<p class="note">'
        + html.escape(
            f"Heatmaps over x = {x or '(none)'} and y = {y or '(none)'}; each cell pools its "
            f"{seeds} seed(s)"
            + (
                f" and every value of {', '.join(pooled)} (aggregated, not separate panels)"
                if pooled
                else ""
            )
            + ". Medians are over the pooled runs; a run that never reached the target counts "
            "as infinitely slow, so '-' means more than half never reached it. 'div' is the "
            "share of runs that diverged."
        )
        + "</p>"
    )
    cells = _cells(df, x, xs, y, ys)
    shape = (len(ys), len(xs))
    acc, its = np.full(shape, np.nan), np.full(shape, np.nan)
    acc_text = [["" for _ in xs] for _ in ys]
    its_text = [["" for _ in xs] for _ in ys]
    rows = []
    target = record["target_accuracy"]
    for (i, j), g in cells.items():
        if g.empty:
            acc_text[i][j] = its_text[i][j] = "no runs"
            continue
        a = g["train_accuracy"].astype(float).to_numpy()
        t = g["iterations_to_target"].astype("Float64").fillna(np.inf).to_numpy(dtype=float)
        diverged = float(g["diverged"].astype(bool).mean())
        acc[i, j] = float(np.median(a[np.isfinite(a)])) if np.isfinite(a).any() else np.nan
        its[i, j] = float(np.median(t))
        div = f"\n{diverged:.0%} div" if diverged else ""
        acc_text[i][j] = (f"{acc[i, j]:.2f}" if np.isfinite(acc[i, j]) else "-") + div
        reached = int(np.isfinite(t).sum())
        its_text[i][j] = (
            f"{its[i, j]:.0f}" if np.isfinite(its[i, j]) else "-"
        ) + f"\n{reached}/{len(t)}{div}"
        row = {}
        if y:
            row[y] = str(ylabels[i])
        if x:
            row[x] = str(xlabels[j])
        row.update(
            {
                "runs": len(g),
                "median train accuracy": acc[i, j],
                f"reached {target:g}": f"{reached}/{len(t)}",
                "median iterations to target": its[i, j] if np.isfinite(its[i, j]) else "never",
                "diverged": f"{diverged:.0%}",
                "median final loss": float(g["final_loss"].astype(float).median()),
            }
        )
        rows.append(row)
    overlay, theory_note = _theory(spec, x, xs, y, ys)
    common = {
        "xticklabels": xlabels,
        "yticklabels": ylabels,
        "xlabel": xtitle,
        "ylabel": ytitle,
        "overlay": overlay,
    }
    fig = plots.annotated_heatmap(
        acc,
        acc_text,
        title="Median train accuracy",
        colorbar="median train accuracy",
        vmin=0.0,
        vmax=1.0,
        **common,
    )
    parts.append(
        f"<figure>{_png(fig, 'median train accuracy')}<figcaption>Median train accuracy per "
        "cell; 'div': share of runs that diverged.</figcaption></figure>"
    )
    fig = plots.annotated_heatmap(
        its,
        its_text,
        title=f"Median iterations to reach train accuracy {target:g}",
        colorbar="median iterations to target",
        cmap="viridis_r",
        **common,
    )
    parts.append(
        f"<figure>{_png(fig, 'median iterations to target')}<figcaption>Median iterations to "
        f"reach train accuracy {target:g}; below it, how many runs reached it (grey, '-': "
        "more than half never did).</figcaption></figure>"
    )
    parts.append(f'<p class="note">{html.escape(theory_note)}</p>')
    parts.append(f"<h3>Cells: runs, accuracy and divergence</h3>{_table(pd.DataFrame(rows))}")
    # Loss curves: one panel per y value, one line per x value, median and quartiles over runs.
    cols = min(3, len(ys))
    fig, panels = plots.grid(-(-len(ys) // cols), cols, size=(4.6, 3.4))
    every = int(record["curve_every"])
    for i, ax in enumerate(panels):
        if i >= len(ys):
            ax.set_axis_off()
            continue
        series = {}
        for j in range(len(xs)):
            g = cells[i, j]
            if g.empty:
                continue
            curves = [[np.inf if v is None else v for v in c] for c in g["curve"] if c]
            if not curves:
                continue
            n = max(len(c) for c in curves)
            # A diverged run's loss counts as infinite; a shorter run (fewer iterations) is
            # left out after its end.
            # Quantiles interpolate, and 0 * inf is NaN: stand a huge finite number in for
            # infinity, and read any quantile above the largest finite loss as infinite.
            huge = 1e300
            C = np.full((len(curves), n), np.nan)
            for k, c in enumerate(curves):
                C[k, : len(c)] = np.where(np.isfinite(c), c, huge)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: none ran
                low, mid, high = np.nanquantile(C, [0.25, 0.5, 0.75], axis=0)
            top = np.nanmax(np.where(C < huge, C, np.nan)) if (C < huge).any() else 0.0
            low, mid, high = (np.where(q > top, np.inf, q) for q in (low, mid, high))
            label = f"{_short(xtitle)} = {xlabels[j]}" if x else "all runs"
            series[label] = (np.arange(n) * every, mid, low, high)
        title = f"{_short(ytitle)} = {ylabels[i]}" if y else "Loss curves"
        plots.median_bands(series, ax=ax, title=title)
    parts.append(
        f"<figure>{_png(fig, 'loss curves')}<figcaption>Training loss: median over the pooled "
        "runs of each cell, interquartile range shaded; a diverged run counts as infinite "
        "loss, so a line ending in a cross means half its runs diverged.</figcaption></figure>"
    )
    return parts


def write_sweep_report(
    store_path: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    sweep: str | None = None,
    x: str | None = None,
    y: str | None = None,
) -> Path:
    """Write an HTML report of the sweeps in a store and return its path.

    Parameters
    ----------
    store_path : str or path-like
        A sweep store (:class:`initlab.sweep.Store`) that exists.
    path : str or path-like
        The HTML file to write: one self-contained page, figures embedded as PNG.
    sweep : str, optional
        One sweep's name; default every sweep in the store, a section each.
    x, y : str, optional
        The axes of the heatmaps (grid keys with more than one value, not ``seed``). Default: the
        two axes with the most values (ties in the spec's order), the larger one across, except
        that a ``hidden`` (depth) axis chosen this way goes up the y axis. Every
        other axis is pooled into the cells (aggregated, and said so in the page).

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        If the store does not exist or holds no sweeps, ``sweep`` is not one of them, or ``x`` /
        ``y`` is not an axis of a sweep.

    Notes
    -----
    Each sweep's section has its setup (axes and fixed keys), a heatmap of the median train
    accuracy and one of the median iterations to the target accuracy, each cell annotated with
    the share of runs that diverged, a table of the cells, and the loss curves (median and
    interquartile range over the pooled runs) with one panel per y value. When x is an
    ``init = variance_scaling(scale=sigma_w^2)`` axis and y a depth axis, the heatmaps carry the
    mean-field curve depth = 6 xi_c (Schoenholz et al., "Deep Information Propagation", ICLR 2017).
    """
    from .sweep import Store

    store_path = os.fspath(store_path)
    if not os.path.isfile(store_path):
        raise ValueError(
            "The 'store_path' parameter of write_sweep_report must be an existing sweep store. "
            f"Got {store_path!r} instead."
        )
    store = Store(store_path)
    names = [s["name"] for s in store.sweeps()]
    if sweep is not None:
        store.spec(sweep)  # names the stored sweeps if it is not one
        names = [sweep]
    if not names:
        raise ValueError(
            "The 'store_path' parameter of write_sweep_report must be a store holding a sweep. "
            f"Got {store_path!r}, which holds none."
        )
    title = f"initlab sweep report: {os.path.basename(store_path)}"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if len(names) > 1:
        parts.append(
            "<nav>"
            + "".join(
                f'<a href="#sweep-{html.escape("".join(c if c.isalnum() else "-" for c in n))}">'
                f"{html.escape(n)}</a>"
                for n in names
            )
            + "</nav>"
        )
    for n in names:
        parts.extend(_sweep_section(store, n, x, y))
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        "<body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
