"""Sweeps on a Dask cluster: a LocalCluster of two worker processes on 127.0.0.1.

Stand-ins for ``run_chunk`` are top-level functions of this module: the workers (spawned with
this process's ``sys.path``) unpickle them by importing this module. A worker is killed while it
provably holds a chunk: the gated stand-ins wait while a gate file exists (its path is in the
workers' environment), so both workers are mid-chunk when one is killed. Nothing waits on a fixed
sleep: every wait is on a condition, bounded by a timeout.
"""

import os
import signal
import sys
import threading
import time

import pytest

distributed = pytest.importorskip("distributed")

from initlab.sweep import load_spec  # noqa: E402
from initlab.sweep.dask import run_on_dask  # noqa: E402
from initlab.sweep.run import run_chunk as _real_run_chunk  # noqa: E402
from initlab.sweep.run import sweep  # noqa: E402
from initlab.sweep.store import Store  # noqa: E402

TIMEOUT = 30  # seconds: every wait below gives up after this, failing the test rather than hanging
GATE = "INITLAB_TEST_DASK_GATE"


@pytest.fixture
def gate(tmp_path, monkeypatch):
    """The gate file's path, in the environment the workers are spawned with (not created)."""
    path = tmp_path / "gate"
    monkeypatch.setenv(GATE, str(path))
    return path


@pytest.fixture
def client(gate):
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        c.wait_for_workers(2, timeout=TIMEOUT)
        yield c


def _spec(n):
    return {"grid": {"dataset": "xor", "hidden": [4], "iterations": 20, "seed": {"stop": n}}}


def _configs(n):
    spec = load_spec(_spec(n))
    return spec.configs(), spec.record


def _chunked(configs, size):
    return [configs[i : i + size] for i in range(0, len(configs), size)]


def _hold_while_gated():
    deadline = time.monotonic() + TIMEOUT
    while os.path.exists(os.environ[GATE]) and time.monotonic() < deadline:
        time.sleep(0.01)


def _echo_run_chunk(configs, record, backend="auto"):
    """A stand-in for ``run_chunk``: each config's key and the worker process that ran it."""
    _hold_while_gated()
    return [{"key": c.key, "pid": os.getpid()} for c in configs]


def _gated_real_run_chunk(configs, record, backend="auto"):
    _hold_while_gated()
    return _real_run_chunk(configs, record, backend)


def _failing_run_chunk(configs, record, backend="auto"):
    raise ValueError(f"bad chunk of {len(configs)}")


def _executing(dask_worker):
    return [str(ts.key) for ts in dask_worker.state.tasks.values() if ts.state == "executing"]


def _wait(condition, what):
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {TIMEOUT} s waiting for {what}")
        time.sleep(0.02)


