"""The sweep store: one SQLite file, one row per configuration, each chunk one transaction.

Tables
------
``sweeps``
    ``name`` (primary key), ``spec`` (JSON), ``created``, ``total`` (configurations).
``members``
    ``sweep``, ``key``: which configurations a sweep has, in expansion order. Two sweeps that
    share a configuration share its run.
``runs``
    ``key`` (primary key: the configuration's hash), ``sweep`` (the sweep that ran it first),
    ``grp``, ``config`` (JSON), ``status``, one column per scalar metric, ``effective_width`` and
    ``curve`` (JSON), ``seconds``, ``initlab_version``, ``numpy_version``, ``finished_at``,
    ``backend``.

The database runs in WAL mode; every write is one ``BEGIN IMMEDIATE`` transaction, and a
connection waits up to ``timeout`` seconds for another writer, so several processes can write
one store. A chunk is inserted with ``INSERT OR IGNORE``: a configuration is stored once, by
whoever finishes it first.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import time
from collections.abc import Iterable
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from typing import Any

__all__ = ["DEFAULT_STORE", "Store"]

DEFAULT_STORE = "initlab-runs.sqlite"

_SCALARS = (
    "final_loss",
    "best_loss",
    "train_accuracy",
    "test_accuracy",
    "iterations_to_target",
    "diverged",
    "diverged_at",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    name TEXT PRIMARY KEY, spec TEXT NOT NULL, created TEXT NOT NULL, total INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    sweep TEXT NOT NULL, key TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (sweep, key)
);
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY, sweep TEXT NOT NULL, grp TEXT NOT NULL, config TEXT NOT NULL,
    status TEXT NOT NULL,
    final_loss REAL, best_loss REAL, train_accuracy REAL, test_accuracy REAL,
    iterations_to_target INTEGER, diverged INTEGER, diverged_at INTEGER,
    effective_width TEXT, curve TEXT, seconds REAL,
    initlab_version TEXT, numpy_version TEXT, finished_at TEXT NOT NULL, backend TEXT
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _spec_json(spec: Any) -> str:
    return json.dumps(
        {
            "name": spec.name,
            "seed": spec.seed,
            "grid": {k: list(v) for k, v in spec.grid.items()},
            "axes": list(spec.axes),
            "record": dataclasses.asdict(spec.record),
        },
        sort_keys=True,
    )


class Store:
    """A sweep store in one SQLite file.

    Parameters
    ----------
    path : str or path-like
        The database file (created with its tables if missing).
    timeout : float
        Seconds to wait for another process's write to finish before giving up.

    The object holds only the path: each operation opens its own connection, so a Store can be
    pickled and used from several threads or processes.
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_STORE, *, timeout: float = 60.0):
        self.path = os.fspath(path)
        self.timeout = float(timeout)
        # Switching a new database to WAL takes a lock that SQLite's busy handler does not wait
        # for: two processes opening a fresh store at once can get "database is locked" here.
        # The schema is idempotent, so try again until the other one is done.
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with self._connect() as con:
                    con.execute("PRAGMA journal_mode=WAL")
                    con.executescript(_SCHEMA)
                    # Stores written before the engine had backends lack the column.
                    columns = {row[1] for row in con.execute("PRAGMA table_info(runs)")}
                    if "backend" not in columns:
                        con.execute("ALTER TABLE runs ADD COLUMN backend TEXT")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    @contextmanager
    def _connect(self):
        con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        with closing(con):
            con.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            yield con

    @contextmanager
    def _transaction(self):
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # --- writing ------------------------------------------------------------------------------

    def register(self, spec: Any) -> None:
        """Record a sweep (a :class:`SweepSpec`) and its configurations; a sweep registered
        again under the same name takes the new spec and configuration list."""
        keys = [c.key for c in spec.configs()]
        with self._transaction() as con:
            con.execute(
                "INSERT INTO sweeps (name, spec, created, total) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, total = excluded.total",
                (spec.name, _spec_json(spec), _now(), len(keys)),
            )
            con.execute("DELETE FROM members WHERE sweep = ?", (spec.name,))
            con.executemany(
                "INSERT INTO members (sweep, key, position) VALUES (?, ?, ?)",
                [(spec.name, k, i) for i, k in enumerate(keys)],
            )

    def write(self, results: Iterable[dict[str, Any]], sweep: str = "") -> int:
        """Store the results of one chunk in one transaction; return how many were new.

        A key already stored is left as it is (``INSERT OR IGNORE``).
        """
        rows = []
        now = _now()
        for r in results:
            v = r.get("versions", {})
            rows.append(
                (
                    r["key"],
                    sweep,
                    r["group"],
                    json.dumps(r["config"], sort_keys=True),
                    r["status"],
                    *(int(r[k]) if k == "diverged" else r.get(k) for k in _SCALARS),
                    json.dumps(r.get("effective_width")),
                    json.dumps(r.get("curve")),
                    r.get("seconds"),
                    v.get("initlab"),
                    v.get("numpy"),
                    now,
                    v.get("backend"),
                )
            )
        if not rows:
            return 0
        columns = (
            "key, sweep, grp, config, status, "
            + ", ".join(_SCALARS)
            + ", effective_width, curve, seconds, initlab_version, numpy_version, finished_at"
            + ", backend"
        )
        marks = ", ".join("?" * len(rows[0]))
        with self._transaction() as con:
            before = con.total_changes
            con.executemany(f"INSERT OR IGNORE INTO runs ({columns}) VALUES ({marks})", rows)
            return con.total_changes - before

    # --- reading ------------------------------------------------------------------------------

    def done_keys(self) -> set[str]:
        """Keys of every stored configuration."""
        with self._connect() as con:
            return {k for (k,) in con.execute("SELECT key FROM runs")}

    def sweeps(self) -> list[dict[str, Any]]:
        """Every sweep: ``name``, ``created``, ``total``, ``done`` (stored configurations)."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT s.name, s.created, s.total, "
                "(SELECT COUNT(*) FROM members m JOIN runs r ON r.key = m.key "
                " WHERE m.sweep = s.name) FROM sweeps s ORDER BY s.created, s.name"
            ).fetchall()
        return [{"name": n, "created": c, "total": t, "done": d} for n, c, t, d in rows]

    def spec(self, sweep: str) -> dict[str, Any]:
        """The stored spec of a sweep (JSON: name, seed, grid, axes, record)."""
        with self._connect() as con:
            row = con.execute("SELECT spec FROM sweeps WHERE name = ?", (sweep,)).fetchone()
        if row is None:
            raise ValueError(
                f"The 'sweep' parameter must name a sweep of {self.path!r}: "
                f"{', '.join(s['name'] for s in self.sweeps()) or 'none stored'}. "
                f"Got {sweep!r} instead."
            )
        return json.loads(row[0])

    def frame(self, sweep: str | None = None):
        """One row per stored configuration (of ``sweep``, in expansion order, or of all).

        Columns: ``key``, every config key (``hidden`` as a tuple, ``dataset_args`` and ``test``
        as JSON text, so that every column can be grouped on), ``status``, the metrics
        (``effective_width`` and ``curve`` as lists; ``iterations_to_target`` and
        ``diverged_at`` as nullable ``Int64``, missing for never), ``seconds``, ``initlab_version``,
        ``numpy_version``, ``finished_at``, ``backend`` (``"numpy"`` or ``"numba X.Y"``: which
        engine backend computed the row).
        """
        import pandas as pd

        query = "SELECT r.* FROM runs r" + (
            " JOIN members m ON m.key = r.key WHERE m.sweep = ? ORDER BY m.position"
            if sweep is not None
            else " ORDER BY r.rowid"
        )
        if sweep is not None:
            self.spec(sweep)  # a clear error for an unknown name
        with self._connect() as con:
            cur = con.execute(query, (sweep,) if sweep is not None else ())
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, row)) for row in cur.fetchall()]
        records = []
        for r in rows:
            cfg = json.loads(r["config"])
            rec: dict[str, Any] = {"key": r["key"]}
            for k, v in cfg.items():
                if k == "hidden":
                    v = tuple(v)
                elif k in ("dataset_args", "test"):
                    v = None if v is None else json.dumps(v, sort_keys=True)
                rec[k] = v
            rec["status"] = r["status"]
            for k in _SCALARS:
                rec[k] = r[k]
            rec["diverged"] = bool(r["diverged"])
            rec["effective_width"] = json.loads(r["effective_width"])
            rec["curve"] = json.loads(r["curve"])
            for k in ("seconds", "initlab_version", "numpy_version", "finished_at", "backend"):
                rec[k] = r[k]
            records.append(rec)
        df = pd.DataFrame.from_records(records)
        if df.empty:
            return pd.DataFrame(columns=["key", "status", *_SCALARS])
        # Integers that may be missing (never reached, never diverged) stay integers.
        for k in ("iterations_to_target", "diverged_at"):
            df[k] = df[k].astype("Int64")
        return df

    def export(self, path: str | os.PathLike[str], sweep: str | None = None) -> str:
        """Write :meth:`frame` (of ``sweep``, or of every stored configuration) to a file.

        Parameters
        ----------
        path : str or path-like
            ``.csv`` or ``.parquet``, chosen by the suffix. In CSV, lists and tuples (``hidden``,
            ``effective_width``, ``curve``) are written as JSON text; Parquet keeps them as lists
            (it needs pyarrow: ``pip install 'initlab[dask]'`` or ``pip install pyarrow``).
        sweep : str, optional
            A sweep's name; default every stored configuration.

        Returns
        -------
        str
            The path written.
        """
        path = os.fspath(path)
        suffix = os.path.splitext(path)[1].lower()
        if suffix not in (".csv", ".parquet"):
            raise ValueError(
                "The 'path' parameter of Store.export must end in .csv or .parquet. "
                f"Got {path!r} instead."
            )
        df = self.frame(sweep)
        if suffix == ".csv":
            for col in df.columns:
                if df[col].map(lambda v: isinstance(v, list | tuple)).any():
                    df[col] = df[col].map(
                        lambda v: json.dumps(list(v)) if isinstance(v, list | tuple) else v
                    )
            df.to_csv(path, index=False)
            return path
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError(
                "Parquet export needs pyarrow: pip install 'initlab[dask]' (or pyarrow)."
            ) from None
        if "hidden" in df.columns:  # tuples of ints: one list type for Arrow
            df["hidden"] = df["hidden"].map(lambda v: list(v) if isinstance(v, tuple) else v)
        df.to_parquet(path, index=False)
        return path
