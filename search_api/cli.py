"""The `sift` command line: a thin shell over the indexer and the engine, with --json on every report."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from indexer.errors import SiftError
from models import Embedder, ModelLoadError
from search_api.settings import Settings

app = typer.Typer(
    name="sift",
    help="Semantic search and related posts for news and grant sites.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_ERROR = 1
EXIT_SKIPPED = 3  # indexing finished, but some records were bad and skipped

IndexOpt = Annotated[Optional[Path], typer.Option("--index", "-i", help="Index folder [env SIFT_INDEX_DIR, default ./idx]")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON")]
DATA_SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def _settings(index: Path | None) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"index_dir": index}) if index else settings


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(EXIT_ERROR)


def _embedder(settings: Settings) -> Embedder:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the CLI shows its own progress; the weight-loading bar is noise
    try:
        return Embedder(settings.model_path, batch_size=settings.embed_batch_size, threads=settings.threads)
    except ModelLoadError as exc:
        raise _fail(str(exc)) from None


def _engine(settings: Settings):
    from search_api.engine import Engine

    try:
        return Engine.open(settings.index_dir, _embedder(settings), verify=settings.verify_checksums)
    except SiftError as exc:
        raise _fail(str(exc)) from None


def _print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _day(value: datetime | None) -> str:
    return value.date().isoformat() if value else "undated"


@app.command()
def index(
    sources: Annotated[list[Path], typer.Argument(help="Files or folders: .jsonl .csv .parquet .html (optionally .gz)")],
    index: IndexOpt = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Read, embed and publish articles. Unchanged articles are not embedded again."""
    from indexer.pipeline import ChunkingParams, index_sources

    settings = _settings(index)
    embedder = _embedder(settings)
    try:
        report = index_sources(
            sources,
            settings.index_dir,
            embedder,
            chunking=ChunkingParams(settings.chunk_words, settings.chunk_overlap),
            progress=not quiet and not as_json,
            keep_versions=settings.keep_versions,
        )
    except (SiftError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(report.to_dict())
    else:
        for err in report.errors:
            typer.secho(f"skipped {err}", fg=typer.colors.YELLOW, err=True)
        typer.echo(
            f"read {report.read} articles: {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged; {report.skipped} skipped (bad records)"
        )
        if report.embedded:
            typer.echo(f"embedded {report.embedded} passages ({report.cached} reused from the cache)")
        elif report.cached:
            typer.echo(f"embedded nothing: all {report.cached} passages came from the cache")
        if report.version is not None:
            state = "published" if report.published else "unchanged, still serving"
            typer.echo(f"version {report.version} {state} at {settings.index_dir} in {report.seconds:.1f}s")
    if report.version is None:
        raise _fail("nothing was indexed: no readable article in the sources")
    if report.skipped:
        raise typer.Exit(EXIT_SKIPPED)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="A question or keywords")],
    index: IndexOpt = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="Results per page")] = 10,
    offset: Annotated[int, typer.Option(min=0, max=1000, help="Skip this many results")] = 0,
    category: Annotated[Optional[list[str]], typer.Option("--category", "-c", help="Only these categories")] = None,
    date_from: Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"], help="Published on/after")] = None,
    date_to: Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"], help="Published on/before")] = None,
    mode: Annotated[str, typer.Option("--mode", "-m", help="hybrid, semantic or keyword")] = "hybrid",
    as_json: JsonOpt = False,
) -> None:
    """Search the index with a natural-language question."""
    from search_api.schemas import Filters

    engine = _engine(_settings(index))
    filters = Filters(
        categories=category or [],
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
    )
    try:
        results = engine.search(query, k=k, offset=offset, filters=filters, mode=mode)  # type: ignore[arg-type]
    except SiftError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(results.model_dump(mode="json"))
        return
    if not results.hits:
        typer.echo("no articles match")
    for rank, hit in enumerate(results.hits, start=offset + 1):
        typer.secho(f"{rank}. {hit.title}", bold=True)
        facts = [_day(hit.published_at), *hit.categories, *hit.countries, f"score {hit.score:.3f}"]
        if hit.similar:
            facts.append(f"+{len(hit.similar)} similar")
        typer.echo(f"   {hit.id} · " + " · ".join(facts))
        if hit.url:
            typer.echo(f"   {hit.url}")
        typer.echo(f"   {hit.snippet}")


