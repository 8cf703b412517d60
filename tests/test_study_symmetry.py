"""The symmetry study, quick size: its claims and the measured facts behind them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _answers import check_answers
from initlab.studies import run_study
from initlab.studies.symmetry import ACTIVATIONS, MONOTONE, STARTS, SYMMETRIC


@pytest.fixture(scope="module")
def result():
    return run_study("symmetry", size="quick", random_state=0)


def _claim(result, claim_id):
    (claim,) = [c for c in result.findings if c.id == claim_id]
    return claim


def test_shape(result):
    assert [c.id for c in result.findings] == [
        "zero-weights-zero-output",
        "equal-units-stay-equal",
        "symmetric-start-fails",
        "sigmoid-zero-gradients",
    ]
    grid = result.tables["Every activation and start"]
    assert len(grid) == len(ACTIVATIONS) * len(STARTS) * 2
    assert set(result.figures) == {"accuracy", "boundaries", "blas-split"}
    assert result.to_dict()["findings"][0]["study"] == "symmetry"


def test_zero_weights_output_phi_of_zero(result):
    t = result.tables["Hidden outputs from all-zero weights"].set_index("activation")
    # Every unit outputs phi(0) on every input, exactly.
    assert t["one value for every input and unit"].all()
    assert t.loc["sigmoid", "layer 1 outputs (min)"] == 0.5
    assert t.loc["softplus", "layer 2 outputs (max)"] == pytest.approx(np.log(2), rel=1e-15)
    assert set(t.index[t["all zero"]]) == {"relu", "tanh", "leaky_relu", "gelu"}
    assert _claim(result, "zero-weights-zero-output").verdict == "qualified"


def test_equal_units_stay_equal(result):
    grid = result.tables["Every activation and start"]
    sym = grid[grid["start"].isin(SYMMETRIC)]
    assert (sym["effective width at start"] == "1, 1").all()
    assert (sym["effective width at end"] == "1, 1").all()
    assert sym["width the same at every check"].all()
    assert (sym["collapsed hidden sizes"] == "1, 1").all()
    # Merging equal units replaces w a + w a by (2 w) a: equal up to a few ulps of p <= 1.
    assert sym["max |p - p_collapsed|"].max() < 1e-14
    rnd = grid[~grid["start"].isin(SYMMETRIC)]
    assert (rnd["effective width at end"] == "10, 5").all()
    claim = _claim(result, "equal-units-stay-equal")
    assert claim.verdict == "holds"
    assert claim.numbers["stayed_width_1"] == claim.numbers["runs"] == 30


def test_blas_aside_changes_nothing_that_matters(result):
    blas = result.tables["Aside: symmetric starts with plain BLAS products"]
    assert len(blas) == 30
    # Which units BLAS rounding separates depends on the BLAS build; that it stays at rounding
    # level and leaves the function unchanged does not.
    assert blas["max |p_blas - p_exact|"].max() < 1e-12
    assert (blas["train accuracy (BLAS)"] == blas["train accuracy (exact)"]).all()
    # Zeros with relu: no gradient reaches any weight, so there is nothing to round.
    zero_relu = blas[(blas["activation"] == "relu") & (blas["start"] == "zeros")]
    assert zero_relu["first split seen at iteration"].isna().all()


def test_symmetric_start_trains_its_collapsed_form(result):
    claim = _claim(result, "symmetric-start-fails")
    assert claim.verdict == "qualified"
    best = claim.numbers["best_symmetric"]
    # A width-1 network beats chance (constant 0.5 with relu); with a monotone activation its
    # decision region is a half-plane, so it cannot beat the best half-plane (found over 720
    # directions: allow one point, 1/300, for the directions in between). A random start does
    # far better with the same activation.
    assert best["relu"] > 0.55
    for act in MONOTONE:
        assert best[act] <= claim.numbers["best_half_plane"] + 1 / 300
    assert claim.numbers["he_normal"]["relu"] > best["relu"] + 0.2
    assert "zeros" in claim.numbers["no_weight_moved"]
    grid = result.tables["Every activation and start"]
    zeros_relu = grid[(grid["activation"] == "relu") & (grid["start"] == "zeros")]
    assert list(zeros_relu["blocks that moved"]) == ["none", "b3"]  # full-batch, mini-batch
    assert (zeros_relu["train accuracy"] == 0.5).all()


def test_sigmoid_zero_gradients_block_by_block(result):
    t = result.tables["Sigmoid from zeros: the gradient block by block"]
    situations = list(dict.fromkeys(t["data and state"]))
    nonzero = [
        t[(t["data and state"] == s) & ~t["zero (up to rounding)"]]["block"].tolist()
        for s in situations
    ]
    # Balanced data: every gradient is zero (the output's cancels up to rounding); an unbalanced
    # batch: the output layer first, the error reaches one layer further per update.
    assert nonzero == [
        [],
        ["W3", "b3"],
        ["W2", "b2", "W3", "b3"],
        ["W1", "b1", "W2", "b2", "W3", "b3"],
    ]
    balanced = t[t["data and state"] == situations[0]].set_index("block")
    assert balanced.loc["b3", "gradient norm"] < 1e-15
    assert "W3" in balanced.loc["W2", "why zero"]
    assert t["equal for every hidden unit"].dropna().all()
    assert _claim(result, "sigmoid-zero-gradients").verdict == "qualified"


def test_deterministic(result):
    again = run_study("symmetry", size="quick", random_state=0)
    for key, table in result.tables.items():
        pd.testing.assert_frame_equal(table, again.tables[key])
    assert [c.evidence for c in result.findings] == [c.evidence for c in again.findings]


def test_answers_are_made_of_the_runs_numbers(result):
    check_answers(result)
    zero_out = _claim(result, "zero-weights-zero-output")
    # phi(0) for sigmoid is 1/2 and for softplus ln 2: the values the answer must quote.
    assert "0.5 for sigmoid" in zero_out.summary and "0.693 for softplus" in zero_out.summary
    fails = _claim(result, "symmetric-start-fails")
    top = max(fails.numbers["best_symmetric"].values())
    assert f"at best {top:.3f} train accuracy" in fails.summary
