"""Docs that run: the README's examples and every docstring example in the package."""

import doctest
import importlib
import pkgutil
import re
import shlex
from pathlib import Path

import pytest

import initlab
from initlab import cli, initializers

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_readme_python_examples():
    result = doctest.testfile(str(README), module_relative=False, optionflags=FLAGS)
    assert result.attempted > 10 and result.failed == 0


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def test_quick_start_has_exactly_two_commands():
    section = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(commands) == 2 and all(c.strip().count("\n") == 0 for c in commands)
    assert "initlab " in commands[0] and "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "Quick start" in ci  # .ci/run reads the test command from the README


def _console_commands():
    return [
        line[2:]
        for block in _blocks("console")
        for line in block.splitlines()
        if line.startswith("$ initlab")
    ]


@pytest.mark.parametrize("command", _console_commands())
def test_readme_command_line_examples(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    command, _, comment = command.partition("#")  # "# exit 1": the status the example expects
    expected = int(comment.split("exit")[1]) if "exit" in comment else 0
    argv = shlex.split(command)[1:]
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # --version exits through argparse
        status = exc.code
    assert status == expected, capsys.readouterr()


def _modules():
    return sorted(m.name for m in pkgutil.walk_packages(initlab.__path__, "initlab."))


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name, monkeypatch):
    # register_initializer's example adds a scheme: keep the registry as it was.
    registry = initializers.INITIALIZERS
    monkeypatch.setattr(registry, "_entries", dict(registry._entries))
    monkeypatch.setattr(registry, "_names", dict(registry._names))
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS)
    assert result.failed == 0


def test_quick_start_output_is_what_the_tour_prints(tmp_path_factory):
    from _tour import run_tour

    tour = run_tour(tmp_path_factory.getbasetemp())
    assert tour.status == 0, tour.err
    section = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    (excerpt,) = re.findall(r"```text\n(.*?)```", section, flags=re.S)

    # The README's excerpt, line for line, where "..." stands for lines left out; the time
    # taken is the machine's.
    def timeless(text):
        return re.sub(r"studies in \d+ s", "studies in N s", text)

    checker = doctest.OutputChecker()
    assert checker.check_output(timeless(excerpt), timeless(tour.out), doctest.ELLIPSIS), tour.out
