"""The evaluation notebooks run top to bottom (on a small slice; `make eval` runs them in full)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FIGURES = NOTEBOOKS.parent / "eval-runs" / "figures-slice"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("notebook", "dataset", "figures"),
    [
        ("relevance.ipynb", "scifact_beir",
         ("ndcg_by_mode.png", "fusion_sweep.png", "wins_losses.png", "spelling.png")),
        ("related.ipynb", "bbc_news", ("related_quality.png",)),
        ("languages.ipynb", "xquad_xling_beir",
         ("xquad_cross_lingual.png", "xquad_monolingual.png", "masakhanews_related.png")),
    ],
)
def test_notebook_executes_on_a_slice(monkeypatch, notebook, dataset, figures):
    if not (DATA / dataset).is_dir():
        pytest.skip(f"needs ../shared/data/{dataset}")
    monkeypatch.setenv("SIFT_EVAL_SLICE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    nb = nbformat.read(NOTEBOOKS / notebook, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    for name in figures:
        assert (FIGURES / name).stat().st_size > 10_000
