"""logistic-zero: logistic regression from zero weights, against random starts and an MLP.

Question
--------
Does logistic regression started at zero learn as well as from a random start, and why can it
when a multilayer perceptron started at zero cannot?

Setup
-----
Three two-feature datasets, features standardized (zero mean, unit variance): ``iris2``
(setosa against versicolor, linearly separable), ``moons`` (200 points, noise 0.2) and
``gaussians`` (200 points, cluster std 2.5), whose separability is measured with a linear
program. Logistic regression (:class:`initlab.LogisticRegression`: a sigmoid unit on w . x + b,
mean cross-entropy, full-batch gradient descent with learning rate 1) from zeros and from random
starts ``normal(std=1)`` and ``normal(std=10)`` (weights and bias), all starts of a dataset
trained side by side as one stack by :func:`initlab.engine.train`. For contrast, an MLP
[2, 10, 5, 1] with ReLU (the course's network, learning rate 0.1) from zeros and from He.

Measured
--------
Loss, weights [b, w1, w2] and their norm at iterations spaced evenly in log scale; the largest
distance and angle between a random start's weights and the zero start's; on separable data,
the angle to the max-margin direction (min ||(b, w)||^2 subject to t_i (w . x_i + b) >= 1, the
direction gradient descent tends to, Soudry et al. 2018) and how the weights' norm grows; the
smallest eigenvalue of the Hessian at the zero start's weights (positive: strictly convex, one
minimum); accuracies; for the MLP, :func:`initlab.diagnose` at its zero start (which gradients
are zero, and why) against the same diagnosis of logistic regression.

Why
---
The loss of logistic regression is convex in (w, b), with Hessian (1/m) sum p_i (1 - p_i)
(1, x_i)(1, x_i)^T. Where the classes overlap and the data span the plane it is strictly convex:
one minimum, reached from every start. Where a line separates them there is no minimum: the
loss keeps falling as the weights grow in the separating direction, so starts meet only in
direction, and slowly (the angle shrinks like 1 / log t). At zero, the gradient is
(1/m) sum (1/2 - y_i)(1, x_i): not zero unless the two classes have the same mean and size. An
MLP from zeros has hidden units whose outputs and back-propagated errors are zero, so its weight
gradients are zero and only the output bias moves.

References
----------
D. Soudry, E. Hoffer, M. S. Nacson, S. Gunasekar, N. Srebro, "The Implicit Bias of Gradient
Descent on Separable Data", JMLR 19(70), 2018.
A. Ng, CS229 lecture notes, part II (logistic regression; the Hessian and convexity).
Coursera, Deep Learning Specialization, course 2 week 1, "Initialization" (the MLP from zeros).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from .. import engine, losses, plots
from .._random import check_random_state
from ..datasets import load_dataset
from ..diagnostics import diagnose
from ..models import DivergedWarning, LogisticRegression, MLPClassifier
from ._result import Claim, StudyResult
from .perceptron_eta import linearly_separable

__all__ = ["LEARNING_RATE", "max_margin_direction", "run"]

LEARNING_RATE = 1.0
MLP = {"hidden_layer_sizes": (10, 5), "activation": "relu", "learning_rate": 0.1}
SIZES = {
    "quick": {"iterations": 2000, "mlp_iterations": 2000, "seeds_std1": 3, "seeds_std10": 2},
    "full": {"iterations": 100_000, "mlp_iterations": 20_000, "seeds_std1": 10, "seeds_std10": 5},
}
# Weights closer than this (relative to their norm) count as the same solution; the measured
# distances are printed beside it.
SAME_TOL = 1e-6


def _standardize(X: np.ndarray) -> np.ndarray:
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _seed(rng: Any) -> int:
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2**31 - 1))
    return int(rng.randint(0, 2**31 - 1))


def max_margin_direction(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The unit vector (b, w) of the hard-margin separator with the bias penalized like a weight.

    Solves min ||(b, w)||^2 subject to t_i (w . x_i + b) >= 1 (SLSQP); gradient descent on the
    logistic loss from any start tends to this direction on separable data (Soudry et al.,
    2018), the bias being one more weight on a constant input.
    """
    t = np.where(np.asarray(y) == np.unique(y)[1], 1.0, -1.0)
    A = t[:, None] * np.column_stack([np.ones(len(X)), X])
    x0 = np.linalg.lstsq(A, np.ones(len(A)), rcond=None)[0]
    res = minimize(
        lambda v: v @ v,
        x0,
        jac=lambda v: 2 * v,
        constraints=[{"type": "ineq", "fun": lambda v: A @ v - 1.0, "jac": lambda v: A}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    )
    return res.x / np.linalg.norm(res.x)


def _angle(U: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angles between the rows of U and v, accurate near 0."""
    a = U / np.linalg.norm(U, axis=1, keepdims=True)
    b = v / np.linalg.norm(v)
    return 2.0 * np.arctan2(np.linalg.norm(a - b, axis=1), np.linalg.norm(a + b, axis=1))


def _theta(params: engine.Params) -> np.ndarray:
    """(K, 3): [b, w1, w2] of each network of the stack."""
    return np.concatenate([params.biases[0], params.weights[0][:, 0, :]], axis=1)


def _loss(params: engine.Params, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    z = engine.logits(params, X, "linear")  # (K, 1, m)
    return losses.binary_cross_entropy(z, y[None, :].astype(float))


def _min_hessian_eig(theta: np.ndarray, X: np.ndarray) -> float:
    """Smallest eigenvalue of (1/m) sum p(1-p) (1, x)(1, x)^T at theta = [b, w]."""
    A = np.column_stack([np.ones(len(X)), X])
    with np.errstate(over="ignore"):
        p = 1.0 / (1.0 + np.exp(-(A @ theta)))
    H = (A * (p * (1 - p))[:, None]).T @ A / len(X)
    return float(np.linalg.eigvalsh(H)[0])


def _starts(cfg: dict, rng: Any) -> list[tuple[str, str, int | None]]:
    out: list[tuple[str, str, int | None]] = [("zeros", "zeros", None)]
    for spec, n in (("normal(std=1)", cfg["seeds_std1"]), ("normal(std=10)", cfg["seeds_std10"])):
        for _ in range(n):
            seed = _seed(rng)
            out.append((f"{spec}, seed {seed}", spec, seed))
    return out


def _stack(starts: list[tuple[str, str, int | None]], n_features: int) -> engine.Params:
    """One stack: each start drawn exactly as LogisticRegression(init=spec, bias_init=spec,
    random_state=seed) draws it."""
    parts = [
        engine.init_params((n_features, 1), spec, spec, activation="linear", random_state=seed)
        for _, spec, seed in starts
    ]
    return engine.Params(
        [np.concatenate([p.weights[0] for p in parts])],
        [np.concatenate([p.biases[0] for p in parts])],
    )


def _checkpoints(T: int) -> list[int]:
    """About 25 iterations evenly spaced in log scale, with every power of ten up to T."""
    return sorted({int(c) for c in np.rint(np.geomspace(1, T, 25))} | set(_decades(T)))


def _decades(T: int) -> list[int]:
    return [10**k for k in range(1, int(np.log10(T)) + 1)] + [T]


def _train(params: engine.Params, X: np.ndarray, y: np.ndarray, T: int) -> dict[str, Any]:
    """Gradient descent in chunks (plain gd keeps no state, so chunks continue exactly)."""
    curve, thetas, chk_loss, done = [], [], [], 0
    checkpoints = _checkpoints(T)
    for c in checkpoints:
        r = engine.train(
            params,
            X.T,
            y[None, :].astype(float),
            activation="linear",
            output="sigmoid",
            loss="binary_cross_entropy",
            learning_rate=LEARNING_RATE,
            max_iter=c - done,
        )
        params, done = r.params, c
        curve.append(r.loss)
        thetas.append(_theta(params))
        chk_loss.append(_loss(params, X, y))
    return {
        "curve": np.concatenate(curve),  # (T, K), before each update
        "checkpoints": checkpoints,
        "thetas": np.array(thetas),  # (C, K, 3), after c updates
        "loss": np.array(chk_loss),  # (C, K)
        "params": params,
    }


def _dataset_list(rng: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    X1, y1 = load_dataset("iris2")
    X2, y2 = load_dataset("moons", n_samples=200, noise=0.2, random_state=_seed(rng))
    X3, y3 = load_dataset("gaussians", n_samples=200, cluster_std=2.5, random_state=_seed(rng))
    return {
        "iris2": (_standardize(X1), y1),
        "moons": (_standardize(X2), y2),
        "gaussians": (_standardize(X3), y3),
    }


def run(size: str = "full", random_state: Any = 0) -> StudyResult:
    """Run the study; see the module docstring."""
    cfg = SIZES[size]
    T = cfg["iterations"]
    rng = check_random_state(random_state)
    data = _dataset_list(rng)
    starts = _starts(cfg, rng)
    mlp_seed = _seed(rng)
    labels = [s[0] for s in starts]
    std10 = next(i for i, s in enumerate(starts) if s[1] == "normal(std=10)")

    start_rows, conv_rows, summary_rows, grad_rows = [], [], [], []
    runs, models, facts = {}, {}, {}
    for name, (X, y) in data.items():
        sep = linearly_separable(X, y)
        params = _stack(starts, X.shape[1])
        initial = _loss(params, X, y)
        res = _train(params, X, y, T)
        runs[name] = res
        th = res["thetas"]  # (C, K, 3)
        final, loss_T = th[-1], res["loss"][-1]
        margin = max_margin_direction(X, y) if sep else None
        logits_T = final[:, :1] + final[:, 1:] @ X.T  # (K, m)
        pred = logits_T > 0
        acc = (pred == (y == 1)).mean(axis=1)
        dist = np.linalg.norm(final - final[0], axis=1)
        ang = (
            _angle(final, final[0]) if np.linalg.norm(final[0]) > 0 else np.full(len(final), np.nan)
        )
        ang_margin = _angle(final, margin) if sep else np.full(len(final), np.nan)
        for k, label in enumerate(labels):
            start_rows.append(
                {
                    "dataset": name,
                    "start": label,
                    "loss at start": initial[k],
                    f"loss after {T}": loss_T[k],
                    "|(b, w)|": float(np.linalg.norm(final[k])),
                    "b": final[k, 0],
                    "w1": final[k, 1],
                    "w2": final[k, 2],
                    "distance to zero start's (b, w)": dist[k],
                    "angle to zero start's (rad)": ang[k],
                    "angle to max-margin direction (rad)": ang_margin[k],
                    "training accuracy": acc[k],
                    "same predictions as zero start": bool((pred[k] == pred[0]).all()),
                }
            )
        for c, it in enumerate(res["checkpoints"]):
            t_c, l_c = th[c], res["loss"][c]
            conv_rows.append(
                {
                    "dataset": name,
                    "iteration": it,
                    "zero start: loss": l_c[0],
                    "random starts: loss min": l_c[1:].min(),
                    "random starts: loss max": l_c[1:].max(),
                    "zero start: |(b, w)|": float(np.linalg.norm(t_c[0])),
                    "max distance to zero start": float(
                        np.linalg.norm(t_c[1:] - t_c[0], axis=1).max()
                    ),
                    "max angle to zero start (rad)": float(_angle(t_c[1:], t_c[0]).max()),
                    "zero start: angle to max margin (rad)": float(_angle(t_c[:1], margin)[0])
                    if sep
                    else np.nan,
                    "random starts: max angle to max margin (rad)": float(
                        _angle(t_c[1:], margin).max()
                    )
                    if sep
                    else np.nan,
                    "Hessian's smallest eigenvalue (zero start)": _min_hessian_eig(t_c[0], X),
                }
            )

        # The same starts fitted by the estimator, for the figures and as a check of the stack.
        lr_zero = LogisticRegression(init="zeros", learning_rate=LEARNING_RATE, max_iter=T)
        lr_zero.fit(X, y)
        _, spec, seed = starts[std10]
        lr_rand = LogisticRegression(
            init=spec, bias_init=spec, learning_rate=LEARNING_RATE, max_iter=T, random_state=seed
        ).fit(X, y)
        est_gap = max(
            float(np.abs(np.r_[m.intercept_, m.coef_[0]] - final[k]).max())
            for m, k in ((lr_zero, 0), (lr_rand, std10))
        )
        mlp_zero = MLPClassifier(init="zeros", max_iter=cfg["mlp_iterations"], **MLP)
        mlp_he = MLPClassifier(
            init="he_normal", max_iter=cfg["mlp_iterations"], random_state=mlp_seed, **MLP
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DivergedWarning)
            mlp_zero.fit(X, y)
            mlp_he.fit(X, y)
        models[name] = {
            "logistic, zeros": lr_zero,
            f"logistic, {starts[std10][0]}": lr_rand,
            "MLP [2, 10, 5, 1], zeros": mlp_zero,
            "MLP [2, 10, 5, 1], he_normal": mlp_he,
        }
        majority = max(float(y.mean()), 1 - float(y.mean()))
        decades = set(_decades(T))
        zero_d = diagnose(MLPClassifier(init="zeros", **MLP), X, y)
        lr_d = diagnose(LogisticRegression(init="zeros", learning_rate=LEARNING_RATE), X, y)
        for model, d in (
            ("logistic regression, zeros", lr_d),
            ("MLP [2, 10, 5, 1], zeros", zero_d),
        ):
            for b in d.blocks:
                grad_rows.append(
                    {
                        "dataset": name,
                        "model": model,
                        "block": b.name,
                        "gradient norm at the start": b.grad_norm,
                        "exactly zero": b.zero,
                        "why": b.cause or "",
                    }
                )
        rand_loss = loss_T[1:]
        facts[name] = {
            "separable": sep,
            "zero_accuracy": float(acc[0]),
            "best_random_accuracy": float(acc[1:].max()),
            "min_random_accuracy": float(acc[1:].min()),
            "same_predictions": bool((pred == pred[0]).all()),
            "max_distance": float(dist[1:].max()),
            "max_rel_distance": float(dist[1:].max() / np.linalg.norm(final[0])),
            "loss_zero": float(loss_T[0]),
            "loss_spread": float(np.abs(rand_loss - loss_T[0]).max() / loss_T[0]),
            "loss_random_min": float(rand_loss.min()),
            "loss_random_max": float(rand_loss.max()),
            "angle_first": float(_angle(th[1][1:], th[1][0]).max()),
            "angles_by_decade": [
                (it, float(_angle(t[1:], t[0]).max()))
                for it, t in zip(res["checkpoints"], th)
                if it in decades
            ],
            "norms_by_decade": [
                (it, float(np.linalg.norm(t[0])))
                for it, t in zip(res["checkpoints"], th)
                if it in decades
            ],
            "angle_final": float(np.nanmax(ang[1:])),
            "norm_zero": [float(np.linalg.norm(t[0])) for t in th],
            "margin_angle_zero": float(ang_margin[0]) if sep else None,
            "margin_angle_random_min": float(np.min(ang_margin[1:])) if sep else None,
            "margin_angle_random_max": float(np.max(ang_margin[1:])) if sep else None,
            "min_hessian_eig": _min_hessian_eig(final[0], X),
            "zero_weight_gradient_norm": next(b.grad_norm for b in lr_d.blocks if b.name == "W1"),
            "lr_zero_weight_grads": [b.name for b in lr_d.blocks if b.zero and b.name[0] == "W"],
            "lr_zero_bias_cause": next(
                (b.cause for b in lr_d.blocks if b.zero and b.name[0] == "b"), None
            ),
            "mlp_verdict": zero_d.verdict,
            "mlp_zero_weight_grads": [b.name for b in zero_d.blocks if b.zero and b.name[0] == "W"],
            "mlp_causes": {b.name: b.cause for b in zero_d.blocks if b.zero},
            "mlp_weights_zero": not any(W.any() for W in mlp_zero.coefs_),
            "mlp_constant": len(np.unique(mlp_zero.predict(X))) == 1,
            "mlp_zero_accuracy": float(mlp_zero.score(X, y)),
            "mlp_he_accuracy": float(mlp_he.score(X, y)),
            "majority": majority,
            "estimator_gap": est_gap,
        }
        f = facts[name]
        summary_rows.append(
            {
                "dataset": name,
                "samples": len(X),
                "linearly separable": sep,
                "starts": len(starts),
                "iterations": T,
                "logistic from zeros: accuracy": f["zero_accuracy"],
                "logistic from random starts: accuracy": f"{f['min_random_accuracy']:.3f} to "
                f"{f['best_random_accuracy']:.3f}",
                "logistic: same predictions from every start": f["same_predictions"],
                "max distance to zero start's (b, w)": f["max_distance"],
                "max angle to zero start's (rad)": f["angle_final"],
                "loss from zeros": f["loss_zero"],
                "max relative loss difference": f["loss_spread"],
                "MLP from zeros: accuracy": f["mlp_zero_accuracy"],
                "majority class share": majority,
                "MLP from he_normal: accuracy": f["mlp_he_accuracy"],
            }
        )

    # Verdict.
    nonsep = [n for n, f in facts.items() if not f["separable"]]
    sep_names = [n for n, f in facts.items() if f["separable"]]
    nonsep_same = all(
        facts[n]["max_rel_distance"] < SAME_TOL and facts[n]["same_predictions"] for n in nonsep
    )
    zero_as_good = all(f["zero_accuracy"] >= f["best_random_accuracy"] for f in facts.values())
    sep_meet = all(
        facts[n]["angle_final"] < facts[n]["angle_first"] and facts[n]["same_predictions"]
        for n in sep_names
    )
    lr_moves = all(not f["lr_zero_weight_grads"] for f in facts.values())
    mlp_stuck = all(
        f["mlp_weights_zero"] and f["mlp_constant"] and f["mlp_zero_accuracy"] <= f["majority"]
        for f in facts.values()
    )
    # On data with a minimum, the zero start's loss is never the worst of the starts'.
    zero_loss_ok = all(
        facts[n]["loss_zero"] <= facts[n]["loss_random_max"] * (1 + 1e-12) for n in nonsep
    )
    if zero_as_good and lr_moves and zero_loss_ok:
        verdict = "holds"
    elif zero_as_good and lr_moves:
        verdict = "qualified"  # as accurate, but behind the random starts in loss
    else:
        verdict = "fails"
    evidence = _evidence(facts, nonsep, sep_names, starts, T, mlp_stuck)
    summary = _summary(facts, nonsep, sep_names, len(starts) - 1, verdict, mlp_stuck)
    findings = [
        Claim(
            "logistic-zero",
            "Logistic regression learns fine from zero weights.",
            verdict,
            evidence,
            {
                "iterations": T,
                "starts": labels,
                "nonseparable_same_solution": nonsep_same,
                "zero_start_as_accurate": zero_as_good,
                "zero_start_loss_not_worst": zero_loss_ok,
                "separable_directions_meet": sep_meet,
                "logistic_zero_gradient_nonzero": lr_moves,
                "mlp_from_zeros_stuck": mlp_stuck,
                "per_dataset": {
                    n: {k: v for k, v in f.items() if k not in ("mlp_causes", "norm_zero")}
                    for n, f in facts.items()
                },
                "random_starts": len(starts) - 1,
            },
            short="Logistic regression learns fine from zero weights",
            summary=summary,
            figure="boundaries",
        )
    ]
    figures = _figures(data, runs, models, labels, facts)
    gap = max(f["estimator_gap"] for f in facts.values())
    notes = [
        "All starts of a dataset are trained as one stack by initlab.engine.train; the "
        "estimator LogisticRegression fitted from the zero start and from "
        f"{starts[std10][0]} ends within {gap:.1e} of the stack's weights.",
        "On separable data the loss has no minimum: it falls like 1/t while |(b, w)| grows "
        "like log t, so weights are compared by direction and loss, not by value; the angle "
        "between starts shrinks only like 1/log t.",
        "A start of normal(std=10) has a large initial loss (saturated sigmoids) but gradient "
        "descent on the convex loss still reaches the same minimum where there is one.",
        f"The MLP contrast uses the course's network [2, 10, 5, 1] with ReLU, learning rate "
        f"{MLP['learning_rate']}, {cfg['mlp_iterations']} iterations; its He start is drawn with "
        f"seed {mlp_seed}.",
    ]
    return StudyResult(
        name="logistic-zero",
        title="Logistic regression from zero weights",
        question="Does logistic regression started at zero learn as well as from a random "
        "start, and why can it when an MLP started at zero cannot?",
        size=size,
        setup={
            "data": "iris2, moons (200, noise 0.2), gaussians (200, cluster std 2.5); features "
            "standardized",
            "model": "logistic regression: sigmoid(w . x + b), mean cross-entropy",
            "training": f"full-batch gradient descent, learning rate {LEARNING_RATE}, {T} "
            "iterations",
            "starts": labels,
            "MLP contrast": f"[2, 10, 5, 1], ReLU, learning rate {MLP['learning_rate']}, "
            f"{cfg['mlp_iterations']} iterations, zeros and he_normal (seed {mlp_seed})",
            "random_state": repr(random_state),
        },
        tables={
            "Summary by dataset": pd.DataFrame(summary_rows),
            "Every start after training": pd.DataFrame(start_rows),
            "Along training (iterations spaced in log scale)": pd.DataFrame(conv_rows),
            "Gradients at the zero start, and why they are zero": pd.DataFrame(grad_rows),
        },
        figures=figures,
        findings=findings,
        notes=notes,
        how=HOW,
        captions={
            "boundaries": "What each model learns on each dataset: logistic regression from "
            "zeros and from a large random start, and the MLP from zeros and from He.",
            "loss": "The loss along training from the zero start and from random starts, on a "
            "log scale: on separable data it keeps falling, elsewhere every start meets.",
            "directions": "Do the starts meet? How far the random starts' weights stay from the "
            "zero start's (in value, or in direction on separable data), and the weights' norm.",
        },
    )


HOW = (
    "Every start of a dataset trains side by side in one stack, with the same data, learning "
    "rate and number of iterations, so they differ only in where they begin. Where the classes "
    "overlap, the loss is strictly convex (its Hessian's smallest eigenvalue is measured), so "
    "the starts are compared by their weights; where a line separates the classes there is no "
    "minimum, so they are compared by direction, against the max-margin direction. The MLP "
    "from zeros is diagnosed with the same tool, to show which of its gradients are zero and why."
)


def _and(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _summary(facts, nonsep, sep_names, n_rand: int, verdict: str, mlp_stuck: bool) -> str:
    """One sentence: how the zero start compares with the random starts, and the MLP's contrast."""
    met = [n for n in nonsep if facts[n]["max_rel_distance"] < SAME_TOL]
    parts = []
    if met:
        dist = max(facts[n]["max_distance"] for n in met)
        parts.append(f"the same solution to {dist:.0e} on {_and(met)}")
    for n in (n for n in nonsep if n not in met):
        parts.append(f"accuracy {facts[n]['zero_accuracy']:.3f} on {n}, not yet converged")
    for n in sep_names:
        parts.append(f"accuracy {facts[n]['zero_accuracy']:.3f} on separable {n}")
    mlp = max(f["mlp_zero_accuracy"] for f in facts.values())
    if verdict == "holds":
        mlp_text = (
            f"unlike an MLP's, which stays at accuracy {mlp:.2f}"
            if mlp_stuck
            else f"and an MLP from zeros reaches accuracy {mlp:.2f}"
        )
        return (
            f"Yes: from zero it matches {n_rand} random starts, reaching {_and(parts)}; its "
            f"gradient at zero is not zero, {mlp_text}."
        )
    behind = [n for n in nonsep if facts[n]["loss_zero"] > facts[n]["loss_random_max"]]
    if verdict == "qualified":
        return (
            f"As accurate as {n_rand} random starts ({_and(parts)}), but its loss is behind "
            + _and(
                [
                    f"theirs on {n}, {facts[n]['loss_zero']:.4g} against at most "
                    f"{facts[n]['loss_random_max']:.4g}"
                    for n in behind
                ]
            )
            + "."
        )
    worse = [n for n, f in facts.items() if f["zero_accuracy"] < f["best_random_accuracy"]]
    return (
        "No: from zero "
        + (
            _and(
                [
                    f"accuracy {facts[n]['zero_accuracy']:.3f} on {n} against "
                    f"{facts[n]['best_random_accuracy']:.3f} from a random start"
                    for n in worse
                ]
            )
            if worse
            else "its weight gradient is zero on "
            + _and([n for n, f in facts.items() if f["lr_zero_weight_grads"]])
        )
        + "."
    )


def _evidence(facts, nonsep, sep_names, starts, T, mlp_stuck) -> str:
    parts = []
    n_rand = len(starts) - 1
    met = [n for n in nonsep if facts[n]["max_rel_distance"] < SAME_TOL]
    if met:
        dist = max(facts[n]["max_distance"] for n in met)
        spread = max(facts[n]["loss_spread"] for n in met)
        eig = min(facts[n]["min_hessian_eig"] for n in met)
        losses_ = ", ".join(f"{n} {facts[n]['loss_zero']:.4f}" for n in met)
        parts.append(
            f"Not separable ({', '.join(met)}): from zeros and {n_rand} random starts "
            f"(normal std 1 and 10) gradient descent reaches the same (b, w) to {dist:.1e} and "
            f"the same loss ({losses_}; relative spread {spread:.1e}) in {T} iterations; the "
            f"Hessian's smallest eigenvalue there is {eig:.3g} > 0 (strictly convex: one "
            "minimum)."
        )
    for n in (n for n in nonsep if n not in met):
        f = facts[n]
        parts.append(
            f"Not separable ({n}), but not yet converged: after {T} iterations the starts are "
            f"still {f['max_distance']:.2g} apart, losses {f['loss_random_min']:.4g} to "
            f"{f['loss_random_max']:.4g} from random starts and {f['loss_zero']:.4g} from zeros "
            f"(accuracy {f['zero_accuracy']:.3f} from zeros, {f['min_random_accuracy']:.3f} to "
            f"{f['best_random_accuracy']:.3f} from random starts); "
            f"the Hessian's smallest eigenvalue {f['min_hessian_eig']:.2g} makes the valley "
            f"nearly flat, so gradient descent needs about 1/(lr x eigenvalue) = "
            f"{1 / (LEARNING_RATE * f['min_hessian_eig']):.0f} iterations per e-fold of the "
            "distance to the minimum."
        )
    for n in sep_names:
        f = facts[n]
        at = ", ".join(f"{a:.2f} at {it}" for it, a in f["angles_by_decade"])
        norms = ", ".join(f"{v:.1f} at {it}" for it, v in f["norms_by_decade"])
        parts.append(
            f"Separable ({n}): training accuracy {f['zero_accuracy']:.3f} from zeros, "
            f"{f['min_random_accuracy']:.3f} to {f['best_random_accuracy']:.3f} from random starts "
            f"(same predictions: {'yes' if f['same_predictions'] else 'no'}). The loss has no "
            f"minimum: from zeros it falls to {f['loss_zero']:.2g} after {T} iterations (random "
            f"starts {f['loss_random_min']:.2g} to {f['loss_random_max']:.2g}) while |(b, w)| "
            f"grows ({norms}); the directions meet only slowly (largest angle between a random "
            f"start's (b, w) and the zero start's, in rad: {at}). After {T} iterations the angle "
            f"to the max-margin direction is {f['margin_angle_zero']:.3f} rad from zeros, "
            f"{f['margin_angle_random_min']:.3f} to {f['margin_angle_random_max']:.3f} from the "
            "random starts."
        )
    any_f = next(iter(facts.values()))
    grad = ", ".join(f"{n} {f['zero_weight_gradient_norm']:.3g}" for n, f in facts.items())
    causes = any_f["mlp_causes"]
    bias_zero = [n for n, f in facts.items() if f["lr_zero_bias_cause"]]
    parts.append(
        f"At zero, logistic regression's weight gradient is not zero (norm {grad}"
        + (
            f"; only the bias's is, on {', '.join(bias_zero)}, because "
            f"{facts[bias_zero[0]]['lr_zero_bias_cause']}"
            if bias_zero
            else ""
        )
        + "). An MLP [2, 10, 5, "
        f"1] from zeros is '{any_f['mlp_verdict']}': every weight gradient is exactly zero "
        f"(W1: {causes.get('W1')}; W3: {causes.get('W3')}); it ends with all weights zero and "
        f"one class predicted ({'yes' if mlp_stuck else 'NO'}), accuracy "
        + ", ".join(
            f"{n} {f['mlp_zero_accuracy']:.2f} (majority {f['majority']:.2f}, He "
            f"{f['mlp_he_accuracy']:.2f})"
            for n, f in facts.items()
        )
        + "."
    )
    return " ".join(parts)


def _figures(data, runs, models, labels, facts) -> dict[str, Any]:
    names = list(data)
    # Loss curves: the zero start and at most two random starts of each scale.
    shown = [0]
    for spec in ("normal(std=1)", "normal(std=10)"):
        shown += [k for k, lab in enumerate(labels) if lab.startswith(spec)][:2]
    loss_fig, axes = plots.grid(1, len(names), size=(3.5, 3.6))
    for ax, name in zip(axes, names):
        curve = runs[name]["curve"]
        T = len(curve)
        idx = np.unique(np.geomspace(1, T, 300).astype(int)) - 1
        sep = "separable" if facts[name]["separable"] else "not separable"
        plots.lines(
            {labels[k]: (idx + 1, curve[idx, k]) for k in shown},
            ax=ax,
            logx=True,
            logy=True,
            xlabel="iteration",
            ylabel="cross-entropy loss",
            title=f"{name} ({sep})",
        )
        ax.get_legend().remove()
    # One legend for the three panels, below them: the starts are the same in each.
    handles, names_ = axes[0].get_legend_handles_labels()
    loss_fig.legend(handles, names_, loc="outside lower center", ncols=3, fontsize=8)
    loss_fig.suptitle(
        f"The loss from each start ({len(shown)} of the {len(labels)} starts shown)", fontsize=10
    )

    cols = list(next(iter(models.values())))
    bnd, axes = plots.grid(len(names), len(cols), size=(2.6, 2.45))
    for r, name in enumerate(names):
        X, y = data[name]
        for c, key in enumerate(cols):
            m = models[name][key]
            plots.decision_boundary(
                m,
                X,
                y,
                ax=axes[r * len(cols) + c],
                resolution=150,
                title=f"{name}: {key}\ntraining accuracy {m.score(X, y):.3f}",
            )
            ax = axes[r * len(cols) + c]
            ax.title.set_fontsize(7.5)
            ax.tick_params(labelsize=7)
            ax.xaxis.label.set_fontsize(8)
            ax.yaxis.label.set_fontsize(8)

    # Directions: how far the random starts' (b, w) stay from the zero start's, and the norm.
    series, norms = {}, {}
    for name in names:
        res = runs[name]
        it = np.array(res["checkpoints"])
        th = res["thetas"]
        if facts[name]["separable"]:
            series[f"{name}: max angle, random starts to zero start (rad)"] = (
                it,
                [_angle(t[1:], t[0]).max() for t in th],
            )
            margin = max_margin_direction(*data[name])
            series[f"{name}: zero start to max-margin direction (rad)"] = (
                it,
                [_angle(t[:1], margin)[0] for t in th],
            )
        else:
            series[f"{name}: max distance, random starts to zero start"] = (
                it,
                [np.linalg.norm(t[1:] - t[0], axis=1).max() for t in th],
            )
        norms[name] = (it, [np.linalg.norm(t[0]) for t in th])
    dirs, axes = plots.grid(1, 2, size=(5.25, 4.0))
    plots.lines(
        {k: (x, np.maximum(np.asarray(v, dtype=float), 1e-17)) for k, (x, v) in series.items()},
        ax=axes[0],
        logx=True,
        logy=True,
        marker=".",
        xlabel="iteration",
        ylabel="angle (rad) or distance (floored at 1e-17)",
        title="Do the starts meet? Not separable: in value, fast;\nseparable: in direction, slowly",
    )
    plots.lines(
        {
            f"{n} ({'separable' if facts[n]['separable'] else 'not separable'})": v
            for n, v in norms.items()
        },
        ax=axes[1],
        logx=True,
        marker=".",
        xlabel="iteration",
        ylabel="|(b, w)| from the zero start",
        title="The weights' norm: bounded unless the data are separable",
    )
    return {"loss": loss_fig, "boundaries": bnd, "directions": dirs}
