"""The playground's runs and state, in-process: what the page shows is what the library computes.

Oracles: the estimators trained in one call (MLPClassifier, Perceptron), the course's own formula
for its He start, ReLU's closed-form length map, the published numbers, and the library's
parameter checks.
"""

import math

import numpy as np
import pytest

from initlab import MLPClassifier, Perceptron, diagnose, load_dataset
from initlab.playground.runs import Session, fingerprint, mean_field
from initlab.playground.state import LIMITS, PRESETS, StateError, parse_state


def course(**changes):
    return {**PRESETS["course"]["state"], **changes}


def panel_params(session):
    return session._panel_params()


def test_course_preset_starts_as_the_course_draws():
    # The course: np.random.seed(3), then per layer randn(out, in) * sqrt(2 / fan_in), biases 0.
    s = Session(course())
    rng = np.random.RandomState(3)
    dims = [2, 10, 5, 1]
    W = [rng.randn(dims[l], dims[l - 1]) * np.sqrt(2.0 / dims[l - 1]) for l in range(1, 4)]
    b = [np.zeros(d) for d in dims[1:]]
    he = panel_params(s)[2]
    assert all(np.array_equal(a[0], e) for a, e in zip(he.weights, W))
    assert s.setup()["panels"][2]["start"] == fingerprint(*W, *b)
    # Zeros draw nothing and the scaled normal draws what randn * 10 does.
    rng = np.random.RandomState(3)
    big = [rng.randn(dims[l], dims[l - 1]) * 10 for l in range(1, 4)]
    assert all(np.array_equal(a[0], e) for a, e in zip(panel_params(s)[1].weights, big))
    assert not any(W.any() for W in panel_params(s)[0].weights)


@pytest.mark.parametrize(
    ("solver", "batch"), [("gd", ""), ("sgd", 64), ("adam", 50)], ids=["gd", "momentum", "adam"]
)
def test_chunked_training_equals_one_fit(solver, batch):
    # Chunks of 7 iterations (not dividing the total, and split again at the checkpoints) give
    # the estimator's numbers bit for bit, optimizer moments and mini-batch order included.
    state = course(solver=solver, batch=batch, lr=0.01 if solver != "adam" else 0.001)
    s = Session(state)
    n = 60
    while s.t < n:
        s.advance(min(7, n - s.t))
    X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
    for k, init in enumerate(state["values"]):
        clf = MLPClassifier(
            init=init,
            bias_init="zeros",
            solver=solver,
            learning_rate=state["lr"],
            batch_size=batch or None,
            max_iter=n,
            random_state=3,
        ).fit(X, y)
        p = panel_params(s)[k]
        assert all(np.array_equal(a[0], c) for a, c in zip(p.weights, clf.coefs_)), init
        assert all(np.array_equal(a[0], c) for a, c in zip(p.biases, clf.intercepts_)), init
        assert np.array_equal(np.concatenate(s.losses[k]), clf.loss_curve_), init


def test_panels_that_can_share_a_stack_do():
    # He and randn * 10 share one stack; zeros (equal units: products in a fixed order) its own.
    s = Session(course())
    assert sorted(st.panels for st in s.stacks) == [[0], [1, 2]]
    assert [st.exact for st in s.stacks if st.panels == [0]] == [True]
    lr = Session(course(vary="lr", values=[0.01, 0.1]))
    assert len(lr.stacks) == 2  # the engine takes one learning rate per call


def test_course_numbers_after_15000_iterations():
    # The published numbers (Coursera DLS course 2 week 1) at the course's iteration count.
    s = Session(course())
    assert s.fast_forward(15000, budget=600)
    panels = {p["init"]: p for p in ({"init": v} for v in s.config.state["values"])}
    frame = s.frame()
    acc = {init: (f["train_acc"], f["test_acc"]) for init, f in zip(panels, frame["panels"])}
    assert acc == {
        "zeros": (0.5, 0.5),
        "normal(std=10)": (0.83, 0.86),
        "he_normal": (298 / 300, 0.96),
    }
    zeros = frame["panels"][0]
    assert math.isclose(zeros["loss"], math.log(2), rel_tol=4e-16)
    # The textbook loss is recorded at every 1000 iterations, where the course prints its cost.
    recorded = dict(s.textbook[2])
    assert set(range(0, 15001, 1000)) <= set(recorded)
    assert recorded[14000] == pytest.approx(0.07357895962677366, rel=1e-12)
    assert math.isinf(dict(s.textbook[1])[0])  # randn * 10: inf at the start


def test_zero_start_frame_is_the_diagnosis():
    s = Session(course())
    s.advance(20)
    frame = s.frame()["panels"][0]
    X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
    oracle = diagnose(MLPClassifier(init="zeros", bias_init="zeros"), X, y)
    d = frame["diagnosis"]
    assert d["verdict"] == oracle.verdict == "stuck"
    assert [r["width"] for r in d["layers"][:-1]] == [1, 1]
    assert [r["width_tol"] for r in d["layers"][:-1]] == [1, 1]
    causes = {b.name: b.cause for b in oracle.blocks}
    for block in d["blocks"]:
        assert block["zero"] and block["cause"] == causes[block["name"]]
    assert frame["summary"].startswith("Stuck: every gradient is zero at iteration 20")
    assert "0.693147" in frame["summary"]


def test_reset_draws_the_same_start_bit_for_bit():
    s = Session(course(values=["he_normal", "normal(std=0.5)"]))
    start = [fingerprint(*p.weights, *p.biases) for p in panel_params(s)]
    s.advance(30)
    assert [fingerprint(*p.weights, *p.biases) for p in panel_params(s)] != start
    s.reset()
    assert [fingerprint(*p.weights, *p.biases) for p in panel_params(s)] == start
    assert s.t == 0


