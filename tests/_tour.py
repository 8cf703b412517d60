"""The real ``initlab tour``, run once per test session and shared by the tests that read it
(the terminal output, the report in a browser, the README's excerpt).

Not a test module. It runs the installed console script as a new user would, in an empty folder
with the default ``--out``, in a terminal of 80 columns.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tour:
    status: int
    out: str
    err: str
    cwd: Path

    @property
    def folder(self) -> Path:
        return self.cwd / "initlab-tour"


def _command() -> list[str]:
    script = Path(sys.executable).with_name("initlab")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "initlab.cli"]


@functools.cache
def run_tour(base: Path) -> Tour:
    """Run ``initlab tour`` in ``base/tour`` (once per ``base``) with COLUMNS=80."""
    cwd = Path(base) / "tour"
    cwd.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    env.update(COLUMNS="80", LINES="24", TERM="xterm-256color")
    proc = subprocess.run(
        [*_command(), "tour"], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    return Tour(proc.returncode, proc.stdout, proc.stderr, cwd)
