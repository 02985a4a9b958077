"""The language balance: under a cross-lingual model, the dense leg evens out the pull every text has towards its own
language, so a question finds the right story in another language before wrong ones in its own (real FAISS)."""

import numpy as np
import pytest

from indexer.keyword import KeywordIndex
from indexer.vectors import build_store
from search_api.ranking.legs import LanguageBalance, Legs

DIM = 64
rng = np.random.default_rng(7)
EN, FR = rng.normal(size=DIM), rng.normal(size=DIM)  # each language's component, shared by all its texts


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def site(n_en: int = 30, n_fr: int = 30):
    """English articles then French ones, one passage each: a random topic plus the language's component."""
    topics = rng.normal(size=(n_en + n_fr, DIM))
    language = np.array([EN] * n_en + [FR] * n_fr)
    vectors = unit(topics + 1.0 * language)
    members = {"en": np.arange(n_en), "fr": np.arange(n_en, n_en + n_fr)} if n_fr else {"en": np.arange(n_en)}
    return topics, vectors, members


def legs_over(vectors: np.ndarray, balance: LanguageBalance | None) -> Legs:
    n = len(vectors)
    return Legs(
        encoder=None, chunk_index=build_store(vectors), chunk_article=np.arange(n), chunk_start=np.arange(n + 1),
        keyword=KeywordIndex.build([f"story number {i}" for i in range(n)]), balance=balance,
    )


def test_no_balance_for_one_language_or_a_handful_of_articles():
    _, vectors, members = site(n_fr=0)
    assert LanguageBalance.of(members, len(vectors), lambda rows: vectors[rows]) is None
    _, vectors, members = site(n_fr=LanguageBalance.MIN_ARTICLES - 1)
    assert LanguageBalance.of(members, len(vectors), lambda rows: vectors[rows]) is None


def test_a_french_question_finds_the_english_story_first():
    topics, vectors, members = site()
    balance = LanguageBalance.of(members, len(vectors), lambda rows: vectors[rows])
    assert balance is not None
    # the same stories asked in French: an English story's topic, with French's component
    asked = [unit(topics[row] + 1.0 * FR) for row in range(30)]
    raw, balanced = legs_over(vectors, None), legs_over(vectors, balance)
    first_raw = [next(iter(raw.dense_articles(q, 5, None))) for q in asked]
    first_balanced = [next(iter(balanced.dense_articles(q, 5, None))) for q in asked]
    assert sum(a == row for row, a in enumerate(first_raw)) < 15  # the pull: French articles first
    assert sum(a == row for row, a in enumerate(first_balanced)) >= 27


def test_order_within_a_language_is_unchanged_and_filters_hold():
    topics, vectors, members = site()
    balance = LanguageBalance.of(members, len(vectors), lambda rows: vectors[rows])
    raw, balanced = legs_over(vectors, None), legs_over(vectors, balance)
    q = unit(topics[40] + 1.0 * FR)
    french = np.zeros(len(vectors), dtype=bool)
    french[30:] = True
    got_raw, got = raw.dense_articles(q, 10, french), balanced.dense_articles(q, 10, french)
    assert list(got) == list(got_raw) and all(a >= 30 for a in got)
    # one shift for the whole language
    shifts = {round(got[a][0] - got_raw[a][0], 5) for a in got}
    assert len(shifts) == 1
    # an article's best passage scores the same whichever way it is reached
    exact = balanced.best_passages(q, list(got))
    assert all(exact[a][0] == pytest.approx(got[a][0], abs=1e-5) for a in got)


def test_the_merged_list_is_the_top_by_raised_cosine():
    topics, vectors, members = site()
    balance = LanguageBalance.of(members, len(vectors), lambda rows: vectors[rows])
    legs = legs_over(vectors, balance)
    q = unit(topics[3] + 1.0 * FR)
    got = legs.dense_articles(q, 8, None)
    everything = legs.best_passages(q, list(range(len(vectors))))
    expected = sorted(everything, key=lambda a: (-everything[a][0], a))[:8]
    assert list(got) == expected
