"""HTML: the one renderer of studies, claims, diagnoses and sweeps (the report, notebook reprs).

:func:`write_report` takes study results (or a folder of their saved JSON and PNG files, as
``initlab tour`` writes it) and writes a single HTML file that reads like an article and stays
the proof: a sticky table of contents, the claims ledger (claim, verdict, the one-sentence
answer, where it is shown; the evidence a click away), then a section per study with its
question, the answer in a highlighted box, the figures that show it, how we know, and the full
evidence, setup, tables and notes in collapsible blocks (closed on screen, open in print).

The notebook renderings (``_repr_html_`` of :class:`~initlab.studies.StudyResult`, the
:class:`~initlab.studies.Ledger`, :class:`~initlab.diagnostics.Diagnosis` and a sweep's table)
are drawn by the same functions: :func:`study_html`, :func:`ledger_html`,
:func:`diagnosis_html` and :func:`sweep_table_html`.

:func:`write_sweep_report` reads a sweep store and writes a single HTML file with a section per
sweep: its setup, heatmaps of median train accuracy and of median iterations-to-target over two
axes, loss curves with their median and interquartile range over seeds, and divergence.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import inspect
import io
import json
import math
import os
import re
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .studies import STUDIES, Claim, Ledger, StudyResult

__all__ = [
    "SweepTable",
    "diagnosis_html",
    "ledger",
    "ledger_html",
    "load_results",
    "study_html",
    "sweep_table_html",
    "write_report",
    "write_sweep_report",
]

# One stylesheet for the report and the notebook: every rule is scoped under .initlab, so that
# a notebook's own page is left alone.
_CSS = """
.initlab { --ink: #1f2328; --soft: #57606a; --rule: #d8dee4; --paper: #fff; --tint: #f6f8fa;
  --holds: #1a7f37; --holds-bg: #dafbe1; --fails: #cf222e; --fails-bg: #ffebe9;
  --qualified: #9a6700; --qualified-bg: #fff8c5; --link: #0969da;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  line-height: 1.5; font-size: 16px; }
.initlab a { color: var(--link); text-decoration: none; }
.initlab a:hover { text-decoration: underline; }
.initlab h1 { font-size: 1.9em; line-height: 1.2; margin: .2em 0 .3em; }
.initlab h2 { font-size: 1.4em; line-height: 1.25; margin: 0 0 .3em; }
.initlab h3 { font-size: 1.05em; margin: 1.4em 0 .3em; }
.initlab p { margin: .4em 0 .7em; }
.initlab .prose { max-width: 46em; }
.initlab .lede { font-size: 1.1em; color: var(--soft); max-width: 46em; }
.initlab .verdict { display: inline-block; font-weight: 600; font-size: .78em; line-height: 1.6;
  padding: 0 .55em; border-radius: 1em; white-space: nowrap; text-transform: uppercase;
  letter-spacing: .03em; vertical-align: .1em; }
.initlab .holds, .initlab .healthy { background: var(--holds-bg); color: var(--holds); }
.initlab .fails, .initlab .unhealthy { background: var(--fails-bg); color: var(--fails); }
.initlab .qualified, .initlab .warning { background: var(--qualified-bg); color: var(--qualified); }
.initlab .info { background: #ddf4ff; color: #0550ae; }
.initlab .question { font-size: 1.1em; font-style: italic; color: #333; max-width: 50em;
  margin: .2em 0 .7em; }
.initlab .answer { border: 1px solid var(--rule); border-left: 5px solid #6e7781;
  background: var(--tint); border-radius: 6px; padding: .6em 1.1em .4em; margin: .6em 0 1em;
  line-height: 1.45; }
.initlab .answer.tone-holds { border-left-color: var(--holds); }
.initlab .answer.tone-fails { border-left-color: var(--fails); }
.initlab .answer.tone-qualified { border-left-color: #d4a72c; }
.initlab .answer-claim { margin: 0 0 .55em; }
.initlab .answer-claim:last-child { margin-bottom: .3em; }
.initlab .answer-claim .head { font-weight: 600; margin: 0; }
.initlab .answer-claim .summary { margin: .05em 0 0; max-width: 56em; }
.initlab .shown { white-space: nowrap; font-size: .9em; }
.initlab figure { margin: .8em 0 1.4em; }
.initlab figure img { max-width: 100%; height: auto; display: block; }
.initlab figcaption { font-size: .9em; color: var(--soft); max-width: 52em; margin-top: .3em; }
.initlab figcaption b { color: var(--ink); }
.initlab details { border: 1px solid var(--rule); border-radius: 6px; margin: .5em 0;
  background: var(--paper); }
.initlab details > summary { cursor: pointer; padding: .45em .8em; font-weight: 600;
  list-style-position: inside; }
.initlab details > summary .dim { font-weight: 400; }
.initlab details[open] > summary { border-bottom: 1px solid var(--rule); }
.initlab details > .inner { padding: .3em .9em .6em; }
.initlab .dim { color: var(--soft); }
.initlab .n { white-space: nowrap; }
.initlab .scroll { overflow-x: auto; max-width: 100%; }
.initlab table.data { border-collapse: collapse; font-size: .82em; margin: .5em 0;
  font-variant-numeric: tabular-nums; }
.initlab table.data th, .initlab table.data td { border: 1px solid var(--rule);
  padding: .25em .55em; vertical-align: top; }
.initlab table.data th { background: var(--tint); font-weight: 600; vertical-align: bottom;
  text-align: right; hyphens: none; }
.initlab table.data td { text-align: right; white-space: nowrap; }
.initlab table.data .text { text-align: left; }
.initlab table.data td.text { white-space: normal; min-width: 8em; max-width: 28em; }
.initlab table.data td.short { white-space: nowrap; }
.initlab table.ledger { border-collapse: collapse; width: 100%; font-size: .95em;
  table-layout: fixed; }
.initlab table.ledger col.c-claim { width: 24%; }
.initlab table.ledger col.c-verdict { width: 7.5em; }
.initlab table.ledger col.c-where { width: 10.5em; }
.initlab table.ledger th { text-align: left; font-size: .85em; color: var(--soft);
  font-weight: 600; border-bottom: 2px solid var(--rule); padding: .3em .6em; white-space: nowrap; }
.initlab table.ledger td { border-bottom: 1px solid var(--rule); padding: .55em .6em;
  vertical-align: top; }
.initlab table.ledger td.claim { font-weight: 600; }
.initlab table.ledger td.where { font-size: .9em; overflow-wrap: anywhere; }
.initlab table.ledger details { border: 0; margin: .3em 0 0; background: none; }
.initlab table.ledger details > summary { padding: 0; font-weight: 400; font-size: .9em;
  color: var(--link); }
.initlab table.ledger details[open] > summary { border: 0; }
.initlab table.ledger details .inner { padding: .3em 0 0; font-size: .92em; color: #333; }
.initlab .evidence-claim { margin: .6em 0 1em; }
.initlab .evidence-claim p { margin: .2em 0; }
.initlab dl.setup { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em;
  margin: .4em 0; font-size: .92em; }
.initlab dl.setup dt { font-weight: 600; } .initlab dl.setup dd { margin: 0; }
.initlab .meta, .initlab .note { font-size: .85em; color: var(--soft); }
.initlab ul.setup { color: var(--soft); font-size: .92em; }
.initlab ul.findings { padding-left: 0; list-style: none; margin: .4em 0; }
.initlab ul.findings li { margin: .35em 0; }
.initlab .suggestion { color: var(--soft); margin-left: 1.2em; }
.initlab section.study { padding-top: 1.6em; margin-top: 1.4em; border-top: 1px solid var(--rule); }
/* The report's page: a sticky table of contents beside the article. */
body.initlab { margin: 0; background: var(--paper); }
.initlab .layout { display: grid; grid-template-columns: 15.5rem minmax(0, 1fr); }
.initlab nav.toc { position: sticky; top: 0; align-self: start; height: 100vh; overflow-y: auto;
  box-sizing: border-box; padding: 1.2em 1em 1em 1.2em; border-right: 1px solid var(--rule);
  background: var(--tint); font-size: .9em; }
.initlab nav.toc .toc-title { font-weight: 700; margin-bottom: .6em; }
.initlab nav.toc ol { list-style: none; padding: 0; margin: 0; }
.initlab nav.toc li { margin: 0 0 .55em; }
.initlab nav.toc a { color: var(--ink); display: block; }
.initlab nav.toc a.current { color: var(--link); font-weight: 600; }
.initlab nav.toc .dots { display: block; margin-top: .1em; }
.initlab .dot { display: inline-block; width: .7em; height: .7em; border-radius: 50%;
  margin-right: .25em; vertical-align: -.05em; }
.initlab .dot.holds { background: var(--holds); } .initlab .dot.fails { background: var(--fails); }
.initlab .dot.qualified { background: #d4a72c; }
.initlab main { box-sizing: border-box; max-width: 68rem; padding: 1.2em 2.2em 4em; }
@media (max-width: 900px) {
  .initlab .layout { display: block; }
  .initlab nav.toc { position: static; height: auto; border-right: 0;
    border-bottom: 1px solid var(--rule); }
  .initlab main { padding: 1em; }
}
@media print {
  .initlab .layout { display: block; }
  .initlab nav.toc { display: none; }
  .initlab main { max-width: none; padding: 0; }
  .initlab details { border: 0; }
  .initlab details::details-content { content-visibility: visible; display: block; }
  .initlab details > summary { list-style: none; padding-left: 0; }
  .initlab figure, .initlab .answer { break-inside: avoid; }
  .initlab section.study { break-before: page; border-top: 0; }
  .initlab a { color: var(--ink); }
}
"""

# The report's only script: a link into a closed block opens it, printing opens every block,
# and the table of contents marks the section being read. Inline: the page stays one file.
_JS = """
(function () {
  function reveal(id) {
    var el = document.getElementById(id);
    for (var d = el && el.closest('details'); d; d = d.parentElement.closest('details')) {
      d.open = true;
    }
  }
  function fromHash() { if (location.hash) reveal(decodeURIComponent(location.hash.slice(1))); }
  document.addEventListener('click', function (e) {
    var a = e.target.closest('a[href^="#"]');
    if (a) reveal(decodeURIComponent(a.getAttribute('href').slice(1)));
  });
  window.addEventListener('hashchange', fromHash);
  fromHash();
  var opened = [];
  window.addEventListener('beforeprint', function () {
    document.querySelectorAll('details:not([open])').forEach(function (d) {
      d.open = true; opened.push(d);
    });
  });
  window.addEventListener('afterprint', function () {
    opened.forEach(function (d) { d.open = false; }); opened = [];
  });
  var links = {}, sections = [];
  document.querySelectorAll('nav.toc a[href^="#"]').forEach(function (a) {
    var id = a.getAttribute('href').slice(1), s = document.getElementById(id);
    if (s) { links[id] = a; sections.push(s); }
  });
  var pending = false;
  function mark() {
    pending = false;
    var current = sections[0];
    sections.forEach(function (s) { if (s.getBoundingClientRect().top < 120) current = s; });
    sections.forEach(function (s) { links[s.id].classList.toggle('current', s === current); });
  }
  window.addEventListener('scroll', function () {
    if (!pending) { pending = true; requestAnimationFrame(mark); }
  }, { passive: true });
  mark();
})();
"""

_esc = html.escape
# A number as written in a sentence (1e-320, -0.5, 33%): kept on one line.
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?%?(?![\w])")


def _prose(text: str) -> str:
    """Escaped text whose numbers never break across lines (no "1e-" then "320")."""
    return _NUMBER.sub(lambda m: f'<span class="n">{m.group(0)}</span>', _esc(text))


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


def ledger(results: Sequence[StudyResult]) -> Ledger:
    """Every claim the studies tested, in the order of the studies."""
    return Ledger(c for r in results for c in r.findings)


# --- pieces ----------------------------------------------------------------------------------


def _slug(text: str) -> str:
    """An id from a name: ``"Zero start: every eta"`` -> ``zero-start-every-eta``."""
    words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
    return "-".join(words)


def _cell(v: Any) -> tuple[str, bool]:
    """The text of a table cell and whether it is a number (right-aligned)."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "–", True
    if isinstance(v, bool | np.bool_):
        return ("yes" if v else "no"), False
    if isinstance(v, int | np.integer):
        return str(v), True
    if isinstance(v, float | np.floating):
        return f"{v:.6g}", True
    if isinstance(v, list | tuple) and len(v) > 12:
        return f"[{', '.join(_cell(x)[0] for x in v[:6])}, … {len(v)} values]", False
    return str(v), False


def _table(frame: pd.DataFrame, *, max_rows: int | None = None) -> str:
    """A data table; every row unless ``max_rows`` (then the first and last rows, as pandas)."""
    numeric = {c: pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns}
    head = "".join(
        f'<th scope="col" class="{"" if numeric[c] and frame[c].dtype != bool else "text"}"'
        f' style="min-width: {_header_width(str(c))}ch">{_esc(str(c))}</th>'
        for c in frame.columns
    )
    rows = list(frame.itertuples(index=False))
    skipped = 0
    if max_rows is not None and len(rows) > max_rows:
        skipped = len(rows) - max_rows
        rows = [*rows[: max_rows // 2], None, *rows[-(max_rows - max_rows // 2) :]]
    body = []
    for row in rows:
        if row is None:
            body.append(
                f'<tr><td class="text dim" colspan="{len(frame.columns)}">… {skipped} more '
                "rows …</td></tr>"
            )
            continue
        cells = []
        for v in row:
            text, number = _cell(v)
            # Text wraps only where it is prose; a label or a list of numbers stays on one line.
            cls = "" if number else ("text" if len(text) > 40 and " " in text else "text short")
            cells.append(f'<td class="{cls}">{_esc(text)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table class="data"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _header_width(text: str) -> int:
    """A header's least width in ``ch``: room for about half its text per line (two lines, three
    at most for the longest), never less than its longest word, so that no header is set one
    word per line above a narrow column of numbers."""
    longest = max((len(w) for w in text.split()), default=0)
    return min(max(math.ceil(len(text) / 2), longest) + 1, 22)


def _verdict(v: str, cls: str | None = None) -> str:
    return f'<span class="verdict {_esc(cls or v)}">{_esc(v)}</span>'


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's header (IHDR), or None if it is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _compact(png: bytes) -> tuple[str, bytes]:
    """The figure to embed: lossless WebP where Pillow can write it (the same pixels in about
    half the bytes of matplotlib's PNG; every current browser shows it), else the PNG."""
    try:
        from PIL import Image, features
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        return "image/png", png
    if not features.check("webp"):
        return "image/png", png
    out = io.BytesIO()
    with Image.open(io.BytesIO(png)) as im:
        im.convert("RGB").save(out, "WEBP", lossless=True, method=4)
    data = out.getvalue()
    return ("image/webp", data) if len(data) < len(png) else ("image/png", png)


def _img(data: bytes, alt: str, *, compact: bool = True) -> str:
    """An embedded image from PNG bytes, with its size (so the page does not move as it loads);
    ``compact``: as lossless WebP where it is smaller."""
    size = _png_size(data)
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    mime, payload = _compact(data) if compact else ("image/png", data)
    encoded = base64.b64encode(payload).decode("ascii")
    return f'<img alt="{_esc(alt)}"{dims} src="data:{mime};base64,{encoded}">'


def _details(summary: str, inner: str, *, id: str | None = None, cls: str = "") -> str:
    ident = f' id="{_esc(id)}"' if id else ""
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<details{ident}{klass}><summary>{summary}</summary><div class="inner">{inner}</div>'
        "</details>"
    )


def _style() -> str:
    return f"<style>{_CSS}</style>"


# --- studies ----------------------------------------------------------------------------------


def _figure_bytes(result: StudyResult, key: str, folder: Path | None) -> bytes | None:
    """A study figure as PNG: its saved file if there is one, else drawn from the figure held."""
    from . import plots

    file = result.figure_files.get(key)
    if file and folder is not None and (folder / file).is_file():
        return (folder / file).read_bytes()
    if key in result.figures:
        return plots.png(result.figures[key])
    return None


def _figure_keys(result: StudyResult) -> tuple[list[str], list[str]]:
    """The figures that show the claims' answers (in the claims' order), then the others."""
    keys = list(dict.fromkeys([*result.figure_files, *result.figures]))
    lead = [c.figure for c in result.findings if c.figure in keys]
    lead = list(dict.fromkeys(lead))
    return lead, [k for k in keys if k not in lead]


class _Anchors:
    """Ids and labels inside one study section: figures numbered in reading order."""

    def __init__(self, result: StudyResult, index: int | None):
        self.result = result
        self.name = result.name
        lead, rest = _figure_keys(result)
        prefix = f"{index}." if index is not None else ""
        self.numbers = {k: f"Figure {prefix}{i + 1}" for i, k in enumerate(lead + rest)}

    def figure(self, key: str) -> str:
        return f"fig-{self.name}-{_slug(key)}"

    def table(self, key: str) -> str:
        return f"table-{self.name}-{_slug(key)}"

    def evidence(self, claim: Claim) -> str:
        return f"evidence-{self.name}-{claim.id}"

    def claim(self, claim: Claim) -> str:
        return f"claim-{self.name}-{claim.id}"

    def shown(self, claim: Claim) -> str:
        """A link to what shows a claim: its figure, else its table."""
        result = self.result
        if claim.figure in self.numbers:
            return (
                f'<a class="shown" href="#{self.figure(claim.figure)}">'
                f"{self.numbers[claim.figure]}</a>"
            )
        if claim.table in result.tables:
            return (
                f'<a class="shown" href="#{self.table(claim.table)}">Table: {_esc(claim.table)}</a>'
            )
        return ""


def _answer_box(result: StudyResult, anchors: _Anchors) -> str:
    verdicts = {c.verdict for c in result.findings}
    tone = f"tone-{verdicts.pop()}" if len(verdicts) == 1 else ""
    items = []
    for c in result.findings:
        shown = anchors.shown(c)
        items.append(
            f'<div class="answer-claim" id="{anchors.claim(c)}">'
            f'<p class="head">{_verdict(c.verdict)} {_esc(c.short)}</p>'
            f'<p class="summary">{_prose(c.summary or c.evidence)}'
            + (f" {shown}." if shown else "")
            + f' <a class="shown" href="#{anchors.evidence(c)}">Evidence</a></p></div>'
        )
    return f'<div class="answer {tone}">{"".join(items)}</div>'


def _study_section(result: StudyResult, *, index: int | None, folder: Path | None) -> str:
    """One study as an article: question, answer, figures, how we know, then the proof."""
    anchors = _Anchors(result, index)
    lead, rest = _figure_keys(result)
    answers = {k: [c.short for c in result.findings if c.figure == k] for k in lead}

    def figure(key: str) -> str:
        data = _figure_bytes(result, key, folder)
        caption = result.captions.get(key, key)
        if data is None:
            return (
                f'<p class="meta" id="{anchors.figure(key)}">{anchors.numbers[key]} '
                f"({_esc(key)}): its PNG file was not found.</p>"
            )
        shows = (
            " It answers " + ", ".join(f"“{_esc(a)}”" for a in answers[key]) + "."
            if answers.get(key)
            else ""
        )
        return (
            f'<figure id="{anchors.figure(key)}">{_img(data, f"{result.name}: {key}")}'
            f"<figcaption><b>{anchors.numbers[key]}.</b> {_esc(caption)}{shows}</figcaption>"
            "</figure>"
        )

    parts = [
        f'<section class="study" id="{_esc(result.name)}">',
        f"<h2>{_esc(result.title)}</h2>",
        f'<p class="question">{_esc(result.question)}</p>',
        _answer_box(result, anchors),
        *(figure(k) for k in lead),
    ]
    if result.how:
        parts.append(f'<h3>How we know</h3><p class="prose">{_esc(result.how)}</p>')
    evidence = "".join(
        f'<div class="evidence-claim" id="{anchors.evidence(c)}">'
        f"<p>{_verdict(c.verdict)} <b>Claim tested:</b> {_esc(c.claim)}</p>"
        f'<p class="prose">{_prose(c.evidence)}</p></div>'
        for c in result.findings
    )
    if result.findings:
        n = len(result.findings)
        parts.append(
            _details(
                f"The full evidence <span class='dim'>({n} claim{'s' * (n > 1)})</span>", evidence
            )
        )
    if result.setup:
        setup = "".join(
            f"<dt>{_esc(str(k))}</dt><dd>{_esc(_setup_value(v))}</dd>"
            for k, v in result.setup.items()
        )
        parts.append(
            _details(
                "Setup <span class='dim'>(everything needed to rerun it)</span>",
                f'<dl class="setup">{setup}</dl>',
            )
        )
    for key, frame in result.tables.items():
        rows, cols = frame.shape
        parts.append(
            _details(
                f"Table: {_esc(key)} <span class='dim'>({rows} row{'s' * (rows != 1)} × {cols} "
                f"columns)</span>",
                _table(frame),
                id=anchors.table(key),
            )
        )
    if rest:
        parts.append(
            _details(
                f"More figures <span class='dim'>({len(rest)})</span>",
                "".join(figure(k) for k in rest),
            )
        )
    if result.notes:
        parts.append(
            _details(
                f"Notes <span class='dim'>({len(result.notes)})</span>",
                "".join(f'<p class="prose">{_esc(n)}</p>' for n in result.notes),
            )
        )
    parts.append(
        f'<p class="meta">Study <code>{_esc(result.name)}</code>, size {_esc(result.size)}, ran in '
        f"{result.seconds:.1f} s. Rerun: <code>initlab study {_esc(result.name)} --size "
        f"{_esc(result.size)}</code>.</p>"
    )
    parts.append("</section>")
    return "\n".join(parts)


def _setup_value(v: Any) -> str:
    if isinstance(v, list | tuple):
        return ", ".join(str(x) for x in v)
    return str(v)


def study_html(result: StudyResult) -> str:
    """A study as HTML for a notebook: the same section as in the report, figures embedded."""
    return f'<div class="initlab">{_style()}{_study_section(result, index=None, folder=None)}</div>'


def _ledger_table(claims: Sequence[Claim], anchors: dict[str, _Anchors] | None) -> str:
    rows = []
    for c in claims:
        a = anchors.get(c.study) if anchors else None
        if a is not None:
            where = f'<a href="#{_esc(c.study)}">{_esc(c.study)}</a>'
            shown = a.shown(c)
            where += f"<br>{shown}" if shown else ""
        else:
            where = _esc(c.study)
        evidence = f"<p><b>Claim tested:</b> {_esc(c.claim)}</p><p>{_prose(c.evidence)}</p>"
        rows.append(
            f'<tr><td class="claim">{_esc(c.short)}</td><td>{_verdict(c.verdict)}</td>'
            f'<td class="answer-cell">{_prose(c.summary or c.evidence)}'
            f"{_details('Evidence', evidence)}</td>"
            f'<td class="where">{where}</td></tr>'
        )
    return (
        '<table class="ledger"><colgroup><col class="c-claim"><col class="c-verdict">'
        '<col class="c-answer"><col class="c-where"></colgroup>'
        "<thead><tr><th>Claim</th><th>Verdict</th><th>Answer</th><th>Shown in</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _counts(claims: Sequence[Claim]) -> str:
    return Ledger(claims).counts_text()


def ledger_html(claims: Sequence[Claim], *, standalone: bool = True) -> str:
    """The claims ledger as HTML: claim, verdict, the one-sentence answer, the evidence folded."""
    table = _ledger_table(claims, None)
    head = f"<p class='dim'>{len(claims)} claim{'s' * (len(claims) != 1)}: {_counts(claims)}.</p>"
    body = head + table
    return f'<div class="initlab">{_style()}{body}</div>' if standalone else body


# --- the report -------------------------------------------------------------------------------


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
        The HTML file to write: one self-contained page (figures embedded as PNG, no asset from
        the network, its one small script inline).
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
    anchors = {r.name: _Anchors(r, i + 1) for i, r in enumerate(results)}
    sizes = sorted({r.size for r in results})
    toc = [
        '<nav class="toc" aria-label="Contents"><div class="toc-title">Contents</div><ol>',
        '<li><a href="#ledger">The claims ledger</a></li>',
    ]
    for r in results:
        dots = "".join(
            f'<span class="dot {c.verdict}" title="{_esc(c.verdict)}: {_esc(c.short)}"></span>'
            for c in r.findings
        )
        toc.append(
            f'<li><a href="#{_esc(r.name)}">{_esc(r.title)}</a>'
            f'<span class="dots">{dots}</span></li>'
        )
    toc.append("</ol></nav>")
    intro = (
        f"{len(results)} stud{'y' if len(results) == 1 else 'ies'} tested {len(claims)} common "
        f"claims about starting weights: {_counts(claims)}. Each verdict and each sentence with "
        "a number comes from this run. Every study below asks its question, answers it in a box, "
        "shows the figure that answers it, says how we know, and keeps the full evidence, setup "
        "and tables one click away."
    )
    parts = [
        "<main>",
        f"<header><h1>{_esc(title)}</h1><p class='lede'>{_esc(intro)}</p>",
        f"<p class='meta'>Size {_esc(', '.join(sizes))}; rebuild with "
        "<code>initlab report FOLDER</code>.</p></header>",
        '<section id="ledger"><h2>The claims ledger</h2>',
        _ledger_table(claims, anchors),
        "</section>",
    ]
    parts += [_study_section(r, index=i + 1, folder=folder) for i, r in enumerate(results)]
    parts.append("</main>")
    body = '<div class="layout">' + "\n".join(toc) + "\n".join(parts) + "</div>"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_page(title, body, script=True), encoding="utf-8")
    return path


def _page(title: str, body: str, *, script: bool = False) -> str:
    js = f"<script>{_JS}</script>" if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title>{_style()}</head>"
        f'<body class="initlab">\n{body}\n{js}</body></html>\n'
    )


# --- diagnoses --------------------------------------------------------------------------------

_DIAGNOSIS_KNOWN = ("verdict", "model", "loss", "findings", "layers", "blocks", "notes")
_SEVERITY = {"error": "unhealthy", "warning": "warning", "info": "info"}


def _records_table(items: Sequence[Any]) -> str:
    """A table of dataclass records, one column per field (so that new fields show too)."""
    rows = [dataclasses.asdict(x) if dataclasses.is_dataclass(x) else dict(x) for x in items]
    return _table(pd.DataFrame(rows, columns=list(rows[0]) if rows else None))


def _value_html(v: Any) -> str:
    if isinstance(v, list) and v and (dataclasses.is_dataclass(v[0]) or isinstance(v[0], dict)):
        return _records_table(v)
    if isinstance(v, dict):
        return (
            "<dl class='setup'>"
            + "".join(f"<dt>{_esc(str(k))}</dt><dd>{_esc(_cell(x)[0])}</dd>" for k, x in v.items())
            + "</dl>"
        )
    return _esc(_cell(v)[0])


def diagnosis_html(d: Any) -> str:
    """A diagnosis (:func:`initlab.diagnose`, :func:`initlab.torch.check`) as HTML: the verdict
    and the findings first, each with its suggestion; the layers, the gradients and any other
    field of the diagnosis in collapsible blocks."""
    healthy = d.verdict == "healthy"
    errors = [f for f in d.findings if getattr(f, "severity", "error") == "error"]
    lead = (errors or d.findings or [None])[0]
    rest = [f for f in d.findings if f is not lead]
    if lead is not None:
        summary = _prose(lead.message) + (
            f"<div class='suggestion'>→ {_esc(lead.suggestion)}</div>" if lead.suggestion else ""
        )
    else:
        summary = "No problem found." if healthy else ""
    counts = {}
    for f in d.findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    tally = ", ".join(f"{n} {k}{'s' * (n != 1)}" for k, n in counts.items())
    parts = [
        f'<div class="answer tone-{"holds" if healthy else "fails"}"><div class="answer-claim">'
        f'<p class="head">{_verdict(d.verdict, "healthy" if healthy else "unhealthy")} '
        f"{_esc(d.model or 'the model')}"
        + (f" <span class='dim'>({len(d.findings)} findings: {tally})</span>" if rest else "")
        + f"</p><div class='summary'>{summary}</div></div></div>"
    ]
    if d.loss is not None:
        parts.append(f"<p class='meta'>Loss on the data given: {_esc(_cell(d.loss)[0])}.</p>")
    if rest:
        items = []
        for f in rest:
            extra = {
                k: v
                for k, v in dataclasses.asdict(f).items()
                if k not in ("code", "message", "suggestion", "severity", "layer") and v
            }
            items.append(
                f"<li>{_verdict(f.severity, _SEVERITY.get(f.severity, 'info'))} "
                f"{_prose(f.message)}"
                + (f" <span class='dim'>({_esc(f.layer)})</span>" if f.layer else "")
                + (f"<div class='suggestion'>→ {_esc(f.suggestion)}</div>" if f.suggestion else "")
                + "".join(
                    f"<div class='suggestion'>{_esc(k)}: {_esc(_cell(v)[0])}</div>"
                    for k, v in extra.items()
                )
                + "</li>"
            )
        parts.append(f"<h3>Also found</h3><ul class='findings'>{''.join(items)}</ul>")
    if d.layers:
        parts.append(
            _details(f"Layers <span class='dim'>({len(d.layers)})</span>", _records_table(d.layers))
        )
    if d.blocks:
        parts.append(
            _details(
                f"Gradients <span class='dim'>({len(d.blocks)} parameter blocks)</span>",
                _records_table(d.blocks),
            )
        )
    for f in dataclasses.fields(d):
        if f.name in _DIAGNOSIS_KNOWN:
            continue
        value = getattr(d, f.name)
        if value is None or value == [] or value == {}:
            continue
        parts.append(_details(_esc(f.name.replace("_", " ")), _value_html(value)))
    if d.notes:
        parts.append("".join(f"<p class='meta'>{_esc(n)}</p>" for n in d.notes))
    inner = "".join(parts)
    return f'<div class="initlab">{_style()}<section class="diagnosis">{inner}</section></div>'


# --- sweeps in a notebook ---------------------------------------------------------------------


class SweepTable(pd.DataFrame):
    """What :func:`initlab.run_sweep` returns: a pandas DataFrame (one row per configuration)
    that a notebook shows answer first, through :func:`sweep_table_html`. Anything derived from
    it (a selection, a copy) is a plain DataFrame."""

    @property
    def _constructor(self):  # derived frames are plain DataFrames
        return pd.DataFrame

    def _repr_html_(self) -> str:
        return sweep_table_html(self)


def sweep_table_html(frame: pd.DataFrame) -> str:
    """A sweep's results as HTML: what varied and what came out, then a row per combination of
    the varying settings (pooling seeds), then every configuration in a collapsible block."""
    from .sweep import GRID_KEYS

    keys = [k for k in GRID_KEYS if k in frame.columns]
    varying = [k for k in keys if frame[k].map(repr).nunique() > 1]
    fixed = [k for k in keys if k not in varying]
    n = len(frame)
    parts = []
    if n == 0:
        return (
            f'<div class="initlab">{_style()}<p>No configuration of this sweep is stored.</p></div>'
        )
    acc = frame["train_accuracy"].astype(float)
    reached = frame["iterations_to_target"].notna()
    diverged = frame["diverged"].astype(bool)
    sweeps = ", ".join(sorted({str(v) for v in frame.get("sweep", pd.Series([], dtype=str))}))
    parts.append(
        '<div class="answer"><div class="answer-claim"><p class="summary">'
        + _esc(
            f"{n} configurations"
            + (f" of sweep {sweeps}" if sweeps else "")
            + (
                f", varying {', '.join(f'{k} ({frame[k].map(repr).nunique()})' for k in varying)}"
                if varying
                else ""
            )
            + f": median train accuracy {np.nanmedian(acc):.3f} (from {np.nanmin(acc):.3f} to "
            f"{np.nanmax(acc):.3f}); {int(reached.sum())} of {n} reached the target accuracy; "
            f"{int(diverged.sum())} diverged."
        )
        + "</p></div></div>"
    )
    group = [k for k in varying if k != "seed"]
    if group:
        rows = []
        for values, g in frame.groupby(
            [frame[k].map(_group_key) for k in group], sort=False, dropna=False
        ):
            values = values if isinstance(values, tuple) else (values,)
            row = dict(zip(group, (g[k].iloc[0] for k in group)))
            row["runs"] = len(g)
            row["median train accuracy"] = float(np.nanmedian(g["train_accuracy"].astype(float)))
            row["reached target"] = f"{int(g['iterations_to_target'].notna().sum())}/{len(g)}"
            row["diverged"] = f"{int(g['diverged'].astype(bool).sum())}/{len(g)}"
            row["median final loss"] = float(np.nanmedian(g["final_loss"].astype(float)))
            rows.append(row)
        parts.append(_table(pd.DataFrame(rows)))
    if fixed:
        parts.append(
            "<p class='meta'>Fixed: "
            + _esc("; ".join(f"{k} = {_cell(frame[k].iloc[0])[0]}" for k in fixed))
            + ".</p>"
        )
    shown = [c for c in frame.columns if c not in fixed]
    parts.append(
        _details(
            f"Every configuration <span class='dim'>({n} rows × {len(frame.columns)} columns; "
            "fixed settings left out)</span>",
            _table(pd.DataFrame(frame[shown]), max_rows=60),
        )
    )
    return f'<div class="initlab">{_style()}{"".join(parts)}</div>'


def _group_key(v: Any) -> str:
    return json.dumps(list(v) if isinstance(v, tuple) else v, sort_keys=True, default=str)


# --------------------------------------------------------------------------------------------
# Sweep report
# --------------------------------------------------------------------------------------------


def _png(fig: Any, alt: str) -> str:
    from . import plots

    return _img(plots.png(fig), alt, compact=False)  # the sweep report keeps PNG


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
    page = _page(title, "<main>" + "\n".join(parts) + "</main>")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
