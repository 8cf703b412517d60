"""The estimators: scikit-learn's contract, composition, parameter errors and behaviour."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from initlab import (
    DivergedWarning,
    LogisticRegression,
    MLPClassifier,
    Perceptron,
    load_dataset,
)

ESTIMATORS = [
    Perceptron(),
    LogisticRegression(max_iter=200),
    # Small and quick: the checks fit hundreds of times; Adam reaches their accuracy bar fast.
    MLPClassifier(hidden_layer_sizes=(8,), solver="adam", learning_rate=0.05, max_iter=100),
]


@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_grid_search_over_init_in_a_pipeline():
    X, y = load_dataset("circles", n_samples=200, noise=0.05, random_state=0)
    pipe = make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=(8,), max_iter=300, solver="adam", learning_rate=0.05, random_state=0
        ),
    )
    grid = GridSearchCV(pipe, {"mlpclassifier__init": ["zeros", "he_normal"]}, cv=3).fit(X, y)
    scores = dict(
        zip(grid.cv_results_["param_mlpclassifier__init"], grid.cv_results_["mean_test_score"])
    )
    assert grid.best_params_ == {"mlpclassifier__init": "he_normal"}
    assert scores["zeros"] <= 0.55 < 0.9 < scores["he_normal"]


@pytest.mark.parametrize(
    ("activation", "expected"),
    [
        ("relu", "he_normal"),
        ("tanh", "glorot_uniform"),
        ("sigmoid", "glorot_uniform"),
        ("selu", "lecun_normal"),
    ],
)
def test_auto_init_names_the_scheme_it_used(activation, expected):
    X, y = load_dataset("moons", n_samples=50, random_state=0)
    clf = MLPClassifier(activation=activation, max_iter=2, random_state=0).fit(X, y)
    assert clf.init_used_ == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"learning_rate": 0},
            "The 'learning_rate' parameter of MLPClassifier must be a float > 0",
        ),
        ({"max_iter": -5}, "The 'max_iter' parameter of MLPClassifier must be an int >= 1"),
        ({"hidden_layer_sizes": (10, -1)}, "'hidden_layer_sizes' parameter of MLPClassifier must"),
        ({"init": "xavier_bogus"}, "'init' parameter of MLPClassifier is invalid: Unknown init"),
        ({"init": "normal(sd=1)"}, "Unknown parameter 'sd'"),
        ({"activation": "relu6"}, "'activation' parameter of MLPClassifier is invalid"),
        ({"solver": "lbfgs"}, "The 'solver' parameter of MLPClassifier must be one of"),
        ({"dtype": "float16"}, "The 'dtype' parameter of MLPClassifier must be 'float64' or"),
        ({"init": ["zeros"]}, "one spec or a list of 3 specs"),
    ],
)
def test_bad_parameters_are_named_at_fit(params, message):
    X, y = load_dataset("moons", n_samples=20, random_state=0)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        MLPClassifier(**params).fit(X, y)


def test_perceptron_bad_parameters():
    X, y = load_dataset("iris2")
    with pytest.raises(ValueError, match="The 'eta' parameter of Perceptron must be a float > 0"):
        Perceptron(eta=-0.1).fit(X, y)


def test_divergence_is_a_warning_and_an_attribute_never_a_crash():
    X, y = load_dataset("circles", n_samples=100, random_state=0)
    clf = MLPClassifier(init="normal(std=1e150)", learning_rate=10, max_iter=50, random_state=0)
    with pytest.warns(DivergedWarning, match="diverged at iteration"):
        clf.fit(X, y)
    assert clf.diverged_ and clf.history_["diverged_at"] is not None
    for W in clf.coefs_:
        assert np.isfinite(W).all()
    assert clf.predict(X).shape == (100,)
    assert np.isfinite(clf.predict_proba(X)).all()


def test_multiclass_uses_softmax_and_learns():
    X, y = load_dataset("digits")
    clf = MLPClassifier(
        hidden_layer_sizes=(32,), solver="adam", learning_rate=0.01, max_iter=100, random_state=0
    ).fit(X, y)
    assert clf.out_activation_ == "softmax" and clf.coefs_[-1].shape == (10, 32)
    np.testing.assert_allclose(clf.predict_proba(X[:5]).sum(axis=1), 1)
    assert clf.score(X, y) > 0.95


def test_float32_on_request():
    X, y = load_dataset("moons", n_samples=100, random_state=0)
    clf = MLPClassifier(dtype="float32", max_iter=50, random_state=0).fit(X, y)
    assert all(W.dtype == np.float32 for W in clf.coefs_)
    assert clf.predict_proba(X).dtype == np.float32


def test_lsuv_start_has_unit_variance_layers():
    X, y = load_dataset("gaussians", n_samples=300, n_features=10, random_state=0)
    clf = MLPClassifier(
        hidden_layer_sizes=(32, 32), activation="tanh", init="lsuv", max_iter=1, random_state=0
    ).fit(X, y)
    lsuv = clf.history_["lsuv"]
    assert len(lsuv["variance"]) == 3
    for v in lsuv["variance"]:
        assert abs(v[0] - 1) < 0.1


def test_mini_batch_training_is_reproducible_and_shuffles():
    X, y = load_dataset("moons", n_samples=120, random_state=0)
    kw = dict(batch_size=16, solver="sgd", learning_rate=0.05, max_iter=20)
    a = MLPClassifier(random_state=5, **kw).fit(X, y)
    b = MLPClassifier(random_state=5, **kw).fit(X, y)
    c = MLPClassifier(random_state=5, shuffle=False, **kw).fit(X, y)
    assert np.array_equal(a.loss_curve_, b.loss_curve_)
    assert not np.array_equal(a.loss_curve_, c.loss_curve_)
    assert a.t_ == 20 * 8  # 120 samples in batches of 16: 8 updates per epoch


def test_snapshots_hold_parameters_and_gradients():
    X, y = load_dataset("circles", n_samples=60, random_state=0)
    clf = MLPClassifier(init="zeros", max_iter=10, snapshot_every=5, random_state=0).fit(X, y)
    snaps = clf.history_["snapshots"]
    assert [s["iteration"] for s in snaps] == [0, 5]
    for s in snaps:
        assert all(not g.any() for g in s["grad_weights"])  # the zero start's gradients


def test_logistic_regression_from_zero_and_random_starts_agree():
    X, y = load_dataset("moons", n_samples=200, noise=0.3, random_state=0)  # not separable
    kw = dict(learning_rate=0.5, max_iter=3000)
    zero = LogisticRegression(init="zeros", **kw).fit(X, y)
    rand = LogisticRegression(
        init="normal(std=1)", bias_init="normal(std=1)", random_state=0, **kw
    ).fit(X, y)
    np.testing.assert_allclose(zero.coef_, rand.coef_, rtol=1e-4)
    np.testing.assert_allclose(zero.loss_curve_[-1], rand.loss_curve_[-1], rtol=1e-8)


def test_perceptron_any_two_labels_and_zero_start_ignores_eta():
    X, y = load_dataset("iris2")
    labels = np.where(y == 0, "setosa", "versicolor")
    errors = set()
    for eta in (0.001, 0.25, 4.0):  # powers of two and others
        clf = Perceptron(eta=eta, init="zeros").fit(X, labels)
        errors.add(tuple(clf.errors_))
        assert set(clf.predict(X)) == {"setosa", "versicolor"}
    assert len(errors) == 1


def test_unfitted_model_warns_nothing_and_fit_returns_self():
    X, y = load_dataset("xor", n_samples=40, random_state=0)
    clf = MLPClassifier(max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert clf.fit(X, y) is clf


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(4, 40),
    k=st.integers(-10, 6),
    separable=st.booleans(),
)
def test_zero_start_perceptron_is_blind_to_eta_bit_for_bit(seed, n, k, separable):
    # From w = 0 every update is eta times an integer combination of samples, so w / eta is the
    # same vector whatever eta; with eta a power of two that holds in floating point exactly.
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = (X @ [1.0, -2.0, 0.5] > 0).astype(int) if separable else rng.integers(0, 2, n)
    if len(np.unique(y)) < 2:
        y[0] = 1 - y[0]
    ref = Perceptron(eta=1.0, init="zeros").fit(X, y)
    eta = 2.0**k
    clf = Perceptron(eta=eta, init="zeros").fit(X, y)
    assert clf.errors_ == ref.errors_
    assert np.array_equal(clf.coef_ / eta, ref.coef_)
    assert np.array_equal(clf.predict(X), ref.predict(X))
