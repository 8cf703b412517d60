"""The command line, run as a user runs it: through the console script and through main()."""

import json
import subprocess
import sys

import pytest

from initlab import cli


def run(argv, capsys):
    status = cli.main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


def test_version_through_the_console_script():
    done = subprocess.run(
        [sys.executable, "-m", "initlab.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("initlab ")


def test_train_json_reproduces_the_course(capsys):
    status, out, _ = run(["train", "--init", "zeros", "--init", "he_normal", "--json"], capsys)
    assert status == 0
    result = json.loads(out)
    by_init = {r["init"]: r for r in result["results"]}
    assert by_init["he_normal"]["train_accuracy"] == pytest.approx(0.99333333, abs=1e-8)
    assert by_init["he_normal"]["test_accuracy"] == 0.96
    assert by_init["zeros"]["train_accuracy"] == 0.5
    assert by_init["he_normal"]["cost"]["0"] == pytest.approx(0.8830537463419761, rel=1e-14)
    assert list(by_init["zeros"]["cost"]) == [str(i) for i in range(0, 15000, 1000)]


def test_train_writes_figures(tmp_path, capsys):
    status, out, _ = run(
        [
            "train",
            "--iterations",
            "300",
            "--init",
            "zeros",
            "--init",
            "normal(std=10)",
            "--out",
            str(tmp_path),
        ],
        capsys,
    )
    assert status == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["boundary_normal_std_10.png", "boundary_zeros.png", "cost.png", "results.json"]
    assert "Results" in out and "normal(std=10)" in out


def test_train_on_a_csv_file(tmp_path, capsys):
    rows = ["x1,x2,label"] + [
        f"{i % 7},{(i * 3) % 5},{'a' if i % 7 > 3 else 'b'}" for i in range(40)
    ]
    (tmp_path / "d.csv").write_text("\n".join(rows))
    status, out, _ = run(
        [
            "train",
            "--data",
            str(tmp_path / "d.csv"),
            "--hidden",
            "8",
            "--iterations",
            "200",
            "--learning-rate",
            "0.1",
            "--json",
        ],
        capsys,
    )
    assert status == 0 and json.loads(out)["n_train"] == 30


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--init", "bogus"], "Unknown init 'bogus'. Valid names:"),
        (["train", "--activation", "relu7"], "Unknown activation 'relu7'. Valid names:"),
        (["train", "--hidden", "10,-1"], "--hidden: sizes must be positive integers. Got -1"),
        (
            ["train", "--learning-rate", "0"],
            "'--learning-rate' parameter of initlab train must be a float > 0. Got '0'",
        ),
        (
            ["train", "--learning-rate", "-1"],
            "'--learning-rate' parameter of initlab train must be a float > 0. Got '-1'",
        ),
        (["train", "--dataset", "mnist"], "invalid choice: 'mnist'"),
        (
            ["train", "--data", "missing.csv"],
            "'--data' parameter of initlab train must be an existing file that can be read. "
            "Got 'missing.csv': no such file",
        ),
        (["gain", "relu7"], "Unknown activation 'relu7'"),
        (["nonsense"], "invalid choice: 'nonsense'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = run(argv, capsys)
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("initlab: error: ") and message in err


def test_a_data_file_with_nan_is_refused(tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("a,b,label\n1,2,0\n3,nan,1\n4,5,0\n")
    status, _, err = run(["train", "--data", str(tmp_path / "bad.csv")], capsys)
    assert status == 2
    assert "missing or non-numeric value at data row 2, column 2" in err


def test_inits_lists_the_catalogue(capsys):
    status, out, _ = run(["inits", "--json"], capsys)
    names = [r["name"] for r in json.loads(out)]
    assert status == 0 and "he_normal" in names and "zero_hadamard" in names


def test_gain(capsys):
    status, out, _ = run(["gain", "tanh", "--json"], capsys)
    result = json.loads(out)
    assert status == 0 and result["gain"] == pytest.approx(5 / 3)
    assert result["variance_preserving_gain"] == pytest.approx(1.5925, abs=1e-4)


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--help"])
    assert exc.value.code == 0 and "examples:" in capsys.readouterr().out
