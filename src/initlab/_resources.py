"""Resource estimates before the work: what would not fit on this machine is refused up front.

Training, sweeps, data generation and checks estimate the memory they would use from their
settings alone (before allocating anything) and refuse what exceeds the memory available, with a
message that says how much it would need, how much there is, and how to allow more on a bigger
machine: ``--max-memory SIZE`` on the command line, ``INITLAB_MAX_MEMORY=SIZE`` in the
environment, or :func:`max_memory` in Python. Estimates are upper bounds of the arrays initlab
itself allocates (parameters, gradients, optimizer state, activations, losses, snapshots), not
of Python's overhead, so a refused run would certainly not have fitted.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import math
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from typing import Any

ENV = "INITLAB_MAX_MEMORY"
HOW_TO_ALLOW = f"allow more with --max-memory SIZE (or {ENV}=SIZE) on a bigger machine"

_limit: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "initlab_max_memory", default=None
)

_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}


class ResourceError(ValueError):
    """A run refused because it would not fit: a ValueError, so the command line exits 2."""


def parse_size(text: Any, name: str = "--max-memory") -> int:
    """Bytes from ``"64G"``, ``"512MiB"``, ``"1.5T"`` or a plain number of bytes.

    >>> parse_size("1.5G"), parse_size("512MiB"), parse_size(1024)
    (1610612736, 536870912, 1024)
    """
    if isinstance(text, int) and not isinstance(text, bool) and text > 0:
        return text
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGTP]?)(?:I?B)?\s*", str(text).upper())
    value = float(match.group(1)) * _UNITS[match.group(2)] if match else math.nan
    if not (math.isfinite(value) and value >= 1):
        raise ValueError(
            f"The {name!r} parameter must be a size such as 64G, 512M or 2T (bytes, K, M, G, T). "
            f"Got {text!r} instead."
        )
    return int(value)


def format_size(n: float) -> str:
    """``3.2 GiB``: the size in the largest unit that keeps it at least 1.

    >>> format_size(3 * 2**30), format_size(512)
    ('3.0 GiB', '512 B')
    """
    if n >= 1000 * _UNITS["P"]:
        return f"{n / _UNITS['P']:.3g} PiB"
    for unit in ("PiB", "TiB", "GiB", "MiB", "KiB"):
        scale = _UNITS[unit[0]]
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def available_memory() -> int:
    """Bytes of memory available now: the kernel's MemAvailable, within a cgroup's limit."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:  # not Linux: physical memory, where the platform says
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = 2**63
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            with open(limit_file) as f:
                raw = f.read().strip()
            if raw == "max":
                continue
            with open(usage_file) as f:
                used = int(f.read().strip())
            avail = min(avail, max(0, int(raw) - used))
        except (OSError, ValueError):
            continue
    return avail


def memory_limit() -> tuple[int, str]:
    """The bytes a run may plan to use, and a phrase saying where that figure comes from (with
    ``{}`` for the size)."""
    explicit = _limit.get()
    if explicit is not None:
        return explicit, "--max-memory allows {}"
    env = os.environ.get(ENV)
    if env:
        return parse_size(env, ENV), f"{ENV} allows {{}}"
    return available_memory(), "this machine has {} available"


@contextlib.contextmanager
def max_memory(size: Any) -> Iterator[None]:
    """Allow runs inside the block to plan up to ``size`` (``"64G"``, bytes) of memory.

    >>> with max_memory("1T"):
    ...     memory_limit()[0] == 2**40
    True
    """
    token = _limit.set(None if size is None else parse_size(size))
    try:
        yield
    finally:
        _limit.reset(token)


def check_memory(need: int, what: str) -> None:
    """Refuse ``what`` if it would need more than :func:`memory_limit` bytes."""
    limit, source = memory_limit()
    if need > limit:
        raise ResourceError(
            f"{what} would need about {format_size(need)} of memory, and "
            f"{source.format(format_size(limit))}: make it smaller, or {HOW_TO_ALLOW}."
        )