@app.command()
def related(
    article_id: Annotated[str, typer.Argument(help="The article's id")],
    index: IndexOpt = None,
    k: Annotated[int, typer.Option("-k", min=1, max=50)] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Articles related to one article (never the article itself)."""
    engine = _engine(_settings(index))
    try:
        results = engine.related(article_id, k=k)
    except SiftError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(results.model_dump(mode="json"))
        return
    for rank, item in enumerate(results.items, start=1):
        typer.echo(f"{rank}. [{item.score:.3f}] {item.title} ({item.id}, {_day(item.published_at)})")


@app.command()
def stats(index: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """Facts about the live index version."""
    facts = _engine(_settings(index)).stats()
    if as_json:
        _print_json(facts.model_dump(mode="json"))
        return
    typer.echo(f"version      {facts.version} (published {facts.created_at:%Y-%m-%d %H:%M} UTC)")
    typer.echo(f"model        {facts.model_id} ({facts.dim} dimensions)")
    typer.echo(f"articles     {facts.articles} in {facts.chunks} passages, {facts.index_bytes / 1e6:.1f} MB")
    typer.echo(f"dates        {_day(facts.oldest)} .. {_day(facts.newest)}")
    for name, count in facts.categories.items():
        typer.echo(f"  {count:6d}  {name}")


@app.command(name="eval")
def eval_(
    dataset: Annotated[Path, typer.Argument(help="A BEIR folder: corpus.jsonl(.gz), queries.jsonl, qrels/test.tsv")],
    split: Annotated[str, typer.Option(help="qrels split")] = "test",
    queries: Annotated[Optional[int], typer.Option(min=1, help="Only the first N judged queries (a quick slice)")] = None,
    extra_docs: Annotated[
        Optional[int], typer.Option(min=0, help="With --queries: judged documents plus N distractors only")
    ] = None,
    runs: Annotated[Optional[Path], typer.Option(help="Write TREC run files and per_query.csv here")] = None,
    cache: Annotated[
        Optional[Path], typer.Option(help="Keep the index here; a re-run embeds nothing [default: a temporary folder]")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Score keyword, semantic and hybrid ranking on a BEIR collection: nDCG@10, Recall@100, MRR@10."""
    from indexer.pipeline import ChunkingParams
    from search_api.evaluation import evaluate, load_beir, slice_data

    settings = Settings()
    try:
        data = load_beir(dataset, split=split)
    except SiftError as exc:
        raise _fail(str(exc)) from None
    if queries or extra_docs is not None:
        data = slice_data(data, queries=queries, extra_docs=extra_docs)
    embedder = _embedder(settings)
    try:
        result = evaluate(
            data,
            embedder,
            index_dir=cache,
            run_dir=runs,
            chunking=ChunkingParams(settings.chunk_words, settings.chunk_overlap),
            progress=not as_json,
        )
    except SiftError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(result.to_dict())
        return
    typer.echo(f"{result.dataset}: {result.documents} documents, {result.queries} queries "
               f"(indexed in {result.index_seconds:.0f}s, searched in {result.search_seconds:.1f}s)")
    typer.echo(f"{'run':22s} {'nDCG@10':>8s} {'R@100':>8s} {'MRR@10':>8s}")
    for name, scores in result.metrics.items():
        if name.startswith("hybrid-convex-") and name != "hybrid-convex-0.5":
            continue
        typer.echo(f"{name:22s} {scores['ndcg@10']:8.4f} {scores['recall@100']:8.4f} {scores['mrr@10']:8.4f}")
    best = max(result.sweep, key=result.sweep.get)
    typer.echo("convex weight sweep (nDCG@10): " + " ".join(f"{w}:{v:.3f}" for w, v in result.sweep.items()))
    typer.echo(f"best convex weight: {best} (nDCG@10 {result.sweep[best]:.4f})")


def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    import uvicorn

    from search_api.app import create_app

    engine = _engine(settings)  # load first, so a missing index is one clear line rather than a server that 503s
    host, port = host or settings.host, port or settings.port
    typer.echo(f"serving {engine.stats().articles} articles (version {engine.version}) on http://{host}:{port}")
    uvicorn.run(create_app(settings, engine=engine), host=host, port=port, log_level="info")


@app.command()
def serve(
    index: IndexOpt = None,
    host: Annotated[Optional[str], typer.Option(help="[env SIFT_HOST, default 127.0.0.1]")] = None,
    port: Annotated[Optional[int], typer.Option(help="[env SIFT_PORT, default 8000]")] = None,
) -> None:
    """Serve the HTTP API and the search page."""
    _serve(_settings(index), host, port)


@app.command()
def demo(
    index: Annotated[Path, typer.Option("--index", "-i", help="Where to build the demo index")] = Path("idx-demo"),
    host: Annotated[Optional[str], typer.Option()] = None,
    port: Annotated[Optional[int], typer.Option()] = None,
) -> None:
    """Index the bundled sample corpus and serve it."""
    from indexer.pipeline import index_sources

    if not DATA_SAMPLE.is_dir():
        raise _fail(f"the sample corpus is not at {DATA_SAMPLE}; run from a source checkout")
    settings = _settings(index)
    report = index_sources([DATA_SAMPLE], settings.index_dir, _embedder(settings))
    typer.echo(f"indexed {report.read} sample articles ({report.embedded} passages embedded), {report.skipped} skipped")
    _serve(settings, host, port)


def main() -> None:  # pragma: no cover - console entry point
    app(prog_name="sift")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
