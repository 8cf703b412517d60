"""Figures: the only module that imports matplotlib.

Every function draws on a ``matplotlib.axes.Axes`` it is given, or on a new figure that it
returns; nothing touches pyplot's global state, so figures can be made from threads, tests and
servers without a display.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "MAX_WIDTH",
    "annotated_heatmap",
    "decision_boundary",
    "grid",
    "heatmap",
    "lines",
    "loss_curves",
    "measured_and_predicted",
    "median_bands",
    "phase_diagram",
    "png",
    "reach_times",
    "save",
]

# Figures are drawn at most MAX_WIDTH inches wide and saved at DPI dots per inch: about 1050
# pixels, the width of the report's column, so a figure is shown at its own size (its 8-10 pt
# text stays 11-14 px) and a tour's figures weigh a few hundred kB, not megabytes.
DPI = 100
MAX_WIDTH = 10.5

_POINTS = ListedColormap(["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd"])
_REGIONS = ListedColormap(["#f4b6b6", "#b6cff4", "#b9e6b9", "#ffd8a8", "#d9c6ee"])


def _axes(ax: Any, figsize: tuple[float, float]) -> tuple[Figure, Any]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def decision_boundary(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    *,
    ax: Any = None,
    title: str | None = None,
    resolution: int = 300,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
) -> Figure:
    """The regions a fitted two-feature classifier assigns to each class, with the data.

    Training points are filled circles; test points, if given, hollow squares.
    """
    X = np.asarray(X, dtype=float)
    if X.shape[1] != 2:
        raise ValueError(
            f"A decision boundary needs exactly 2 features. Got {X.shape[1]} features instead."
        )
    fig, ax = _axes(ax, (5, 4.5))
    pts = X if X_test is None else np.vstack([X, X_test])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.1 * (hi - lo) + 1e-9
    g0 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    g1 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    G0, G1 = np.meshgrid(g0, g1)
    classes = list(getattr(model, "classes_", np.unique(y)))
    pred = model.predict(np.column_stack([G0.ravel(), G1.ravel()]))
    idx = np.searchsorted(np.asarray(classes), pred).reshape(G0.shape)
    ax.pcolormesh(G0, G1, idx, cmap=_REGIONS, vmin=0, vmax=_REGIONS.N - 1, shading="auto")
    if len(np.unique(idx)) > 1:  # a model that predicts one class everywhere has no boundary
        levels = np.arange(len(classes) - 1) + 0.5
        ax.contour(G0, G1, idx, levels=levels, colors="k", linewidths=0.8)
    ycode = np.searchsorted(np.asarray(classes), y)
    ax.scatter(
        X[:, 0],
        X[:, 1],
        c=ycode,
        cmap=_POINTS,
        vmin=0,
        vmax=_POINTS.N - 1,
        s=14,
        edgecolors="k",
        linewidths=0.3,
        label="train",
    )
    if X_test is not None and y_test is not None:
        tcode = np.searchsorted(np.asarray(classes), y_test)
        ax.scatter(
            X_test[:, 0],
            X_test[:, 1],
            facecolors="none",
            s=22,
            marker="s",
            edgecolors=_POINTS(tcode),
            linewidths=0.9,
            label="test",
        )
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlim(g0[0], g0[-1])
    ax.set_ylim(g1[0], g1[-1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def loss_curves(
    curves: Mapping[str, Sequence[float]],
    *,
    ax: Any = None,
    title: str | None = "Cost during training",
    log: bool = True,
) -> Figure:
    """One line per labelled loss curve against the iteration; log scale by default.

    Non-finite values (a diverged run) end the line; the point where a run diverged is marked
    with a cross.
    """
    fig, ax = _axes(ax, (6, 4))
    for label, values in curves.items():
        v = np.asarray(values, dtype=float)
        finite = np.isfinite(v)
        (line,) = ax.plot(np.flatnonzero(finite), v[finite], label=label, lw=1.4)
        if not finite.all() and finite.any():
            last = np.flatnonzero(finite)[-1]
            ax.plot([last], [v[last]], "x", color=line.get_color(), ms=9, mew=2)
    if log and all(np.nanmin(np.asarray(v, dtype=float)) > 0 for v in curves.values()):
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def save(fig: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Write a figure as PNG (creating the folder) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png(fig, dpi=dpi))
    return path


def png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (what :func:`save` writes, and what the report embeds)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def phase_diagram(
    diagram: Any = "tanh",
    *,
    ax: Any = None,
    title: str | None = None,
    max_depth: float = 1000.0,
) -> Figure:
    """The ordered and chaotic phases of a random network over (sigma_w^2, sigma_b^2).

    The colour is the correlation depth scale xi_c, the depth over which two inputs'
    correlation approaches its fixed point (log scale, capped at ``max_depth``): blue in the
    ordered phase, red in the chaotic one; the black line is the edge of chaos
    (chi_1 = 1), where xi_c diverges. Cells where the length map diverges (q* = inf, e.g. relu
    with sigma_w^2 > 2) are grey. After Schoenholz et al., "Deep Information Propagation"
    (ICLR 2017), Figure 1.

    Parameters
    ----------
    diagram : PhaseDiagram, str or Activation, default "tanh"
        From :func:`initlab.meanfield.phase_diagram`, or an activation to compute one for on
        its default grid.
    ax : matplotlib Axes, optional
    title : str, optional
        Default: "Mean-field phase diagram (ACTIVATION)".
    max_depth : float, default 1000
        Upper end of the colour scale, in layers.
    """
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Patch

    from .meanfield import PhaseDiagram
    from .meanfield import phase_diagram as compute

    d = diagram if isinstance(diagram, PhaseDiagram) else compute(diagram)
    fig, ax = _axes(ax, (6.4, 4.6))
    xi = np.where(np.isnan(d.xi_c), np.nan, np.clip(d.xi_c, 1e-3, max_depth))
    finite = xi[np.isfinite(xi)]
    norm = LogNorm(vmin=max(float(finite.min()) if finite.size else 0.1, 0.1), vmax=max_depth)
    chaotic = d.chi_1 > 1
    meshes = []
    for mask, cmap, label in ((~chaotic, "Blues", "ordered"), (chaotic, "Reds", "chaotic")):
        if np.isfinite(xi[mask]).any():
            mesh = ax.pcolormesh(
                d.sigma_w2,
                d.sigma_b2,
                np.ma.masked_where(~mask, xi),  # masked cells stay transparent
                cmap=colormaps[cmap],
                norm=norm,
                shading="nearest",
            )
            meshes.append((mesh, label))
    handles, diverged = [], "#d9d9d9"
    if np.isnan(d.xi_c).any():
        ax.pcolormesh(
            d.sigma_w2,
            d.sigma_b2,
            np.ma.masked_where(~np.isnan(d.xi_c), np.zeros_like(xi)),
            cmap=ListedColormap([diverged]),
            shading="nearest",
        )
        handles.append(Patch(color=diverged, label="$q^* = \\infty$ (the length diverges)"))
    crit = d.critical_sigma_w2
    (line,) = ax.plot(
        crit, d.critical_sigma_b2, color="k", lw=2, label="edge of chaos ($\\chi_1 = 1$)"
    )
    lo, hi = float(d.sigma_w2.min()), float(d.sigma_w2.max())
    y = float(np.median(d.sigma_b2))
    x_edge = float(np.interp(y, d.critical_sigma_b2, crit))
    box = {"boxstyle": "round", "fc": "white", "ec": "none", "alpha": 0.8}
    if x_edge > lo:
        ax.text((lo + min(x_edge, hi)) / 2, y, "ordered", ha="center", va="center", bbox=box)
    if x_edge < hi:
        ax.text((max(x_edge, lo) + hi) / 2, y, "chaotic", ha="center", va="center", bbox=box)
    for mesh, label in reversed(meshes):  # the last colorbar added sits next to the axes
        fig.colorbar(mesh, ax=ax, pad=0.02, label=f"$\\xi_c$ (layers), {label}")
    if hi > lo:
        ax.set_xlim(lo, hi)
    if d.sigma_b2.max() > d.sigma_b2.min():
        ax.set_ylim(float(d.sigma_b2.min()), float(d.sigma_b2.max()))
    ax.set_xlabel("$\\sigma_w^2$")
    ax.set_ylabel("$\\sigma_b^2$")
    ax.legend(handles=[line, *handles], loc="upper left", fontsize=8)
    ax.set_title(title or f"Mean-field phase diagram ({d.activation})", fontsize=10)
    return fig


def grid(rows: int = 1, cols: int = 1, *, size: tuple[float, float] = (4.5, 4.0)) -> tuple:
    """A new figure with a rows x cols grid of axes (a flat list), for composite figures.

    ``size`` is one panel's (width, height) in inches; a grid wider than :data:`MAX_WIDTH` is
    scaled down to it, keeping its proportions.
    """
    scale = min(1.0, MAX_WIDTH / (size[0] * cols))
    fig = Figure(figsize=(size[0] * cols * scale, size[1] * rows * scale), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def lines(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    ax: Any = None,
    title: str | None = None,
    xlabel: str = "",
    ylabel: str = "",
    logx: bool = False,
    logy: bool = False,
    marker: str | None = None,
) -> Figure:
    """One labelled line per series ``label: (x, y)``; non-finite points are left out."""
    fig, ax = _axes(ax, (6, 4))
    for label, (x, y) in series.items():
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        keep = np.isfinite(x) & np.isfinite(y)
        ax.plot(x[keep], y[keep], label=label, marker=marker, lw=1.4, ms=4)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def heatmap(
    values: np.ndarray,
    *,
    xticklabels: Sequence[Any],
    yticklabels: Sequence[Any],
    ax: Any = None,
    title: str | None = None,
    xlabel: str = "",
    ylabel: str = "",
    colorbar: str = "",
    fmt: str = "{:.2g}",
    cmap: str = "viridis",
) -> Figure:
    """A matrix of values (rows: y, columns: x) with each cell annotated; NaN cells are grey."""
    values = np.asarray(values, dtype=float)
    fig, ax = _axes(ax, (1.0 + 0.8 * values.shape[1], 1.0 + 0.5 * values.shape[0]))
    masked = np.ma.masked_invalid(values)
    image = ax.imshow(masked, cmap=colormaps[cmap].with_extremes(bad="#cccccc"), aspect="auto")
    ax.set_xticks(range(values.shape[1]), [str(t) for t in xticklabels], rotation=30, ha="right")
    ax.set_yticks(range(values.shape[0]), [str(t) for t in yticklabels])
    for (i, j), v in np.ndenumerate(values):
        ax.text(
            j,
            i,
            fmt.format(v) if np.isfinite(v) else "-",
            ha="center",
            va="center",
            fontsize=7,
            color="w" if np.isfinite(v) and v < np.nanmean(values) else "k",
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if colorbar:
        fig.colorbar(image, ax=ax, label=colorbar)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def measured_and_predicted(
    measured: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    predicted: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    spread: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]] | None = None,
    *,
    ax: Any = None,
    title: str | None = None,
    xlabel: str = "",
    ylabel: str = "",
    logy: bool = False,
    ylim: tuple[float, float] | None = None,
    hlines: Mapping[str, float] | None = None,
    measured_label: str = "measured (solid)",
    predicted_label: str = "predicted (dashed)",
    legend: str | None = "best",
) -> Figure:
    """Measurements beside their prediction, one colour per label.

    Each label of ``measured`` (``label: (x, y)``) is a solid line; its ``spread``
    (``label: (x, low, high)``, for example the range over seeds), if given, is shaded in the
    same colour, and its ``predicted`` line (``label: (x, y)``) is dashed in the same colour.
    Non-finite points, and with ``logy`` points <= 0, are left out; a label with nothing left
    to draw keeps its legend entry. ``hlines`` (``text: y``) are dotted reference lines with
    their text written above them. ``legend`` is a matplotlib location, or None for none; it
    ends with a key to the two line styles (``measured_label``, ``predicted_label``).
    """
    fig, ax = _axes(ax, (6, 4))
    predicted = predicted or {}
    spread = spread or {}

    def kept(x: Any, *ys: Any) -> tuple[np.ndarray, ...]:
        x = np.asarray(x, dtype=float)
        ys = tuple(np.asarray(y, dtype=float) for y in ys)
        keep = np.isfinite(x)
        for y in ys:
            keep &= np.isfinite(y) & ((y > 0) if logy else True)
        return (x[keep], *(y[keep] for y in ys))

    for label, (x, y) in measured.items():
        (line,) = ax.plot(*kept(x, y), label=label, lw=1.5)
        colour = line.get_color()
        if label in spread:
            sx, lo, hi = kept(*spread[label])
            ax.fill_between(sx, lo, hi, color=colour, alpha=0.15, lw=0)
        if label in predicted:
            ax.plot(*kept(*predicted[label]), color=colour, ls="--", lw=1.2)
    if logy:
        ax.set_yscale("log")
    if ylim is not None:
        ax.set_ylim(*ylim)
    for text, y in (hlines or {}).items():
        ax.axhline(y, color="k", ls=":", lw=1.0, zorder=1)
        ax.annotate(
            text,
            (0.99, y),
            xycoords=("axes fraction", "data"),
            xytext=(0, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=7,
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if legend is not None:
        ax.plot([], [], color="k", lw=1.5, label=measured_label)
        if predicted:
            ax.plot([], [], color="k", ls="--", lw=1.2, label=predicted_label)
        ax.legend(fontsize=7, loc=legend)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def reach_times(
    x: Sequence[float],
    times: Mapping[str, np.ndarray],
    *,
    budget: float,
    ax: Any = None,
    title: str | None = None,
    xlabel: str = "",
    ylabel: str = "iterations",
    logx: bool = True,
    logy: bool = True,
) -> Figure:
    """Iterations until a target is reached against a parameter, with the spread over runs.

    ``times[label]`` has shape (len(x), n_runs): the iteration at which each run (a seed)
    first reached the target, NaN where it did not within ``budget``. Each run that reached is
    a dot, the range of those runs a shaded band, the median over all runs a line (where more
    than half reached); runs that never reached are triangles above the dashed budget line,
    with their number.
    """
    fig, ax = _axes(ax, (6.5, 4.2))
    x = np.asarray(x, dtype=float)
    from matplotlib import colormaps

    colors = colormaps["tab10"].colors
    n_series = len(times)
    for s, (label, t) in enumerate(times.items()):
        t = np.asarray(t, dtype=float).reshape(len(x), -1)
        color = colors[s % len(colors)]
        # Series side by side: a small shift in x (a factor on a log axis) keeps them apart.
        shift = (1.0 + 0.06 * (s - (n_series - 1) / 2)) if logx else 0.0
        xs = x * shift if logx else x + shift
        reached = np.isfinite(t)
        cols = np.repeat(xs[:, None], t.shape[1], axis=1)
        ax.scatter(cols[reached], t[reached], s=12, color=color, alpha=0.6, lw=0)
        any_hit = reached.any(axis=1)
        if any_hit.any():
            lo = np.where(any_hit, np.where(reached, t, np.inf).min(axis=1), np.nan)
            hi = np.where(any_hit, np.where(reached, t, -np.inf).max(axis=1), np.nan)
            ax.fill_between(xs, lo, hi, color=color, alpha=0.15, lw=0)
        median = np.median(np.where(reached, t, np.inf), axis=1)
        ok = np.isfinite(median)
        ax.plot(
            xs[ok],
            median[ok],
            color=color,
            marker="o",
            ms=4,
            lw=1.6,
            label=f"{label}: median over {t.shape[1]} runs",
        )
        never = (~reached).sum(axis=1)
        top = budget * (1.35 if logy else 1.08)
        if never.any():
            ax.scatter(
                xs[never > 0],
                np.full((never > 0).sum(), top),
                marker="^",
                s=36,
                color=color,
                label=f"{label}: not reached within {budget:g}",
            )
            for xi, n in zip(xs[never > 0], never[never > 0]):
                ax.annotate(
                    str(n),
                    (xi, top),
                    textcoords="offset points",
                    xytext=(0, 6),
                    ha="center",
                    fontsize=6,
                    color=color,
                )
    ax.axhline(budget, color="0.4", ls="--", lw=1, label=f"budget ({budget:g} iterations)")
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
        ax.set_ylim(top=budget * 2.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def annotated_heatmap(
    values: np.ndarray,
    annotations: Sequence[Sequence[str]],
    *,
    xticklabels: Sequence[Any],
    yticklabels: Sequence[Any],
    ax: Any = None,
    title: str | None = None,
    xlabel: str = "",
    ylabel: str = "",
    colorbar: str = "",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    overlay: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
) -> Figure:
    """A matrix of values (rows: y from the bottom up, columns: x), each cell with its own text.

    NaN cells are grey. ``overlay`` draws labelled lines ``label: (x, y)`` in cell coordinates
    (column and row indices, fractional between cells), such as a theoretical boundary.
    """
    values = np.asarray(values, dtype=float)
    n_rows, n_cols = values.shape
    fig, ax = _axes(ax, (2.6 + 1.0 * n_cols, 2.0 + 0.6 * n_rows))
    image = ax.imshow(
        np.ma.masked_invalid(values),
        cmap=colormaps[cmap].with_extremes(bad="#cccccc"),
        aspect="auto",
        origin="lower",
        vmin=vmin,
        vmax=vmax,
    )
    ax.set_xticks(range(n_cols), [str(t) for t in xticklabels], rotation=30, ha="right")
    ax.set_yticks(range(n_rows), [str(t) for t in yticklabels])
    lo, hi = image.get_clim()
    middle = (lo + hi) / 2
    for (i, j), v in np.ndenumerate(values):
        ax.text(
            j,
            i,
            annotations[i][j],
            ha="center",
            va="center",
            fontsize=7,
            color="w" if np.isfinite(v) and v < middle else "k",
        )
    for label, (x, y) in (overlay or {}).items():
        ax.plot(x, y, color="#d62728", lw=2, label=label)
    if overlay:
        ax.set_xlim(-0.5, n_cols - 0.5)
        ax.set_ylim(-0.5, n_rows - 0.5)
        ax.legend(loc="upper right", fontsize=7, framealpha=0.85)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if colorbar:
        fig.colorbar(image, ax=ax, label=colorbar)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def median_bands(
    series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float], Sequence[float]]],
    *,
    ax: Any = None,
    title: str | None = None,
    xlabel: str = "iteration",
    ylabel: str = "loss",
    logy: bool = True,
    band: str = "interquartile range",
) -> Figure:
    """One line per series ``label: (x, median, low, high)`` with its band shaded.

    Non-finite points are left out; a line that stops before the last x (every run diverged
    there) ends in a cross.
    """
    fig, ax = _axes(ax, (6, 4))
    positive, lo_all, hi_all = True, np.inf, -np.inf
    for label, (x, mid, low, high) in series.items():
        x, mid = np.asarray(x, dtype=float), np.asarray(mid, dtype=float)
        low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
        keep = np.isfinite(mid)
        (line,) = ax.plot(x[keep], mid[keep], label=label, lw=1.4)
        both = np.isfinite(low) & np.isfinite(high)
        ax.fill_between(x[both], low[both], high[both], color=line.get_color(), alpha=0.2, lw=0)
        if keep.any() and not keep[-1]:
            last = np.flatnonzero(keep)[-1]
            ax.plot([x[last]], [mid[last]], "x", color=line.get_color(), ms=8, mew=2)
        finite = np.concatenate([mid[keep], low[both], high[both]])
        positive = positive and bool(finite.size == 0 or finite.min() > 0)
        if finite.size:
            lo_all, hi_all = min(lo_all, finite.min()), max(hi_all, finite.max())
    flat = np.isfinite(lo_all) and hi_all - lo_all <= 1e-9 * max(abs(hi_all), 1e-300)
    if flat:
        # Curves that do not move (a stuck network: ln 2 to the last bit): show them on a linear
        # axis around their value, not magnified rounding noise on a log axis.
        pad = 0.05 * max(abs(hi_all), 1e-12)
        ax.set_ylim(lo_all - pad, hi_all + pad)
    elif logy and positive:
        ax.set_yscale("log")
    ax.locator_params(axis="x", nbins=5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if series:
        ax.legend(fontsize=7, title=f"median, {band} shaded", title_fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return fig