def check_disk(need: int, folder: str, what: str) -> None:
    """Refuse ``what`` if it would write more than the free space of ``folder``'s disk."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if need > free:
        raise ResourceError(
            f"{what} would write about {format_size(need)} to {folder!r}, whose disk has "
            f"{format_size(free)} free: make it smaller, or store it on a bigger disk."
        )


# --- estimates -------------------------------------------------------------------------------


def n_params(sizes: Sequence[int]) -> int:
    """Weights and biases of a dense network with these layer sizes."""
    return sum(o * (i + 1) for i, o in itertools.pairwise(sizes))


def training_bytes(
    sizes: Sequence[int],
    m: int,
    *,
    K: int = 1,
    batch_size: int | None = None,
    max_iter: int = 1,
    snapshot_every: int | None = None,
    itemsize: int = 8,
    solver: str = "gd",
) -> int:
    """An upper bound of the arrays a training run allocates.

    Parameters (the start drawn in float64, the flat parameters, their gradients, the kept last
    finite copy and the optimizer's state), activations, pre-activations and errors of a batch,
    the data's copies, the loss per iteration and the snapshots.
    """
    P = n_params(sizes)
    state = {"gd": 0, "sgd": 1, "adam": 2}.get(solver, 2)
    biggest = max((o * i for i, o in itertools.pairwise(sizes)), default=0)
    b = m if batch_size is None else min(m, batch_size)
    units = sum(sizes[1:])
    n_snap = 0 if not snapshot_every else -(-max_iter // snapshot_every)
    return (
        K * P * itemsize * (5 + state)
        + 8 * biggest
        + 5 * K * units * b * itemsize
        + 3 * (sizes[0] + sizes[-1]) * m * itemsize
        + 8 * K * max_iter
        + 4 * K * P * itemsize * n_snap
    )


def check_training(
    owner: str,
    sizes: Sequence[int],
    m: int,
    **kwargs: Any,
) -> None:
    """Refuse a training run that would not fit (see :func:`training_bytes`)."""
    need = training_bytes(sizes, m, **kwargs)
    iters = kwargs.get("max_iter", 1)
    plural = "s" if iters != 1 else ""
    check_memory(need, f"{owner} (layers {list(sizes)}, {m} samples, {iters} iteration{plural})")


def dataset_bytes(n_samples: int, n_features: int) -> int:
    """The generated data and the generators' temporaries (about four copies of X)."""
    return 8 * n_samples * (4 * n_features + 2)


def data_shape(dataset: str, args: dict[str, Any]) -> tuple[int, int, int]:
    """Samples, features and output units of a named dataset with these loader arguments."""
    import inspect

    from .datasets import DATASETS

    params = inspect.signature(DATASETS[dataset]).parameters
    defaults = {k: p.default for k, p in params.items()} | dict(args)
    fixed = {"digits": (1797, 64), "iris2": (100, 2)}
    m, n_features = fixed.get(dataset, (defaults.get("n_samples", 300), 2))
    n_features = int(defaults.get("n_features", n_features))
    classes = int(defaults.get("n_classes", defaults.get("n_class", 2)))
    return int(m), n_features, 1 if classes == 2 else classes


# Bytes a sweep holds per configuration, measured with tracemalloc on a 2,000-configuration grid
# whose curves have 20 points: an expanded Config took 650 B, building the returned DataFrame
# peaked at 5.5 KB a row, the store took 1.1 KB a row on disk. Each curve point adds a Python
# float in a list (memory) and about 20 characters of JSON (disk).
CONFIG_BYTES = 1000
ROW_BYTES = 5000
STORE_ROW_BYTES = 1000
CURVE_POINT_BYTES = 40
CURVE_POINT_DISK = 24


def sweep_estimate(spec: Any, chunk_size: int | None = None) -> dict[str, int]:
    """What a sweep of ``spec`` would hold and write, from the grid alone (nothing expanded).

    Returns ``configs``, ``model_iterations``, ``memory`` (bytes: the expanded configurations,
    the result table and the largest chunk in training) and ``disk`` (bytes in the store).
    """
    grid, record = spec.grid, spec.record
    n = math.prod(len(v) for v in grid.values())
    per_iteration_value = n // len(grid["iterations"])
    model_iterations = per_iteration_value * sum(grid["iterations"])
    max_iter = max(grid["iterations"])
    points = -(-max_iter // record.curve_every) if "curve" in record.metrics else 0
    table = n * (CONFIG_BYTES + ROW_BYTES + CURVE_POINT_BYTES * points)
    chunk = 0
    K = chunk_size or 1
    snap = record.curve_every if "iterations_to_target" in record.metrics else None
    solver = "adam" if "adam" in grid["solver"] else "sgd" if "sgd" in grid["solver"] else "gd"
    itemsize = max(8 if d == "float64" else 4 for d in grid["dtype"])
    for dataset, args, hidden in itertools.product(
        grid["dataset"], grid["dataset_args"], grid["hidden"]
    ):
        m, n_features, n_out = data_shape(dataset, args or {})
        need = training_bytes(
            [n_features, *hidden, n_out],
            m,
            K=K,
            max_iter=max_iter,
            snapshot_every=snap,
            itemsize=itemsize,
            solver=solver,
        )
        chunk = max(chunk, need + dataset_bytes(m, n_features))
    return {
        "configs": n,
        "model_iterations": model_iterations,
        "memory": table + chunk,
        "disk": n * (STORE_ROW_BYTES + CURVE_POINT_DISK * points),
    }


def check_sweep(spec: Any, chunk_size: int | None = None) -> dict[str, int]:
    """Refuse a sweep whose configurations, results or largest chunk would not fit in memory."""
    est = sweep_estimate(spec, chunk_size)
    check_memory(
        est["memory"],
        f"The sweep {spec.name!r} ({est['configs']:,} configuration"
        f"{'s' if est['configs'] != 1 else ''}, "
        f"{est['model_iterations']:,} model-iterations)",
    )
    return est
