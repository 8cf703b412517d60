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
bit for bit the same when rerun the same way. Small networks train through the compiled kernel
(``backend="auto"``), where a configuration gives the same bits alone or in any chunk; its
checkpoint accuracies are measured there, in the iteration's own forward pass.
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
"""Networks per chunk at most (fewer when their activations and curves would not fit)."""

WAIT_FOR_OTHERS = 0.5
"""Seconds between looks at the store while another process runs the configurations left."""

MEMORY_BUDGET = 256 * 2**20
"""Bytes a chunk may use for its parameters, activations and curves (an estimate)."""


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


def _accuracy(params: engine.Params, X: np.ndarray, labels: np.ndarray, act, output: str):
    """Accuracy per network (K,), predicting as MLPClassifier.predict does."""
    return engine._correct_share(engine.logits(params, X, act), labels, output)


def _starts(
    configs: list[Config], cfgs: list[dict[str, Any]], sizes: list[int], A0: np.ndarray, act
) -> engine.Params:
    """The configurations' starts as one stack, network k drawn from ``default_rng(seed_k)``.

    Configurations with the same init and bias_init are drawn by one call (the specs resolved
    once, each network from its own generator): the same numbers as drawing them one by one.
    """
    first = cfgs[0]
    n_layers = len(sizes) - 1
    by_spec: dict[str, list[int]] = {}
    for i, cfg in enumerate(cfgs):
        by_spec.setdefault(repr((cfg["init"], cfg["bias_init"])), []).append(i)
    parts, order = [], []
    for idx in by_spec.values():
        cfg = cfgs[idx[0]]
        inits = [
            engine.resolve_initializer(s, act)
            for s in engine._per_layer(cfg["init"], n_layers, "init")
        ]
        params = engine.init_params(
            sizes,
            inits,
            cfg["bias_init"],
            activation=act,
            random_state=[np.random.default_rng(configs[i].seed) for i in idx],
            dtype=first["dtype"],
        )
        lsuv = [i for i in inits if i.data_dependent]
        if lsuv:  # as MLPClassifier does: rescale on the first batch (each network on its own)
            batch = A0 if first["batch_size"] is None else A0[:, : first["batch_size"]]
            engine.lsuv(
                params, batch, act, tol=lsuv[0].params["tol"], max_iter=lsuv[0].params["max_iter"]
            )
        parts.append(params)
        order.extend(idx)
    stack = _stack(parts)
    inverse = np.argsort(order)
    return stack if np.array_equal(inverse, np.arange(len(order))) else stack.select(inverse)


def _stack(parts: list[engine.Params]) -> engine.Params:
    if len(parts) == 1:
        return parts[0]
    return engine.Params(
        [np.concatenate(ws) for ws in zip(*(p.weights for p in parts))],
        [np.concatenate(bs) for bs in zip(*(p.biases for p in parts))],
    )


def _effective_widths(params: engine.Params) -> np.ndarray:
    """Groups of interchangeable units per network and hidden layer, (K, L - 1): the number of
    :func:`initlab.diagnostics.symmetry.symmetry_groups` (exact comparison), for a whole stack."""
    K, L = params.K, len(params.weights)
    out = np.empty((K, L - 1), np.int64)
    for l in range(L - 1):
        sig = engine.unit_signatures(params, l)  # (K, units, fan_in + 1 + fan_out)
        units = sig.shape[1]
        if units * units * sig.shape[2] > 2**16:  # wide: one network at a time
            out[:, l] = [len(symmetry_groups(*_layer(params, k, l))) for k in range(K)]
            continue
        equal = (sig[:, :, None, :] == sig[:, None, :, :]).all(axis=-1)
        # a unit opens a group unless an earlier unit equals it
        earlier = np.tril(equal, k=-1).any(axis=2)
        out[:, l] = units - earlier.sum(axis=1)
    return out


