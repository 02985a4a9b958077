"""Late interaction for short articles' related scores (indexer.late)."""

import numpy as np
import pytest

from indexer.late import (
    LATE_TOKENS, SHORT_WORDS, TEXT_CHARS, Tokens, calibration, chamfer, may_be_short, rescaled, token_text,
)
from indexer.relatedness import related_neighbours

E = np.eye(4, dtype=np.float32)


def test_chamfer_matches_each_token_to_its_best_in_the_other_text():
    tokens = Tokens.from_blocks([E[[0, 1]], E[[0, 2]], E[[0, 1]], None, E[[3]]], dim=4)
    ids = np.array([[1, 2, 3, -1, 4]])
    li, computed = chamfer(tokens, np.array([0]), ids)
    # a = {e0, e1}; vs {e0, e2}: e0 → 1, e1 → 0 both ways: ½(½ + ½); vs a copy: 1; vs {e3}: 0 and 0
    assert li[0].tolist() == pytest.approx([0.5, 1.0, 0.0, 0.0, 0.0])
    assert computed[0].tolist() == [True, True, False, False, True]  # no tokens (3) and padding (-1): not computed
    # the two directions differ for texts of different lengths: {e0} vs {e0, e1}: ½(1 + ½)
    short = Tokens.from_blocks([E[[0]], E[[0, 1]]], dim=4)
    assert chamfer(short, np.array([0]), np.array([[1]]))[0][0, 0] == pytest.approx(0.75)


def test_late_interaction_is_put_on_the_cosines_scale():
    li = np.array([[0.6, 0.8, 0.0]], dtype=np.float32)
    cosines = np.array([[0.2, 0.4, 0.33]], dtype=np.float32)
    computed = np.array([[True, True, False]])
    stats = calibration(li, cosines, computed)
    assert stats.tolist() == pytest.approx([0.7, 0.1, 0.3, 0.1])
    assert rescaled(li, cosines, computed, stats)[0].tolist() == pytest.approx([0.2, 0.4, 0.33])  # 3rd: its cosine


def test_token_text_and_which_articles_may_be_short():
    assert token_text("Help", "We need water") == "Help\nWe need water"
    assert token_text("We need water", "We need water in Leogane") == "We need water in Leogane"  # title once
    assert len(token_text("Long", "x" * 100_000)) == TEXT_CHARS
    assert may_be_short("Help", "We need water") and may_be_short("T", "word " * (SHORT_WORDS - 1))
    assert not may_be_short("T", "word " * SHORT_WORDS) and not may_be_short("T", "x" * 100_000)


def test_only_short_articles_mix_late_interaction_into_their_related_order():
    # five articles in 4-d: article 0's vector is nearest to 1, but token by token it matches 2
    vectors = np.array([[1, 0.1, 0, 0], [1, 0, 0, 0], [0.9, 0.4, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    import faiss

    index = faiss.IndexFlatIP(4)
    index.add(vectors)
    blocks = [E[[1, 2]], E[[0]], E[[1, 2]], E[[3]], E[[0]]]
    plain = related_neighbours(index, vectors, None, 2, context_weight=0.0)
    assert plain.ids[0, 0] == 1 and plain.late_stats is None
    mixed = related_neighbours(index, vectors, None, 2, context_weight=0.0,
                               tokens=Tokens.from_blocks(blocks, dim=4), late_weight=0.9)
    assert mixed.ids[0, 0] == 2 and mixed.late_stats is not None
    # the same texts, but article 0 is long (more than LATE_TOKENS tokens): its order stays the cosine's
    long = [np.repeat(E[[1, 2]], LATE_TOKENS, axis=0)] + blocks[1:]
    kept = related_neighbours(index, vectors, None, 2, context_weight=0.0,
                              tokens=Tokens.from_blocks(long, dim=4), late_weight=0.9)
    assert kept.ids[0].tolist() == plain.ids[0].tolist()
    # no weight: exactly the plain scores
    off = related_neighbours(index, vectors, None, 2, context_weight=0.0, tokens=Tokens.from_blocks(blocks, dim=4),
                             late_weight=0.0)
    assert np.array_equal(off.scores, plain.scores)


def test_token_vectors_of_the_real_model(embedder):
    texts = ["Floods in Sindh: we need tents and clean water", "Help!", "the earthquake destroyed our house"]
    blocks = embedder.token_vectors(texts)
    # floods sindh need tents clean water ("in", "we", "and" and ":" dropped); "help"; earthquake destroyed house
    assert [len(b) for b in blocks] == [6, 1, 3]
    assert all(b.dtype == np.float16 and np.allclose(np.linalg.norm(b.astype(np.float32), axis=1), 1, atol=1e-3)
               for b in blocks)
    tokens = Tokens.from_blocks(blocks, dim=embedder.dim)
    li, computed = chamfer(tokens, np.array([0, 2]), np.array([[2, 1], [0, 1]]))
    assert computed.all() and li[0, 0] == pytest.approx(li[1, 0], abs=1e-3)  # symmetric


def test_the_tokenizer_alone_counts_the_token_vectors_a_text_gets(embedder):
    texts = ["Floods in Sindh: we need tents and clean water", "Help!", "the and of",
             "Cholera vaccination campaign reaches 40,000 people in Aden. " * 40]  # the last one cut at 256 wordpieces
    counts = embedder.kept_token_counts(texts)
    assert counts.tolist() == [len(b) for b in embedder.token_vectors(texts)]
    assert counts[:2].tolist() == [6, 1] and counts[3] > LATE_TOKENS


def test_an_incremental_pass_keeps_the_full_passs_scale(tmp_path):
    import faiss

    from indexer import relatedness

    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(8)
    index.add(vectors)
    blocks = [rng.normal(size=(int(rng.integers(1, 6)), 8)) for _ in range(40)]
    tokens = Tokens.from_blocks([b / np.linalg.norm(b, axis=1, keepdims=True) for b in blocks], dim=8)
    full = related_neighbours(index, vectors, None, 5, tokens=tokens)
    assert full.late_stats is not None
    (tmp_path / "v").mkdir()
    relatedness.save_state(tmp_path / "v", full)
    stored = relatedness.load_state(tmp_path / "v", full.ids, full.cosines, full.scores)
    assert np.array_equal(stored.late_stats, full.late_stats)
    carried, stale = relatedness.carry_over(stored, np.arange(40), 40, np.zeros(40, dtype=bool))
    changed = np.zeros(40, dtype=bool)
    changed[7] = True
    part = relatedness.update_related(index, vectors, None, 5, carried, changed, stale, tokens=tokens)
    assert part is not None and 0 < part.recomputed < 40
    assert np.array_equal(part.late_stats, full.late_stats)  # not re-fitted on the few rows recomputed
    # nothing changed in the texts: the recomputed lists are the full pass's
    assert np.array_equal(part.ids, full.ids)
