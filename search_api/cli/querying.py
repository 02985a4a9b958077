"""`sift search`, `sift suggest`, `sift related`, `sift stats` and `sift insights`: the live version's answers, as text
or --json."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Optional

import typer

from indexer.errors import SiftError
from search_api.schemas import SearchResults
from search_api.cli.common import (
    IndexOpt,
    JsonOpt,
    app,
    day,
    editorial_store,
    fail,
    load_engine,
    print_json,
    settings_for,
)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='A question or keywords; a "quoted phrase" must appear, a -word must not')],
    index: IndexOpt = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="Results per page")] = 10,
    offset: Annotated[int, typer.Option(min=0, max=1000, help="Skip this many results")] = 0,
    category: Annotated[Optional[list[str]], typer.Option("--category", "-c", help="Only these categories")] = None,
    country: Annotated[Optional[list[str]], typer.Option("--country", help="Only articles about these countries")] = None,
    region: Annotated[Optional[list[str]], typer.Option("--region", help="Only these regions, e.g. 'East Africa'")] = None,
    language: Annotated[Optional[list[str]], typer.Option("--language", help="Only articles in these languages "
                                                                             "(ISO 639-1 codes, e.g. fr)")] = None,
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
                                                        "SIFT_MATCH_FLOOR, else the model's: 0.30 English; 0 lists the nearest however weak)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Search the index with a natural-language question."""
    from search_api.schemas import Filters

    engine = load_engine(settings_for(index))
    filters = Filters(
        categories=category or [],
        countries=country or [],
        regions=region or [],
        languages=language or [],
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
    )
    if mode not in ("hybrid", "semantic", "keyword"):
        raise fail(f"unknown mode {mode!r}; use hybrid, semantic or keyword")
    if calls not in (None, "open", "closed"):
        raise fail(f"unknown --calls {calls!r}; use open or closed")
    filters = filters.model_copy(update={"calls": calls})
    try:
        results = engine.search(query, k=k, offset=offset, filters=filters, mode=mode,  # type: ignore[arg-type]
                                facets=facets, spellcheck=spellcheck, sort=sort, floor=floor)  # type: ignore[arg-type]
    except SiftError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(results.model_dump(mode="json"))
        return
    _print_heading(results, calls)
    _print_hits(results, offset)
    _print_facets(results)


def _print_heading(results: SearchResults, calls: str | None) -> None:
    """What the results are, above them: a correction, a time span, why nothing or what order."""
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


def _print_hits(results: SearchResults, offset: int) -> None:
    for rank, hit in enumerate(results.hits, start=offset + 1):
        typer.secho(f"{rank}. {hit.title}", bold=True)
        facts = [day(hit.published_at), *hit.categories, *hit.countries, *_deadline_fact(hit.deadline, hit.deadline_passed),
                 *([f"score {hit.score:.3f}"] if results.ranked else [])]
        if hit.similar:
            facts.append(f"+{len(hit.similar)} similar")
        typer.echo(f"   {hit.id} · " + " · ".join(facts))
        if hit.url:
            typer.echo(f"   {hit.url}")
        typer.echo(f"   {hit.snippet}")


def _print_facets(results: SearchResults) -> None:
    if results.facets is not None and results.facets.counted:
        typer.echo(f"\nin the best {results.facets.counted} results:")
        for name in ("categories", "countries", "regions", "languages", "years", "calls"):
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
    engine = load_engine(settings_for(index))
    results = engine.suggest(typed, k=k)
    if as_json:
        print_json(results.model_dump(mode="json"))
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
    settings = settings_for(index)
    engine = load_engine(settings)
    try:
        results = engine.related(article_id, k=k, curation=editorial_store(settings).curation(article_id))
    except SiftError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(results.model_dump(mode="json"))
        return
    if not results.items:
        typer.echo("no article is similar enough (SIFT_RELATED_MIN_SIMILARITY)")
    for rank, item in enumerate(results.items, start=1):
        facts = ", ".join([item.id, day(item.published_at), *_deadline_fact(item.deadline, item.deadline_passed)])
        typer.echo(f"{rank}. [{item.score:.3f}] {item.title} ({facts})")
        typer.echo(f"   {item.reason}")


@app.command()
def stats(index: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """Facts about the live index version."""
    facts = load_engine(settings_for(index)).stats()
    if as_json:
        print_json(facts.model_dump(mode="json"))
        return
    typer.echo(f"version      {facts.version} (published {facts.created_at:%Y-%m-%d %H:%M} UTC)")
    typer.echo(f"model        {facts.model_id} ({facts.dim} dimensions)")
    typer.echo(f"articles     {facts.articles} in {facts.chunks} passages, {facts.index_bytes / 1e6:.1f} MB")
    typer.echo(f"dates        {day(facts.oldest)} .. {day(facts.newest)}")
    for name, count in facts.categories.items():
        typer.echo(f"  {count:6d}  {name}")


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

    editorial = editorial_store(settings_for(index))
    try:
        found = editorial.search_insights(days=days, limit=k)
    except SiftError as exc:
        raise fail(str(exc)) from None
    finally:
        editorial.close()
    if as_json:
        print_json(asdict(found))
        return
    share = f" ({found.unanswered / found.searches:.0%})" if found.searches else ""
    typer.echo(f"last {found.days} days: {found.searches} searches, {found.unanswered} listed nothing{share}")
    for title, counts in (("most searched", found.top), ("most searched of those that listed nothing", found.unanswered_top)):
        if counts:
            typer.echo(f"\n{title}:")
            for c in counts:
                typer.echo(f"  {c.searches:6d}  {c.query}" + (f"  ({c.unanswered} listed nothing)" if c.unanswered else ""))
