"""The related-posts evaluation: loading and locating bad input, duplicate groups, baselines, measures, and the
`sift eval-related` command end to end on a labelled fixture with the real model."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from search_api.cli import app
from search_api.evaluation.related import (
    LabelledDataError,
    duplicate_groups,
    error_cut,
    load_labelled,
    measure,
    newest_first_lists,
    precisions,
    tfidf_lists,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    """The tiny corpus in the evaluation's shape (first category as the topic) plus one exact copy of t04."""
    out = tmp_path_factory.mktemp("labelled") / "tiny.jsonl"
    lines = []
    for line in (FIXTURES / "tiny_corpus.jsonl").read_text().splitlines():
        r = json.loads(line)
        lines.append({"id": f"news/{r['id']}", "category": r["categories"][0], "title": r["title"], "text": r["body"],
                      "published_at": r.get("published_at")})
    copy = dict(lines[3], id="news/t04-copy")
    out.write_text("".join(json.dumps(r) + "\n" for r in [*lines, copy]))
    return out


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.jsonl"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"id": "a", "category": "x", "title": "t", "text": "b"}\n{oops\n', "c.jsonl:line 2: invalid JSON"),
        ('{"id": "a", "title": "t", "text": "b"}\n', "c.jsonl:line 1: field 'category' must be"),
        ('{"id": "a", "category": "x", "title": "t", "text": "  "}\n', "c.jsonl:line 1: field 'text' is missing"),
        ('{"id": "a", "category": "x", "text": "b"}\n{"id": "a", "category": "x", "text": "b"}\n', "line 2: id 'a' appears twice"),
        ('{"id": "a", "category": "x", "text": "b"}\n', "need at least 6"),
    ],
)
def test_bad_input_is_located(tmp_path, text, message):
    with pytest.raises(LabelledDataError, match=message.replace("(", r"\(")):
        load_labelled(_write(tmp_path, text))


def test_labels_may_be_lists_and_titles_default_to_the_text(tmp_path):
    rows = [{"id": i, "category": ["food", "water"] if i == 0 else "x", "text": f"word{i} more text"} for i in range(6)]
    data = load_labelled(_write(tmp_path, "".join(json.dumps(r) + "\n" for r in rows)))
    assert data.labels[0] == {"food", "water"} and data.ids[0] == "0"
    assert data.titles[1] == "word1 more text"


def test_duplicate_groups_join_identical_texts_and_the_tsv(labelled, tmp_path):
    data = load_labelled(labelled)
    tsv = tmp_path / "dups.tsv"
    tsv.write_text("group\tids\n0\tnews/t01 news/t02\n1\tnews/unknown news/t05\n")
    groups = duplicate_groups(data, tsv)
    assert groups[3] == groups[12]  # t04 and its exact copy
    assert groups[0] == groups[1]
    assert len(set(groups.tolist())) == len(groups) - 2


def test_measure_counts_precision_duplicates_self_links_and_coverage():
    labels = [frozenset({"a"}), frozenset({"a"}), frozenset({"b"}), frozenset({"a", "b"})]
    dup = np.array([0, 0, 2, 3])  # 0 and 1 are copies
    lists = [[1, 2], [0, 3], [2, 3], []]
    m = measure(lists, labels, dup)
    assert m["precision@5"] == pytest.approx((0.5 + 1.0 + 1.0) / 3, abs=1e-4)  # the empty list is not scored
    assert m["duplicate_rate"] == 0.5  # lists 0 and 1 hold the other copy
    assert m["self_links"] == 0.25
    assert m["coverage"] == 1.0
    assert m["items"] == 1.5


def test_newest_first_is_the_same_box_for_everyone_minus_self():
    lists = newest_first_lists(["2025-01-01", None, "2025-03-01", "2025-02-01", None, "2024-12-31", "2025-01-02"], k=2)
    assert lists[0] == [2, 3] and lists[2] == [3, 6] and lists[1] == [2, 3]


def test_tfidf_more_like_this_finds_shared_terms_and_never_self():
    texts = ["cocoa farms child labour", "cocoa child labour ghana", "solar power grid", "solar grid kenya",
             "floods nigeria", "floods displaced nigeria", "marriage survey"]
    lists = tfidf_lists(texts, k=2)
    assert lists[0][0] == 1 and lists[2][0] == 3 and lists[4][0] == 5
    assert all(i not in items for i, items in enumerate(lists))


