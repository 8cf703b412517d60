"""initlab tour, report and claims, run as a user runs them: the real command in a terminal of
80 columns (shared with the browser and README tests through ``_tour``)."""

import io
import json
import re

import pytest
from rich.console import Console

from _tour import run_tour
from initlab import cli, list_studies
from initlab.studies import Claim


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    return run_tour(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def claims(tour):
    return [Claim(**c) for c in json.loads((tour.folder / "claims.json").read_text())]


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_tour_fits_one_screen_and_ends_with_the_report(tour):
    assert tour.status == 0, tour.err
    lines = tour.out.splitlines()
    # The target: the whole tour in about 80 lines of at most 80 columns.
    assert len(lines) <= 80, len(lines)
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert not [line for line in lines if line != line.rstrip()]  # no padding to copy
    assert lines[-1] == "Figures, tables and the full evidence: initlab-tour/report.html"
    assert (tour.folder / "report.html").is_file()


def test_tour_prints_each_answer_and_no_evidence(tour, claims):
    out = _flat(tour.out)
    assert len(claims) >= 12
    for c in claims:
        # One line with the verdict and the short claim, the summary wrapped under it.
        assert re.search(rf"^{c.verdict.upper()} +{re.escape(c.short)}$", tour.out, re.M), c.id
        assert _flat(c.summary) in out, c.id
        assert _flat(c.evidence)[:80] not in out, c.id  # the proof is a flag or a click away
    # The course's published numbers, reproduced, come first.
    assert re.search(r"^he_normal +0\.9933 +0\.9933 +0\.96 +0\.96$", tour.out, re.M)


def test_tour_writes_a_self_contained_report(tour, claims):
    folder = tour.folder
    html = (folder / "report.html").read_text()
    for name in list_studies():
        assert f'id="{name}"' in html and (folder / f"{name}.json").exists()
    n_figures = len(list(folder.glob("*.png")))
    assert html.count('src="data:image/') == n_figures  # every figure, embedded
    assert 'src="http' not in html and "<link" not in html  # nothing fetched: readable offline
    # The proof is folded: every <details> closed until a reader opens it.
    assert html.count("<details") > 3 * len(list_studies()) and "<details open" not in html
    # Well below the 3.1 MB of the report before answers came first (docs/report.md).
    assert (folder / "report.html").stat().st_size < 1.6e6
    assert {c.verdict for c in claims} <= {"holds", "fails", "qualified"}
    ids = {c.id for c in claims}
    assert {
        "perceptron-eta",
        "zero-start-same-loss",
        "logistic-zero",
        "he-keeps-scale",
        "tiny-noise-breaks-symmetry",
        "equal-units-stay-equal",
    } <= ids


def test_figures_are_sized_for_the_page(tour):
    from PIL import Image

    from initlab import plots

    for png in tour.folder.glob("*.png"):
        with Image.open(png) as im:
            # At most MAX_WIDTH inches at DPI: shown at its own size in the report's column.
            assert im.width <= plots.MAX_WIDTH * plots.DPI + 1, (png.name, im.size)


def test_report_rebuilds_from_saved_json(tour, tmp_path, capsys):
    out = tmp_path / "again.html"
    assert cli.main(["report", str(tour.folder), "--out", str(out)]) == 0
    assert "The claims ledger" in out.read_text()
    assert f"wrote {out}" in capsys.readouterr().out
    assert cli.main(["report", str(tmp_path / "nothing")]) == 2


def test_report_refuses_an_unusable_default_out_before_any_work(tour, tmp_path, capsys):
    # The default --out, FOLDER/report.html, is checked first, like a given one: here a
    # folder stands in its place, so nothing can be written there.
    import shutil

    folder = tmp_path / "saved"
    shutil.copytree(tour.folder, folder)
    (folder / "report.html").unlink()
    (folder / "report.html").mkdir()
    assert cli.main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "'--out'" in err and "it is a folder" in err and len(err.splitlines()) == 1


def test_verbose_ledger_gives_the_evidence(claims):
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(cli._ledger_table(claims, verbose=True))
    text = _flat(console.export_text())
    for c in claims:
        assert _flat(c.claim) in text and _flat(c.evidence) in text


def test_the_tour_points_to_its_evidence_and_claims_reads_it_without_running(
    tour, claims, capsys, monkeypatch
):
    # The hint the tour prints is a command that gives the saved run's evidence at once: the
    # studies are not run again (running one would fail here).
    assert "  initlab claims --verbose --from initlab-tour" in tour.out.splitlines()

    def no_run(*args, **kwargs):
        raise AssertionError("claims --from ran the studies again")

    monkeypatch.setattr(cli, "_run_studies", no_run)
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["claims", "--verbose", "--from", str(tour.folder)]) == 0
    text = _flat(capsys.readouterr().out)
    for c in claims:
        assert _flat(c.evidence) in text, c.id
    assert cli.main(["claims", "--from", str(tour.folder / "nothing")]) == 2
    assert "--from: no such folder" in capsys.readouterr().err


def test_study_command_answers_first(capsys):
    assert cli.main(["study", "logistic-zero", "--size", "quick"]) == 0
    out = capsys.readouterr().out
    assert "HOLDS     Logistic regression learns fine from zero weights" in out
    assert "Summary by dataset (3 rows)" in out and "┃" not in out  # tables named, not printed
    assert cli.main(["study", "logistic-zero", "--size", "quick", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "Summary by dataset" in out and "Evidence: Not separable" in out


def test_study_command_json(capsys):
    assert cli.main(["study", "logistic-zero", "--size", "quick", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "logistic-zero" and data["findings"][0]["verdict"] == "holds"
    finding = data["findings"][0]
    assert finding["summary"] and finding["short"] and finding["figure"] == "boundaries"


def test_unknown_study_is_refused(capsys):
    assert cli.main(["study", "nope"]) == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