def _kill_a_busy_worker(client, gate):
    """Start a thread that waits until both workers hold a chunk (held by ``gate``), kills one
    with SIGKILL, waits for the scheduler to drop it, then opens the gate.

    Returns the thread, a dict filled with the killed worker's address, pid and task, and a list
    that receives the thread's exception, if any.
    """
    killed, errors = {}, []

    def target():
        try:
            _wait(
                lambda: [bool(t) for t in client.run(_executing).values()] == [True, True],
                "both workers to be running a chunk",
            )
            address, tasks = next(iter(client.run(_executing).items()))
            killed.update(address=address, task=tasks[0])
            killed["pid"] = client.run(os.getpid, workers=[address])[address]
            os.kill(killed["pid"], signal.SIGKILL)
            _wait(
                lambda: address not in client.scheduler_info()["workers"],
                "the scheduler to drop the killed worker",
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            gate.unlink()

    gate.touch()
    thread = threading.Thread(target=target)
    thread.start()
    return thread, killed, errors


def _collect(client, chunks, record, **kwargs):
    batches = []
    run_on_dask(client, chunks, record, batches.append, **kwargs)
    return batches


def test_every_config_delivered_once_with_the_real_run_chunk(client):
    configs, record = _configs(12)
    batches = _collect(client, _chunked(configs, 5), record)
    keys = [r["key"] for batch in batches for r in batch]
    assert sorted(keys) == sorted(c.key for c in configs)
    assert len(batches) == 3  # one call per chunk, in the client


def test_a_config_in_two_chunks_is_delivered_once(client, monkeypatch):
    monkeypatch.setattr("initlab.sweep.run.run_chunk", _echo_run_chunk)
    a, b, c = _configs(3)[0]
    batches = _collect(client, [[a, b], [c, b]], None)
    keys = [r["key"] for batch in batches for r in batch]
    assert sorted(keys) == sorted([a.key, b.key, c.key])


def test_a_worker_killed_mid_chunk_loses_nothing(client, gate, monkeypatch):
    monkeypatch.setattr("initlab.sweep.run.run_chunk", _echo_run_chunk)
    configs, record = _configs(12)
    thread, killed, errors = _kill_a_busy_worker(client, gate)
    try:
        batches = _collect(client, _chunked(configs, 2), record)
    finally:
        thread.join(TIMEOUT)
    assert not errors, errors
    keys = [r["key"] for batch in batches for r in batch]
    assert sorted(keys) == sorted(c.key for c in configs)
    assert len(keys) == len(set(keys))
    # The chunk that was running on the killed worker ran again, in another process.
    first = killed["task"].removeprefix("initlab-chunk-")
    (victim,) = [r for batch in batches for r in batch if r["key"] == first]
    assert victim["pid"] != killed["pid"]


# Reliability: A crash loses nothing (a Dask worker killed mid-chunk).
def test_a_sweep_with_a_worker_killed_stores_every_config_once(client, gate, monkeypatch, tmp_path):
    # The acceptance test, end to end: the real run_chunk (held by the gate) and the store.
    monkeypatch.setattr("initlab.sweep.run.run_chunk", _gated_real_run_chunk)
    path = tmp_path / "runs.sqlite"
    thread, killed, errors = _kill_a_busy_worker(client, gate)
    try:
        df = sweep(_spec(8), store=path, executor=client, chunk_size=2)
    finally:
        thread.join(TIMEOUT)
    assert not errors, errors
    assert killed["pid"]
    expected = sorted(c.key for c in _configs(8)[0])
    assert sorted(df["key"]) == expected
    assert sorted(Store(path).frame()["key"]) == expected  # every row of the store, once


def test_a_failing_chunk_raises_naming_its_first_config(client, monkeypatch):
    monkeypatch.setattr("initlab.sweep.run.run_chunk", _failing_run_chunk)
    configs, record = _configs(4)
    with pytest.raises(
        RuntimeError,
        match=rf"config ({configs[0].key}|{configs[2].key}).*"
        r"after 1 retries: ValueError: bad chunk of 2",
    ):
        _collect(client, _chunked(configs, 2), record, retries=1)


@pytest.mark.parametrize(
    ("chunks", "retries", "match"),
    [
        ("empty", 3, "Got an empty chunk at index 0"),
        ("twice", 3, "same config"),
        ("ok", -1, "The 'retries' parameter of run_on_dask must be an int >= 0. Got -1"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(chunks, retries, match):
    configs, record = _configs(2)
    chunks = {"empty": [[]], "twice": [configs, configs[:1]], "ok": [configs]}[chunks]
    with pytest.raises(ValueError, match=match):
        run_on_dask(None, chunks, record, print, retries=retries)


def test_no_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'initlab\[dask\]'"):
        run_on_dask(None, [], None, print)


def test_cli_sweep_on_a_scheduler(client, tmp_path, capsys):
    import json

    from initlab import cli

    spec = tmp_path / "small.toml"
    spec.write_text(
        "[grid]\n"
        "dataset = 'circles'\n"
        "dataset_args = { n_samples = 60, random_state = 1 }\n"
        "hidden = [[4]]\n"
        "init = ['zeros', 'he_normal']\n"
        "iterations = 50\n"
        "seed = { start = 0, stop = 3 }\n"
    )
    store = tmp_path / "runs.sqlite"
    status = cli.main(
        [
            "sweep",
            str(spec),
            "--store",
            str(store),
            "--scheduler",
            client.scheduler.address,
            "--json",
        ]
    )
    assert status == 0
    assert json.loads(capsys.readouterr().out)["configs"] == 6
    assert cli.main(["sweep", str(spec), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "cannot reach" in capsys.readouterr().err


def test_cli_a_chunk_failing_on_the_cluster_is_one_line_exit_3(
    client, tmp_path, capsys, monkeypatch
):
    from initlab import cli

    monkeypatch.setattr("initlab.sweep.run.run_chunk", _failing_run_chunk)
    spec = tmp_path / "small.toml"
    spec.write_text("[grid]\ndataset = 'xor'\nhidden = [4]\niterations = 20\nseed = [0, 1]\n")
    argv = ["sweep", str(spec), "--store", str(tmp_path / "runs.sqlite")]
    assert cli.main([*argv, "--scheduler", client.scheduler.address]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "failed on the cluster after 3 retries: ValueError: bad chunk" in err
    assert "0 of 2 configurations" in err and "run the same command again" in err
