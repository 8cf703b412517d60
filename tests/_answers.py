"""Checks every study's claims share: the answer is one short sentence made of the run's numbers.

Not a test module: each ``test_study_*.py`` calls :func:`check_answers` on the result it has
already run, so no study runs twice for these checks.
"""

from __future__ import annotations

import math
import re
from typing import Any

from initlab.studies import SUMMARY_WORDS, VERDICTS

# A number as a reader sees it: not part of a name (W1, float64, he_normal, b3) and not inside a
# word; a trailing % makes it a share.
NUMBER = re.compile(r"(?<![\w.^])[-+]?(?:\d+\.\d+|\d+)(?:e[-+]?\d+)?%?(?![\w])")
# Summaries that contradict their verdict begin with these words.
OPENINGS = {
    "holds": ("No", "Not", "Only"),
    "fails": ("Yes", "Mostly"),
    "qualified": ("Yes:", "No:"),
}


def numbers_in(text: str) -> list[str]:
    """Every number written in ``text``, as written."""
    return NUMBER.findall(text)


def _values(x: Any) -> list[float]:
    """Every number in a claim's ``numbers`` (nested), including those written inside strings
    (block names aside: a cause such as 'the weights after it (W2)' names no number)."""
    if isinstance(x, bool) or x is None:  # a flag is not a measured number
        return []
    if isinstance(x, int | float):
        return [float(x)]
    if isinstance(x, str):
        return [_parse(t)[0] for t in numbers_in(x)]
    if isinstance(x, dict):
        return [v for k, item in x.items() for v in _values(k) + _values(item)]
    if isinstance(x, list | tuple):
        return [v for item in x for v in _values(item)]
    return []


def _parse(token: str) -> tuple[float, float]:
    """The value of a written number and half its last digit's unit (the rounding it allows)."""
    share = token.endswith("%")
    text = token.rstrip("%")
    mantissa, _, exponent = text.partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    half = 0.5 * 10.0 ** (int(exponent or 0) - decimals)
    value = float(text)
    return (value / 100, half / 100) if share else (value, half)


def written_from(token: str, values: list[float]) -> bool:
    """Whether a written number is one of ``values`` rounded as it is written."""
    target, half = _parse(token)
    return any(math.isfinite(v) and abs(v - target) <= half * (1 + 1e-9) + 1e-300 for v in values)


def check_answers(result) -> None:
    """The claims of a study result: each has a short claim, a summary of at most about
    SUMMARY_WORDS words whose every number is one of the claim's measured numbers (rounded as
    written), a figure or table of the study that shows it, and an opening that does not
    contradict its verdict; the study's 'how we know' and captions carry no numbers."""
    assert result.findings
    for c in result.findings:
        assert c.verdict in VERDICTS
        words = c.summary.split()
        assert 12 <= len(words) <= SUMMARY_WORDS, (c.id, len(words), c.summary)
        assert c.summary.endswith("."), c.summary
        assert len(c.short) <= 70 and c.short != c.claim, c.short  # one terminal line
        values = _values(c.numbers)
        for token in numbers_in(c.summary):
            assert written_from(token, values), (c.id, token, c.summary)
        assert not c.summary.startswith(OPENINGS[c.verdict]), (c.verdict, c.summary)
        assert c.figure in result.figures or c.table in result.tables, (c.id, c.figure, c.table)
    # Written prose: it names things (float64, W2) but states no measured number.
    assert result.how and not numbers_in(result.how), result.how
    assert set(result.captions) == set(result.figures), (result.captions, result.figures)
    for key, caption in result.captions.items():
        assert not numbers_in(caption), (key, caption)
