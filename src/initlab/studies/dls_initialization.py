"""dls-initialization: the course's circles experiment from zeros, a large random start and He.

Question
--------
Why does the same network learn the circles from one start and not from another, and what
exactly goes wrong at the start?

Setup
-----
Coursera, Deep Learning Specialization, course 2 ("Improving Deep Neural Networks"), week 1,
programming assignment "Initialization": circles (300 training points, noise 0.05,
``np.random.seed(1)``; 100 test points, seed 2), layers [2, 10, 5, 1], ReLU, sigmoid output,
full-batch gradient descent with learning rate 0.01 for 15000 iterations, starts drawn with
``np.random.seed(3)``: zeros, ``randn * 10`` and He (``randn * sqrt(2 / fan_in)``). initlab runs
the same floating-point operations, so the parameters are the course code's bit for bit.

Measured
--------
The cost every 1000 iterations (initlab's stable loss from the logits, and the course's textbook
loss, which is ``inf`` where a probability rounds to 0 or 1), train and test accuracy against the
published numbers, decision boundaries; from zeros, every gradient and the factor that makes it
zero (:func:`initlab.diagnose`), and an unbalanced variant where the output bias moves; from
``normal(std=10)``, the share of outputs that are exactly 0 or 1, the iterations where the
textbook loss is ``inf``, and how much longer training takes; from He, the layer statistics.

References
----------
Coursera, Deep Learning Specialization, course 2 week 1, "Initialization" (published outputs).
K. He et al., "Delving Deep into Rectifiers", ICCV 2015.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from .. import engine, losses, plots
from ..activations import get_activation
from ..datasets import load_dataset
from ..diagnostics import diagnose
from ..models import DivergedWarning, MLPClassifier
from ._result import Claim, StudyResult

# What the course's notebook prints (cost at iterations 0 and 14000, accuracies).
PUBLISHED = {
    "zeros": {
        "cost_0": 0.6931471805599453,
        "cost_14000": 0.6931471805599453,
        "train": 0.5,
        "test": 0.5,
    },
    "normal(std=10)": {
        "cost_0": float("inf"),
        "cost_14000": 0.3827828308349524,
        "train": 0.83,
        "test": 0.86,
    },
    "he_normal": {
        "cost_0": 0.8830537463419761,
        "cost_14000": 0.07357895962677366,
        "train": 0.9933333333333333,
        "test": 0.96,
    },
}
INITS = list(PUBLISHED)
COURSE = dict(hidden_layer_sizes=(10, 5), activation="relu", learning_rate=0.01, max_iter=15000)


def _textbook_costs(clf: MLPClassifier, X: np.ndarray, y: np.ndarray) -> list[float]:
    """The course's printed cost, (1/m) nansum(-y log p - (1-y) log(1-p)), at every snapshot."""
    out = []
    for s in clf.history_["snapshots"]:
        p = engine.predict_output(
            engine.Params.from_layers(s["weights"], s["biases"]), X, clf.activation, "sigmoid"
        )
        out.append(float(losses.textbook_binary_cross_entropy(p, y[None, :])[0]))
    return out


HOW = (
    "initlab runs the course's own floating-point operations from the course's seed, so its "
    "numbers can be compared with the published ones digit for digit. For the zero start it "
    "reads each gradient as the product of its factors, the error reaching a layer and the "
    "activations feeding it, and names the factor that is zero; an unbalanced copy of the data "
    "separates what the loss does from what the weights do. For the large start it counts the "
    "outputs that round to exactly zero or one and follows the cost until it catches up with He's."
)


