"""The evaluation notebooks run top to bottom (on a small slice; `make eval` runs it in full)."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact_beir"


@pytest.mark.slow
@pytest.mark.skipif(not DATA.is_dir(), reason="needs ../shared/data/scifact_beir")
def test_relevance_notebook_executes_on_a_slice(monkeypatch):
    monkeypatch.setenv("SIFT_EVAL_SLICE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    nb = nbformat.read(NOTEBOOKS / "relevance.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    figures = NOTEBOOKS.parent / "eval-runs" / "figures-slice"
    for name in ("ndcg_by_mode.png", "fusion_sweep.png", "wins_losses.png"):
        assert (figures / name).stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.skipif(not (DATA.parent / "bbc_news").is_dir(), reason="needs ../shared/data/bbc_news")
def test_related_notebook_executes_on_a_slice(monkeypatch):
    monkeypatch.setenv("SIFT_EVAL_SLICE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    nb = nbformat.read(NOTEBOOKS / "related.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert (NOTEBOOKS.parent / "eval-runs" / "figures-slice" / "related_quality.png").stat().st_size > 10_000
