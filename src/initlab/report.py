"""One self-contained HTML report of studies: figures embedded, readable offline.

:func:`write_report` takes study results (or a folder of their saved JSON and PNG files, as
``initlab tour`` writes it) and writes a single HTML file: the claims ledger first, then a section
per study with its question, setup, tables, figures and verdicts.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .studies import STUDIES, Claim, StudyResult

__all__ = ["ledger", "load_results", "write_report"]

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
