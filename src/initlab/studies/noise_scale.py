"""noise-scale: how much random noise does a zero start need to break its symmetry?

Question
--------
A zero start cannot learn: its units are equal and stay equal. Adding a tiny random perturbation
makes them different, so it is often said to be enough. How tiny may it be, what does it cost in
training time, and where does float64 stop telling the units apart?

Setup
-----
Circles (300 points, noise 0.05, ``random_state=1``), layers [2, 10, 5, 1], sigmoid output,
full-batch gradient descent with learning rate 0.5 (fifty times the course's 0.01, so that the
slow escape from small starts fits the budget). Every weight is drawn from N(0, eps^2)
(``init="normal(std=eps)"``) and the biases start at zero (no noise on them). Seed j draws the
same standard normal numbers for every eps, so the starts of one seed differ only by their scale.
For each hidden activation (relu, tanh) every (eps, seed) network trains in one stack of
:func:`initlab.engine.train`, in chunks, with the train accuracy checked after every chunk.

Measured
--------
For every network, the first checked iteration at which the train accuracy reaches 90% (or never
within the budget), the final accuracy and loss, and how much its largest weight grew. At the
start, for eps from 1 down to 1e-320 and one seed: whether the units are distinct bit for bit in
their weights (:func:`initlab.diagnostics.symmetry_groups`), in their outputs on the data, and in
their gradients; whether the output probability rounds to exactly 1/2 on every sample; and how
many weights the first update actually changes (an update below half a unit in the last place of
a weight is lost to rounding).

References
----------
I. Goodfellow, Y. Bengio and A. Courville, *Deep Learning*, MIT Press 2016, section 8.4.
A. Saxe, J. McClelland and S. Ganguli, "Exact solutions to the nonlinear dynamics of learning in
deep linear neural networks", ICLR 2014 (small starts: long plateaus before learning).
D. Goldberg, "What Every Computer Scientist Should Know About Floating-Point Arithmetic", ACM
Computing Surveys 23(1), 1991 (rounding, underflow).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import engine, plots
from .._random import check_random_state
from ..activations import get_activation
from ..datasets import load_dataset
from ..diagnostics import symmetry_groups
from ._result import Claim, StudyResult

ACTIVATIONS = ("relu", "tanh")
LAYERS = (2, 10, 5, 1)
LEARNING_RATE = 0.5
TARGET = 0.9
SIZES = {
    "full": {
        "eps": (1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0),
        "seeds": 5,
        "budget": 15000,
        "chunk": 50,
    },
    "quick": {
        "eps": (1e-12, 1e-6, 1e-2, 0.1, 0.3, 1.0),
        "seeds": 3,
        "budget": 2000,
        "chunk": 25,
    },
}
# Scales at which the start is examined in float64 (no training): down to the subnormals.
FLOAT_EPS = (
    1.0, 1e-3, 1e-6, 1e-9, 1e-12, 1e-13, 1e-14, 1e-15, 1e-16, 1e-17, 1e-18, 1e-20, 1e-50,
    1e-100, 1e-150, 1e-155, 1e-160, 1e-170, 1e-200, 1e-300, 1e-320,
)  # fmt: skip


HOW = (
    "Each seed draws one set of standard normal numbers, scaled by every eps, so that the "
    "starts of a seed differ only in their scale; every such network trains in one stack with "
    "the same data and learning rate, and its accuracy is checked as it goes. Separately, the "
    "start itself is examined in float64 at scales down to the subnormal numbers: whether the "
    "units are still distinct in their weights, their outputs and their gradients, and whether "
    "the first update changes any weight at all."
)


def _draw_seeds(rng: Any, n: int) -> list[int]:
    if isinstance(rng, np.random.Generator):
        return [int(s) for s in rng.integers(0, 2**31 - 1, size=n)]
    return [int(s) for s in rng.randint(0, 2**31 - 1, size=n)]


def _describe(random_state: Any) -> str:
    """The seed as given (an int or None), or the kind of generator passed."""
    if random_state is None or isinstance(random_state, int):
        return repr(random_state)
    return f"a {type(random_state).__name__}"


def _stack(parts: list[engine.Params]) -> engine.Params:
    """One stack from several (in order)."""
    return engine.Params(
        [np.concatenate(ws) for ws in zip(*(p.weights for p in parts))],
        [np.concatenate(bs) for bs in zip(*(p.biases for p in parts))],
    )


def _starts(act: str, eps_values, seeds: list[int]) -> engine.Params:
    """Network (i, j) = eps_values[i] times seed j's standard normal draw, at index i * S + j."""
    return _stack(
        [
            engine.init_params(
                LAYERS,
                f"normal(std={eps!r})",
                "zeros",
                activation=act,
                random_state=[np.random.RandomState(s) for s in seeds],
            )
            for eps in eps_values
        ]
    )


