"""`sift migrate`: an index moved from its folder into a PostgreSQL database, or back, without embedding again."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Optional

import typer

from indexer.errors import SiftError
from search_api.cli.common import IndexOpt, JsonOpt, app, fail, print_json, settings_for

URL_HELP = "postgresql://user:password@host/name; the password is never printed"


@app.command()
def migrate(
    to: Annotated[
        Optional[str],
        typer.Option("--to", metavar="URL", help=f"Copy the index folder into this new, empty database ({URL_HELP})"),
    ] = None,
    from_: Annotated[
        Optional[str],
        typer.Option("--from", metavar="URL", help=f"Copy the index in this database into a new folder, --index "
                                                   f"({URL_HELP})"),
    ] = None,
    index: IndexOpt = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Move an index between a folder and a PostgreSQL database, without embedding anything again.

    Everything goes: articles, passages, the whole embedding cache, pins, excludes, click and search counts, and the
    live version; the next `sift index` on the new home publishes nothing new.

    --to URL copies the folder (--index) into an empty database in one transaction: the version is live there for
    every server on it once the command ends, and the folder is left as it was. --from URL --index DIR copies the
    database's index into a new folder, which `sift serve --index DIR` serves on its own; the database is only read.
    A target that already holds an index is refused, as is a version whose passage vectors are in a pgvector table
    (SIFT_VECTOR_STORE=pgvector: re-publish it with SIFT_VECTOR_STORE=faiss first)."""
    if (to is None) == (from_ is None):
        raise fail("give one of --to URL (folder → database) or --from URL (database → folder)")
    url = to if to is not None else from_
    if not url.startswith(("postgresql://", "postgres://")):  # not echoed: it may hold a password
        raise fail(f"{'--to' if to is not None else '--from'} takes a postgresql:// or postgres:// URL")
    if from_ is not None and index is None:
        raise fail("--from needs --index DIR: the new folder to copy the index into")
    folder = settings_for(index).index_dir
    try:
        from indexer import migrate as migration
    except ImportError as exc:  # psycopg is the `postgres` extra
        raise fail(f"migrating needs psycopg ({exc}); pip install 'sift-search[postgres]'") from None
    progress = not quiet and not as_json
    try:
        if to is not None:
            report = migration.to_database(folder, url, progress=progress)
        else:
            report = migration.from_database(url, folder, progress=progress)
    except SiftError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(asdict(report))
        return
    copied = ", ".join(f"{n} {table}" for table, n in report.rows.items() if n)
    typer.echo(f"migrated {report.source} to {report.target} in {report.seconds:.1f} s: {copied}; version "
               f"{report.version} ({report.files} files, {report.version_bytes / 1e6:.1f} MB), nothing embedded")
    if to is not None:
        typer.echo(f"version {report.version} is live in the database: serve it with SIFT_DATABASE_URL set to it")
    else:
        typer.echo(f"version {report.version} is live in {report.target}: `sift serve --index {report.target}`")
