"""The sweep store: one SQLite file, one row per configuration, each chunk one transaction.

Tables
------
``sweeps``
    ``id`` (primary key: the sweep's content hash, :attr:`SweepSpec.id`), ``name`` (a label:
    the spec's name), ``spec`` (JSON), ``created``, ``total`` (configurations).
``members``
    ``sweep`` (an id), ``key``: which configurations a sweep has, in expansion order. Two sweeps
    that share a configuration share its run.
``runs``
    ``key`` (primary key: the configuration's hash), ``sweep`` (the id of the sweep that ran it
    first), ``grp``, ``config`` (JSON), ``status``, one column per scalar metric,
    ``effective_width`` and ``curve`` (JSON), ``seconds``, ``initlab_version``,
    ``numpy_version``, ``finished_at``, ``backend``.
``claims``
    ``key``, ``owner``, ``claimed``: configurations a running sweep has taken, so that two
    processes running the same sweep share the work instead of both doing all of it.

The file carries SQLite's ``application_id`` (:data:`APPLICATION_ID`) and ``user_version``
(:data:`SCHEMA_VERSION`). The database runs in WAL mode; every write is one ``BEGIN IMMEDIATE``
transaction, and a connection waits up to ``timeout`` seconds for another writer, so several
processes can write one store. A chunk is inserted with ``INSERT OR IGNORE``: a configuration is
stored once, by whoever finishes it first.

Failing safe
------------
Creating a :class:`Store` touches nothing. Reading (``sweeps``, ``spec``, ``frame``, ``export``,
``done_keys``) opens the file read-only: it never creates tables, never switches a database to WAL,
and works on a read-only file system. Writing first checks that the file is an initlab store (or
new, or empty) and can be written there; a database that is not initlab's is never modified. A
file that is not SQLite, is corrupt or truncated, is read-only, or fills the disk raises
:class:`StoreError` naming the file and what to do; what was committed before stays committed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from .._validation import check_number, check_output_file

__all__ = ["APPLICATION_ID", "DEFAULT_STORE", "SCHEMA_VERSION", "Store", "StoreError"]

DEFAULT_STORE = "initlab-runs.sqlite"

APPLICATION_ID = 0x696E6C62  # "inlb": marks an initlab store in the SQLite header
SCHEMA_VERSION = 2  # 1: sweeps keyed by name (initlab 0.1 before stores failed safe)

CLAIM_LEASE = 3600.0
"""Seconds after which a claim of a process on another machine (whose liveness cannot be seen
from here) is taken to be abandoned."""

_SCALARS = (
    "final_loss",
    "best_loss",
    "train_accuracy",
    "test_accuracy",
    "iterations_to_target",
    "diverged",
    "diverged_at",
)

_RUNS = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY, sweep TEXT NOT NULL, grp TEXT NOT NULL, config TEXT NOT NULL,
    status TEXT NOT NULL,
    final_loss REAL, best_loss REAL, train_accuracy REAL, test_accuracy REAL,
    iterations_to_target INTEGER, diverged INTEGER, diverged_at INTEGER,
    effective_width TEXT, curve TEXT, seconds REAL,
    initlab_version TEXT, numpy_version TEXT, finished_at TEXT NOT NULL, backend TEXT
);
"""
_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, spec TEXT NOT NULL, created TEXT NOT NULL,
    total INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    sweep TEXT NOT NULL, key TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (sweep, key)
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY, owner TEXT NOT NULL, claimed REAL NOT NULL
);
"""
    + _RUNS
)
_TABLES = {"sweeps", "members", "runs"}


class StoreError(ValueError):
    """A store that cannot be used as asked: not initlab's, corrupt, read-only, or a full disk.

    A ValueError (the ``store`` parameter is unusable), so the command line exits 2 with the
    message; nothing committed before is lost.
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


def _legacy_id(spec_json: str) -> str:
    """The content id of a sweep stored by schema 1, from its stored spec."""
    import hashlib

    s = json.loads(spec_json)
    content = {"seed": s["seed"], "grid": s["grid"], "record": s["record"]}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- who holds a claim -----------------------------------------------------------------------

_HOST = socket.gethostname()
_ACTIVE: set[str] = set()  # owners of sweeps running in this process now


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ("" where /proc does not say)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def new_owner() -> str:
    """A claim owner for one sweep: host, process (with its start time) and a fresh token."""
    pid = os.getpid()
    return f"{_HOST}:{pid}:{_start_time(pid)}:{uuid.uuid4().hex[:12]}"


