"""The command line under hostile input: every command, every kind of bad value.

Each case runs ``initlab.cli.main`` in-process, in a folder of fixture files (a CSV with
continuous labels, a binary spec, a foreign SQLite database, a corrupt store, ...), and asserts
the promise of the README's "Reliability" section:

- exit status 2 (bad input), or the status named in the case;
- at most three lines on stderr, starting ``initlab: error:``, naming the parameter (the needle);
- no traceback;
- nothing written or changed on disk: the folder's tree and every file's bytes are the same
  before and after.

The needles were written from the issue and the option names before running initlab.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from initlab import cli

SPEC_OK = """
name = "ok"
[grid]
dataset = "xor"
dataset_args = { n_samples = 40 }
hidden = [4]
iterations = 20
seed = [0, 1]
"""


def _toml(grid: str, record: str = "") -> str:
    return f'[grid]\ndataset = "circles"\niterations = 10\n{grid}\n[record]\n{record}\n'


SPECS = {
    "dtype.toml": _toml('dtype = "floaty"'),
    "bigint.toml": _toml("hidden = [100000000000000000000000000000]"),
    "bigiter.toml": '[grid]\ndataset = "circles"\niterations = 100000000000000000000000\n',
    "hugeseed.toml": _toml("seed = { stop = 10000000 }"),
    "bighidden.toml": _toml("hidden = [100000, 100000]"),
    "bigdata.toml": _toml("dataset_args = { n_samples = 5000000000 }"),
    "inflr.toml": _toml("learning_rate = inf"),
    "nanlr.toml": _toml("learning_rate = nan"),
    "hugelr.toml": _toml("learning_rate = 1" + "0" * 400),
    "bigrs.toml": _toml("dataset_args = { random_state = 99999999999 }"),
    "negseed.toml": _toml("seed = -1"),
    "floatseed.toml": _toml("seed = 1.5"),
    "emptygrid.toml": "[grid]\n",
    "unknown.toml": _toml("width = 3"),
    "badinit.toml": _toml('init = "normal(std=nan)"'),
    "badact.toml": _toml('activation = "leaky_relu(slope=abc)"'),
    "hidden0.toml": _toml("hidden = [0]"),
    "emptyhidden.toml": _toml("hidden = []"),
    "momentum.toml": _toml("momentum = inf"),
    "target0.toml": _toml("", "target_accuracy = 0"),
    "targetnan.toml": _toml("", "target_accuracy = nan"),
    "every0.toml": _toml("", "curve_every = 0"),
    "metric.toml": _toml("", 'metrics = ["loss"]'),
    "notoml.toml": "[grid\n",
    "badname.toml": 'name = ""\n' + _toml(""),
    "bignoise.toml": _toml("dataset_args = { noise = -1 }"),
    "ok.toml": SPEC_OK,
}
CSVS = {
    "cont.csv": "a,b,label\n1,2,0.5\n3,4,1.7\n5,6,2.2\n7,8,0.1\n",
    "onerow.csv": "a,b,label\n1,2,x\n3,4,x\n5,6,y\n7,8,x\n9,9,x\n",
    "nan.csv": "a,b,label\n1,2,0\n3,nan,1\n4,5,0\n6,7,1\n",
    "text.csv": "a,b,label\n1,two,0\n3,4,1\n4,5,0\n6,7,1\n",
    "oneclass.csv": "a,b,label\n1,2,0\n3,4,0\n5,6,0\n",
    "onecol.csv": "label\n0\n1\n0\n",
    "empty.csv": "",
    "missing_label.csv": "a,b,label\n1,2,0\n3,4,\n5,6,1\n7,8,0\n",
    "inf.csv": "a,b,label\n1,2,0\n3,inf,1\n4,5,0\n6,7,1\n",
}


def _fixtures(root: Path) -> None:
    for name, text in {**SPECS, **CSVS}.items():
        (root / name).write_text(text)
    (root / "afile").write_text("not a folder\n")
    (root / "folder").mkdir()
    (root / "bin.toml").write_bytes(bytes(range(256)) * 8)
    (root / "bin.csv").write_bytes(bytes(range(256)) * 8)
    (root / "notdb.sqlite").write_text("hello, I am not a database\n")
    con = sqlite3.connect(root / "foreign.sqlite")
    con.execute("CREATE TABLE people (name TEXT)")
    con.execute("INSERT INTO people VALUES ('ada')")
    con.commit()
    con.close()
    good = bytearray((root / "foreign.sqlite").read_bytes())
    good[100:4096] = b"\xff" * (4096 - 100)  # the schema page overwritten
    (root / "corrupt.sqlite").write_bytes(bytes(good))
    (root / "truncated.sqlite").write_bytes((root / "foreign.sqlite").read_bytes()[: 4096 + 50])


def snapshot(root: Path) -> dict[str, str]:
    """Every path under root with the sha256 of its bytes ("dir" for folders)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def world(tmp_path, monkeypatch):
    _fixtures(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("INITLAB_MAX_MEMORY", raising=False)
    return tmp_path


def run_hostile(argv, needle, world, capsys, status=2):
    """Run one hostile case and check every promise; return stderr."""
    before = snapshot(world)
    code = cli.main(argv)
    out = capsys.readouterr()
    err = out.err
    assert code == status, (argv, code, err)
    assert "Traceback" not in err and "Traceback" not in out.out
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 3, err
    assert lines[0].startswith("initlab: error:"), err
    assert needle in err, (needle, err)
    assert snapshot(world) == before, "a refused command wrote or changed something"
    return err


# (argv, needle): the needle names the parameter (or the file) the message must name.
TRAIN = [
    # seeds: the issue's --seed 2**40 and --seed -1
    (["--seed", str(2**40)], "--seed"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "2**40"], "--seed"),
    (["--seed", "abc"], "--seed"),
    (["--seed", "1.5"], "--seed"),
    (["--seed", "nan"], "--seed"),
    (["--data-seed", "-3"], "--data-seed"),
    (["--data-seed", str(2**32)], "--data-seed"),
    (["--test-seed", "99999999999"], "--test-seed"),
    # data
    (["--noise", "nan"], "--noise"),
    (["--noise", "inf"], "--noise"),
    (["--noise", "-0.1"], "--noise"),
    (["--noise", "abc"], "--noise"),
    (["--test-samples", "-4"], "--test-samples"),
    (["--test-samples", "1"], "--test-samples"),
    (["--test-samples", "abc"], "--test-samples"),
    (["--test-size", "2"], "--test-size"),
    (["--test-size", "-0.1"], "--test-size"),
    (["--test-size", "nan"], "--test-size"),
    (["--test-size", "1"], "--test-size"),
    (["--n-samples", "1"], "--n-samples"),
    (["--n-samples", "abc"], "--n-samples"),
    (["--n-samples", "5000000000"], "5,000,000,000 samples"),
    (["--dataset", "mnist"], "--dataset"),
    (["--dataset", "iris2", "--test-size", "0.001"], "test_size"),
    # training
    (["--learning-rate", "0"], "--learning-rate"),
    (["--learning-rate", "-1"], "--learning-rate"),
    (["--learning-rate", "nan"], "--learning-rate"),
    (["--learning-rate", "inf"], "--learning-rate"),
    (["--learning-rate", "abc"], "--learning-rate"),
    (["--iterations", "0"], "--iterations"),
    (["--iterations", "-5"], "--iterations"),
    (["--iterations", "1.5"], "--iterations"),
    (["--iterations", "abc"], "--iterations"),
    (["--iterations", "100000000000"], "100000000000 iterations"),
    (["--iterations", "1e11"], "100000000000 iterations"),
    (["--batch-size", "0"], "--batch-size"),
    (["--batch-size", "-1"], "--batch-size"),
    (["--batch-size", "abc"], "--batch-size"),
    (["--solver", "lbfgs"], "--solver"),
    (["--dtype", "floaty"], "--dtype"),
    (["--print-every", "0"], "--print-every"),
    # network
    (["--hidden", ""], "--hidden"),
    (["--hidden", "10,-1"], "--hidden"),
    (["--hidden", "10,abc"], "--hidden"),
    (["--hidden", "0"], "--hidden"),
    (["--hidden", "10,,5"], "--hidden"),
    (["--hidden", "100000,100000", "--iterations", "10"], "--max-memory"),
    (["--activation", "relu7"], "Unknown activation 'relu7'"),
    (["--activation", "leaky_relu(slope=abc)"], "'slope' parameter of leaky_relu"),
    (["--activation", "leaky_relu(slope=nan)"], "'slope' parameter of leaky_relu"),
    (["--activation", "elu(alpha=inf)"], "'alpha' parameter of elu"),
    (["--activation", "leaky_relu(sope=1)"], "Unknown parameter 'sope'"),
    (["--activation", ""], "'activation'"),
    (["--activation", "relu("], "'activation'"),
    (["--init", "bogus"], "Unknown init 'bogus'"),
    (["--init", "normal(std=-1)"], "'std' parameter of normal"),
    (["--init", "normal(std=nan)"], "'std' parameter of normal"),
    (["--init", "normal(std=abc)"], "'std' parameter of normal"),
    (["--init", "normal(std=1, std=2)"], "'std' twice"),
    (["--init", "normal(1)"], "'init'"),
    (["--init", "normal(std=" + "1" * 2000 + ")"], "at most 1000 characters"),
    (["--init", "normal(std=[1, 2])"], "'std' parameter of normal"),
    (["--init", "orthogonal(gain=0)"], "'gain' parameter of orthogonal"),
    (["--init", "uniform(low=inf)"], "'low' parameter of uniform"),
    (["--init", "normal(std={1: 2})"], "'std'"),
    (["--init", "normal(std=1e308)", "--iterations", "10"], "'init' parameter of MLPClassifier"),
    (["--bias-init", "bogus"], "Unknown init 'bogus'"),
    (["--bias-init", "constant(value=nan)"], "'value' parameter of constant"),
    # files
    (["--data", "missing.csv"], "--data"),
    (["--data", "folder"], "--data"),
    (["--data", "bin.csv"], "'bin.csv'"),
    (["--data", "cont.csv"], "look continuous"),
    (["--data", "onerow.csv"], "only 1 row of class 'y'"),
    (["--data", "nan.csv"], "data row 2, column 2"),
    (["--data", "inf.csv"], "data row 2, column 2"),
    (["--data", "text.csv"], "data row 1, column 2"),
    (["--data", "oneclass.csv"], "single class"),
    (["--data", "onecol.csv"], "at least 2 rows and 2 columns"),
    (["--data", "empty.csv"], "'empty.csv'"),
    (["--data", "missing_label.csv"], "missing label"),
    (["--out", "afile"], "--out"),
    (["--out", "afile/sub"], "--out"),
    (["--max-memory", "abc"], "--max-memory"),
    (["--max-memory", "-5G"], "--max-memory"),
    (["--max-memory", "1K", "--iterations", "10"], "--max-memory allows 1.0 KiB"),
    (["--json", "--bogus"], "unrecognized arguments: --bogus"),
]

