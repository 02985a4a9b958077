"""Request guards: a body-size limit enforced before parsing, and per-client rate limiting (429 + Retry-After)."""

from __future__ import annotations

import json
import math
import threading
import time

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
    """A token bucket per client address on the read routes that cost CPU (search, related, widget).

    `per_minute` tokens refill continuously, up to a burst of `burst`; an empty bucket answers 429 with the seconds
    until the next token in Retry-After. Behind a reverse proxy every client shares the proxy's address: put the
    limit in the proxy instead, or set SIFT_RATE_LIMIT_PER_MINUTE=0 here.
    """

    PREFIXES = ("/search", "/articles/", "/related", "/widget/related")

    def __init__(self, app: ASGIApp, per_minute: int, burst: int) -> None:
        self.app = app
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _take(self, client: str) -> float:
        """0 if a token was taken, else seconds until one is available."""
        now = time.monotonic()
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
