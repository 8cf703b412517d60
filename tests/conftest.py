"""Fixtures shared by test modules: the browser tests' chromium and screenshot folder, and the
PyTorch corpora's invariant."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _browser import ARGS, CHROMIUM


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go, to be looked at: $INITLAB_SCREENSHOTS, or a temporary folder."""
    folder = Path(os.environ.get("INITLAB_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def healthy_means_no_error():
    """Wrap initlab.torch.check for a module so that every diagnosis its tests make obeys the
    invariant: a model called healthy carries no error-severity finding."""
    import initlab.torch as itorch

    check = itorch.check

    def checked(*args, **kwargs):
        d = check(*args, **kwargs)
        errors = [f.code for f in d.findings if f.severity == "error"]
        assert not (d.verdict == "healthy" and errors), (d.verdict, errors)
        return d

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(itorch, "check", checked)
        yield
