"""The silent wrong results of issue 10, one regression test each.

Every test here failed on the code before the fix (run with ``PYTHONPATH=<old checkout>/src``):
each asserts the right answer through interfaces that existed then (the command line, the
estimators, ``diagnose``, the store's tables), so that the old code fails on the assertion, not
on a missing name.
"""

from __future__ import annotations

import json
import sqlite3
import warnings

import numpy as np
import pandas as pd
import pytest

from initlab import MLPClassifier, Perceptron, diagnose, load_dataset
from initlab.cli import main
from initlab.models import DivergedWarning

GRID = """
[grid]
dataset = "circles"
dataset_args = {{ n_samples = 100, noise = 0.05, random_state = 1 }}
hidden = [4]
activation = "tanh"
init = ["he_normal", "normal(std=1)"]
learning_rate = 0.5
iterations = 200
seed = {{ start = 0, stop = 3 }}
[record]
target_accuracy = {target}
curve_every = 10
"""


def _sweep_json(argv, capsys):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# Reliability: Stores fail safe and never mix (the key covers [record]).
def test_a_store_never_reuses_results_recorded_under_another_target(tmp_path, capsys):
    # The issue: target 0.6, then the same grid with 0.999 on the same store, reported
    # "reached 100%" under a caption saying the target is 0.999.
    low, high = tmp_path / "low.toml", tmp_path / "high.toml"
    low.write_text(GRID.format(target=0.6))
    high.write_text(GRID.format(target=0.999))
    shared = str(tmp_path / "shared.sqlite")
    _sweep_json(["sweep", str(low), "--store", shared], capsys)
    reused = _sweep_json(["sweep", str(high), "--store", shared], capsys)
    fresh = _sweep_json(["sweep", str(high), "--store", str(tmp_path / "fresh.sqlite")], capsys)
    assert reused["summary"] == fresh["summary"]
    assert all(r["reached_target"] < 1 for r in fresh["summary"])  # 0.999 is not reached here


# Reliability: Stores fail safe and never mix (sweeps identified by content).
def test_two_spec_files_with_one_name_are_two_sweeps(tmp_path, capsys):
    # The issue: grid.toml in two folders overwrote each other's listing.
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "grid.toml").write_text(GRID.format(target=0.9))
    (tmp_path / "b" / "grid.toml").write_text(
        GRID.format(target=0.9).replace("stop = 3", "stop = 2")
    )
    store = str(tmp_path / "runs.sqlite")
    _sweep_json(["sweep", str(tmp_path / "a" / "grid.toml"), "--store", store], capsys)
    _sweep_json(["sweep", str(tmp_path / "b" / "grid.toml"), "--store", store], capsys)
    listed = _sweep_json(["runs", "--store", store], capsys)["sweeps"]
    assert sorted((s["done"], s["total"]) for s in listed) == [(4, 4), (6, 6)]
    out = tmp_path / "all.csv"
    assert main(["runs", "--store", store, "--export", str(out)]) == 0
    assert len(out.read_text().strip().splitlines()) == 1 + 6  # 4 of b's 6 configs are a's