def _accuracy(params: engine.Params, X: np.ndarray, y: np.ndarray, act: str) -> np.ndarray:
    p = engine.predict_output(params, X, act, "sigmoid")[:, 0]
    return ((p > 0.5) == y).mean(axis=1)


def _train(act: str, X, y, eps_values, seeds, budget: int, chunk: int) -> dict[str, Any]:
    """Train the (eps, seed) stack in chunks; the first checked iteration at >= TARGET."""
    params = _starts(act, eps_values, seeds)
    start_max = np.array([max(np.abs(W[k]).max() for W in params.weights) for k in range(params.K)])
    Y = y[None, :].astype(float)
    reached = np.full(params.K, np.nan)
    diverged = np.zeros(params.K, dtype=bool)
    checks, curve = [0], [_accuracy(params, X, y, act)]
    loss = np.full(params.K, np.nan)
    done = 0
    while done < budget:
        n = min(chunk, budget - done)
        result = engine.train(
            params, X.T, Y, activation=act, learning_rate=LEARNING_RATE, max_iter=n
        )
        params, done = result.params, done + n
        diverged |= result.diverged
        loss = result.loss[-1]
        acc = _accuracy(params, X, y, act)
        new = np.isnan(reached) & (acc >= TARGET)
        reached[new] = done
        checks.append(done)
        curve.append(acc)
    end_max = np.array([max(np.abs(W[k]).max() for W in params.weights) for k in range(params.K)])
    return {
        "reached": reached,
        "final_accuracy": curve[-1],
        "final_loss": loss,
        "growth": end_max / start_max,
        "diverged": diverged,
        "checks": np.array(checks),
        "curve": np.array(curve),  # (n_checks, K)
    }


def _float64_start(act: str, X: np.ndarray, y: np.ndarray, seed: int) -> pd.DataFrame:
    """The start at every scale of FLOAT_EPS (one seed) and its first update, in float64."""
    params = _starts(act, FLOAT_EPS, [seed])
    A = get_activation(act)
    with np.errstate(all="ignore"):
        _, acts = engine.forward(params, np.ascontiguousarray(X.T), A)
        p = engine.predict_output(params, X, act, "sigmoid")[:, 0]
    Y = y[None, :].astype(float)
    step = engine.train(
        params, X.T, Y, activation=act, learning_rate=LEARNING_RATE, max_iter=1, snapshot_every=1
    )
    grads = step.snapshots[0]
    L = len(LAYERS) - 1
    rows = []
    for k, eps in enumerate(FLOAT_EPS):
        W = [w[k] for w in params.weights]
        b = [v[k] for v in params.biases]
        dW = [g[k] for g in grads["grad_weights"]]
        db = [g[k] for g in grads["grad_biases"]]
        n_weights = sum(w.size for w in W)
        changed = sum(int((step.params.weights[l][k] != W[l]).sum()) for l in range(L))
        row = {"activation": act, "eps": eps}
        for l in range(L - 1):
            row[f"distinct units, layer {l + 1} (weights)"] = len(
                symmetry_groups(W[l], b[l], W[l + 1])
            )
            row[f"distinct unit outputs, layer {l + 1}"] = len(np.unique(acts[l + 1][k], axis=0))
            row[f"distinct unit gradients, layer {l + 1}"] = len(
                np.unique(np.column_stack([dW[l], db[l]]), axis=0)
            )
        row["non-zero weight gradients"] = (
            ", ".join(f"W{l + 1}" for l in range(L) if dW[l].any()) or "none"
        )
        row["outputs exactly 1/2"] = float(np.mean(p[k] == 0.5))
        row["weights the first update changes"] = changed / n_weights
        rows.append(row)
    return pd.DataFrame(rows)