def test_eval_related_command_end_to_end(labelled, tmp_path):
    result = CliRunner().invoke(
        app, ["eval-related", str(labelled), "--cache", str(tmp_path / "idx"), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["articles"] == 13
    assert set(report["systems"]) == {"sift", "tfidf_more_like_this", "newest_first_label_blind"}
    sift = report["systems"]["sift"]
    assert sift["self_links"] == 0 and sift["duplicate_rate"] == 0  # the exact copy never shows up beside t04
    assert report["systems"]["newest_first_label_blind"]["coverage"] <= 6 / 13
    cut = report["error_cut"]
    assert report["systems"]["tfidf_more_like_this"]["precision@5"] < 1  # so there is an error to cut
    assert cut["low"] <= cut["cut"] <= cut["high"]
    human = CliRunner().invoke(app, ["eval-related", str(labelled), "--cache", str(tmp_path / "idx")])
    assert "tfidf_more_like_this" in human.output
    assert f"same-topic error {cut['cut']:.1%} lower than TF-IDF more-like-this's (95% CI" in human.output


def test_eval_related_bad_corpus_is_one_line_and_exit_1(tmp_path):
    result = CliRunner().invoke(app, ["eval-related", str(_write(tmp_path, "{oops\n"))])
    assert result.exit_code == 1
    assert "c.jsonl:line 1: invalid JSON" in result.output and "Traceback" not in result.output


def test_error_cut_hand_computed_and_its_interval():
    labels = [frozenset({"a"}), frozenset({"a"}), frozenset({"b"}), frozenset({"b"})]
    assert np.isnan(precisions([[1], [], [3], [0]], labels)[1])  # an empty list is not counted
    # system precision 0.9 on every article, baseline 0.6: error 0.1 against 0.4, 75% lower, on every resample
    system, baseline = np.full(50, 0.9), np.full(50, 0.6)
    assert error_cut(system, baseline) == {"cut": 0.75, "low": 0.75, "high": 0.75}
    # spread: the interval holds the observed cut and narrows with more articles
    rng = np.random.default_rng(1)
    few = error_cut(rng.choice([0.6, 1.0], 40), rng.choice([0.4, 1.0], 40))
    many = error_cut(rng.choice([0.6, 1.0], 4000), rng.choice([0.4, 1.0], 4000))
    assert few["low"] < few["cut"] < few["high"] and many["low"] < many["cut"] < many["high"]
    assert many["high"] - many["low"] < (few["high"] - few["low"]) / 3
    assert error_cut(system, np.ones(50)) is None  # a perfect baseline leaves nothing to cut


@pytest.fixture(scope="module")
def mixed_labelled(tmp_path_factory) -> Path:
    """The English/French/Spanish test corpus in the evaluation's shape, each record saying its language."""
    out = tmp_path_factory.mktemp("mixed") / "mixed.jsonl"
    rows = [json.loads(line) for line in (FIXTURES / "multilingual" / "mixed_corpus.jsonl").read_text().splitlines()]
    out.write_text("".join(json.dumps({"id": r["id"], "category": r["categories"][0], "title": r["title"],
                                       "text": r["body"], "language": r["id"][:2]}) + "\n" for r in rows))
    return out


def test_one_language_of_a_multilingual_corpus_is_read_alone(mixed_labelled):
    assert load_labelled(mixed_labelled).languages == ["en"] * 4 + ["fr"] * 3 + ["es"] * 2
    with pytest.raises(LabelledDataError, match="3 articles in language 'fr'; need at least 6"):
        load_labelled(mixed_labelled, "fr")


def test_a_slice_takes_the_first_articles_of_each_language(mixed_labelled):
    whole = load_labelled(mixed_labelled)
    sliced = load_labelled(mixed_labelled, per_language=2)
    assert sliced.languages == ["en", "en", "fr", "fr", "es", "es"]
    assert sliced.ids == [whole.ids[i] for i in (0, 1, 4, 5, 7, 8)]
    assert sliced.name == "mixed.first2"
    with pytest.raises(LabelledDataError, match="2 articles in language 'fr'"):
        load_labelled(mixed_labelled, "fr", per_language=2)


def test_eval_related_reports_each_language(mixed_labelled, tmp_path):
    result = CliRunner().invoke(app, ["eval-related", str(mixed_labelled), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["by_language"]
    assert {code: m["articles"] for code, m in report.items()} == {"en": 4, "es": 2, "fr": 3}
    for m in report.values():
        assert 0 <= m["sift_precision@5"] <= 1 and 0 <= m["cross_language"] <= 1
    # Spanish sources have only one Spanish neighbour: most of their five items are in other languages
    assert report["es"]["cross_language"] >= 0.6
