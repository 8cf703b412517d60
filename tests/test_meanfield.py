"""initlab.meanfield against closed forms, adaptive quadrature and simulated networks.

Tolerances. The module's quadrature rules are exact to ~1e-15 per Gaussian expectation; sums over
up to 40 000 nodes and one division keep ~1e-13, so closed forms are checked to QUAD = 1e-12.
Fixed points and critical points come from Brent's method at rtol ~1e-12 on functions known to
~1e-14. Simulated networks of width N fluctuate: given the layer below, the N pre-activations of
a layer are independent Gaussians, so each Gaussian average over the layer carries a relative
variance of about 2 / N; the tests allow 5 standard deviations.
"""

import json
import math
import re

import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import integrate, optimize

from initlab import meanfield as mf
from initlab import plots
from initlab.activations import list_activations

QUAD = 1e-12
SQRT2PI = math.sqrt(2 * math.pi)


def gauss_mean(f):
    """E[f(z)], z ~ N(0, 1), by adaptive quadrature: an oracle independent of the module's rules."""
    return integrate.quad(
        lambda z: f(z) * math.exp(-0.5 * z * z) / SQRT2PI, -np.inf, np.inf, epsabs=1e-14
    )[0]


def arc_cosine(c):
    """E[relu(u1) relu(u2)] / (q / 2) and the step's E[1{u1>0} 1{u2>0}] (Cho & Saul, 2009)."""
    theta = math.acos(c)
    return (math.sin(theta) + (math.pi - theta) * c) / math.pi, (math.pi - theta) / (2 * math.pi)


# --- closed forms -----------------------------------------------------------------------------


@pytest.mark.parametrize("sigma_w", [0.5, 1.3, 2.0])
@pytest.mark.parametrize("sigma_b", [0.0, 0.4])
def test_relu_length_map_and_chi_1(sigma_w, sigma_b):
    q = np.array([0.0, 0.3, 2.5, 1e4])
    expected = sigma_w**2 * q / 2 + sigma_b**2  # E[relu(sqrt(q) z)^2] = q / 2
    np.testing.assert_allclose(mf.qmap(q, "relu", sigma_w, sigma_b), expected, rtol=QUAD)
    # chi_1 = sigma_w^2 P(z > 0) at every q, including the limits q -> 0+ and q -> inf
    chi = mf.chi_1("relu", sigma_w, sigma_b, q=np.array([0.0, 1.0, np.inf]))
    np.testing.assert_allclose(chi, sigma_w**2 / 2, rtol=QUAD)
    assert mf.chi_1("relu", sigma_w, sigma_b) == pytest.approx(sigma_w**2 / 2, rel=QUAD)


@pytest.mark.parametrize("c", [-1.0, -0.5, 0.0, 0.5, 0.9, 1.0])
def test_relu_correlation_map_is_the_arc_cosine_kernel(c):
    k1, k0 = arc_cosine(c)
    # sigma_b = 0: the map does not depend on sigma_w or q
    assert mf.cmap(c, "relu", 1.3, 0.0, q=2.0) == pytest.approx(k1, abs=QUAD)
    # sigma_b > 0: covariance sigma_w^2 q k1 / 2 + sigma_b^2 over variance sigma_w^2 q / 2 + ...
    sw2, sb2, q = 1.2**2, 0.3**2, 0.7
    expected = (sw2 * q * k1 / 2 + sb2) / (sw2 * q / 2 + sb2)
    assert mf.cmap(c, "relu", 1.2, 0.3, q=q) == pytest.approx(expected, abs=QUAD)
    if abs(c) < 1:  # the step derivative's kernel: chi_c(c) = sigma_w^2 (pi - theta) / (2 pi)
        assert mf.chi_c("relu", 1.2, 0.3, c=c) == pytest.approx(sw2 * k0, abs=QUAD)


