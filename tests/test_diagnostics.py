"""Diagnostics of initlab's models: every cause of a zero gradient on a network built to have it,
symmetry kept bit for bit, collapse, and the signal verdicts."""

import json

import numpy as np
import pytest

from initlab import MLPClassifier, cli, collapse, diagnose, load_dataset
from initlab.diagnostics import symmetry_groups


@pytest.fixture(scope="module")
def circles():
    return load_dataset("circles", n_samples=300, noise=0.05, random_state=1)


def with_weights(X, y, coefs, intercepts, activation="relu"):
    """A fitted model whose parameters are set by hand: the network built to have a cause."""
    sizes = tuple(W.shape[0] for W in coefs[:-1])
    clf = MLPClassifier(
        hidden_layer_sizes=sizes, activation=activation, max_iter=1, random_state=0
    ).fit(X, y)
    clf.coefs_ = [np.asarray(W, dtype=float) for W in coefs]
    clf.intercepts_ = [np.asarray(b, dtype=float) for b in intercepts]
    return clf


def causes(d):
    return {b.name: b.cause for b in d.blocks}


def test_zero_start_names_a_cause_for_every_block(circles):
    X, y = circles
    d = diagnose(MLPClassifier(init="zeros", random_state=3), X, y)
    c = causes(d)
    assert d.verdict == "stuck" and all(b.zero for b in d.blocks)
    assert (
        c["W1"]
        == c["b1"]
        == ("the error reaching this layer is zero because the next layer's weights (W2) are zero")
    )
    assert c["W2"].startswith("the activations feeding layer 2 are all zero; and the error")
    assert c["W3"] == "the activations feeding layer 3 are all zero"
    assert c["b3"].startswith("the output error p - y cancels over the data (balanced labels)")
    assert [r.effective_width for r in d.layers[:-1]] == [1, 1]


def test_inputs_all_zero(circles):
    X, y = circles
    rng = np.random.default_rng(0)
    clf = with_weights(
        X, y, [rng.standard_normal((4, 2)), rng.standard_normal((1, 4))], [np.ones(4), np.zeros(1)]
    )
    c = causes(diagnose(clf, np.zeros_like(X), y))
    assert c["W1"] == "the inputs are all zero"
    assert c["b1"] is None  # the bias still learns from a zero input


def test_derivative_zero_on_every_sample(circles):
    X, y = circles
    rng = np.random.default_rng(1)
    clf = with_weights(
        X,
        y,
        [rng.standard_normal((4, 2)), rng.standard_normal((1, 4))],
        [np.full(4, -100.0), np.zeros(1)],
    )  # every ReLU off on every sample
    d = diagnose(clf, X, y)
    c = causes(d)
    assert (
        c["W1"] == "the activation's derivative is zero on every sample (dead or saturated units)"
    )
    assert c["W2"] == "the activations feeding layer 2 are all zero"
    assert d.layers[0].dead_units == [0, 1, 2, 3] and d.layers[0].verdict == "dead"


def test_error_zero_because_a_later_layer_is(circles):
    X, y = circles
    rng = np.random.default_rng(2)
    coefs = [rng.standard_normal((4, 2)), rng.standard_normal((3, 4)), np.zeros((1, 3))]
    clf = with_weights(X, y, coefs, [np.full(4, 0.1), np.full(3, 0.1), np.zeros(1)])
    c = causes(diagnose(clf, X, y))
    assert c["W2"] == (
        "the error reaching this layer is zero because the next layer's weights (W3) are zero"
    )
    assert c["W1"].startswith("the error reaching this layer is zero because the error at layer 2")
    assert c["W3"] is None  # the last layer learns: its inputs and error are not zero


def test_sigmoid_zero_start_is_a_cancellation_not_zero_activations(circles):
    X, y = circles
    d = diagnose(MLPClassifier(init="zeros", activation="sigmoid"), X, y)
    assert causes(d)["W3"].startswith("the per-sample terms delta a^T cancel over the data")
    assert d.layers[0].act_mean == 0.5  # sigmoid(0): the units are not zero


