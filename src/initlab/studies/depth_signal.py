"""depth-signal: the scale of the signal layer by layer at the start, by scheme, against mean field.

Question
--------
Which starts keep the scale of the signal through a deep network, which shrink it, and does the
mean-field theory of wide random networks predict what a finite network does?

Setup
-----
Fully connected networks of ``depth`` square layers of ``width`` units (full: 50 layers of 256;
quick: 30 of 128), with ReLU and with tanh, not trained: only the forward pass at the start is
measured, on one batch of ``width`` samples of standard-normal inputs with ``width`` features
(mean square ``q0`` about 1). Starts: ``zeros``, ``normal(std=0.01)``, ``torch_linear``
(PyTorch's ``nn.Linear`` default, W, b ~ U(+-1/sqrt(fan_in))), the same weights with zero
biases, ``glorot_normal``, ``he_normal``, ``orthogonal``, and LSUV (:func:`initlab.engine.lsuv`
on the batch, from the orthogonal draw). Each scheme is drawn for 5 seeds (quick: 3) as one
stack by :func:`initlab.engine.init_params`, from its own generator spawned from
``random_state`` (the batch has another), and run by :func:`initlab.engine.forward`; the two
activations share the weights.

Measured
--------
For every layer l and every network of the stack, on the whole batch:

* the std of the pre-activations, ``sqrt(q_l)`` with ``q_l`` the mean of ``z^2`` over units and
  samples (the spread about the weights' mean 0: what mean field calls the length). Tables give
  the ``sqrt`` of its mean over seeds, figures also its range over seeds;
* the per-sample signal: the std over samples of each unit, pooled over units,
  ``sqrt(mean_i Var_samples z_i)`` (unbiased), the part of z that changes with the input, as in
  :func:`initlab.diagnose`. A random bias shifts each unit by its own constant: it adds to the
  std of all entries but carries nothing about the input;
* the mean-field prediction of both ([1]_, [2]_): ``q_1 = sigma_w^2 q0 + sigma_b^2``, then
  :func:`initlab.meanfield.qmap` layer by layer, with ``sigma_w^2 = fan_in Var(W)`` and
  ``sigma_b^2 = Var(b)`` from each scheme's formula: ``zeros`` 0; ``normal(std=0.01)``
  ``width * 1e-4``; ``torch_linear`` 1/3 and ``1 / (3 fan_in)`` (U(+-a) has variance a^2/3);
  ``glorot_normal`` 2 fan_in / (fan_in + fan_out) = 1 on square layers; ``he_normal`` 2;
  ``orthogonal`` 1 (``|Q x| = |x|``, all the length map uses); LSUV its target, q_l = 1:
  ``1 / q0`` for layer 1, ``1 / E[phi(z)^2]`` after it (2 for relu, 2.536 for tanh). The
  per-sample variance is ``q_l (1 - c_l)``, ``c_l`` the mean correlation of two inputs, by
  :func:`initlab.meanfield.cmap` from the inputs' ``c_0 = 1 - (per-sample variance) / q0``;
  once ``1 - c < 1e-6`` it goes on by its linearization ``q_l (1 - c_l) = chi_1(q_{l-1})
  q_{l-1} (1 - c_{l-1})`` (:func:`initlab.meanfield.chi_1`), which keeps the digits that
  ``1 - cmap(c)`` would lose;
* the last layer's verdict, with the thresholds of :func:`initlab.diagnose` (``VANISH_TOTAL``,
  ``EXPLODE_TOTAL``): vanishing below 1/100 of the input's std, exploding above 100 times it,
  healthy between; once for the per-sample signal (the one that matters) and once for the std
  of all entries (the one a random bias fools). The ratio per layer is the geometric mean
  ``(s_L / s_1)^(1 / (L - 1))``; the deviation from mean field the largest
  ``|measured / predicted - 1|`` over layers.

Claim tested: "He initialization keeps the signal's scale through deep ReLU layers; PyTorch's
default linear start shrinks it" (``he-keeps-scale``). By the diagnosis thresholds it holds
when He's last layer is healthy (both measures) and torch_linear's per-sample signal vanishes;
it is qualified when, besides, He's length or its per-sample signal ends more than a factor 2
from its layer-1 value (each reason is stated); it fails otherwise.

Notes
-----
A network of finite width drifts from mean field. Its length does a random walk in log q whose
variance grows like depth / width ([7]_): the range over seeds. With ReLU its inputs also stay
less alike than the correlation map says, and more so with Gaussian weights than with
orthogonal ones. Checked when this study was written (ReLU, sigma_w^2 = 2, 30 layers, 64
standard-normal inputs, 2048 / width networks, one seed): 1 - c at layer 30 was 0.090, 0.052,
0.044, 0.038 with Gaussian weights and 0.063, 0.043, 0.035, 0.031 with orthogonal weights at
widths 128, 256, 512, 1024, against 0.0295 in mean field. With tanh the agreement is within a
few percent at these sizes.

In float64 a per-sample std below ``1e3 eps`` times the std of all entries is the rounding of
``z = b + (what is left of W a)``, not signal (torch_linear with ReLU reaches it near layer 37):
those layers are left out of the per-sample ratio, the comparison with mean field and the
figures, and the notes say where.

References
----------
.. [1] B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein, S. Ganguli, "Exponential expressivity in
   deep neural networks through transient chaos", NeurIPS 2016 (the length and correlation
   maps).
.. [2] S. S. Schoenholz, J. Gilmer, S. Ganguli, J. Sohl-Dickstein, "Deep Information
   Propagation", ICLR 2017 (chi_1, order and chaos, depth scales).
.. [3] X. Glorot and Y. Bengio, "Understanding the difficulty of training deep feedforward
   neural networks", AISTATS 2010.
.. [4] K. He, X. Zhang, S. Ren, J. Sun, "Delving Deep into Rectifiers", ICCV 2015, Section 2.2.
.. [5] A. Saxe, J. McClelland, S. Ganguli, "Exact solutions to the nonlinear dynamics of learning
   in deep linear neural networks", ICLR 2014 (orthogonal starts).
.. [6] D. Mishkin and J. Matas, "All you need is a good init", ICLR 2016 (LSUV).
.. [7] B. Hanin and D. Rolnick, "How to Start Training: The Effect of Initialization and
   Architecture", NeurIPS 2018 (finite-width fluctuations of the length grow with depth/width).
.. [8] Coursera, Deep Learning Specialization, course 2 week 1, "Vanishing / exploding
   gradients" and "Weight initialization for deep networks"; I. Goodfellow, Y. Bengio,
   A. Courville, "Deep Learning", MIT Press 2016, Section 8.4.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .. import engine, meanfield, plots
from .._random import check_random_state, spawn
from ..activations import get_activation
from ..diagnostics._report import EXPLODE_TOTAL, VANISH_TOTAL
from ._result import Claim, StudyResult

SIZES = {
    "full": {"width": 256, "depth": 50, "samples": 256, "seeds": 5, "layers": (1, 10, 25, 50)},
    "quick": {"width": 128, "depth": 30, "samples": 128, "seeds": 3, "layers": (1, 10, 20, 30)},
}
ACTIVATIONS = ("relu", "tanh")
# Weight draws, each from its own generator; the other schemes reuse one of them.
DRAWS = ("zeros", "normal(std=0.01)", "torch_linear", "glorot_normal", "he_normal", "orthogonal")
# Label: (draw, biases kept).
SCHEMES = {
    "zeros": ("zeros", True),
    "normal(std=0.01)": ("normal(std=0.01)", True),
    "torch_linear": ("torch_linear", True),
    "torch_linear, zero bias": ("torch_linear", False),
    "glorot_normal": ("glorot_normal", True),
    "he_normal": ("he_normal", True),
    "orthogonal": ("orthogonal", True),
    "lsuv": ("orthogonal", True),
}
# Below this share of float64's epsilon times the std of all entries, a per-sample std is the
# rounding of z = b + (a vanished signal), not signal: left out of ratios and the comparison.
_ROUNDING = 1e3 * np.finfo(float).eps
# "Kept": within this factor of layer 1's value.
_KEPT = 2.0
# Where the correlation map hands over to its linearization (see the module docstring).
_LINEARIZE_BELOW = 1e-6


HOW = (
    "Nothing is trained: each start is drawn for several seeds, a batch of random inputs goes "
    "through the deep network once, and the spread of every layer's pre-activations is measured, "
    "both over everything and over samples only (a random bias adds spread that carries nothing "
    "about the input). Beside each measurement is the prediction of mean-field theory for wide "
    "random networks, computed from the scheme's formula, and the verdict uses the same "
    "thresholds as initlab.diagnose."
)


def _sigmas(scheme: str, n: int) -> tuple[float, float]:
    """sigma_w^2 = fan_in Var(W) and sigma_b^2 = Var(b) of a scheme on square layers of n."""
    if scheme == "zeros":
        return 0.0, 0.0
    if scheme == "normal(std=0.01)":
        return n * 0.01**2, 0.0
    if scheme == "torch_linear":  # U(+-1/sqrt(n)) has variance 1 / (3 n), weights and bias
        return 1.0 / 3.0, 1.0 / (3.0 * n)
    if scheme == "torch_linear, zero bias":
        return 1.0 / 3.0, 0.0
    if scheme in ("glorot_normal", "orthogonal"):  # 2 / (n + n) n; |Q x| = |x|
        return 1.0, 0.0
    if scheme == "he_normal":
        return 2.0, 0.0
    raise ValueError(f"No formula for {scheme!r}.")  # lsuv: its target, set in run


def _mean_field(
    activation: str, sw2: np.ndarray, sb2: float, q0: float, d0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted length q_l and per-sample variance q_l (1 - c_l) of layers 1..L.

    ``sw2`` has one sigma_w^2 per layer; ``q0`` is the input's mean square and ``d0`` its
    per-sample variance, so that the inputs' mean correlation is ``1 - d0 / q0``.
    """
    L = len(sw2)
    q, d = np.empty(L), np.empty(L)
    # Layer 1 sees the input itself, not phi of it: a linear map of its second moments.
    q[0] = sw2[0] * q0 + sb2
    d[0] = sw2[0] * d0
    c = 1.0 - d[0] / q[0] if q[0] > 0 else 1.0
    sb = math.sqrt(sb2)
    for l in range(1, L):
        if sw2[l] == 0:  # zero weights: z is the bias alone, the same for every input
            q[l], d[l], c = sb2, 0.0, 1.0
            continue
        sw = math.sqrt(sw2[l])
        q[l] = meanfield.qmap(q[l - 1], activation, sw, sb)
        if 1.0 - c > _LINEARIZE_BELOW:
            c = float(meanfield.cmap(min(max(c, -1.0), 1.0), activation, sw, sb, q=q[l - 1]))
            d[l] = q[l] * (1.0 - c)
        else:
            d[l] = float(meanfield.chi_1(activation, sw, sb, q=q[l - 1])) * d[l - 1]
            c = 1.0 - d[l] / q[l] if q[l] > 0 else 1.0
    return q, d