def test_relu_edge_of_chaos_is_sigma_w2_2_for_every_bias():
    for sigma_b in (0.0, 0.3):
        assert mf.critical_sigma_w("relu", sigma_b) ** 2 == pytest.approx(2.0, rel=QUAD)
    assert mf.analyze("relu", math.sqrt(2)).phase == "critical"
    assert mf.fixed_point("relu", 1.0) == 0.0  # sigma_w^2 < 2, no bias: the length vanishes
    assert mf.fixed_point("relu", 1.5) == math.inf  # sigma_w^2 > 2: it explodes
    assert mf.fixed_point("relu", math.sqrt(2), q0=3.0) == pytest.approx(3.0, rel=QUAD)  # marginal
    # q* = sigma_b^2 / (1 - sigma_w^2 / 2)
    assert mf.fixed_point("relu", 1.2, 0.5) == pytest.approx(0.25 / (1 - 0.72), rel=1e-11)


@pytest.mark.parametrize("sigma_w", [0.5, 0.9])
def test_tanh_without_bias_is_ordered_below_sigma_w_1(sigma_w):
    # q* = 0 and chi_1 = sigma_w^2 tanh'(0)^2 = sigma_w^2 (the limit q -> 0+)
    m = mf.analyze("tanh", sigma_w)
    assert m.q_star == 0.0 and m.c_star == 1.0 and m.phase == "ordered"
    assert m.chi_1 == pytest.approx(sigma_w**2, rel=QUAD)
    assert m.xi_c == pytest.approx(-1 / math.log(sigma_w**2), rel=1e-10)
    assert m.xi_q == pytest.approx(-1 / math.log(sigma_w**2), rel=1e-10)


def test_tanh_without_bias_is_critical_at_sigma_w_1():
    # chi_1 - 1 = sigma_w^2 - 1 below 1 but only ~(sigma_w^2 - 1)^2 / 3 above (q* ~ (1 - 1 /
    # sigma_w^2) / 2): rounding of chi_1 (1e-16) moves the root by up to sqrt(3e-16) ~ 2e-8.
    assert mf.critical_sigma_w("tanh") == pytest.approx(1.0, abs=1e-7)
    m = mf.analyze("tanh", 1.3)
    assert m.q_star > 0 and m.phase == "chaotic"


@pytest.mark.parametrize(("sigma_w", "sigma_b"), [(0.3, 0.5), (0.8, 1.0)])
def test_linear_closed_forms(sigma_w, sigma_b):
    sw2, sb2 = sigma_w**2, sigma_b**2
    m = mf.analyze("linear", sigma_w, sigma_b)
    assert m.q_star == pytest.approx(sb2 / (1 - sw2), rel=1e-11)
    assert m.chi_1 == pytest.approx(sw2, rel=QUAD)
    assert m.xi_q == pytest.approx(-1 / math.log(sw2), rel=1e-10)  # the length map's slope
    assert m.xi_c == pytest.approx(-1 / math.log(sw2), rel=1e-10)
    c = np.array([-0.3, 0.2, 0.8])
    q = 0.6
    np.testing.assert_allclose(
        mf.cmap(c, "linear", sigma_w, sigma_b, q=q),
        (sw2 * q * c + sb2) / (sw2 * q + sb2),
        atol=QUAD,
    )


def test_linear_divergence_and_marginal_cases():
    assert mf.fixed_point("linear", 1.0, 0.5) == math.inf  # q grows by sigma_b^2 per layer
    assert mf.fixed_point("linear", 1.2) == math.inf
    assert mf.fixed_point("linear", 1.0, q0=2.5) == 2.5  # every q is a fixed point
    m = mf.analyze("linear", 1.2, 0.1)
    assert m.q_star == math.inf and m.phase == "chaotic"
    assert math.isnan(m.c_star) and math.isnan(m.xi_c) and math.isnan(m.xi_q)


# --- against an independent computation --------------------------------------------------------


def _tanh_chi_1_reference(sw2, sb2):
    """chi_1 at q* by scipy's adaptive quadrature and Brent's method, sharing no code with
    initlab: h(sb2) >= 0 and h(sw2 + sb2) < 0 for tanh (|tanh| < 1) bracket q*."""

    def h(q):
        return sw2 * gauss_mean(lambda z: math.tanh(math.sqrt(q) * z) ** 2) + sb2 - q

    q_star = optimize.brentq(h, sb2, sw2 + sb2, xtol=1e-15)
    return sw2 * gauss_mean(lambda z: (1 - math.tanh(math.sqrt(q_star) * z) ** 2) ** 2)


