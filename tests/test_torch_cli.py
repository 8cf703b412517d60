"""``initlab check FILE.py:FACTORY``: real models from the command line, and every way the user's
file can go wrong, each a one-line error with its own exit status (2: the user's mistake, 3: the
user's code crashed), never a traceback and never 0."""

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from initlab import cli  # noqa: E402

pytestmark = pytest.mark.torch

MODEL_FILE = """
import torch
from torch import nn


def deep():
    torch.manual_seed(0)
    layers = []
    for _ in range(20):
        layers += [nn.Linear(64, 64), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(64, 3))


def healthy():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 2))


def language_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Embedding(100, 16), nn.Linear(16, 100))


def with_example():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 2))
    return model, torch.randn(32, 8, generator=torch.Generator().manual_seed(0))


class Crashes(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(x) * (1 / 0)


def crashes():
    return Crashes()


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 2)

    def forward(self, x, mask):
        return self.fc(x * mask)


def two_inputs():
    return TwoInputs()


def broken_factory():
    raise RuntimeError("no GPU here")


def not_a_model():
    return 3
"""


@pytest.fixture
def models(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL_FILE)
    return str(path)


def run(argv, capsys):
    status = cli.main(["check", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_verdicts_give_exit_status_0_and_1(models, capsys):
    status, out, _ = run([f"{models}:deep", "--input-shape", "32,64", "--json"], capsys)
    assert status == 1 and json.loads(out)["verdict"] == "vanishing"
    assert run([f"{models}:healthy", "--input-shape", "32,8"], capsys)[0] == 0


def test_integer_inputs_feed_a_language_model(models, capsys):
    argv = [f"{models}:language_model", "--input-shape", "4,12", "--input-dtype", "long"]
    status, out, err = run([*argv, "--input-range", "0,100", "--json"], capsys)
    assert status in (0, 1), err
    d = json.loads(out)
    assert d["layers"][0]["family"] == "embedding"
    # Without a range there is nothing to draw the ids from: a usage error, not a crash.
    status, _, err = run(argv, capsys)
    assert status == 2 and "--input-range" in err and err.count("\n") == 1


def test_factory_can_return_its_own_example_input(models, capsys):
    status, _, err = run([f"{models}:with_example", "--json"], capsys)
    assert status == 0, err
    status, _, err = run([f"{models}:with_example", "--input-shape", "4,8"], capsys)
    assert status == 2 and "drop --input-shape" in err


@pytest.mark.parametrize(
    "argv, status, message",
    [
        (["{m}:missing", "--input-shape", "4,8"], 2, "has no function 'missing'"),
        (["{m}:not_a_model", "--input-shape", "4,8"], 2, "must return a torch.nn.Module"),
        (["{m}:healthy", "--input-shape", "4,5"], 2, "does not fit the model"),
        (["{m}:healthy"], 2, "--input-shape is needed"),
        (["{m}:healthy", "--input-shape", "4,x"], 2, "--input-shape must be positive"),
        (["{m}:healthy", "--input-shape", "4,8", "--input-range", "1,0"], 2, "LOW < HIGH"),
        (["{m}:two_inputs", "--input-shape", "4,8"], 2, "forward takes 2 inputs (x, mask)"),
        (["{m}:crashes", "--input-shape", "4,8"], 3, "the model's code crashed"),
        (["{m}:broken_factory", "--input-shape", "4,8"], 3, "RuntimeError: no GPU here"),
        (["{m}:healthy", "--input-shape", "100000,3,1024,1024"], 2, "this machine has"),
    ],
)
def test_every_mistake_is_one_line_with_its_own_status(models, capsys, argv, status, message):
    got, _, err = run([a.format(m=models) for a in argv], capsys)
    assert got == status, err
    assert err.count("\n") == 1 and message in err, err
    assert "Traceback" not in err


def test_the_crash_in_forward_names_the_line(models, capsys):
    _, _, err = run([f"{models}:crashes", "--input-shape", "4,8"], capsys)
    assert "ZeroDivisionError" in err and "model.py:" in err


def test_terabytes_are_refused_before_allocating(models, capsys):
    # 100000 x 3 x 1024 x 1024 float32 = 1.26e12 bytes = 1.1 TiB: refused with both numbers,
    # at once.
    _, _, err = run([f"{models}:healthy", "--input-shape", "100000,3,1024,1024"], capsys)
    assert "needs 1.1 TiB" in err and "available" in err


def test_a_file_that_exits_or_crashes_on_import(tmp_path, capsys):
    script = tmp_path / "script.py"
    script.write_text("import sys\nsys.exit(0)\n")
    status, _, err = run([f"{script}:build", "--input-shape", "4,8"], capsys)
    assert status == 2 and "sys.exit(0)" in err and "__main__" in err and err.count("\n") == 1
    broken = tmp_path / "broken.py"
    broken.write_text("import torch\n\nx = undefined_name\n")
    status, _, err = run([f"{broken}:build", "--input-shape", "4,8"], capsys)
    assert status == 3 and "NameError" in err and "broken.py:3" in err and err.count("\n") == 1


def test_the_console_script_exits_with_the_same_status(models):
    # A CI gate reads the process's exit status: run the real console script.
    out = subprocess.run(
        [sys.executable, "-m", "initlab.cli", "check", f"{models}:crashes", "--input-shape", "4,8"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 3 and out.stderr.count("\n") == 1 and not out.stdout


RENDER_FILE = """
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, {tests!r})
import torch
from torch import nn

import torch_models as tm


def tanh_ten_glorot():
    torch.manual_seed(0)
    layers = []
    for _ in range(6):
        lin = nn.Linear(64, 64)
        nn.init.xavier_uniform_(lin.weight, gain=10.0)
        layers += [lin, nn.Tanh()]
    return nn.Sequential(*layers, nn.Linear(64, 10)), torch.randn(32, 64)


def gpt2_std1_embeddings():
    model = tm.gpt2()
    with torch.no_grad():
        model.transformer.wte.weight.normal_(0, 1, generator=torch.Generator().manual_seed(0))
    return model, tm.tokens()
"""


@pytest.mark.parametrize("factory", ["tanh_ten_glorot", "gpt2_std1_embeddings"])
def test_check_output_reads_well_at_80_columns(factory, tmp_path, monkeypatch, capsys):
    # What a person sees in an 80-column terminal: no line longer than 80; a finding's wrapped
    # sentence continues indented under its text (not at column 0), its suggestion after an
    # arrow with its own continuation indented under it; each table's title on one line of its
    # own; no empty row inside the gradients table.
    pytest.importorskip("transformers")
    from pathlib import Path

    path = tmp_path / "render_models.py"
    path.write_text(RENDER_FILE.format(tests=str(Path(__file__).parent)))
    monkeypatch.setenv("COLUMNS", "80")
    status = cli.main(["check", f"{path}:{factory}"])
    lines = capsys.readouterr().out.splitlines()
    assert status == 1
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    first = next(i for i, line in enumerate(lines) if line[:2] in ("x ", "! ", "i "))
    table = next(i for i, line in enumerate(lines) if line.startswith("Layers ("))
    wrapped = 0
    in_suggestion = False
    for line in lines[first:table]:
        if line[:2] in ("x ", "! ", "i "):
            in_suggestion = False
        elif line.startswith("  -> "):
            in_suggestion = True
        elif in_suggestion:
            assert line.startswith("     ") and line[5] != " ", line  # under the text, after ->
            wrapped += 1
        else:
            assert line.startswith("  ") and line[2] != " ", line  # under the sentence
            wrapped += 1
    assert wrapped >= 2  # the findings are long enough to wrap at 80 columns
    assert lines[table].rstrip().endswith("chain)")  # the title whole on its line
    assert all(line.strip() for line in lines)  # no empty row (a table's blank edge)
    assert any(line.startswith("Gradients") for line in lines)
