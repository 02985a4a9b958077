"""bench/cranfield_beir.py: Cranfield's SMART files to BEIR, its two traps handled (query numbering, Cleverdon codes)."""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

import pytest

from search_api.evaluation.beir import load_beir

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from cranfield_beir import TARBALL, convert, documents, qrels, queries  # noqa: E402

DOCS = """.I 1
.T
wing in a slipstream .
.A
brenckman,m.
.B
j. ae. scs. 25, 1958, 324.
.W
wing in a slipstream .
  an experimental study of a wing
in a propeller slipstream .
.I 2
.T
boundary layers .
.A
ting-yili
.B
department of aeronautical engineering.
.W
a simple solution for boundary layers .
"""
QUERIES = """.I 001
.W
what similarity laws must be obeyed
when constructing aeroelastic models .
.I 004
.W
what problems of heat conduction .
"""
QRELS = "1 2 1 \n1 1 4 \n1 2 -1\n2 1 2 \n2 2 -1\n"


def test_documents_drop_the_repeated_title_and_the_bibliography():
    assert documents(DOCS) == [
        {"_id": "1", "title": "wing in a slipstream .", "text": "an experimental study of a wing in a propeller slipstream ."},
        {"_id": "2", "title": "boundary layers .", "text": "a simple solution for boundary layers ."},
    ]


def test_queries_are_numbered_in_file_order_as_cranqrel_numbers_them():
    assert [(q["_id"], q["file_id"]) for q in queries(QUERIES)] == [("1", "001"), ("2", "004")]
    assert queries(QUERIES)[0]["text"] == "what similarity laws must be obeyed when constructing aeroelastic models ."


def test_cleverdon_codes_become_grades_best_highest_and_minus_one_is_left_out():
    assert qrels(QRELS, 2, 2) == [("1", "2", 4), ("1", "1", 1), ("2", "1", 3)]


@pytest.mark.parametrize("text, message", [
    ("1 2\n", "line 1: expected 3 columns"),
    ("1 3 2\n", "line 1: query 1 or document 3 out of range"),
    ("1 1 5\n", "line 1: relevance code 5"),
])
def test_bad_qrels_lines_are_located(text, message):
    with pytest.raises(ValueError, match=message):
        qrels(text, 2, 2)


def test_text_outside_a_field_is_located():
    with pytest.raises(ValueError, match="line 1: text outside a field"):
        documents("stray words\n.I 1\n.W\ntext\n")


def test_convert_writes_a_folder_the_harness_reads(tmp_path):
    tarball = tmp_path / "cran.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name, text in [("cran/cran.all.1400", DOCS), ("cran/cran.qry", QUERIES), ("cran/cranqrel", QRELS)]:
            data = text.encode("latin-1")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    counts = convert(tarball, tmp_path / "beir")
    assert counts == {"documents": 2, "queries": 2, "judged queries": 2, "judgements": 3}
    data = load_beir(tmp_path / "beir")
    assert data.qrels == {"1": {"2": 4, "1": 1}, "2": {"1": 3}}
    assert data.queries["2"] == "what problems of heat conduction ."


@pytest.mark.skipif(not TARBALL.is_file(), reason="../shared/data is not on this machine")
def test_the_real_collection_converts_with_the_counts_its_source_gives(tmp_path):
    counts = convert(TARBALL, tmp_path)
    # SOURCE.md: 1,400 abstracts, 225 queries all judged, 1,837 qrels lines of which 225 carry the undefined code -1
    assert counts == {"documents": 1400, "queries": 225, "judged queries": 225, "judgements": 1837 - 225}