def test_timeline_returns_the_state_at_a_past_iteration():
    s = Session(course())
    for _ in range(5):
        s.advance(10)
    past = s.frame(at=20)
    again = Session(course())
    again.advance(20)
    assert past["t"] == 20 and not past["live"]
    assert [p["fingerprint"] for p in past["panels"]] == [
        p["fingerprint"] for p in again.frame()["panels"]
    ]


def test_diverging_panel_says_so_and_keeps_finite_weights():
    # A linear network at learning rate 10 overflows within a few iterations; its neighbour at
    # 0.01 trains on.
    s = Session(course(act="linear", vary="lr", values=[0.01, 10.0]))
    s.advance(100)
    slow, fast = s.frame()["panels"]
    assert slow["diverged_at"] is None and fast["diverged_at"] is not None
    assert fast["summary"].startswith(f"Diverged at iteration {fast['diverged_at']}:")
    params = panel_params(s)[1]
    assert all(np.isfinite(W).all() for W in params.weights)
    kept = fingerprint(*params.weights, *params.biases)
    s.advance(50)
    assert fingerprint(*panel_params(s)[1].weights, *panel_params(s)[1].biases) == kept


def test_mean_field_is_relus_closed_form():
    # For ReLU E[relu(sqrt(q) z)^2] = q / 2, so q_l = sigma_w^2 q_{l-1} / 2 + sigma_b^2, with
    # q_1 = sigma_w^2 mean(x^2) + sigma_b^2 (layer 1 sees the input itself).
    s = Session(PRESETS["deep"]["state"])
    p = panel_params(s)[2]  # torch_linear: random biases too
    X = s.data.X
    q = None
    expected = []
    for l, (W, b) in enumerate(zip(p.weights, p.biases)):
        sw2 = W.shape[2] * np.mean(W * W)
        sb2 = np.mean(b * b)
        q = sw2 * np.mean(X * X) + sb2 if l == 0 else sw2 * q / 2 + sb2
        expected.append(math.sqrt(q))
    np.testing.assert_allclose(mean_field(p, X, "relu"), expected, rtol=1e-12)


def test_perceptron_in_epochs_equals_one_fit_and_the_book():
    s = Session(PRESETS["perceptron-random"]["state"])
    for _ in range(10):
        s.advance(1)
    X, y = load_dataset("iris2")
    for k, eta in enumerate(s.config.state["values"]):
        one = Perceptron(eta=eta, n_iter=10, random_state=1).fit(X, y)
        run = s.perceptrons[k]
        assert run.errors == one.errors_
        assert np.array_equal(run.path, one.history_["weights"])
    book = s.setup()["panels"][2]["book"]
    assert book["errors"] == [1, 3, 3, 2, 1, 0, 0, 0, 0, 0]  # Raschka, ch. 2
    assert s.perceptrons[2].errors == book["errors"]


def test_perceptron_from_zero_scales_with_eta():
    s = Session(PRESETS["perceptron-zero"]["state"])
    s.advance(10)
    frames = s.frame()["panels"]
    u0 = np.array(frames[0]["w_over_eta"])
    for f in frames[1:]:
        # w = eta u: equal up to the rounding of the products (a few ulps of |u|).
        np.testing.assert_allclose(f["w_over_eta"], u0, rtol=0, atol=1e-13 * np.abs(u0).max())
        assert "the same number of updates in every epoch" in f["relation"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"init": "normal(std=-1)"}, "values.0", "The 'std' parameter of normal must be a float"),
        ({"values": ["zeros", "nosuch"]}, "values.1", "Unknown init 'nosuch'"),
        ({"hidden": "10,5000"}, "units", "must be an int in [1, 32]. Got 5000 instead."),
        ({"hidden": ",".join(["4"] * 9)}, "hidden", "at most 8 layers"),
        ({"n": 10**6}, "n", "The 'n' parameter of playground must be an int in [10, 2000]"),
        ({"lr": "nan"}, "lr", "Got nan instead."),
        ({"values": ["zeros"] * 5}, "values", "1 to 4 panels"),
        ({"act": "relu(slope=2)"}, "act", "Unknown parameter 'slope' for activation 'relu'"),
        ({"dataset": "digits"}, "dataset", "one of 'circles'"),
        ({"solver": "lbfgs"}, "solver", "one of 'gd', 'sgd', 'adam'"),
        ({"evil": "__import__('os')"}, "evil", "Unknown setting 'evil'"),
        ({"init": "__import__('os').system('true')"}, "init", "must be a name optionally"),
    ],
)
def test_bad_state_is_refused_naming_the_field(change, field, message):
    state = course(**change)
    if "init" in change and field == "values.0":
        state = course(values=[change["init"]])
    with pytest.raises(StateError) as err:
        parse_state(state)
    assert err.value.field == field
    assert message in str(err.value)


def test_limits_are_the_pages():
    # The page reads LIMITS from /api/meta; the server refuses beyond them.
    lo, hi = LIMITS["units"]
    parse_state(course(hidden=f"{hi},{lo}"))
    with pytest.raises(StateError):
        parse_state(course(hidden=f"{hi + 1}"))


def test_refused_configure_leaves_the_session_as_it_was():
    s = Session(course())
    s.advance(10)
    before = s.frame()["panels"][2]["fingerprint"]
    with pytest.raises(StateError):
        s.configure(course(hidden="0"))
    assert s.t == 10 and s.frame()["panels"][2]["fingerprint"] == before
