"""Sweeps on a Dask distributed cluster: chunks run on the workers, results come back to the client.

:func:`run_on_dask` sends each chunk to the cluster as one task of :func:`initlab.sweep.run.
run_chunk` and hands the results to a callback in the client process as each chunk finishes, so
the client alone writes the store. This is the only module of initlab that imports Dask.

Running on several machines
---------------------------
Every machine needs the same initlab (and NumPy) installed, with the ``dask`` extra::

    pip install 'initlab[dask]'

Start a scheduler on one machine and workers on the others, pointing at it::

    dask scheduler                                            # on HOST, listens on port 8786
    dask worker tcp://HOST:8786 --nworkers auto --nthreads 1  # on each machine

then, from any machine that reaches the scheduler::

    initlab sweep examples/course.toml --scheduler tcp://HOST:8786

or in Python::

    from dask.distributed import Client
    import initlab

    client = Client("tcp://HOST:8786")
    df = initlab.run_sweep("examples/course.toml", executor=client)  # initlab.sweep.sweep

A chunk is a stack of networks trained on all of a worker process's cores: by the compiled
kernel (Numba threads, ``NUMBA_NUM_THREADS``, every core by default) for small networks, by BLAS
products (``OPENBLAS_NUM_THREADS``) for wide ones. With one worker process per machine that is
what you want. With several worker processes on one machine, give each its share: for example
``NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 dask worker ... --nworkers 2 --nthreads 1`` on two
cores (the nanny already sets the BLAS variables to 1 for ``--nthreads 1``, not Numba's), or
the workers fight over the cores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .spec import Config, Record

__all__ = ["ClusterError", "connect", "run_on_dask"]

_INSTALL = "initlab sweeps on a cluster need Dask: pip install 'initlab[dask]'"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(_INSTALL) from exc
    return distributed


class ClusterError(RuntimeError):
    """A chunk the cluster could not compute (it raised after its retries, or its workers kept
    dying). The command line prints it on one line and exits 3; what was stored stays."""


_SCHEMES = ("tcp", "tls", "ws", "wss", "inproc", "ucx")


def connect(address: Any, *, name: str = "scheduler", timeout: float = 10.0) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``, checked before connecting.

    Raises
    ------
    ValueError
        Naming ``name`` (the command line passes ``--scheduler``): an address that is not
        ``SCHEME://HOST:PORT``, or a scheduler that cannot be reached within ``timeout`` s.
    ImportError
        If Dask distributed is not installed, with the command that installs it.
    """
    import re
    import socket

    distributed = _distributed()
    allowed = "an address such as tcp://HOST:8786"
    match = re.fullmatch(r"([a-z]+)://(\[[^\]]+\]|[^\s:/\[\]]+):(\d{1,5})/?", str(address))
    if not isinstance(address, str) or not match or match.group(1) not in _SCHEMES:
        raise ValueError(f"The {name!r} parameter must be {allowed}. Got {address!r} instead.")
    scheme, host, port = match.group(1), match.group(2).strip("[]"), int(match.group(3))
    if not 0 < port < 65536:
        raise ValueError(f"The {name!r} parameter must be {allowed}. Got port {port} instead.")
    if scheme == "tcp":
        # A plain socket first: a Client that fails to connect complains again when collected.
        try:
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except OSError as exc:
            raise ValueError(
                f"The {name!r} parameter must be the address of a running Dask scheduler. "
                f"Got {address!r}: cannot reach it ({exc.strerror or exc})."
            ) from None
    try:
        return distributed.Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(
            f"The {name!r} parameter must be the address of a running Dask scheduler. Got "
            f"{address!r}: {exc}"
        ) from None


def _task_key(chunk: list[Config]) -> str:
    return "initlab-chunk-" + chunk[0].key


