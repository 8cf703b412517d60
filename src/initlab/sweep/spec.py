"""Sweep specs: a grid of configurations from a TOML file or a dict, checked before anything runs.

A spec has a ``[grid]`` table (every list is an axis, a scalar is fixed), a ``[record]`` table
(what to measure) and optionally a top-level ``name`` and ``seed`` (the sweep seed)::

    seed = 0
    [grid]
    dataset = "circles"
    dataset_args = { n_samples = 300, noise = 0.05, random_state = 1 }
    hidden = [[10, 5]]
    activation = ["relu", "tanh", "sigmoid"]
    init = ["zeros", "normal(std=10)", "he_normal"]
    learning_rate = 0.01
    iterations = 15000
    seed = { start = 0, stop = 20 }
    [record]
    target_accuracy = 0.9
    curve_every = 100

Expansion is the Cartesian product of the grid keys in the order of :data:`GRID_KEYS`, each
axis's values in the order given, the last key (``seed``) varying fastest.

Each configuration is normalized (every key present, defaults filled, specs rewritten in their
canonical form, integers that stand for floats made floats) and hashed: its ``key`` is the first
16 hex digits of the sha256 of its canonical JSON with the ``[record]`` table (what is stored
depends on both), and its ``seed`` is drawn from the sweep seed and the configuration alone, so a
configuration's key and seed never depend on the other configurations. Expansion is lazy: the
number of configurations is the product of the axes' lengths, known before any is built, and a
seed range stays a ``range``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import itertools
import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from .. import engine
from .._resources import check_memory
from .._spec import format_spec, parse_spec
from .._validation import check_dtype, check_input_file, check_number, check_option, check_seed
from ..activations import ACTIVATIONS, get_activation
from ..datasets import DATASETS, load_dataset
from ..initializers import INITIALIZERS, get_initializer
from ..models import MLPClassifier

__all__ = [
    "GRID_KEYS",
    "GROUP_KEYS",
    "METRICS",
    "Config",
    "Record",
    "SweepSpec",
    "load_spec",
]

GRID_KEYS = (
    "dataset",
    "dataset_args",
    "test",
    "hidden",
    "activation",
    "init",
    "bias_init",
    "solver",
    "learning_rate",
    "batch_size",
    "iterations",
    "momentum",
    "dtype",
    "seed",
)
"""Grid keys, in expansion order (the last varies fastest)."""

GROUP_KEYS = tuple(k for k in GRID_KEYS if k not in ("init", "bias_init", "seed"))
"""Keys shared by the configurations of one group (one engine stack): all but the starts."""

METRICS = (
    "final_loss",
    "best_loss",
    "train_accuracy",
    "test_accuracy",
    "iterations_to_target",
    "diverged",
    "effective_width",
    "curve",
)
"""Metrics a sweep can record, in their canonical order."""

SPEC_KEYS = ("name", "seed", "grid", "record")
RECORD_KEYS = ("target_accuracy", "curve_every", "metrics")

_GRID = "the sweep grid"
_RECORD = "the sweep record"
_SPEC = "the sweep spec"

# Defaults a user expects: those of MLPClassifier, read from its signature so they cannot drift.
_MLP = {k: p.default for k, p in inspect.signature(MLPClassifier).parameters.items()}
_DEFAULTS: dict[str, Any] = {
    "dataset_args": {},
    "test": None,
    "hidden": [list(_MLP["hidden_layer_sizes"])],
    "activation": _MLP["activation"],
    "init": _MLP["init"],
    "bias_init": _MLP["bias_init"],
    "solver": _MLP["solver"],
    "learning_rate": _MLP["learning_rate"],
    "batch_size": _MLP["batch_size"],
    "iterations": _MLP["max_iter"],
    "momentum": _MLP["momentum"],
    "dtype": _MLP["dtype"],
    "seed": 0,
}


def _fail(owner: str, name: str, allowed: str, value: Any) -> ValueError:
    return ValueError(
        f"The {name!r} parameter of {owner} must be {allowed}. Got {value!r} instead."
    )


def _check_keys(owner: str, table: Any, allowed: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise ValueError(
            f"The {what!r} table of {_SPEC} must be a table (dict). Got {table!r} instead."
        )
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise ValueError(
            f"Unknown key {unknown[0]!r} in {owner}. Allowed keys: {', '.join(allowed)}."
        )
    return dict(table)


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _hash(value: Any) -> str:
    return hashlib.sha256(_canonical_json(value).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Normalizing one value of each key
# --------------------------------------------------------------------------------------------


def _float_params(factory: Any) -> set[str]:
    """Parameters of a factory that are floats (so that ``std=10`` and ``std=10.0`` agree)."""
    out = set()
    for p in inspect.signature(factory).parameters.values():
        d = p.default
        if p.annotation in ("float", float) or (isinstance(d, float) and not isinstance(d, bool)):
            out.add(p.name)
    return out


def _normalize_spec(spec: str, registry: Any, build: Any) -> str:
    """The canonical spec: built, its ``.spec`` read, integer floats made floats, built again."""
    spec = build(spec).spec
    name, kwargs = parse_spec(spec, what=registry.what)
    floats = _float_params(registry.entry(name).factory)
    changed = {
        k: float(v) if k in floats and isinstance(v, int) and not isinstance(v, bool) else v
        for k, v in kwargs.items()
    }
    return build(format_spec(name, changed)).spec


def _spec_value(key: str, value: Any, registry: Any, build: Any, auto: bool) -> str:
    if auto and value == "auto":
        return "auto"
    if not isinstance(value, str):
        raise _fail(_GRID, key, "a spec string such as 'he_normal' or 'normal(std=10)'", value)
    try:
        return _normalize_spec(value, registry, build)
    except ValueError as exc:
        raise ValueError(f"The {key!r} parameter of {_GRID} is invalid: {exc}") from None


def _loader_args(key: str, dataset: str, args: Any) -> dict[str, Any]:
    """A dataset's arguments with the loader's defaults filled in (``random_state`` 0, not None,
    so that a sweep's data is the same on every run)."""
    if not isinstance(args, Mapping):
        raise _fail(_GRID, key, "a table of the loader's arguments", args)
    params = inspect.signature(DATASETS[dataset]).parameters
    unknown = [k for k in args if k not in params]
    if unknown:
        raise ValueError(
            f"The {key!r} parameter of {_GRID} has an unknown argument {unknown[0]!r} for dataset "
            f"{dataset!r}. Allowed arguments: {', '.join(params) or 'none'}."
        )
    out: dict[str, Any] = {}
    for name, p in params.items():
        v = args.get(name, p.default)
        if name == "random_state":
            v = 0 if v is None else check_seed(_GRID, f"{key}.random_state", v)
        elif isinstance(p.default, float) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        out[name] = v
    try:
        load_dataset(dataset, **out)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"The {key!r} parameter of {_GRID} is invalid: {exc}") from None
    return out


