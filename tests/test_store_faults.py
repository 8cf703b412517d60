"""The sweep store under faults: corrupt, truncated, foreign, read-only, a full disk, kill -9 at
several moments, SIGINT, SIGTERM, and two identical sweeps at once.

Every resumed sweep is compared with one uninterrupted run of the same spec, bit for bit: these
small networks train with the compiled kernel, which computes each network on its own with the
same instructions whatever stack it is in (test_sweep_run.py's docstring), so a configuration's
numbers cannot depend on where the interruption fell.

Faults that need a real process (a kill, a signal) run the real console script in a subprocess;
a ``sitecustomize`` module put on its PYTHONPATH by the test holds it at the chosen moment (inside
a write transaction, for example) and writes a marker file, so that the kill lands exactly
there. Read-only folders and full disks are real mounts (a read-only bind mount, a small tmpfs);
those tests are skipped, saying why, where mounting is not allowed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from initlab.cli import main
from initlab.sweep import Store, load_spec, sweep
from initlab.sweep import run as run_module
from initlab.sweep.store import APPLICATION_ID, SCHEMA_VERSION

SPEC = {
    "name": "faults",
    "grid": {
        "dataset": "circles",
        "dataset_args": {"n_samples": 80, "noise": 0.05, "random_state": 1},
        "hidden": [4],
        "activation": ["relu", "tanh"],
        "init": ["he_normal", "normal(std=1)"],
        "learning_rate": 0.5,
        "iterations": 300,
        "seed": {"start": 0, "stop": 4},
    },
    "record": {"target_accuracy": 0.8, "curve_every": 10},
}
N = 16
SRC = str(Path(__file__).parents[1] / "src")
VOLATILE = ("seconds", "finished_at")


def spec_toml(path: Path, spec: dict = SPEC) -> Path:
    g = spec["grid"]
    path.write_text(
        textwrap.dedent(
            f"""
            name = "{spec["name"]}"
            [grid]
            dataset = "{g["dataset"]}"
            dataset_args = {{ n_samples = 80, noise = 0.05, random_state = 1 }}
            hidden = [4]
            activation = ["relu", "tanh"]
            init = ["he_normal", "normal(std=1)"]
            learning_rate = 0.5
            iterations = {g["iterations"]}
            seed = {{ start = 0, stop = 4 }}
            [record]
            target_accuracy = 0.8
            curve_every = {spec["record"]["curve_every"]}
            """
        )
    )
    return path


def same_bits(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """The same configurations with the same numbers, bit for bit (timings aside)."""
    a = a.sort_values("key").reset_index(drop=True).drop(columns=list(VOLATILE))
    b = b.sort_values("key").reset_index(drop=True).drop(columns=list(VOLATILE))
    assert a["key"].is_unique and len(a) == N
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("reference") / "straight.sqlite"
    return sweep(SPEC, store=path, chunk_size=2)


def rows(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]


def integrity(path: Path) -> str:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        return con.execute("PRAGMA integrity_check").fetchone()[0]


# --- a real process held at a chosen moment ------------------------------------------------

HOOK = """
import contextlib, os, sys, time

moment = os.environ.get("INITLAB_TEST_MOMENT")
marker = os.environ.get("INITLAB_TEST_MARKER")
if moment:
    import initlab.sweep.store as st

    which, _, nth = moment.partition(":")  # register, claim, write, after-write; the Nth call
    nth = int(nth or 1)
    calls = {"n": 0, "inside": False}
    orig_write = st.Store._write
    name = "write" if which == "after-write" else which
    method = getattr(st.Store, name)

    def hold():
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(120)

    def wrapped(self, *args, **kwargs):
        calls["inside"] = True
        try:
            out = method(self, *args, **kwargs)
        finally:
            calls["inside"] = False
        if which == "after-write":
            calls["n"] += 1
            if calls["n"] == nth:
                hold()  # committed: between chunks
        return out

    @contextlib.contextmanager
    def held_write(self):
        with orig_write(self) as con:
            yield con
            if calls["inside"] and which != "after-write":
                calls["n"] += 1
                if calls["n"] == nth:
                    hold()  # inside the transaction: written, not committed

    setattr(st.Store, name, wrapped)
    st.Store._write = held_write

