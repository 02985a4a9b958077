"""Polite HTTP fetching for the connectors: robots.txt, a per-host rate limit, retries with backoff, size limits."""

from __future__ import annotations

import time
import urllib.robotparser
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from indexer.cleaning import decode_bytes

DEFAULT_USER_AGENT = "SiftBot/0.1 (+https://github.com/sift-search/sift)"
_RETRY_AFTER_CAP = 60.0  # seconds; a server asking for longer gets retried later by the next pull instead


@dataclass(frozen=True)
class Politeness:
    """How a Fetcher treats the sites it reads. The defaults suit crawling someone else's site."""

    user_agent: str = DEFAULT_USER_AGENT
    min_interval: float = 1.0  # seconds from the end of one request to the start of the next, per host
    timeout: float = 20.0  # seconds to connect, and between bytes while reading
    retries: int = 3  # extra attempts after a 5xx, a 429, a timeout or a dropped connection; never after a 4xx
    backoff: float = 1.0  # wait before the first retry; doubles for each further retry
    max_bytes: int = 10 * 1024 * 1024  # a larger response is refused, not truncated
    max_redirects: int = 10
    respect_robots: bool = True  # also honours a Crawl-delay longer than min_interval


class FetchError(Exception):
    """A URL that could not be fetched; `transient` says whether trying again later may succeed."""

    def __init__(self, url: str, reason: str, *, status: int | None = None, transient: bool = False) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status
        self.transient = transient


@dataclass(frozen=True)
class Page:
    """A successful (2xx) response, body fully read. `url` is the final URL after redirects."""

    url: str
    status: int
    headers: httpx.Headers
    content: bytes = field(repr=False)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for param in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None

    def text(self) -> str:
        """The body as text: UTF-8, else the charset the server declared, else detected (UndecodableBytes if none)."""
        return decode_bytes(self.content, self.charset)


