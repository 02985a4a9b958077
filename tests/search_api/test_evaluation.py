"""The evaluation harness on a tiny BEIR-format fixture with known answers, and its located errors."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from search_api.cli import app
from search_api.evaluation.beir import (
    DEFAULT_RUN,
    FUSED_RUN,
    DatasetError,
    bootstrap_interval,
    bootstrap_means,
    evaluate,
    load_beir,
    paired_difference,
    slice_data,
)

TINY = Path(__file__).resolve().parent.parent / "fixtures" / "beir_tiny"


def test_load_keeps_only_judged_queries():
    data = load_beir(TINY)
    assert len(data.corpus) == 6 and sorted(data.queries) == ["q1", "q2", "q3"]
    assert data.qrels["q2"] == {"d3": 1}


def test_every_mode_finds_the_obvious_answers(embedder, tmp_path):
    result = evaluate(load_beir(TINY), embedder, run_dir=tmp_path / "runs", progress=False)
    for run in ("keyword", "semantic", "hybrid-rrf", "hybrid-convex-0.5"):
        assert result.metrics[run] == {"ndcg@10": 1.0, "recall@100": 1.0, "mrr@10": 1.0}, run
    assert set(result.sweep) == {f"{w / 10:.1f}" for w in range(11)}
    assert set(result.sweep_tm2c2) == {f"{w / 20:.2f}" for w in range(21)}
    assert result.metrics["hybrid-tm2c2-0.75"]["ndcg@10"] == 1.0
    assert result.intervals[DEFAULT_RUN] == {"mean": 1.0, "low": 1.0, "high": 1.0}
    assert result.comparisons[f"{DEFAULT_RUN} vs keyword"] == {
        "difference": 0.0, "low": 0.0, "high": 0.0, "p": 1.0, "wins": 0, "losses": 0}
    first = (tmp_path / "runs" / "keyword.trec").read_text().splitlines()[0].split()
    assert first[:4] == ["q1", "Q0", "d1", "1"]
    assert (tmp_path / "runs" / "per_query.csv").read_text().startswith("query_id,")


def test_slice_keeps_judged_documents():
    sliced = slice_data(load_beir(TINY), queries=1, extra_docs=2)
    assert sliced.qrels == {"q1": {"d1": 1}} and [d["_id"] for d in sliced.corpus] == ["d1", "d2", "d3"]


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("corpus.jsonl", '{"_id": "d1", "text": "x"}\n{broken\n', "corpus.jsonl:line 2: invalid JSON"),
        ("corpus.jsonl", '{"_id": "d1"}\n', "corpus.jsonl:line 1: field 'text' is missing"),
        ("queries.jsonl", '[1, 2]\n', "queries.jsonl:line 1: expected a JSON object"),
        ("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\n", "test.tsv:line 2: expected 3 tab-separated columns"),
        ("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\thigh\n", "test.tsv:line 2: relevance 'high'"),
        ("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq9\td1\t1\n", "query 'q9' is not in queries.jsonl"),
    ],
)
def test_malformed_input_is_located(tmp_path, file, content, message):
    folder = tmp_path / "beir"
    shutil.copytree(TINY, folder)
    (folder / file).write_text(content)
    with pytest.raises(DatasetError, match=message.replace("[", r"\[")):
        load_beir(folder)
    result = CliRunner().invoke(app, ["eval", str(folder)])
    assert result.exit_code == 1 and message in result.output


def test_cli_prints_json(tmp_path):
    result = CliRunner().invoke(app, ["eval", str(TINY), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["queries"] == 3 and data["metrics"]["keyword"]["ndcg@10"] == 1.0
    assert data["intervals"][DEFAULT_RUN]["mean"] == 1.0
    assert set(data["comparisons"]) == {
        f"{DEFAULT_RUN} vs {r}" for r in ("keyword", "semantic", "hybrid-convex-0.5", "hybrid-rrf", FUSED_RUN)}


@pytest.mark.parametrize("late", [False, True], ids=["default", "late-interaction"])
def test_the_default_run_is_the_served_ranking(embedder, tmp_path, late):
    """"hybrid" is what search serves: TM2C2 at its weight (with SIFT_LATE_INTERACTION, its top re-scored by late
    interaction); the same order as the engine's own hybrid ranking of each query."""
    from search_api.engine import Engine, RankingParams

    assert FUSED_RUN == "hybrid-tm2c2-0.75" and RankingParams().fusion == "tm2c2"
    data = load_beir(TINY)
    result = evaluate(data, embedder, index_dir=tmp_path / "idx", run_dir=tmp_path / "runs", progress=False,
                      late_interaction=late)
    assert result.metrics[DEFAULT_RUN]["ndcg@10"] == 1.0
    engine = Engine.open(tmp_path / "idx", embedder, ranking=RankingParams(collapse_duplicates=False))
    assert (engine.passage_tokens is not None) == late
    doc_ids = [d["_id"] for d in data.corpus]

    def run(name: str) -> dict[str, list[tuple[str, float]]]:
        out: dict[str, list[tuple[str, float]]] = {}
        for line in (tmp_path / "runs" / f"{name}.trec").read_text().splitlines():
            qid, _, doc, _, score, _ = line.split()
            out.setdefault(qid, []).append((doc, float(score)))
        return out

    served, fused = run(DEFAULT_RUN), run(FUSED_RUN)
    assert served.keys() == {"q1", "q2", "q3"}
    for qid, hits in served.items():
        ranked = engine.ranker.rank(data.queries[qid], "hybrid", 100, None)
        assert [doc_ids[int(engine.articles["id"].iat[c.article][1:])] for c in ranked] == [d for d, _ in hits]
        assert [c.score for c in ranked] == pytest.approx([s for _, s in hits], abs=1e-5)  # batch vs one query
        if late:  # the top articles gained their late-interaction share; the fused run has them without it
            assert hits[0][1] > dict(fused[qid])[hits[0][0]] + 0.05
        else:
            assert hits == fused[qid]