log = os.environ.get("INITLAB_TEST_LOG")
if log:
    import initlab.sweep.run as run

    barrier = os.environ["INITLAB_TEST_BARRIER"]
    open(os.path.join(barrier, str(os.getpid())), "w").close()
    deadline = time.monotonic() + 60
    while len(os.listdir(barrier)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)  # both processes alive before either starts
    real = run.run_chunk

    def logged(configs, record, backend="auto"):
        out = real(configs, record, backend)
        time.sleep(0.5)  # long enough for the other process to take the next chunk
        with open(log, "a") as f:
            f.writelines(c.key + "\\n" for c in configs)
        return out

    run.run_chunk = logged
"""


def _console(args: list[str], env: dict[str, str], hooks: Path) -> subprocess.Popen:
    script = Path(sys.executable).with_name("initlab")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "initlab.cli"]
    env = {**os.environ, **env, "PYTHONPATH": f"{hooks}{os.pathsep}{SRC}"}
    return subprocess.Popen(
        cmd + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture
def hooks(tmp_path):
    folder = tmp_path / "hooks"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(HOOK)
    return folder


def _held(tmp_path, hooks, moment):
    """Start `initlab sweep` held at ``moment``; return the process once it is held there."""
    marker = tmp_path / "held"
    path = tmp_path / "runs.sqlite"
    proc = _console(
        [
            "sweep",
            str(spec_toml(tmp_path / "grid.toml")),
            "--store",
            str(path),
            "--chunk-size",
            "2",
            "--json",
        ],
        {"INITLAB_TEST_MOMENT": moment, "INITLAB_TEST_MARKER": str(marker)},
        hooks,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep never reached the moment"
        time.sleep(0.02)
    return proc, path


def _resume_counting(path, monkeypatch):
    calls = []
    real = run_module.run_chunk

    def counting(configs, record, backend="auto"):
        calls.extend(c.key for c in configs)
        return real(configs, record, backend)

    monkeypatch.setattr(run_module, "run_chunk", counting)
    return sweep(SPEC, store=path, chunk_size=2), calls


# Reliability: A crash loses nothing (kill -9 at four moments, then resume bit for bit).
@pytest.mark.parametrize(
    ("moment", "stored"),
    [
        ("register", 0),  # registering the sweep, before anything runs
        ("claim:3", 4),  # taking the third chunk: two chunks stored
        ("write:3", 4),  # storing the third chunk: inside its transaction
        ("after-write:5", 10),  # between chunks, five stored
    ],
)
def test_kill_9_at_any_moment_then_resume_gives_the_uninterrupted_table(
    moment, stored, tmp_path, hooks, reference, monkeypatch
):
    proc, path = _held(tmp_path, hooks, moment)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert integrity(path) == "ok"
    assert rows(path) == stored  # what was committed, and nothing of what was not
    resumed, calls = _resume_counting(path, monkeypatch)
    assert len(calls) == N - stored and len(set(calls)) == len(calls)  # nothing run twice
    same_bits(resumed, reference)
    with sqlite3.connect(path) as con:  # the dead sweep's claims were taken over and released
        assert con.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0


# Reliability: A crash loses nothing (Ctrl-C, SIGTERM). Reliability: Exit statuses (130, 143).
@pytest.mark.parametrize(
    ("sig", "status", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_sigint_and_sigterm_stop_with_one_line_and_resume(
    sig, status, word, tmp_path, hooks, reference, monkeypatch
):
    proc, path = _held(tmp_path, hooks, "write:2")  # inside the second chunk's transaction
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status
    assert err.strip() == f"initlab: {word}" and "Traceback" not in err
    assert integrity(path) == "ok" and rows(path) == 2  # the open transaction rolled back
    with sqlite3.connect(path) as con:  # the interrupted sweep released its claims
        assert con.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
    resumed, calls = _resume_counting(path, monkeypatch)
    assert len(calls) == N - 2
    same_bits(resumed, reference)


# Reliability: Stores fail safe and never mix (two identical sweeps share the work).
def test_two_identical_sweeps_at_once_share_the_work(tmp_path, hooks, reference):
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    path = tmp_path / "shared.sqlite"
    spec = spec_toml(tmp_path / "grid.toml")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [
        _console(
            ["sweep", str(spec), "--store", str(path), "--chunk-size", "2", "--json"],
            {"INITLAB_TEST_LOG": str(log), "INITLAB_TEST_BARRIER": str(barrier)},
            hooks,
        )
        for log in logs
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert all(json.loads(o)["configs"] == N for o, _ in outs)
    ran = [log.read_text().split() if log.exists() else [] for log in logs]
    assert sorted(ran[0] + ran[1]) == sorted(reference["key"])  # every config once in all
    assert ran[0] and ran[1], "both processes should have taken part of the work"
    assert integrity(path) == "ok"
    same_bits(Store(path).frame("faults"), reference)


# --- files that are not usable stores ------------------------------------------------------


@pytest.fixture(scope="module")
def finished_once(tmp_path_factory):
    path = tmp_path_factory.mktemp("finished") / "done.sqlite"
    sweep(SPEC, store=path, chunk_size=4)
    with sqlite3.connect(path) as con:  # everything in the main file, as a user would copy it
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def finished(tmp_path, finished_once):
    path = tmp_path / "done.sqlite"
    shutil.copyfile(finished_once, path)
    return path


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "corrupt":
        page = int.from_bytes(data[16:18])
        for p in range(1, len(data) // page):  # every page but the header's: garbage
            data[p * page : (p + 1) * page] = os.urandom(page)
        path.write_bytes(bytes(data))
    elif how == "not sqlite":
        path.write_bytes(os.urandom(len(data)))


# Reliability: Stores fail safe and never mix (damaged files reported, left alone).
@pytest.mark.parametrize("how", ["truncated", "corrupt", "not sqlite"])
@pytest.mark.parametrize("command", ["runs", "report", "sweep", "export"])
def test_a_damaged_store_is_reported_as_such_and_left_alone(
    how, command, finished, tmp_path, capsys
):
    for suffix in ("-wal", "-shm"):  # a copy of the file alone, as a user would move it
        Path(f"{finished}{suffix}").unlink(missing_ok=True)
    _damage(finished, how)
    before = finished.read_bytes()
    argv = {
        "runs": ["runs", "--store", str(finished)],
        "report": ["report", str(finished), "--out", str(tmp_path / "r.html")],
        "sweep": ["sweep", str(spec_toml(tmp_path / "g.toml")), "--store", str(finished)],
        "export": ["runs", "--store", str(finished), "--export", str(tmp_path / "x.csv")],
    }[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    word = {"truncated": "truncated", "corrupt": "corrupt", "not sqlite": "not an SQLite"}[how]
    assert word in err and str(finished) in err
    assert finished.read_bytes() == before
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "x.csv").exists()


# Reliability: Stores fail safe and never mix (runs and report open read-only).
def test_read_only_commands_open_a_store_read_only(finished, tmp_path, capsys):
    def state():
        with sqlite3.connect(f"file:{finished}?mode=ro", uri=True) as con:
            return (
                sorted(n for (n,) in con.execute("SELECT name FROM sqlite_master")),
                con.execute("PRAGMA journal_mode").fetchone()[0],
                con.execute("PRAGMA application_id").fetchone()[0],
                con.execute("PRAGMA user_version").fetchone()[0],
            )

    before, data = state(), finished.read_bytes()
    assert before[2:] == (APPLICATION_ID, SCHEMA_VERSION)
    assert main(["runs", "--store", str(finished), "--json"]) == 0
    assert main(["report", str(finished), "--out", str(tmp_path / "r.html")]) == 0
    assert main(["runs", "--store", str(finished), "--export", str(tmp_path / "x.csv")]) == 0
    capsys.readouterr()
    assert state() == before and finished.read_bytes() == data


def test_a_store_in_a_missing_folder_is_refused_before_any_work(tmp_path, capsys):
    path = tmp_path / "nowhere" / "runs.sqlite"
    assert main(["sweep", str(spec_toml(tmp_path / "g.toml")), "--store", str(path)]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert not path.parent.exists()


V1 = """
CREATE TABLE sweeps (name TEXT PRIMARY KEY, spec TEXT NOT NULL, created TEXT NOT NULL,
                     total INTEGER NOT NULL);
