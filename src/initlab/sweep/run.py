"""Running a sweep: chunks of configurations trained as one engine stack, stored as they finish.

:func:`run_chunk` is the unit of work, for local and Dask execution alike: a pure top-level
function of picklable arguments. :func:`sweep` expands a spec, skips what the store already holds,
runs the rest chunk by chunk and commits each chunk as it finishes.

Independence of the stack
-------------------------
Network k of a chunk is drawn from ``default_rng(config.seed)`` and shuffles its mini-batches
with its own generator (``SeedSequence(config.seed, spawn_key=(1,))``), so its start and its
batches do not depend on its neighbours. Networks whose start has equal hidden units train in a
sub-stack with exact products (``products="exact"``), the others with BLAS products, which is the
choice ``engine.train(products="auto")`` makes for the network alone. The engine's batched
``matmul`` multiplies each network's matrices on their own and every reduction is per network,
so a configuration's numbers equal those of the configuration run alone (K = 1) up to
floating-point reassociation inside the BLAS kernels (relative 1e-12 on losses, tested) and are
bit for bit the same when rerun the same way.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .. import engine
from .._resources import check_disk, check_sweep
from ..activations import get_activation
from ..datasets import load_dataset
from ..diagnostics.symmetry import symmetry_groups
from .spec import METRICS, Config, Record, SweepSpec, load_spec
from .store import _ACTIVE, Store, StoreError, new_owner

__all__ = ["DEFAULT_CHUNK_SIZE", "MEMORY_BUDGET", "chunk_size_for", "run_chunk", "sweep"]

DEFAULT_CHUNK_SIZE = 256
"""Networks per chunk at most (fewer when their snapshots and activations would not fit)."""

WAIT_FOR_OTHERS = 0.5
"""Seconds between looks at the store while another process runs the configurations left."""

MEMORY_BUDGET = 256 * 2**20
"""Bytes a chunk may use for its parameters, snapshots and activations (an estimate)."""


def _data(config: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs (feature-major), encoded targets and labels, as MLPClassifier encodes them."""
    dtype = np.dtype(config["dtype"])
    X, y = load_dataset(config["dataset"], **config["dataset_args"])
    classes, y_idx = np.unique(y, return_inverse=True)
    if len(classes) == 2:
        Y = y_idx[None, :].astype(dtype)
        output, loss = "sigmoid", "binary_cross_entropy"
    else:
        Y = np.zeros((len(classes), len(y_idx)), dtype=dtype)
        Y[y_idx, np.arange(len(y_idx))] = 1
        output, loss = "softmax", "cross_entropy"
    out = {
        "A0": np.ascontiguousarray(X.T, dtype=dtype),
        "Y": Y,
        "labels": y_idx,
        "output": output,
        "loss": loss,
        "classes": classes,
        "n_features": X.shape[1],
    }
    if config["test"] is not None:
        Xt, yt = load_dataset(config["dataset"], **config["test"])
        out["X_test"] = Xt.astype(dtype)
        # Labels absent from the training set can never be predicted: index -1 counts as wrong.
        idx = np.searchsorted(classes, yt).clip(0, len(classes) - 1)
        out["labels_test"] = np.where(classes[idx] == yt, idx, -1)
    return out


def _accuracy(params: engine.Params, X: np.ndarray, labels: np.ndarray, act: str, output: str):
    """Accuracy per network (K,), predicting as MLPClassifier.predict does."""
    p = engine.predict_output(params, X, act, output)  # (K, c, m)
    pred = (p[:, 0, :] > 0.5).astype(np.int64) if p.shape[1] == 1 else np.argmax(p, axis=1)
    return (pred == labels[None, :]).mean(axis=1)


def _start(config: Mapping[str, Any], c: Config, sizes: list[int], A0: np.ndarray):
    """One network's start (K = 1), drawn from the configuration's own seed."""
    act = config["activation"]
    params = engine.init_params(
        sizes,
        config["init"],
        config["bias_init"],
        activation=act,
        random_state=[np.random.default_rng(c.seed)],
        dtype=config["dtype"],
    )
    n_layers = len(sizes) - 1
    inits = [
        engine.resolve_initializer(s, act)
        for s in engine._per_layer(config["init"], n_layers, "init")
    ]
    lsuv = [i for i in inits if i.data_dependent]
    if lsuv:  # as MLPClassifier does: rescale on the first batch
        batch = A0 if config["batch_size"] is None else A0[:, : config["batch_size"]]
        engine.lsuv(
            params, batch, act, tol=lsuv[0].params["tol"], max_iter=lsuv[0].params["max_iter"]
        )
    return params


