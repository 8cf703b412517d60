"""The playground's state: what the learner chose, checked, and the presets.

The page keeps the whole state in its URL and sends it to the server as a flat dict of short
keys (the URL's), values as typed or as numbers. :func:`parse_state` checks every field with
:mod:`initlab._validation` and initlab's own spec parser (no other code runs on what the page
sends) and returns a :class:`Config`: the shared settings and, per panel, the settings with the
one varied field replaced. A refusal is a :class:`StateError`, a ``ValueError`` that names the
field, so that the page can show the message beside it.

======== ============================================ ===============================
key      meaning                                      allowed
======== ============================================ ===============================
model    ``mlp`` (a network) or ``perceptron``        see MODELS
dataset  a named dataset                              see DATASETS
n        training points (the test set has n // 3)    LIMITS["n"]
noise    the dataset's noise (gaussians: cluster std) LIMITS["noise"]
dseed    the data's seed (the test set's is dseed+1)  LIMITS["seed"]
hidden   hidden layer sizes, ``10,5``                 LIMITS["layers"], LIMITS["units"]
act      hidden activation spec                       any initlab activation spec
init     weight init spec                             any initlab initializer spec
scale    multiplier on the drawn weights' std         LIMITS["scale"]
bias     bias init spec, or ``auto``                  any initializer spec
lr       learning rate (the perceptron's eta)         LIMITS["lr"]
solver   ``gd``, ``sgd`` (momentum), ``adam``         engine.SOLVERS
batch    mini-batch size; empty or 0: full batch      LIMITS["batch"]
seed     the start's seed (and mini-batch order)      LIMITS["seed"]
vary     the setting the panels differ in             VARY
values   one value of it per panel                    LIMITS["panels"] values
steps    iterations per update while playing          LIMITS["steps"]
target   where fast-forward stops                     LIMITS["target"]
======== ============================================ ===============================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import engine
from .._validation import check_number, check_option, check_spec
from ..activations import get_activation
from ..initializers import get_initializer

__all__ = [
    "DATASETS",
    "LIMITS",
    "MODELS",
    "PRESETS",
    "VARY",
    "Config",
    "PanelConfig",
    "StateError",
    "parse_state",
]

OWNER = "playground"
MODELS = ("mlp", "perceptron")
# The two-feature, two-class datasets of initlab.load_dataset (digits is 64-D, not drawable).
DATASETS = ("circles", "moons", "xor", "spiral", "gaussians", "iris2")
VARY = ("init", "scale", "act", "lr")
VARY_LABELS = {"init": "init", "scale": "scale", "act": "activation", "lr": "learning rate"}
# Sizes the page can draw and the server can train at the speed of a live picture: every unit
# is drawn with its thumbnail, so 32 units a layer is what a panel has room for.
LIMITS = {
    "panels": (1, 4),
    "layers": (0, 8),
    "units": (1, 32),
    "n": (10, 2000),
    "noise": (0.0, 2.0),
    "seed": (0, 2**32 - 1),
    "scale": (0.0, 1000.0),
    "lr": (0.0, 100.0),
    "batch": (0, 2000),
    "steps": (1, 5000),
    "target": (1, 200_000),
}


# The perceptron is re-run in Python loops epoch by epoch: this many epochs stay interactive.
PERCEPTRON_EPOCHS = 1000


class StateError(ValueError):
    """A field of the state is refused; ``field`` names it (``"values.1"`` for panel 2)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PanelConfig:
    """Everything one panel trains with (the shared settings and its own varied value)."""

    label: str
    act: str
    init: str
    scale: float
    bias: str
    lr: float


@dataclass(frozen=True)
class Config:
    """A checked state: shared settings, and one :class:`PanelConfig` per panel."""

    model: str
    dataset: str
    n: int
    noise: float
    dseed: int
    hidden: tuple[int, ...]
    solver: str
    batch: int | None
    seed: int
    vary: str
    steps: int
    target: int
    panels: tuple[PanelConfig, ...]
    state: dict[str, Any] = field(default_factory=dict)  # the normalized state (for the URL)


def _field(name: str, fn, *args, **kwargs) -> Any:
    """Run a check; its ValueError becomes a StateError naming the field."""
    try:
        return fn(*args, **kwargs)
    except StateError:
        raise
    except ValueError as exc:
        raise StateError(name, str(exc)) from None


def _number(name: str, value: Any, *, integer: bool = False, low_open: bool = False) -> Any:
    """A number from JSON or from the text of a field, checked against LIMITS[name]."""
    low, high = LIMITS[name]
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            # Keep the text, so that the message quotes what was typed.
            value = text
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63:
        # Beyond int64 (check_number's isfinite cannot take it) and beyond every limit: refused
        # with the number's text, shortened.
        digits = str(value)
        value = digits if len(digits) <= 24 else f"{digits[:12]}... ({len(digits)} digits)"
    if integer and isinstance(value, float) and abs(value) < 2**63 and value == int(value):
        value = int(value)
    return _field(
        name,
        check_number,
        OWNER,
        name,
        value,
        integer=integer,
        low=low,
        high=high,
        low_open=low_open,
    )


