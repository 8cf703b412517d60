"""Debian's chromium driven by Playwright for Python, shared by the browser tests (the report's
and the playground's). Not a test module.

Playwright cannot download its own browser here, so it launches the system's (``.ci/run``
installs Debian's ``chromium`` when it is missing); the tests that need it are skipped, saying
why, where it is absent. The ``browser`` and ``shots`` fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason="Debian's chromium is not installed (.ci/run installs it)",
)
