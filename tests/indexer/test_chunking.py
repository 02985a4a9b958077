from indexer.article import parse_article
from indexer.chunking import chunk_article, split_sentences


def _article(body: str):
    return parse_article({"id": "c", "title": "Floods in Sindh", "body": body})


def test_short_article_is_one_chunk_with_title():
    chunks = chunk_article(_article("Rain fell. Rivers rose."))
    assert len(chunks) == 1
    assert chunks[0].text == "Rain fell. Rivers rose."
    assert chunks[0].embed_text == "Floods in Sindh. Rain fell. Rivers rose."


def test_long_text_is_split_with_overlap_and_bounded_size():
    body = " ".join(f"Sentence {i} has exactly six words." for i in range(60))
    chunks = chunk_article(_article(body), max_words=60, overlap_words=15)
    assert len(chunks) > 5
    assert all(len(c.text.split()) <= 60 for c in chunks)
    for prev, nxt in zip(chunks, chunks[1:]):
        first_sentence = split_sentences(nxt.text)[0]
        assert first_sentence in prev.text  # the overlap carries the previous passage's tail
    covered = " ".join(c.text for c in chunks)
    assert all(f"Sentence {i} " in covered for i in range(60))
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_a_giant_sentence_is_cut_by_words():
    chunks = chunk_article(_article("word " * 500), max_words=100, overlap_words=20)
    assert all(len(c.text.split()) <= 100 for c in chunks)
    assert sum(len(c.text.split()) for c in chunks) >= 500


def test_paragraphs_start_new_passages_and_short_tails_merge():
    para = " ".join(f"Point {i} about the response." for i in range(8))
    chunks = chunk_article(_article(f"{para}\n\n{para.replace('Point', 'Item')}\n\nEnd."), max_words=120)
    assert len(chunks) == 2
    assert chunks[1].text.startswith("Item 0") and chunks[1].text.endswith("End.")


def test_chunk_hash_depends_on_embedded_text():
    a = chunk_article(_article("Same body."))[0]
    b = chunk_article(parse_article({"id": "d", "title": "Other title", "body": "Same body."}))[0]
    assert a.hash != b.hash


def test_short_lede_paragraph_travels_with_the_next():
    para = " ".join(f"Point {i} about the response." for i in range(8))
    chunks = chunk_article(_article(f"A short lede.\n\n{para}"), max_words=120)
    assert len(chunks) == 1 and chunks[0].text.startswith("A short lede. Point 0")
