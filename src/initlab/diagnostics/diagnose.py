"""``diagnose`` and ``collapse`` for initlab's models."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import validate_data

from .. import engine
from .._validation import check_number
from ..activations import get_activation
from ..initializers import auto_initializer, variance_preserving_gain
from ..losses import loss_and_grad
from ._report import (
    SATURATED_SHARE,
    BlockReport,
    Diagnosis,
    Finding,
    LayerReport,
    assign_verdicts,
    layer_signal,
    overall_verdict,
)
from .gradients import equal_update_groups, zero_gradient_causes
from .symmetry import merge_units, symmetry_groups

__all__ = ["collapse", "diagnose"]


def _ranges(units: list[int]) -> str:
    """1-based unit numbers as ranges: [0, 1, 2, 5] -> "1-3, 6"."""
    out, start = [], None
    for i, u in enumerate(units):
        if start is None:
            start = u
        if i + 1 == len(units) or units[i + 1] != u + 1:
            out.append(f"{start + 1}" if start == u else f"{start + 1}-{u + 1}")
            start = None
    return ", ".join(out)


def _state(model: Any, X: Any, y: Any) -> dict[str, Any]:
    """The parameters to diagnose (the start for an unfitted model) and the data, encoded."""
    if not hasattr(model, "_prepare"):
        raise ValueError(
            "The 'model' parameter of diagnose must be an initlab MLPClassifier or "
            f"LogisticRegression (use initlab.torch.check for PyTorch). Got {model!r} instead."
        )
    if not hasattr(model, "coefs_"):
        # The start fit would draw, the model left as it is; NaN or inf in X are reported.
        start = clone(model)._prepare(X, y, allow_nonfinite=True, training=False)
        start["fitted"] = False
        return start
    X = validate_data(model, X, reset=False, dtype=model.coefs_[0].dtype, ensure_all_finite=False)
    y = np.asarray(y)
    if not np.isin(y, model.classes_).all():
        raise ValueError(
            f"The 'y' parameter of diagnose has labels the model was not fitted on; it knows "
            f"{model.classes_.tolist()!r}."
        )
    idx = np.searchsorted(model.classes_, y)
    if model.n_outputs_ == 1:
        Y = idx[None, :].astype(X.dtype)
    else:
        Y = np.zeros((model.n_outputs_, len(idx)), dtype=X.dtype)
        Y[idx, np.arange(len(idx))] = 1
    return {
        "params": engine.Params.from_layers(model.coefs_, model.intercepts_),
        "A0": np.ascontiguousarray(X.T),
        "Y": Y,
        "activation": get_activation(model._activation_spec()),
        "output": model.out_activation_,
        "loss": model.loss_function_,
        "fitted": True,
    }


def diagnose(model: Any, X: Any, y: Any, *, atol: float = 0.0, rtol: float = 0.0) -> Diagnosis:
    """Symmetry, zero gradients with their causes, dead units and signal statistics of a model.

    An unfitted estimator is diagnosed at its start (the one ``fit`` would draw, with the same
    ``random_state``; the estimator is left as it is), a fitted one as it stands.

    Parameters
    ----------
    model : MLPClassifier or LogisticRegression
    X : array-like of shape (n_samples, n_features)
        The batch the statistics and gradients are computed on (the training data, or a sample).
    y : array-like of shape (n_samples,)
    atol, rtol : float
        Tolerance for calling units interchangeable; 0 compares them bit for bit.

    Returns
    -------
    Diagnosis
        Printable (``print(diagnosis)`` or ``rich.print``), with ``to_dict()``.

    Examples
    --------
    >>> from initlab import MLPClassifier, load_dataset, diagnose
    >>> X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
    >>> d = diagnose(MLPClassifier(init="zeros"), X, y)
    >>> d.verdict, [r.effective_width for r in d.layers[:-1]]
    ('stuck', [1, 1])
    >>> d.blocks[0].cause
    "the error reaching this layer is zero because the next layer's weights (W2) are zero"
    """
    atol = check_number("diagnose", "atol", atol, low=0)
    rtol = check_number("diagnose", "rtol", rtol, low=0)
    s = _state(model, X, y)
    # NaN or inf anywhere makes every statistic meaningless: computed quietly, then reported
    # as the first finding (verdict "non-finite").
    with np.errstate(all="ignore"):
        return _diagnose(model, s, atol, rtol)


def _diagnose(model: Any, s: dict[str, Any], atol: float, rtol: float) -> Diagnosis:
    params, A0, Y, act = s["params"], s["A0"], s["Y"], s["activation"]
    L = len(params.weights)
    exact = engine.has_equal_units(params)  # so that equal units show equal gradients
    with np.errstate(all="ignore"):
        zs, acts = engine.forward(params, A0, act, exact=exact)
        value, dz, out = loss_and_grad(zs[-1], Y, s["loss"], s["output"])
        deltas: list[np.ndarray] = [None] * L  # type: ignore[list-item]
        dWs, dbs = engine.backward(params, zs, acts, dz, act, deltas=deltas, exact=exact)
    # One network (K = 1): drop the stack axis; the input acts[0] is shared and has none.
    W, b = [w[0] for w in params.weights], [v[0] for v in params.biases]
    zs1, deltas1 = [z[0] for z in zs], [d[0] for d in deltas]
    dW1, db1 = [g[0] for g in dWs], [g[0] for g in dbs]
    acts1 = [acts[0], *(a[0] for a in acts[1:])]
    causes = zero_gradient_causes(W, zs1, acts1, deltas1, dW1, db1, act)

    layers: list[LayerReport] = []
    prev = float(A0.std())
    for l in range(L):
        hidden = l < L - 1
        a = acts1[l + 1] if hidden else out[0]
        r = layer_signal(f"layer {l + 1}", zs1[l], a, act.spec if hidden else s["output"], prev)
        r.weight_grad_norm = float(np.linalg.norm(dW1[l]))
        if hidden:
            groups = symmetry_groups(W[l], b[l], W[l + 1], atol=atol, rtol=rtol)
            r.effective_width = len(groups)
            r.groups = [g for g in groups if len(g) > 1]
        layers.append(r)
        prev = r.act_std
    assign_verdicts(layers, float(A0.std()))
    out_layer = layers[-1]
    judged = ("vanishing", "exploding", "saturated", "healthy")
    if out_layer.verdict in judged and out_layer.activation != "identity":
        # Probabilities are bounded: their scale is not judged, nor their flat part (with the
        # cross-entropy loss the error at the output is p - y, whatever the slope there). What
        # harms is a probability at 0 or 1, where -log p is inf or huge: the row says so when
        # most of them are (as the finding below does).
        saturated = (out_layer.at_bound_share or 0.0) > SATURATED_SHARE
        out_layer.verdict = "saturated" if saturated else "healthy"

    blocks = []
    for l in range(L):
        for kind, grad in (("W", dW1[l]), ("b", db1[l])):
            name = f"{kind}{l + 1}"
            blocks.append(
                BlockReport(
                    name=name,
                    shape=tuple(grad.shape),
                    grad_norm=float(np.linalg.norm(grad)),
                    zero=causes[name] is not None,
                    cause=causes[name],
                    equal_update_groups=equal_update_groups(dW1[l], db1[l]) if kind == "W" else [],
                )
            )
    findings = _findings(layers, blocks, act, W, float(A0.std()))
    nonfinite = _nonfinite_findings(W, b, A0, zs1, acts1, out[0], value[0], dW1, db1, act)
    if nonfinite:
        for l, r in enumerate(layers):
            if not (np.isfinite(zs1[l]).all() and np.isfinite(W[l]).all()):
                r.verdict = "non-finite"
        findings = nonfinite  # every other statistic is computed on NaN or inf
    verdict = "non-finite" if nonfinite else overall_verdict(layers, blocks)
    fitted = "fitted" if s["fitted"] else "at its start"
    return Diagnosis(
        verdict=verdict,
        layers=layers,
        blocks=blocks,
        findings=findings,
        loss=float(value[0]),
        model=f"{type(model).__name__} {params.layer_sizes}, {act.spec}, {fitted}",
    )


def _count(a: np.ndarray) -> tuple[int, str]:
    """How many entries are not finite, and which kinds (NaN, inf)."""
    bad = ~np.isfinite(a)
    kinds = [k for k, m in (("NaN", np.isnan(a)), ("inf", np.isinf(a))) if m.any()]
    return int(bad.sum()), " and ".join(kinds)


def _nonfinite_findings(W, b, A0, zs, acts, out, loss, dW, db, act) -> list[Finding]:
    """Where NaN or inf first appear: the parameters, the input, the signal, the gradients."""
    auto = auto_initializer(act.spec)
    found = []
    for l in range(len(W)):
        for name, a in ((f"W{l + 1}", W[l]), (f"b{l + 1}", b[l])):
            n, kinds = _count(a)
            if n:
                found.append(
                    Finding(
                        "non-finite",
                        f"{name} holds {n} non-finite value{'s' if n != 1 else ''} ({kinds}) "
                        f"among its {a.size}: no statistic of this network means anything until "
                        "they are gone.",
                        f"start again from a finite scheme such as {auto}",
                        layer=f"layer {l + 1}",
                    )
                )
    n, kinds = _count(A0)
    if n:
        found.append(
            Finding(
                "non-finite",
                f"the input X holds {n} non-finite value{'s' if n != 1 else ''} ({kinds}) "
                f"among its {A0.size}.",
                "remove or impute them before training",
                layer="input",
            )
        )
    if found:
        return found
    for l, (z, a) in enumerate(zip(zs, [*acts[1:], out])):
        n, kinds = _count(z)
        if n or not np.isfinite(a).all():
            n = n or _count(a)[0]
            found.append(
                Finding(
                    "non-finite",
                    f"the signal overflows in layer {l + 1}: {n} of {z.size} of its values are "
                    f"non-finite ({kinds or 'NaN'}) although the weights are finite: they are "
                    "too large for float arithmetic.",
                    f"a smaller start scale, such as {auto}",
                    layer=f"layer {l + 1}",
                )
            )
            return found
    grads = [g for pair in zip(dW, db) for g in pair]
    if not np.isfinite(loss) or not all(np.isfinite(g).all() for g in grads):
        found.append(
            Finding(
                "non-finite",
                f"the loss ({loss:g}) or a gradient on the data given is not finite: the first "
                "step of training would diverge.",
                f"a smaller start scale, such as {auto}",
            )
        )
    return found


def _findings(layers, blocks, act, weights, input_std) -> list[Finding]:
    auto = auto_initializer(act.spec)
    out: list[Finding] = []
    for r in layers[:-1]:
        if r.groups:
            for g in r.groups:
                out.append(
                    Finding(
                        "symmetric",
                        f"units {_ranges(g)} of {r.name} are one unit (effective width "
                        f"{r.effective_width} of {r.units}): they compute the same function, get "
                        "equal updates and stay equal under full-batch and mini-batch gradient "
                        "descent.",
                        f"start from a random scheme such as {auto}",
                        layer=r.name,
                    )
                )
        if r.dead_units and r.verdict != "symmetric":
            out.append(
                Finding(
                    "dead",
                    f"{len(r.dead_units)} of {r.units} units of {r.name} are dead (zero on every "
                    "sample): no gradient reaches their incoming weights.",
                    f"a smaller start scale, a positive bias_init, or leaky_relu; {auto} keeps "
                    "about half of ReLU units active",
                    layer=r.name,
                    severity="error" if r.verdict == "dead" else "warning",
                )
            )
        if r.verdict == "saturated":
            out.append(
                Finding(
                    "saturated",
                    f"{r.saturated_share:.0%} of the {r.activation} outputs of {r.name} are in the "
                    "flat part, where the derivative is below 2% of its peak.",
                    f"scale the start down: {auto}",
                    layer=r.name,
                )
            )
    out_layer = layers[-1]
    if out_layer.at_bound_share:
        out.append(
            Finding(
                "saturated",
                f"{out_layer.at_bound_share:.0%} of the output probabilities are within 1e-6 of "
                "0 or 1: the textbook loss -log p is inf or huge where such a sample is "
                "misclassified.",
                f"a smaller start scale, such as {auto}",
                layer=out_layer.name,
                severity="error" if out_layer.verdict == "saturated" else "warning",
            )
        )
    hidden = [r for r in layers[:-1] if r.act_std > 0]
    if len(hidden) >= 1 and input_std > 0:
        total = hidden[-1].act_std / input_std
        per_layer = total ** (1 / len(hidden))
        worst = next((r for r in layers[:-1] if r.verdict in ("vanishing", "exploding")), None)
        if worst is not None:
            word = "falls" if per_layer < 1 else "grows"
            factor = 1 / per_layer if per_layer < 1 else per_layer
            # fan_in Var(W) of the start's hidden layers against the variance-preserving g^2.
            start = np.mean([W.var() * W.shape[1] for W in weights[:-1]])
            g2 = variance_preserving_gain(act) ** 2
            out.append(
                Finding(
                    worst.verdict,
                    f"activation std {word} by {factor:.2g}x per layer ({total:.2g}x over "
                    f"{len(hidden)} hidden layers).",
                    f"the start has Var(W) = {start:.3g}/fan_in, where {act.spec} keeps the "
                    f"signal's scale with about {g2:.3g}/fan_in: start from {auto}",
                    layer=worst.name,
                )
            )
    for blk in blocks:
        if blk.zero:
            out.append(
                Finding(
                    "zero_gradient",
                    f"the gradient of {blk.name} is zero: {blk.cause}.",
                    ""
                    if blk.name.startswith("b")
                    else f"start from a random scheme such as {auto}",
                    layer=blk.name,
                    severity="error" if blk.name.startswith("W") else "warning",
                )
            )
    return out


def collapse(model: Any, *, atol: float = 0.0, rtol: float = 0.0) -> Any:
    """The smallest network with the same function: each group of interchangeable hidden units
    merged into one (its outgoing weights summed).

    Parameters
    ----------
    model : fitted MLPClassifier
    atol, rtol : float
        Tolerance for interchangeable units (0: bit for bit).

    Returns
    -------
    MLPClassifier
        A fitted copy with ``hidden_layer_sizes`` the effective widths; its predictions equal the
        original's up to rounding (a sum of equal terms w a + w' a becomes (w + w') a).

    Examples
    --------
    >>> from initlab import MLPClassifier, load_dataset, collapse
    >>> X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
    >>> clf = MLPClassifier(init="constant(value=0.5)", max_iter=200).fit(X, y)
    >>> collapse(clf).hidden_layer_sizes
    (1, 1)
    """
    if not hasattr(model, "coefs_"):
        raise ValueError(
            "The 'model' parameter of collapse must be a fitted MLPClassifier: it merges the "
            "units of its parameters. Fit it first (or diagnose it at its start)."
        )
    small = copy.deepcopy(model)
    W = [w.copy() for w in model.coefs_]
    b = [v.copy() for v in model.intercepts_]
    for l in range(len(W) - 1):
        groups = symmetry_groups(W[l], b[l], W[l + 1], atol=atol, rtol=rtol)
        W[l], b[l], W[l + 1] = merge_units(W[l], b[l], W[l + 1], groups)
    small.coefs_, small.intercepts_ = W, b
    small.hidden_layer_sizes = tuple(w.shape[0] for w in W[:-1])
    return small