# Reliability: Numerical trouble is an outcome (check: non-finite, exit 1).
def test_check_of_a_start_that_overflows_is_non_finite_not_healthy(capsys):
    # The issue: every statistic nan, verdict healthy, exit 0.
    assert main(["check", "--init", "normal(std=1e308)", "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["verdict"] == "non-finite" and not d["healthy"]
    assert d["findings"][0]["code"] == "non-finite"


X, Y = load_dataset("circles", n_samples=100, noise=0.05, random_state=1)


def test_diagnose_of_a_diverged_mlp_holding_inf_weights_is_non_finite():
    clf = MLPClassifier(max_iter=20, random_state=0).fit(X, Y)
    clf.coefs_[1][0, 0] = np.inf  # what a diverged fit used to keep
    d = diagnose(clf, X, Y)
    assert d.verdict == "non-finite" and "W2" in d.findings[0].message


def test_diagnose_of_nan_input_is_non_finite():
    Xn = X.copy()
    Xn[5, 0] = np.nan
    d = diagnose(MLPClassifier(), Xn, Y)
    assert d.verdict == "non-finite" and "input" in d.findings[0].message


def test_an_unparsable_dtype_is_refused_not_float64():
    # The issue: check_dtype returned None for "floaty", and None in (...) was true.
    with pytest.raises(ValueError, match="'dtype' parameter of MLPClassifier"):
        MLPClassifier(dtype="floaty", max_iter=5).fit(X, Y)


# Reliability: Numerical trouble is an outcome (diverged runs keep finite parameters).
def test_a_diverged_mlp_keeps_parameters_whose_loss_was_finite():
    # The issue: after divergence predict_proba returned NaN and predict class 0 for all.
    clf = MLPClassifier(
        hidden_layer_sizes=(10, 5),
        init="normal(std=10)",
        learning_rate=1e100,
        max_iter=50,
        random_state=0,  # a start that diverges after its first step (some seeds' never do)
    )
    with pytest.warns(DivergedWarning, match="diverged at iteration"):
        clf.fit(X * 1e5, Y, callback=None)
    d = clf.history_["diverged_at"]
    assert clf.diverged_ and d >= 1
    p = clf.predict_proba(X * 1e5)
    assert np.isfinite(p).all()
    # The kept parameters are those of iteration d - 1: their loss is the one recorded there.
    # Binary cross-entropy from the logits z, the numerically stable form
    # max(z, 0) - y z + log(1 + exp(-|z|)), written here independently of initlab's losses.
    z = clf.decision_function(X * 1e5)
    bce = np.mean(np.maximum(z, 0) - Y * z + np.log1p(np.exp(-np.abs(z))))
    assert bce == pytest.approx(clf.loss_curve_[d - 1], rel=1e-9)


def test_a_start_drawn_non_finite_is_refused_by_name():
    # The issue: init="normal(std=1e308)" kept weights holding inf.
    with pytest.raises(ValueError, match="'init' parameter of MLPClassifier is invalid"):
        MLPClassifier(init="normal(std=1e308)", max_iter=5, random_state=0).fit(X, Y)


def test_a_perceptron_that_diverges_says_so_and_keeps_finite_weights():
    # The issue: Perceptron(eta=1e308) ended with NaN weights and no flag or warning.
    with pytest.warns(DivergedWarning, match="Perceptron diverged"):
        p = Perceptron(eta=1e308, random_state=1).fit(X, Y)
    assert p.diverged_ and np.isfinite(p.coef_).all() and np.isfinite(p.intercept_).all()


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["gain", "leaky_relu(slope=nan)"], "'slope'"),
        (["gain", "elu(alpha=inf)"], "'alpha'"),
        (["check", "--atol", "nan"], "--atol"),
        (["check", "--atol", "-1"], "--atol"),
        (["train", "--hidden", "", "--iterations", "5"], "--hidden"),
        (["train", "--test-samples", "-4", "--iterations", "5"], "--test-samples"),
    ],
)
def test_nan_inf_and_empty_parameters_are_refused(argv, flag, capsys):
    # The issue: each of these ran (nan gain, a std of 0, no hidden layer, no test set).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == 2
    assert flag in capsys.readouterr().err


def test_runs_on_a_foreign_database_changes_nothing(tmp_path, capsys):
    # The issue: `initlab runs --store foreign.sqlite` added three tables and switched to WAL.
    path = tmp_path / "foreign.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE people (name TEXT)")
    con.commit()
    con.close()
    before = path.read_bytes()
    assert main(["runs", "--store", str(path)]) == 2
    assert "not an initlab store" in capsys.readouterr().err
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "foreign.sqlite"
    ]


def test_a_sweep_run_whose_start_overflows_has_no_accuracy(tmp_path):
    # Found beside the list: a start with a non-finite loss (diverged at iteration 0)
    # was stored with the accuracy of its NaN outputs (all class 0), and a low target counted
    # as reached at iteration 0.
    from initlab.sweep import sweep

    grid = {"dataset": "xor", "hidden": [4], "iterations": 30, "seed": [0]}
    grid["init"] = ["normal(std=1e200)", "he_normal"]
    df = sweep({"grid": grid, "record": {"target_accuracy": 0.3}}, store=tmp_path / "s.sqlite")
    bad = df[df["init"] != "he_normal"].iloc[0]
    assert bad["diverged_at"] == 0
    assert bad["train_accuracy"] is None or np.isnan(bad["train_accuracy"])
    assert bad["iterations_to_target"] is pd.NA