def test_tanh_critical_line_against_adaptive_quadrature():
    sb2 = 0.05
    reference = optimize.brentq(lambda sw2: _tanh_chi_1_reference(sw2, sb2) - 1, 1.0, 3.0)
    # Both sides know chi_1 to ~1e-12 and d chi_1 / d sigma_w^2 ~ 0.5, so the roots agree to
    # ~1e-11; 1e-8 leaves room for brentq's default xtol (2e-12) on the reference.
    assert mf.critical_sigma_w("tanh", math.sqrt(sb2)) ** 2 == pytest.approx(reference, rel=1e-8)
    # Schoenholz et al.'s phase diagram: the edge crosses sigma_b^2 = 0.05 near sigma_w^2 = 1.76.
    assert reference == pytest.approx(1.76, abs=0.01)
    # The critical line rises from sigma_w^2 = 1 as the bias grows.
    line = [mf.critical_sigma_w("tanh", math.sqrt(b2)) ** 2 for b2 in (0.0, 0.01, 0.05, 0.2)]
    assert line[0] == pytest.approx(1.0, abs=1e-7)
    assert np.all(np.diff(line) > 0)


@pytest.mark.parametrize("c", [-0.4, 0.6])
def test_tanh_correlation_map_against_adaptive_quadrature(c):
    sigma_w, sigma_b = 1.5, 0.3
    q = mf.fixed_point("tanh", sigma_w, sigma_b)
    s = math.sqrt(1 - c * c)

    def integrand(z2, z1):
        u1, u2 = math.sqrt(q) * z1, math.sqrt(q) * (c * z1 + s * z2)
        return math.tanh(u1) * math.tanh(u2) * math.exp(-0.5 * (z1 * z1 + z2 * z2)) / (2 * math.pi)

    # Gaussian mass beyond |z| = 9 is < 1e-18; dblquad's tolerance is 1e-12.
    cov = integrate.dblquad(integrand, -9, 9, -9, 9, epsabs=1e-12)[0]
    expected = (sigma_w**2 * cov + sigma_b**2) / q
    assert mf.cmap(c, "tanh", sigma_w, sigma_b) == pytest.approx(expected, abs=1e-10)
    assert mf.cmap(1.0, "tanh", sigma_w, sigma_b) == pytest.approx(1.0, abs=QUAD)


@pytest.mark.parametrize("activation", ["tanh", "elu", "gelu", "softplus"])
def test_chi_c_and_xi_q_are_the_slopes_of_the_maps(activation):
    sigma_w, sigma_b = 1.2, 0.2
    q = mf.fixed_point(activation, sigma_w, sigma_b)
    # Central differences: truncation h^2 |f'''| / 6 ~ 1e-9, rounding 1e-13 / h ~ 1e-9.
    h = 1e-4

    def c_next(c):
        return mf.cmap(c, activation, sigma_w, sigma_b)

    def q_next(q):
        return mf.qmap(q, activation, sigma_w, sigma_b)

    slope_c = (c_next(0.5 + h) - c_next(0.5 - h)) / (2 * h)
    assert mf.chi_c(activation, sigma_w, sigma_b, c=0.5) == pytest.approx(slope_c, abs=1e-7)
    slope_q = (q_next(q * (1 + h)) - q_next(q * (1 - h))) / (2 * h * q)
    xi_q, _ = mf.depth_scales(activation, sigma_w, sigma_b)
    assert -1 / math.log(slope_q) == pytest.approx(xi_q, rel=1e-6)


def test_xi_q_is_the_papers_formula_for_tanh():
    # xi_q^-1 = -log(chi_1 + sigma_w^2 E[phi''(u) phi(u)]), phi'' = -2 tanh sech^2, u = sqrt(q*) z
    sigma_w, sigma_b = 1.5, 0.3
    m = mf.analyze("tanh", sigma_w, sigma_b)
    r = math.sqrt(m.q_star)
    second = gauss_mean(lambda z: -2 * math.tanh(r * z) ** 2 * (1 - math.tanh(r * z) ** 2))
    assert m.xi_q == pytest.approx(-1 / math.log(m.chi_1 + sigma_w**2 * second), rel=1e-10)


