"""Prometheus metrics: request counts and latency per route, and facts about the live index, at GET /metrics."""

from __future__ import annotations

import time
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _IndexCollector:
    """Reads the live engine at scrape time, so the figures are never stale."""

    def __init__(self, live_getter) -> None:
        self._live = live_getter

    def collect(self):
        live = self._live()
        engine = live.engine if live is not None else None
        articles = GaugeMetricFamily("sift_index_articles", "Articles in the live version")
        chunks = GaugeMetricFamily("sift_index_passages", "Passages in the live version")
        size = GaugeMetricFamily("sift_index_bytes", "Bytes of the live version's files")
        version = GaugeMetricFamily("sift_index_version", "Number of the live version")
        published = GaugeMetricFamily("sift_index_published_timestamp_seconds", "When the live version was published")
        swaps = GaugeMetricFamily("sift_index_swaps", "Versions swapped in since the server started")
        if engine is not None:
            m = engine.manifest
            articles.add_metric([], m["counts"]["articles"])
            chunks.add_metric([], m["counts"]["chunks"])
            size.add_metric([], sum((engine.path / f).stat().st_size for f in m["files"] if (engine.path / f).exists()))
            version.add_metric([], int(engine.version))
            published.add_metric([], datetime.fromisoformat(m["created_at"]).timestamp())
            swaps.add_metric([], live.swaps)
        yield from (articles, chunks, size, version, published, swaps)


class Metrics:
    """One registry per app (no process-global state), and an ASGI middleware that times every request."""

    def __init__(self, live_getter) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sift_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "sift_http_request_duration_seconds", "Request latency", ["method", "route"],
            buckets=BUCKETS, registry=self.registry,
        )
        self.registry.register(_IndexCollector(live_getter))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def middleware(self, app: ASGIApp) -> ASGIApp:
        metrics = self

        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return await app(scope, receive, send)
            started = time.perf_counter()
            status = 500

            async def record(msg: Message) -> None:
                nonlocal status
                if msg["type"] == "http.response.start":
                    status = msg["status"]
                await send(msg)

            try:
                await app(scope, receive, record)
            finally:
                route = getattr(scope.get("route"), "path", None) or "unmatched"  # templates, never raw ids
                metrics.requests.labels(scope["method"], route, str(status)).inc()
                metrics.latency.labels(scope["method"], route).observe(time.perf_counter() - started)

        return timed
