"""Passage token codes for late interaction in search (indexer.passage_tokens): the codec, MaxSim, the version files,
and how indexing fills and reuses them."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from indexer import passage_tokens
from indexer.passage_tokens import CODES_FILE, OFFSETS_FILE, PassageTokens, TokenCodec, maxsim
from indexer.pipeline import index_sources
from indexer.publish import current_version_dir
from indexer.store import Store


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def low_rank_tokens(n: int, dim: int = 384, rank: int = 48, seed: int = 0) -> np.ndarray:
    """Unit vectors that live (up to a little noise) in a `rank`-dimensional subspace, as contextual token vectors
    mostly do."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(dim, rank)))[0]
    return unit(rng.normal(size=(n, rank)) @ basis.T + 0.01 * rng.normal(size=(n, dim))).astype(np.float32)


def test_the_codec_keeps_dot_products_and_survives_bytes():
    tokens = low_rank_tokens(3000)
    codec = TokenCodec.fit(tokens, 64)
    codes = codec.encode(tokens[:200])
    assert codes.dtype == np.uint8 and codes.shape == (200, 64)
    exact = tokens[:100] @ tokens[100:200].T
    approx = codec.project(tokens[:100]) @ codec.decode(codes[100:]).T
    assert np.abs(approx - exact).max() < 0.03
    again = TokenCodec.from_bytes(codec.to_bytes(), 384)
    assert np.array_equal(again.projection, codec.projection) and np.array_equal(again.scale, codec.scale)
    assert again.digest == codec.digest and TokenCodec.fit(tokens, 64).digest == codec.digest  # deterministic
    with pytest.raises(ValueError, match="no token vectors"):
        TokenCodec.fit(np.zeros((0, 384), dtype=np.float32))


def identity_codec(dim: int) -> TokenCodec:
    """Projection = identity, scale 1/127: codes are the values × 127, exact for multiples of 1/127."""
    return TokenCodec(np.eye(dim, dtype=np.float32), np.full(dim, 1 / 127, dtype=np.float32))


def test_maxsim_by_hand():
    codec = identity_codec(2)
    query = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    # passage 0: tokens (1, 0) and (0, 0.5); passage 1: no tokens; passage 2: one token (0.5, 0.5)
    passages = np.array([[1.0, 0.0], [0.0, 0.5], [0.5, 0.5]], dtype=np.float32)
    codes = codec.encode(passages)
    offsets = np.array([0, 2, 2, 3])
    got = maxsim(query, codes, offsets, codec)
    # passage 0: query token 1 best 1.0, query token 2 best 0.5 → 0.75; passage 1: 0; passage 2: (0.5 + 0.5) / 2
    assert np.allclose(got, [0.75, 0.0, 0.5], atol=0.01)
    # the integer product against the float one on realistic tokens: the query's quantisation costs < 0.01
    tokens = low_rank_tokens(400, seed=1)
    fitted = TokenCodec.fit(tokens, 384)
    stored = fitted.encode(tokens[8:])
    bounds = np.arange(0, 393, 24)
    exact = [float((tokens[:8] @ tokens[8:][a:b].T).max(axis=1).mean()) for a, b in zip(bounds[:-1], bounds[1:])]
    assert np.abs(maxsim(tokens[:8], stored[: bounds[-1]], bounds, fitted) - exact).max() < 0.01
    assert np.array_equal(maxsim(np.zeros((0, 2), np.float32), codes, offsets, codec), np.zeros(3))


def test_an_articles_score_is_its_best_passage(tmp_path):
    codec = identity_codec(2)
    passages = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.6]], dtype=np.float32)
    np.save(tmp_path / CODES_FILE, codec.encode(passages))
    np.save(tmp_path / OFFSETS_FILE, np.array([0, 1, 2, 3]))
    np.save(tmp_path / passage_tokens.CODEC_FILE, np.vstack([codec.scale, codec.projection]))
    stored = PassageTokens.open(tmp_path)
    query = np.array([[0.0, 1.0]], dtype=np.float32)
    # article A = passages 0-1, article B = passage 2, article C has no passage
    assert np.allclose(stored.best(query, [(0, 2), (2, 3), (3, 3)]), [1.0, 0.6, 0.0], atol=0.01)
    assert PassageTokens.open(tmp_path / "missing") is None


def test_indexing_writes_every_passages_codes_and_reuses_them(tmp_path, embedder, monkeypatch):
    from tests.conftest import TINY

    index = tmp_path / "idx"
    index_sources([TINY], index, embedder, progress=False, late_interaction=True)
    version = current_version_dir(index)
    manifest = json.loads((version / "manifest.json").read_text())
    assert isinstance(manifest["late_interaction"], str)  # the codes' digest
    stored = PassageTokens.open(version)
    assert len(stored.offsets) == manifest["counts"]["chunks"] + 1 and stored.codes.shape[1] == passage_tokens.DIMS
    assert (np.diff(stored.offsets) > 0).all()  # every passage has kept tokens
    # a passage's codes are its own text's: recomputed from the model, they match the stored ones
    with Store(index / "store.sqlite") as store:
        first = next(store.iter_chunks())
        text = dict(store.chunk_texts())[first.hash]
    fresh = stored.codec.encode(embedder.token_vectors([text])[0])
    assert np.abs(fresh.astype(int) - stored.codes[: stored.offsets[1]].astype(int)).max() <= 1

    calls = []
    real = embedder.encode_with_tokens
    monkeypatch.setattr(embedder, "encode_with_tokens", lambda *a, **k: calls.append(1) or real(*a, **k))
    index_sources([TINY], index, embedder, progress=False, late_interaction=True)
    assert calls == []  # nothing new: no pass of the model