def _gradient_factors(model: MLPClassifier, X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """The factors of every weight gradient dW[l] = delta[l] a[l-1]^T at the model's start:
    the mean |a[l-1]| feeding layer l, the mean |delta[l]| reaching it, and |dW[l]|."""
    sizes = (X.shape[1], *model.hidden_layer_sizes, 1)
    params = engine.init_params(
        sizes, model.init, model.bias_init, activation=model.activation, random_state=3
    )
    act = get_activation(model.activation)
    zs, acts = engine.forward(params, np.ascontiguousarray(X.T), act)
    _, dz, _ = losses.loss_and_grad(
        zs[-1], y[None, :].astype(float), "binary_cross_entropy", "sigmoid"
    )
    deltas: list[Any] = [None] * len(zs)
    dWs, _ = engine.backward(params, zs, acts, dz, act, deltas=deltas)
    m = len(y)
    return pd.DataFrame(
        [
            {
                "layer": l + 1,
                "mean |a| feeding it": float(np.abs(acts[l][0]).mean()),
                # delta[L] = (p - y) / m: shown per sample, as |p - y|.
                "mean |error| reaching it (per sample)": float(np.abs(deltas[l][0]).mean() * m),
                "smallest |error| on a sample": float(np.abs(deltas[l][0]).min() * m),
                "|dW|": float(np.linalg.norm(dWs[l][0])),
            }
            for l in range(len(zs))
        ]
    )


def _claim_same_loss(
    norms, loss0, base_rate, p_out, start_loss, final_loss, entropy, max_weight, causes
) -> Claim:
    fell = final_loss < start_loss * (1 - 1e-6)
    # The claim names the equal loss as the reason the weights stay put. Refuted when the
    # labels change the loss (it falls) and the weights stay exactly zero all the same.
    verdict = "fails" if fell and max_weight == 0.0 else "qualified"
    if verdict == "fails":
        stuck = (
            f"every weight gradient is exactly {max(norms.values()):g}"
            if not any(norms.values())
            else "the weights stay put"
        )
        summary = (
            f"From zeros {stuck}, but not because the loss is the same for any labels: with "
            f"{base_rate:.0%} positive labels the output bias moves and the loss falls from "
            f"{start_loss:.3f} to {final_loss:.3f}, while every weight stays {max_weight:g}."
        )
    else:
        summary = (
            f"Not refuted here: with {base_rate:.0%} positive labels the loss goes from "
            f"{start_loss:.3f} to {final_loss:.3f} and the largest weight ends at "
            f"{max_weight:.2g}."
        )
    return Claim(
        "zero-start-same-loss",
        "A zero-started network gets the same loss whatever the labels, and that is why its "
        "weights do not move.",
        verdict,
        f"The loss from zeros is ln 2 = {loss0:.6f} for any labels, but that is not why "
        f"nothing moves: with unbalanced labels ({base_rate:.0%} positive) the loss starts at "
        f"{start_loss:.6f}, yet the output bias moves to p = {p_out:.4f} (the base rate "
        f"{base_rate:.4f}) and the loss falls to {final_loss:.4f} (the entropy of the base rate "
        f"{entropy:.4f}), while the largest weight stays {max_weight:g}. The weights stay at "
        "zero because every weight gradient has a zero factor: "
        + "; ".join(f"{k}: {v}" for k, v in causes.items() if k.startswith("W")),
        {
            "loss_zero_start": loss0,
            "base_rate": base_rate,
            "p_unbalanced": p_out,
            "start_loss_unbalanced": start_loss,
            "final_loss_unbalanced": final_loss,
            "base_rate_entropy": entropy,
            "max_weight_unbalanced": max_weight,
            "weight_gradient_norms": norms,
        },
        short="Zero weights stay put because the loss is the same for any labels",
        summary=summary,
        figure="zero-start",
    )


def _claim_gradient_cause(causes: dict[str, str | None], norms: dict[str, float]) -> Claim:
    weights = [k for k in causes if k.startswith("W")]
    zero = [k for k in weights if norms[k] == 0.0]
    by_input = [k for k in zero if "activations feeding" in (causes[k] or "")]
    other = [k for k in zero if k not in by_input]
    if len(zero) < len(weights):
        verdict = "fails"
        summary = (
            f"Not every weight gradient is zero from zeros: {', '.join(_names(weights, zero))} "
            f"{'has' if len(weights) - len(zero) == 1 else 'have'} a non-zero gradient."
        )
    elif not other:
        verdict = "holds"
        summary = (
            f"Every weight gradient is exactly {_zero(norms)}, and each because the activations "
            f"feeding it ({', '.join(by_input)}) are all zero."
        )
    else:
        verdict = "qualified"
        after = _and([f"W{int(k[1:]) + 1}" for k in other])
        one = len(other) == 1
        summary = (
            f"Every weight gradient is exactly {_zero(norms)}, but zero inputs explain only "
            f"{_and(by_input) or 'none'}: {_and(other)} {'is' if one else 'are'} fed the data, "
            f"and {'its' if one else 'their'} gradient is 0 because the error reaching "
            f"{'it' if one else 'them'} is 0 (the weights after {'it' if one else 'them'}, "
            f"{after}, are 0)."
        )
    return Claim(
        "relu-zero-gradients-cause",
        "With ReLU hidden layers and zero weights, every weight gradient is zero because the "
        "activations feeding it are zero.",
        verdict,
        f"Every weight gradient is exactly zero, but not always for that reason. W1: "
        f"{causes['W1']} (its inputs are the data, not zero). "
        + " ".join(f"{k}: {causes[k]}." for k in weights[1:]),
        {"causes": causes, "weight_gradient_norms": norms},
        short="ReLU from zeros: weight gradients vanish because inputs are zero",
        summary=summary,
        figure="zero-start",
    )


def _claim_error_proportional(causes: dict[str, str | None], factors: pd.DataFrame) -> Claim:
    err = factors["mean |error| reaching it (per sample)"].to_numpy()
    out_min = float(factors["smallest |error| on a sample"].iloc[-1])
    hidden_zero = [int(l) for l, e in zip(factors["layer"][:-1], err[:-1]) if e == 0.0]
    # Exactly zero where the weights after the layer are zero (the causes name them), while
    # the output error itself is not zero on any sample.
    named = all(
        causes.get(f"b{l}") and f"weights (W{l + 1}) are zero" in causes[f"b{l}"]
        for l in hidden_zero
    )
    ok = len(hidden_zero) == len(err) - 1 and named and out_min > 0
    verdict = "holds" if ok else "fails"
    layers = _and([str(l) for l in hidden_zero])
    summary = (
        f"From zeros the error reaching layer{'s' * (len(hidden_zero) > 1)} {layers} is exactly "
        f"0 because the weights after {'them' if len(hidden_zero) > 1 else 'it'} are 0, although "
        f"the output error |p - y| is at least {out_min:.2g} on every sample."
        if ok
        else f"Not so here: the error reaching the hidden layers is zero in {len(hidden_zero)} of "
        f"{len(err) - 1}, and the output error |p - y| is at least {out_min:.2g}."
    )
    return Claim(
        "error-proportional-to-weights",
        "The error sent back to a layer is proportional to the weights after it, so zero "
        "weights send back no error.",
        verdict,
        "delta[l] = (W[l+1]^T delta[l+1]) * phi'(z[l]) is linear in W[l+1]: from zeros the "
        f"error reaching layer 1 is exactly zero ({causes['b1']}), and so is the error reaching "
        f"layer 2 ({causes['b2']}), while the output error |p - y| is at least {out_min:.6g} on "
        "every sample.",
        {
            "b1": causes["b1"],
            "b2": causes["b2"],
            "hidden_layers_with_zero_error": hidden_zero,
            "mean_error_per_layer": err.tolist(),
            "min_output_error": out_min,
        },
        short="The error sent back is proportional to the weights after it",
        summary=summary,
        figure="zero-start",
    )


def _claim_large_start(big, he, shares, inf_iters, n_sat, acc_big, acc_he) -> Claim:
    hit_big, hit_he = _first_below(big, 0.4), _first_below(he, 0.4)
    slower = hit_big is None or (hit_he is not None and hit_big > hit_he)
    ok = big[0] > 10 * he[0] and acc_big < acc_he and slower
    verdict = "holds" if ok else "fails"
    reach = (
        f"the cost first falls below 0.4 at iteration {hit_big} against He's {hit_he}"
        if hit_big is not None and hit_he is not None
        else f"the cost falls below 0.4 {'never' if hit_big is None else f'at {hit_big}'} "
        f"against He's {'never' if hit_he is None else hit_he}"
    )
    summary = (
        f"From randn * 10 the cost starts at {big[0]:.0f} against He's {he[0]:.3f}, and "
        f"{'training is slower: ' if ok else ''}{reach}; it ends at accuracy {acc_big:.2f} "
        f"against {acc_he:.3f}."
    )
    return Claim(
        "large-random-start",
        "A very large random start (x10) makes the loss start enormous and slows training.",
        verdict,
        f"From normal(std=10) the stable cost starts at {big[0]:.1f} (He: {he[0]:.4f}); "
        f"{shares[0]:.0%} of the outputs are exactly 0 or 1 in float64 at the start, and the "
        f"textbook cost is inf on {len(inf_iters)} of the first {n_sat} iterations (last at "
        f"{int(inf_iters[-1]) if len(inf_iters) else '-'}). After {len(big)} iterations its cost "
        f"is {big[-1]:.4f} against He's {he[-1]:.4f}; it reaches cost 0.4 at iteration "
        f"{hit_big} against He's {hit_he}, and its accuracy is {acc_big:.2f} against "
        f"{acc_he:.4f}.",
        {
            "std": 10,
            "cost0_big": float(big[0]),
            "cost0_he": float(he[0]),
            "saturated_share_0": float(shares[0]),
            "inf_iterations": len(inf_iters),
            "final_big": float(big[-1]),
            "final_he": float(he[-1]),
            "level": 0.4,
            "iteration_below_level_big": hit_big,
            "iteration_below_level_he": hit_he,
            "accuracy_big": acc_big,
            "accuracy_he": acc_he,
        },
        short="A start 10x too large makes the loss enormous and slows training",
        summary=summary,
        figure="cost",
    )


def _zero(norms: dict[str, float]) -> str:
    return f"{max(norms.values()):g}"


def _and(names: list[str]) -> str:
    return (
        names[0]
        if len(names) == 1
        else ", ".join(names[:-1]) + " and " + names[-1]
        if names
        else ""
    )


def _names(all_: list[str], zero: list[str]) -> list[str]:
    return [k for k in all_ if k not in zero]


def _first_below(curve: np.ndarray, level: float) -> int | None:
    hit = np.flatnonzero(curve < level)
    return int(hit[0]) if len(hit) else None


def run(size: str = "full", random_state: Any = 0) -> StudyResult:
    X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
    Xt, yt = load_dataset("circles", n_samples=100, noise=0.05, random_state=2)
    models: dict[str, MLPClassifier] = {}
    for init in INITS:
        # The course's seed for every start; `random_state` is for what the course did not fix.
        clf = MLPClassifier(init=init, random_state=3, snapshot_every=1000, **COURSE)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DivergedWarning)
            models[init] = clf.fit(X, y)

    checkpoints = list(range(0, COURSE["max_iter"], 1000))
    cost = pd.DataFrame({"iteration": checkpoints})
    textbook = {init: _textbook_costs(clf, X, y) for init, clf in models.items()}
    for init, clf in models.items():
        cost[f"{init} (stable)"] = clf.loss_curve_[checkpoints]
        cost[f"{init} (textbook)"] = textbook[init]

    acc_rows = []
    for init, clf in models.items():
        pub = PUBLISHED[init]
        acc_rows.append(
            {
                "init": init,
                "train accuracy": clf.score(X, y),
                "published train": pub["train"],
                "test accuracy": clf.score(Xt, yt),
                "published test": pub["test"],
                "cost at 0 (textbook)": textbook[init][0],
                "published cost at 0": pub["cost_0"],
                "cost at 14000 (textbook)": textbook[init][14],
                "published cost at 14000": pub["cost_14000"],
            }
        )
    accuracy = pd.DataFrame(acc_rows)

    # Zeros: every block's gradient and why it is zero.
    zero_diag = diagnose(MLPClassifier(init="zeros", random_state=3, **COURSE), X, y)
    gradients = pd.DataFrame(
        [
            {"block": b.name, "gradient norm": b.grad_norm, "zero": b.zero, "why": b.cause or ""}
            for b in zero_diag.blocks
        ]
    )
    # The error sent back is linear in the weights after the layer: W^T delta scales with W.
    he_start = MLPClassifier(init="he_normal", random_state=3, **COURSE)
    he_diag = diagnose(he_start, X, y)

    # Unbalanced labels: drop half of class 1; the output bias now has a gradient.
    keep = np.concatenate([np.flatnonzero(y == 0), np.flatnonzero(y == 1)[::2]])
    Xu, yu = X[keep], y[keep]
    unbalanced = MLPClassifier(
        init="zeros", random_state=3, **{**COURSE, "max_iter": 15000 if size == "full" else 3000}
    )
    unbalanced.fit(Xu, yu)
    base_rate = float(yu.mean())
    p_out = float(unbalanced.predict_proba(Xu[:1])[0, 1])
    base_entropy = -(base_rate * np.log(base_rate) + (1 - base_rate) * np.log(1 - base_rate))
    unbalanced_max_weight = float(max(np.abs(W).max() for W in unbalanced.coefs_))
    factors = _gradient_factors(MLPClassifier(init="zeros", random_state=3, **COURSE), X, y)

    # normal(std=10): saturation of the outputs along training, inf textbook costs.
    big = models["normal(std=10)"]
    n_sat = COURSE["max_iter"] if size == "full" else 2000
    sat_clf = MLPClassifier(
        init="normal(std=10)", random_state=3, snapshot_every=1, **{**COURSE, "max_iter": n_sat}
    )
    sat_clf.fit(X, y)
    shares, tb = [], []
    for s in sat_clf.history_["snapshots"]:
        P = engine.Params.from_layers(s["weights"], s["biases"])
        p = engine.predict_output(P, X, "relu", "sigmoid")[0, 0]
        shares.append(float(np.mean((p == 0.0) | (p == 1.0))))
        tb.append(float(losses.textbook_binary_cross_entropy(p[None, None, :], y[None, :])[0]))
    shares_a, tb_a = np.array(shares), np.array(tb)
    inf_iters = np.flatnonzero(~np.isfinite(tb_a))
    he_curve, big_curve = models["he_normal"].loss_curve_, big.loss_curve_
    levels = [0.6, 0.5, 0.4]
    slow = pd.DataFrame(
        [
            {
                "cost below": lv,
                "he_normal": _first_below(he_curve, lv),
                "normal(std=10)": _first_below(big_curve, lv),
            }
            for lv in levels
        ]
    )
    saturation = pd.DataFrame(
        {
            "iteration": [0, 1, 10, 100, 1000][: 5 if n_sat > 1000 else 4],
        }
    )
    saturation["outputs exactly 0 or 1"] = shares_a[saturation["iteration"]]
    saturation["textbook cost"] = tb_a[saturation["iteration"]]

    layers = pd.DataFrame(
        [
            {
                "layer": r.name,
                "z std": r.preact_std,
                "a std": r.act_std,
                "dead units": len(r.dead_units),
                "verdict": r.verdict,
            }
            for r in he_diag.layers
        ]
    )

    figures = _figures(models, X, y, Xt, yt, shares_a, unbalanced, base_rate, base_entropy, factors)
    c = {b.name: b.cause for b in zero_diag.blocks}
    weight_norms = {b.name: float(b.grad_norm) for b in zero_diag.blocks if b.name[0] == "W"}
    scores = {init: float(clf.score(X, y)) for init, clf in models.items()}
    findings = [
        _claim_same_loss(
            weight_norms,
            zero_diag.loss,
            base_rate,
            p_out,
            float(unbalanced.loss_curve_[0]),
            float(unbalanced.loss_curve_[-1]),
            float(base_entropy),
            unbalanced_max_weight,
            c,
        ),
        _claim_gradient_cause(c, weight_norms),
        _claim_error_proportional(c, factors),
        _claim_large_start(
            big_curve,
            he_curve,
            shares_a,
            inf_iters,
            n_sat,
            scores["normal(std=10)"],
            scores["he_normal"],
        ),
    ]
    return StudyResult(
        name="dls-initialization",
        title="Zeros, large random and He starts on circles (Deep Learning Specialization)",
        question="Why does the same network learn the circles from one start and not another, "
        "and what exactly goes wrong at the start?",
        size=size,
        setup={
            "data": "circles: 300 training points (noise 0.05, random_state 1), 100 test points "
            "(random_state 2)",
            "network": "[2, 10, 5, 1], ReLU, sigmoid output, binary cross-entropy",
            "training": "full-batch gradient descent, learning rate 0.01, 15000 iterations",
            "starts": "zeros, normal(std=10), he_normal; random_state 3 (the course's seed)",
            "unbalanced variant": f"zeros start, {len(yu)} points with {base_rate:.0%} positive",
        },
        tables={
            "Cost every 1000 iterations": cost,
            "Accuracy and published numbers": accuracy,
            "Gradients from zeros, and why they are zero": gradients,
            "Outputs exactly 0 or 1 from normal(std=10)": saturation,
            "Iterations until the cost first falls below": slow,
            "Layer statistics of the He start": layers,
        },
        figures=figures,
        findings=findings,
        how=HOW,
        captions={
            "zero-start": "The zero start. Left: the cost on the course's balanced labels and on "
            "unbalanced ones. Right: the two factors of each weight gradient, dW = delta a^T, "
            "layer by layer; a zero factor makes the gradient zero.",
            "cost": "The cost during training from each of the course's three starts.",
            "boundaries": "What each start has learned after training: the decision regions, "
            "with the training points (dots) and the test points (squares).",
            "saturation": "From the large random start, the share of outputs that are exactly "
            "zero or one in float64, iteration by iteration.",
        },
        notes=[
            "initlab's parameters after 15000 iterations equal the course code's bit for bit on "
            "this machine. The published costs for normal(std=10) differ from a rerun here by up "
            "to 1% (at iteration 7000): from that start the trajectory amplifies the last-bit "
            "differences between BLAS builds; the accuracies agree.",
            "From zeros the output bias's gradient mean(p - y) is zero only up to rounding; over "
            "15000 iterations the bias drifts by about 1e-16.",
        ],
    )


