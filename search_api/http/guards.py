"""Request guards: a body-size limit enforced before parsing, per-client rate limiting (429 + Retry-After), security
headers on every response, and the cleaning a search query gets before it is searched."""

from __future__ import annotations

import json
import math
import re
import threading
import time
import unicodedata
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def _reject(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """413 for a request body over `max_bytes`: by Content-Length before reading, else while it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", ())).get(b"content-length")
        message = f"request body is larger than {self.max_bytes} bytes"
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _reject(send, 413, message)
        seen = 0
        rejected = False

        async def limited() -> Message:
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    # answer now and tell the app the client left: it stops reading and its reply is dropped
                    rejected = True
                    await _reject(send, 413, message)
                    return {"type": "http.disconnect"}
            return msg

        async def guarded_send(msg: Message) -> None:
            if not rejected:
                await send(msg)

        await self.app(scope, limited, guarded_send)


class RateLimit:
    """A token bucket per client address on the read routes that cost CPU (search, suggestions, related, widget).

    `per_minute` tokens refill continuously, up to a burst of `burst`; an empty bucket answers 429 with the seconds
    until the next token in Retry-After. Behind a reverse proxy every client shares the proxy's address: put the
    limit in the proxy instead, or set SIFT_RATE_LIMIT_PER_MINUTE=0 here.
    """

    PREFIXES = ("/search", "/suggest", "/articles/", "/related", "/widget/related")

    def __init__(self, app: ASGIApp, per_minute: int, burst: int, clock=time.monotonic) -> None:
        self.app = app
        self._clock = clock
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _take(self, client: str) -> float:
        """0 if a token was taken, else seconds until one is available."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                if len(self._buckets) > 100_000:  # forget idle clients rather than grow without bound
                    self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 600}
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rate <= 0 or not scope["path"].startswith(self.PREFIXES):
            return await self.app(scope, receive, send)
        if scope["method"] in ("GET", "POST") and not (scope["method"] == "POST" and scope["path"] != "/related"):
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self._take(client)
            if wait > 0:
                retry = str(max(1, math.ceil(wait))).encode()
                return await _reject(send, 429, f"too many requests; retry in {retry.decode()} s", [(b"retry-after", retry)])
        await self.app(scope, receive, send)


# Zero-width joiners shape emoji sequences and Indic/Persian words; every other format character (bidi overrides,
# zero-width spaces, BOMs) only hides or reorders text, so it is dropped.
_KEEP_FORMAT = {"\u200c", "\u200d"}


def clean_query(text: str) -> str:
    """The query as searched: NFC-normalised, control characters and U+FFFD (undecodable bytes) as spaces,
    invisible format, private-use and unassigned characters dropped, whitespace collapsed. "" when nothing
    searchable is left: no letter, digit or symbol such as an emoji."""
    chars = []
    for ch in unicodedata.normalize("NFC", text):
        category = unicodedata.category(ch)
        if category == "Cc" or ch == "\ufffd":
            chars.append(" ")
        elif not category.startswith("C") or ch in _KEEP_FORMAT:
            chars.append(ch)
    cleaned = " ".join("".join(chars).split())
    if not any(unicodedata.category(ch)[0] in "LN" or unicodedata.category(ch) == "So" for ch in cleaned):
        return ""
    return cleaned


# What may stand in a CSP source list: a scheme + host[:port] origin or "*"; anything else (quotes, semicolons,
# spaces) could rewrite the policy, so it is left out.
_CSP_ORIGIN = re.compile(r"^(\*|https?://[A-Za-z0-9.*-]+(:\d{1,5})?)$")


class SecurityHeaders:
    """Headers that keep browsers from misreading or misusing what Sift sends.

    Every response: `X-Content-Type-Options: nosniff`. HTML responses also get a Content-Security-Policy (a route
    may set its own; PAGE_CSP otherwise), a Referrer-Policy, and framing rules: nothing may be framed except the
    widget fragment (`framable` paths), which Sift itself and the `frame_origins` (SIFT_CORS_ORIGINS: the sites
    that embed the widget) may frame. `/docs` keeps only the framing rule: Swagger UI loads its script from a CDN.
    """

    PAGE_CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"

    def __init__(
        self,
        app: ASGIApp,
        *,
        frame_origins: Sequence[str] = (),
        framable: tuple[str, ...] = ("/widget/related/",),
        script_from_cdn: tuple[str, ...] = ("/docs", "/redoc"),
    ) -> None:
        self.app = app
        self.framable = framable
        self.script_from_cdn = script_from_cdn
        origins = [o.rstrip("/") for o in frame_origins if _CSP_ORIGIN.match(o.rstrip("/"))]
        self.widget_ancestors = "frame-ancestors " + ("*" if "*" in origins else " ".join(["'self'", *origins]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path: str = scope["path"]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                policy = headers.get("content-security-policy")
                if headers.get("content-type", "").startswith("text/html") or policy is not None:
                    self._html_headers(headers, path, policy)
            await send(message)

        await self.app(scope, receive, with_headers)

    def _html_headers(self, headers: MutableHeaders, path: str, policy: str | None) -> None:
        headers.setdefault("referrer-policy", "strict-origin-when-cross-origin")
        framable = path.startswith(self.framable)
        ancestors = self.widget_ancestors if framable else "frame-ancestors 'none'"
        if policy is None and not path.startswith(self.script_from_cdn):
            policy = self.PAGE_CSP
        if policy is None:
            policy = ancestors
        elif "frame-ancestors" not in policy:
            policy = f"{policy}; {ancestors}"
        headers["content-security-policy"] = policy
        if not framable:  # older browsers ignore frame-ancestors; X-Frame-Options cannot list origins
            headers.setdefault("x-frame-options", "DENY")