def _verdict(ratio: float) -> str:
    """The thresholds of :func:`initlab.diagnose`, on a last-layer std over the input's."""
    if ratio > EXPLODE_TOTAL:
        return "exploding"
    if ratio < VANISH_TOTAL:
        return "vanishing"
    return "healthy"


def _per_layer(s: np.ndarray) -> float:
    """Geometric mean ratio of consecutive layers over the finite, non-zero layers."""
    keep = np.flatnonzero(np.isfinite(s) & (s > 0))
    if len(keep) < 2:
        return math.nan
    first, last = keep[0], keep[-1]
    return float((s[last] / s[first]) ** (1.0 / (last - first)))


def _deviation(measured: np.ndarray, predicted: np.ndarray) -> float:
    """max over layers of |measured / predicted - 1|; 0 where both are 0."""
    both_zero = (measured == 0) & (predicted == 0)
    keep = np.isfinite(measured) & ~both_zero
    if not keep.any():
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.max(np.abs(measured[keep] / predicted[keep] - 1.0)))


def _measure(params: engine.Params, A0: np.ndarray, activation: str) -> tuple[np.ndarray, ...]:
    """Per network and layer: mean z^2 (K, L) and per-sample variance pooled over units."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        zs, _ = engine.forward(params, A0, get_activation(activation))
    q = np.stack([np.mean(z * z, axis=(1, 2)) for z in zs], axis=1)
    d = np.stack([z.var(axis=2, ddof=1).mean(axis=1) for z in zs], axis=1)
    return q, d


def run(size: str = "full", random_state: Any = 0) -> StudyResult:
    """Measure the signal layer by layer for every scheme and activation (module docstring).

    Parameters
    ----------
    size : {"full", "quick"}
        ``SIZES[size]``: width, depth, samples, seeds and the layers the table shows.
    random_state : None, int, Generator or RandomState
        Spawns one generator for the batch and one per weight draw.

    Returns
    -------
    StudyResult
    """
    cfg = SIZES[size]
    n, L, m, K = cfg["width"], cfg["depth"], cfg["samples"], cfg["seeds"]
    layers = [l for l in cfg["layers"] if l <= L]
    rng = check_random_state(random_state)
    gens = dict(zip(("data", *DRAWS), spawn(rng, 1 + len(DRAWS))))
    X = gens["data"].standard_normal((m, n))
    A0 = np.ascontiguousarray(X.T)
    q0 = float(np.mean(X * X))
    d0 = float(X.var(axis=0, ddof=1).mean())
    sizes = [n] * (L + 1)
    draws = {s: engine.init_params(sizes, s, "auto", random_state=gens[s], K=K) for s in DRAWS}

    rows, long_rows, curves, lsuv_sw2 = [], [], {}, {}
    for act in ACTIVATIONS:
        for label, (draw, keep_bias) in SCHEMES.items():
            params = draws[draw].copy()
            if not keep_bias:
                params = engine.Params(params.weights, [np.zeros_like(b) for b in params.biases])
            if label == "lsuv":
                engine.lsuv(params, A0, act)
                # LSUV's target in mean field: sigma_w^2 chosen layer by layer so that q_l = 1,
                # 1 / q0 for layer 1 and 1 / E[phi(z)^2], z ~ N(0, 1), after it.
                sw2_shown = 1.0 / float(meanfield.qmap(1.0, act, 1.0))
                sw2 = np.full(L, sw2_shown)
                sw2[0] = 1.0 / q0
                sb2 = 0.0
                # What the rescaling did: fan_in mean(W^2) of layers 2..L, over seeds.
                lsuv_sw2[act] = float(np.mean([n * np.mean(W * W) for W in params.weights[1:]]))
            else:
                sw2_shown, sb2 = _sigmas(label, n)
                sw2 = np.full(L, sw2_shown)
            q_mf, d_mf = _mean_field(act, sw2, sb2, q0, d0)
            q_k, d_k = _measure(params, A0, act)
            std = np.sqrt(q_k.mean(axis=0))
            signal = np.sqrt(d_k.mean(axis=0))
            std_mf, signal_mf = np.sqrt(q_mf), np.sqrt(d_mf)
            # Per-sample stds at the rounding of the bias floor are not signal (see _ROUNDING).
            resolved = (signal > _ROUNDING * std) | (std == 0)
            signal_r = np.where(resolved, signal, np.nan)
            curves[act, label] = {
                "std": std,
                "std_lo": np.sqrt(q_k.min(axis=0)),
                "std_hi": np.sqrt(q_k.max(axis=0)),
                "std_mf": std_mf,
                "signal": signal_r,
                "signal_lo": np.where(resolved, np.sqrt(d_k.min(axis=0)), np.nan),
                "signal_hi": np.where(resolved, np.sqrt(d_k.max(axis=0)), np.nan),
                "signal_mf": signal_mf,
                "signal_raw": signal,
                "unresolved_from": int(np.argmin(resolved)) + 1 if not resolved.all() else None,
            }
            row = {"activation": act, "scheme": label, "sigma_w^2": sw2_shown, "sigma_b^2": sb2}
            for l in layers:
                row[f"std at layer {l}"] = std[l - 1]
            row[f"mean-field std at layer {L}"] = std_mf[-1]
            row["std ratio per layer"] = _per_layer(std)
            row[f"per-sample std at layer {L}"] = signal[-1]
            row[f"mean-field per-sample std at layer {L}"] = signal_mf[-1]
            row["per-sample ratio per layer"] = _per_layer(signal_r)
            row["verdict (per-sample)"] = _verdict(signal[-1] / math.sqrt(d0))
            row["verdict (all entries)"] = _verdict(std[-1] / math.sqrt(q0))
            row["max deviation from mean field (std)"] = _deviation(std, std_mf)
            row["max deviation from mean field (per-sample)"] = _deviation(
                signal_r[resolved], signal_mf[resolved]
            )
            rows.append(row)
            for l in range(L):
                long_rows.append(
                    {
                        "activation": act,
                        "scheme": label,
                        "layer": l + 1,
                        "std": std[l],
                        "std min over seeds": curves[act, label]["std_lo"][l],
                        "std max over seeds": curves[act, label]["std_hi"][l],
                        "mean-field std": std_mf[l],
                        "per-sample std": signal[l],
                        "mean-field per-sample std": signal_mf[l],
                    }
                )
    table = pd.DataFrame(rows)
    by_layer = pd.DataFrame(long_rows)

    findings = [_he_claim(table, curves, n, L, K)]
    setup = {
        "data": f"{m} samples of standard-normal inputs with {n} features (input mean square "
        f"{q0:.4f}, per-sample variance {d0:.4f})",
        "network": f"{L} fully connected layers of {n} units (square), no training",
        "activations": list(ACTIVATIONS),
        "schemes": list(SCHEMES),
        "lsuv": "engine.lsuv(tol=0.1, max_iter=10) on the batch, from the orthogonal draw",
        "seeds": f"{K} networks per scheme, one stack; the weights are shared by relu and tanh",
        "random_state": repr(random_state),
    }
    return StudyResult(
        name="depth-signal",
        title="The signal's scale through depth, by start",
        question="Which starts keep the scale of the signal through a deep network, which "
        "shrink it, and does mean-field theory predict what a finite network does?",
        size=size,
        setup=setup,
        tables={
            "Signal by scheme and activation": table,
            "Signal layer by layer": by_layer,
        },
        figures=_figures(curves, L, n, {"std": math.sqrt(q0), "signal": math.sqrt(d0)}),
        findings=findings,
        notes=_notes(table, curves, lsuv_sw2, n, L, K),
        how=HOW,
        captions={
            "signal": "The per-sample signal (the part of each unit's output that changes with "
            "the input), layer by layer, for every start: measured (solid, with its range over "
            "seeds) and as mean-field theory predicts it (dashed).",
            "std": "The same for the std of all pre-activations, which a random bias holds up "
            "even where the signal itself has vanished.",
        },
    )


def _he_claim(table: pd.DataFrame, curves: dict, n: int, L: int, K: int) -> Claim:
    he, tl, tl0 = (
        _row(table, "relu", s) for s in ("he_normal", "torch_linear", "torch_linear, zero bias")
    )
    he_c, tl_c = curves["relu", "he_normal"], curves["relu", "torch_linear"]
    he_length = he_c["std"][-1] / he_c["std"][0]
    he_signal = he_c["signal"][-1] / he_c["signal"][0]
    mf = meanfield.analyze("relu", math.sqrt(1 / 3), math.sqrt(1 / (3 * n)))
    factor_mf = math.sqrt(mf.chi_1)
    tl_last = tl_c["unresolved_from"] - 1 if tl_c["unresolved_from"] is not None else L
    tl_end = f"{tl_c['signal_raw'][tl_last - 1]:.2g} at layer {tl_last}"
    if tl_last < L:
        tl_end += " (below float64's rounding of the bias floor after it)"

    # The verdict rests on the diagnosis thresholds; "kept" (within 2x of layer 1) qualifies it.
    he_healthy = he["verdict (per-sample)"] == he["verdict (all entries)"] == "healthy"
    caveats = []
    if not 1 / _KEPT <= he_length <= _KEPT:
        caveats.append(
            f"the length of these {K} He networks drifted to {he_length:.2f} of its layer-1 "
            "value, a finite-width fluctuation about mean field's constant"
        )
    if he_signal < 1 / _KEPT:
        caveats.append(
            f"He's per-sample signal keeps only {he_signal:.2f} of its layer-1 value (less "
            f"than 1/{_KEPT:g}) as the inputs grow alike, as mean field predicts (it says "
            f"{he_c['signal_mf'][-1] / he_c['signal_mf'][0]:.2f}): the part of the signal that "
            "tells inputs apart shrinks, slowly"
        )
    if he_healthy and tl["verdict (per-sample)"] == "vanishing":
        verdict = "qualified" if caveats else "holds"
    else:
        verdict = "fails"
    evidence = (
        f"ReLU, {L} layers of {n}, {K} seeds, thresholds of initlab.diagnose. he_normal: the "
        f"std of all entries goes {he_c['std'][0]:.3g} (layer 1) -> {he_c['std'][-1]:.3g} "
        f"(layer {L}), {he['std ratio per layer']:.4f} per layer (range over seeds "
        f"{he_c['std_lo'][-1]:.3g}-{he_c['std_hi'][-1]:.3g}; mean field: every q is a fixed "
        f"point at sigma_w^2 = 2), {he['verdict (all entries)']}; the per-sample signal "
        f"{he_c['signal'][0]:.3g} -> {he_c['signal'][-1]:.3g} (mean field "
        f"{he_c['signal_mf'][-1]:.3g}), {he['verdict (per-sample)']}. torch_linear: the "
        f"per-sample signal shrinks {tl['per-sample ratio per layer']:.3f} per layer (mean "
        f"field sqrt(chi_1) = sqrt(1/6) = {factor_mf:.3f}) to {tl_end}, "
        f"{tl['verdict (per-sample)']}; the std of all entries settles at the bias floor "
        f"{tl_c['std'][-1]:.3g} (mean field sqrt(q*) = sqrt(2 / (5 fan_in)) = "
        f"{math.sqrt(mf.q_star):.3g}), which alone would read {tl['verdict (all entries)']}; "
        f"with zero bias the same weights shrink it {tl0['std ratio per layer']:.3f} per layer "
        f"to {tl0[f'std at layer {L}']:.2g}."
    )
    if caveats:
        evidence += " Qualified: " + "; ".join(caveats) + "."
    torch_text = (
        f"PyTorch's default shrinks the per-sample signal {tl['per-sample ratio per layer']:.3f} "
        f"per layer, to {tl_c['signal_raw'][tl_last - 1]:.2g}"
    )
    he_text = f"through {L} ReLU layers He's std goes {he_c['std'][0]:.2f} to {he_c['std'][-1]:.2f}"
    if verdict == "fails":
        summary = (
            f"No: by initlab.diagnose's thresholds, after {L} ReLU layers He's signal is "
            f"{he['verdict (per-sample)']} (std {he_c['std'][-1]:.2g}) and PyTorch's default's "
            f"per-sample signal is {tl['verdict (per-sample)']} "
            f"({tl_c['signal_raw'][tl_last - 1]:.2g})."
        )
    else:
        buts = []
        if not 1 / _KEPT <= he_length <= _KEPT:
            buts.append(f"He's std drifted to {he_length:.2f} of its layer-1 value")
        if he_signal < 1 / _KEPT:
            buts.append(f"He keeps only {he_signal:.2f} of its own per-sample signal")
        summary = (
            ("Mostly: " if buts else "Yes: ")
            + f"{he_text} while {torch_text}"
            + ("; but " + " and ".join(buts) if buts else "")
            + "."
        )
    return Claim(
        "he-keeps-scale",
        "He initialization keeps the signal's scale through deep ReLU layers; PyTorch's default "
        "linear start shrinks it.",
        verdict,
        evidence,
        {
            "he_std_first": float(he_c["std"][0]),
            "he_std_last": float(he_c["std"][-1]),
            "he_std_ratio_per_layer": float(he["std ratio per layer"]),
            "he_signal_first": float(he_c["signal"][0]),
            "he_signal_last": float(he_c["signal"][-1]),
            "he_signal_last_mean_field": float(he_c["signal_mf"][-1]),
            "he_std_last_range": [float(he_c["std_lo"][-1]), float(he_c["std_hi"][-1])],
            "torch_signal_ratio_per_layer": float(tl["per-sample ratio per layer"]),
            "torch_signal_ratio_mean_field": factor_mf,
            "torch_signal_last_resolved": float(tl_c["signal_raw"][tl_last - 1]),
            "torch_signal_last_resolved_layer": tl_last,
            "torch_std_floor": float(tl_c["std"][-1]),
            "torch_std_floor_mean_field": math.sqrt(mf.q_star),
            "torch_zero_bias_ratio_per_layer": float(tl0["std ratio per layer"]),
            "torch_zero_bias_std_last": float(tl0[f"std at layer {L}"]),
            "depth": L,
            "width": n,
            "seeds": K,
            "he_length_kept": float(he_length),
            "he_signal_kept": float(he_signal),
        },
        short="He keeps the signal's scale through depth; torch's default shrinks it",
        summary=summary,
        figure="signal",
    )


def _notes(
    table: pd.DataFrame, curves: dict, lsuv_sw2: dict[str, float], n: int, L: int, K: int
) -> list[str]:
    def at(act: str, label: str, key: str) -> float:
        return float(curves[act, label][key][-1])

    notes = []
    floors = {
        act: math.sqrt(meanfield.fixed_point(act, math.sqrt(1 / 3), math.sqrt(1 / (3 * n))))
        for act in ACTIVATIONS
    }
    notes.append(
        "A random bias is not signal. torch_linear at layer {L}: the std of all entries is "
        "{r:.3g} (relu) and {t:.3g} (tanh), the floor its biases hold up (mean field sqrt(q*) "
        "= {fr:.3g}, {ft:.3g}), so a verdict on all entries reads {vr}; the per-sample signal "
        "is {sr} and {st}, {vs}. The same weights with zero biases: all entries {zr:.2g} and "
        "{zt:.2g}, per-sample {pr:.2g} and {pt:.2g}: without the bias both measures vanish "
        "together.".format(
            L=L,
            r=at("relu", "torch_linear", "std"),
            t=at("tanh", "torch_linear", "std"),
            fr=floors["relu"],
            ft=floors["tanh"],
            vr=_row(table, "relu", "torch_linear")["verdict (all entries)"],
            sr=_last_signal(curves["relu", "torch_linear"]),
            st=_last_signal(curves["tanh", "torch_linear"]),
            vs=_row(table, "relu", "torch_linear")["verdict (per-sample)"],
            zr=at("relu", "torch_linear, zero bias", "std"),
            zt=at("tanh", "torch_linear, zero bias", "std"),
            pr=at("relu", "torch_linear, zero bias", "signal_raw"),
            pt=at("tanh", "torch_linear, zero bias", "signal_raw"),
        )
    )
    for (act, label), c in curves.items():
        if c["unresolved_from"] is not None:
            l = c["unresolved_from"]
            notes.append(
                f"{act}, {label}: from layer {l} the per-sample std ({c['signal_raw'][l - 1]:.2g}) "
                f"is below {_ROUNDING:.1g} of the std of all entries ({c['std'][l - 1]:.2g}): the "
                "rounding of z = b + (what is left of W a) in float64, not signal. Those layers "
                "are left out of the per-sample ratio, the comparison with mean field and the "
                "figure."
            )
    # 1 - c: the per-sample variance over the length, how far the inputs are from alike.
    gap = {
        label: (at("relu", label, "signal_raw") / at("relu", label, "std")) ** 2
        for label in ("he_normal", "glorot_normal", "orthogonal", "lsuv")
    }
    c = curves["relu", "he_normal"]
    gap_mf = (c["signal_mf"][-1] / c["std_mf"][-1]) ** 2
    notes.append(
        f"Finite width. With ReLU the inputs of a finite network stay less alike than the "
        f"infinite-width correlation map says: 1 - c at layer {L} (per-sample variance over the "
        f"length) is {gap['he_normal']:.3f} for he_normal, {gap['glorot_normal']:.3f} for "
        f"glorot_normal, {gap['orthogonal']:.3f} for orthogonal and {gap['lsuv']:.3f} for lsuv, "
        f"against {gap_mf:.3f} in mean field (the same for every sigma_w: relu is positively "
        "homogeneous). So the per-sample signal of those starts lies above its dashed "
        "prediction; the gap closes as the width grows (module docstring, Notes). With tanh "
        "both measures agree with mean field to a few percent."
    )
    he = curves["relu", "he_normal"]
    notes.append(
        f"Seeds. he_normal with ReLU: the std at layer {L} ranges from {he['std_lo'][-1]:.3g} to "
        f"{he['std_hi'][-1]:.3g} over the {K} seeds (mean field {he['std_mf'][-1]:.3g}): the "
        "length of one finite network drifts from mean field like a random walk in log q whose "
        f"variance grows with depth / width ({L} / {n} here; Hanin and Rolnick 2018)."
    )
    notes.append(
        f"tanh at sigma_w^2 = 1 (glorot_normal, orthogonal) is at the edge where q* = 0 is "
        f"reached only algebraically, q_l ~ 1 / (2 l): std {at('tanh', 'glorot_normal', 'std'):.3g}"
        f" at layer {L} (1 / sqrt(2 L) = {1 / math.sqrt(2 * L):.3g}), healthy by the thresholds "
        "but still falling. he_normal with tanh (sigma_w^2 = 2) is chaotic and settles at q* = "
        f"{meanfield.fixed_point('tanh', math.sqrt(2)):.3f} (std "
        f"{math.sqrt(meanfield.fixed_point('tanh', math.sqrt(2))):.3f}; measured "
        f"{at('tanh', 'he_normal', 'std'):.3f})."
    )
    notes.append(
        "LSUV's rescaled weights have fan_in mean(W^2) = {r:.3f} (relu) and {t:.3f} (tanh) on "
        "average over layers 2..{L}, against the mean-field values that hold q at 1, "
        "1 / E[phi(z)^2] = {mr:.3f} and {mt:.3f}.".format(
            r=lsuv_sw2["relu"],
            t=lsuv_sw2["tanh"],
            L=L,
            mr=_row(table, "relu", "lsuv")["sigma_w^2"],
            mt=_row(table, "tanh", "lsuv")["sigma_w^2"],
        )
    )
    return notes


def _last_signal(c: dict) -> str:
    """The last layer's per-sample std, or where float64's rounding took over."""
    if c["unresolved_from"] is None:
        return f"{c['signal_raw'][-1]:.2g}"
    l = c["unresolved_from"]
    return f"{c['signal_raw'][l - 2]:.2g} at layer {l - 1}, then at float64's rounding"


def _row(table: pd.DataFrame, act: str, label: str) -> pd.Series:
    return table[(table["activation"] == act) & (table["scheme"] == label)].iloc[0]


def _figures(curves: dict, L: int, n: int, input_std: dict[str, float]) -> dict[str, Any]:
    """Per measure: full range on top, the band around the input's scale below it."""
    x = np.arange(1, L + 1)
    out = {}
    for key, what, ylabel in (
        ("std", "std of the pre-activations (all entries)", "std of z over units and samples"),
        ("signal", "per-sample signal (std over samples of each unit)", "per-sample std of z"),
    ):
        fig, axes = plots.grid(2, len(ACTIVATIONS), size=(5.25, 4.0))
        for j, act in enumerate(ACTIVATIONS):
            measured, predicted, spread = {}, {}, {}
            for label in SCHEMES:
                c = curves[act, label]
                name = label
                if not np.any(c[key] > 0):
                    name = f"{label} (exactly 0: off the log axis)"
                elif key == "signal" and c["unresolved_from"] is not None:
                    name = f"{label} (float64 rounding from layer {c['unresolved_from']})"
                measured[name] = (x, c[key])
                spread[name] = (x, c[f"{key}_lo"], c[f"{key}_hi"])
                predicted[name] = (x, c[f"{key}_mf"])
            common = dict(logy=True, xlabel="layer", ylabel=ylabel)
            plots.measured_and_predicted(
                measured,
                predicted,
                spread,
                ax=axes[j],
                title=f"{act}: {what}",
                measured_label="measured: mean over seeds (solid), range (band)",
                predicted_label="mean field (dashed)",
                legend="lower left" if j == 0 else None,
                **common,
            )
            s0 = input_std[key]
            plots.measured_and_predicted(
                measured,
                predicted,
                spread,
                ax=axes[len(ACTIVATIONS) + j],
                title=f"{act}: the same, near the input's scale",
                ylim=(s0 * VANISH_TOTAL / 5, s0 * 5),
                hlines={
                    "vanishing below (1/100 of the input's)": s0 * VANISH_TOTAL,
                    "input": s0,
                },
                legend=None,
                **common,
            )
        fig.suptitle(
            f"{L} layers of {n} units at the start; colours as in the top left legend",
            fontsize=11,
        )
        out[key] = fig
    return out
