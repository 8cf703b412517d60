"""The depth-signal study: the quick run's numbers, verdicts and claim; the mean-field helper."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from _answers import check_answers
from initlab import meanfield
from initlab.initializers import get_initializer
from initlab.studies import depth_signal as ds
from initlab.studies import run_study

QUICK = ds.SIZES["quick"]
N, L, K = QUICK["width"], QUICK["depth"], QUICK["seeds"]
TABLE = "Signal by scheme and activation"


@pytest.fixture(scope="module")
def result():
    return run_study("depth-signal", "quick", random_state=0)


def row(result, act: str, scheme: str) -> pd.Series:
    t = result.tables[TABLE]
    return t[(t["activation"] == act) & (t["scheme"] == scheme)].iloc[0]


def curve(result, act: str, scheme: str) -> pd.DataFrame:
    t = result.tables["Signal layer by layer"]
    return t[(t["activation"] == act) & (t["scheme"] == scheme)]


def test_tables_cover_every_scheme_and_activation(result):
    t = result.tables[TABLE]
    assert len(t) == len(ds.ACTIVATIONS) * len(ds.SCHEMES)
    assert set(t["scheme"]) == set(ds.SCHEMES)
    for l in QUICK["layers"]:
        assert f"std at layer {l}" in t.columns
    assert len(result.tables["Signal layer by layer"]) == len(t) * L
    assert set(t["verdict (per-sample)"]) <= {"vanishing", "exploding", "healthy"}


def test_claim_he_keeps_scale(result):
    (claim,) = result.findings
    assert claim.id == "he-keeps-scale"
    assert claim.study == "depth-signal"
    x = claim.numbers
    he, tl = row(result, "relu", "he_normal"), row(result, "relu", "torch_linear")
    # The verdict's grounds: He healthy by both measures, torch_linear's signal vanishing.
    assert he["verdict (all entries)"] == he["verdict (per-sample)"] == "healthy"
    assert tl["verdict (per-sample)"] == "vanishing"
    # He's length has no trend: E[q_l] is exactly constant for ReLU at sigma_w^2 = 2; one
    # network's log q drifts with variance ~ 5 L / N (Hanin and Rolnick), ~2% per layer over
    # 29 layers of 3 networks (seeds 0-11 of this study: 0.973 to 1.012); 5% is the bound.
    assert he["std ratio per layer"] == pytest.approx(1.0, abs=0.05)
    # ... but the per-sample signal keeps less than half of its layer-1 value (seeds 0-11:
    # 0.16 to 0.38, mean field 0.17), far above the vanishing threshold: qualified.
    assert ds.VANISH_TOTAL < x["he_signal_last"] / x["he_signal_first"] < 0.5
    assert claim.verdict == "qualified"
    assert "He's per-sample signal keeps only" in claim.evidence.split("Qualified: ")[1]
    assert f"{x['torch_signal_ratio_per_layer']:.3f} per layer" in claim.evidence


def test_torch_linear_shrinks_by_sqrt_chi1_per_layer(result):
    # ReLU after U(+-1/sqrt(n)) weights: sigma_w^2 = 1/3, half the units pass the variation,
    # chi_1 = 1/6. The geometric mean over 29 layers of 3 networks of width 128 fluctuates by
    # ~1% (per-layer log-variance noise ~ sqrt(2/N), / sqrt(29 layers)); 5% is ~4 sigma.
    r = row(result, "relu", "torch_linear")
    assert r["per-sample ratio per layer"] == pytest.approx(math.sqrt(1 / 6), rel=0.05)
    # Without the bias the length itself shrinks by sqrt(1/6) (seeds 0-11: within 3.3%); its
    # per-sample part a little faster, as the inputs also grow alike.
    r0 = row(result, "relu", "torch_linear, zero bias")
    assert r0["std ratio per layer"] == pytest.approx(math.sqrt(1 / 6), rel=0.05)
    assert r0["per-sample ratio per layer"] < r0["std ratio per layer"]
    # tanh: chi_1 = sigma_w^2 E[tanh'(z)^2] -> 1/3 at the tiny floor, where tanh is linear.
    t = row(result, "tanh", "torch_linear")
    assert t["per-sample ratio per layer"] == pytest.approx(math.sqrt(1 / 3), rel=0.05)


def test_torch_linear_bias_floor_is_not_signal(result):
    # All entries settle at sqrt(q*) = sqrt(2 / (5 n)) for relu: the mean of n squared
    # uniform biases has relative std sqrt(0.8 / n) = 8% in q per network, 2.3% in the std of
    # the mean over 3; 10% is ~4 sigma.
    for act in ds.ACTIVATIONS:
        r = row(result, act, "torch_linear")
        floor = math.sqrt(meanfield.fixed_point(act, math.sqrt(1 / 3), math.sqrt(1 / (3 * N))))
        assert r[f"std at layer {L}"] == pytest.approx(floor, rel=0.1)
        assert r["verdict (all entries)"] == "healthy"
        assert r["verdict (per-sample)"] == "vanishing"
        assert r[f"per-sample std at layer {L}"] < 1e-6 * r[f"std at layer {L}"]
        r0 = row(result, act, "torch_linear, zero bias")
        assert r0["verdict (all entries)"] == r0["verdict (per-sample)"] == "vanishing"
    assert math.sqrt(2 / (5 * N)) == pytest.approx(
        result.findings[0].numbers["torch_std_floor_mean_field"], rel=1e-9
    )


def test_zeros_is_exactly_zero(result):
    for act in ds.ACTIVATIONS:
        c = curve(result, act, "zeros")
        assert (c["std"] == 0).all() and (c["per-sample std"] == 0).all()
        assert (c["mean-field std"] == 0).all()
        assert row(result, act, "zeros")["verdict (per-sample)"] == "vanishing"


def test_verdicts(result):
    for act in ds.ACTIVATIONS:
        for scheme in ("he_normal", "lsuv"):
            assert row(result, act, scheme)["verdict (per-sample)"] == "healthy"
        assert row(result, act, "normal(std=0.01)")["verdict (per-sample)"] == "vanishing"
    # sigma_w^2 = 1 with ReLU halves q every layer: vanishing; with tanh it decays like 1/(2l).
    for scheme in ("glorot_normal", "orthogonal"):
        assert row(result, "relu", scheme)["verdict (per-sample)"] == "vanishing"
        assert row(result, "relu", scheme)["std ratio per layer"] == pytest.approx(
            math.sqrt(0.5), rel=0.05
        )
        assert row(result, "tanh", scheme)["verdict (per-sample)"] == "healthy"
        # q_l ~ 1/(2l) at large l (mean field at l = 30: 0.133 against 0.129); seeds 0-11 of
        # this study: within 13%.
        assert row(result, "tanh", scheme)[f"std at layer {L}"] == pytest.approx(
            1 / math.sqrt(2 * L), rel=0.2
        )


def test_lsuv_holds_unit_variance_every_layer(result):
    # engine.lsuv stops at |Var z - 1| < 0.1; mean z^2 = Var z + mean(z)^2 >= Var z.
    for act in ds.ACTIVATIONS:
        c = curve(result, act, "lsuv")
        assert (c["std min over seeds"] >= math.sqrt(0.9)).all()
        assert (c["std max over seeds"] <= math.sqrt(1.1) + 0.01).all()


def test_mean_field_agreement(result):
    # Largest |measured / mean field - 1| over the 30 layers, bounds set from seeds 0-11 of this
    # study (worst seen in brackets). tanh keeps q near a stable fixed point (he_normal: q* =
    # 0.618 [0.040]; lsuv: 1) or follows the marginal q_l ~ 1/(2l) (glorot_normal [0.12],
    # orthogonal, whose |Q x| = |x| removes the row-norm noise [0.007]).
    bounds = {"he_normal": 0.08, "lsuv": 0.02, "glorot_normal": 0.2, "orthogonal": 0.02}
    for scheme, bound in bounds.items():
        r = row(result, "tanh", scheme)
        assert r["max deviation from mean field (std)"] < bound, scheme
        assert r["max deviation from mean field (per-sample)"] < bound, scheme
    # The ReLU bias floor: sqrt(q*) from the mean of 128 squared uniform biases [0.094].
    assert row(result, "relu", "torch_linear")["max deviation from mean field (std)"] < 0.15
    # He, Glorot and orthogonal with ReLU drift like a random walk in log q (up to 0.7 over
    # seeds 0-11); the seeds' range is what the figure shows, not a test bound.


def test_finite_width_relu_inputs_stay_less_alike(result):
    # 1 - c = (per-sample std / std)^2. Mean field's at layer L is the same for every ReLU
    # start without bias; a finite network's is larger (module docstring, Notes).
    def one_minus_c(scheme: str, prefix: str) -> float:
        r = row(result, "relu", scheme)
        return (r[f"{prefix}per-sample std at layer {L}"] / r[f"{prefix}std at layer {L}"]) ** 2

    mf = one_minus_c("he_normal", "mean-field ")
    for scheme in ("he_normal", "glorot_normal", "orthogonal"):
        assert one_minus_c(scheme, "mean-field ") == pytest.approx(mf, rel=1e-6)
        assert one_minus_c(scheme, "") > mf
    assert any(n.startswith("Finite width.") for n in result.notes)


def test_scheme_formulas_match_the_draws():
    # fan_in mean(W^2) of one 256 x 256 draw: relative std sqrt(2) / 256 = 0.55% (normal) or
    # sqrt(0.8) / 256 (uniform); exact for orthogonal. 3% is over 5 sigma.
    rng = np.random.default_rng(0)
    n = 256
    for scheme in ds.DRAWS:
        init = get_initializer(scheme)
        W = init(rng, (n, n))
        b = init.bias(rng, (n, n)) if init.draws_bias else np.zeros(n)
        sw2, sb2 = ds._sigmas(scheme, n)
        assert n * np.mean(W * W) == pytest.approx(sw2, rel=0.03, abs=1e-12), scheme
        # n biases: relative std sqrt(0.8 / n) = 5.6%; 25% is 4.5 sigma.
        assert np.mean(b * b) == pytest.approx(sb2, rel=0.25, abs=1e-12), scheme


def test_mean_field_helper():
    # relu at sigma_w^2 = 2, no bias: every q is a fixed point.
    q, d = ds._mean_field("relu", np.full(20, 2.0), 0.0, 1.0, 1.0)
    np.testing.assert_allclose(q, 2.0, rtol=1e-12)
    assert np.all(np.diff(d) < 0)  # inputs grow alike
    # torch_linear: once linearized, the per-sample variance shrinks by chi_1 = 1/6 per layer.
    q, d = ds._mean_field("relu", np.full(40, 1 / 3), 1 / (3 * 256), 1.0, 1.0)
    np.testing.assert_allclose(q[-1], 2 / (5 * 256), rtol=1e-9)
    np.testing.assert_allclose(d[-5:] / d[-6:-1], 1 / 6, rtol=1e-9)
    # The linearization continues cmap where it hands over: compare over the layers where
    # cmap's own 1 - c is still accurate (1 - c >= 1e-9, digits lost ~ 1e-14 / 1e-9).
    sw, sb = math.sqrt(1 / 3), math.sqrt(1 / (3 * 256))
    qq = 1 / 3 + 1 / (3 * 256)  # layer 1 from inputs with q0 = 1 and c0 = 0
    c = 1 - (1 / 3) / qq
    direct = []
    for _ in range(1, 40):
        c = float(meanfield.cmap(c, "relu", sw, sb, q=qq))
        qq = float(meanfield.qmap(qq, "relu", sw, sb))
        if 1 - c < 1e-9:
            break
        direct.append(qq * (1 - c))
    q, d = ds._mean_field("relu", np.full(40, 1 / 3), 1 / (3 * 256), 1.0, 1.0)
    np.testing.assert_allclose(d[1 : len(direct) + 1], direct, rtol=1e-3)
    # zero weights: z is the bias alone.
    q, d = ds._mean_field("tanh", np.zeros(5), 0.0, 1.0, 1.0)
    assert (q == 0).all() and (d == 0).all()


def test_figures(result):
    assert set(result.figures) == {"std", "signal"}
    for fig in result.figures.values():
        axes = fig.get_axes()
        assert len(axes) == 4
        assert all(ax.get_yscale() == "log" and ax.get_title() for ax in axes)
        assert axes[0].get_legend() is not None


def test_result_is_plain_data(result):
    data = json.loads(json.dumps(result.to_dict()))
    assert data["findings"][0]["verdict"] == result.findings[0].verdict


def test_same_seed_same_numbers(result):
    again = run_study("depth-signal", "quick", random_state=0)
    for key, table in result.tables.items():
        pd.testing.assert_frame_equal(table, again.tables[key])
    assert again.findings[0].evidence == result.findings[0].evidence


def test_answers_are_made_of_the_runs_numbers(result):
    check_answers(result)
    (claim,) = result.findings
    x = claim.numbers
    assert f"through {x['depth']} ReLU layers" in claim.summary
    assert f"{x['torch_signal_ratio_per_layer']:.3f} per layer" in claim.summary
