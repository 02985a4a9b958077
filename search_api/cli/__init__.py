"""The `sift` command line: a thin shell over the indexer and the engine, with --json on every report."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from indexer.errors import SiftError, StoreBusy, StoreUnwritable
from models import Embedder, ModelLoadError
from models.embedder import backend_is_prepared
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


def _embedder(settings: Settings, *, serving: bool = False) -> Embedder:
    backend = settings.serving_backend() if serving else settings.embed_backend
    try:
        prepared = backend_is_prepared(settings.model_path, backend, settings.cache_dir)
        if backend == "torch" or not prepared:  # torch loads the model (~2 s to import transformers: only then)
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the CLI shows its own progress; the weight-loading bar is noise
        if not prepared:
            typer.echo(f"preparing the model for ONNX Runtime ({backend}): once on this machine, about 20 s", err=True)
        return settings.embedder(serving=serving)
    except ModelLoadError as exc:
        raise _fail(str(exc)) from None


def _engine(settings: Settings, *, serving: bool = True):
    """The live version, for answering queries (so the embedder runs single-threaded, see Settings.embedder)."""
    try:
        return settings.open_engine(_embedder(settings, serving=serving))
    except SiftError as exc:
        raise _fail(str(exc)) from None


def _print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _day(value: datetime | None) -> str:
    return value.date().isoformat() if value else "undated"


def _index(settings: Settings, sources: list[str], *, progress: bool, sync_full: bool | None = None):
    """Index `sources`, or with `sync_full` set sync the one source (incrementally unless it is True)."""
    from indexer.pipeline import index_sources, sync_source
    from indexer.sources.http import Politeness

    common = dict(
        settings.index_options(),
        progress=progress,
        politeness=Politeness(user_agent=settings.user_agent, min_interval=settings.crawl_delay),
    )
    try:
        if sync_full is None:
            return index_sources(sources, settings.index_dir, _embedder(settings), **common)
        return sync_source(sources[0], settings.index_dir, _embedder(settings), full=sync_full, **common)
    except (StoreBusy, StoreUnwritable) as exc:
        # the store commits in batches: the one in flight is rolled back, the ones before it are kept
        raise _fail(f"{exc}. Batches committed before it are kept; run it again to go on from there") from None
    except (SiftError, ValueError) as exc:
        raise _fail(str(exc)) from None


def _report(settings: Settings, report, as_json: bool) -> None:
    """The summary of an index or sync run, and its exit status: 0, 3 if records were skipped, 1 if nothing."""
    if as_json:
        _print_json(report.to_dict())
    else:
        for err in report.errors:
            typer.secho(f"skipped {err}", fg=typer.colors.YELLOW, err=True)
        typer.echo(
            f"read {report.read} articles: {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged, {report.deleted} deleted; {report.skipped} failed (skipped)"
        )
        if report.embedded:
            typer.echo(f"embedded {report.embedded} passages ({report.cached} reused from the cache)")
        elif report.cached:
            typer.echo(f"embedded nothing: all {report.cached} passages came from the cache")
        if report.version is not None:
            state = "published" if report.published else "unchanged, still serving"
            typer.echo(f"version {report.version} {state} at {settings.index_dir} in {report.seconds:.1f}s")
        if report.related_pass == "incremental":
            typer.echo(f"related lists: {report.related_recomputed} recomputed near the changes, the rest kept")
    if report.version is None:
        raise _fail("nothing was indexed: no readable article in the sources")
    if report.skipped:
        raise typer.Exit(EXIT_SKIPPED)


@app.command()
def index(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Files or folders (.jsonl .csv .parquet .html, optionally .gz), feeds (https://…/feed/, .rss, .atom), "
            "wp+https://site (WordPress), sitemap+https://site/sitemap.xml"
        ),
    ],
    index: IndexOpt = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Read, embed and publish articles. Unchanged articles are not embedded again."""
    settings = _settings(index)
    _report(settings, _index(settings, sources, progress=not quiet and not as_json), as_json)