def _hidden(value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple):
        raise _fail(
            _GRID, "hidden", "a list of layer sizes (ints >= 1) or a list of such lists", value
        )
    for n in value:
        check_number(_GRID, "hidden", n, integer=True, low=1)
    return [int(n) for n in value]


def _scalar(key: str, value: Any) -> Any:
    """Check and normalize one value of a key whose normal form does not depend on other keys."""
    if key == "dataset":
        return check_option(_GRID, "dataset", value, tuple(DATASETS))
    if key == "activation":
        return _spec_value(key, value, ACTIVATIONS, get_activation, auto=False)
    if key in ("init", "bias_init"):
        return _spec_value(key, value, INITIALIZERS, get_initializer, auto=True)
    if key == "solver":
        return check_option(_GRID, "solver", value, engine.SOLVERS)
    if key == "learning_rate":
        return float(check_number(_GRID, key, value, low=0, low_open=True))
    if key == "batch_size":
        # TOML has no null: "full" and 0 mean full batch, as does None in a dict.
        if value is None or value == "full" or (value == 0 and not isinstance(value, bool)):
            return None
        if isinstance(value, str):
            raise _fail(_GRID, key, "an int >= 1, or 'full' / 0 / None for full batch", value)
        return int(check_number(_GRID, key, value, integer=True, low=1))
    if key == "iterations":
        return int(check_number(_GRID, key, value, integer=True, low=1))
    if key == "momentum":
        return float(check_number(_GRID, key, value, low=0, high=1, high_open=True))
    if key == "dtype":
        return check_dtype(_GRID, value).name
    if key == "seed":
        return int(check_number(_GRID, key, value, integer=True, low=0))
    return value  # dataset_args, test, hidden: normalized where the dataset is known