def _stack(parts: list[engine.Params]) -> engine.Params:
    return engine.Params(
        [np.concatenate(ws) for ws in zip(*(p.weights for p in parts))],
        [np.concatenate(bs) for bs in zip(*(p.biases for p in parts))],
    )


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _versions(kernel: bool) -> dict[str, str]:
    from .. import __version__

    versions = {"initlab": __version__, "numpy": np.__version__, "backend": "numpy"}
    if kernel:
        import numba

        versions["backend"] = f"numba {numba.__version__}"
    return versions


def run_chunk(configs: list[Config], record: Record, backend: str = "auto") -> list[dict[str, Any]]:
    """Train the configurations of one group as one stack and measure each.

    Parameters
    ----------
    configs : list of Config
        Configurations of one group (same data, architecture and schedule; their ``init``,
        ``bias_init`` and ``seed`` may differ).
    record : Record
        What to measure: ``target_accuracy`` and ``curve_every``.
    backend : {"auto", "numba", "numpy"}
        The engine's backend (:func:`initlab.engine.train`): ``"auto"`` trains small networks
        with the compiled kernel.

    Returns
    -------
    list of dict
        One result per configuration, in order: ``key``, ``group``, ``config``, ``status``
        ("done" or "diverged"), ``final_loss``, ``best_loss``, ``train_accuracy``,
        ``test_accuracy`` (None without a test set), ``iterations_to_target`` (the first
        checkpoint, a multiple of ``curve_every`` or the last iteration, whose train accuracy
        reaches the target; None if none does), ``diverged``, ``diverged_at`` (None if not),
        ``effective_width`` (groups of equal units per hidden layer at the end), ``curve`` (the
        loss at iterations 0, curve_every, ...; None where not finite), ``seconds`` (the chunk's
        time shared equally), ``versions``. Metrics that ``record.metrics`` leaves out are
        None (``diverged``, ``diverged_at`` and ``status`` are always given).

    Notes
    -----
    Checkpoint ``t`` holds the parameters after ``t`` iterations (the engine's snapshot before
    iteration ``t``). A diverged network keeps its last finite parameters; its checkpoints after
    it diverged are not counted, so it reaches the target at the same iteration alone or in a
    stack. Non-finite losses are stored as None.
    """
    if not configs:
        return []
    t0 = time.perf_counter()
    groups = {c.group for c in configs}
    if len(groups) != 1:
        raise ValueError(
            f"The 'configs' parameter of run_chunk must share one group. Got {len(groups)} groups."
        )
    cfgs = [c.config for c in configs]
    first = cfgs[0]
    data = _data(first)
    act = first["activation"]
    sizes = [data["n_features"], *first["hidden"], data["Y"].shape[0]]
    n_iter = first["iterations"]
    every = record.curve_every
    starts = [_start(cfg, c, sizes, data["A0"]) for cfg, c in zip(cfgs, configs)]
    kernel = engine._use_kernel(backend, tuple(sizes), get_activation(act))
    # The kernel keeps equal units equal by itself; NumPy needs exact products for them.
    exact = np.array([not kernel and engine.has_equal_units(p) for p in starts])

    K = len(configs)
    losses = np.full((n_iter, K), np.nan)
    diverged_at = np.full(K, -1)
    checkpoints = list(range(0, n_iter, every))
    acc_curve = np.full((len(checkpoints) + 1, K), np.nan)
    final: list[Any] = [None] * K  # (params K = 1, test accuracy) per configuration
    for mode in (True, False):
        idx = np.flatnonzero(exact == mode)
        if idx.size == 0:
            continue
        result = engine.train(
            _stack([starts[i] for i in idx]),
            data["A0"],
            data["Y"],
            activation=act,
            output=data["output"],
            loss=data["loss"],
            solver=first["solver"],
            learning_rate=first["learning_rate"],
            max_iter=n_iter,
            batch_size=first["batch_size"],
            shuffle=[
                np.random.default_rng(np.random.SeedSequence(configs[i].seed, spawn_key=(1,)))
                for i in idx
            ],
            momentum=first["momentum"],
            # Checkpoint accuracies need the parameters every curve_every iterations.
            snapshot_every=every if "iterations_to_target" in record.metrics else None,
            products="exact" if mode else "blas",
            backend="numba" if kernel else "numpy",
        )
        losses[: result.n_iter, idx] = result.loss
        diverged_at[idx] = result.diverged_at
        X = data["A0"].T
        for j, snap in enumerate(result.snapshots):
            p = engine.Params(snap["weights"], snap["biases"])
            acc_curve[j, idx] = _accuracy(p, X, data["labels"], act, data["output"])
        acc_curve[-1, idx] = _accuracy(result.params, X, data["labels"], act, data["output"])
        test = None
        if "X_test" in data:
            test = _accuracy(
                result.params, data["X_test"], data["labels_test"], act, data["output"]
            )
        for j, i in enumerate(idx):
            final[i] = (result.params.select(j), test[j] if test is not None else None)

    seconds = (time.perf_counter() - t0) / K
    versions = _versions(kernel)
    out = []
    for i, (c, cfg) in enumerate(zip(configs, cfgs)):
        params, test_acc = final[i]
        d = int(diverged_at[i])
        curve = losses[:, i]
        finite = curve[np.isfinite(curve)]
        # Checkpoints that count: those up to divergence, and the end only if never diverged.
        points = [(t, acc_curve[j, i]) for j, t in enumerate(checkpoints) if d < 0 or t <= d]
        if d < 0:
            points.append((n_iter, acc_curve[-1, i]))
        # A network whose very start had a non-finite loss (diverged at 0) has no finite model
        # to measure: its accuracies are None, not those of NaN outputs.
        start_failed = d == 0
        reached = [t for t, a in points if a >= record.target_accuracy and not start_failed]
        width = None
        if "effective_width" in record.metrics:
            width = [
                len(
                    symmetry_groups(
                        params.weights[l][0], params.biases[l][0], params.weights[l + 1][0]
                    )
                )
                for l in range(len(sizes) - 2)
            ]
        out.append(
            {
                "key": c.key,
                "group": c.group,
                "config": cfg,
                "status": "diverged" if d >= 0 else "done",
                "final_loss": _finite(curve[-1]),
                "best_loss": float(finite.min()) if finite.size else None,
                "train_accuracy": None if start_failed else float(acc_curve[-1, i]),
                "test_accuracy": None if test_acc is None or start_failed else float(test_acc),
                "iterations_to_target": reached[0] if reached else None,
                "diverged": d >= 0,
                "diverged_at": d if d >= 0 else None,
                "effective_width": width,
                "curve": [_finite(x) for x in curve[::every]],
                "seconds": seconds,
                "versions": versions,
            }
        )
        for m in METRICS:  # what the record leaves out is not stored
            if m not in record.metrics and m != "diverged":
                out[-1][m] = None
    return out


