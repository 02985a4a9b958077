"""`sift pin`, `sift unpin`, `sift exclude`, `sift unexclude`: editors' control over related posts, straight in the
store (no model is loaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from search_api.cli.common import IndexOpt, app, editorial_store, fail, settings_for

# -- editorial control: pins and excludes, straight in the store (no model is loaded) ----------------------------
SourceArg = Annotated[str, typer.Argument(help="The article whose related posts change")]


OtherArg = Annotated[str, typer.Argument(help="The article pinned or excluded")]


def _curate(index: Path | None, article_id: str, other: str, change, *, check: bool) -> None:
    """Apply `change(store)` and print the article's pins and excludes; `check`: both ids must be indexed."""
    from indexer.editorial import NotCurated

    settings = settings_for(index)
    editorial = editorial_store(settings)
    if check:
        if article_id == other:
            raise fail("an article cannot be pinned to or excluded from its own related posts")
        with settings.home().open_store() as store:
            for aid in (article_id, other):
                if store.get_article(aid) is None:
                    raise fail(f"article {aid!r} is not in the index at {settings.home().where()}")
    try:
        curation = change(editorial)
    except NotCurated as exc:
        raise fail(str(exc)) from None
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
