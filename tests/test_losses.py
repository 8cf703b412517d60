"""Losses: stable forms against the textbook formulas and SciPy, and their behaviour at extremes."""

import numpy as np
import pytest
from scipy.special import expit, log_softmax

from initlab import losses


def test_binary_cross_entropy_equals_the_textbook_formula_where_both_are_finite():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 1, 50)) * 4
    y = (rng.random((1, 50)) > 0.5).astype(float)
    p = expit(z)
    np.testing.assert_allclose(
        losses.binary_cross_entropy(z, y), losses.textbook_binary_cross_entropy(p, y), rtol=1e-12
    )


def test_binary_cross_entropy_stays_finite_where_the_textbook_gives_inf():
    z = np.array([[[800.0, -800.0, 3.0]]])
    y = np.array([[0.0, 1.0, 1.0]])
    p = losses.output_activation(z, "sigmoid")
    assert np.isinf(losses.textbook_binary_cross_entropy(p, y)[0])
    expected = (800.0 + 800.0 + np.log1p(np.exp(-3.0))) / 3
    np.testing.assert_allclose(losses.binary_cross_entropy(z, y), [expected], rtol=1e-15)


def test_textbook_loss_drops_the_zero_times_inf_terms_of_saturated_correct_samples():
    # p == 1 exactly with y == 1: -log(1 - p) * 0 = inf * 0 = nan, dropped by the nansum.
    p = np.array([[1.0, 0.5]])
    y = np.array([[1.0, 1.0]])
    np.testing.assert_allclose(losses.textbook_binary_cross_entropy(p, y), np.log(2) / 2)


def test_cross_entropy_matches_scipy_log_softmax():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((2, 4, 30)) * 50
    labels = rng.integers(0, 4, 30)
    y = np.zeros((4, 30))
    y[labels, np.arange(30)] = 1
    expected = -log_softmax(z, axis=1)[:, labels, np.arange(30)].mean(axis=1)
    np.testing.assert_allclose(losses.cross_entropy(z, y), expected, rtol=1e-12)
    assert np.allclose(losses.softmax(z).sum(axis=1), 1)


@pytest.mark.parametrize(
    ("output", "loss"), [("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy")]
)
def test_the_gradient_of_a_matched_output_and_loss_is_p_minus_y_over_m(output, loss):
    rng = np.random.default_rng(2)
    c = 1 if output == "sigmoid" else 3
    z = rng.standard_normal((1, c, 8))
    y = np.eye(c)[:, rng.integers(0, c, 8)] if c > 1 else (rng.random((1, 8)) > 0.5) * 1.0
    _, dz, out = losses.loss_and_grad(z, y, loss, output)
    np.testing.assert_allclose(dz, (out - y) / 8, rtol=1e-15)


def test_mismatched_output_and_loss_is_refused():
    with pytest.raises(ValueError, match="Allowed outputs: softmax"):
        losses.check_loss("cross_entropy", "sigmoid")
    with pytest.raises(ValueError, match="Unknown loss 'hinge'"):
        losses.check_loss("hinge", "identity")
