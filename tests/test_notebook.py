"""A real notebook, executed by a real Jupyter kernel (nbclient): what a learner sees when a
study, a diagnosis, a PyTorch check, the claims ledger and a sweep are the last line of a cell."""

from __future__ import annotations

import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

CELLS = {
    "study": """
import initlab
result = initlab.run_study("logistic-zero", size="quick")
result
""",
    "diagnosis": """
from initlab import MLPClassifier, diagnose, load_dataset
X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
diagnose(MLPClassifier(init="zeros"), X, y)
""",
    "torch": """
import torch
from torch import nn
import initlab.torch
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
initlab.torch.check(model, torch.randn(64, 16, generator=torch.Generator().manual_seed(0)))
""",
    "ledger": """
from initlab.report import ledger
ledger([result])
""",
    "sweep": """
spec = {
    "name": "nb",
    "grid": {"dataset": "circles", "dataset_args": {"n_samples": 60, "random_state": 1},
             "hidden": [[4]], "activation": "relu", "init": ["zeros", "he_normal"],
             "learning_rate": 0.5, "iterations": 50, "seed": [0, 1]},
    "record": {"target_accuracy": 0.8, "curve_every": 10},
}
initlab.run_sweep(spec, store=STORE, backend="numpy")
""",
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebook")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"STORE = {str(folder / 'nb.sqlite')!r}")]
    nb.cells += [nbformat.v4.new_code_cell(src.strip()) for src in CELLS.values()]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        client.execute()
    nbformat.write(nb, folder / "reprs.ipynb")  # kept for a look: jupyter lab <folder>
    out = {}
    for name, cell in zip(CELLS, nb.cells[1:]):
        results = [o for o in cell.outputs if o["output_type"] == "execute_result"]
        errors = [o for o in cell.outputs if o["output_type"] == "error"]
        assert not errors, (name, errors)
        assert len(results) == 1, (name, cell.outputs)
        out[name] = results[0]["data"]
    return out


def test_study_shows_its_answer_first(outputs):
    data = outputs["study"]
    page, text = data["text/html"], data["text/plain"]
    assert text.startswith("StudyResult('logistic-zero', size='quick', 1 claim: 1 holds")
    assert "\n" not in text
    assert page.index('class="question"') < page.index('class="answer') < page.index("<figure")
    assert page.count('src="data:image/') == 3 and "<details" in page


def test_diagnosis_shows_its_verdict_and_findings(outputs):
    data = outputs["diagnosis"]
    assert data["text/plain"].startswith("Diagnosis(verdict='stuck'")
    page = data["text/html"]
    assert ">stuck<" in page and "Also found" in page and "Layers" in page


def test_torch_check_shows_the_same_rendering(outputs):
    data = outputs["torch"]
    assert data["text/plain"].startswith("Diagnosis(verdict=") and "\n" not in data["text/plain"]
    assert 'class="initlab"' in data["text/html"] and "Layers" in data["text/html"]


def test_ledger_shows_its_table(outputs):
    data = outputs["ledger"]
    assert data["text/plain"] == "Ledger(1 claim: 1 holds)"
    assert '<table class="ledger">' in data["text/html"]


def test_sweep_table_shows_initlab_html_and_stays_a_dataframe(outputs):
    data = outputs["sweep"]
    page = data["text/html"]
    assert "4 configurations" in page and "varying init (2), seed (2)" in page
    assert "Every configuration" in page
    assert "rows x" in data["text/plain"] or "key" in data["text/plain"]  # pandas' own text