def run(size: str = "full", random_state: Any = 0) -> StudyResult:
    cfg = SIZES[size]
    X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
    seeds = _draw_seeds(check_random_state(random_state), cfg["seeds"])
    eps_values, S = cfg["eps"], cfg["seeds"]

    runs, summary, floats = [], [], []
    results: dict[str, dict[str, Any]] = {}
    for act in ACTIVATIONS:
        r = _train(act, X, y, eps_values, seeds, cfg["budget"], cfg["chunk"])
        results[act] = r
        for i, eps in enumerate(eps_values):
            idx = slice(i * S, (i + 1) * S)
            hits = r["reached"][idx]
            for j in range(S):
                k = i * S + j
                runs.append(
                    {
                        "activation": act,
                        "eps": eps,
                        "seed": seeds[j],
                        "iterations to 90%": r["reached"][k],
                        "final train accuracy": r["final_accuracy"][k],
                        "final loss": r["final_loss"][k],
                        "largest weight, end / start": r["growth"][k],
                        "diverged": bool(r["diverged"][k]),
                    }
                )
            ok = hits[~np.isnan(hits)]
            summary.append(
                {
                    "activation": act,
                    "eps": eps,
                    "seeds reaching 90%": f"{len(ok)} of {S}",
                    "median iterations to 90%": _median_or_nan(hits),
                    "fewest": float(ok.min()) if len(ok) else np.nan,
                    "most": float(ok.max()) if len(ok) else np.nan,
                    "median final accuracy": float(np.median(r["final_accuracy"][idx])),
                    "median growth of the largest weight": float(np.median(r["growth"][idx])),
                }
            )
        floats.append(_float64_start(act, X, y, seeds[0]))
    run_table = pd.DataFrame(runs)
    summary_table = pd.DataFrame(summary)
    float_table = pd.concat(floats, ignore_index=True)

    claim = _claim(summary_table, float_table, cfg["budget"])
    # The least-squares fit of the labels on (x1, x2, 1): how much linear signal the data carry.
    coef = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)[0]
    figures = _figures(results, eps_values, S, cfg["budget"])
    return StudyResult(
        name="noise-scale",
        title="How much noise breaks the symmetry of a zero start?",
        question="A zero start plus N(0, eps^2) noise: how small may eps be, what does it cost in "
        "iterations, and where does float64 stop telling the units apart?",
        size=size,
        setup={
            "data": "circles: 300 points, noise 0.05, random_state 1",
            "network": "[2, 10, 5, 1], sigmoid output, binary cross-entropy",
            "start": "weights N(0, eps^2) (normal(std=eps)), biases zero",
            "eps": list(eps_values),
            "activations": list(ACTIVATIONS),
            "training": f"full-batch gradient descent, learning rate {LEARNING_RATE}, "
            f"{cfg['budget']} iterations; train accuracy checked every {cfg['chunk']} "
            "iterations (iterations to 90% are the first check at or above it)",
            "seeds": f"{seeds} (drawn from random_state {_describe(random_state)}); seed j "
            "draws the same standard normal numbers at every eps",
            "float64 start": f"eps {FLOAT_EPS[0]:g} to {FLOAT_EPS[-1]:g}, seed {seeds[0]}",
        },
        tables={
            "Iterations to 90% train accuracy, by eps": summary_table,
            "Every run": run_table,
            "The start in float64, by eps": float_table,
        },
        figures=figures,
        findings=[claim],
        how=HOW,
        captions={
            "iterations": "How many iterations a zero start plus noise of scale eps needs to "
            "reach the target accuracy: every seed a dot, the median a line, and triangles "
            "above the budget line for the seeds that never got there.",
            "accuracy": "The median train accuracy along training, one line per scale eps.",
        },
        notes=[
            "With zero biases the network is a product of three small factors: its output "
            "scales like eps^3 and the gradient of each layer like eps^2, so a weight of size eps "
            "changes by a share of about learning_rate x eps per iteration: the escape from a "
            "small start takes a number of iterations that grows like 1/eps (relu, which is "
            "positively homogeneous), not like log(1/eps).",
            "tanh is nearly linear at small scale, and the circles carry almost no linear "
            f"signal (the least-squares fit of the labels on the inputs has slopes "
            f"{coef[0]:.4f} and {coef[1]:.4f}), so its small-scale dynamics start slower.",
            "Which updates are lost to rounding depends on the learning rate: a weight w keeps "
            "its value when |learning_rate x gradient| is below half a unit in the last place of "
            "w (about 1.1e-16 |w|).",
        ],
    )


