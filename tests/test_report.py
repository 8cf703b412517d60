"""The one HTML renderer: the report's study sections, the ledger, diagnoses and a sweep's table,
and the short plain reprs beside them."""

from __future__ import annotations

import dataclasses
import html
import re

import pandas as pd
import pytest

import initlab
from initlab import MLPClassifier, diagnose, load_dataset, report, run_study
from initlab.diagnostics import Diagnosis
from initlab.studies import Ledger, StudyResult


@pytest.fixture(scope="module")
def result():
    return run_study("logistic-zero", size="quick")


@pytest.fixture(scope="module")
def zeros():
    X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
    return diagnose(MLPClassifier(init="zeros"), X, y)


def _text(page: str) -> str:
    """What a reader reads: the page without its markup."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _one_line(text: str) -> bool:
    return "\n" not in text and len(text) <= 120


def test_plain_reprs_are_one_line_with_the_verdict(result, zeros):
    assert repr(result) == (
        f"StudyResult('logistic-zero', size='quick', 1 claim: 1 holds, {result.seconds:.1f} s)"
    )
    assert repr(result.findings[0]) == "Claim('logistic-zero', verdict='holds')"
    assert repr(report.ledger([result])) == "Ledger(1 claim: 1 holds)"
    assert _one_line(repr(zeros)) and repr(zeros).startswith("Diagnosis(verdict='stuck'")


def test_study_html_answers_first(result):
    page = result._repr_html_()
    claim = result.findings[0]
    # In reading order: the question, the answer box (verdict, short claim, summary), the
    # figure that shows it, how we know, then the proof folded away.
    order = [
        page.index(report._esc(result.question)),
        page.index('class="answer'),
        page.index(report._prose(claim.summary)),
        page.index('id="fig-logistic-zero-boundaries"'),
        page.index("How we know"),
        page.index("<details"),
    ]
    assert order == sorted(order)
    assert page.count('src="data:image/') == len(result.figures)
    assert "<details open" not in page and "<script" not in page  # nothing runs in a notebook
    for key in result.tables:
        assert f"Table: {key}" in page


def test_notebook_and_report_share_one_section_renderer(result, tmp_path, monkeypatch):
    calls = []
    real = report._study_section

    def spy(r, **kw):
        calls.append(r.name)
        return real(r, **kw)

    monkeypatch.setattr(report, "_study_section", spy)
    section = result._repr_html_()
    page = report.write_report([result], tmp_path / "r.html").read_text()
    assert calls == ["logistic-zero", "logistic-zero"]
    # The same blocks, figure numbers aside (the report numbers them by section).
    strip = re.compile(r"Figure [\d.]+|data:image/\w+;base64,[^\"]+")
    body = strip.sub("", section.split("<section", 1)[1].split("</section>")[0])
    assert body in strip.sub("", page)


def test_a_result_loaded_from_json_renders_without_its_figures(result):
    again = StudyResult.from_dict(result.to_dict())
    page = again._repr_html_()
    assert "its PNG file was not found" in page
    assert result.findings[0].summary in _text(page)


def test_ledger_is_a_list_that_shows_its_answers(result):
    claims = report.ledger([result])
    assert isinstance(claims, Ledger) and isinstance(claims, list) and len(claims) == 1
    page = claims._repr_html_()
    c = claims[0]
    assert c.short in _text(page) and c.summary in _text(page)
    assert "<summary>Evidence</summary>" in page


def test_diagnosis_html_verdict_findings_then_tables(zeros):
    page = zeros._repr_html_()
    # The verdict and the first error (the answer) in the box, the other findings listed after
    # it, the tables folded below.
    assert page.index(">stuck<") < page.index("Also found") < page.index("<details")
    text = _text(page)
    first = next(f for f in zeros.findings if f.severity == "error")
    assert text.index(first.message) < text.index("Also found")
    for f in zeros.findings:
        assert f.message in text and f.suggestion in text
    # Layers and blocks are drawn from their fields, whatever fields they have.
    for field in dataclasses.fields(zeros.layers[0]):
        assert f">{field.name}</th>" in page
    assert "Gradients <span class='dim'>(6 parameter blocks)" in page


def test_diagnosis_html_shows_fields_it_does_not_know(zeros):
    # A field another version adds (a list of records, a number) shows without a new template.
    Extended = dataclasses.make_dataclass(
        "Extended",
        [("unanalysed_share", float, 0.0), ("conventions", list, dataclasses.field(default=None))],
        bases=(Diagnosis,),
    )
    d = Extended(**{f.name: getattr(zeros, f.name) for f in dataclasses.fields(Diagnosis)})
    d.unanalysed_share = 0.125
    d.conventions = [{"layer": "W3", "convention": "zero head"}]
    page = report.diagnosis_html(d)
    assert "unanalysed share" in page and "0.125" in page
    assert ">convention</th>" in page and "zero head" in page


def test_torch_check_renders_the_same_way():
    torch = pytest.importorskip("torch")
    from torch import nn

    import initlab.torch

    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    torch.nn.init.zeros_(model[0].weight)
    x = torch.randn(32, 8, generator=torch.Generator().manual_seed(0))
    d = initlab.torch.check(model, x)
    assert _one_line(repr(d)) and f"verdict={d.verdict!r}" in repr(d)
    page = d._repr_html_()
    assert f">{d.verdict}<" in page and "Layers" in page


TINY = {
    "name": "tiny",
    "grid": {
        "dataset": "circles",
        "dataset_args": {"n_samples": 60, "noise": 0.05, "random_state": 1},
        "hidden": [[4]],
        "activation": ["relu", "tanh"],
        "init": ["zeros", "he_normal"],
        "learning_rate": 0.5,
        "iterations": 100,
        "seed": [0, 1],
    },
    "record": {"target_accuracy": 0.8, "curve_every": 10},
}


def test_run_sweep_returns_a_dataframe_that_shows_itself(tmp_path):
    df = initlab.run_sweep(TINY, store=tmp_path / "s.sqlite", backend="numpy")
    assert isinstance(df, pd.DataFrame) and isinstance(df, report.SweepTable) and len(df) == 8
    page = df._repr_html_()
    assert "8 configurations" in page and "varying activation (2), init (2), seed (2)" in page
    # One row per (activation, init), seeds pooled; every configuration folded below.
    assert page.count("<tr>") >= 1 + 4 + 1 + 8
    assert "Every configuration" in page and "Fixed: dataset = circles" in page
    # What is derived from it is a plain DataFrame, shown as pandas shows it.
    assert type(df[df["seed"] == 0]) is pd.DataFrame and type(df.copy()) is pd.DataFrame
    assert 'class="initlab"' not in df.head(2)._repr_html_()