def _layer(params: engine.Params, k: int, l: int):
    return params.weights[l][k], params.biases[l][k], params.weights[l + 1][k]


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
        The engine's backend (:func:`initlab.engine.train`): ``"auto"`` trains with compiled
        code (the kernel for small networks).

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
    Checkpoint ``t`` holds the parameters after ``t`` iterations (the engine measures the
    accuracy before iteration ``t``). A diverged network keeps its last finite parameters; its
    checkpoints after it diverged are not counted, so it reaches the target at the same
    iteration alone or in a stack. Non-finite losses are stored as None.
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
    act = get_activation(first["activation"])
    sizes = [data["n_features"], *first["hidden"], data["Y"].shape[0]]
    n_iter = first["iterations"]
    every = record.curve_every
    starts = _starts(configs, cfgs, sizes, data["A0"], act)
    kernel = engine._use_kernel(backend, tuple(sizes), act)
    # The kernel keeps equal units equal by itself; NumPy and BLAS need exact products for them.
    if kernel or len(sizes) < 3:
        exact = np.zeros(len(configs), bool)
    else:  # a network has equal units where a layer has fewer groups than units
        exact = (_effective_widths(starts) < np.array(sizes[1:-1])).any(axis=1)

    K = len(configs)
    losses = np.full((n_iter, K), np.nan)
    diverged_at = np.full(K, -1)
    checkpoints = list(range(0, n_iter, every))
    acc_curve = np.full((len(checkpoints) + 1, K), np.nan)
    test_acc = np.full(K, np.nan)
    widths = np.zeros((K, len(sizes) - 2), np.int64)
    for mode in (True, False):
        idx = np.flatnonzero(exact == mode)
        if idx.size == 0:
            continue
        shuffle = None
        if first["batch_size"] is not None:
            shuffle = [
                np.random.default_rng(np.random.SeedSequence(configs[i].seed, spawn_key=(1,)))
                for i in idx
            ]
        result = engine.train(
            starts if idx.size == K else starts.select(idx),
            data["A0"],
            data["Y"],
            activation=act,
            output=data["output"],
            loss=data["loss"],
            solver=first["solver"],
            learning_rate=first["learning_rate"],
            max_iter=n_iter,
            batch_size=first["batch_size"],
            shuffle=shuffle,
            momentum=first["momentum"],
            # Checkpoint accuracies, measured by the engine as it trains.
            accuracy_every=every,
            products="exact" if mode else "blas",
            backend=backend,
        )
        losses[: result.n_iter, idx] = result.loss
        diverged_at[idx] = result.diverged_at
        acc_curve[: len(result.accuracy) - 1, idx] = result.accuracy[:-1]
        acc_curve[-1, idx] = result.accuracy[-1]
        if "X_test" in data:
            test_acc[idx] = _accuracy(
                result.params, data["X_test"], data["labels_test"], act, data["output"]
            )
        if "effective_width" in record.metrics:
            widths[idx] = _effective_widths(result.params)

    # The measures of every configuration at once, then one dict each.
    finite = np.isfinite(losses)
    best = np.where(finite, losses, np.inf).min(axis=0)
    final = losses[-1]
    curves = losses[::every]
    curve_ok = np.isfinite(curves)
    # Checkpoints that count: those up to divergence, and the end only if never diverged.
    t_points = np.array([*checkpoints, n_iter])
    counts = (diverged_at[None, :] < 0) | (t_points[:-1, None] <= diverged_at[None, :])
    counts = np.vstack([counts, diverged_at[None, :] < 0])
    hit = counts & (acc_curve >= record.target_accuracy)
    first_hit = np.where(hit.any(axis=0), t_points[hit.argmax(axis=0)], -1)
    seconds = (time.perf_counter() - t0) / K
    versions = _versions(kernel or engine._path(backend, tuple(sizes), act) == "blas")
    has_test = "X_test" in data
    keep = set(record.metrics) | {"diverged"}
    out = []
    for i, (c, cfg) in enumerate(zip(configs, cfgs)):
        d = int(diverged_at[i])
        # A network whose very start had a non-finite loss (diverged at 0) has no finite model
        # to measure: its accuracies are None, not those of NaN outputs.
        start_failed = d == 0
        result = {
            "key": c.key,
            "group": c.group,
            "config": cfg,
            "status": "diverged" if d >= 0 else "done",
            "final_loss": float(final[i]) if finite[-1, i] else None,
            "best_loss": float(best[i]) if best[i] < np.inf else None,
            "train_accuracy": None if start_failed else float(acc_curve[-1, i]),
            "test_accuracy": float(test_acc[i]) if has_test and not start_failed else None,
            "iterations_to_target": (
                int(first_hit[i]) if first_hit[i] >= 0 and not start_failed else None
            ),
            "diverged": d >= 0,
            "diverged_at": d if d >= 0 else None,
            "effective_width": widths[i].tolist(),
            "curve": [float(x) if ok else None for x, ok in zip(curves[:, i], curve_ok[:, i])],
            "seconds": seconds,
            "versions": versions,
        }
        for m in METRICS:  # what the record leaves out is not stored
            if m not in keep:
                result[m] = None
        out.append(result)
    return out


def chunk_size_for(config: Mapping[str, Any], record: Record, n_features: int, n_out: int) -> int:
    """Networks per chunk: :data:`DEFAULT_CHUNK_SIZE`, fewer if they would not fit
    :data:`MEMORY_BUDGET` (parameters, gradients and optimizer state, the NumPy path's
    activations and errors, the loss per iteration and the checkpoint accuracies)."""
    sizes = [n_features, *config["hidden"], n_out]
    P = sum(o * (i + 1) for i, o in itertools.pairwise(sizes))
    m = int(config["dataset_args"].get("n_samples") or 2000)
    batch = m if config["batch_size"] is None else min(m, config["batch_size"])
    n_points = -(-config["iterations"] // record.curve_every) + 1
    itemsize = np.dtype(config["dtype"]).itemsize
    per_network = itemsize * (5 * P + 4 * batch * sum(sizes[1:])) + 8 * (
        config["iterations"] + n_points
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