def test_an_index_from_before_late_interaction_gets_codes_from_sift_index_not_from_a_live_write(tmp_path, embedder):
    from indexer.pipeline import apply_changes, refresh
    from tests.conftest import TINY

    index = tmp_path / "idx"
    index_sources([TINY], index, embedder, progress=False, late_interaction=True)
    with sqlite3.connect(index / "store.sqlite") as db:  # as an earlier Sift left it: vectors, no token codes
        db.execute("DELETE FROM embeddings WHERE model_id LIKE '%#passage-token%'")
    # a server's write (stored, then a background publish with a token budget) embeds only its own passages: the
    # version has no codes for the others, so none at all
    from indexer.article import Article

    apply_changes(index, embedder, upserts=[Article(id="new-1", title="Cholera vaccines reach Yemen",
                                                    body="Health workers vaccinated 40,000 people in Aden.")],
                  publish_now=False, late_interaction=True)
    refresh(index, embedder, token_budget=32, late_interaction=True)
    version = current_version_dir(index)
    assert PassageTokens.open(version) is None
    assert json.loads((version / "manifest.json").read_text())["late_interaction"] is None
    # `sift index` computes the missing ones once
    index_sources([TINY], index, embedder, progress=False, late_interaction=True)
    version = current_version_dir(index)
    assert PassageTokens.open(version) is not None


def test_a_version_whose_passages_did_not_change_links_the_codes_instead_of_writing_them(tmp_path, embedder):
    from indexer.article import Article
    from indexer.pipeline import apply_changes
    from tests.conftest import TINY

    index = tmp_path / "idx"
    index_sources([TINY], index, embedder, progress=False, late_interaction=True)
    before = current_version_dir(index)
    first = json.loads(TINY.read_text().splitlines()[0])
    # a new category changes the article, not its passages
    apply_changes(index, embedder, upserts=[Article(**{**first, "categories": ["Child Protection"]})],
                  late_interaction=True)
    after = current_version_dir(index)
    assert after != before
    for name in passage_tokens.FILES:
        assert (after / name).stat().st_ino == (before / name).stat().st_ino
    assert json.loads((after / "manifest.json").read_text())["late_interaction"] == json.loads(
        (before / "manifest.json").read_text())["late_interaction"]
    # a changed passage writes new codes
    apply_changes(index, embedder, upserts=[Article(**{**first, "body": first["body"] + " The school reopened."})],
                  late_interaction=True)
    latest = current_version_dir(index)
    assert (latest / CODES_FILE).stat().st_ino != (after / CODES_FILE).stat().st_ino
    assert PassageTokens.open(latest).codes.shape[0] > PassageTokens.open(after).codes.shape[0]


def _token_rows(index) -> int:
    with sqlite3.connect(index / "store.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM embeddings WHERE model_id LIKE '%#passage-token%'").fetchone()[0]


def test_by_default_no_passage_token_is_computed_or_stored(tmp_path, embedder, monkeypatch):
    from tests.conftest import TINY

    calls = []
    real = embedder.encode_with_tokens
    monkeypatch.setattr(embedder, "encode_with_tokens",
                        lambda *a, **k: calls.append(k.get("vectors", True)) or real(*a, **k))
    index = tmp_path / "idx"
    index_sources([TINY], index, embedder, progress=False)
    version = current_version_dir(index)
    # the passages were embedded without their token states (short articles' related scores read theirs alone)
    assert True not in calls
    assert PassageTokens.open(version) is None and not any((version / name).exists() for name in passage_tokens.FILES)
    assert json.loads((version / "manifest.json").read_text())["late_interaction"] is None
    assert _token_rows(index) == 0


def test_turning_late_interaction_off_drops_the_codes_at_the_next_index_and_gives_the_space_back(tmp_path, embedder):
    from tests.conftest import TINY

    index = tmp_path / "idx"
    index_sources([TINY], index, embedder, progress=False, late_interaction=True)
    with_codes = current_version_dir(index)
    assert _token_rows(index) > 0
    size_with = (index / "store.sqlite").stat().st_size
    report = index_sources([TINY], index, embedder, progress=False)  # nothing changed but the setting
    assert report.published and report.embedded == 0  # a new version, no re-embedding
    version = current_version_dir(index)
    assert version != with_codes and PassageTokens.open(version) is None
    assert _token_rows(index) == 0
    assert (index / "store.sqlite").stat().st_size < size_with / 2  # the codes were most of it: the file shrank
    assert not (index / "store.sqlite-wal").exists() or (index / "store.sqlite-wal").stat().st_size == 0
