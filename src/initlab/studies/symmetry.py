"""symmetry: what does a network trained from a symmetric start (zeros or another constant) learn?

Question
--------
A start in which the units of a layer are equal (all zeros, or every weight the same constant) is
said to "fail". What exactly fails: do the gradients vanish, do equal units stay equal, and what
does such a network actually train?

Setup
-----
Circles (300 points, noise 0.05, ``random_state=1``), layers [2, 10, 5, 1] with a sigmoid
output, zero biases, learning rate 0.1 (ten times the course's 0.01, so that the symmetric
networks come close to what they can learn within the budget). Hidden activations relu, tanh,
sigmoid, leaky_relu (slope 0.01) and gelu; starts zeros, ``constant(value=0.5)``,
``constant(value=-0.3)`` (the symmetric ones), ``he_normal`` and ``normal(std=1e-6)`` (random,
distinct units). Each pair is trained twice with the same number of parameter updates:
full-batch gradient descent, and mini-batches of 30 shuffled every epoch (the random starts and
the shuffles come from one seed drawn from ``random_state``). Training runs through
:class:`initlab.MLPClassifier`, whose engine keeps equal units equal bit for bit
(``products="auto"``: every element of a matrix product is summed in the same order when the
start has equal units).

Measured
--------
The hidden outputs of an all-zero network for each activation (and softplus); the gradient of
every block at the start on the full data, and which blocks moved during training; the
effective width of each hidden layer (groups of bit-for-bit equal units,
:func:`initlab.diagnostics.symmetry_groups`) at every snapshot; the final train accuracy and
loss; the collapsed network (:func:`initlab.collapse`) and the largest gap
max |p_full - p_collapsed| between the two networks' probabilities; for sigmoid from zeros, each
block's gradient, why it is zero (:func:`initlab.diagnose`) and whether it is equal across units,
on the balanced data and on an unbalanced batch for the first updates. As an aside, the
symmetric starts retrained with plain BLAS matrix products (``engine.train(products="blas")``):
when rounding alone first tells equal units apart, by how much, and whether it changes the
function learned. Reference: the best accuracy of any half-plane on the data, which bounds a
width-1 network with a monotone activation.

References
----------
I. Goodfellow, Y. Bengio and A. Courville, *Deep Learning*, MIT Press 2016, section 8.4
("the initial parameters need to break symmetry between different units").
Coursera, Deep Learning Specialization, course 2 week 1, "Initialization" (zero initialization
fails to break symmetry).
Stanford CS231n, "Neural Networks Part 2: Setting up the Data and the Loss", section
"Weight Initialization" (pitfall: all zero initialization).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import engine, plots
from .._random import check_random_state
from ..activations import get_activation
from ..datasets import load_dataset
from ..diagnostics import collapse, diagnose, symmetry_groups, unit_signatures
from ..models import MLPClassifier
from ._result import Claim, StudyResult

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "gelu")
STARTS = ("zeros", "constant(value=0.5)", "constant(value=-0.3)", "he_normal", "normal(std=1e-6)")
SYMMETRIC = STARTS[:3]
MONOTONE = ("relu", "tanh", "sigmoid", "leaky_relu")  # gelu dips below zero near z = -0.75
# Activations whose zero-weight output is checked: the study's, and softplus (phi(0) = ln 2).
ZERO_OUTPUT_ACTIVATIONS = (*ACTIVATIONS, "softplus")
HIDDEN = (10, 5)
N_SAMPLES = 300
BATCH = 30  # 10 mini-batches per epoch
LEARNING_RATE = 0.1
# Full-batch iterations; mini-batch training runs a tenth as many epochs (the same updates).
ITERATIONS = {"full": 15000, "quick": 800}
SNAPSHOTS = 30  # effective width checked at this many points of each run
# A block "moved" when some parameter changed by more than this: far above the drift that
# rounding alone gives a gradient that cancels over the data (about 1e-16 over 15000 updates).
MOVED_ATOL = 1e-12
# A symmetric start "beats chance" when it classifies more than this share of the points.
CHANCE_MARGIN = 0.55


HOW = (
    "Every start is trained from the same seed and the same data, full-batch and in "
    "mini-batches, while the units of each hidden layer are compared bit for bit at regular "
    "checks (the engine sums equal units in the same order, so equality is exact, not up to "
    "rounding). A network whose units stayed equal is compared with its collapsed form, one "
    "unit per group, and the best a half-plane can do on the circles bounds what such a "
    "network can learn. The gradient of each block at the start is read from the "
    "backpropagation formulas, with the factor that makes it zero."
)


def _draw_seed(rng: Any) -> int:
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2**31 - 1))
    return int(rng.randint(0, 2**31 - 1))


def _describe(random_state: Any) -> str:
    """The seed as given (an int or None), or the kind of generator passed."""
    if random_state is None or isinstance(random_state, int):
        return repr(random_state)
    return f"a {type(random_state).__name__}"


def _widths(weights: list[np.ndarray], biases: list[np.ndarray]) -> tuple[int, ...]:
    """Effective width of every hidden layer (bit-for-bit groups of interchangeable units)."""
    return tuple(
        len(symmetry_groups(weights[l], biases[l], weights[l + 1])) for l in range(len(weights) - 1)
    )


def _spread(weights: list[np.ndarray], biases: list[np.ndarray]) -> tuple[float, float]:
    """Largest difference between a hidden unit's parameters (incoming, bias, outgoing) and the
    first unit's of its layer, absolute and relative to the layer's largest parameter: 0 while
    the units are equal."""
    absolute = relative = 0.0
    for l in range(len(weights) - 1):
        sig = unit_signatures(weights[l], biases[l], weights[l + 1])
        diff = float(np.abs(sig - sig[0]).max())
        absolute = max(absolute, diff)
        if diff:
            relative = max(relative, diff / float(np.abs(sig).max()))
    return absolute, relative


def _fmt_widths(w: tuple[int, ...]) -> str:
    return ", ".join(str(v) for v in w)


def _best_half_plane(X: np.ndarray, y: np.ndarray, n_directions: int = 720) -> float:
    """The best accuracy of any half-plane {x : u.x > t} (either side) over ``n_directions``
    directions u and every threshold between two projected points."""
    best = 0.0
    m = len(y)
    for theta in np.linspace(0.0, np.pi, n_directions, endpoint=False):
        proj = X @ np.array([np.cos(theta), np.sin(theta)])
        ys = y[np.argsort(proj, kind="stable")]
        # Points 0..k-1 predicted 0 and k..m-1 predicted 1: correct = zeros below + ones above.
        zeros_below = np.concatenate([[0], np.cumsum(ys == 0)])
        ones_above = np.concatenate([[0], np.cumsum((ys == 1)[::-1])])[::-1]
        correct = zeros_below + ones_above
        best = max(best, float(correct.max()) / m, float(m - correct.min()) / m)
    return best


def _zero_outputs(X: np.ndarray) -> pd.DataFrame:
    """Hidden outputs of a [2, 10, 5, 1] network with all-zero weights and biases."""
    rows = []
    for a in ZERO_OUTPUT_ACTIVATIONS:
        params = engine.init_params((2, *HIDDEN, 1), "zeros", "zeros", activation=a)
        _, acts = engine.forward(params, np.ascontiguousarray(X.T), get_activation(a))
        h1, h2 = acts[1][0], acts[2][0]
        value = float(get_activation(a).f(np.zeros(1))[0])
        rows.append(
            {
                "activation": a,
                "phi(0)": value,
                "layer 1 outputs (min)": float(h1.min()),
                "layer 1 outputs (max)": float(h1.max()),
                "layer 2 outputs (min)": float(h2.min()),
                "layer 2 outputs (max)": float(h2.max()),
                "one value for every input and unit": bool(
                    (h1 == value).all() and (h2 == value).all()
                ),
                "all zero": bool(not h1.any() and not h2.any()),
            }
        )
    return pd.DataFrame(rows)


def _moved(first: dict[str, Any], clf: MLPClassifier) -> list[str]:
    names = []
    L = len(clf.coefs_)
    for l in range(L):
        if np.abs(clf.coefs_[l] - first["weights"][l]).max() > MOVED_ATOL:
            names.append(f"W{l + 1}")
        if np.abs(clf.intercepts_[l] - first["biases"][l]).max() > MOVED_ATOL:
            names.append(f"b{l + 1}")
    return names


def _equal_across_units(g: np.ndarray, kind: str, l: int, L: int) -> bool | None:
    """Whether a gradient block is the same for every hidden unit it connects: rows for a hidden
    layer's own units, columns for the hidden units feeding it; None for the output bias."""
    if kind == "b":
        return bool((g == g[0]).all()) if l < L - 1 else None
    rows = bool((g == g[0]).all()) if l < L - 1 else True
    cols = bool((g == g[:, :1]).all()) if l > 0 else True
    return rows and cols


