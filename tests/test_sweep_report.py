"""Seeing a sweep: export to CSV and Parquet, the HTML sweep report, the command line, examples.

A tiny sweep (circles, 2 activations x 3 starts x 2 seeds, 200 iterations) runs once per module
into a temporary store; every test reads that store.
"""

import base64
import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from initlab.cli import main
from initlab.report import write_sweep_report
from initlab.sweep import Store, load_spec, sweep

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

TINY = {
    "name": "tiny",
    "grid": {
        "dataset": "circles",
        "dataset_args": {"n_samples": 60, "noise": 0.05, "random_state": 1},
        "hidden": [[4]],
        "activation": ["relu", "tanh"],
        "init": ["zeros", "he_normal", "normal(std=10)"],
        "learning_rate": 0.5,
        "iterations": 200,
        "seed": [0, 1],
    },
    "record": {"target_accuracy": 0.8, "curve_every": 10},
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "runs.sqlite"
    sweep(TINY, store=path)
    return path


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_round_trips(store, tmp_path, suffix):
    df = Store(store).frame("tiny")
    out = Store(store).export(tmp_path / f"runs{suffix}", sweep="tiny")
    back = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(back.columns) == list(df.columns)
    assert list(back["key"]) == list(df["key"])
    np.testing.assert_array_equal(back["final_loss"], df["final_loss"])  # exact: 17 digits
    for col in ("hidden", "curve", "effective_width"):
        values = back[col].map(json.loads) if suffix == ".csv" else back[col].map(list)
        expected = df[col].map(list)
        assert [list(v) for v in values] == [list(v) for v in expected]


def test_export_refuses_other_suffixes(store, tmp_path):
    with pytest.raises(ValueError, match=r"'path' parameter of Store.export.*\.csv or \.parquet"):
        Store(store).export(tmp_path / "runs.xlsx")


def test_sweep_report_embeds_heatmaps_and_names_the_axes(store, tmp_path):
    path = write_sweep_report(store, tmp_path / "report.html")
    page = path.read_text()
    images = _images(page)
    assert len(images) == 3  # accuracy heatmap, iterations heatmap, loss curves
    assert all(png.startswith(b"\x89PNG") for png in images)
    assert "<img" in page and 'src="http' not in page  # self-contained
    assert "Sweep tiny" in page
    # Default axes: the two with the most values other than seed (3 inits across, 2 activations).
    assert "x = init and y = activation" in page
    assert "<b>activation</b> (axis, 2)" in page and "<b>init</b> (axis, 3)" in page
    assert "diverged" in page and "median train accuracy" in page


def test_sweep_report_axes_can_be_chosen_and_are_checked(store, tmp_path):
    page = write_sweep_report(store, tmp_path / "r.html", x="activation", y="init").read_text()
    assert "x = activation and y = init" in page
    with pytest.raises(ValueError, match=r"'x' parameter of write_sweep_report.*Got 'seed'"):
        write_sweep_report(store, tmp_path / "r.html", x="seed")


def test_report_command_on_a_store(store, tmp_path, capsys):
    assert main(["report", str(store), "--x", "activation", "--y", "init"]) == 0
    expected = store.with_name("runs-report.html")
    assert capsys.readouterr().out.strip() == f"wrote {expected}"
    assert len(_images(expected.read_text())) == 3
    out = tmp_path / "elsewhere.html"
    assert main(["report", str(store), "--out", str(out)]) == 0
    assert out.is_file()
    assert main(["report", str(store), "--x", "nope"]) == 2
    assert "'x' parameter" in capsys.readouterr().err


def test_runs_export_command(store, tmp_path, capsys):
    out = tmp_path / "runs.csv"
    assert main(["runs", "--store", str(store), "--export", str(out), "--sweep", "tiny"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    assert len(pd.read_csv(out)) == len(load_spec(TINY))
    assert main(["runs", "--store", str(store), "--export", str(tmp_path / "x.txt")]) == 2
    assert ".csv or .parquet" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "count", "axes"),
    [
        ("course.toml", 3 * 3 * 20, ["hidden", "activation", "init", "seed"]),
        ("deep_tanh.toml", 5 * 6 * 3, ["hidden", "init", "seed"]),
    ],
)
def test_examples_load_and_expand(name, count, axes):
    spec = load_spec(EXAMPLES / name)
    assert len(spec) == count
    assert list(spec.axes) == axes


def test_deep_tanh_reduced_draws_the_mean_field_curve(tmp_path):
    """The deep_tanh example with 2 depths x 2 sigma_w^2, one seed and 20 iterations."""
    with open(EXAMPLES / "deep_tanh.toml", "rb") as f:
        raw = tomllib.load(f)
    grid = raw["grid"]
    grid["hidden"] = [grid["hidden"][0], grid["hidden"][2]]
    grid["init"] = [grid["init"][0], grid["init"][-1]]
    grid["seed"] = [0]
    grid["iterations"] = 20
    grid["dataset_args"]["n_samples"] = 64
    store = tmp_path / "deep_tanh.sqlite"
    sweep(raw, store=store)
    page = write_sweep_report(store, tmp_path / "r.html").read_text()
    assert "x = init and y = hidden" in page
    assert "Red line: depth = 6 xi_c" in page
    assert len(_images(page)) == 3
