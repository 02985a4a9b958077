"""The embeddable related-posts widget: widget.js and its stylesheet, a no-JavaScript HTML fragment, a lookup by page
URL, and a demo article page that embeds the widget. Their words come from the catalogues of messages.py."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html import escape
from importlib.resources import files
from typing import Annotated, Literal
from weakref import WeakKeyDictionary

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from search_api.engine import Engine
from search_api.http.deps import EditorialDep, EngineDep
from search_api.http.messages import Catalogue, LanguageQuery, catalogue, choose_language, languages
from search_api.schemas import RelatedItem, RelatedResults

# the same limits as app.ArticleId (app.py imports this module, so it cannot be imported from there)
ArticleId = Annotated[str, Path(min_length=1, max_length=200, description="Article id")]
K = Annotated[int, Query(ge=1, le=50, description="How many related posts")]
Layout = Annotated[Literal["list", "cards"], Query(description="list: titles and dates; cards: a grid with categories")]
BoxTitle = Annotated[
    str | None, Query(max_length=100, description="Heading of the box; empty for none, absent for the catalogue's")
]

STATIC_MAX_AGE = 3600  # widget.js and widget.css change only with a Sift release
DATA_MAX_AGE = 300  # related lists change when a new index version is published
_HTTP_URL = re.compile(r"^https?://", re.IGNORECASE)
# widget.js holds this line; the script is served with the catalogues' languages and SIFT_UI_LANGUAGE written in it
_LANGUAGES_LINE = 'var LANGS = ["en"], SITE_LANG = "en";'

# The fragment needs nothing but our stylesheet. guards.SecurityHeaders adds nosniff and the Referrer-Policy to
# every response, and lets the sites in SIFT_CORS_ORIGINS frame the fragment (that is its purpose), nothing else.
_FRAGMENT_CSP = "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'"


def _etag(body: bytes, version: str) -> str:
    return '"' + hashlib.sha256(version.encode() + b"\0" + body).hexdigest()[:32] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _cached(
    request: Request, body: str, media_type: str, *, version: str, max_age: int, headers: dict[str, str]
) -> Response:
    """The body with ETag and Cache-Control, or an empty 304 when the client already holds this ETag."""
    data = body.encode("utf-8")
    etag = _etag(data, version)
    all_headers = {**headers, "ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=all_headers)
    return Response(data, media_type=media_type, headers=all_headers)


def is_http_url(url: str | None) -> bool:
    """Only http(s) URLs become links; anything else (javascript:, data:, relative) is shown as plain text."""
    return url is not None and _HTTP_URL.match(url) is not None


def _normalise_url(url: str) -> str:
    """The form page URLs are compared in: no fragment, no trailing slash, case-insensitive scheme and host."""
    url = url.strip().split("#", 1)[0]
    match = re.match(r"^([a-z][a-z0-9+.-]*://[^/?]*)(.*)$", url, re.IGNORECASE)
    if match:
        url = match.group(1).lower() + match.group(2)
    return url.rstrip("/")


def render_fragment(
    related: RelatedResults, *, layout: str, title: str | None, stylesheet: str, words: Catalogue
) -> str:
    """The related-posts box as HTML, the markup widget.js builds, in the catalogue's language; every article field
    is escaped. `title` None: the catalogue's heading; "": none. "" when there are no related posts.

    Dates stay YYYY-MM-DD, which reads the same in every language: the widget formats them in the browser."""
    if not related.items:
        return ""
    title = words.text("widget.heading") if title is None else title
    lines = [
        f'<link rel="stylesheet" href="{escape(stylesheet)}">',
        f'<aside class="sift-box sift-{escape(layout)}" lang="{words.language}" dir="{words.direction}" '
        f'aria-label="{escape(title or words.text("widget.heading"))}">',
    ]
    if title:
        lines.append(f'<h2 class="sift-title">{escape(title)}</h2>')
    lines.append('<ul class="sift-items">')
    for item in related.items:
        lines.append(f'<li class="sift-item">{_item_html(item, layout, words)}</li>')
    lines += ["</ul>", "</aside>", ""]
    return "\n".join(lines)


def _item_html(item: RelatedItem, layout: str, words: Catalogue) -> str:
    title = escape(item.title)
    # target=_top: inside an iframe, a click opens the article in the page, not in the little frame. dir=auto: a
    # title takes the direction of its own first letters (an English title in an Arabic box, or the reverse).
    parts = [
        f'<a class="sift-link" dir="auto" href="{escape(item.url)}" target="_top">{title}</a>'
        if is_http_url(item.url)
        else f'<span class="sift-link" dir="auto">{title}</span>'
    ]
    if item.published_at:
        parts.append(f'<span class="sift-date">{item.published_at.date().isoformat()}</span>')
    if item.deadline:  # a grant call: its next deadline, or that it closed
        key = "widget.closed" if item.deadline_passed else "widget.deadline"
        parts.append(f'<span class="sift-date">{escape(words.text(key, date=item.deadline))}</span>')
    if layout == "cards" and item.categories:
        parts.append(f'<span class="sift-meta">{escape(" · ".join(item.categories))}</span>')
    if layout == "cards" and item.reason:
        parts.append(f'<span class="sift-why">{escape(item.reason)}</span>')
    return "".join(parts)


_DEMO_CSS = (
    "body{font:17px/1.6 Georgia,serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}"
    ".demo-note{font:13px system-ui,sans-serif;color:#555;background:#f3f6fb;padding:.5rem .75rem;border-radius:6px}"
    ".meta{font:14px system-ui,sans-serif;color:#666}h1{line-height:1.25}"
)


def _demo_page(article_id: str, title: str, meta: str, summary: str, url: str | None, k: int, layout: str) -> str:
    source = f'<p><a href="{escape(url)}">Read the full article</a></p>' if is_http_url(url) else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} — Sift widget demo</title>
<style>{_DEMO_CSS}</style>
</head>
<body>
<p class="demo-note">Sift demo: an article page with the related-posts widget embedded by one script tag.</p>
<article>
<h1>{escape(title)}</h1>
<p class="meta">{escape(meta)}</p>
<p>{escape(summary)}</p>
{source}
</article>
<script src="/widget.js" data-article-id="{escape(article_id)}" data-count="{k}" \
data-layout="{escape(layout)}" async></script>
</body>
</html>
"""


