"""Running sweeps: chunk independence, the store, resume after SIGKILL, the command line.

Tolerance. These small networks train with the compiled kernel (``backend="auto"``), which
computes each network on its own with the same instructions: a configuration gives the same bits
in a stack and alone. With the NumPy backend, a configuration trained in a stack of K networks
and alone (K = 1) goes through the same operations: the engine multiplies each network's
matrices on their own and reduces per network, so the only possible difference is the order of
the sums inside the BLAS kernels (reassociation), a few units of 1e-16 per product. Over a few
hundred to a few thousand iterations of a small, contracting gradient descent such rounding
stays far below 1e-12 relative; we assert rtol = 1e-12 on losses and equality of accuracies,
widths and statuses. A rerun the same way is asserted bit for bit.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import initlab
from initlab.cli import main
from initlab.sweep import Store, load_spec, run_chunk, sweep
from initlab.sweep import run as run_module

RTOL = 1e-12  # see the module docstring

SMALL = {
    "name": "small",
    "grid": {
        "dataset": "circles",
        "dataset_args": {"n_samples": 100, "noise": 0.05, "random_state": 1},
        "test": {"n_samples": 60, "noise": 0.05, "random_state": 2},
        "hidden": [4],
        "activation": ["relu", "tanh"],
        "init": ["zeros", "he_normal"],
        "learning_rate": 0.5,
        "iterations": 200,
        "seed": [0, 1, 2],
    },
    "record": {"target_accuracy": 0.8, "curve_every": 20},
}

FLOATS = ("final_loss", "best_loss", "train_accuracy", "test_accuracy")
VOLATILE = ("seconds", "finished_at")


def assert_same_table(a: pd.DataFrame, b: pd.DataFrame, rtol: float = RTOL) -> None:
    """Same configurations, same metrics: floats within rtol, the rest exactly."""
    a = a.sort_values("key").reset_index(drop=True)
    b = b.sort_values("key").reset_index(drop=True)
    assert list(a["key"]) == list(b["key"])
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        if col in VOLATILE:
            continue
        if col in FLOATS:
            np.testing.assert_allclose(
                a[col].astype(float), b[col].astype(float), rtol=rtol, atol=0
            )
        elif col == "curve":
            for x, y in zip(a[col], b[col]):
                np.testing.assert_allclose(
                    np.array(x, dtype=float), np.array(y, dtype=float), rtol=rtol, atol=0
                )
        else:
            pd.testing.assert_series_equal(a[col], b[col])


def metrics(results):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in results]


# --- run_chunk -----------------------------------------------------------------------------------


def test_run_chunk_stack_equals_each_alone_and_rerun_is_bit_for_bit():
    spec = load_spec(SMALL)
    for members in spec.groups().values():
        stacked = run_chunk(members, spec.record)
        alone = [run_chunk([c], spec.record)[0] for c in members]
        assert [r["key"] for r in stacked] == [c.key for c in members]
        for s, a in zip(stacked, alone):
            np.testing.assert_allclose(s["curve"], a["curve"], rtol=RTOL, atol=0)
            np.testing.assert_allclose(s["final_loss"], a["final_loss"], rtol=RTOL, atol=0)
            for k in ("train_accuracy", "test_accuracy", "iterations_to_target", "status"):
                assert s[k] == a[k], k
            assert s["effective_width"] == a["effective_width"]
        assert metrics(run_chunk(members, spec.record)) == metrics(stacked)


def test_backends_agree_to_rounding_and_the_store_says_which_ran(tmp_path):
    # The two backends sum in different orders: 1e-10 relative over these 200-step runs.
    spec = load_spec(SMALL)
    kernel = sweep(spec, store=tmp_path / "kernel.sqlite", backend="numba")
    reference = sweep(spec, store=tmp_path / "numpy.sqlite", backend="numpy")
    assert_same_table(
        kernel.drop(columns=["backend"]), reference.drop(columns=["backend"]), rtol=1e-10
    )
    assert set(kernel["backend"]) == {f"numba {numba_version()}"}
    assert set(reference["backend"]) == {"numpy"}
    with pytest.raises(ValueError, match=r"'backend' parameter of sweep must be one of"):
        sweep(spec, store=tmp_path / "x.sqlite", backend="cuda")


def numba_version():
    import numba

    return numba.__version__


def test_run_chunk_results_are_complete_and_sensible():
    spec = load_spec(SMALL)
    results = [r for g in spec.groups().values() for r in run_chunk(g, spec.record)]
    assert len(results) == len(spec)
    for r in results:
        assert r["status"] == "done" and r["diverged"] is False and r["diverged_at"] is None
        assert len(r["curve"]) == 200 // 20
        assert r["best_loss"] <= r["curve"][0]
        assert r["versions"] == {
            "initlab": initlab.__version__,
            "numpy": np.__version__,
            "backend": f"numba {numba_version()}",
        }
        if r["config"]["init"] == "zeros":  # every hidden unit equal: width 1, chance level
            assert r["effective_width"] == [1]
            assert r["train_accuracy"] == 0.5 and r["iterations_to_target"] is None
        else:
            assert r["effective_width"] == [4]
    # He starts learn the circles at this learning rate with some seeds
    assert any(r["iterations_to_target"] is not None for r in results)
    for r in results:
        t = r["iterations_to_target"]
        assert t is None or (t % 20 == 0 or t == 200)


def test_run_chunk_minibatch_and_divergence_independent_of_neighbours():
    spec = load_spec(
        {
            "grid": {
                "dataset": "moons",
                "dataset_args": {"n_samples": 64},
                "hidden": [5],
                "activation": "relu",
                "init": ["normal(std=10)", "he_normal"],
                "solver": "sgd",
                "batch_size": 16,
                "learning_rate": [0.05, 1e6],
                "iterations": 30,
                "seed": [0, 1, 2],
            },
            "record": {"curve_every": 5},
        }
    )
    statuses = set()
    for members in spec.groups().values():
        stacked = run_chunk(members, spec.record)
        for s, c in zip(stacked, members):
            a = run_chunk([c], spec.record)[0]
            statuses.add(s["status"])
            for k in ("status", "diverged_at", "train_accuracy", "iterations_to_target"):
                assert s[k] == a[k], k
            np.testing.assert_allclose(
                np.array(s["curve"], dtype=float), np.array(a["curve"], dtype=float), rtol=RTOL
            )
    assert statuses == {"done", "diverged"}


def test_run_chunk_refuses_mixed_groups():
    spec = load_spec(SMALL)
    a, b = list(spec.groups().values())[:2]
    with pytest.raises(ValueError, match="one group"):
        run_chunk([a[0], b[0]], spec.record)


# --- sweep and the store ---------------------------------------------------------------------


def test_sweep_independent_of_chunking(tmp_path):
    one = sweep(SMALL, store=tmp_path / "one.sqlite", chunk_size=1)
    every = sweep(SMALL, store=tmp_path / "all.sqlite")
    assert len(one) == len(load_spec(SMALL)) == 12
    assert list(one["key"]) == [c.key for c in load_spec(SMALL).configs()]
    assert_same_table(one, every)
    again = sweep(SMALL, store=tmp_path / "again.sqlite", chunk_size=1)
    assert_same_table(one, again, rtol=0)  # bit for bit


def test_sweep_skips_done_configs(tmp_path, monkeypatch):
    calls = []
    real = run_module.run_chunk

    def counting(configs, record, backend="auto"):
        calls.extend(c.key for c in configs)
        return real(configs, record, backend)

    monkeypatch.setattr(run_module, "run_chunk", counting)
    path = tmp_path / "runs.sqlite"
    half = {**SMALL, "grid": {**SMALL["grid"], "seed": [0]}}
    sweep(half, store=path, chunk_size=2)
    assert len(calls) == 4
    seen = []
    df = sweep(SMALL, store=path, chunk_size=3, progress=lambda d, t, r: seen.append((d, t)))
    assert len(calls) == 12 and len(set(calls)) == 12  # nothing ran twice
    assert seen[0] == (4, 12) and seen[-1] == (12, 12)
    df2 = sweep(SMALL, store=path)
    assert len(calls) == 12
    assert_same_table(df, df2, rtol=0)
    # Two grids under one name are two sweeps (identified by content), both listed in full.
    listed = sorted((s["name"].split(" [")[0], s["done"], s["total"]) for s in Store(path).sweeps())
    assert listed == [("small", 4, 4), ("small", 12, 12)]


def test_store_writes_each_key_once_and_frames_by_sweep(tmp_path):
    spec = load_spec(SMALL)
    store = Store(tmp_path / "s.sqlite")
    store.register(spec)
    results = run_chunk(spec.groups()[spec.configs()[0].group], spec.record)
    assert store.write(results, sweep="small") == len(results)
    assert store.write(results, sweep="small") == 0
    assert store.done_keys() == {r["key"] for r in results}
    df = store.frame("small")
    assert len(df) == len(results) and df["key"].is_unique
    assert df["hidden"].iloc[0] == (4,)
    with sqlite3.connect(store.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(ValueError, match="'sweep' parameter"):
        store.frame("nope")


# Reliability: Stores fail safe and never mix (two sweeps writing one store at once).
def test_two_writers_do_not_corrupt_the_store(tmp_path):
    path = tmp_path / "shared.sqlite"
    other = {**SMALL, "name": "other", "grid": {**SMALL["grid"], "seed": [2, 3, 4]}}
    errors = []

    def run(spec):
        try:
            sweep(spec, store=path, chunk_size=1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in (SMALL, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n, distinct = con.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM runs").fetchone()
    assert n == distinct == 12 + 12 - 4  # seed 2 is shared by both sweeps
    progress = {s["name"]: (s["done"], s["total"]) for s in Store(path).sweeps()}
    assert progress == {"small": (12, 12), "other": (12, 12)}


# --- resume after SIGKILL ------------------------------------------------------------------------

KILL = {
    "name": "kill",
    "grid": {
        "dataset": "circles",
        "dataset_args": {"n_samples": 100, "noise": 0.05, "random_state": 1},
        "hidden": [4],
        "activation": ["relu", "tanh"],
        "init": ["he_normal", "normal(std=1)"],
        "learning_rate": 0.5,
        "iterations": 1500,
        "seed": {"start": 0, "stop": 15},
    },
    "record": {"curve_every": 100},
}


def _rows(path: Path) -> int:
    try:
        with sqlite3.connect(path, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_resume_after_sigkill_gives_the_uninterrupted_table(tmp_path):
    path = tmp_path / "killed.sqlite"
    code = textwrap.dedent(
        f"""
        import json, sys
        from initlab.sweep import sweep
        sweep(json.loads(sys.argv[1]), store={str(path)!r}, chunk_size=2)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(KILL)], env=env)
    try:
        deadline = time.monotonic() + 60
        while _rows(path) < 6:
            assert proc.poll() is None, "the sweep finished or failed before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    stored = _rows(path)
    assert 6 <= stored < len(load_spec(KILL)), "the kill should land mid-sweep"

    calls = []
    real = run_module.run_chunk

    def counting(configs, record, backend="auto"):
        calls.extend(c.key for c in configs)
        return real(configs, record, backend)

    run_module.run_chunk = counting
    try:
        resumed = sweep(KILL, store=path, chunk_size=2)
    finally:
        run_module.run_chunk = real
    assert len(calls) == len(load_spec(KILL)) - stored  # nothing run twice
    reference = sweep(KILL, store=tmp_path / "straight.sqlite")
    assert len(resumed) == len(load_spec(KILL)) and resumed["key"].is_unique
    assert_same_table(resumed, reference)
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# --- command line ------------------------------------------------------------------------------