def run_on_dask(
    client: Any,
    chunks: list[list[Config]],
    record: Record,
    on_result: Callable[[list[dict[str, Any]]], None],
    *,
    retries: int = 3,
    backend: str = "auto",
) -> None:
    """Run chunks of a sweep on a Dask cluster, handing each chunk's results to ``on_result``.

    Parameters
    ----------
    client : distributed.Client
        A client connected to the cluster. Its workers must have initlab installed.
    chunks : list of list of Config
        Each chunk runs as one task, ``run_chunk(chunk, record, backend)``, under the task key
        ``"initlab-chunk-" + chunk[0].key`` (stable across runs, so a dashboard shows which
        chunk is where).
    record : Record
        What to measure, passed to every chunk.
    on_result : callable(list of dict)
        Called in this (the client's) process as each chunk finishes, in the order they finish,
        with the results of configurations not delivered before: every config key reaches
        ``on_result`` once, even if a chunk ran twice.
    retries : int >= 0, default 3
        How many times the cluster reruns a chunk whose ``run_chunk`` raised.
    backend : {"auto", "numba", "numpy"}
        The engine's backend on the workers (see :func:`initlab.sweep.run_chunk`).

    Raises
    ------
    ImportError
        If Dask distributed is not installed, with the command that installs it.
    ValueError
        For an empty chunk, two chunks with the same first config, or a bad ``retries``.
    ClusterError
        A RuntimeError: if a chunk still fails after ``retries`` reruns (or its workers kept
        dying), naming the chunk's first config key and the worker's exception. Chunks not
        yet finished are cancelled; results delivered before stay delivered.

    Notes
    -----
    A worker that dies mid-chunk loses nothing: the scheduler notices, and runs the chunk again
    on another worker; a chunk whose workers die more than
    ``distributed.scheduler.allowed-failures`` times (3 by default) fails with
    ``KilledWorker``. Results are deduplicated by config key here, in the client, so a chunk that
    ran twice is delivered once. If ``on_result`` raises, the chunks not yet finished are
    cancelled and the exception propagates.
    """
    distributed = _distributed()
    from .run import run_chunk  # the workers import it from the same place

    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(
            f"The 'retries' parameter of run_on_dask must be an int >= 0. Got {retries!r} instead."
        )
    chunks = [list(chunk) for chunk in chunks]
    seen: dict[str, int] = {}
    for i, chunk in enumerate(chunks):
        if not chunk:
            raise ValueError(
                "The 'chunks' parameter of run_on_dask must hold non-empty lists of Config. "
                f"Got an empty chunk at index {i} instead."
            )
        if chunk[0].key in seen:
            raise ValueError(
                "The 'chunks' parameter of run_on_dask must not hold two chunks starting with the "
                f"same config. Got config {chunk[0].key} first in chunks {seen[chunk[0].key]} "
                f"and {i} instead."
            )
        seen[chunk[0].key] = i
    if not chunks:
        return

    futures = {
        client.submit(
            run_chunk,
            chunk,
            record,
            backend,
            key=_task_key(chunk),
            retries=retries,
            pure=False,
        ): (chunk)
        for chunk in chunks
    }
    delivered: set[str] = set()
    try:
        for future in distributed.as_completed(futures):
            chunk = futures.pop(future)
            if future.status == "error":
                exc = future.exception()
                raise ClusterError(
                    f"The sweep chunk starting with config {chunk[0].key} ({len(chunk)} configs) "
                    f"failed on the cluster after {retries} retries: {type(exc).__name__}: "
                    f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                ) from exc
            if future.status != "finished":
                raise ClusterError(
                    f"The sweep chunk starting with config {chunk[0].key} ({len(chunk)} configs) "
                    f"did not finish on the cluster: its task was {future.status}."
                )
            results = future.result()
            future.release()
            fresh = []
            for r in results:
                if r["key"] not in delivered:
                    delivered.add(r["key"])
                    fresh.append(r)
            if fresh:
                on_result(fresh)
    finally:
        if futures:
            client.cancel(list(futures))