def test_a_difference_on_every_query_is_certain_and_one_query_is_not():
    ten = {f"q{i}": 0.5 for i in range(10)}
    better = {q: 0.6 for q in ten}
    d = paired_difference(better, ten)
    assert d["difference"] == 0.1 and d["low"] == d["high"] == 0.1
    assert d["wins"] == 10 and d["losses"] == 0
    # randomisation: only the 2 of 2^10 sign patterns with all signs alike reach |0.1|, so p ≈ 1/512
    assert 0.0001 < d["p"] < 0.005
    one = {**ten, "q0": 1.0}  # +0.5 on one query of ten: mean +0.05, but half the sign flips reach it
    d = paired_difference(one, ten)
    assert d["difference"] == 0.05 and d["wins"] == 1 and d["low"] == 0.0 and d["high"] == 0.15
    assert d["p"] == pytest.approx(1.0, abs=0.01)
    assert paired_difference(ten, one)["difference"] == -0.05


def test_the_bootstrap_interval_holds_the_mean_and_widens_with_spread():
    spread = {f"q{i}": float(i % 2) for i in range(40)}  # half 0, half 1
    ci = bootstrap_interval(spread)
    assert ci["mean"] == 0.5 and 0.3 < ci["low"] < 0.4 and 0.6 < ci["high"] < 0.7
    assert bootstrap_interval(spread) == ci  # seeded: the same figures on every run
    wide = bootstrap_interval({q: v for q, v in list(spread.items())[:10]})
    assert wide["high"] - wide["low"] > ci["high"] - ci["low"]
    with pytest.raises(ValueError, match="different query sets"):
        paired_difference(spread, {"q0": 1.0})


def test_bootstrap_means_pair_the_rows_skip_nan_and_draw_in_blocks():
    values = np.array([[1.0, np.nan, 3.0], [10.0, 20.0, 30.0]])
    means = bootstrap_means(values, resamples=500)
    assert means.shape == (2, 500)
    drawn = means[0][~np.isnan(means[0])]  # NaN cells left out: only 1s and 3s are averaged
    assert set(np.round(drawn * 3)) <= {3.0, 5.0, 6.0, 7.0, 9.0} and np.isnan(means[0]).sum() < 50  # all-NaN ≈ 1/27
    # paired: the same columns for both rows, so where row 0 drew only column 0, row 1 drew only column 0 too
    only_first = means[0] == 1.0
    assert only_first.any() and np.all(means[1][only_first] <= 20.0)
    big = bootstrap_means(np.arange(50_000, dtype=float), resamples=120)  # 40 resamples per ~2M-cell block
    assert big.shape == (1, 120) and abs(big.mean() - 24_999.5) < 200


def test_a_run_no_query_answered_scores_zero():
    """The keyword leg is silent for questions in a language the site lacks: its run may hold no query at all."""
    from search_api.evaluation.beir import _score

    metrics, per_query = _score({"keyword": {}, "semantic": {"q1": {"d1": 0.9}}}, {"q1": {"d1": 1}, "q2": {"d2": 1}})
    assert metrics["keyword"] == {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    assert per_query["keyword"] == {"q1": 0.0, "q2": 0.0} and metrics["semantic"]["ndcg@10"] == 0.5