def test_equal_updates_are_reported(circles):
    X, y = circles
    d = diagnose(MLPClassifier(init="constant(value=0.5)", random_state=0), X, y)
    w1 = next(b for b in d.blocks if b.name == "W1")
    assert w1.equal_update_groups == [list(range(10))]
    assert d.verdict == "symmetric"


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu"])
@pytest.mark.parametrize("batch_size", [None, 32])
def test_constant_start_stays_width_one_and_collapses(circles, activation, batch_size):
    X, y = circles
    kw = dict(
        activation=activation,
        init="constant(value=0.3)",
        max_iter=150,
        random_state=0,
        batch_size=batch_size,
        solver="sgd" if batch_size else "gd",
        learning_rate=0.05,
    )
    start = MLPClassifier(**{**kw, "max_iter": 1})
    trained = MLPClassifier(**kw).fit(X, y)
    for W in trained.coefs_[:-1]:  # bit for bit: every row equal to the first
        assert np.array_equal(W, np.broadcast_to(W[:1], W.shape))
    for W, b, W_next in zip(trained.coefs_[:-1], trained.intercepts_[:-1], trained.coefs_[1:]):
        assert len(symmetry_groups(W, b, W_next)) == 1
    d = diagnose(trained, X, y)
    assert [r.effective_width for r in d.layers[:-1]] == [1, 1]
    assert any("stay equal" in f.message for f in d.findings)
    small = collapse(trained)
    assert small.hidden_layer_sizes == (1, 1)
    # One merged unit's outgoing weight is the sum of the group's: the products w a are summed in
    # another order, so the outputs agree to rounding (a few ulps of values of order 1).
    np.testing.assert_allclose(small.predict_proba(X), trained.predict_proba(X), rtol=1e-12)
    assert np.array_equal(small.predict(X), trained.predict(X))
    # And before training: the start itself collapses too.
    fitted_once = start.fit(X, y)
    np.testing.assert_allclose(
        collapse(fitted_once).predict_proba(X), fitted_once.predict_proba(X), rtol=1e-12
    )


def test_collapse_keeps_a_random_network_as_it_is(circles):
    X, y = circles
    clf = MLPClassifier(max_iter=10, random_state=0).fit(X, y)
    assert collapse(clf).hidden_layer_sizes == (10, 5)
    with pytest.raises(ValueError, match="must be a fitted MLPClassifier"):
        collapse(MLPClassifier())


def test_tolerance_groups_nearly_equal_units(circles):
    X, y = circles
    clf = MLPClassifier(init="constant(value=0.5)", max_iter=1, random_state=0).fit(X, y)
    clf.coefs_[0] = clf.coefs_[0] + np.arange(10)[:, None] * 1e-10
    assert diagnose(clf, X, y).layers[0].effective_width == 10
    assert diagnose(clf, X, y, atol=1e-8).layers[0].effective_width == 1


@pytest.mark.parametrize(
    ("activation", "init", "verdict"),
    [
        ("tanh", "normal(std=0.01)", "vanishing"),
        ("relu", "normal(std=1)", "exploding"),
        ("relu", "he_normal", "healthy"),
        ("tanh", "glorot_normal", "healthy"),
    ],
)
def test_signal_verdicts_of_deep_networks(activation, init, verdict):
    X, y = load_dataset("gaussians", n_samples=200, n_features=32, random_state=0)
    clf = MLPClassifier(
        hidden_layer_sizes=(128,) * 12, activation=activation, init=init, random_state=0
    )
    d = diagnose(clf, X, y)
    assert d.verdict == verdict, str(d)
    if verdict != "healthy":
        assert any(f.code == verdict and "per layer" in f.message for f in d.findings)


def test_unfitted_model_is_left_as_it_is(circles):
    X, y = circles
    clf = MLPClassifier(init="he_normal", random_state=np.random.RandomState(3))
    state = clf.random_state.get_state()[1].copy()
    d = diagnose(clf, X, y)
    assert not hasattr(clf, "coefs_") and np.array_equal(clf.random_state.get_state()[1], state)
    assert d.loss == pytest.approx(0.8830537463419761, rel=1e-14)  # the course's first cost


def test_report_prints_and_serializes(circles):
    X, y = circles
    d = diagnose(MLPClassifier(init="normal(std=10)", random_state=3), X, y)
    text = str(d)
    assert "verdict" in text and "layer 1" in text
    json.dumps(d.to_dict())
    assert d.layers[-1].saturated_share == 1.0  # every probability exactly 0 or 1


def test_check_command_on_a_zero_start(capsys):
    status = cli.main(["check", "--init", "zeros", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 1 and out["verdict"] == "stuck"
    assert all(b["cause"] for b in out["blocks"])  # a cause named for every parameter block
    assert cli.main(["check", "--init", "he_normal"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "nothere.py:make", "--input-shape", "3,2"], "no such file 'nothere.py'"),
        (["check", "--input-shape", "3,2"], "--input-shape goes with a PyTorch model"),
        (["check", "--init", "bogus"], "Unknown init 'bogus'"),
    ],
)
def test_check_bad_input(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_check_command_course_start_times_ten_marks_the_saturated_output_layer(capsys):
    # The course's start randn * 10 on the [2, 10, 5, 1] net: the sigmoid output's
    # pre-activations are in the hundreds, so every output probability sits within 1e-6 of 0
    # or 1. The output layer's row must say saturated, with its share, as the finding does;
    # the verdict stays the worst one (exploding hidden layers).
    status = cli.main(["check", "--init", "normal(std=10)", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 1
    last = out["layers"][-1]
    assert last["at_bound_share"] > 0.5 and last["verdict"] == "saturated", last
    bound = [f for f in out["findings"] if f["code"] == "saturated"]
    assert bound and bound[0]["severity"] == "error"
    assert out["verdict"] == "exploding"
    assert cli.main(["check", "--init", "normal(std=10)"]) == 1
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("layer 3"))
    assert "saturated" in row and "healthy" not in row, row
