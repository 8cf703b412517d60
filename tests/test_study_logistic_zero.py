"""logistic-zero: logistic regression from zeros against random starts and an MLP, from the
quick size."""

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from _answers import check_answers
from initlab.studies import run_study
from initlab.studies.logistic_zero import max_margin_direction


@pytest.fixture(scope="module")
def result():
    return run_study("logistic-zero", size="quick", random_state=0)


@pytest.fixture(scope="module")
def claim(result):
    (c,) = result.findings
    assert c.id == "logistic-zero"
    return c


def test_verdict(claim):
    assert claim.verdict == "holds"
    n = claim.numbers
    assert n["nonseparable_same_solution"] and n["zero_start_as_accurate"]
    assert n["separable_directions_meet"] and n["logistic_zero_gradient_nonzero"]
    assert n["mlp_from_zeros_stuck"]


def test_which_data_are_separable(result):
    summary = result.tables["Summary by dataset"].set_index("dataset")
    assert summary.loc["iris2", "linearly separable"]
    assert not summary.loc["moons", "linearly separable"]
    assert not summary.loc["gaussians", "linearly separable"]


def test_non_separable_data_one_solution(result, claim):
    starts = result.tables["Every start after training"]
    for name in ("moons", "gaussians"):
        d = starts[starts["dataset"] == name]
        f = claim.numbers["per_dataset"][name]
        # Gradient descent with learning rate 1 contracts linearly at rate about 1 - lr * the
        # Hessian's smallest eigenvalue (> 0.04 here): after 2000 steps only rounding is left.
        assert f["min_hessian_eig"] > 0.01
        assert d["distance to zero start's (b, w)"].max() < 1e-10
        loss = d[next(c for c in d.columns if c.startswith("loss after"))]
        assert loss.max() - loss.min() < 1e-12
        assert d["same predictions as zero start"].all()
        assert d["training accuracy"].nunique() == 1


def test_separable_data_meet_in_direction_only(claim, result):
    f = claim.numbers["per_dataset"]["iris2"]
    assert f["zero_accuracy"] == 1.0 and f["min_random_accuracy"] == 1.0
    assert f["same_predictions"]
    angles = [a for _, a in f["angles_by_decade"]]
    assert all(b < a for a, b in itertools.pairwise(angles))  # shrinking at every decade
    along = result.tables["Along training (iterations spaced in log scale)"]
    norms = along.loc[along["dataset"] == "iris2", "zero start: |(b, w)|"].to_numpy()
    assert (np.diff(norms) > 0).all()  # no minimum: the weights keep growing
    assert f["max_distance"] > 1e-3  # so they are not compared by value
    assert f["margin_angle_zero"] < 0.2


def test_gradients_at_zero(result, claim):
    grads = result.tables["Gradients at the zero start, and why they are zero"]
    lr = grads[grads["model"] == "logistic regression, zeros"].set_index(["dataset", "block"])
    mlp = grads[grads["model"] == "MLP [2, 10, 5, 1], zeros"].set_index(["dataset", "block"])
    for name in ("iris2", "moons", "gaussians"):
        assert lr.loc[(name, "W1"), "gradient norm at the start"] > 0.1
        assert not lr.loc[(name, "W1"), "exactly zero"]
        for block in ("W1", "W2", "W3"):
            assert mlp.loc[(name, block), "exactly zero"]
        assert "next layer's weights (W2) are zero" in mlp.loc[(name, "W1"), "why"]
        f = claim.numbers["per_dataset"][name]
        assert f["mlp_verdict"] == "stuck"
        assert f["mlp_weights_zero"] and f["mlp_constant"]
        assert f["mlp_zero_accuracy"] == f["majority"]
        assert f["mlp_he_accuracy"] > f["mlp_zero_accuracy"]


def test_estimator_matches_the_stack(claim):
    for f in claim.numbers["per_dataset"].values():
        assert f["estimator_gap"] < 1e-12


def test_max_margin_direction():
    # Classes at x1 = -1 and x1 = +1: the widest margin is the line x1 = 0, (b, w) ∝ (0, 1, 0).
    X = np.array([[-1.0, 0.0], [-1.0, 1.0], [1.0, 0.0], [1.0, -1.0]])
    u = max_margin_direction(X, np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(u, [0.0, 1.0, 0.0], atol=1e-6)


def test_figures_and_json(result):
    assert set(result.figures) == {"loss", "boundaries", "directions"}
    assert len(result.figures["boundaries"].axes) == 12
    json.dumps(result.to_dict())


def test_deterministic(result):
    again = run_study("logistic-zero", size="quick", random_state=0)
    for key, table in result.tables.items():
        pd.testing.assert_frame_equal(again.tables[key], table)
    assert again.findings[0].evidence == result.findings[0].evidence


def test_answers_are_made_of_the_runs_numbers(result, claim):
    check_answers(result)
    per = claim.numbers["per_dataset"]
    assert f"{claim.numbers['random_starts']} random starts" in claim.summary
    assert f"accuracy {per['iris2']['zero_accuracy']:.3f} on separable iris2" in claim.summary
    assert claim.figure == "boundaries"