@pytest.mark.parametrize("activation", list_activations())
@pytest.mark.parametrize("q0", [0.01, 5.0])
def test_fixed_point_is_the_limit_of_the_iteration(activation, q0):
    sigma_w, sigma_b = 0.9, 0.2  # every length map's slope is < 0.95 here: 600 steps converge
    q = q0
    for _ in range(600):
        q = mf.qmap(q, activation, sigma_w, sigma_b)
    q_star = mf.fixed_point(activation, sigma_w, sigma_b, q0=q0)
    assert q_star == pytest.approx(q, rel=1e-10)
    assert mf.qmap(q_star, activation, sigma_w, sigma_b) == pytest.approx(q_star, rel=1e-11)


# --- the phase transition ----------------------------------------------------------------------


def test_xi_c_diverges_at_the_edge_and_the_phase_flips():
    sigma_b = math.sqrt(0.05)
    sc = mf.critical_sigma_w("tanh", sigma_b)
    edge = mf.analyze("tanh", sc, sigma_b)
    assert edge.phase == "critical" and edge.xi_c == math.inf and math.isfinite(edge.xi_q)
    previous = {"ordered": 0.0, "chaotic": 0.0}
    for eps in (1e-1, 1e-2, 1e-3):
        below = mf.analyze("tanh", sc * (1 - eps), sigma_b)
        above = mf.analyze("tanh", sc * (1 + eps), sigma_b)
        assert (below.phase, above.phase) == ("ordered", "chaotic")
        assert below.c_star == 1.0 and above.c_star < 1.0  # c = 1 loses stability
        assert above.chi_c < 1 < above.chi_1
        for m in (below, above):
            assert 0 < m.xi_c < math.inf
            assert m.xi_c > previous[m.phase]  # grows towards the edge from both sides
            previous[m.phase] = m.xi_c
        # ordered: xi_c = -1 / log chi_1 exactly (Schoenholz et al., Section 3)
        assert below.xi_c == pytest.approx(-1 / math.log(below.chi_1), rel=1e-12)


def test_analyze_result_reads_and_serializes():
    m = mf.analyze("tanh", 1.5, 0.3)
    text = repr(m)
    assert text.startswith("MeanField(activation='tanh', sigma_w=1.5, sigma_b=0.3, q_star=0.9608")
    assert text.endswith("phase='chaotic')")
    d = m.to_dict()
    assert set(d) == {
        "activation",
        "sigma_w",
        "sigma_b",
        "q_star",
        "c_star",
        "chi_1",
        "chi_c",
        "xi_q",
        "xi_c",
        "phase",
    }
    assert json.loads(json.dumps(d)) == d
    assert mf.depth_scales("tanh", 1.5, 0.3) == (m.xi_q, m.xi_c)
    assert mf.chi_c("tanh", 1.5, 0.3) == pytest.approx(m.chi_c, rel=QUAD)


def test_phase_diagram_data_and_figure(tmp_path):
    d = mf.phase_diagram("tanh", sigma_w2=[0.8, 1.5, 2.2, 3.0], sigma_b2=[0.0, 0.05, 0.1])
    assert d.xi_c.shape == d.chi_1.shape == (3, 4)
    assert d.critical_sigma_w2[0] == pytest.approx(1.0, abs=1e-7)
    edge = np.interp(d.sigma_b2, d.critical_sigma_b2, d.critical_sigma_w2)
    expected = np.where(d.sigma_w2[None, :] < edge[:, None], "ordered", "chaotic")
    np.testing.assert_array_equal(d.phase, expected)
    assert np.all((d.xi_c > 0) & np.isfinite(d.xi_c))
    assert "PhaseDiagram(activation='tanh'" in repr(d)
    json.dumps(d.to_dict())

    fig = plots.phase_diagram(d)
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_xlabel() == "$\\sigma_w^2$"
    assert plots.save(fig, tmp_path / "phases.png").stat().st_size > 0
    # on a given Axes, with the relu diagram's diverging (q* = inf) half
    fig = Figure()
    ax = fig.add_subplot()
    relu = mf.phase_diagram("relu", sigma_w2=[1.0, 1.9, 2.5], sigma_b2=[0.0, 0.1])
    assert np.isnan(relu.xi_c[:, 2]).all()
    assert plots.phase_diagram(relu, ax=ax) is fig


