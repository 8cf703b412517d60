"""dls-initialization: the course's numbers, the causes, and the claims, from the quick size."""

import numpy as np
import pytest

from _answers import check_answers
from initlab.studies import run_study


@pytest.fixture(scope="module")
def result():
    return run_study("dls-initialization", size="quick")


def test_matches_the_published_numbers(result):
    acc = result.tables["Accuracy and published numbers"].set_index("init")
    for init in ("zeros", "he_normal", "normal(std=10)"):
        assert acc.loc[init, "train accuracy"] == acc.loc[init, "published train"]
        assert acc.loc[init, "test accuracy"] == acc.loc[init, "published test"]
    for init in ("zeros", "he_normal"):
        # The printed digits (16 significant): the BLAS of the course's machine may differ in
        # the last one, hence rtol 1e-14.
        for ours, theirs in [
            ("cost at 0 (textbook)", "published cost at 0"),
            ("cost at 14000 (textbook)", "published cost at 14000"),
        ]:
            np.testing.assert_allclose(acc.loc[init, ours], acc.loc[init, theirs], rtol=1e-14)
    assert np.isinf(acc.loc["normal(std=10)", "cost at 0 (textbook)"])


def test_zero_start_gradients_and_causes(result):
    grads = result.tables["Gradients from zeros, and why they are zero"].set_index("block")
    assert grads["zero"].all()
    assert (grads.loc[["W1", "W2", "W3", "b1", "b2"], "gradient norm"] == 0).all()
    assert "next layer's weights (W2) are zero" in grads.loc["W1", "why"]
    assert grads.loc["W3", "why"] == "the activations feeding layer 3 are all zero"


def test_claims(result):
    verdicts = {c.id: c.verdict for c in result.findings}
    assert verdicts == {
        "zero-start-same-loss": "fails",
        "relu-zero-gradients-cause": "qualified",
        "error-proportional-to-weights": "holds",
        "large-random-start": "holds",
    }
    same_loss = next(c for c in result.findings if c.id == "zero-start-same-loss")
    # The unbalanced variant learns the base rate with the weights still at zero.
    assert abs(same_loss.numbers["p_unbalanced"] - same_loss.numbers["base_rate"]) < 1e-2
    big = next(c for c in result.findings if c.id == "large-random-start")
    assert big.numbers["saturated_share_0"] == 1.0 and big.numbers["inf_iterations"] > 0


def test_saves_and_round_trips(result, tmp_path):
    from initlab.studies import StudyResult

    path = result.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dls-initialization-boundaries.png",
        "dls-initialization-cost.png",
        "dls-initialization-saturation.png",
        "dls-initialization-zero-start.png",
        "dls-initialization.json",
    ]
    import json

    again = StudyResult.from_dict(json.loads(path.read_text()))
    assert [c.id for c in again.findings] == [c.id for c in result.findings]
    assert again.tables.keys() == result.tables.keys()


def test_answers_are_made_of_the_runs_numbers(result):
    check_answers(result)
    claims = {c.id: c for c in result.findings}
    same = claims["zero-start-same-loss"]
    # From zeros every output is sigmoid(0) = 1/2: the loss starts at ln 2 on any labels and,
    # with only the output bias free, falls to the entropy of the base rate (1/3 here).
    assert same.numbers["start_loss_unbalanced"] == pytest.approx(np.log(2), rel=1e-12)
    p = same.numbers["base_rate"]
    entropy = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    assert same.numbers["final_loss_unbalanced"] == pytest.approx(entropy, abs=1e-3)
    assert "from 0.693 to 0.637" in same.summary and same.numbers["max_weight_unbalanced"] == 0
    # |p - y| = |1/2 - y| = 1/2 on every sample: the output error the answer quotes.
    err = claims["error-proportional-to-weights"]
    assert err.numbers["min_output_error"] == 0.5 and "at least 0.5" in err.summary
    assert claims["large-random-start"].figure == "cost"