class Fetcher:
    """One httpx.Client that applies `Politeness` to every request, redirect hops and robots.txt included."""

    def __init__(self, politeness: Politeness | None = None, *, transport: httpx.BaseTransport | None = None) -> None:
        self.politeness = politeness or Politeness()
        self._client = httpx.Client(
            headers={"User-Agent": self.politeness.user_agent},
            timeout=self.politeness.timeout,
            follow_redirects=False,  # followed hop by hop in get(), so each hop is rate-limited and robots-checked
            transport=transport,
        )
        self._last_done: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._robots_failures: dict[str, str] = {}

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, params: dict[str, str | int] | None = None) -> Page:
        """GET a URL; raise FetchError for anything but a 2xx page (robots, 4xx/5xx, loops, size, timeouts)."""
        return self._get(url, params, check_robots=self.politeness.respect_robots)

    def robots(self, url: str) -> urllib.robotparser.RobotFileParser:
        """The parsed robots.txt of the URL's site, fetched once per Fetcher."""
        origin = _origin(url)
        parser = self._robots.get(origin)
        if parser is not None:
            return parser
        parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
        try:
            page = self._get(origin + "/robots.txt", None, check_robots=False)
        except FetchError as exc:
            # RFC 9309: a missing robots.txt (any 4xx) allows everything; an unreachable one (5xx, network)
            # means the site may be in trouble, so crawl nothing until it answers.
            if exc.transient:
                parser.disallow_all = True
                self._robots_failures[origin] = exc.reason
            else:
                parser.allow_all = True
        else:
            try:
                parser.parse(page.text().splitlines())
            except ValueError:  # undecodable robots.txt: treat as missing
                parser.allow_all = True
        self._robots[origin] = parser
        return parser

    # -- internals ---------------------------------------------------------------------------------------------
    def _get(self, url: str, params: dict[str, str | int] | None, *, check_robots: bool) -> Page:
        try:
            request = self._client.build_request("GET", url, params=params)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FetchError(url, f"not a valid http(s) URL ({exc})") from None
        if request.url.scheme not in ("http", "https"):
            raise FetchError(url, "not an http(s) URL")
        first = str(request.url)
        chain = [first]
        while True:
            if check_robots:
                self._check_robots(first, str(request.url))
            response, body = self._send(request, first)
            if response.next_request is None:
                break
            request = response.next_request
            target = str(request.url)
            if request.url.scheme not in ("http", "https"):
                raise FetchError(first, f"redirects to {target}, which is not an http(s) URL")
            if target in chain:
                raise FetchError(first, "redirect loop: " + " -> ".join([*chain, target]))
            if len(chain) > self.politeness.max_redirects:
                raise FetchError(first, f"more than {self.politeness.max_redirects} redirects (last to {target})")
            chain.append(target)
        status = response.status_code
        if status >= 400:
            transient = _retryable(status)
            suffix = f" (after {self.politeness.retries + 1} attempts)" if transient else ""
            raise FetchError(first, f"HTTP {status} {response.reason_phrase}{suffix}", status=status,
                             transient=transient)
        return Page(url=str(request.url), status=status, headers=response.headers, content=body)

    def _check_robots(self, first: str, url: str) -> None:
        parser = self.robots(url)
        if parser.can_fetch(self.politeness.user_agent, url):
            return
        failure = self._robots_failures.get(_origin(url))
        if failure is not None:
            raise FetchError(first, f"{_origin(url)}/robots.txt is unavailable ({failure}); "
                                    "nothing on this site is fetched until it answers", transient=True)
        agent = self.politeness.user_agent.split("/")[0]
        raise FetchError(first, f"robots.txt disallows {url} for {agent}; skipped")

    def _send(self, request: httpx.Request, first: str) -> tuple[httpx.Response, bytes]:
        """One hop with retries: the response (below 500, or a 5xx/429 after the last attempt) and its body."""
        policy = self.politeness
        host = request.url.netloc.decode("ascii")
        for attempt in range(policy.retries + 1):
            self._wait_turn(host, request)
            response: httpx.Response | None = None
            try:
                response = self._client.send(request, stream=True)
                try:
                    body = self._read_limited(response, first)
                finally:
                    response.close()
            except httpx.TimeoutException:
                response, problem = None, f"timed out after {policy.timeout:g} s"
            except httpx.TransportError as exc:
                response, problem = None, f"connection failed ({exc or type(exc).__name__})"
            except httpx.HTTPError as exc:  # e.g. a body that is not the gzip it claims: trying again will not help
                raise FetchError(first, f"unreadable response ({exc or type(exc).__name__})") from None
            finally:
                self._last_done[host] = time.monotonic()
            last = attempt == policy.retries
            if response is not None and (last or not _retryable(response.status_code)):
                return response, body
            if last:
                raise FetchError(first, f"{problem} (after {attempt + 1} attempts)", transient=True)
            wait = _retry_after(response) if response is not None else None
            self._sleep(policy.backoff * 2**attempt if wait is None else wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _read_limited(self, response: httpx.Response, first: str) -> bytes:
        limit = self.politeness.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(first, f"response is {int(declared):,} bytes, over the {limit:,}-byte limit")
        chunks, size = [], 0
        for chunk in response.iter_bytes():  # decompressed bytes, so a gzip bomb hits the limit too
            size += len(chunk)
            if size > limit:
                raise FetchError(first, f"response is over the {limit:,}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)

    def _wait_turn(self, host: str, request: httpx.Request) -> None:
        interval = self.politeness.min_interval
        if self.politeness.respect_robots and request.url.path != "/robots.txt":
            origin = f"{request.url.scheme}://{host}"
            parser = self._robots.get(origin)
            delay = parser.crawl_delay(self.politeness.user_agent) if parser is not None else None
            if delay:
                interval = max(interval, float(delay))
        last = self._last_done.get(host)
        if last is not None:
            self._sleep(interval - (time.monotonic() - last))

    @staticmethod
    def _sleep(seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _retryable(status: int) -> bool:
    return status >= 500 or status == 429  # 429 "slow down" is the one 4xx worth trying again, after Retry-After


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), _RETRY_AFTER_CAP)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(when.timestamp() - time.time(), 0.0), _RETRY_AFTER_CAP)