CHECK = [
    (["--atol", "nan"], "--atol"),
    (["--atol", "-1"], "--atol"),
    (["--atol", "inf"], "--atol"),
    (["--atol", "abc"], "--atol"),
    (["--seed", "-1"], "--seed"),
    (["--hidden", "100000,100000"], "--max-memory"),
    (["--activation", "leaky_relu(slope=abc)"], "'slope' parameter of leaky_relu"),
    (["--noise", "nan"], "--noise"),
    (["--test-size", "5"], "--test-size"),
    (["--data", "missing.csv"], "--data"),
    (["--data", "cont.csv"], "look continuous"),
    (["--init", "normal(std=-1)"], "'std' parameter of normal"),
    (["--input-shape", "1,2"], "--input-shape"),
    (["--dtype", "float16"], "--dtype"),
]

GAIN = [
    (["relu7"], "Unknown activation 'relu7'"),
    (["leaky_relu(slope=nan)"], "'slope' parameter of leaky_relu"),
    (["leaky_relu(slope=inf)"], "'slope' parameter of leaky_relu"),
    (["leaky_relu(slope=1e999)"], "'slope' parameter of leaky_relu"),
    (["leaky_relu(slope=abc)"], "'slope' parameter of leaky_relu"),
    (["elu(alpha=inf)"], "'alpha' parameter of elu"),
    (["elu(alpha=nan)"], "'alpha' parameter of elu"),
    (["normal(std=1)"], "Unknown activation 'normal'"),
    ([""], "'activation'"),
    (["tanh(x=1)"], "Unknown parameter 'x'"),
    (["(((("], "'activation'"),
    (["relu", "--bogus"], "unrecognized arguments"),
    ([], "the following arguments are required"),
]

