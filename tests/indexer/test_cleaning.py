import pytest

from indexer.cleaning import shorten


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("Short enough.", 20, "Short enough."),
    ("Child trafficking to gold mines is rising in eight countries", 45, "Child trafficking to gold mines is rising in …"),
    ("Rising, sharply; in eight countries", 17, "Rising, sharply …"),  # no dangling punctuation before the ellipsis
    ("Supercalifragilistic", 8, "Supercal …"),  # one long word: cut inside it rather than show nothing
])
def test_shorten_cuts_before_a_word_and_says_so(text, limit, expected):
    assert shorten(text, limit) == expected


def test_article_summaries_end_at_a_word(sample_engine):
    long = [a for a in sample_engine.articles["id"] if sample_engine.article(a).summary.endswith(" …")]
    assert len(long) > 100  # most sample articles are longer than a summary
    for article_id in long:
        summary = sample_engine.article(article_id).summary
        opening = " ".join(_text(sample_engine, article_id).split())
        said = " ".join(summary.removesuffix(" …").split())
        assert len(summary) <= 282 and said in opening
        after = opening[opening.index(said) + len(said):]
        assert after[:1] in (" ", ",", ";", ":")  # the last word shown is whole


def _text(engine, article_id):
    return engine.article_text(engine.catalogue.position[article_id])
