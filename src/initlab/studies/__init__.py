"""Studies: the textbook and course experiments reproduced, and common claims tested by number.

Each study is a module with a function ``run(size, random_state) -> StudyResult``, registered by
name; :func:`run_study` runs one, :func:`list_studies` names them.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from ._result import SUMMARY_WORDS, VERDICTS, Claim, Ledger, StudyResult

__all__ = [
    "STUDIES",
    "SUMMARY_WORDS",
    "VERDICTS",
    "Claim",
    "Ledger",
    "StudyResult",
    "list_studies",
    "run_study",
]

# name: (module, title). Modules are imported when a study runs.
STUDIES: dict[str, tuple[str, str]] = {
    "perceptron-eta": ("perceptron_eta", "Does a perceptron's learning rate matter?"),
    "dls-initialization": ("dls_initialization", "Zeros, large random and He starts on circles"),
    "symmetry": ("symmetry", "Symmetric starts: what do they train?"),
    "logistic-zero": ("logistic_zero", "Logistic regression from zero weights"),
    "noise-scale": ("noise_scale", "How much noise breaks the symmetry of a zero start?"),
    "depth-signal": ("depth_signal", "The signal's scale through depth, by start"),
}
SIZES = ("full", "quick")


def list_studies() -> list[str]:
    """Names accepted by :func:`run_study`, in the order of the tour."""
    return list(STUDIES)


def run_study(name: str, size: str = "full", random_state: Any = 0) -> StudyResult:
    """Run a study and return its tables, figures and claims.

    Parameters
    ----------
    name : str
        One of :func:`list_studies`.
    size : {"full", "quick"}
        ``"full"`` is what a reader would publish; ``"quick"`` finishes in seconds (CI, the tour).
    random_state : None, int, Generator or RandomState
        Seeds every draw the study makes beyond the published runs it reproduces (those keep
        their own published seeds).

    Returns
    -------
    StudyResult
    """
    if name not in STUDIES:
        raise ValueError(f"Unknown study {name!r}. Valid studies: {', '.join(STUDIES)}.")
    if size not in SIZES:
        raise ValueError(
            f"The 'size' parameter of run_study must be one of 'full', 'quick'. Got {size!r} "
            "instead."
        )
    module = importlib.import_module(f".{STUDIES[name][0]}", __name__)
    start = time.perf_counter()
    result = module.run(size=size, random_state=random_state)
    result.seconds = time.perf_counter() - start
    for claim in result.findings:
        claim.study = name
    return result
