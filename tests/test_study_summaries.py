"""Every answer is derived from its run: change a study's size or seed and the numbers in its
summary change with the measurements (the studies are run here at reduced sizes, in seconds)."""

from __future__ import annotations

import pytest

from _answers import check_answers, numbers_in
from initlab.studies import depth_signal, perceptron_eta, run_study

# Smaller than the quick size, so that each run takes a fraction of a second.
TINY_DEPTH = {"width": 48, "depth": 12, "samples": 48, "seeds": 2, "layers": (1, 6, 12)}
TINY_PERCEPTRON = {"iris_seeds": 2, "datasets": 6, "dataset_seeds": 1}


def _run(monkeypatch, module, size, name, depth=None, random_state=0):
    cfg = dict(size)
    if depth is not None:
        cfg["depth"] = depth
        cfg["layers"] = (1, depth // 2, depth)
    monkeypatch.setitem(module.SIZES, "quick", cfg)
    return run_study(name, size="quick", random_state=random_state)


def test_depth_signal_answer_follows_the_depth(monkeypatch):
    a = _run(monkeypatch, depth_signal, TINY_DEPTH, "depth-signal", depth=12)
    b = _run(monkeypatch, depth_signal, TINY_DEPTH, "depth-signal", depth=8)
    for r, depth in ((a, 12), (b, 8)):
        check_answers(r)
        (claim,) = r.findings
        # The depth run is the depth the answer names, and its std at the last layer is the
        # one measured at that depth.
        assert claim.numbers["depth"] == depth
        assert f"through {depth} ReLU layers" in claim.summary
        assert f"to {claim.numbers['he_std_last']:.2f}" in claim.summary
    assert numbers_in(a.findings[0].summary) != numbers_in(b.findings[0].summary)


def test_depth_signal_answer_follows_the_seed(monkeypatch):
    a = _run(monkeypatch, depth_signal, TINY_DEPTH, "depth-signal", random_state=0)
    b = _run(monkeypatch, depth_signal, TINY_DEPTH, "depth-signal", random_state=1)
    (ca,), (cb,) = a.findings, b.findings
    # Other weights, other measured stds: the answer's numbers move with them.
    assert ca.numbers["he_std_last"] != cb.numbers["he_std_last"]
    assert numbers_in(ca.summary) != numbers_in(cb.summary)
    for c in (ca, cb):
        assert f"{c.numbers['he_std_first']:.2f} to {c.numbers['he_std_last']:.2f}" in c.summary


@pytest.mark.parametrize("datasets", [4, 6])
def test_perceptron_answer_counts_what_was_run(monkeypatch, datasets):
    size = {**TINY_PERCEPTRON, "datasets": datasets}
    r = _run(monkeypatch, perceptron_eta, size, "perceptron-eta")
    check_answers(r)
    (claim,) = r.findings
    x = claim.numbers
    # 2 seeds x 11 learning rates on iris2, and the number of random datasets asked for.
    assert x["random_runs"] == 2 * len(perceptron_eta.ETAS) and x["datasets"] == datasets
    if claim.verdict != "fails":
        assert f"of {2 * len(perceptron_eta.ETAS)} runs" in claim.summary
    if claim.verdict == "qualified":
        assert f"of {datasets} random datasets" in claim.summary
    if claim.verdict == "holds":
        assert f"all {datasets} random datasets" in claim.summary
