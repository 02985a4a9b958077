"""Shared fixtures: the real bundled model (loaded once) and small real indexes built from fixture corpora."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Tests fire requests faster than any reader; rate limiting has its own tests (test_guards.py) with explicit limits.
os.environ.setdefault("SIFT_RATE_LIMIT_PER_MINUTE", "0")

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
TINY = FIXTURES / "tiny_corpus.jsonl"


@pytest.fixture(scope="session")
def embedder():
    from models import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory, embedder) -> Path:
    from indexer.pipeline import index_sources

    path = tmp_path_factory.mktemp("tiny") / "idx"
    report = index_sources([TINY], path, embedder, progress=False)
    assert report.added == 12 and report.skipped == 0
    return path


@pytest.fixture(scope="session")
def tiny_engine(tiny_index, embedder):
    from search_api.engine import Engine
    from search_api.related import RelatedRules

    # The tiny corpus is twelve unrelated stories: with the similarity floor most related lists would be short.
    # Tests over it check order, paging and escaping; tests/search_api/test_related.py checks the floor.
    return Engine.open(tiny_index, embedder, related_rules=RelatedRules(min_similarity=-1.0))


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, embedder) -> Path:
    from indexer.pipeline import index_sources

    path = tmp_path_factory.mktemp("sample") / "idx"
    report = index_sources([SAMPLE], path, embedder, progress=False)
    assert report.skipped == 0, [str(e) for e in report.errors]
    return path


@pytest.fixture(scope="session")
def sample_engine(sample_index, embedder):
    from search_api.engine import Engine

    return Engine.open(sample_index, embedder)