@app.command()
def sync(
    source: Annotated[str, typer.Argument(help="One source, as for `sift index` (feed, wp+…, sitemap+…, file)")],
    index: IndexOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="Pull everything and delete articles the source no longer has")
    ] = False,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Pull only what changed since the last sync of SOURCE, apply it and publish a new version."""
    settings = _settings(index)
    _report(settings, _index(settings, [source], progress=not quiet and not as_json, sync_full=full), as_json)


@app.command()
def delete(
    ids: Annotated[list[str], typer.Argument(help="Ids of the articles to delete")],
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete articles and publish a version without them (a server on the index switches to it)."""
    from indexer.pipeline import apply_changes
    from indexer.publish import STORE_FILE
    from indexer.store import Store

    settings = _settings(index)
    if not (settings.index_dir / STORE_FILE).exists():
        raise _fail(f"no index at {settings.index_dir} (no {STORE_FILE}); run `sift index` first")
    try:
        with Store(settings.index_dir / STORE_FILE) as store:
            missing = [i for i in dict.fromkeys(ids) if store.get_article(i) is None]
        present = [i for i in dict.fromkeys(ids) if i not in missing]
        for article_id in missing:
            typer.secho(f"not in the index: {article_id}", fg=typer.colors.YELLOW, err=True)
        if not present:
            raise _fail("nothing was deleted: no such article")
        report = apply_changes(
            settings.index_dir, _embedder(settings), deletes=present, source="cli", **settings.index_options()
        )
    except SiftError as exc:
        raise _fail(str(exc)) from None
    _report(settings, report, as_json)
    if missing:
        raise typer.Exit(EXIT_SKIPPED)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='A question or keywords; a "quoted phrase" must appear, a -word must not')],
    index: IndexOpt = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="Results per page")] = 10,
    offset: Annotated[int, typer.Option(min=0, max=1000, help="Skip this many results")] = 0,
    category: Annotated[Optional[list[str]], typer.Option("--category", "-c", help="Only these categories")] = None,
    country: Annotated[Optional[list[str]], typer.Option("--country", help="Only articles about these countries")] = None,
    region: Annotated[Optional[list[str]], typer.Option("--region", help="Only these regions, e.g. 'East Africa'")] = None,
    date_from: Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"], help="Published on/after")] = None,
    date_to: Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"], help="Published on/before")] = None,
    mode: Annotated[str, typer.Option("--mode", "-m", help="hybrid, semantic or keyword")] = "hybrid",
    facets: Annotated[bool, typer.Option("--facets", help="Also count categories, countries, regions and years "
                                                          "over the results scoring at least half the first")] = False,
    spellcheck: Annotated[bool, typer.Option("--spellcheck/--no-spellcheck",
                                             help="Correct words no article contains")] = True,
    sort: Annotated[Optional[str], typer.Option("--sort", help="relevance; date: the relevant results (scoring at "
                                                               "least half the first) newest first; deadline: by "
                                                               "their next grant deadline, soonest first. Unset, "
                                                               "\"latest …\" queries are ordered by date and \"open "
                                                               "calls …\" by deadline")] = None,
    calls: Annotated[Optional[str], typer.Option("--calls", help="open: only grant calls with a deadline today or "
                                                                 "later; closed: only calls past every deadline")] = None,
    floor: Annotated[Optional[float], typer.Option("--floor", min=0.0, max=1.0,
                                                   help="Match floor: list nothing unless a passage reaches this "
                                                        "cosine or an article holds every word (default "
                                                        "SIFT_MATCH_FLOOR, 0.30; 0 lists the nearest however weak)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Search the index with a natural-language question."""
    from search_api.schemas import Filters

    engine = _engine(_settings(index))
    filters = Filters(
        categories=category or [],
        countries=country or [],
        regions=region or [],
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
    )
    if mode not in ("hybrid", "semantic", "keyword"):
        raise _fail(f"unknown mode {mode!r}; use hybrid, semantic or keyword")
    if calls not in (None, "open", "closed"):
        raise _fail(f"unknown --calls {calls!r}; use open or closed")
    filters = filters.model_copy(update={"calls": calls})
    try:
        results = engine.search(query, k=k, offset=offset, filters=filters, mode=mode,  # type: ignore[arg-type]
                                facets=facets, spellcheck=spellcheck, sort=sort, floor=floor)  # type: ignore[arg-type]
    except SiftError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(results.model_dump(mode="json"))
        return
    if results.corrected_query:
        typer.echo(f"showing results for: {results.corrected_query}  (--no-spellcheck searches as typed)\n")
    if results.time_window:
        span = results.time_window
        days = (f"on {span.date_from}" if span.date_from == span.date_to
                else f"from {span.date_from} to {span.date_to}" if span.date_to else f"since {span.date_from}")
        typer.echo(f"published {days} (\"{span.words}\")\n")
    if results.weak_only:
        typer.echo("no article matches well: none is close in meaning, none holds every word (--floor 0 lists the "
                   "nearest ones)")
    elif not results.hits and results.calls and calls != "closed" and results.eligible == 0:  # between rounds
        typer.echo("no open calls right now (--calls closed lists the calls that have closed)")
    elif not results.hits:
        typer.echo("no articles match")
    elif not results.ranked:
        asked = next(w for w in (results.calls, results.recency, results.time_window and results.time_window.words) if w)
        which = "open calls, soonest deadline first" if results.sort == "deadline" else "newest articles"
        typer.echo(f"the {results.relevant} {which} (\"{asked}\" with nothing else to search for)\n")
    elif results.relevant is not None:
        if results.sort == "deadline":
            why = f" (\"{results.calls}\" asks for open calls; --sort relevance ranks them)" if results.calls else ""
            typer.echo(f"the {results.relevant} most relevant results, soonest deadline first{why}\n")
        else:
            why = f" (\"{results.recency}\" asks for the newest; --sort relevance ranks them)" if results.recency else ""
            typer.echo(f"the {results.relevant} most relevant results, newest first{why}\n")
    for rank, hit in enumerate(results.hits, start=offset + 1):
        typer.secho(f"{rank}. {hit.title}", bold=True)
        facts = [_day(hit.published_at), *hit.categories, *hit.countries, *_deadline_fact(hit.deadline, hit.deadline_passed),
                 *([f"score {hit.score:.3f}"] if results.ranked else [])]
        if hit.similar:
            facts.append(f"+{len(hit.similar)} similar")
        typer.echo(f"   {hit.id} · " + " · ".join(facts))
        if hit.url:
            typer.echo(f"   {hit.url}")
        typer.echo(f"   {hit.snippet}")
    if results.facets is not None and results.facets.counted:
        typer.echo(f"\nin the best {results.facets.counted} results:")
        for name in ("categories", "countries", "regions", "years", "calls"):
            values = getattr(results.facets, name)[:8]
            if values:
                typer.echo(f"  {name}: " + " · ".join(f"{v.value} ({v.count})" for v in values))


def _deadline_fact(deadline: date | None, passed: bool | None) -> list[str]:
    """"deadline 2026-12-15 (in 16 days)" / "closed 2026-05-15", or nothing for an article without one."""
    if deadline is None:
        return []
    if passed:
        return [f"closed {deadline}"]
    days = (deadline - datetime.now(timezone.utc).date()).days
    return [f"deadline {deadline} (" + ("today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days") + ")"]


@app.command()
def suggest(
    typed: Annotated[str, typer.Argument(help="What a reader has typed so far, e.g. 'child traf'")],
    index: IndexOpt = None,
    k: Annotated[int, typer.Option("-k", min=1, max=20, help="Completions at most")] = 8,
    as_json: JsonOpt = False,
) -> None:
    """Complete the last word as the search box would (GET /suggest)."""
    engine = _engine(_settings(index))
    results = engine.suggest(typed, k=k)
    if as_json:
        _print_json(results.model_dump(mode="json"))
        return
    typer.echo("\n".join(results.suggestions) if results.suggestions else "no completions")


@app.command()
def related(
    article_id: Annotated[str, typer.Argument(help="The article's id")],
    index: IndexOpt = None,
    k: Annotated[int, typer.Option("-k", min=1, max=50)] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Articles related to one article (never the article itself), with the editors' pins and excludes."""
    settings = _settings(index)
    engine = _engine(settings)
    try:
        results = engine.related(article_id, k=k, curation=_editorial(settings).curation(article_id))
    except SiftError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(results.model_dump(mode="json"))
        return
    if not results.items:
        typer.echo("no article is similar enough (SIFT_RELATED_MIN_SIMILARITY)")
    for rank, item in enumerate(results.items, start=1):
        facts = ", ".join([item.id, _day(item.published_at), *_deadline_fact(item.deadline, item.deadline_passed)])
        typer.echo(f"{rank}. [{item.score:.3f}] {item.title} ({facts})")
        typer.echo(f"   {item.reason}")


# -- editorial control: pins and excludes, straight in the store (no model is loaded) ----------------------------
SourceArg = Annotated[str, typer.Argument(help="The article whose related posts change")]
OtherArg = Annotated[str, typer.Argument(help="The article pinned or excluded")]


def _editorial(settings: Settings):
    from indexer.editorial import EditorialStore
    from indexer.publish import STORE_FILE

    path = settings.index_dir / STORE_FILE
    if not path.is_file():
        raise _fail(f"no index at {settings.index_dir}: run `sift index SOURCE --index {settings.index_dir}` first")
    return EditorialStore(path)


def _curate(index: Path | None, article_id: str, other: str, change, *, check: bool) -> None:
    """Apply `change(store)` and print the article's pins and excludes; `check`: both ids must be indexed."""
    from indexer.editorial import NotCurated
    from indexer.store import Store

    settings = _settings(index)
    editorial = _editorial(settings)
    if check:
        if article_id == other:
            raise _fail("an article cannot be pinned to or excluded from its own related posts")
        with Store(editorial.path) as store:
            for aid in (article_id, other):
                if store.get_article(aid) is None:
                    raise _fail(f"article {aid!r} is not in the index at {settings.index_dir}")
    try:
        curation = change(editorial)
    except NotCurated as exc:
        raise _fail(str(exc)) from None
    finally:
        editorial.close()
    pins = ", ".join(f"{target} (position {position})" for target, position in curation.pins) or "none"
    typer.echo(f"{article_id}: pinned {pins}; excluded {', '.join(sorted(curation.excludes)) or 'none'}")


@app.command()
def pin(
    article_id: SourceArg, other: OtherArg, index: IndexOpt = None,
    position: Annotated[int, typer.Option(min=1, max=50, help="1-based place in the list")] = 1,
) -> None:
    """Always show OTHER in ARTICLE_ID's related posts, at --position. Survives re-indexing."""
    _curate(index, article_id, other, lambda e: e.pin(article_id, other, position), check=True)


@app.command()
def unpin(article_id: SourceArg, other: OtherArg, index: IndexOpt = None) -> None:
    """Remove a pin."""
    _curate(index, article_id, other, lambda e: e.unpin(article_id, other), check=False)


@app.command()
def exclude(article_id: SourceArg, other: OtherArg, index: IndexOpt = None) -> None:
    """Never show OTHER (nor its near-duplicates) in ARTICLE_ID's related posts. Survives re-indexing."""
    _curate(index, article_id, other, lambda e: e.exclude(article_id, other), check=True)


@app.command()
def unexclude(article_id: SourceArg, other: OtherArg, index: IndexOpt = None) -> None:
    """Remove an exclude."""
    _curate(index, article_id, other, lambda e: e.unexclude(article_id, other), check=False)


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


@app.command()
def backup(
    destination: Annotated[Path, typer.Argument(help="A new (or empty) folder for the copy")],
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Copy the index while it serves: the live version and a consistent snapshot of store.sqlite (articles,
    embedding cache, pins, click and search counts). The copy is an index folder: `sift serve --index DESTINATION`."""
    from dataclasses import asdict

    from indexer.backup import backup_index

    settings = _settings(index)
    try:
        report = backup_index(settings.index_dir, destination)
    except SiftError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json({**asdict(report), "destination": str(report.destination)})
        return
    typer.echo(f"backed up version {report.version} ({report.articles} articles) to {report.destination} in "
               f"{report.seconds:.1f} s: store {report.store_bytes / 1e6:.1f} MB, version {report.version_bytes / 1e6:.1f} MB")
    if report.vectors_elsewhere:
        typer.secho("this index keeps its vectors in Qdrant: back those up with a Qdrant snapshot", fg=typer.colors.YELLOW)


@app.command()
def insights(
    index: IndexOpt = None,
    days: Annotated[int, typer.Option(min=1, max=3650, help="The last this many days, today included")] = 30,
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="Queries per list")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """What readers searched for on `sift serve` (GET /stats/search): the most searched queries, and the most searched
    of those that listed nothing — what readers look for and the site does not have."""
    from dataclasses import asdict

    editorial = _editorial(_settings(index))
    try:
        found = editorial.search_insights(days=days, limit=k)
    except SiftError as exc:
        raise _fail(str(exc)) from None
    finally:
        editorial.close()
    if as_json:
        _print_json(asdict(found))
        return
    share = f" ({found.unanswered / found.searches:.0%})" if found.searches else ""
    typer.echo(f"last {found.days} days: {found.searches} searches, {found.unanswered} listed nothing{share}")
    for title, counts in (("most searched", found.top), ("most searched of those that listed nothing", found.unanswered_top)):
        if counts:
            typer.echo(f"\n{title}:")
            for c in counts:
                typer.echo(f"  {c.searches:6d}  {c.query}" + (f"  ({c.unanswered} listed nothing)" if c.unanswered else ""))


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
    from search_api.evaluation.beir import FUSED_RUN, evaluate, load_beir, slice_data

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
            late_interaction=settings.late_interaction,
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
    as_json: JsonOpt = False,
) -> None:
    """Score related posts against TF-IDF more-like-this and a newest-first box: same-topic precision@5,
    duplicates, self-links, coverage. The labels are hidden from every system and used only for scoring."""
    from indexer.pipeline import ChunkingParams
    from search_api.evaluation.related import evaluate_related, load_labelled

    settings = Settings()
    try:
        data = load_labelled(corpus)
    except SiftError as exc:
        raise _fail(str(exc)) from None
    embedder = _embedder(settings)
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
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(result.to_dict())
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
    if result.lee:
        for name in ("sift", "dense_cosine"):
            typer.echo(f"Lee human ratings ({result.lee['pairs']} pairs), {name}: Spearman "
                       f"{result.lee[name]['spearman']:.3f}, Pearson {result.lee[name]['pearson']:.3f}")


def worker_app():
    """The app of one `sift serve --workers N` process: uvicorn imports and calls this in each worker."""
    from search_api.http.app import create_app
    from search_api.http.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_format)
    return create_app(settings)


def _serve_workers(settings: Settings, host: str, port: int, log_format: str | None, workers: int) -> None:
    """Several uvicorn worker processes, each loading the live version itself. FAISS files are memory-mapped, so
    the workers share one copy of the index pages; each holds its own model and metadata."""
    import logging
    import os
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from indexer.publish import current_version_dir, read_manifest
    from models.embedder import prepare_backend

    if settings.vector_store == "qdrant" and not settings.qdrant_url:
        raise _fail("Qdrant's local mode serves one process at a time; set SIFT_QDRANT_URL or use --workers 1")
    try:  # check the index here, so a missing one is one clear line rather than N workers that 503
        manifest = read_manifest(current_version_dir(settings.index_dir))
    except SiftError as exc:
        raise _fail(str(exc)) from None
    logging.getLogger("sift.serve").info(
        "serving %s articles (version %s) on http://%s:%s with %s workers",
        manifest["counts"]["articles"], manifest["version"], host, port, workers,
    )
    try:  # the query runtime's ONNX export, built here once rather than by every worker on a first start
        prepare_backend(settings.model_path, settings.serving_backend(), settings.cache_dir)
    except Exception as exc:  # noqa: BLE001 - each worker then falls back to torch and says so (Settings.embedder)
        logging.getLogger("sift.serve").warning("could not prepare the %s query runtime: %s", settings.serving_backend(), exc)
    # the workers are new processes that read their settings from the environment, as this one did
    os.environ["SIFT_INDEX_DIR"] = str(Path(settings.index_dir).resolve())
    if log_format:
        os.environ["SIFT_LOG_FORMAT"] = log_format
    config = uvicorn.Config(
        "search_api.cli:worker_app", factory=True, workers=workers, host=host, port=port,
        log_config=None, access_log=False, timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    # uvicorn binds the shared socket with protocol 0, and asyncio sets TCP_NODELAY only on TCP-protocol sockets:
    # every response then waited for a delayed ACK (/health took 44 ms with 2 workers, 1.4 ms with one). Rebinding
    # it as IPPROTO_TCP is what `uvicorn.run` would do otherwise (Multiprocess with the one socket).
    bound = config.bind_socket()
    sock = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    Multiprocess(config, sockets=[sock]).run()


def _serve(
    settings: Settings, host: str | None, port: int | None, log_format: str | None = None, workers: int | None = None
) -> None:
    import logging
    import signal

    import uvicorn

    from search_api.http.app import create_app
    from search_api.http.logs import configure_logging

    configure_logging(log_format or settings.log_format)
    host, port = host or settings.host, port or settings.port
    if (workers or settings.workers) > 1:
        _serve_workers(settings, host, port, log_format, workers or settings.workers)
        return
    engine = _engine(settings)  # load first, so a missing index is one clear line rather than a server that 503s
    logging.getLogger("sift.serve").info(
        "serving %s articles (version %s) on http://%s:%s", engine.stats().articles, engine.version, host, port
    )

    def stopped(signum: int, frame: object) -> None:
        raise SystemExit(0)

    # uvicorn catches SIGTERM/SIGINT, finishes requests in flight (up to shutdown_timeout), runs the app's shutdown
    # (which publishes pending writes), then re-raises the signal to this handler: a clean stop exits with 0.
    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGINT, stopped)
    asgi = create_app(settings, engine=engine)
    del engine  # the app holds it until a newer version is swapped in
    uvicorn.run(
        asgi, host=host, port=port,
        log_config=None, access_log=False,  # logging is configured above; RequestLog writes the access lines
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )


LogFormatOpt = Annotated[
    Optional[str], typer.Option(
        "--log-format",
        help="json (one object per line) or text [env SIFT_LOG_FORMAT; default text on a terminal, json otherwise]",
    )
]


def _log_format(value: str | None) -> str | None:
    if value not in (None, "json", "text"):
        raise _fail(f"unknown log format {value!r}; use json or text")
    return value


@app.command()
def serve(
    index: IndexOpt = None,
    host: Annotated[Optional[str], typer.Option(help="[env SIFT_HOST, default 127.0.0.1]")] = None,
    port: Annotated[Optional[int], typer.Option(help="[env SIFT_PORT, default 8000]")] = None,
    log_format: LogFormatOpt = None,
    workers: Annotated[
        Optional[int],
        typer.Option(min=1, max=64, help="Server processes sharing the memory-mapped index [env SIFT_WORKERS, default 1]"),
    ] = None,
) -> None:
    """Serve the HTTP API and the search page. SIGTERM stops it gracefully: requests in flight finish."""
    _serve(_settings(index), host, port, _log_format(log_format), workers)


@app.command()
def demo(
    index: Annotated[Path, typer.Option("--index", "-i", help="Where to build the demo index")] = Path("idx-demo"),
    host: Annotated[Optional[str], typer.Option()] = None,
    port: Annotated[Optional[int], typer.Option()] = None,
    log_format: LogFormatOpt = None,
) -> None:
    """Index the bundled sample corpus and serve it."""
    log_format = _log_format(log_format)
    if not DATA_SAMPLE.is_dir():
        raise _fail(f"the sample corpus is not at {DATA_SAMPLE}; run from a source checkout")
    settings = _settings(index)
    report = _index(settings, [str(DATA_SAMPLE)], progress=True)
    typer.echo(f"indexed {report.read} sample articles ({report.embedded} passages embedded), {report.skipped} skipped")
    _serve(settings, host, port, log_format)


def main() -> None:  # pragma: no cover - console entry point
    app(prog_name="sift")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