SWEEP = [
    (["missing.toml"], "SPEC.toml"),
    (["folder"], "SPEC.toml"),
    (["bin.toml"], "'bin.toml'"),
    (["notoml.toml"], "not valid TOML"),
    (["dtype.toml"], "'dtype' parameter"),
    (["bigint.toml"], "--max-memory"),
    (["bigiter.toml"], "model-iterations"),
    (["hugeseed.toml"], "10,000,000 configurations"),
    (["bighidden.toml"], "--max-memory"),
    (["bigdata.toml"], "'dataset_args' parameter"),
    (["inflr.toml"], "'learning_rate' parameter"),
    (["nanlr.toml"], "'learning_rate' parameter"),
    (["hugelr.toml"], "'learning_rate' parameter"),
    (["bigrs.toml"], "'dataset_args.random_state' parameter"),
    (["negseed.toml"], "'seed' parameter"),
    (["floatseed.toml"], "'seed' parameter"),
    (["emptygrid.toml"], "'dataset' key"),
    (["unknown.toml"], "Unknown key 'width'"),
    (["badinit.toml"], "'init' parameter"),
    (["badact.toml"], "'activation' parameter"),
    (["hidden0.toml"], "'hidden' parameter"),
    (["emptyhidden.toml"], "'hidden' parameter"),
    (["momentum.toml"], "'momentum' parameter"),
    (["target0.toml"], "'target_accuracy' parameter"),
    (["targetnan.toml"], "'target_accuracy' parameter"),
    (["every0.toml"], "'curve_every'"),
    (["metric.toml"], "'metrics'"),
    (["badname.toml"], "'name' parameter"),
    (["bignoise.toml"], "'noise' parameter"),
    (["ok.toml", "--chunk-size", "0"], "--chunk-size"),
    (["ok.toml", "--chunk-size", "abc"], "--chunk-size"),
    (["ok.toml", "--chunk-size", "-1"], "--chunk-size"),
    (["ok.toml", "--scheduler", "not a url"], "--scheduler"),
    (["ok.toml", "--scheduler", "http://x:1"], "--scheduler"),
    (["ok.toml", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler"),
    (["ok.toml", "--scheduler", "tcp://host:99999"], "--scheduler"),
    (["ok.toml", "--store", "foreign.sqlite"], "not an initlab store"),
    (["ok.toml", "--store", "notdb.sqlite"], "not an SQLite database"),
    (["ok.toml", "--store", "afile"], "not an SQLite database"),
    (["ok.toml", "--store", "corrupt.sqlite"], "'corrupt.sqlite'"),
    (["ok.toml", "--store", "truncated.sqlite"], "truncated"),
    (["ok.toml", "--store", "nodir/s.sqlite"], "no such folder"),
    (["ok.toml", "--store", "afile/s.sqlite"], "--store"),
    (["ok.toml", "--store", "folder"], "--store"),
    (["ok.toml", "--backend", "cuda"], "--backend"),
    (["ok.toml", "--max-memory", "1K"], "--max-memory allows 1.0 KiB"),
    (["ok.toml", "--max-memory", "lots"], "--max-memory"),
    ([], "the following arguments are required"),
]

RUNS = [
    (["--store", "missing.sqlite"], "no such store"),
    (["--store", "foreign.sqlite"], "not an initlab store"),
    (["--store", "notdb.sqlite"], "not an SQLite database"),
    (["--store", "corrupt.sqlite"], "'corrupt.sqlite'"),
    (["--store", "truncated.sqlite"], "truncated"),
    (["--store", "folder"], "no such store"),
    (["--store", "foreign.sqlite", "--export", "folder"], "--export"),
    (["--store", "foreign.sqlite", "--export", "x.xlsx"], "--export"),
    (["--store", "foreign.sqlite", "--export", "afile/x.csv"], "--export"),
    (["--store", "foreign.sqlite", "--export", "out.csv"], "not an initlab store"),
    (["--store", "foreign.sqlite", "--sweep", "x"], "--sweep goes with --export"),
    (["--bogus"], "unrecognized arguments"),
]

REPORT = [
    (["missing"], "no such folder 'missing'"),
    (["afile"], "neither a folder nor a sweep store"),
    (["notdb.sqlite"], "not an SQLite database"),
    (["foreign.sqlite"], "not an initlab store"),
    (["corrupt.sqlite"], "'corrupt.sqlite'"),
    (["truncated.sqlite"], "truncated"),
    (["foreign.sqlite", "--out", "folder"], "--out"),
    (["foreign.sqlite", "--out", "afile/r.html"], "--out"),
    (["folder", "--sweep", "x"], "--sweep"),
    (["folder", "--x", "init"], "--x"),
    ([], "the following arguments are required"),
]

STUDY = [
    (["nope"], "invalid choice: 'nope'"),
    (["symmetry", "--size", "huge"], "--size"),
    (["symmetry", "--seed", "-1"], "--seed"),
    (["symmetry", "--seed", "abc"], "--seed"),
    (["symmetry", "--seed", str(2**40)], "--seed"),
    (["symmetry", "--out", "afile"], "--out"),
    (["symmetry", "--out", "afile/x"], "--out"),
]

CLAIMS = [
    (["--size", "big"], "--size"),
    (["--seed", "2**40"], "--seed"),
    (["--seed", "-1"], "--seed"),
    (["--out", "x"], "unrecognized arguments: --out"),
]

TOUR = [
    (["--out", "afile"], "--out"),
    (["--out", "afile/sub"], "--out"),
    (["--seed", "-1"], "--seed"),
    (["--size", "big"], "--size"),
]

INITS = [
    (["--bogus"], "unrecognized arguments"),
    (["extra"], "unrecognized arguments: extra"),
]

TOP = [
    (["nonsense"], "invalid choice: 'nonsense'"),
    (["--bogus"], "unrecognized arguments"),
    (["train", "--iterations"], "--iterations: expected one argument"),
]

CASES = [
    *((["train", *a], n) for a, n in TRAIN),
    *((["check", *a], n) for a, n in CHECK),
    *((["gain", *a], n) for a, n in GAIN),
    *((["sweep", *a], n) for a, n in SWEEP),
    *((["runs", *a], n) for a, n in RUNS),
    *((["report", *a], n) for a, n in REPORT),
    *((["study", *a], n) for a, n in STUDY),
    *((["claims", *a], n) for a, n in CLAIMS),
    *((["tour", *a], n) for a, n in TOUR),
    *((["inits", *a], n) for a, n in INITS),
    *TOP,
]


def test_the_corpus_covers_every_command_with_150_cases():
    assert len(CASES) >= 150
    commands = {argv[0] for argv, _ in CASES}
    assert {"train", "check", "gain", "sweep", "runs", "report", "study", "claims", "tour"} <= (
        commands
    )


# Reliability: One-line errors.
# Reliability: Outputs checked first (--out, --export, --store, --data).
@pytest.mark.parametrize(("argv", "needle"), CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_hostile_input_is_one_line_exit_2_and_writes_nothing(argv, needle, world, capsys):
    run_hostile(argv, needle, world, capsys)


def test_check_sizes_what_it_does_not_what_training_would(capsys):
    # check diagnoses the start: nothing trains, so 1e11 iterations (745 GiB of loss history for
    # train) cost it nothing and are not refused; a network too big to draw still is, named
    # as the start.
    assert cli.main(["check", "--iterations", "1e11", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "healthy"
    assert cli.main(["check", "--hidden", "100000,100000"]) == 2
    err = capsys.readouterr().err
    assert "MLPClassifier's start" in err and "1 iteration)" in err and "--max-memory" in err


def test_no_command_prints_help_and_exits_2(world, capsys):
    assert cli.main([]) == 2
    assert "usage: initlab" in capsys.readouterr().out


# --- internal errors, the real console script, a closed pipe --------------------------------


def _boom(args):
    raise RuntimeError("kaboom\nsecond line of a long message")


# Reliability: Exit statuses (3, and --debug anywhere on the line).
@pytest.mark.parametrize("where", ["before", "after"])
def test_an_internal_error_is_one_line_exit_3_and_debug_shows_the_traceback(
    where, monkeypatch, capsys
):
    monkeypatch.setattr(cli, "cmd_inits", _boom)
    assert cli.main(["inits"]) == cli.EXIT_INTERNAL == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("initlab: internal error: RuntimeError: kaboom (rerun with --debug")
    assert cli.ISSUES_URL in err
    argv = ["--debug", "inits"] if where == "before" else ["inits", "--debug"]
    assert cli.main(argv) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "_boom" in err
    assert err.strip().splitlines()[-1].startswith("initlab: internal error: RuntimeError")


def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("initlab")
    return [str(script)] if script.exists() else [sys.executable, "-m", "initlab.cli"]


# Reliability: One-line errors (the real console script). Reliability: Exit statuses (2).
def test_the_console_script_prints_one_line_on_stderr_and_nothing_on_stdout(tmp_path):
    done = subprocess.run(
        [*_console_script(), "train", "--seed", str(2**40)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--seed" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_internal_error_in_a_real_process_exits_3_without_a_traceback(tmp_path):
    code = (
        "import sys, initlab.cli as c\n"
        "def boom(a):\n    raise KeyError('lost')\n"
        "c.cmd_inits = boom\n"
        "sys.argv = ['initlab', *sys.argv[1:]]\n"
        "sys.exit(c.main())\n"
    )
    plain = subprocess.run(
        [sys.executable, "-c", code, "inits"], capture_output=True, text=True, check=False
    )
    assert plain.returncode == 3 and plain.stderr.count("\n") == 1
    assert "Traceback" not in plain.stderr and "KeyError: 'lost'" in plain.stderr
    debug = subprocess.run(
        [sys.executable, "-c", code, "inits", "--debug"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert debug.returncode == 3 and "Traceback (most recent call last)" in debug.stderr


# Reliability: Exit statuses (141).
def test_a_closed_pipe_ends_quietly_with_141():
    for args in (["inits"], ["inits", "--json"]):
        proc = subprocess.Popen(
            [*_console_script(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        proc.stdout.close()  # the reader went away before reading anything
        err = proc.stderr.read()
        proc.stderr.close()
        assert proc.wait(timeout=60) == 141 and err == b""


def test_every_reliability_promise_of_the_readme_is_backed_by_a_test():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Reliability", 1)[1].split("\n## ", 1)[0]
    promises = re.findall(r"^- \*\*(.+?)\.\*\*", section, flags=re.M)
    assert len(promises) >= 8
    comments = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    for promise in promises:
        assert f"Reliability: {promise}" in comments, promise
