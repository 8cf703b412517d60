"""Every study at its full size: what a reader would publish. Slow (minutes): deselected by
default; run with `python -m pytest -m slow`."""

import pytest

from _answers import check_answers
from initlab import list_studies, run_study

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", list_studies())
def test_full_size_runs_and_keeps_its_verdicts(name, tmp_path):
    full = run_study(name, size="full")
    quick = run_study(name, size="quick")
    assert full.size == "full" and full.findings
    # The verdicts the quick size reports are the ones the full size reports.
    assert {c.id: c.verdict for c in full.findings} == {c.id: c.verdict for c in quick.findings}
    assert full.save(tmp_path).exists()
    check_answers(full)  # the answers are the full run's numbers, in one short sentence