def _sigmoid_zero_blocks(X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Sigmoid from zeros: each block's gradient on the balanced data, then on an unbalanced batch
    (the first 30 points) at the start and after one and two updates on that batch."""
    kw = dict(hidden_layer_sizes=HIDDEN, activation="sigmoid", init="zeros", bias_init="zeros")
    Xb, yb = X[:BATCH], y[:BATCH]
    situations = [(f"all {len(y)} points ({int(y.sum())} positive), start", X, y, 0)]
    situations += [
        (
            f"first {BATCH} points ({int(yb.sum())} of {BATCH} positive), after {k} update(s)",
            Xb,
            yb,
            k,
        )
        for k in range(3)
    ]
    rows = []
    for label, Xs, ys, k in situations:
        model = MLPClassifier(**kw, learning_rate=LEARNING_RATE, max_iter=k + 1, snapshot_every=1)
        model.fit(Xs, ys)
        snap = model.history_["snapshots"][k]  # parameters and gradient before update k
        state = MLPClassifier(**kw, learning_rate=LEARNING_RATE, max_iter=max(k, 1))
        d = diagnose(state.fit(Xs, ys) if k else state, Xs, ys)
        L = len(snap["weights"])
        for blk in d.blocks:
            kind, l = blk.name[0], int(blk.name[1:]) - 1
            g = (snap["grad_weights"] if kind == "W" else snap["grad_biases"])[l]
            rows.append(
                {
                    "data and state": label,
                    "block": blk.name,
                    "gradient norm": float(np.linalg.norm(g)),
                    "zero (up to rounding)": blk.zero,
                    "why zero": blk.cause or "",
                    "equal for every hidden unit": _equal_across_units(g, kind, l, L),
                }
            )
    return pd.DataFrame(rows)


def _blas_aside(
    X: np.ndarray, y: np.ndarray, runs: dict[tuple[str, str, str], dict[str, Any]], schedules, seed
) -> pd.DataFrame:
    """The symmetric starts retrained with plain BLAS products, compared with the exact runs.

    The three symmetric starts of an activation train as one stack (a stack of K networks gives
    each network the same BLAS products as K = 1, bit for bit, on this code path).
    """
    rows = []
    Y = y[None, :].astype(float)
    for a in ACTIVATIONS:
        for sched, (batch, n_iter, _) in schedules.items():
            every = 1 if batch else max(1, n_iter // 1500)
            params = engine.init_params(
                (2, *HIDDEN, 1), "zeros", "zeros", activation=a, K=len(SYMMETRIC)
            )
            for k, s in enumerate(SYMMETRIC):
                one = engine.init_params((2, *HIDDEN, 1), s, "zeros", activation=a)
                for W, W1 in zip(params.weights, one.weights):
                    W[k] = W1[0]
            result = engine.train(
                params,
                X.T,
                Y,
                activation=a,
                learning_rate=LEARNING_RATE,
                max_iter=n_iter,
                batch_size=batch,
                # The exact runs' shuffles: a constant start draws nothing before them.
                shuffle=np.random.RandomState(seed) if batch else None,
                snapshot_every=every,
                products="blas",
            )
            p_blas = engine.predict_output(result.params, X, a, "sigmoid")[:, 0]
            # The first snapshot at which some hidden unit of network k differs from unit 0.
            first_split = np.full(len(SYMMETRIC), np.nan)
            for snap in result.snapshots:
                state = engine.Params(snap["weights"], snap["biases"])
                equal = np.ones(len(SYMMETRIC), dtype=bool)
                for l in range(len(HIDDEN)):
                    sig = engine.unit_signatures(state, l)
                    equal &= (sig == sig[:, :1]).all(axis=(1, 2))
                first_split[np.isnan(first_split) & ~equal] = snap["iteration"]
                if not np.isnan(first_split).any():
                    break
            for k, s in enumerate(SYMMETRIC):
                first = first_split[k]
                W = [w[k] for w in result.params.weights]
                b = [v[k] for v in result.params.biases]
                absolute, relative = _spread(W, b)
                run_exact = runs[a, s, sched]
                p_exact = run_exact["model"].predict_proba(X)[:, 1]
                rows.append(
                    {
                        "activation": a,
                        "start": s,
                        "training": sched,
                        "first split seen at iteration": first,
                        "checked every": every,
                        "effective width at end": _fmt_widths(_widths(W, b)),
                        "largest difference between units": absolute,
                        "largest difference (relative)": relative,
                        "max |p_blas - p_exact|": float(np.abs(p_blas[k] - p_exact).max()),
                        "train accuracy (BLAS)": float(np.mean((p_blas[k] > 0.5) == y)),
                        "train accuracy (exact)": run_exact["accuracy"],
                    }
                )
    return pd.DataFrame(rows)


def run(size: str = "full", random_state: Any = 0) -> StudyResult:
    X, y = load_dataset("circles", n_samples=N_SAMPLES, noise=0.05, random_state=1)
    seed = _draw_seed(check_random_state(random_state))
    n_full = ITERATIONS[size]
    schedules = {
        "full-batch": (None, n_full, max(1, n_full // SNAPSHOTS)),
        f"mini-batch {BATCH}": (BATCH, n_full // 10, max(1, n_full // 10 // SNAPSHOTS)),
    }

    start_grads: dict[tuple[str, str], list[str]] = {}
    runs: dict[tuple[str, str, str], dict[str, Any]] = {}
    rows = []
    for a in ACTIVATIONS:
        for s in STARTS:
            base = dict(
                hidden_layer_sizes=HIDDEN,
                activation=a,
                init=s,
                bias_init="zeros",
                learning_rate=LEARNING_RATE,
                random_state=seed,
            )
            d = diagnose(MLPClassifier(**base), X, y)
            start_grads[a, s] = [blk.name for blk in d.blocks if not blk.zero]
            for sched, (batch, n_iter, every) in schedules.items():
                clf = MLPClassifier(
                    **base, max_iter=n_iter, batch_size=batch, snapshot_every=every
                ).fit(X, y)
                snaps = clf.history_["snapshots"]
                widths = [_widths(sn["weights"], sn["biases"]) for sn in snaps]
                widths.append(_widths(clf.coefs_, clf.intercepts_))
                small = collapse(clf)
                gap = float(np.abs(clf.predict_proba(X)[:, 1] - small.predict_proba(X)[:, 1]).max())
                acc = float(clf.score(X, y))
                runs[a, s, sched] = {
                    "model": clf,
                    "accuracy": acc,
                    "widths": widths,
                    "gap": gap,
                    "collapsed": small.hidden_layer_sizes,
                    "moved": _moved(snaps[0], clf),
                }
                rows.append(
                    {
                        "activation": a,
                        "start": s,
                        "training": sched,
                        "non-zero gradients at the start (all data)": ", ".join(start_grads[a, s])
                        or "none",
                        "blocks that moved": ", ".join(runs[a, s, sched]["moved"]) or "none",
                        "effective width at start": _fmt_widths(widths[0]),
                        "effective width at end": _fmt_widths(widths[-1]),
                        "width the same at every check": len(set(widths)) == 1,
                        "train accuracy": acc,
                        "final loss": float(clf.loss_),
                        "collapsed hidden sizes": _fmt_widths(small.hidden_layer_sizes),
                        "max |p - p_collapsed|": gap,
                    }
                )
    grid = pd.DataFrame(rows)
    zero_out = _zero_outputs(X)
    sig_blocks = _sigmoid_zero_blocks(X, y)
    blas = _blas_aside(X, y, runs, schedules, seed)
    half_plane = _best_half_plane(X, y)

    findings = [
        _claim_zero_output(zero_out),
        _claim_stay_equal(runs, blas),
        _claim_symmetric_fails(runs, half_plane),
        _claim_sigmoid_gradients(sig_blocks),
    ]
    figures = _figures(runs, X, y, blas, schedules)
    full_name = "full-batch"
    return StudyResult(
        name="symmetry",
        title="Symmetric starts: what do they train?",
        question="When the units of a layer start equal (zeros or a constant), do the gradients "
        "vanish, do the units stay equal, and what does the network actually learn?",
        size=size,
        setup={
            "data": f"circles: {len(y)} points ({int(y.sum())} positive), noise 0.05, "
            "random_state 1",
            "network": f"[2, {HIDDEN[0]}, {HIDDEN[1]}, 1], sigmoid output, binary cross-entropy, "
            "zero biases",
            "activations": list(ACTIVATIONS),
            "starts": list(STARTS),
            "training": f"learning rate {LEARNING_RATE}; full-batch gradient descent for {n_full} "
            f"iterations, and mini-batches of {BATCH} (shuffled every epoch) for "
            f"{n_full // 10} epochs: {n_full} updates each",
            "effective width": f"checked every {schedules[full_name][2]} iterations "
            f"(full-batch), every {schedules[f'mini-batch {BATCH}'][2]} epochs (mini-batch), and "
            "at the end",
            "seed": f"{seed} (drawn from random_state {_describe(random_state)}): random starts "
            "and mini-batch order",
            "products": "exact summation order for starts with equal units (engine "
            'products="auto"); the aside retrains the symmetric starts with products="blas"',
        },
        tables={
            "Hidden outputs from all-zero weights": zero_out,
            "Every activation and start": grid,
            "Sigmoid from zeros: the gradient block by block": sig_blocks,
            "Aside: symmetric starts with plain BLAS products": blas,
        },
        figures=figures,
        findings=findings,
        how=HOW,
        captions={
            "accuracy": "Train accuracy after the same number of updates, for every hidden "
            "activation and start: the symmetric starts (left three columns) against two random "
            "ones, full-batch and mini-batch.",
            "boundaries": "What is learned: the best symmetric start of each activation (top) "
            "draws what one unit per layer can draw; he_normal (bottom) draws the circles.",
            "blas-split": "The aside: with plain BLAS matrix products, when rounding alone "
            "first tells equal units apart.",
        },
        notes=[
            f"The best half-plane classifies {half_plane:.3f} of the circles correctly: a "
            "width-1 network with a monotone activation (relu, leaky_relu, tanh, sigmoid) can do "
            "no better, since its output is a monotone function of one projection w.x; gelu is "
            "not monotone and can draw a band.",
            "normal(std=1e-6) has distinct units, yet its signal and gradients are products of "
            "three factors of about 1e-6: at learning rate 0.01 it barely moves within the budget "
            "(see the noise-scale study).",
            "Which equal units plain BLAS products tell apart, and when, depends on the BLAS "
            "build and the shapes (its kernels sum rows in blocks); the numbers in the aside are "
            "this machine's.",
            f"One seed ({seed}) draws the random starts: he_normal's accuracy after the budget "
            "varies with it (the course's seed 3 reaches 0.9933 with relu in 15000 iterations).",
        ],
    )


def _claim_zero_output(t: pd.DataFrame) -> Claim:
    zero = t[t["all zero"]]["activation"].tolist()
    nonzero = t[~t["all zero"]]
    constant = bool(t["one value for every input and unit"].all())
    verdict = "holds" if not len(nonzero) else ("fails" if not zero else "qualified")
    others = "; ".join(
        f"{r['activation']} units all output {r['phi(0)']:.6g}"
        for r in nonzero.to_dict(orient="records")
    )
    if verdict == "holds":
        summary = (
            f"Yes: from all-zero weights every hidden unit outputs 0 for every input, for all "
            f"{len(t)} activations checked."
        )
    else:
        values = _and(
            [f"{r['phi(0)']:.3g} for {r['activation']}" for r in nonzero.to_dict(orient="records")]
        )
        summary = (
            ("Only for some activations: " if zero else "No: ")
            + "from all-zero weights every hidden unit outputs phi(0) for every input, which is "
            + (f"0 for {_and(zero)} but " if zero else "")
            + values
            + ("; it is always one constant." if constant else ".")
        )
    return Claim(
        "zero-weights-zero-output",
        "With all-zero weights every hidden unit outputs zero whatever the input.",
        verdict,
        f"Every hidden unit outputs phi(0) for every input ({'true' if constant else 'false'} "
        f"for all {len(t)} activations checked): zero for {', '.join(zero)}; but "
        f"{others}. What holds for every activation is that the output is one constant, the "
        "same for every unit and input.",
        {
            "phi0": dict(zip(t["activation"], t["phi(0)"])),
            "constant_for_every_input": constant,
            "zero_for": zero,
        },
        short="With all-zero weights every hidden unit outputs zero",
        summary=summary,
        table="Hidden outputs from all-zero weights",
    )


def _claim_stay_equal(runs: dict, blas: pd.DataFrame) -> Claim:
    sym = {k: v for k, v in runs.items() if k[1] in SYMMETRIC}
    stayed = [k for k, v in sym.items() if all(w == (1,) * len(HIDDEN) for w in v["widths"])]
    gaps = [v["gap"] for v in sym.values()]
    n_checks = len(next(iter(sym.values()))["widths"])
    split = blas[blas["first split seen at iteration"].notna()]
    merged = split[split["effective width at end"] == _fmt_widths((1,) * len(HIDDEN))]
    max_abs = float(blas["largest difference between units"].max())
    max_dp = float(blas["max |p_blas - p_exact|"].max())
    acc_same = bool((blas["train accuracy (BLAS)"] == blas["train accuracy (exact)"]).all())
    all_stayed = len(stayed) == len(sym)
    # Rounding that separates units matters only if it changes the function learned.
    material = max_dp > 1e-6 or not acc_same
    verdict = "holds" if all_stayed and not material else "qualified" if all_stayed else "fails"
    blas_text = (
        f"With plain BLAS products, rounding alone told equal units apart in {len(split)} of "
        f"{len(blas)} runs"
        + (
            f" (first seen after {int(split['first split seen at iteration'].min())} to "
            f"{int(split['first split seen at iteration'].max())} iterations or epochs; in "
            f"{len(merged)} of them the units were equal again at the end)"
            if len(split)
            else ""
        )
        + f", by at most {max_abs:.1g} in any parameter; the probabilities differ from the "
        f"exact runs' by at most {max_dp:.1g} and the accuracies are "
        f"{'the same' if acc_same else 'not the same'}."
    )
    if verdict == "fails":
        summary = (
            f"No: only {len(stayed)} of {len(sym)} symmetric-start runs kept every hidden layer "
            "effectively one unit wide."
        )
    else:
        summary = (
            f"Yes: in all {len(sym)} symmetric-start runs every hidden layer stayed effectively "
            f"one unit wide, matching its collapsed network to {max(gaps):.0e}; plain BLAS "
            + (
                f"rounding split units in {len(split)} runs but "
                if len(split)
                else "rounding never split them, and "
            )
            + (
                "changed no accuracy."
                if not material
                else f"changed the probabilities by up to {max_dp:.1g}."
            )
        )
    return Claim(
        "equal-units-stay-equal",
        "Units that start equal receive equal updates and stay equal, so a layer of equal units "
        "works like one unit.",
        verdict,
        f"From the {len(SYMMETRIC)} symmetric starts x {len(ACTIVATIONS)} activations, full-batch "
        f"and mini-batch ({len(sym)} runs), every hidden layer kept effective width 1 at all "
        f"{n_checks} checks in {len(stayed)} runs, and each trained network equals its collapsed "
        f"form [2, 1, 1, 1] to max |p - p_collapsed| = {max(gaps):.1g}. {blas_text}",
        {
            "runs": len(sym),
            "stayed_width_1": len(stayed),
            "max_collapse_gap": max(gaps),
            "blas_runs_split": len(split),
            "blas_max_difference": max_abs,
            "blas_max_probability_difference": max_dp,
            "blas_accuracies_same": acc_same,
        },
        short="Units that start equal stay equal",
        summary=summary,
        figure="boundaries",
    )


def _claim_symmetric_fails(runs: dict, half_plane: float) -> Claim:
    best: dict[str, tuple[float, str, str]] = {}
    he: dict[str, float] = {}
    for (a, s, sched), v in runs.items():
        if s in SYMMETRIC and v["accuracy"] > best.get(a, (-1.0, "", ""))[0]:
            best[a] = (v["accuracy"], s, sched)
        if s == "he_normal":
            he[a] = max(he.get(a, 0.0), v["accuracy"])
    collapsed = {v["collapsed"] for (_, s, _), v in runs.items() if s in SYMMETRIC}
    n_sym = sum(s in SYMMETRIC for (_, s, _) in runs)
    # The half-plane bound is for monotone activations; gelu's dip lets one unit draw a band.
    above = {a: v[0] for a, v in best.items() if v[0] > half_plane + 0.5 / N_SAMPLES}
    above_text = (
        "; above it: "
        + ", ".join(
            f"{a} {acc:.3f}" + ("" if a in MONOTONE else " (not monotone)")
            for a, acc in above.items()
        )
        if above
        else ""
    )
    # Starts under which, in every schedule, no weight moved (at most the output bias).
    stuck: dict[str, list[str]] = {}
    for a in ACTIVATIONS:
        for s in SYMMETRIC:
            if all(
                set(v["moved"]) <= {f"b{len(HIDDEN) + 1}"}
                for (a2, s2, _), v in runs.items()
                if (a2, s2) == (a, s)
            ):
                stuck.setdefault(s, []).append(a)
    stuck_text = "; ".join(f"{s} with {', '.join(acts)}" for s, acts in stuck.items())
    stuck_acc = max(
        (v["accuracy"] for (a, s, _), v in runs.items() if a in stuck.get(s, [])), default=0.5
    )
    top = max(v[0] for v in best.values())
    verdict = "qualified" if top > CHANCE_MARGIN else "holds"
    per_act = "; ".join(
        f"{a} {acc:.3f} ({s}) vs he_normal {he[a]:.3f}" for a, (acc, s, _) in best.items()
    )
    a_top = max(best, key=lambda a: best[a][0])
    sizes = " or ".join(_fmt_widths(c) for c in sorted(collapsed))
    if verdict == "qualified":
        below = "but far below" if he[a_top] - top > 0.1 else "and close to"
        summary = (
            f"Not quite: a symmetric start trains its collapsed network (hidden sizes {sizes}), "
            f"which reaches at best {top:.3f} train accuracy ({a_top}): above chance (0.5) "
            f"{below} he_normal's {he[a_top]:.3f}."
        )
    else:
        summary = (
            f"Yes: every symmetric start stays near chance (0.5), at best {top:.3f} train "
            f"accuracy ({a_top}) against {he[a_top]:.3f} from he_normal; each trains its "
            f"collapsed network, hidden sizes {sizes}."
        )
    return Claim(
        "symmetric-start-fails",
        "Any symmetric start, zero or another constant, fails in a network with hidden layers.",
        verdict,
        f"A symmetric start trains its collapsed form, not nothing: hidden sizes "
        f"{' or '.join(_fmt_widths(c) for c in sorted(collapsed))} after training in all "
        f"{n_sym} runs. The best symmetric start per activation, against he_normal from one "
        f"seed: {per_act}. With a monotone activation a width-1 network draws a half-plane; the "
        f"best half-plane gets {half_plane:.3f} of these circles right, chance 0.5{above_text}. "
        "No weight moved at all (at most the output bias) from "
        f"{stuck_text or 'none of them'} (train accuracy at most {stuck_acc:.3f}).",
        {
            "best_symmetric": {a: v[0] for a, v in best.items()},
            "he_normal": he,
            "best_half_plane": half_plane,
            "no_weight_moved": stuck,
            "collapsed_hidden_sizes": sorted(list(c) for c in collapsed),
            "chance": 0.5,
        },
        short="Any symmetric start (zero or another constant) fails",
        summary=summary,
        figure="accuracy",
    )


def _claim_sigmoid_gradients(t: pd.DataFrame) -> Claim:
    situations = list(dict.fromkeys(t["data and state"]))
    parts, nonzero_sets = [], []
    for sit in situations:
        rows = t[t["data and state"] == sit]
        nz = rows[~rows["zero (up to rounding)"]]
        nonzero_sets.append(nz["block"].tolist())
        eq = rows["equal for every hidden unit"].dropna()
        parts.append(
            f"{sit}: non-zero {', '.join(nz['block']) or 'none'}"
            + (
                f" (largest norm {nz['gradient norm'].max():.2g})"
                if len(nz)
                else f" (largest norm {rows['gradient norm'].max():.1g}, rounding)"
            )
            + f", equal across units in {int(eq.sum())} of {len(eq)} blocks"
        )
    n_blocks = t["block"].nunique()
    all_equal = bool(t["equal for every hidden unit"].dropna().all())
    all_nonzero_at_start = len(nonzero_sets[0]) == n_blocks and len(nonzero_sets[1]) == n_blocks
    all_nonzero_later = len(nonzero_sets[-1]) == n_blocks
    if all_nonzero_at_start and all_equal:
        verdict = "holds"
    elif (all_nonzero_later or any(nonzero_sets)) and all_equal:
        verdict = "qualified"
    else:
        verdict = "fails"
    # The first unbalanced situation in which every block has a gradient, by updates made.
    updates = next((k for k, nz in enumerate(nonzero_sets[1:]) if len(nz) == n_blocks), None)
    if verdict == "holds":
        summary = (
            f"Yes: from zeros all {n_blocks} blocks have a non-zero gradient at the start, each "
            "equal across the hidden units it connects."
        )
    elif verdict == "qualified":
        start = (
            "on balanced data every gradient cancels to 0 at the start"
            if not nonzero_sets[0]
            else f"on all the data {len(nonzero_sets[0])} of {n_blocks} blocks have one"
        )
        later = (
            f"all {n_blocks} blocks after {updates} updates"
            if updates is not None
            else f"{len(nonzero_sets[-1])} of {n_blocks} after {len(nonzero_sets) - 2} updates"
        )
        first = _and(nonzero_sets[1]) or "no block"
        summary = (
            f"Equal across units, yes, but not non-zero at first: {start}; on an unbalanced "
            f"batch only {first} {'has' if len(nonzero_sets[1]) < 2 else 'have'} one at first, "
            f"{later}."
        )
    else:
        summary = (
            "No: the gradients are "
            + ("not all equal across units" if not all_equal else "zero")
            + f"; {len(nonzero_sets[-1])} of {n_blocks} blocks are non-zero after "
            f"{len(nonzero_sets) - 2} updates on an unbalanced batch."
        )
    return Claim(
        "sigmoid-zero-gradients",
        "With sigmoid hidden units and a zero start, gradients are not zero but equal across "
        "units.",
        verdict,
        "Hidden units output sigmoid(0) = 0.5, so the output weights get p - y times 0.5; but "
        "the error sent back is zero while the weights after a layer are zero. "
        + "; ".join(parts)
        + ". Every gradient is equal across the hidden units it connects.",
        {
            "non_zero_blocks": dict(zip(situations, nonzero_sets)),
            "all_equal_across_units": all_equal,
            "blocks": n_blocks,
            "updates_until_every_block_moves": updates,
            "balanced_start_nonzero_blocks": len(nonzero_sets[0]),
        },
        short="Sigmoid from zeros: gradients are non-zero but equal across units",
        summary=summary,
        table="Sigmoid from zeros: the gradient block by block",
    )


def _and(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _figures(runs: dict, X: np.ndarray, y: np.ndarray, blas: pd.DataFrame, schedules) -> dict:
    names = list(schedules)
    fig_acc, axes = plots.grid(1, len(names), size=(5.2, 3.6))
    updates = schedules[names[0]][1]
    for ax, sched in zip(axes, names):
        values = np.array([[runs[a, s, sched]["accuracy"] for s in STARTS] for a in ACTIVATIONS])
        plots.heatmap(
            values,
            xticklabels=STARTS,
            yticklabels=ACTIVATIONS,
            ax=ax,
            title=f"Train accuracy after {updates} updates, {sched}",
            xlabel="start",
            ylabel="hidden activation",
            colorbar="train accuracy",
            fmt="{:.3f}",
        )
    fig_b, axes = plots.grid(2, len(ACTIVATIONS), size=(2.1, 2.3))
    sched = names[0]
    for i, a in enumerate(ACTIVATIONS):
        s_best = max(SYMMETRIC, key=lambda s: runs[a, s, sched]["accuracy"])
        for ax, s in ((axes[i], s_best), (axes[len(ACTIVATIONS) + i], "he_normal")):
            r = runs[a, s, sched]
            plots.decision_boundary(
                r["model"],
                X,
                y,
                ax=ax,
                resolution=150,
                title=f"{a}, {s}\nacc {r['accuracy']:.3f}, collapses to "
                f"{_fmt_widths(r['collapsed'])}",
            )
            ax.title.set_fontsize(7.5)
            ax.tick_params(labelsize=7)
            ax.xaxis.label.set_fontsize(8)
            ax.yaxis.label.set_fontsize(8)
    fig_b.suptitle(
        f"Top: the best symmetric start per activation; bottom: he_normal ({sched})", fontsize=11
    )
    labels = [f"{a}, {s}" for a in ACTIVATIONS for s in SYMMETRIC]
    first = np.full((len(labels), len(names)), np.nan)
    for r in blas.to_dict(orient="records"):
        it = r["first split seen at iteration"]
        if it is not None and np.isfinite(it):
            first[labels.index(f"{r['activation']}, {r['start']}"), names.index(r["training"])] = it
    fig_blas, ax = plots.grid(1, 1, size=(5.5, 6.5))
    plots.heatmap(
        first,
        xticklabels=names,
        yticklabels=labels,
        ax=ax[0],
        title="Plain BLAS products: first iteration at which\nequal units differ "
        f'("-": not within {schedules[names[0]][1]} updates)',
        xlabel="training",
        ylabel="activation, start",
        colorbar="iteration (epoch for mini-batch)",
        fmt="{:.0f}",
    )
    return {"accuracy": fig_acc, "boundaries": fig_b, "blas-split": fig_blas}