# --- simulated networks ------------------------------------------------------------------------

WIDTH, DEPTH = 1000, 20


def test_simulated_length_approaches_q_star():
    sigma_w, sigma_b = 1.5, 0.3
    sim = mf.simulate(
        "tanh", sigma_w, sigma_b, depth=DEPTH, width=WIDTH, n_inputs=4, random_state=0
    )
    m = mf.analyze("tanh", sigma_w, sigma_b)
    # Layer 1 sees the exact inputs: only the chi-square noise of N Gaussians, sqrt(2 / N).
    assert sim.q_theory[0] == pytest.approx(sigma_w**2 * 1.0 + sigma_b**2, rel=QUAD)
    assert abs(sim.q[0] / sim.q_theory[0] - 1) < 5 * math.sqrt(2 / WIDTH)
    # Deeper, a layer adds that noise and the noise of the average of phi^2 over N units
    # (relative variance sigma_w^4 Var[phi^2] / q*^2 / N); the length map, of slope s, carries
    # a fraction s of the deviation to the next layer: variance / (1 - s^2) at most.
    s = math.exp(-1 / m.xi_q)
    r = math.sqrt(m.q_star)
    var_phi2 = (
        gauss_mean(lambda z: math.tanh(r * z) ** 4)
        - gauss_mean(lambda z: math.tanh(r * z) ** 2) ** 2
    )
    sd = math.sqrt((2 + sigma_w**4 * var_phi2 / m.q_star**2) / (WIDTH * (1 - s * s)))
    deep = slice(11, None)  # by layer 12 the theory is at q*: (s^11 ~ 1e-4) x (q_1 - q*)
    np.testing.assert_allclose(sim.q_theory[deep], m.q_star, rtol=1e-3)
    assert np.all(np.abs(sim.q[deep] / m.q_star - 1) < 5 * sd)


@pytest.mark.parametrize(
    ("sigma_w", "phase"), [(0.8, "ordered"), (2.0, "chaotic")], ids=["ordered", "chaotic"]
)
def test_nearby_inputs_converge_or_diverge_at_rate_chi_1(sigma_w, phase):
    # Two inputs with c0 = 1 - 1e-6: 1 - c_l is multiplied by the correlation map's slope at
    # c = 1, chi_1, per layer: < 1 (they converge, c = 1 is stable) in the ordered phase, > 1
    # (they decorrelate) in the chaotic phase, until 1 - c is no longer small.
    sigma_b = 0.3
    m = mf.analyze("tanh", sigma_w, sigma_b)
    assert m.phase == phase
    sim = mf.simulate(
        "tanh", sigma_w, sigma_b, depth=DEPTH, width=WIDTH, c0=1 - 1e-6, random_state=1
    )
    first, last = 9, DEPTH - 1  # layers 10 to 20
    n = last - first

    def rate(c):
        return (math.log(1 - c[last]) - math.log(1 - c[first])) / n

    # theory: per-layer log-rate -> log chi_1 (chi_c at c = 1)
    assert rate(sim.c_theory) == pytest.approx(math.log(m.chi_1), abs=0.01)
    # Per layer, log(1 - c) moves by three width-N Gaussian averages (|z_a - z_b|^2,
    # sum phi'^2 (z_a - z_b)^2 and q), each of relative variance ~2 / N: sd <= sqrt(8 / N),
    # independent across layers, so the mean over n layers has sd sqrt(8 / N) / sqrt(n).
    sd = math.sqrt(8 / WIDTH) / math.sqrt(n)
    assert rate(sim.c) == pytest.approx(rate(sim.c_theory), abs=5 * sd)
    assert (rate(sim.c) < 0) == (phase == "ordered")