def _axis(key: str, value: Any) -> tuple[list[Any], bool]:
    """The values of one grid key and whether it was written as an axis (a list or a range)."""
    if key == "hidden":
        if (
            isinstance(value, list | tuple)
            and value
            and all(isinstance(v, list | tuple) for v in value)
        ):
            return [_hidden(v) for v in value], True
        if isinstance(value, list | tuple) and not value:
            raise _fail(_GRID, key, "a non-empty list of layer-size lists", value)
        return [_hidden(value)], False
    if key in ("dataset_args", "test"):
        if isinstance(value, list | tuple):
            if not value:
                raise _fail(_GRID, key, "a table or a non-empty list of tables", value)
            return list(value), True
        return [value], False
    if key == "seed" and isinstance(value, Mapping):
        return _seed_range(value), True  # type: ignore[return-value]
    if isinstance(value, list | tuple):
        if not value:
            raise _fail(_GRID, key, "a value or a non-empty list of values", value)
        return [_scalar(key, v) for v in value], True
    return [_scalar(key, value)], False


def _seed_range(value: Mapping[str, Any]) -> range:
    """A range of seeds, kept lazy: its length is known without listing it."""
    unknown = [k for k in value if k not in ("start", "stop", "step")]
    if unknown or "stop" not in value:
        raise _fail(
            _GRID, "seed", "an int, a list of ints or a range {start, stop[, step]}", dict(value)
        )
    start = check_number(_GRID, "seed.start", value.get("start", 0), integer=True, low=0)
    stop = check_number(_GRID, "seed.stop", value["stop"], integer=True)
    step = check_number(_GRID, "seed.step", value.get("step", 1), integer=True, low=1)
    seeds = range(start, stop, step)
    if not seeds:
        raise _fail(_GRID, "seed", "a non-empty range (start < stop)", dict(value))
    return seeds


# --------------------------------------------------------------------------------------------
# Public objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Config:
    """One configuration of a sweep.

    Attributes
    ----------
    key : str
        16 hex digits: the sha256 of :attr:`json` and the sweep's :class:`Record`, everything
        that changes the stored result. Equal for equal normalized configs recorded alike,
        whatever grid they came from and however their specs were written.
    seed : int
        The configuration's own seed in [0, 2**63) (fits an SQLite INTEGER), from
        ``SeedSequence([sweep_seed, h])`` where ``h`` is the hash of :attr:`json` alone (so what
        is recorded never changes the start): draw its start and batches from it.
    group : str
        16 hex digits identifying what can share one engine stack (:data:`GROUP_KEYS`).
    json : str
        The canonical JSON of the normalized config (sorted keys, no spaces).
    """

    key: str
    seed: int
    group: str
    json: str = field(repr=False)

    @property
    def config(self) -> dict[str, Any]:
        """The normalized config: every key of :data:`GRID_KEYS` and ``sweep_seed`` (a new dict
        on each call)."""
        return json.loads(self.json)

    def __getitem__(self, name: str) -> Any:
        return self.config[name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and (other.key, other.seed) == (self.key, self.seed)

    def __hash__(self) -> int:
        return hash((self.key, self.seed))

    def __repr__(self) -> str:
        c = self.config
        shown = ", ".join(
            f"{k!r}: {c[k]!r}" for k in ("dataset", "hidden", "activation", "init", "seed")
        )
        return f"Config(key={self.key!r}, seed={self.seed}, {{{shown}, ...}})"


@dataclass(frozen=True)
class Record:
    """What a sweep records for each configuration.

    Attributes
    ----------
    target_accuracy : float in (0, 1]
        ``iterations_to_target`` is the first iteration whose train accuracy reaches it.
    curve_every : int >= 1
        The loss curve keeps every ``curve_every``-th iteration.
    metrics : tuple of str
        A subset of :data:`METRICS`, in that order.
    """

    target_accuracy: float = 0.9
    curve_every: int = 100
    metrics: tuple[str, ...] = METRICS


def _record(table: Any) -> Record:
    table = _check_keys(_RECORD, {} if table is None else table, RECORD_KEYS, "record")
    target = float(
        check_number(
            _RECORD,
            "target_accuracy",
            table.get("target_accuracy", 0.9),
            low=0,
            high=1,
            low_open=True,
        )
    )
    every = int(
        check_number(_RECORD, "curve_every", table.get("curve_every", 100), integer=True, low=1)
    )
    metrics = table.get("metrics", list(METRICS))
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, list | tuple) or not metrics:
        raise _fail(_RECORD, "metrics", f"a non-empty list of {', '.join(METRICS)}", metrics)
    for m in metrics:
        check_option(_RECORD, "metrics", m, METRICS)
    return Record(target, every, tuple(m for m in METRICS if m in metrics))


