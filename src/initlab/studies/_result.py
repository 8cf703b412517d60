"""What a study returns: tables, figures, and claims with verdicts and the numbers behind them.

Every claim is told twice, both from the run's numbers: a one-sentence ``summary`` (the answer, at
most about :data:`SUMMARY_WORDS` words, with its key measured number) and the full ``evidence``.
The terminal, the HTML report and the notebook show the summary first and the evidence on
request; :mod:`initlab.report` draws the HTML of all of them.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._terminal import Hanging

__all__ = ["SUMMARY_WORDS", "VERDICTS", "Claim", "Ledger", "StudyResult", "claim_renderables"]

# A claim holds, fails, or holds only with a qualification the evidence states.
VERDICTS = ("holds", "fails", "qualified")
# A summary is one sentence a learner reads at a glance; the evidence has the rest.
SUMMARY_WORDS = 40


@dataclass(repr=False)
class Claim:
    """A common claim about initialization, tested by a study.

    Attributes
    ----------
    id : str
        Short stable key, such as ``"zero-start-eta"``.
    claim : str
        The claim, phrased neutrally.
    verdict : {"holds", "fails", "qualified"}
    evidence : str
        What was measured, in numbers: the full proof, generated from the run.
    numbers : dict
        The measured values the summary and the evidence quote (JSON-ready).
    study : str
        The study that tested it.
    summary : str
        The answer in one plain sentence with the key measured number (at most about
        :data:`SUMMARY_WORDS` words), generated from the run like the evidence.
    short : str
        The claim in a few words, for one line of the terminal ledger.
    figure : str or None
        The key of the study's figure that shows the answer.
    table : str or None
        The key of the study's table that shows it, where no figure does.
    """

    id: str
    claim: str
    verdict: str
    evidence: str
    numbers: dict[str, Any] = field(default_factory=dict)
    study: str = ""
    summary: str = ""
    short: str = ""
    figure: str | None = None
    table: str | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(
                f"The 'verdict' of claim {self.id!r} must be one of {', '.join(VERDICTS)}. Got "
                f"{self.verdict!r} instead."
            )
        if not self.short:
            self.short = self.claim

    def __repr__(self) -> str:
        return f"Claim({self.id!r}, verdict={self.verdict!r})"

    def _repr_html_(self) -> str:
        from ..report import ledger_html

        return ledger_html([self], standalone=True)


class Ledger(list):
    """The claims of one or more studies, in order: a list of :class:`Claim` that shows itself
    answer first (one line per claim in a terminal, a table in a notebook)."""

    def counts(self) -> dict[str, int]:
        """How many claims have each verdict, in the order of :data:`VERDICTS`."""
        found = Counter(c.verdict for c in self)
        return {v: found[v] for v in VERDICTS if found[v]}

    def counts_text(self) -> str:
        """The counts in words: ``"4 hold, 1 fails, 7 qualified"``."""
        verbs = {"holds": ("holds", "hold"), "fails": ("fails", "fail")}
        return ", ".join(f"{n} {verbs.get(v, (v, v))[n != 1]}" for v, n in self.counts().items())

    def __repr__(self) -> str:
        counts = self.counts_text()
        return f"Ledger({len(self)} claim{'s' * (len(self) != 1)}{': ' + counts if counts else ''})"

    def _repr_html_(self) -> str:
        from ..report import ledger_html

        return ledger_html(self, standalone=True)

    def __rich_console__(self, console: Any, options: Any) -> Any:
        yield from claim_renderables(self)


def claim_renderables(claims: list[Claim], *, verbose: bool = False) -> list[Any]:
    """The terminal ledger: per claim, the verdict and the short claim on one line, the summary
    wrapped under it; with ``verbose``, the claim in full and the evidence as well."""
    out: list[Any] = []
    for c in claims:
        verdict = {"first": c.verdict.upper(), "first_style": _COLOURS[c.verdict] + " bold"}
        out.append(
            Hanging(c.short if not verbose else c.claim, **verdict, indent=_INDENT, style="bold")
        )
        out.append(Hanging(c.summary or c.evidence, indent=_INDENT))
        if verbose:
            out.append(Hanging("Evidence: " + c.evidence, indent=_INDENT, style="dim", end="\n\n"))
    return out


@dataclass(repr=False)
class StudyResult:
    """The outcome of :func:`initlab.run_study`.

    Attributes
    ----------
    name, title, question : str
    size : {"full", "quick"}
    setup : dict
        Everything needed to rerun it (data, network, schedule, seeds).
    tables : dict of str to pandas.DataFrame
    figures : dict of str to matplotlib.figure.Figure
        Drawn at run time; :meth:`save` writes them as PNG.
    findings : list of Claim
    notes : list of str
    seconds : float
        Wall time of the run.
    figure_files : dict of str to str
        The PNG file of each figure, once saved.
    how : str
        How the study knows: its method in a few plain sentences that carry no numbers (those
        are in the summaries and the evidence).
    captions : dict of str to str
        A caption per figure key, in words.
    """

    name: str
    title: str
    question: str
    size: str
    setup: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    findings: list[Claim] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    figure_files: dict[str, str] = field(default_factory=dict)
    how: str = ""
    captions: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {v}" for v, n in Ledger(self.findings).counts().items())
        return (
            f"StudyResult({self.name!r}, size={self.size!r}, {len(self.findings)} claim"
            f"{'s' * (len(self.findings) != 1)}{': ' + counts if counts else ''}, "
            f"{self.seconds:.1f} s)"
        )

    def _repr_html_(self) -> str:
        from ..report import study_html

        return study_html(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: tables as lists of records, figures by file name, claims as dicts."""
        return _jsonable(
            {
                "name": self.name,
                "title": self.title,
                "question": self.question,
                "size": self.size,
                "setup": self.setup,
                "tables": {
                    k: {
                        "columns": [str(c) for c in v.columns],
                        "records": v.to_dict(orient="records"),
                    }
                    for k, v in self.tables.items()
                },
                "figures": dict(self.figure_files)
                or {k: f"{self.name}-{k}.png" for k in self.figures},
                "findings": [vars(c) for c in self.findings],
                "notes": list(self.notes),
                "seconds": self.seconds,
                "how": self.how,
                "captions": dict(self.captions),
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudyResult:
        """The inverse of :meth:`to_dict` (figures stay as file names)."""
        tables = {
            k: pd.DataFrame.from_records(v["records"], columns=v["columns"])
            for k, v in data.get("tables", {}).items()
        }
        return cls(
            name=data["name"],
            title=data["title"],
            question=data["question"],
            size=data["size"],
            setup=data.get("setup", {}),
            tables=tables,
            findings=[Claim(**c) for c in data.get("findings", [])],
            notes=list(data.get("notes", [])),
            seconds=float(data.get("seconds", 0.0)),
            figure_files=dict(data.get("figures", {})),
            how=data.get("how", ""),
            captions=dict(data.get("captions", {})),
        )

    def save(self, folder: str | Path) -> Path:
        """Write every figure as ``NAME-FIGURE.png`` and the result as ``NAME.json``; return the
        JSON path."""
        from .. import plots

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for key, fig in self.figures.items():
            file = f"{self.name}-{key}.png"
            plots.save(fig, folder / file)
            self.figure_files[key] = file
        path = folder / f"{self.name}.json"
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    def __rich_console__(self, console: Any, options: Any) -> Any:
        yield from study_renderables(self)


def study_renderables(result: StudyResult, *, verbose: bool = False) -> list[Any]:
    """A study in the terminal, answer first: its title and question, then each claim's verdict
    and summary; with ``verbose``, every table and the evidence too."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    out: list[Any] = [
        Text.from_markup(
            f"[bold]{escape(result.title)}[/] ({result.size}, {result.seconds:.1f} s)"
        ),
        Hanging(result.question, style="italic"),
    ]
    out += claim_renderables(result.findings, verbose=verbose)
    if verbose:
        for key, frame in result.tables.items():
            table = Table(title=key, title_justify="left")
            for col in frame.columns:
                table.add_column(str(col), overflow="fold")
            for row in frame.itertuples(index=False):
                table.add_row(*(escape(_cell(v)) for v in row))
            out.append(table)
    else:
        out.append(
            Hanging(
                f"Tables: {'; '.join(f'{k} ({len(v)} rows)' for k, v in result.tables.items())}. "
                "--verbose prints them with the evidence; --out DIR writes the figures and an "
                "HTML report.",
                style="dim",
            )
        )
    return out


_COLOURS = {"holds": "green", "fails": "red", "qualified": "yellow"}
_INDENT = 10  # "QUALIFIED " is the widest verdict


def _cell(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{v:.6g}"
    return str(v)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)  # "inf", "-inf", "nan": JSON has no such numbers
    return x