def test_simulate_is_reproducible_and_follows_the_house_randomness():
    a = mf.simulate("relu", 1.2, 0.1, depth=3, width=50, n_inputs=3, random_state=7)
    b = mf.simulate("relu", 1.2, 0.1, depth=3, width=50, n_inputs=3, random_state=7)
    np.testing.assert_array_equal(a.q, b.q)
    np.testing.assert_array_equal(a.c, b.c)
    c = mf.simulate("relu", 1.2, 0.1, depth=3, width=50, random_state=np.random.default_rng(7))
    assert c.q.shape == c.c.shape == c.q_theory.shape == (3,)
    assert list(a.layers) == [1, 2, 3]
    assert "Simulation(activation='relu'" in repr(a)
    json.dumps(a.to_dict())
    # c0 = 1: identical inputs stay identical
    same = mf.simulate("tanh", 1.5, 0.3, depth=3, width=50, c0=1.0, random_state=0)
    np.testing.assert_allclose(same.c, 1.0, rtol=1e-12)


# --- bad input ---------------------------------------------------------------------------------

BAD = [
    (
        mf.qmap,
        (1.0, "foo", 1.0),
        {},
        "The 'activation' parameter of qmap is invalid: Unknown activation 'foo'",
    ),
    (mf.fixed_point, ("nope", 1.0), {}, "The 'activation' parameter of fixed_point is invalid"),
    (mf.analyze, ("swish(beta=2)", 1.0), {}, "The 'activation' parameter of analyze is invalid"),
    (mf.phase_diagram, ("foo",), {}, "The 'activation' parameter of phase_diagram is invalid"),
    (mf.simulate, ("foo", 1.0), {}, "The 'activation' parameter of simulate is invalid"),
    (mf.critical_sigma_w, ("foo",), {}, "The 'activation' parameter of critical_sigma_w is"),
    (
        mf.fixed_point,
        ("tanh", 0.0),
        {},
        "The 'sigma_w' parameter of fixed_point must be a float > 0. Got 0.0 instead.",
    ),
    (
        mf.analyze,
        ("tanh", -1.5),
        {},
        "The 'sigma_w' parameter of analyze must be a float > 0. Got -1.5 instead.",
    ),
    (
        mf.chi_1,
        ("tanh", 1.0, -0.1),
        {},
        "The 'sigma_b' parameter of chi_1 must be a float >= 0. Got -0.1 instead.",
    ),
    (mf.chi_c, ("tanh", 1.0, -0.1), {}, "The 'sigma_b' parameter of chi_c must be a float >= 0."),
    (
        mf.critical_sigma_w,
        ("tanh", -1.0),
        {},
        "The 'sigma_b' parameter of critical_sigma_w must be a float >= 0. Got -1.0 instead.",
    ),
    (mf.qmap, (-1.0, "tanh", 1.0), {}, "The 'q' parameter of qmap must be a finite float >= 0"),
    (mf.cmap, (1.5, "tanh", 1.0), {}, "The 'c' parameter of cmap must be a float in [-1, 1]"),
    (mf.chi_c, ("tanh", 1.0), {"c": 2.0}, "The 'c' parameter of chi_c must be a float in [-1, 1]"),
    (
        mf.fixed_point,
        ("tanh", 1.0),
        {"q0": -1.0},
        "The 'q0' parameter of fixed_point must be a float >= 0. Got -1.0 instead.",
    ),
    (
        mf.simulate,
        ("tanh", 1.0),
        {"width": 2},
        "The 'width' parameter of simulate must be an int >= 3. Got 2 instead.",
    ),
    (
        mf.simulate,
        ("tanh", 1.0),
        {"c0": 1.5},
        "The 'c0' parameter of simulate must be a float in [0, 1]. Got 1.5 instead.",
    ),
    (
        mf.phase_diagram,
        ("tanh", [0.0, 1.0]),
        {},
        "The 'sigma_w2' parameter of phase_diagram must be a 1-D sequence of floats > 0.",
    ),
]


@pytest.mark.parametrize(("func", "args", "kwargs", "message"), BAD)
def test_bad_input_raises_house_style_errors(func, args, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        func(*args, **kwargs)