def _alive(owner: str, claimed: float) -> bool:
    host, pid, started, _ = [*owner.split(":"), "", "", "", ""][:4]
    if host != _HOST:
        return time.time() - claimed < CLAIM_LEASE
    try:
        pid_n = int(pid)
    except ValueError:
        return False
    if pid_n == os.getpid():
        return owner in _ACTIVE  # a sweep of this process that ended left it behind
    if started:
        return _start_time(pid_n) == started  # a reused pid has another start time
    try:
        os.kill(pid_n, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Store:
    """A sweep store in one SQLite file.

    Parameters
    ----------
    path : str or path-like
        The database file (created with its tables at the first write if missing).
    timeout : float
        Seconds to wait for another process's write to finish before giving up.

    The object holds only the path: each operation opens its own connection, so a Store can be
    pickled and used from several threads or processes. Creating one touches nothing on disk.
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_STORE, *, timeout: float = 60.0):
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise StoreError(
                f"The 'path' parameter of Store must be a file path. Got {path!r} instead."
            )
        self.path = os.fspath(path)
        self.timeout = float(check_number("Store", "timeout", timeout, low=0, low_open=True))

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    # --- connections and errors ---------------------------------------------------------------

    def _error(self, exc: BaseException) -> StoreError:
        """The user's words for what SQLite (or the file system) said about this file."""
        text = str(exc)
        low = text.lower()
        p = repr(self.path)
        if "not a database" in low or "file is encrypted" in low:
            return StoreError(f"{p} is not an initlab store: it is not an SQLite database.")
        if "malformed" in low or "corrupt" in low:
            return StoreError(
                f"The store {p} is corrupt (SQLite: {text}); restore it from a copy, or give "
                "another store path."
            )
        if "full" in low or getattr(exc, "errno", None) == 28:
            return StoreError(
                f"The store {p} cannot be written: the disk is full. Everything committed "
                "before is kept: free some space and run the same command again to resume."
            )
        if "readonly" in low or "read-only" in low:
            return StoreError(
                f"The store {p} cannot be written: it is read-only (or its folder is). Copy it "
                "somewhere writable, or give another store path."
            )
        if "locked" in low or "busy" in low:
            return StoreError(
                f"The store {p} stayed locked by another process for more than "
                f"{self.timeout:g} s; try again when it is done."
            )
        if "unable to open" in low:
            return StoreError(f"The store {p} cannot be opened (SQLite: {text}).")
        return StoreError(f"The store {p} cannot be used: {type(exc).__name__}: {text}.")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except (sqlite3.DatabaseError, OSError) as exc:
            raise self._error(exc) from None

    def _check_header(self) -> None:
        """Refuse a file that is not SQLite, or an SQLite file shorter than its header says."""
        try:
            size = os.path.getsize(self.path)
            with open(self.path, "rb") as f:
                head = f.read(100)
        except OSError as exc:
            raise self._error(exc) from None
        if size == 0:
            return
        if not head.startswith(b"SQLite format 3\x00"):
            raise StoreError(
                f"{self.path!r} is not an initlab store: it is not an SQLite database."
            )
        if len(head) == 100:
            # The header's page size (1 means 65536) and page count, valid when its "version
            # valid for" equals the change counter (SQLite's file format, section 1.3).
            page = int.from_bytes(head[16:18]) or 1
            page = 65536 if page == 1 else page
            change, pages = int.from_bytes(head[24:28]), int.from_bytes(head[28:32])
            valid_for = int.from_bytes(head[92:96])
            # In WAL mode the -wal file holds pages the main file does not have yet (a
            # checkpoint cut short by a full disk leaves the header ahead of the file).
            wal = f"{self.path}-wal"
            wal_pages = os.path.isfile(wal) and os.path.getsize(wal) > 0
            if change == valid_for and size < pages * page and not wal_pages:
                raise StoreError(
                    f"The store {self.path!r} is corrupt: it is truncated ({size} bytes, its "
                    f"header says {pages * page}); restore it from a copy, or give another "
                    "store path."
                )

    def _layout(self, con: sqlite3.Connection) -> int:
        """0 for an empty database, 1 or 2 for an initlab store's schema; refuses any other."""
        tables = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        app = con.execute("PRAGMA application_id").fetchone()[0]
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if not tables and app in (0, APPLICATION_ID):
            return 0
        if app == APPLICATION_ID and _TABLES <= tables:
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"The store {self.path!r} was written by a newer initlab (schema "
                    f"{version}); upgrade initlab to read it."
                )
            return version
        if app == 0 and _TABLES <= tables:
            columns = {row[1] for row in con.execute("PRAGMA table_info(sweeps)")}
            if {"name", "spec", "created", "total"} <= columns:
                return 2 if "id" in columns else 1
        shown = ", ".join(sorted(tables)[:6]) + (", ..." if len(tables) > 6 else "")
        raise StoreError(
            f"{self.path!r} is not an initlab store: it is an SQLite database with other tables "
            f"({shown}). initlab leaves it as it is; give another store path."
        )

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection to an existing store (schema 1 or 2)."""
        if not os.path.isfile(self.path):
            raise StoreError(
                f"No such store {self.path!r}"
                + (" (it is a folder)." if os.path.isdir(self.path) else ".")
            )
        self._check_header()
        uri = "file:" + quote(os.path.abspath(self.path))
        with self._errors():
            try:
                con = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=self.timeout)
                con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            except sqlite3.OperationalError:
                # A WAL store on a read-only file system without its -shm file: no one can be
                # writing it, so it can be read as immutable.
                con = sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True)
            with closing(con):
                con.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
                self._version = self._layout(con)
                yield con

    def check_writable(self) -> None:
        """Refuse, before any work, a store that cannot be written where it is."""
        try:
            check_output_file("Store", "path", self.path)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise StoreError(
                f"The store {self.path!r} cannot be created: no such folder {folder!r}."
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StoreError(
                f"The store {self.path!r} cannot be written: its folder {folder!r} is read-only "
                "(SQLite writes its journal beside the file). Give another store path."
            )

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A connection in one ``BEGIN IMMEDIATE`` transaction, on a store checked to be
        initlab's (created with its schema if new or empty, upgraded from schema 1)."""
        self.check_writable()
        if os.path.exists(self.path):
            self._check_header()
        with self._errors():
            con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            with closing(con):
                con.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
                self._prepare(con)
                con.execute("BEGIN IMMEDIATE")
                try:
                    yield con
                except BaseException:
                    try:
                        con.execute("ROLLBACK")
                    except sqlite3.Error:  # SQLite may have rolled back already (a full disk)
                        pass
                    raise
                con.execute("COMMIT")

    def _prepare(self, con: sqlite3.Connection) -> None:
        """Create or upgrade the schema, checking first (read-only) that the file is ours."""
        if self._layout(con) == SCHEMA_VERSION and getattr(self, "_ready", False):
            return
        # Switching a new database to WAL takes a lock that SQLite's busy handler does not wait
        # for: two processes opening a fresh store at once can get "database is locked" here.
        # The schema is idempotent, so try again until the other one is done.
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                version = self._layout(con)
                if version == 0:
                    con.execute("PRAGMA journal_mode=WAL")
                con.execute("BEGIN IMMEDIATE")
                try:
                    version = self._layout(con)
                    if version == 1:
                        self._upgrade(con)
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            con.execute(statement)
                    columns = {row[1] for row in con.execute("PRAGMA table_info(runs)")}
                    if "backend" not in columns:  # stores from before the engine had backends
                        con.execute("ALTER TABLE runs ADD COLUMN backend TEXT")
                    con.execute(f"PRAGMA application_id={APPLICATION_ID}")
                    con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                    con.execute("COMMIT")
                except BaseException:
                    try:
                        con.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                    raise
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._ready = True

    def _upgrade(self, con: sqlite3.Connection) -> None:
        """Schema 1 (sweeps keyed by name) to 2 (by content), in the caller's transaction."""
        rows = con.execute("SELECT name, spec, created, total FROM sweeps").fetchall()
        con.execute("ALTER TABLE sweeps RENAME TO sweeps_v1")
        con.execute(
            "CREATE TABLE sweeps (id TEXT PRIMARY KEY, name TEXT NOT NULL, spec TEXT NOT NULL, "
            "created TEXT NOT NULL, total INTEGER NOT NULL)"
        )
        for name, spec, created, total in rows:
            sid = _legacy_id(spec)
            con.execute(
                "INSERT OR REPLACE INTO sweeps (id, name, spec, created, total) "
                "VALUES (?, ?, ?, ?, ?)",
                (sid, name, spec, created, total),
            )
            con.execute("UPDATE members SET sweep = ? WHERE sweep = ?", (sid, name))
            con.execute("UPDATE runs SET sweep = ? WHERE sweep = ?", (sid, name))
        con.execute("DROP TABLE sweeps_v1")

    # --- writing ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Check that the store can be written, creating (or upgrading) its schema; a sweep
        calls it before any work, so that a store it cannot use fails first."""
        with self._write():
            pass

    def register(self, spec: Any) -> None:
        """Record a sweep (a :class:`SweepSpec`) and its configurations; the same content
        registered again (under any name) is the same sweep, relabelled with the new name."""
        with self._write() as con:
            row = con.execute("SELECT total FROM sweeps WHERE id = ?", (spec.id,)).fetchone()
            con.execute(
                "INSERT INTO sweeps (id, name, spec, created, total) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name, spec = excluded.spec, "
                "total = excluded.total",
                (spec.id, spec.name, _spec_json(spec), _now(), len(spec)),
            )
            have = con.execute(
                "SELECT COUNT(*) FROM members WHERE sweep = ?", (spec.id,)
            ).fetchone()[0]
            # The same content lists the same keys, unless they were derived by another initlab
            # (a sweep upgraded from schema 1): then its first key is not among them.
            first = con.execute(
                "SELECT 1 FROM members WHERE sweep = ? AND key = ?",
                (spec.id, next(iter(spec.configs())).key),
            ).fetchone()
            if row is None or have != len(spec) or first is None:
                con.execute("DELETE FROM members WHERE sweep = ?", (spec.id,))
                con.executemany(
                    "INSERT INTO members (sweep, key, position) VALUES (?, ?, ?)",
                    ((spec.id, c.key, i) for i, c in enumerate(spec.configs())),
                )

    def write(
        self, results: Iterable[dict[str, Any]], sweep: str = "", owner: str | None = None
    ) -> int:
        """Store the results of one chunk in one transaction; return how many were new.

        A key already stored is left as it is (``INSERT OR IGNORE``). ``sweep`` is the id of
        the sweep that ran them; ``owner``'s claims on these keys are released, and its other
        claims renewed, in the same transaction.
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
        with self._write() as con:
            before = con.total_changes
            con.executemany(f"INSERT OR IGNORE INTO runs ({columns}) VALUES ({marks})", rows)
            new = con.total_changes - before
            if owner is not None:
                con.executemany("DELETE FROM claims WHERE key = ?", ((row[0],) for row in rows))
                con.execute("UPDATE claims SET claimed = ? WHERE owner = ?", (time.time(), owner))
            return new

    def claim(self, keys: Iterable[str], owner: str) -> list[str]:
        """Take the keys not stored and not held by another live sweep; return those taken.

        A claim whose owner died (a process killed, even with ``kill -9``) is taken over.
        """
        keys = list(keys)
        if not keys:
            return []
        granted = []
        with self._write() as con:
            con.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (key TEXT PRIMARY KEY)")
            con.execute("DELETE FROM wanted")
            con.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", ((k,) for k in keys))
            done = {k for (k,) in con.execute("SELECT key FROM runs WHERE key IN wanted")}
            held = {
                k: (o, c)
                for k, o, c in con.execute(
                    "SELECT key, owner, claimed FROM claims WHERE key IN wanted"
                )
            }
            now = time.time()
            for k in keys:
                if k in done:
                    continue
                if k in held and held[k][0] != owner and _alive(*held[k]):
                    continue
                granted.append(k)
            con.executemany(
                "INSERT OR REPLACE INTO claims (key, owner, claimed) VALUES (?, ?, ?)",
                ((k, owner, now) for k in granted),
            )
            con.execute("DROP TABLE wanted")
        return granted

    def release(self, owner: str) -> None:
        """Drop every claim of ``owner`` (a sweep that ends, however it ends)."""
        with self._write() as con:
            con.execute("DELETE FROM claims WHERE owner = ?", (owner,))

    # --- reading ------------------------------------------------------------------------------

    def exists(self) -> bool:
        """True if the file exists (whether it is a usable store is checked when it is read)."""
        return os.path.isfile(self.path)

    def done_keys(self) -> set[str]:
        """Keys of every stored configuration (none for a store not created yet)."""
        if not self.exists():
            return set()
        with self._read() as con, self._errors():
            if self._version == 0:  # created this moment by another process: no tables yet
                return set()
            return {k for (k,) in con.execute("SELECT key FROM runs")}

    def _sweep_rows(self, con: sqlite3.Connection) -> list[tuple[Any, ...]]:
        key = "s.id" if self._version >= 2 else "s.name"  # schema 1 keyed sweeps by name
        return con.execute(
            f"SELECT {key}, s.name, s.created, s.total, "
            "(SELECT COUNT(*) FROM members m JOIN runs r ON r.key = m.key "
            f" WHERE m.sweep = {key}) FROM sweeps s ORDER BY s.created, s.name"
        ).fetchall()

    def sweeps(self) -> list[dict[str, Any]]:
        """Every sweep: ``name`` (its label, with the id's first 8 digits when two sweeps share
        a name), ``id``, ``created``, ``total``, ``done`` (stored configurations)."""
        with self._read() as con, self._errors():
            rows = self._sweep_rows(con) if self._version else []
        names = [n for _, n, *_ in rows]
        out = []
        for sid, name, created, total, done in rows:
            label = name if names.count(name) == 1 else f"{name} [{sid[:8]}]"
            out.append({"name": label, "id": sid, "created": created, "total": total, "done": done})
        return out

    def _resolve(self, sweep: str) -> str:
        """The id of the sweep named by a label, a unique name or an id (or its first digits)."""
        sweeps = self.sweeps()
        for s in sweeps:
            if sweep in (s["name"], s["id"]):
                return s["id"]
        by_name = [s for s in sweeps if s["name"].split(" [")[0] == sweep]
        by_id = [s for s in sweeps if len(sweep) >= 4 and s["id"].startswith(sweep)]
        found = by_name or by_id
        if len(found) == 1:
            return found[0]["id"]
        listed = ", ".join(repr(s["name"]) for s in sweeps) or "none stored"
        if len(found) > 1:
            raise ValueError(
                f"The 'sweep' parameter {sweep!r} names {len(found)} sweeps of {self.path!r}: "
                f"{', '.join(repr(s['name']) for s in found)}; give one of those labels or ids."
            )
        raise ValueError(
            f"The 'sweep' parameter must name a sweep of {self.path!r}: {listed}. Got {sweep!r} "
            "instead."
        )

    def spec(self, sweep: str) -> dict[str, Any]:
        """The stored spec of a sweep (JSON: name, seed, grid, axes, record)."""
        sid = self._resolve(sweep)
        with self._read() as con, self._errors():
            col = "id" if self._version >= 2 else "name"
            row = con.execute(f"SELECT spec FROM sweeps WHERE {col} = ?", (sid,)).fetchone()
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

        sid = None if sweep is None else self._resolve(sweep)
        query = "SELECT r.* FROM runs r" + (
            " JOIN members m ON m.key = r.key WHERE m.sweep = ? ORDER BY m.position"
            if sid is not None
            else " ORDER BY r.rowid"
        )
        with self._read() as con, self._errors():
            rows = []
            if self._version:  # an empty file (a store being created) has no runs yet
                cur = con.execute(query, (sid,) if sid is not None else ())
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
            for k in ("seconds", "initlab_version", "numpy_version", "finished_at"):
                rec[k] = r[k]
            rec["backend"] = r.get("backend")
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
        path = os.fspath(check_output_file("Store.export", "path", path))
        suffix = os.path.splitext(path)[1].lower()
        if suffix not in (".csv", ".parquet"):
            raise ValueError(
                "The 'path' parameter of Store.export must end in .csv or .parquet. "
                f"Got {path!r} instead."
            )
        if suffix == ".parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise ImportError(
                    "Parquet export needs pyarrow: pip install 'initlab[dask]' (or pyarrow)."
                ) from None
        df = self.frame(sweep)
        if suffix == ".csv":
            for col in df.columns:
                if df[col].map(lambda v: isinstance(v, list | tuple)).any():
                    df[col] = df[col].map(
                        lambda v: json.dumps(list(v)) if isinstance(v, list | tuple) else v
                    )
            df.to_csv(path, index=False)
            return path
        if "hidden" in df.columns:  # tuples of ints: one list type for Arrow
            df["hidden"] = df["hidden"].map(lambda v: list(v) if isinstance(v, tuple) else v)
        df.to_parquet(path, index=False)
        return path
