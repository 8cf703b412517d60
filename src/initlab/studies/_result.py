"""What a study returns: tables, figures, and claims with verdicts and the numbers behind them."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["VERDICTS", "Claim", "StudyResult"]

# A claim holds, fails, or holds only with a qualification the evidence states.
VERDICTS = ("holds", "fails", "qualified")


@dataclass
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
        What was measured, in numbers, in one or two sentences.
    numbers : dict
        The measured values the evidence quotes (JSON-ready).
    study : str
        The study that tested it.
    """

    id: str
    claim: str
    verdict: str
    evidence: str
    numbers: dict[str, Any] = field(default_factory=dict)
    study: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(
                f"The 'verdict' of claim {self.id!r} must be one of {', '.join(VERDICTS)}. Got "
                f"{self.verdict!r} instead."
            )


@dataclass
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
        from rich.markup import escape
        from rich.table import Table

        yield f"[bold]{escape(self.title)}[/] ({self.size}, {self.seconds:.1f} s)"
        yield f"[italic]{escape(self.question)}[/]"
        for key, frame in self.tables.items():
            table = Table(title=key, title_justify="left")
            for col in frame.columns:
                table.add_column(str(col), overflow="fold")
            for row in frame.itertuples(index=False):
                table.add_row(*(escape(_cell(v)) for v in row))
            yield table
        for c in self.findings:
            yield _claim_line(c)


_COLOURS = {"holds": "green", "fails": "red", "qualified": "yellow"}


def _claim_line(c: Claim) -> str:
    from rich.markup import escape

    return (
        f"[{_COLOURS[c.verdict]}]{c.verdict.upper():9s}[/] {escape(c.claim)}\n"
        f"          {escape(c.evidence)}"
    )


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