SPEC_TOML = """
name = "cli"
[grid]
dataset = "circles"
dataset_args = { n_samples = 100, noise = 0.05, random_state = 1 }
hidden = [4]
activation = ["relu", "tanh"]
init = ["zeros", "he_normal"]
learning_rate = 0.5
iterations = 100
seed = { start = 0, stop = 2 }
[record]
target_accuracy = 0.8
curve_every = 10
"""


def test_cli_sweep_and_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps headers in a narrow terminal
    spec = tmp_path / "grid.toml"
    spec.write_text(SPEC_TOML)
    store = tmp_path / "runs.sqlite"
    assert main(["sweep", str(spec), "--store", str(store), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sweep"] == "cli" and out["configs"] == 8
    assert len(out["summary"]) == 4  # activation x init; seeds are summarized
    zeros = [r for r in out["summary"] if r["init"] == "zeros"]
    assert all(r["median_train_accuracy"] == 0.5 and r["reached_target"] == 0 for r in zeros)

    assert main(["sweep", str(spec), "--store", str(store), "--chunk-size", "3"]) == 0
    text = capsys.readouterr().out
    assert "reached" in text and "reached 0.8" in text and "he_normal" in text

    assert main(["runs", "--store", str(store), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [(s["name"], s["done"], s["total"]) for s in runs["sweeps"]] == [("cli", 8, 8)]
    assert main(["runs", "--store", str(store)]) == 0
    assert "cli" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "'SPEC.toml' parameter of initlab sweep must be an existing file"),
        ("[grid]\nactivation = 'relu'\n", "'dataset' key"),
        ("[grid]\ndataset = 'circles'\nwidth = 3\n", "Unknown key 'width'"),
        ("[grid]\ndataset = 'circles'\nseed = []\n", "'seed'"),
        ("[grid\n", "not valid TOML"),
    ],
)
def test_cli_bad_spec_exits_2_with_one_line(tmp_path, capsys, content, message):
    spec = tmp_path / "bad.toml"
    if content is not None:
        spec.write_text(content)
    store = tmp_path / "runs.sqlite"
    assert main(["sweep", str(spec), "--store", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("initlab: error:") and message in err and "\n" not in err


def test_cli_bad_options_exit_2(tmp_path, capsys):
    assert main(["runs", "--store", str(tmp_path / "missing.sqlite")]) == 2
    assert "no such store" in capsys.readouterr().err
    spec = tmp_path / "grid.toml"
    spec.write_text(SPEC_TOML)
    assert main(["sweep", str(spec), "--chunk-size", "0"]) == 2
    assert "--chunk-size" in capsys.readouterr().err


def test_public_names():
    assert initlab.run_sweep is initlab.sweep.sweep
    assert "sweep" in initlab.__all__ and "run_sweep" in initlab.__all__


def test_record_metrics_subset_and_picklable_unit_of_work():
    import pickle

    spec = load_spec({**SMALL, "record": {"curve_every": 50, "metrics": ["final_loss"]}})
    chunk = spec.groups()[spec.configs()[0].group]
    out = pickle.loads(pickle.dumps(run_chunk))(*pickle.loads(pickle.dumps((chunk, spec.record))))
    for r in out:
        assert r["final_loss"] is not None and r["status"] == "done"
        assert r["curve"] is r["effective_width"] is r["train_accuracy"] is None
        assert r["iterations_to_target"] is None and r["test_accuracy"] is None


def test_two_processes_writing_one_store(tmp_path):
    path = tmp_path / "shared.sqlite"
    a = {**KILL, "name": "a", "grid": {**KILL["grid"], "iterations": 300, "seed": [0, 1, 2, 3]}}
    b = {**a, "name": "b", "grid": {**a["grid"], "seed": [2, 3, 4, 5]}}
    code = "import json, sys\nfrom initlab.sweep import sweep\n"
    code += f"sweep(json.loads(sys.argv[1]), store={str(path)!r}, chunk_size=1)\n"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    procs = [subprocess.Popen([sys.executable, "-c", code, json.dumps(s)], env=env) for s in (a, b)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n, distinct = con.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM runs").fetchone()
    assert n == distinct == 16 + 16 - 8  # seeds 2 and 3 are shared
    progress = {s["name"]: (s["done"], s["total"]) for s in Store(path).sweeps()}
    assert progress == {"a": (16, 16), "b": (16, 16)}
    assert_same_table(Store(path).frame("b"), sweep(b, store=tmp_path / "alone.sqlite"))
