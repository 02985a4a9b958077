"""`sift eval` (BEIR collections) and `sift eval-related` (topic-labelled corpora): the figures in BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from indexer.errors import SiftError
from search_api.cli.common import JsonOpt, ModelOpt, app, fail, load_embedder, print_json, settings_for


@app.command(name="eval")
def eval_(
    dataset: Annotated[
        Optional[Path], typer.Argument(help="A BEIR folder: corpus.jsonl(.gz), queries.jsonl, qrels/test.tsv")
    ] = None,
    split: Annotated[str, typer.Option(help="qrels split")] = "test",
    queries: Annotated[Optional[str], typer.Option(
        help="A queries JSONL file (instead of the folder's), or a number N: only the first N judged queries (a quick "
             "slice)")] = None,
    corpus: Annotated[Optional[Path], typer.Option(help="A corpus JSONL(.gz) file instead of the folder's")] = None,
    qrels: Annotated[Optional[Path], typer.Option(help="A qrels TSV file instead of the folder's")] = None,
    model: ModelOpt = None,
    extra_docs: Annotated[
        Optional[int], typer.Option(min=0, help="With --queries: judged documents plus N distractors only")
    ] = None,
    runs: Annotated[Optional[Path], typer.Option(help="Write TREC run files and per_query.csv here")] = None,
    cache: Annotated[
        Optional[Path], typer.Option(help="Keep the index here; a re-run embeds nothing [default: a temporary folder]")
    ] = None,
    database: Annotated[Optional[str], typer.Option(
        "--database", help="Index into this PostgreSQL database, an empty one (its articles become the collection's; "
                           "SIFT_DATABASE_URL is not used here); with SIFT_VECTOR_STORE=pgvector, vectors there too")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Score keyword, semantic and hybrid ranking on a BEIR collection: nDCG@10, Recall@100, MRR@10."""
    from indexer.pipeline import ChunkingParams
    from search_api.evaluation.beir import evaluate, load_beir, slice_data

    settings = settings_for(None, model, database)
    if database is None:  # never a site's own database by way of SIFT_DATABASE_URL: evaluating writes a collection
        settings = settings.model_copy(update={"database_url": None})
    first = int(queries) if queries is not None and queries.isdigit() else None
    try:
        data = load_beir(dataset, split=split, corpus=corpus, qrels=qrels,
                         queries=None if first is not None else queries)
    except SiftError as exc:
        raise fail(str(exc)) from None
    if first or extra_docs is not None:
        data = slice_data(data, queries=first, extra_docs=extra_docs)
    embedder = load_embedder(settings)
    try:
        result = evaluate(
            data,
            embedder,
            index_dir=cache,
            run_dir=runs,
            chunking=ChunkingParams(settings.chunk_words, settings.chunk_overlap),
            late_interaction=settings.late_interaction,
            progress=not as_json,
            database=settings.home().database,
            vectors=settings.vector_config(),
        )
    except SiftError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(result.to_dict())
        return
    _print_eval(result)


def _print_eval(result) -> None:
    """The scores per run with their intervals, the paired comparisons and the fusion weight sweeps."""
    from search_api.evaluation.beir import FUSED_RUN

    typer.echo(f"{result.dataset}: {result.documents} documents, {result.queries} queries "
               f"(indexed in {result.index_seconds:.0f}s, searched in {result.search_seconds:.1f}s)")
    typer.echo(f"{'run':22s} {'nDCG@10':>8s} {'R@100':>8s} {'MRR@10':>8s}")
    for name, scores in result.metrics.items():
        if name.startswith("hybrid-convex-") and name != "hybrid-convex-0.5":
            continue
        if name.startswith("hybrid-tm2c2-") and name != FUSED_RUN:
            continue
        interval = result.intervals.get(name)
        ci = f"  (95% CI {interval['low']:.4f}-{interval['high']:.4f})" if interval else ""
        typer.echo(f"{name:22s} {scores['ndcg@10']:8.4f} {scores['recall@100']:8.4f} {scores['mrr@10']:8.4f}{ci}")
    for pair, d in result.comparisons.items():
        p = "p < 0.001" if d["p"] < 0.001 else f"p = {d['p']:.3f}"
        typer.echo(f"{pair}: nDCG@10 {d['difference']:+.4f} (95% CI {d['low']:+.4f} to {d['high']:+.4f}, "
                   f"{p}; wins {d['wins']}, losses {d['losses']})")
    best = max(result.sweep, key=result.sweep.get)
    typer.echo("convex weight sweep (nDCG@10): " + " ".join(f"{w}:{v:.3f}" for w, v in result.sweep.items()))
    typer.echo(f"best convex weight: {best} (nDCG@10 {result.sweep[best]:.4f})")
    best = max(result.sweep_tm2c2, key=result.sweep_tm2c2.get)
    typer.echo("tm2c2 weight sweep (nDCG@10): " + " ".join(f"{w}:{v:.3f}" for w, v in result.sweep_tm2c2.items()))
    typer.echo(f"best tm2c2 weight: {best} (nDCG@10 {result.sweep_tm2c2[best]:.4f})")