@dataclass(frozen=True)
class SweepSpec:
    """A checked sweep: its grid, the configurations it expands to and what to record.

    Build it with :func:`load_spec`.

    Attributes
    ----------
    name : str
    seed : int
        The sweep seed; each configuration's seed comes from it and the configuration's key.
    grid : dict
        Every key of :data:`GRID_KEYS` with the tuple of its values as written (normalized;
        ``dataset_args`` and ``test`` as given, before the loader's defaults are filled in).
    axes : dict
        The keys written as lists or ranges (axes, even of length 1), with their values, in
        :data:`GRID_KEYS` order.
    record : Record
    """

    name: str
    seed: int
    grid: dict[str, tuple[Any, ...]]
    axes: dict[str, tuple[Any, ...]]
    record: Record

    @cached_property
    def _configs(self) -> tuple[Config, ...]:
        loaded: dict[tuple[str, str, str], Any] = {}

        def args(key: str, dataset: str, value: Any) -> Any:
            if value is None:
                return None
            k = (key, dataset, _canonical_json(value))
            if k not in loaded:
                loaded[k] = _loader_args(key, dataset, value)
            return loaded[k]

        out = []
        record = dataclasses.asdict(self.record)
        for values in itertools.product(*(self.grid[k] for k in GRID_KEYS)):
            c = dict(zip(GRID_KEYS, values, strict=True))
            c["dataset_args"] = args("dataset_args", c["dataset"], c["dataset_args"])
            c["test"] = args("test", c["dataset"], c["test"])
            # The sweep seed decides the start as much as any grid key does, so it is hashed too:
            # a store keyed by ``key`` never mixes two sweeps that differ only in their seed.
            c["sweep_seed"] = self.seed
            # The start and the batches depend on the configuration alone; the stored result
            # depends on what is recorded too, so the key covers the [record] table as well.
            trained = _hash(c)
            key = _hash({"config": c, "record": record})
            state = np.random.SeedSequence([self.seed, int(trained, 16)]).generate_state(
                1, np.uint64
            )
            group = _hash({k: c[k] for k in GROUP_KEYS})
            out.append(Config(key, int(state[0] >> np.uint64(1)), group, _canonical_json(c)))
        return tuple(out)

    def configs(self) -> list[Config]:
        """Every configuration, in expansion order (:data:`GRID_KEYS`, the last fastest)."""
        return list(self._configs)

    def groups(self) -> dict[str, list[Config]]:
        """Configurations by group key (those that can train as one stack), in first-seen order."""
        out: dict[str, list[Config]] = {}
        for c in self._configs:
            out.setdefault(c.group, []).append(c)
        return out

    def __len__(self) -> int:
        # The product of the axes' lengths: known without expanding the grid.
        return math.prod(len(v) for v in self.grid.values())

    @cached_property
    def id(self) -> str:
        """16 hex digits identifying the sweep by its content (seed, grid, record), not its name:
        two spec files with the same name and different grids are two sweeps; the same grid
        saved under two names is one."""
        return _hash(
            {
                "seed": self.seed,
                "grid": {k: list(v) for k, v in self.grid.items()},
                "record": dataclasses.asdict(self.record),
            }
        )

    def __repr__(self) -> str:
        axes = ", ".join(f"{k}: {len(v)}" for k, v in self.axes.items())
        return (
            f"SweepSpec(name={self.name!r}, seed={self.seed}, axes={{{axes}}}, configs={len(self)})"
        )