CREATE TABLE members (sweep TEXT NOT NULL, key TEXT NOT NULL, position INTEGER NOT NULL,
                      PRIMARY KEY (sweep, key));
CREATE TABLE runs (key TEXT PRIMARY KEY, sweep TEXT NOT NULL, grp TEXT NOT NULL,
    config TEXT NOT NULL, status TEXT NOT NULL, final_loss REAL, best_loss REAL,
    train_accuracy REAL, test_accuracy REAL, iterations_to_target INTEGER, diverged INTEGER,
    diverged_at INTEGER, effective_width TEXT, curve TEXT, seconds REAL, initlab_version TEXT,
    numpy_version TEXT, finished_at TEXT NOT NULL, backend TEXT);
"""


def _first_schema_store(path: Path, finished: Path, seed: int, key: str | None = None) -> None:
    """A store as initlab wrote it before stores failed safe: sweeps keyed by name, no marks,
    one sweep 'old' (the finished sweep's spec with another seed) holding one run."""
    with sqlite3.connect(finished) as src:
        spec = json.loads(src.execute("SELECT spec FROM sweeps").fetchone()[0])
        spec = json.dumps({**spec, "name": "old", "seed": seed})
        run = src.execute("SELECT * FROM runs LIMIT 1").fetchone()
    key = key or run[0]
    con = sqlite3.connect(path)
    con.executescript(V1)
    con.execute("INSERT INTO sweeps VALUES ('old', ?, '2024-01-01T00:00:00+00:00', 1)", (spec,))
    con.execute("INSERT INTO members VALUES ('old', ?, 0)", (key,))
    con.execute(f"INSERT INTO runs VALUES ({', '.join('?' * len(run))})", (key, "old", *run[2:]))
    con.commit()
    con.close()


def test_a_store_of_the_first_schema_is_read_and_upgraded(finished, tmp_path, capsys):
    old = tmp_path / "old.sqlite"
    _first_schema_store(old, finished, seed=7)  # another sweep's content
    assert main(["runs", "--store", str(old), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["sweeps"]
    assert [(s["name"], s["done"], s["total"]) for s in listed] == [("old", 1, 1)]
    assert main(["sweep", str(spec_toml(tmp_path / "g.toml")), "--store", str(old), "--json"]) == 0
    capsys.readouterr()
    store = Store(old)
    assert sorted((s["name"], s["done"]) for s in store.sweeps()) == [("faults", N), ("old", 1)]
    with sqlite3.connect(old) as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


# --- read-only places and a full disk: real mounts ------------------------------------------


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip() or 'mount failed'})")


def _umount(path: Path) -> None:
    import gc

    gc.collect()  # a Store no longer referenced closes its SQLite connection, freeing the mount
    for _ in range(50):
        if subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.1)  # a closing file can keep it busy for a moment
    # Still busy: detach it anyway (lazy), so that no read-only mount outlives the test and
    # breaks pytest's cleanup of its temporary folders in a later session.
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@pytest.fixture
def read_only(tmp_path, finished_once):
    """A folder holding a finished store, then made read-only (a bind mount remounted ro)."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    folder = tmp_path / "ro"
    folder.mkdir()
    shutil.copyfile(finished_once, folder / "runs.sqlite")
    _mount("--bind", str(folder), str(folder))
    try:
        _mount("-o", "remount,ro,bind", str(folder))
    except BaseException:
        _umount(folder)
        raise
    yield folder
    _umount(folder)


# Reliability: Stores fail safe and never mix (a read-only file system).
def test_a_store_on_a_read_only_file_system_is_read_and_not_written(
    read_only, tmp_path, capsys, reference
):
    path = read_only / "runs.sqlite"
    before = {p.name: p.read_bytes() for p in read_only.iterdir()}
    assert main(["runs", "--store", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sweeps"][0]["done"] == N
    assert main(["report", str(path), "--out", str(tmp_path / "r.html")]) == 0
    capsys.readouterr()
    same_bits(Store(path).frame("faults"), reference)
    assert main(["sweep", str(spec_toml(tmp_path / "g.toml")), "--store", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--store" in err and "read-only file system" in err
    assert {p.name: p.read_bytes() for p in read_only.iterdir()} == before


def test_a_read_only_store_file_in_a_writable_folder_is_not_written(tmp_path, finished, capsys):
    path = finished
    _mount("--bind", str(path), str(path))
    try:
        _mount("-o", "remount,ro,bind", str(path))
        before = path.read_bytes()
        assert main(["runs", "--store", str(path)]) == 0
        assert main(["sweep", str(spec_toml(tmp_path / "g.toml")), "--store", str(path)]) == 2
        assert "read-only file system" in capsys.readouterr().err
        assert path.read_bytes() == before
    finally:
        _umount(path)


@pytest.fixture
def small_disk(tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    _mount("-t", "tmpfs", "-o", "size=160k", "tmpfs", str(folder))
    yield folder
    _umount(folder)


LONG = {**SPEC, "record": {**SPEC["record"], "curve_every": 1}}  # 300-point curves: big rows


# Reliability: A full disk.
def test_a_full_disk_stops_the_sweep_with_a_message_and_the_rerun_resumes(
    small_disk, tmp_path, capsys, monkeypatch
):
    # The estimate would refuse this sweep up front (next test); here the disk fills anyway.
    monkeypatch.setattr(run_module, "check_disk", lambda *a, **k: None)
    path = small_disk / "runs.sqlite"
    spec = tmp_path / "long.toml"
    spec_toml(spec, LONG)
    assert main(["sweep", str(spec), "--store", str(path), "--chunk-size", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "disk is full" in err and "resume" in err
    assert "Traceback" not in err
    assert integrity(path) == "ok"
    kept = rows(path)
    assert 0 < kept < N, "the disk should fill mid-sweep"
    assert f"{kept} of {N} configurations" in err
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
    calls = []
    real = run_module.run_chunk
    monkeypatch.setattr(
        run_module, "run_chunk", lambda c, r, b="auto": calls.extend(c) or real(c, r, b)
    )
    assert main(["sweep", str(spec), "--store", str(path), "--chunk-size", "2", "--json"]) == 0
    capsys.readouterr()
    assert len(calls) == N - kept
    straight = sweep(LONG, store=tmp_path / "straight.sqlite", chunk_size=2)
    a = Store(path).frame("faults").sort_values("key").reset_index(drop=True)
    b = straight.sort_values("key").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        a.drop(columns=list(VOLATILE)), b.drop(columns=list(VOLATILE)), check_exact=True
    )


# Reliability: Too big for this machine (the disk).
def test_a_sweep_too_big_for_the_disk_is_refused_before_any_work(small_disk, tmp_path, capsys):
    spec = tmp_path / "long.toml"
    spec_toml(spec, {**LONG, "grid": {**LONG["grid"], "iterations": 3000}})
    path = small_disk / "runs.sqlite"
    assert main(["sweep", str(spec), "--store", str(path)]) == 2
    err = capsys.readouterr().err
    assert "would write about" in err and "free" in err and err.count("\n") == 1
    assert list(small_disk.iterdir()) == []  # refused before anything was written


def test_claims_of_a_dead_process_are_taken_over(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.prepare()
    spec = load_spec(SPEC)
    keys = [c.key for c in spec.configs()[:3]]
    dead = f"{os.uname().nodename}:999999999:1:deadbeef"  # no such pid
    with sqlite3.connect(store.path) as con:
        con.executemany(
            "INSERT INTO claims VALUES (?, ?, ?)", [(k, dead, time.time()) for k in keys]
        )
    from initlab.sweep.store import _ACTIVE, new_owner

    me = new_owner()
    _ACTIVE.add(me)
    try:
        assert store.claim(keys, me) == keys
        other = new_owner()  # a live sweep of this very process
        _ACTIVE.add(other)
        assert store.claim(keys, other) == []
    finally:
        _ACTIVE.discard(me)
        _ACTIVE.discard(other)
    np.testing.assert_equal(sorted(keys), sorted(store.claim(keys, new_owner())))  # both ended


def test_a_first_schema_sweep_run_again_gets_keys_that_cover_its_record(
    finished, tmp_path, reference
):
    # The same content stored by the first schema, under keys derived without the [record]
    # table: running it again must list the new keys and their results, not the old rows.
    old = tmp_path / "old.sqlite"
    _first_schema_store(old, finished, seed=0, key="00000000deadbeef")
    same_bits(sweep(SPEC, store=old, chunk_size=4), reference)
    assert [(s["name"], s["done"], s["total"]) for s in Store(old).sweeps()] == [("faults", N, N)]


def test_an_empty_file_is_a_store_with_no_sweeps_yet(tmp_path, capsys):
    # What another process sees while a fresh store is being created: a file with no tables.
    path = tmp_path / "new.sqlite"
    path.write_bytes(b"")
    assert Store(path).sweeps() == [] and Store(path).done_keys() == set()
    assert len(Store(path).frame()) == 0
    assert main(["runs", "--store", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sweeps"] == []
    assert path.read_bytes() == b""
