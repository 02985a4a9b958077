"""`sift index`, `sift sync`, `sift delete` and `sift backup`: articles in, a published version out, and a copy of it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from indexer.errors import SiftError, StoreBusy, StoreUnwritable
from search_api.cli.common import EXIT_SKIPPED, DatabaseOpt, IndexOpt, JsonOpt, ModelOpt, app, fail, load_embedder, print_json, settings_for
from search_api.settings import Settings


def run_index(settings: Settings, sources: list[str], *, progress: bool, sync_full: bool | None = None):
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
            return index_sources(sources, settings.index_dir, load_embedder(settings), **common)
        return sync_source(sources[0], settings.index_dir, load_embedder(settings), full=sync_full, **common)
    except (StoreBusy, StoreUnwritable) as exc:
        # the store commits in batches: the one in flight is rolled back, the ones before it are kept
        raise fail(f"{exc}. Batches committed before it are kept; run it again to go on from there") from None
    except (SiftError, ValueError) as exc:
        raise fail(str(exc)) from None


def _report(settings: Settings, report, as_json: bool) -> None:
    """The summary of an index or sync run, and its exit status: 0, 3 if records were skipped, 1 if nothing."""
    if as_json:
        print_json(report.to_dict())
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
            typer.echo(f"version {report.version} {state} at {settings.home().where()} in {report.seconds:.1f}s")
        if report.related_pass == "incremental":
            typer.echo(f"related lists: {report.related_recomputed} recomputed near the changes, the rest kept")
    if report.version is None:
        raise fail("nothing was indexed: no readable article in the sources")
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
    model: ModelOpt = None,
    database: DatabaseOpt = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Read, embed and publish articles. Unchanged articles are not embedded again."""
    settings = settings_for(index, model, database)
    _report(settings, run_index(settings, sources, progress=not quiet and not as_json), as_json)


@app.command()
def sync(
    source: Annotated[str, typer.Argument(help="One source, as for `sift index` (feed, wp+…, sitemap+…, file)")],
    index: IndexOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="Pull everything and delete articles the source no longer has")
    ] = False,
    database: DatabaseOpt = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Pull only what changed since the last sync of SOURCE, apply it and publish a new version."""
    settings = settings_for(index, database=database)
    _report(settings, run_index(settings, [source], progress=not quiet and not as_json, sync_full=full), as_json)


@app.command()
def delete(
    ids: Annotated[list[str], typer.Argument(help="Ids of the articles to delete")],
    index: IndexOpt = None,
    database: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete articles and publish a version without them (a server on the index switches to it)."""
    from indexer.pipeline import apply_changes
    from indexer.publish import STORE_FILE

    settings = settings_for(index, database=database)
    home = settings.home()
    if not home.has_store():
        raise fail(f"no index at {settings.index_dir} (no {STORE_FILE}); run `sift index` first")
    try:
        with home.open_store() as store:
            missing = [i for i in dict.fromkeys(ids) if store.get_article(i) is None]
        present = [i for i in dict.fromkeys(ids) if i not in missing]
        for article_id in missing:
            typer.secho(f"not in the index: {article_id}", fg=typer.colors.YELLOW, err=True)
        if not present:
            raise fail("nothing was deleted: no such article")
        report = apply_changes(
            settings.index_dir, load_embedder(settings), deletes=present, source="cli", **settings.index_options()
        )
    except SiftError as exc:
        raise fail(str(exc)) from None
    _report(settings, report, as_json)
    if missing:
        raise typer.Exit(EXIT_SKIPPED)


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

    settings = settings_for(index)
    if settings.home().database is not None:
        raise fail("the index is in a PostgreSQL database (SIFT_DATABASE_URL): back it up with pg_dump, which copies "
                   "the store, the editorial data and the published versions at once (README, \"When one machine is "
                   "not enough\")")
    try:
        report = backup_index(settings.index_dir, destination)
    except SiftError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json({**asdict(report), "destination": str(report.destination)})
        return
    typer.echo(f"backed up version {report.version} ({report.articles} articles) to {report.destination} in "
               f"{report.seconds:.1f} s: store {report.store_bytes / 1e6:.1f} MB, version {report.version_bytes / 1e6:.1f} MB")
    if report.vectors_elsewhere:
        typer.secho("this index keeps its passage vectors in PostgreSQL (SIFT_VECTOR_STORE=pgvector): back the "
                    "database up with pg_dump", fg=typer.colors.YELLOW)
