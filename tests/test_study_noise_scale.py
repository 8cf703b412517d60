"""The noise-scale study, quick size: its claim and the measured facts behind it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _answers import check_answers
from initlab.studies import run_study
from initlab.studies.noise_scale import FLOAT_EPS, SIZES


@pytest.fixture(scope="module")
def result():
    return run_study("noise-scale", size="quick", random_state=0)


def test_shape(result):
    cfg = SIZES["quick"]
    runs = result.tables["Every run"]
    assert len(runs) == 2 * len(cfg["eps"]) * cfg["seeds"]
    assert len(result.tables["The start in float64, by eps"]) == 2 * len(FLOAT_EPS)
    assert set(result.figures) == {"iterations", "accuracy"}
    (claim,) = result.findings
    assert claim.id == "tiny-noise-breaks-symmetry"
    assert claim.study == "noise-scale"


def test_small_starts_stall_and_large_ones_learn(result):
    t = result.tables["Every run"]
    budget = SIZES["quick"]["budget"]
    for act in ("relu", "tanh"):
        a = t[t["activation"] == act]
        # eps = 1 (about the He scale) learns; eps = 1e-6 never does within the budget and
        # its weights do not grow: the first-order signal is eps^2 per update.
        assert a[a["eps"] == 1.0]["iterations to 90%"].notna().all()
        tiny = a[a["eps"] <= 1e-6]
        assert tiny["iterations to 90%"].isna().all()
        assert (tiny["final train accuracy"] <= 0.55).all()
        assert np.allclose(tiny["largest weight, end / start"], 1.0, atol=1e-3)
        reached = a["iterations to 90%"].dropna()
        assert (reached <= budget).all() and (reached % SIZES["quick"]["chunk"] == 0).all()
    summary = result.tables["Iterations to 90% train accuracy, by eps"]
    relu = summary[summary["activation"] == "relu"].set_index("eps")
    # Smaller noise, later (or never): the median does not fall as eps shrinks.
    med = relu["median iterations to 90%"].fillna(np.inf).sort_index(ascending=False)
    assert med.is_monotonic_increasing


def test_float64_start(result):
    f = result.tables["The start in float64, by eps"]
    # A normal draw times eps keeps distinct units down to the subnormals.
    assert (f["distinct units, layer 1 (weights)"] == 10).all()
    assert (f["distinct units, layer 2 (weights)"] == 5).all()
    relu = f[f["activation"] == "relu"].set_index("eps")
    # sigmoid(z) rounds to 1/2 once |z| < 2^-54 * 4: the output is ~eps^3.
    assert relu.loc[1e-6, "outputs exactly 1/2"] == 1.0
    assert relu.loc[1.0, "outputs exactly 1/2"] < 0.5
    # A relative update of about lr * eps falls below half an ulp (2^-53) near eps = 1e-16.
    assert relu.loc[1e-12, "weights the first update changes"] > 0.5
    assert relu.loc[1e-18, "weights the first update changes"] == 0.0
    # eps^2 underflows (< 5e-324) for eps well below 1e-162: the second layer outputs zeros.
    assert relu.loc[1e-200, "distinct unit outputs, layer 2"] == 1
    assert relu.loc[1e-150, "distinct unit outputs, layer 2"] == 5


def test_claim_is_qualified_by_the_numbers(result):
    (claim,) = result.findings
    assert claim.verdict == "qualified"
    n = claim.numbers
    assert n["units_distinct_at_every_eps"] is True
    assert n["eps_output_exactly_half"] == 1e-6
    assert 1e-18 <= n["eps_frozen"] <= 1e-14
    assert n["per_activation"]["relu"]["smallest_eps_reached"] == 0.1
    assert n["per_activation"]["tanh"]["smallest_eps_reached"] == 0.3
    assert "never moves" in claim.evidence


def test_deterministic(result):
    again = run_study("noise-scale", size="quick", random_state=0)
    for key, table in result.tables.items():
        pd.testing.assert_frame_equal(table, again.tables[key])
    assert result.findings[0].evidence == again.findings[0].evidence


def test_answers_are_made_of_the_runs_numbers(result):
    check_answers(result)
    (claim,) = result.findings
    x = claim.numbers
    assert f"within {x['budget']} iterations" in claim.summary
    for act, v in x["per_activation"].items():
        if v["largest_eps_never"] is not None:
            assert f"{v['largest_eps_never']:g} ({act})" in claim.summary
