"""initlab tour, report and claims, run as a user runs them."""

import json

import pytest

from initlab import cli, list_studies


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tour")
    status = cli.main(["tour", "--out", str(folder)])
    return status, folder


def test_tour_writes_a_self_contained_report(tour, capsys):
    status, folder = tour
    assert status == 0
    html = (folder / "report.html").read_text()
    for name in list_studies():
        assert f'id="{name}"' in html and (folder / f"{name}.json").exists()
    assert html.count("data:image/png;base64,") >= len(list_studies())  # figures embedded
    assert 'src="http' not in html  # nothing fetched: readable offline
    claims = json.loads((folder / "claims.json").read_text())
    assert len(claims) >= 12 and {c["verdict"] for c in claims} <= {"holds", "fails", "qualified"}
    ids = {c["id"] for c in claims}
    assert {
        "perceptron-eta",
        "zero-start-same-loss",
        "logistic-zero",
        "he-keeps-scale",
        "tiny-noise-breaks-symmetry",
        "equal-units-stay-equal",
    } <= ids


def test_report_rebuilds_from_saved_json(tour, tmp_path, capsys):
    _, folder = tour
    out = tmp_path / "again.html"
    assert cli.main(["report", str(folder), "--out", str(out)]) == 0
    assert "The claims ledger" in out.read_text()
    assert cli.main(["report", str(tmp_path / "nothing")]) == 2


def test_study_command_json(capsys):
    assert cli.main(["study", "logistic-zero", "--size", "quick", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "logistic-zero" and data["findings"][0]["verdict"] == "holds"


def test_unknown_study_is_refused(capsys):
    assert cli.main(["study", "nope"]) == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