def load_spec(source: str | os.PathLike[str] | Mapping[str, Any]) -> SweepSpec:
    """Read and check a sweep spec.

    Parameters
    ----------
    source : path or dict
        A TOML file (a ``str`` is always a path) or a dict of the same shape:
        ``{"name": ..., "seed": ..., "grid": {...}, "record": {...}}``.

    Returns
    -------
    SweepSpec

    Raises
    ------
    ValueError
        For an unknown key (naming it and the allowed keys), a bad value (naming the key, the
        value and what is allowed), an empty list or range, a grid without ``dataset``, a value
        listed twice in one axis (after normalization: ``he_normal`` and ``kaiming_normal``), or
        an ``init`` that does not resolve for an ``activation``.

    Notes
    -----
    Grid keys and defaults (those of :class:`initlab.MLPClassifier`): ``dataset`` (required, a
    name of ``initlab.datasets.DATASETS``), ``dataset_args`` ({}: the loader's arguments; its
    defaults are filled in, ``random_state`` 0), ``test`` (none: loader arguments for a held-out
    set of the same dataset), ``hidden`` ([[10, 5]]; a list of ints is one architecture),
    ``activation`` ("relu"), ``init`` ("auto"), ``bias_init`` ("auto"), ``solver`` ("gd"),
    ``learning_rate`` (0.01), ``batch_size`` (full batch: write "full" or 0 in TOML),
    ``iterations`` (15000), ``momentum`` (0.9, used by ``sgd``), ``dtype`` ("float64"),
    ``seed`` (0; an int, a list or ``{start, stop[, step]}``).

    Examples
    --------
    >>> spec = load_spec({"grid": {"dataset": "circles", "activation": ["relu", "tanh"],
    ...                            "seed": {"start": 0, "stop": 3}}})
    >>> len(spec), list(spec.axes)
    (6, ['activation', 'seed'])
    >>> spec.configs()[0]["init"], spec.configs()[0]["batch_size"]
    ('auto', None)
    """
    name = "sweep"
    if isinstance(source, str | os.PathLike):
        path = os.fspath(check_input_file("load_spec", "source", source))
        check_memory(20 * os.path.getsize(path), f"Reading the sweep spec {path!r}")
        with open(path, "rb") as f:
            data = f.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is None or "\x00" in text:
            raise ValueError(f"The sweep spec {path!r} is not a TOML file: it holds binary data.")
        try:
            source = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"The sweep spec {path!r} is not valid TOML: {exc}") from None
        name = os.path.splitext(os.path.basename(path))[0]
    top = _check_keys(_SPEC, source, SPEC_KEYS, "spec")
    name = top.get("name", name)
    if not isinstance(name, str) or not name:
        raise _fail(_SPEC, "name", "a non-empty string", name)
    seed = int(check_number(_SPEC, "seed", top.get("seed", 0), integer=True, low=0))
    raw = _check_keys(_GRID, top.get("grid", {}), GRID_KEYS, "grid")
    if "dataset" not in raw:
        raise ValueError(
            f"The 'dataset' key of {_GRID} is required (one of {', '.join(DATASETS)}). "
            f"Got {'an empty grid' if not raw else 'keys ' + ', '.join(raw)} instead. "
            f"Allowed keys: {', '.join(GRID_KEYS)}."
        )
    grid: dict[str, tuple[Any, ...]] = {}
    axes: dict[str, tuple[Any, ...]] = {}
    for key in GRID_KEYS:
        values, is_axis = _axis(key, raw.get(key, _DEFAULTS.get(key)))
        if isinstance(values, range):  # distinct by construction, and maybe huge: kept lazy
            grid[key] = values  # type: ignore[assignment]
            axes[key] = values  # type: ignore[assignment]
            continue
        seen: dict[str, Any] = {}
        for v in values:
            j = _canonical_json(v)
            if j in seen:
                raise ValueError(
                    f"The {key!r} axis of {_GRID} lists {v!r} twice (after normalization). "
                    f"Got {raw[key]!r} instead."
                )
            seen[j] = v
        grid[key] = tuple(values)
        if is_axis and key in raw:  # a default is fixed, never an axis
            axes[key] = tuple(values)
    # Check every dataset x arguments pair and every init x activation pair before running.
    for dataset in grid["dataset"]:
        for key in ("dataset_args", "test"):
            for v in grid[key]:
                if v is not None:
                    _loader_args(key, dataset, v)
        for v in grid["test"]:
            if v is not None:
                for a in grid["dataset_args"]:
                    if _loader_args("test", dataset, v) == _loader_args("dataset_args", dataset, a):
                        raise ValueError(
                            f"The 'test' parameter of {_GRID} must differ from 'dataset_args' "
                            f"(give it another random_state). Got {v!r} for {dataset!r} instead."
                        )
    for act in grid["activation"]:
        for init in grid["init"]:
            try:
                engine.resolve_initializer(init, act)
            except ValueError as exc:
                raise ValueError(f"The 'init' parameter of {_GRID} is invalid: {exc}") from None
    record = _record(top.get("record"))
    if "test_accuracy" in top.get("record", {}).get("metrics", ()) and grid["test"] == (None,):
        raise ValueError(
            f"The 'metrics' parameter of {_RECORD} lists 'test_accuracy', but {_GRID} has no "
            "'test' set. Add test = {...} to the grid or drop the metric."
        )
    return SweepSpec(name, seed, grid, axes, record)