def chunk_size_for(config: Mapping[str, Any], record: Record, n_features: int, n_out: int) -> int:
    """Networks per chunk: :data:`DEFAULT_CHUNK_SIZE`, fewer if they would not fit
    :data:`MEMORY_BUDGET` (parameters and gradients per snapshot, activations and errors)."""
    sizes = [n_features, *config["hidden"], n_out]
    P = sum(o * (i + 1) for i, o in itertools.pairwise(sizes))
    m = int(config["dataset_args"].get("n_samples") or 2000)
    batch = m if config["batch_size"] is None else min(m, config["batch_size"])
    n_snap = -(-config["iterations"] // record.curve_every)
    itemsize = np.dtype(config["dtype"]).itemsize
    per_network = (
        itemsize * (2 * P * (n_snap + 4) + 4 * batch * sum(sizes[1:])) + 8 * config["iterations"]
    )
    return max(1, min(DEFAULT_CHUNK_SIZE, MEMORY_BUDGET // per_network))


def sweep(
    spec: SweepSpec | str | os.PathLike[str] | Mapping[str, Any],
    store: Store | str | os.PathLike[str] = "initlab-runs.sqlite",
    executor: Any = None,
    chunk_size: int | None = None,
    progress: Callable[[int, int, list[dict[str, Any]]], Any] | None = None,
    backend: str = "auto",
):
    """Run a sweep, skipping what the store already holds; return its table.

    Parameters
    ----------
    spec : SweepSpec, path to a TOML file, or dict
        Read with :func:`load_spec`.
    store : Store or path
        The SQLite store (created if missing). Each chunk is committed as it finishes, so a sweep
        killed at any point resumes where it stopped: nothing lost, nothing run twice.
    executor : None or dask.distributed.Client
        None runs the chunks in this process; a client sends them to its cluster
        (:func:`initlab.sweep.dask.run_on_dask`), and this process alone writes the store.
    chunk_size : int or None
        Networks per chunk; None picks :func:`chunk_size_for` for each group.
    progress : callable(done, total, results) or None
        Called once before running (``results`` empty) and after each chunk is stored, with the
        configurations done so far, the sweep's size and the chunk's results.
    backend : {"auto", "numba", "numpy"}
        The engine's backend for every chunk (see :func:`run_chunk`). The store records which
        one computed each row (``versions``); the two agree to rounding, not bit for bit.

    Returns
    -------
    pandas.DataFrame
        :meth:`Store.frame` for this sweep: one row per configuration.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "runs.sqlite")
    >>> df = sweep({"grid": {"dataset": "xor", "hidden": [4], "iterations": 50,
    ...                      "seed": [0, 1]}}, store=path)
    >>> len(df), sorted(set(df["status"]))
    (2, ['done'])
    """
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        raise ValueError(
            f"The 'chunk_size' parameter of sweep must be None or an int >= 1. Got {chunk_size!r} "
            "instead."
        )
    if backend not in engine.BACKENDS:
        raise ValueError(
            f"The 'backend' parameter of sweep must be one of {', '.join(engine.BACKENDS)}. Got "
            f"{backend!r} instead."
        )
    if not isinstance(store, Store):
        store = Store(store)
    # Before any work: the sweep fits in memory, the store is initlab's and can be written, and
    # what is left to store fits on its disk.
    estimate = check_sweep(spec, chunk_size)
    store.check_writable()
    keys = {c.key for c in spec.configs()}
    done = store.done_keys() & keys  # read-only: a foreign or damaged file is refused here
    share = 1 - len(done) / len(keys)
    check_disk(
        int(estimate["disk"] * share),
        os.path.dirname(os.path.abspath(store.path)),
        f"The sweep {spec.name!r} ({len(keys) - len(done):,} configurations to store)",
    )
    store.prepare()
    store.register(spec)
    total = len(spec)
    count = [len(done)]
    owner = new_owner()

    def on_result(results: list[dict[str, Any]]) -> None:
        # A chunk that ran twice (a Dask worker lost mid-chunk) is stored and counted once.
        count[0] += store.write(results, sweep=spec.id, owner=owner)
        if progress is not None:
            progress(count[0], total, results)

    if progress is not None:
        progress(count[0], total, [])
    _ACTIVE.add(owner)
    try:
        _run_shared(spec, store, owner, executor, chunk_size, backend, on_result, count, progress)
    except StoreError as exc:  # a full disk, say: what is stored stays, the rerun resumes
        raise StoreError(
            f"{exc} ({count[0]} of {total} configurations of {spec.name!r} are stored.)"
        ) from None
    finally:
        _ACTIVE.discard(owner)
        try:
            store.release(owner)
        except StoreError:  # a full disk: a dead owner's claims are taken over anyway
            pass
    from ..report import SweepTable  # still a DataFrame; a notebook shows it as initlab's HTML

    return SweepTable(store.frame(spec.id))


def _chunks(spec: SweepSpec, todo: set[str], chunk_size: int | None) -> list[list[Config]]:
    """The configurations of ``todo`` in chunks of one group each, in expansion order."""
    chunks: list[list[Config]] = []
    for members in spec.groups().values():
        group = [c for c in members if c.key in todo]
        if not group:
            continue
        size = chunk_size
        if size is None:
            data = _data(group[0].config)
            size = chunk_size_for(
                group[0].config, spec.record, data["n_features"], data["Y"].shape[0]
            )
        chunks.extend(group[s : s + size] for s in range(0, len(group), size))
    return chunks


def _run_shared(spec, store, owner, executor, chunk_size, backend, on_result, count, progress):
    """Run what the store lacks, sharing it with any other process running the same sweep.

    Each chunk's keys are claimed before it runs and released when it is stored; a key another
    live process holds is left to it, and waited for at the end (a dead process's claims are
    taken over, so a sweep killed with ``kill -9`` loses nothing and blocks no one).
    """
    keys = {c.key for c in spec.configs()}
    first = True
    while True:
        todo = keys - store.done_keys()
        if not todo:
            return
        if not first:  # what is left is claimed: take over the claims of dead sweeps, if any
            todo = set(store.claim(sorted(todo), owner))
            if not todo:
                time.sleep(WAIT_FOR_OTHERS)
                stored = len(keys & store.done_keys())
                if progress is not None and stored != count[0]:
                    count[0] = stored
                    progress(stored, len(spec), [])
                continue
        first = False
        chunks = _chunks(spec, todo, chunk_size)
        if executor is None:
            for chunk in chunks:
                mine = set(store.claim([c.key for c in chunk], owner))
                if mine:
                    on_result(run_chunk([c for c in chunk if c.key in mine], spec.record, backend))
        else:
            from .dask import ClusterError, run_on_dask

            mine = set(store.claim([c.key for ch in chunks for c in ch], owner))
            chunks = [[c for c in ch if c.key in mine] for ch in chunks]
            chunks = [ch for ch in chunks if ch]
            if chunks:
                try:
                    run_on_dask(executor, chunks, spec.record, on_result, backend=backend)
                except ClusterError as exc:
                    raise ClusterError(
                        f"{exc} ({count[0]} of {len(spec)} configurations of {spec.name!r} are "
                        "stored: run the same command again to resume.)"
                    ) from exc