class _ArticleUrls:
    """Page URL → article id, built once per loaded engine (a new version is a new Engine, so its map is rebuilt)."""

    def __init__(self) -> None:
        self._maps: WeakKeyDictionary[Engine, dict[str, str]] = WeakKeyDictionary()

    def article_for_url(self, engine: Engine, url: str) -> str:
        by_url = self._maps.get(engine)
        if by_url is None:
            by_url = {}
            for aid, article_url in zip(engine.articles["id"], engine.articles["url"]):
                if isinstance(article_url, str) and article_url:  # pandas gives NaN for a missing url
                    by_url.setdefault(_normalise_url(article_url), aid)
            self._maps[engine] = by_url
        aid = by_url.get(_normalise_url(url))
        if aid is None:
            raise HTTPException(
                404, f"no article in the index has the url {url!r}; index that page, or embed with data-article-id"
            )
        return aid


def _script(source: str, ui_language: str) -> str:
    """widget.js as served: told which languages have a catalogue and the site's own (SIFT_UI_LANGUAGE)."""
    if _LANGUAGES_LINE not in source:
        raise RuntimeError(f"widget.js lost its line {_LANGUAGES_LINE!r}: widget.py writes the languages there")
    return source.replace(
        _LANGUAGES_LINE, f"var LANGS = {json.dumps(list(languages()))}, SITE_LANG = {json.dumps(ui_language)};"
    )