def _figures(models, X, y, Xt, yt, shares, unbalanced, rate, entropy, factors) -> dict[str, Any]:
    zero, axes = plots.grid(1, 2, size=(5.2, 3.8))
    plots.lines(
        {
            f"the course's labels ({float(y.mean()):.0%} positive)": (
                np.arange(len(models["zeros"].loss_curve_)),
                models["zeros"].loss_curve_,
            ),
            f"unbalanced labels ({rate:.0%} positive)": (
                np.arange(len(unbalanced.loss_curve_)),
                unbalanced.loss_curve_,
            ),
        },
        ax=axes[0],
        xlabel="iteration",
        ylabel="cost",
        title="From zeros: the cost on two sets of labels",
    )
    axes[0].axhline(entropy, color="0.4", ls=":", lw=1)
    axes[0].annotate(
        "entropy of the unbalanced base rate",
        (0.98, entropy),
        xycoords=("axes fraction", "data"),
        xytext=(0, 3),
        textcoords="offset points",
        ha="right",
        fontsize=8,
    )
    cols = ["mean |a| feeding it", "mean |error| reaching it (per sample)", "|dW|"]
    values = factors[cols].to_numpy()
    plots.annotated_heatmap(
        (values != 0).astype(float),
        [[("exactly 0" if v == 0 else f"{v:.2g}") for v in row] for row in values],
        xticklabels=["activations a\nfeeding it", "error delta\nreaching it", "gradient\ndW"],
        yticklabels=[f"layer {l}" for l in factors["layer"]],
        ax=axes[1],
        cmap="RdYlGn",
        vmin=-0.25,
        vmax=1.25,
        title="dW = delta a^T: a zero factor zeroes the gradient",
    )
    for label in axes[1].get_xticklabels():
        label.set(rotation=0, ha="center")
    for text in axes[1].texts:
        text.set_fontsize(9)
    curves = {init: clf.loss_curve_ for init, clf in models.items()}
    cost = plots.loss_curves(curves, title="Cost (stable, from the logits) during training")
    fig, axes = plots.grid(1, 3, size=(3.5, 3.3))
    for ax, (init, clf) in zip(axes, models.items()):
        plots.decision_boundary(
            clf,
            X,
            y,
            ax=ax,
            X_test=Xt,
            y_test=yt,
            title=f"init={init}: train {clf.score(X, y):.3f}, test {clf.score(Xt, yt):.2f}",
        )
    sat = plots.lines(
        {"normal(std=10)": (np.arange(1, len(shares) + 1), shares)},
        logx=True,
        xlabel="iteration + 1",
        ylabel="share of outputs exactly 0 or 1",
        title="Outputs that are exactly 0 or 1 in float64, start normal(std=10)",
    )
    return {"zero-start": zero, "cost": cost, "boundaries": fig, "saturation": sat}