def _median_or_nan(hits: np.ndarray) -> float:
    """Median iterations with never = infinity; NaN when more than half never reached."""
    med = float(np.median(np.where(np.isnan(hits), np.inf, hits)))
    return med if np.isfinite(med) else np.nan


def _below(f: pd.DataFrame, mask: pd.Series) -> float | None:
    """The largest eps from which ``mask`` holds at every smaller eps examined (None if the
    smallest does not have it)."""
    ordered = mask.to_numpy()[np.argsort(-f["eps"].to_numpy())]
    eps = np.sort(f["eps"].to_numpy())[::-1]
    if not ordered[-1]:
        return None
    i = len(ordered) - 1
    while i > 0 and ordered[i - 1]:
        i -= 1
    return float(eps[i])


def _claim(summary: pd.DataFrame, floats: pd.DataFrame, budget: int) -> Claim:
    parts, numbers = [], {}
    for act in ACTIVATIONS:
        t = summary[summary["activation"] == act].sort_values("eps")
        n_hit = t["seeds reaching 90%"].str.split().str[0].astype(int)
        reached = t[n_hit > 0]
        if not len(reached):
            parts.append(f"{act} never reaches 90% within {budget} iterations at any eps")
            numbers[act] = {"smallest_eps_reached": None}
            continue
        e_min = float(reached["eps"].min())
        at_min = t[t["eps"] == e_min].iloc[0]
        at_one = t.iloc[-1]
        never = t[n_hit == 0]
        text = (
            f"{act}: the smallest eps from which some seed reaches 90% within {budget} "
            f"iterations is {e_min:g} ({at_min['seeds reaching 90%']} seeds, median "
            f"{_fmt_iter(at_min['median iterations to 90%'])} iterations, against "
            f"{_fmt_iter(at_one['median iterations to 90%'])} at eps = {at_one['eps']:g})"
        )
        medians = t[~t["median iterations to 90%"].isna()]
        slope = None
        if len(medians) >= 2:
            a, b = medians.iloc[0], medians.iloc[1]
            slope = float(
                np.log(b["median iterations to 90%"] / a["median iterations to 90%"])
                / np.log(b["eps"] / a["eps"])
            )
            text += f", a log-log slope of {slope:.2f} between eps = {a['eps']:g} and {b['eps']:g}"
        if len(never):
            text += (
                f"; no seed reaches it at eps <= {float(never['eps'].max()):g} "
                f"({len(never)} of {len(t)} scales)"
            )
        parts.append(text)
        numbers[act] = {
            "smallest_eps_reached": e_min,
            "median_at_smallest": at_min["median iterations to 90%"],
            "median_at_largest": at_one["median iterations to 90%"],
            "slope": slope,
            "largest_eps_never": float(never["eps"].max()) if len(never) else None,
        }
    f = floats
    distinct = (f["distinct units, layer 1 (weights)"] == LAYERS[1]) & (
        f["distinct units, layer 2 (weights)"] == LAYERS[2]
    )
    eps_distinct_all = bool(distinct.all())
    eps_half = _below(f, f["outputs exactly 1/2"] == 1.0)
    eps_frozen = _below(f, f["weights the first update changes"] == 0)
    eps_same = _below(f, f["distinct unit outputs, layer 2"] < LAYERS[2])
    moving = f[f["weights the first update changes"] > 0]
    live = f[(f["outputs exactly 1/2"] == 1.0) & (f["non-zero weight gradients"] != "none")]
    grads_distinct = bool(
        (live["distinct unit gradients, layer 1"] == LAYERS[1]).all()
        and (live["distinct unit gradients, layer 2"] == LAYERS[2]).all()
    )
    eps_moves = float(moving["eps"].min()) if len(moving) else None
    float_text = (
        "In float64 the units' weights are distinct "
        + (
            f"at every scale examined, down to eps = {float(f['eps'].min()):.0e}"
            if eps_distinct_all
            else f"only down to eps = {float(f[distinct]['eps'].min()):g}"
        )
        + (
            f"; the output probability rounds to exactly 1/2 on every sample from eps = "
            f"{eps_half:g} down (the loss no longer sees the network"
            + (
                ", but the gradients still differ from unit to unit wherever they are not zero)"
                if grads_distinct
                else ")"
            )
            if eps_half is not None
            else ""
        )
        + (
            f"; the first update changes some weight down to eps = {eps_moves:g}"
            if eps_moves
            else ""
        )
        + (
            f" and no weight at eps <= {eps_frozen:g}: updates below half an ulp of the weight "
            "are lost, so full-batch training never moves although the units are distinct"
            if eps_frozen is not None
            else ""
        )
        + (
            f"; at eps <= {eps_same:g} the second layer's outputs underflow to equal values"
            if eps_same is not None
            else ""
        )
        + "."
    )
    any_reached = any(v["smallest_eps_reached"] is not None for v in numbers.values())
    never_somewhere = bool(summary["seeds reaching 90%"].str.startswith("0 ").any())
    verdict = "fails" if not any_reached else "qualified" if never_somewhere else "holds"
    smallest = float(f["eps"].min())
    target = f"{TARGET:.0%} within {budget} iterations"
    if verdict == "qualified":
        never = " or ".join(
            f"{v['largest_eps_never']:g} ({act})"
            for act, v in numbers.items()
            if v["largest_eps_never"] is not None
        )
        text = (
            "Symmetry breaks, but tiny noise does not learn: the units' weights stay distinct in "
            + (
                f"float64 down to eps = {smallest:.0e}"
                if eps_distinct_all
                else f"float64 only down to eps = {float(f[distinct]['eps'].min()):g}"
            )
            + f", yet no seed reached {target} at eps <= {never}."
        )
    elif verdict == "holds":
        text = (
            f"Yes: some seed reached {target} at every eps examined, down to "
            + " and ".join(f"{v['smallest_eps_reached']:g} ({act})" for act, v in numbers.items())
            + "."
        )
    else:
        text = f"No: no seed reached {target} at any eps examined, from 1 down."
    return Claim(
        "tiny-noise-breaks-symmetry",
        "A tiny random perturbation of a zero start is enough to break symmetry.",
        verdict,
        "; ".join(parts) + ". " + float_text,
        {
            "per_activation": numbers,
            "units_distinct_at_every_eps": eps_distinct_all,
            "eps_output_exactly_half": eps_half,
            "eps_first_update_moves": eps_moves,
            "eps_frozen": eps_frozen,
            "eps_outputs_underflow": eps_same,
            "smallest_eps_examined": smallest,
            "target_accuracy": TARGET,
            "budget": budget,
        },
        short="A tiny random perturbation of a zero start breaks symmetry",
        summary=text,
        figure="iterations",
    )


def _fmt_iter(v: float) -> str:
    return "never" if not np.isfinite(v) else f"{v:.0f}"


def _figures(results, eps_values, S: int, budget: int) -> dict[str, Any]:
    times = {act: r["reached"].reshape(len(eps_values), S) for act, r in results.items()}
    reach = plots.reach_times(
        eps_values,
        times,
        budget=budget,
        title=f"Iterations to 90% train accuracy from a zero start plus N(0, eps^2) noise "
        f"({S} seeds)",
        xlabel="eps (std of the noise added to every weight)",
        ylabel="iterations to 90% train accuracy",
    )
    fig, axes = plots.grid(1, len(results), size=(5.25, 3.8))
    for ax, (act, r) in zip(axes, results.items()):
        curves = r["curve"].reshape(len(r["checks"]), len(eps_values), S)
        plots.lines(
            {
                f"eps = {eps:g}": (r["checks"], np.median(curves[:, i, :], axis=1))
                for i, eps in enumerate(eps_values)
            },
            ax=ax,
            title=f"{act}: median train accuracy over {S} seeds",
            xlabel="iteration",
            ylabel="train accuracy",
        )
    return {"iterations": reach, "accuracy": fig}