def _static_routes(router: APIRouter, script: str, stylesheet: str) -> None:
    @router.get("/widget.js", response_class=Response, responses={200: {"content": {"application/javascript": {}}}})
    def widget_js(request: Request) -> Response:
        """The widget script; a site embeds it with one `<script src=".../widget.js" data-article-id="…">` tag."""
        return _cached(
            request, script, "application/javascript; charset=utf-8",
            version="", max_age=STATIC_MAX_AGE, headers={},
        )

    @router.get("/widget.css", response_class=Response, responses={200: {"content": {"text/css": {}}}})
    def widget_css(request: Request) -> Response:
        """The widget's stylesheet; every rule is scoped under `.sift-box`."""
        return _cached(
            request, stylesheet, "text/css; charset=utf-8", version="", max_age=STATIC_MAX_AGE, headers={}
        )


def _related_routes(router: APIRouter, urls: _ArticleUrls, ui_language: str) -> None:
    article_for_url = urls.article_for_url

    @router.get("/widget/related", response_model=RelatedResults)
    def related_by_url(
        request: Request,
        engine: EngineDep,
        editorial: EditorialDep,
        url: Annotated[str, Query(min_length=1, max_length=2048, description="The article page's URL")],
        k: K = 5,
    ) -> Response:
        """Related posts for the article published at `url` (widget.js uses this when given `data-url`)."""
        article_id = article_for_url(engine, url)
        related = engine.related(article_id, k=k, curation=editorial.curation(article_id))
        return _cached(
            request, related.model_dump_json(), "application/json",
            version=engine.version, max_age=DATA_MAX_AGE, headers={},
        )

    @router.get("/widget/related/{article_id}", response_class=HTMLResponse)
    def related_fragment(
        request: Request,
        engine: EngineDep,
        editorial: EditorialDep,
        article_id: ArticleId,
        k: K = 5,
        layout: Layout = "list",
        title: BoxTitle = None,
        lang: LanguageQuery = None,
    ) -> Response:
        """The related-posts box as an HTML fragment, for sites without JavaScript (server-side include or iframe),
        in the language `lang` asks for. Empty when the article has no related posts."""
        related = engine.related(article_id, k=k, curation=editorial.curation(article_id))
        words = catalogue(choose_language(lang, ui_language))
        body = render_fragment(
            related, layout=layout, title=title, stylesheet=str(request.url_for("widget_css")), words=words
        )
        return _cached(
            request, body, "text/html; charset=utf-8", version=engine.version, max_age=DATA_MAX_AGE,
            headers={"Content-Security-Policy": _FRAGMENT_CSP},
        )


def _demo_routes(router: APIRouter, demo_csp: str) -> None:
    @router.get("/demo/article/{article_id}", response_class=HTMLResponse, include_in_schema=False)
    def demo_article(engine: EngineDep, article_id: ArticleId, k: K = 5, layout: Layout = "list") -> HTMLResponse:
        article = engine.article(article_id)
        calls = [f"deadline {', '.join(d.isoformat() for d in article.deadlines)}"] if article.deadlines else []
        meta = " · ".join(
            [article.published_at.date().isoformat() if article.published_at else "undated", *article.categories,
             *calls]
        )
        page = _demo_page(article.id, article.title, meta, article.summary, article.url, k, layout)
        return HTMLResponse(page, headers={"Content-Security-Policy": demo_csp})


def widget_router(ui_language: str) -> APIRouter:
    """Routes of the widget; `ui_language` is the site's language (SIFT_UI_LANGUAGE), for pages that ask for none.
    Static files are read here, when the app is built, never at import."""
    router = APIRouter(tags=["widget"])
    static = files("search_api.http").joinpath("static")
    _static_routes(router, _script(static.joinpath("widget.js").read_text(encoding="utf-8"), ui_language),
                   static.joinpath("widget.css").read_text(encoding="utf-8"))
    _related_routes(router, _ArticleUrls(), ui_language)
    demo_css_hash = base64.b64encode(hashlib.sha256(_DEMO_CSS.encode()).digest()).decode()
    _demo_routes(router, (
        "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
        f"style-src 'self' 'sha256-{demo_css_hash}'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ))
    return router
