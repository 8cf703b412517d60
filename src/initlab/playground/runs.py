"""The playground's runs: side-by-side panels trained by initlab's engine, and what they show.

A :class:`Session` holds what one page is looking at: the data, the panels' networks, their
history and a timeline of snapshots. Panels that can share an engine stack do (the same
activation and learning rate, and the same kind of products: a start with equal units is
summed in a fixed order so that its units stay equal bit for bit, see ``engine.train``'s
``products``); each network is drawn from its own ``RandomState(seed)`` exactly as
``MLPClassifier(random_state=seed)`` draws it, so every panel starts where the estimator
would and panels that differ only in the varied setting share everything else. Training
advances in chunks of ``engine.train`` calls (the optimizer's state carried over), which give
the same numbers as one call: the playground's He panel after 15000 iterations is the course's
network bit for bit.

What a frame shows is computed here, from the library: the loss (stable, from the logits) and
the course's textbook loss (``inf`` where a probability rounds to 0 or 1), accuracies,
:func:`initlab.diagnose` of the network as it stands (verdict, effective widths, dead and
saturated shares, every zero gradient and its cause, findings), gradients and activations from
:func:`engine.forward` / :func:`engine.backward`, the signal's std per layer against
:func:`initlab.meanfield.qmap`, and the pictures (the output and every unit over the input
plane). The browser only draws.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import engine, losses, meanfield
from ..activations import Activation, get_activation
from ..datasets import load_dataset
from ..diagnostics import diagnose, symmetry_groups
from ..models import MLPClassifier, Perceptron
from .state import (
    LIMITS,
    PERCEPTRON_EPOCHS,
    PRESETS,
    Config,
    PanelConfig,
    StateError,
    parse_state,
)

__all__ = [
    "GRID",
    "SYMMETRY_RTOL",
    "Session",
    "StateError",
    "fingerprint",
    "load_data",
    "mean_field",
]

GRID = 64  # the output over the input plane, GRID x GRID points
SYMMETRY_RTOL = 0.01  # "within tolerance": units whose parameters agree within 1%
CHECKPOINT = 1000  # the course prints its cost every 1000 iterations: a chunk ends at each
SNAPSHOT_BYTES = 64 * 2**20  # the timeline's memory; beyond it every other snapshot is dropped
HIST_BINS = 24
_OUTPUT, _LOSS = "sigmoid", "binary_cross_entropy"
# Every reset gets a new serial: the page drops a frame that belongs to an earlier one.
_SERIALS = itertools.count(1)


# --- encoding ---------------------------------------------------------------------------------


def _b64(a: np.ndarray, dtype: str) -> str:
    """Little-endian bytes of ``a`` as ``dtype``, base64: the page reads them as a typed array
    (a float64 beyond float32's range becomes inf there, as it should)."""
    with np.errstate(over="ignore", invalid="ignore"):
        raw = np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<"))
    return base64.b64encode(raw).decode("ascii")


def _grad32(g: np.ndarray) -> np.ndarray:
    """float32 for the page, keeping "exactly zero" exact: a non-zero gradient too small for
    float32 becomes its smallest subnormal, not 0."""
    with np.errstate(over="ignore", invalid="ignore"):
        g32 = g.astype(np.float32)
    lost = (g != 0) & (g32 == 0)
    g32[lost] = np.copysign(np.float32(1e-45), g[lost]).astype(np.float32)
    return g32


def _num(x: Any) -> float | str | None:
    """A JSON number; non-finite values as the strings "inf", "-inf", "nan"."""
    if x is None:
        return None
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def fingerprint(*arrays: np.ndarray) -> str:
    """The first 16 hex digits of the SHA-256 of the arrays' float64 bytes: equal starts, equal
    fingerprints, bit for bit."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
    return h.hexdigest()[:16]


def _params_fingerprint(params: engine.Params) -> str:
    return fingerprint(*params.weights, *params.biases)


# --- data ---------------------------------------------------------------------------------------


@dataclass
class Data:
    """Training and test points, and the input plane the pictures cover."""

    X: np.ndarray
    y: np.ndarray
    Xt: np.ndarray
    yt: np.ndarray
    extent: tuple[float, float, float, float]  # x0, x1, y0, y1

    def plane(self, res: int) -> np.ndarray:
        """res x res points over the extent, row 0 at the top (largest y), sample-major."""
        x0, x1, y0, y1 = self.extent
        xs = x0 + (np.arange(res) + 0.5) * (x1 - x0) / res
        ys = y1 - (np.arange(res) + 0.5) * (y1 - y0) / res
        gx, gy = np.meshgrid(xs, ys)
        return np.column_stack([gx.ravel(), gy.ravel()])


def _loader_args(cfg: Config, n: int, seed: int) -> dict[str, Any]:
    if cfg.dataset == "iris2":
        return {}
    if cfg.dataset == "gaussians":  # its noise is the clusters' spread
        return {"n_samples": n, "cluster_std": cfg.noise, "random_state": seed}
    return {"n_samples": n, "noise": cfg.noise, "random_state": seed}


def load_data(cfg: Config) -> Data:
    """The training set (seed ``dseed``) and a test set of n // 3 points (seed ``dseed + 1``):
    for the course's circles, exactly its 300 training and 100 test points."""
    X, y = load_dataset(cfg.dataset, **_loader_args(cfg, cfg.n, cfg.dseed))
    if cfg.dataset == "iris2":
        Xt, yt = np.empty((0, 2)), np.empty(0, dtype=np.int64)
    else:
        seed = (cfg.dseed + 1) % 2**32
        Xt, yt = load_dataset(cfg.dataset, **_loader_args(cfg, max(cfg.n // 3, 2), seed))
    both = np.vstack([X, Xt])
    lo, hi = both.min(axis=0), both.max(axis=0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2 * 1.15, 1e-3)
    extent = (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)
    return Data(X, y, Xt, yt, tuple(float(v) for v in extent))


# --- networks -----------------------------------------------------------------------------------


def draw_start(panel: PanelConfig, sizes: tuple[int, ...], seed: int, A0: np.ndarray, batch):
    """One panel's start and the generator it leaves, as ``MLPClassifier(random_state=seed)``
    draws it (then the weights times ``scale``); the generator goes on to order mini-batches."""
    rng = np.random.RandomState(seed)
    act = get_activation(panel.act)
    init = engine.resolve_initializer(panel.init, act)
    params = engine.init_params(sizes, init, panel.bias, activation=act, random_state=rng)
    if init.data_dependent:  # LSUV finishes on the first batch, as MLPClassifier.fit does
        engine.lsuv(
            params,
            A0 if batch is None else A0[:, :batch],
            act,
            tol=init.params["tol"],
            max_iter=init.params["max_iter"],
        )
    if panel.scale != 1:
        for W in params.weights:
            W *= panel.scale
    return params, rng


def _stack(parts: list[engine.Params]) -> engine.Params:
    return engine.Params(
        [np.concatenate([p.weights[l] for p in parts]) for l in range(len(parts[0].weights))],
        [np.concatenate([p.biases[l] for p in parts]) for l in range(len(parts[0].biases))],
    )


@dataclass
class _Stack:
    """Panels trained as one engine stack."""

    panels: list[int]
    params: engine.Params
    activation: Activation
    lr: float
    exact: bool  # a start with equal units: products summed in a fixed order
    shuffle: list[Any] | None
    diverged_at: np.ndarray
    optimizer_state: dict[str, Any] = field(default_factory=dict)

    def train(self, n: int, t: int, A0: np.ndarray, Y: np.ndarray, cfg: Config) -> np.ndarray:
        """n iterations from iteration t; returns the loss (n, K)."""
        K = len(self.panels)
        loss = np.full((n, K), np.nan)
        active = self.diverged_at < 0
        if not active.any():
            return loss
        before = self.params.copy()
        result = engine.train(
            self.params,
            A0,
            Y,
            activation=self.activation,
            output=_OUTPUT,
            loss=_LOSS,
            solver=cfg.solver,
            learning_rate=self.lr,
            max_iter=n,
            batch_size=cfg.batch,
            shuffle=self.shuffle,
            products="exact" if self.exact else "blas",
            backend="numpy",  # the reference: the course's numbers bit for bit
            optimizer_state=self.optimizer_state,
        )
        loss[: result.n_iter] = result.loss
        self.optimizer_state = result.optimizer_state
        newly = active & (result.diverged_at >= 0)
        self.diverged_at[newly] = t + result.diverged_at[newly]
        params = result.params
        # A network that diverged in an earlier chunk keeps its last finite parameters.
        for new, old in zip((*params.weights, *params.biases), (*before.weights, *before.biases)):
            new[~active] = old[~active]
        loss[:, ~active] = np.nan
        self.params = params
        return loss


class _PerceptronRun:
    """One panel's perceptron (initlab.Perceptron, the online rule in data order), continued
    epoch by epoch from its current weights: the same updates as one fit of all the epochs."""

    def __init__(self, panel: PanelConfig, X: np.ndarray, y: np.ndarray, seed: int):
        self.panel, self.X, self.y, self.seed = panel, X, y, seed
        first = Perceptron(eta=panel.lr, n_iter=1, init=panel.init, random_state=seed).fit(X, y)
        self.path = first.history_["weights"][:1].copy()  # [b, w] at the start and per epoch
        self.errors: list[int] = []
        self.model = first

    def advance(self, n: int) -> None:
        start = self.path[-1].copy()
        model = Perceptron(
            eta=self.panel.lr,
            n_iter=n,
            init=lambda rng, shape, dtype: start.reshape(shape).astype(dtype),
            random_state=self.seed,  # draws nothing: the start is the current weights
        ).fit(self.X, self.y)
        self.path = np.vstack([self.path, model.history_["weights"][1:]])
        self.errors.extend(model.errors_)
        self.model = model

    def at(self, epoch: int) -> np.ndarray:
        return self.path[epoch]


# --- what a frame shows -------------------------------------------------------------------------


def _as_model(params: engine.Params, hidden: tuple[int, ...], act: str) -> MLPClassifier:
    """A fitted MLPClassifier holding one network of the stack, for :func:`initlab.diagnose`."""
    clf = MLPClassifier(hidden_layer_sizes=hidden, activation=act)
    clf.coefs_ = [W[0] for W in params.weights]
    clf.intercepts_ = [b[0] for b in params.biases]
    clf.classes_ = np.array([0, 1])
    clf.n_features_in_ = params.layer_sizes[0]
    clf.n_outputs_ = 1
    clf.out_activation_ = _OUTPUT
    clf.loss_function_ = _LOSS
    return clf


def _signal(zs: list[np.ndarray]) -> list[float]:
    """sqrt(mean z^2) per layer (units and samples): the length mean-field theory predicts."""
    with np.errstate(over="ignore", invalid="ignore"):
        return [float(np.sqrt(np.mean(z[0] * z[0]))) for z in zs]


def mean_field(params: engine.Params, X: np.ndarray, act: str) -> list[float]:
    """Predicted sqrt(q_l) per layer for this start: q_1 = sigma_w^2 mean(x^2) + sigma_b^2, then
    :func:`initlab.meanfield.qmap` layer by layer, with each layer's sigma_w^2 = fan_in mean(W^2)
    and sigma_b^2 = mean(b^2) read from the drawn weights (any scheme, any scale)."""
    q = float(np.mean(X * X))
    out = []
    for l, (W, b) in enumerate(zip(params.weights, params.biases)):
        sw2 = W.shape[2] * float(np.mean(W[0] * W[0]))
        sb2 = float(np.mean(b[0] * b[0]))
        if not (math.isfinite(sw2) and math.isfinite(sb2) and math.isfinite(q)):
            q = math.nan
        elif l == 0:  # layer 1 sees the input itself: a linear map of its second moment
            q = sw2 * q + sb2
        elif sw2 == 0:  # zero weights leave the bias alone
            q = sb2
        else:
            q = float(meanfield.qmap(q, act, math.sqrt(sw2), math.sqrt(sb2)))
        out.append(math.sqrt(q) if math.isfinite(q) else math.nan)
    return out


def _histogram(a: np.ndarray) -> dict[str, Any]:
    """Counts of one layer's activations over the training data, bins over their own range
    (the axis carries the scale), with the share that is exactly 0."""
    v = a.ravel()
    finite = v[np.isfinite(v)]
    zero = float(np.mean(v == 0)) if v.size else 0.0
    if finite.size == 0:
        return {"lo": None, "hi": None, "counts": [], "zero": zero, "nonfinite": int(v.size)}
    lo, hi = float(finite.min()), float(finite.max())
    if hi == lo:
        counts = [int(finite.size)]
    else:
        counts = np.histogram(finite, bins=HIST_BINS, range=(lo, hi))[0].tolist()
    return {
        "lo": lo,
        "hi": hi,
        "counts": counts,
        "zero": zero,
        "nonfinite": int(v.size - finite.size),
    }


def _accuracy(p: np.ndarray, y: np.ndarray) -> float | None:
    """MLPClassifier's rule: the second class where p > 0.5 strictly."""
    if y.size == 0:
        return None
    return float(np.mean((p > 0.5).astype(np.int64) == y))


_VERDICT_WORDS = {
    "non-finite": "Non-finite",
    "stuck": "Stuck",
    "symmetric": "Symmetric",
    "dead": "Dead units",
    "exploding": "Exploding",
    "vanishing": "Vanishing",
    "saturated": "Saturated",
    "healthy": "Healthy",
}


def _summary(d: Any, loss: float, acc: float, unit: str, t: int) -> str:
    """One sentence leading with the verdict, from the diagnosis and the measured numbers."""
    word = _VERDICT_WORDS.get(d.verdict, d.verdict)
    if d.verdict == "stuck":
        zero_w = [b for b in d.blocks if b.name.startswith("W") and b.zero]
        first = zero_w[0] if zero_w else d.blocks[0]
        return (
            f"{word}: every gradient is zero at {unit} {t}, so gradient descent cannot move the "
            f"weights ({first.name}: {first.cause}). Loss {loss:.6f}, train accuracy {acc:.4f}."
        )
    finding = next((f for f in d.findings if f.code == d.verdict), None)
    if finding is None:
        finding = next((f for f in d.findings if f.severity == "error"), None)
    if finding is not None:
        text = finding.message[0].upper() + finding.message[1:]
        return f"{word}: {text} Loss {loss:.4g}, train accuracy {acc:.4f}."
    warnings = [f.message for f in d.findings if f.severity == "warning"]
    if warnings:
        plural = "s" if len(warnings) > 1 else ""
        return (
            f"{word}, with warning{plural}: {' '.join(warnings)} Loss {loss:.4g}, train "
            f"accuracy {acc:.4f}."
        )
    return (
        f"{word}: the diagnosis finds nothing wrong at {unit} {t}. Loss {loss:.4g}, train "
        f"accuracy {acc:.4f}."
    )


def _diagnosis_dict(d: Any, widths_tol: list[int]) -> dict[str, Any]:
    layers = []
    for i, r in enumerate(d.layers):
        layers.append(
            {
                "name": r.name,
                "units": r.units,
                "width": r.effective_width,
                "width_tol": widths_tol[i] if i < len(widths_tol) else None,
                "dead": len(r.dead_units),
                "dead_units": r.dead_units,
                "saturated": _num(r.saturated_share),
                "act_std": _num(r.act_std),
                "std_ratio": _num(r.std_ratio),
                "verdict": r.verdict,
            }
        )
    return {
        "verdict": d.verdict,
        "loss": _num(d.loss),
        "layers": layers,
        "blocks": [
            {"name": b.name, "zero": b.zero, "cause": b.cause, "norm": _num(b.grad_norm)}
            for b in d.blocks
        ],
        "findings": [
            {
                "code": f.code,
                "message": f.message,
                "suggestion": f.suggestion,
                "severity": f.severity,
                "layer": f.layer,
            }
            for f in d.findings
        ],
    }


# --- the session ----------------------------------------------------------------------------


class Session:
    """What one page shows: a config, its runs, their history and timeline.

    Parameters
    ----------
    state : dict
        The page's state (see :mod:`initlab.playground.state`); missing keys take the course
        preset's values.

    Raises
    ------
    StateError
        A refused field, named.
    """

    def __init__(self, state: dict[str, Any] | None = None):
        self.configure(state if state is not None else PRESETS["course"]["state"])

    check = staticmethod(parse_state)

    # -- configuration and reset

    def configure(self, state: Any) -> None:
        """Check ``state`` and start over from it; on a refusal nothing changes."""
        config = parse_state(state)
        try:
            data = load_data(config)
        except StateError:
            raise
        except ValueError as exc:
            raise StateError("dataset", str(exc)) from None
        self.config, self.data = config, data
        self.reset()

    def reset(self) -> None:
        """Redraw every start from the seed: the same start as before, bit for bit."""
        cfg, data = self.config, self.data
        self.serial = next(_SERIALS)
        self.t = 0
        self.A0 = np.ascontiguousarray(data.X.T)
        self.Y = data.y[None, :].astype(np.float64)
        self.grid = data.plane(GRID)
        self.thumb_res = 16 if max(cfg.hidden, default=0) <= 12 else 8
        self.thumbs = data.plane(self.thumb_res)
        self.stacks: list[_Stack] = []
        self.perceptrons: list[_PerceptronRun] = []
        K = len(cfg.panels)
        self.losses: list[list[np.ndarray]] = [[] for _ in range(K)]
        self.textbook: list[list[tuple[int, float]]] = [[] for _ in range(K)]
        self.sent = {"losses": 0, "textbook": [0] * K}
        self.snapshots: list[tuple[int, list[engine.Params]]] = []
        self.snapshot_step = 1
        self.starts: list[engine.Params] = []
        if cfg.model == "perceptron":
            for panel in cfg.panels:
                self.perceptrons.append(_PerceptronRun(panel, data.X, data.y, cfg.seed))
            return
        sizes = (data.X.shape[1], *cfg.hidden, 1)
        groups: dict[tuple[str, float, bool], list[int]] = {}
        drawn = []
        for k, panel in enumerate(cfg.panels):
            params, rng = draw_start(panel, sizes, cfg.seed, self.A0, cfg.batch)
            drawn.append((params, rng))
            self.starts.append(params.copy())
            key = (get_activation(panel.act).spec, panel.lr, engine.has_equal_units(params))
            groups.setdefault(key, []).append(k)
        for (act, lr, exact), members in groups.items():
            self.stacks.append(
                _Stack(
                    panels=members,
                    params=_stack([drawn[k][0] for k in members]),
                    activation=get_activation(act),
                    lr=lr,
                    exact=exact,
                    shuffle=[drawn[k][1] for k in members] if cfg.batch else None,
                    diverged_at=np.full(len(members), -1),
                )
            )
        self._record()

    # -- training

    @property
    def unit(self) -> str:
        if self.config.model == "perceptron":
            return "epoch"
        return "epoch" if self.config.batch else "iteration"

    @property
    def limit(self) -> int:
        """The last iteration (epoch) a run can reach."""
        if self.config.model == "perceptron":
            return PERCEPTRON_EPOCHS
        return LIMITS["target"][1]

    def advance(self, n: int) -> int:
        """Train every panel n more iterations (epochs), stopping at each CHECKPOINT so that the
        textbook loss is recorded where the course prints it. Returns the iterations run."""
        n = max(0, min(int(n), self.limit - self.t))
        done = 0
        while done < n:
            chunk = min(n - done, CHECKPOINT - self.t % CHECKPOINT)
            if self.perceptrons:
                for run in self.perceptrons:
                    run.advance(chunk)
            else:
                K = len(self.config.panels)
                block = np.full((chunk, K), np.nan)
                for s in self.stacks:
                    block[:, s.panels] = s.train(chunk, self.t, self.A0, self.Y, self.config)
                for k in range(K):
                    self.losses[k].append(block[:, k])
            self.t += chunk
            done += chunk
            if not self.perceptrons:
                self._record()
        return done

    def fast_forward(self, target: int, budget: float = 0.25) -> bool:
        """Advance towards ``target`` for about ``budget`` seconds; True once there."""
        end = time.perf_counter() + budget
        target = min(int(target), self.limit)
        while self.t < target and time.perf_counter() < end:
            self.advance(min(500, target - self.t))
        return self.t >= target

    def _panel_params(self) -> list[engine.Params]:
        out: list[engine.Params | None] = [None] * len(self.config.panels)
        for s in self.stacks:
            for j, k in enumerate(s.panels):
                out[k] = s.params.select(j)
        return out  # type: ignore[return-value]

    def _record(self) -> None:
        """The textbook loss and a snapshot for the timeline, at the current iteration."""
        params = self._panel_params()
        for k, p in enumerate(params):
            with np.errstate(all="ignore"):
                out = engine.predict_output(p, self.data.X, self.config.panels[k].act, _OUTPUT)
                value = losses.textbook_binary_cross_entropy(out, self.Y)[0]
            self.textbook[k].append((self.t, float(value)))
        if self.t % self.snapshot_step == 0 or self.t % CHECKPOINT == 0:
            self.snapshots.append((self.t, params))
        size = sum(W.nbytes for p in params for W in (*p.weights, *p.biases))
        if size * len(self.snapshots) > SNAPSHOT_BYTES:
            # Thin the timeline: keep the start, every other snapshot and the last one.
            keep = self.snapshots[:1] + self.snapshots[1:-1:2] + self.snapshots[-1:]
            self.snapshots = keep
            self.snapshot_step *= 2

    # -- what the page receives

    def setup(self) -> dict[str, Any]:
        """What does not change until the next reset: the state, the data, the panels."""
        cfg, data = self.config, self.data
        panels = []
        course = _published_course(cfg)
        book = _published_book(cfg)
        for k, panel in enumerate(cfg.panels):
            info: dict[str, Any] = {
                "label": panel.label,
                "value": getattr(panel, cfg.vary),
                "settings": {
                    "act": panel.act,
                    "init": panel.init,
                    "scale": panel.scale,
                    "bias": panel.bias,
                    "lr": panel.lr,
                },
                "published": course.get(panel.init) if cfg.vary == "init" else None,
                "book": book if book and panel.lr == book["eta"] else None,
            }
            if self.starts:
                p = self.starts[k]
                info["sizes"] = list(p.layer_sizes)
                info["start"] = _params_fingerprint(p)
                with np.errstate(all="ignore"):
                    zs, _ = engine.forward(p, self.A0, get_activation(panel.act))
                info["signal_start"] = [_num(v) for v in _signal(zs)]
                info["meanfield"] = [_num(v) for v in mean_field(p, data.X, panel.act)]
                stack = next(s for s in self.stacks if k in s.panels)
                info["stack"] = self.stacks.index(stack)
                info["products"] = "exact" if stack.exact else "blas"
            else:
                info["sizes"] = [data.X.shape[1], 1]
                info["start"] = fingerprint(self.perceptrons[k].at(0))
            panels.append(info)
        return {
            "type": "setup",
            "serial": self.serial,
            "state": cfg.state,
            "model": cfg.model,
            "unit": self.unit,
            "limit": self.limit,
            "data": {
                "X": _b64(data.X, "f4"),
                "y": _b64(data.y, "u1"),
                "Xt": _b64(data.Xt, "f4"),
                "yt": _b64(data.yt, "u1"),
                "n": len(data.y),
                "n_test": len(data.yt),
                "extent": list(data.extent),
                "fingerprint": fingerprint(data.X, data.y, data.Xt, data.yt),
            },
            "grid": GRID,
            "thumb": self.thumb_res,
            "seed": cfg.seed,
            "stacks": len(self.stacks),
            "panels": panels,
        }

    def frame(self, at: int | None = None) -> dict[str, Any]:
        """The pictures and numbers of every panel at iteration ``at`` (the nearest snapshot at or
        before it; None: now). A live frame also carries the losses since the last one."""
        live = at is None or at >= self.t
        if self.perceptrons:
            t = self.t if live else max(0, int(at))
            panels = [self._perceptron_frame(k, t) for k in range(len(self.perceptrons))]
        else:
            if live:
                t, params = self.t, self._panel_params()
            else:
                t, params = self.snapshots[0]
                for s_t, s_p in self.snapshots:
                    if s_t > at:
                        break
                    t, params = s_t, s_p
            panels = []
            for k in range(len(params)):
                d = self._diverged_at(k)
                before = [s for s in self.snapshots if s[0] < d]
                if 0 <= d <= t and before:
                    # Shown: the last recorded state before it diverged (where the loss and every
                    # gradient were finite); the weights it keeps overflow there already.
                    s_t, s_p = before[-1]
                    panels.append(self._mlp_frame(k, s_p[k], s_t, diverged=(d, t)))
                elif 0 <= d <= t:  # non-finite from the start: nothing finite to show
                    panels.append(self._mlp_frame(k, params[k], t, diverged=(d, t)))
                else:
                    panels.append(self._mlp_frame(k, params[k], t))
        msg: dict[str, Any] = {
            "type": "frame",
            "serial": self.serial,
            "t": t,
            "now": self.t,
            "live": live,
        }
        if live:
            msg["history"] = self._history()
        msg["panels"] = panels
        return msg

    def _history(self) -> dict[str, Any]:
        """Per panel the losses since the last live frame (float32, from iteration ``from``) and
        the textbook losses recorded since."""
        start = self.sent["losses"]
        out: dict[str, Any] = {"from": start, "panels": []}
        for k in range(len(self.config.panels)):
            entry: dict[str, Any] = {}
            if self.perceptrons:
                errors = self.perceptrons[k].errors
                entry["errors"] = errors[start:]
            else:
                chunks = self.losses[k]
                new = np.concatenate(chunks) if chunks else np.empty(0)
                self.losses[k] = [new] if new.size else []
                entry["loss"] = _b64(new[start:], "f4")
                tb = self.textbook[k][self.sent["textbook"][k] :]
                self.sent["textbook"][k] = len(self.textbook[k])
                entry["textbook"] = [[it, _num(v)] for it, v in tb]
            out["panels"].append(entry)
        self.sent["losses"] = self.t
        return out

    def resend_history(self) -> None:
        """The next live frame carries the whole history (after the page reconnects)."""
        self.sent = {"losses": 0, "textbook": [0] * len(self.config.panels)}

    def _diverged_at(self, k: int) -> int:
        return next(
            (int(s.diverged_at[s.panels.index(k)]) for s in self.stacks if k in s.panels), -1
        )

    def _mlp_frame(
        self, k: int, params: engine.Params, t: int, diverged: tuple[int, int] | None = None
    ) -> dict[str, Any]:
        cfg, data = self.config, self.data
        panel = cfg.panels[k]
        act = get_activation(panel.act)
        exact = engine.has_equal_units(params)
        L = len(params.weights)
        with np.errstate(all="ignore"):
            zs, acts = engine.forward(params, self.A0, act, exact=exact)
            value, dz, out = losses.loss_and_grad(zs[-1], self.Y, _LOSS, _OUTPUT)
            deltas: list[Any] = [None] * L
            dWs, dbs = engine.backward(params, zs, acts, dz, act, deltas=deltas, exact=exact)
            textbook = losses.textbook_binary_cross_entropy(out, self.Y)[0]
            p_test = engine.predict_output(params, data.Xt, act, _OUTPUT)[0, 0]
            picture_in = np.vstack([self.grid, self.thumbs])
            pz, pa = engine.forward(params, np.ascontiguousarray(picture_in.T), act, exact=exact)
            p_plane = losses.output_activation(pz[-1], _OUTPUT)[0, 0]
            d = diagnose(_as_model(params, cfg.hidden, panel.act), data.X, data.y)
        n_grid = GRID * GRID
        widths_tol = [
            len(
                symmetry_groups(
                    params.weights[l][0],
                    params.biases[l][0],
                    params.weights[l + 1][0],
                    rtol=SYMMETRY_RTOL,
                )
            )
            for l in range(L - 1)
        ]
        loss = float(value[0])
        acc = _accuracy(out[0, 0], data.y)
        thumbs = [np.clip(a[0][:, n_grid:], -1.0, 1.0) for a in pa[1:]]
        summary = _summary(d, loss, acc if acc is not None else math.nan, self.unit, t)
        if diverged is not None:
            summary = (
                f"Diverged at {self.unit} {diverged[0]}: the loss or a gradient stopped being "
                f"finite (learning rate {panel.lr:g}), so training stopped there. "
                + (
                    f"Shown: {self.unit} {t}, the last recorded state before it. "
                    if t < diverged[0]
                    else ""
                )
                + summary
            )
        with np.errstate(invalid="ignore"):
            boundary = np.rint(np.nan_to_num(p_plane[:n_grid], nan=0.5) * 254)
        return {
            "kind": "mlp",
            "t": t,
            "loss": _num(loss),
            "textbook": _num(textbook),
            "train_acc": acc,
            "test_acc": _accuracy(p_test, data.yt),
            "diverged_at": diverged[0] if diverged is not None else None,
            "summary": summary,
            "fingerprint": _params_fingerprint(params),
            "weights": [_b64(W[0], "f4") for W in params.weights],
            "biases": [_b64(b[0], "f4") for b in params.biases],
            "grad_weights": [_b64(_grad32(g[0]), "f4") for g in dWs],
            "grad_biases": [_b64(_grad32(g[0]), "f4") for g in dbs],
            # Units that receive no error on any sample: every weight into them has gradient 0.
            "no_error": [np.flatnonzero(~deltas[l][0].any(axis=1)).tolist() for l in range(L)],
            "boundary": _b64(boundary, "u1"),
            "units": _b64(np.rint(np.concatenate([a.ravel() for a in thumbs]) * 127), "i1")
            if thumbs
            else "",
            "hist": [_histogram(a[0]) for a in acts[1:]] + [_histogram(out[0])],
            # The per-sample std of z per layer, what the diagnosis's verdicts read.
            "signal": [_num(r.preact_std) for r in d.layers],
            "diagnosis": _diagnosis_dict(d, widths_tol),
        }

    def _perceptron_frame(self, k: int, t: int) -> dict[str, Any]:
        run = self.perceptrons[k]
        t = min(t, len(run.path) - 1)
        w = run.at(t)
        eta = run.panel.lr
        X, y = self.data.X, self.data.y
        score = self.grid @ w[1:] + w[0]
        pred = (X @ w[1:] + w[0] >= 0.0).astype(np.int64)
        ref = self.perceptrons[0]
        u, u_ref = w / eta, ref.at(min(t, len(ref.path) - 1)) / ref.panel.lr
        scale = float(np.abs(u_ref).max()) or 1.0
        rel = float(np.abs(u - u_ref).max() / scale)
        errors, errors_ref = run.errors[:t], ref.errors[:t]
        same_errors = errors == errors_ref
        if k == 0:
            relation = f"the reference: w / eta = {_vector(u)} after {self.unit} {t}"
        elif np.array_equal(u, u_ref):
            relation = f"w / eta equals panel 1's bit for bit after {self.unit} {t}"
        else:
            first = next((i for i, (a, b) in enumerate(zip(errors, errors_ref)) if a != b), None)
            updates = (
                "the same number of updates in every epoch"
                if same_errors
                else f"its updates first differ from panel 1's in epoch {first + 1}"
            )
            relation = (
                f"w / eta differs from panel 1's by {rel:.2g} of its size after {self.unit} "
                f"{t}; {updates}"
            )
        return {
            "kind": "perceptron",
            "t": t,
            "w": [float(v) for v in w],
            "w_over_eta": [float(v) for v in u],
            "errors": run.errors[:t],
            "train_acc": float(np.mean(pred == y)),
            "relation": relation,
            "summary": _perceptron_summary(run, t, float(np.mean(pred == y)), self.unit),
            "fingerprint": fingerprint(w),
            "boundary": _b64(np.where(score >= 0.0, 254, 0), "u1"),
        }


def _vector(u: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.6g}" for v in u) + "]"


def _perceptron_summary(run: _PerceptronRun, t: int, acc: float, unit: str) -> str:
    errors = run.errors[:t]
    if t == 0:
        start = run.at(0)
        kind = "zero" if not start.any() else f"of size {float(np.linalg.norm(start)):.3g}"
        return f"The start is {kind}; no {unit} run yet."
    last = errors[-1]
    if last == 0:
        clean = next(i for i in range(len(errors)) if all(e == 0 for e in errors[i:]))
        return (
            f"Converged: no update since {unit} {clean + 1} (all {len(run.y)} points on the right "
            f"side; train accuracy {acc:.2f})."
        )
    return (
        f"Still learning: {last} update{'s' if last != 1 else ''} in {unit} {t}, "
        f"{sum(errors)} in all; train accuracy {acc:.2f}."
    )


def _published_course(cfg: Config) -> dict[str, Any]:
    """The course's published numbers by init, when the rest of the config is the course's."""
    from ..studies.dls_initialization import COURSE, PUBLISHED

    course = PRESETS["course"]["state"]
    same = {k: v for k, v in cfg.state.items() if k not in ("vary", "values", "steps", "target")}
    ref = parse_state(course).state
    if cfg.vary != "init" or any(same[k] != ref[k] for k in same if k not in ("init",)):
        return {}
    return {
        init: {
            **{k: _num(v) for k, v in numbers.items()},
            "iterations": COURSE["max_iter"],
            "source": "Coursera, Deep Learning Specialization, course 2 week 1, Initialization",
        }
        for init, numbers in PUBLISHED.items()
    }


def _published_book(cfg: Config) -> dict[str, Any] | None:
    """The book's errors per epoch (eta 0.1, its start and seed on iris2), when they apply."""
    from ..studies.perceptron_eta import BOOK_ERRORS, BOOK_SEED, START

    if cfg.model != "perceptron" or cfg.dataset != "iris2" or cfg.seed != BOOK_SEED:
        return None
    inits = {p.init for p in cfg.panels}
    if inits != {START}:
        return None
    return {
        "eta": 0.1,
        "errors": BOOK_ERRORS,
        "source": "Raschka and Mirjalili, Python Machine Learning, ch. 2",
    }
