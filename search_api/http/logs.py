"""Logs of `sift serve`: an id for every request, one access line per request, errors logged with that id, and the
formatters (one JSON object per line, or plain text) that `configure_logging` installs."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Literal

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LogFormat = Literal["json", "text"]
REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept when it is short and plain (a proxy's or client's id joins our log to theirs); anything
# else could forge or break log lines, so it is replaced by a fresh one.
_SANE_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")

request_id: ContextVar[str | None] = ContextVar("sift_request_id", default=None)
access_log = logging.getLogger("sift.access")
log = logging.getLogger("sift.api")

# attributes every LogRecord has; anything else on a record came from `extra=` and goes into the JSON object
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class RequestIdFilter(logging.Filter):
    """Stamps the id of the request being served on every record logged while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, the record's `extra` fields and, for an
    exception, its traceback as one string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((k, v) for k, v in vars(record).items() if k not in _RECORD_FIELDS and v is not None)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{line} [request {rid}]" if rid and record.name != access_log.name else line


def log_format_for(stream, fmt: LogFormat | None = None) -> LogFormat:
    """`fmt`, or when unset: readable text for a person at a terminal, JSON lines for anything else (a file, a pipe,
    journald, a container's log collector)."""
    if fmt is not None:
        return fmt
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def configure_logging(fmt: LogFormat | None = None, level: int = logging.INFO) -> None:
    """Send every logger's records (Sift's, uvicorn's, the libraries') to stderr in `fmt` (unset: text on a
    terminal, JSON otherwise). For `sift serve` only: a library never configures logging."""
    fmt = log_format_for(sys.stderr, fmt)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    handler.setLevel(level)  # some libraries set their loggers to DEBUG themselves
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()  # uvicorn's own handlers would print each line twice
        logging.getLogger(name).propagate = True


async def _internal_error(send: Send, rid: str) -> None:
    body = json.dumps({"error": f"internal error; the server log has the details under request id {rid}"}).encode()
    await send({"type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RequestLog:
    """Gives every request an id (a sane incoming X-Request-ID, else a new one), returns it in X-Request-ID, and
    writes one access line per request to the `sift.access` logger: method, path (never the query string: it holds
    what readers searched for), status, duration_ms, client, request_id.

    An exception no handler turned into a response is a bug: its traceback goes to the log with the request id,
    and the caller gets a 500 JSON naming only that id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        rid = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error serving %s %s", scope["method"], scope["path"], extra={"request_id": rid})
            if status is None:
                await _internal_error(send_with_id, rid)
            # a response already under way cannot be replaced; returning without finishing it closes the connection
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            client = (scope.get("client") or ("", 0))[0]
            access_log.info(
                '%s "%s %s" %s %.1f ms', client, scope["method"], scope["path"], status, duration_ms,
                extra={"method": scope["method"], "path": scope["path"], "status": status,
                       "duration_ms": duration_ms, "client": client, "request_id": rid},
            )
            request_id.reset(token)