def _hidden(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        text = value.strip().strip("()[]")
        parts = [p.strip() for p in text.split(",") if p.strip()] if text else []
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise StateError(
            "hidden",
            f"The 'hidden' parameter of {OWNER} must be layer sizes separated by commas, such as "
            f"'10,5' (empty for none). Got {value!r} instead.",
        )
    hi = LIMITS["layers"][1]
    if len(parts) > hi:
        raise StateError(
            "hidden",
            f"The 'hidden' parameter of {OWNER} must have at most {hi} layers. Got {len(parts)} "
            "instead.",
        )
    return tuple(_number("units", p, integer=True) for p in parts)


def _spec(name: str, value: Any, build) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StateError(
            name, f"The {name!r} parameter of {OWNER} must be a spec string. Got {value!r} instead."
        )
    spec = value.strip()
    _field(name, check_spec, OWNER, name, spec, build)
    return spec


def _init_builder(act: str):
    return lambda s: engine.resolve_initializer(s, get_activation(act))


def _bias_builder(s: str) -> Any:
    return None if s == "auto" else get_initializer(s)


def _panel_value(vary: str, value: Any, base: dict[str, Any], model: str) -> Any:
    """One panel's value of the varied field, checked like the shared one."""
    if vary == "init":
        build = _init_builder(base["act"]) if model == "mlp" else get_initializer
        return _spec("init", value, build)
    if vary == "act":
        return _spec("act", value, get_activation)
    if vary == "scale":
        return _number("scale", value)
    return _number("lr", value, low_open=True)


def parse_state(state: Any) -> Config:
    """Check a state dict from the page and return its :class:`Config`.

    Missing keys take the defaults of the course preset; unknown keys are refused (a typo in a
    shared link should say so, not be ignored).

    Raises
    ------
    StateError
        Naming the field, the value and what is allowed.
    """
    if not isinstance(state, dict):
        raise StateError("state", f"The state must be a JSON object. Got {state!r} instead.")
    defaults = PRESETS["course"]["state"]
    known = set(defaults) | {"preset"}
    for key in state:
        if key not in known:
            raise StateError(
                key,
                f"Unknown setting {key!r}. Valid settings: {', '.join(sorted(known))}.",
            )
    s = {**defaults, **{k: v for k, v in state.items() if k != "preset"}}
    model = _field("model", check_option, OWNER, "model", s["model"], MODELS)
    dataset = _field("dataset", check_option, OWNER, "dataset", s["dataset"], DATASETS)
    n = _number("n", s["n"], integer=True)
    noise = _number("noise", s["noise"])
    dseed = _number("seed", s["dseed"], integer=True)
    hidden = _hidden(s["hidden"])
    act = _spec("act", s["act"], get_activation)
    init_build = _init_builder(act) if model == "mlp" else get_initializer
    init = _spec("init", s["init"], init_build)
    scale = _number("scale", s["scale"])
    bias = _spec("bias", s["bias"], _bias_builder)
    lr = _number("lr", s["lr"], low_open=True)
    solver = _field("solver", check_option, OWNER, "solver", s["solver"], engine.SOLVERS)
    batch_value = s["batch"]
    batch = None if batch_value in ("", None) else _number("batch", batch_value, integer=True)
    batch = None if not batch or batch >= n else batch
    seed = _number("seed", s["seed"], integer=True)
    steps = _number("steps", s["steps"], integer=True)
    target = _number("target", s["target"], integer=True)
    vary = _field("vary", check_option, OWNER, "vary", s["vary"], VARY)
    if model == "perceptron":
        if vary in ("act", "scale"):
            raise StateError(
                "vary",
                f"The 'vary' parameter of {OWNER} must be 'init' or 'lr' for the perceptron (it "
                f"has no hidden activation and its start is its init spec). Got {vary!r} "
                "instead.",
            )
        if scale != 1:
            raise StateError(
                "scale",
                f"The 'scale' parameter of {OWNER} must be 1 for the perceptron: give its start "
                f"as an init spec such as 'normal(std=0.05)'. Got {scale!r} instead.",
            )
        if target > PERCEPTRON_EPOCHS:
            raise StateError(
                "target",
                f"The 'target' parameter of {OWNER} must be an int in [1, {PERCEPTRON_EPOCHS}] for "
                f"the perceptron (epochs). Got {target!r} instead.",
            )
    if dataset == "iris2":  # fixed rows: the book's 100 flowers
        n = 100
    values = s["values"]
    if isinstance(values, str):
        values = [v for v in values.split("|")]
    lo, hi = LIMITS["panels"]
    if not isinstance(values, list | tuple) or not lo <= len(values) <= hi:
        count = len(values) if isinstance(values, list | tuple) else values
        raise StateError(
            "values",
            f"The 'values' parameter of {OWNER} must give {lo} to {hi} panels (one value of "
            f"{VARY_LABELS[vary]} each). Got {count!r} instead.",
        )
    base = {"act": act, "init": init, "scale": scale, "bias": bias, "lr": lr}
    panels = []
    for i, value in enumerate(values):
        try:
            v = _panel_value(vary, value, base, model)
        except StateError as exc:
            raise StateError(f"values.{i}", f"Panel {i + 1}: {exc}") from None
        if vary == "act":
            # The init must suit every activation it is paired with ("auto", sklearn_mlp).
            try:
                _spec("init", init, _init_builder(v))
            except StateError as exc:
                raise StateError(f"values.{i}", f"Panel {i + 1}: {exc}") from None
        label = f"{VARY_LABELS[vary]} = {f'{v:g}' if isinstance(v, float) else v}"
        panels.append(PanelConfig(label=label, **{**base, vary: v}))
    normalized = {
        "model": model,
        "dataset": dataset,
        "n": n,
        "noise": noise,
        "dseed": dseed,
        "hidden": ",".join(map(str, hidden)),
        "act": act,
        "init": init,
        "scale": scale,
        "bias": bias,
        "lr": lr,
        "solver": solver,
        "batch": batch or "",
        "seed": seed,
        "vary": vary,
        "values": [getattr(p, vary) for p in panels],
        "steps": steps,
        "target": target,
    }
    return Config(
        model=model,
        dataset=dataset,
        n=n,
        noise=noise,
        dseed=dseed,
        hidden=hidden,
        solver=solver,
        batch=batch,
        seed=seed,
        vary=vary,
        steps=steps,
        target=target,
        panels=tuple(panels),
        state=normalized,
    )


def _preset(label: str, question: str, **state: Any) -> dict[str, Any]:
    return {"label": label, "question": question, "state": state}


# The course's network and data come from the study that reproduces it (one place for them).
def _course_state() -> dict[str, Any]:
    from ..studies.dls_initialization import COURSE, PUBLISHED

    return {
        "model": "mlp",
        "dataset": "circles",
        "n": 300,
        "noise": 0.05,
        "dseed": 1,
        "hidden": ",".join(map(str, COURSE["hidden_layer_sizes"])),
        "act": COURSE["activation"],
        "init": "he_normal",
        "scale": 1.0,
        "bias": "zeros",
        "lr": COURSE["learning_rate"],
        "solver": "gd",
        "batch": "",
        "seed": 3,
        "vary": "init",
        "values": list(PUBLISHED),
        "steps": 10,
        "target": COURSE["max_iter"],
    }


def _presets() -> dict[str, dict[str, Any]]:
    from ..studies.perceptron_eta import BOOK_SEED, START

    course = _course_state()
    perceptron = {
        **course,
        "model": "perceptron",
        "dataset": "iris2",
        "n": 100,
        "hidden": "",
        "init": "zeros",
        "lr": 0.1,
        "vary": "lr",
        "values": [0.01, 0.1, 1.0, 10.0],
        "seed": BOOK_SEED,
        "steps": 1,
        "target": 10,
    }
    return {
        "course": _preset(
            "Course: zeros, randn × 10, He",
            "Why does the same network learn the circles from one start and not from another?",
            **course,
        ),
        "perceptron-zero": _preset(
            "Perceptron from zero, four learning rates",
            "Started at zero, is the perceptron's learning rate only a scale on its weights?",
            **perceptron,
        ),
        "perceptron-random": _preset(
            "Perceptron from a small random start",
            "From a small random start, which learning rates change what the perceptron predicts?",
            **{**perceptron, "init": START, "values": [0.0001, 0.001, 0.1, 10.0]},
        ),
        "deep": _preset(
            "Deep ReLU network: the signal through depth",
            "Which start keeps the scale of the signal through six layers, and does mean-field "
            "theory predict it?",
            **{
                **course,
                "hidden": "32,32,32,32,32,32",
                "bias": "auto",
                "values": ["he_normal", "glorot_normal", "torch_linear"],
                "target": 3000,
            },
        ),
        "symmetry": _preset(
            "Symmetry: a constant start against a tiny random one",
            "If every weight starts equal, can gradient descent ever make the units differ?",
            **{
                **course,
                "values": ["constant(value=0.5)", "normal(std=0.01)", "he_normal"],
                "target": 5000,
            },
        ),
        "scale": _preset(
            "He start, scaled by 0.1, 1 and 10",
            "How much of a start's effect is its scale alone?",
            **{**course, "vary": "scale", "values": [0.1, 1.0, 10.0]},
        ),
    }


PRESETS = _presets()


def preset_config(name: str) -> Config:
    """The checked config of a preset."""
    return parse_state(PRESETS[name]["state"])