@app.command(name="eval-related")
def eval_related(
    corpus: Annotated[Path, typer.Argument(help="Topic-labelled JSONL(.gz): id, category, title, text")],
    duplicates: Annotated[
        Optional[Path], typer.Option(help="TSV of known duplicate groups (group<TAB>ids), counted as duplicates")
    ] = None,
    lee: Annotated[
        Optional[Path], typer.Option(help="Lee document-similarity folder: also correlate with human ratings")
    ] = None,
    cache: Annotated[
        Optional[Path], typer.Option(help="Keep the index here; a re-run embeds nothing [default: a temporary folder]")
    ] = None,
    language: Annotated[Optional[str], typer.Option(
        help="Only the records whose `language` field is this (e.g. fr): one language of a multilingual corpus")] = None,
    per_language: Annotated[Optional[int], typer.Option(
        min=1, help="Only the first N records of each language: a slice that a slow model indexes in reasonable time")
    ] = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score related posts against TF-IDF more-like-this and a newest-first box: same-topic precision@5,
    duplicates, self-links, coverage. The labels are hidden from every system and used only for scoring."""
    from indexer.pipeline import ChunkingParams
    from search_api.evaluation.related import evaluate_related, load_labelled

    settings = settings_for(cache, model)
    try:
        data = load_labelled(corpus, language, per_language)
    except SiftError as exc:
        raise fail(str(exc)) from None
    embedder = load_embedder(settings)
    try:
        result = evaluate_related(
            data,
            embedder,
            index_dir=cache,
            duplicates=duplicates,
            lee_dir=lee,
            chunking=ChunkingParams(settings.chunk_words, settings.chunk_overlap),
            progress=not as_json,
        )
    except (SiftError, OSError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(result.to_dict())
        return
    typer.echo(f"{result.corpus}: {result.articles} articles (indexed in {result.index_seconds:.0f}s; all related "
               f"lists in {result.related_seconds:.2f}s; serving a list p50 {result.serve_p50_ms:.2f} ms, "
               f"p99 {result.serve_p99_ms:.2f} ms)")
    typer.echo(f"{'system':26s} {'prec@5':>7s} {'dups':>7s} {'self':>7s} {'cover':>7s} {'items':>6s}")
    for name, m in result.systems.items():
        typer.echo(f"{name:26s} {m['precision@5']:7.3f} {m['duplicate_rate']:7.1%} {m['self_links']:7.1%} "
                   f"{m['coverage']:7.1%} {m['items']:6.2f}")
    cut = result.error_cut
    if cut is not None:
        typer.echo(f"same-topic error {cut['cut']:.1%} lower than TF-IDF more-like-this's (95% CI {cut['low']:.1%} "
                   f"to {cut['high']:.1%}; goal: at least 40% lower)")
    for code, m in result.by_language.items():
        cut = m["error_cut"]
        typer.echo(f"  {code}: {m['articles']} articles, precision@5 Sift {m['sift_precision@5']:.3f} vs TF-IDF "
                   f"{m['tfidf_precision@5']:.3f}" + (f", error {cut['cut']:.1%} lower" if cut else "")
                   + f"; {m['cross_language']:.0%} of Sift's items in another language")
    if result.lee:
        for name in ("sift", "dense_cosine"):
            typer.echo(f"Lee human ratings ({result.lee['pairs']} pairs), {name}: Spearman "
                       f"{result.lee[name]['spearman']:.3f}, Pearson {result.lee[name]['pearson']:.3f}")
