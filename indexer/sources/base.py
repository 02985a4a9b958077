"""What every source shares: iterate it for Articles and BadRecords, then ask when to start the next pull."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

from indexer.article import Article
from indexer.errors import BadRecord


class Source:
    """An iterable of `Article | BadRecord` that remembers when each pulled article last changed.

    Subclasses implement `_pull()`. Iterate a source once, to the end; afterwards `modified` maps every yielded
    article id to its last-modified time (where the source says it) and `watermark` is the `since` to pass to the
    next incremental pull.
    """

    def __init__(self, since: datetime | None = None) -> None:
        self.since = as_utc(since) if since is not None else None
        self.modified: dict[str, datetime] = {}
        self._newest: datetime | None = None  # the newest modification of anything pulled, valid or not
        self._finished = False
        self._incomplete = False  # something was not read (a 5xx, a broken page of results, a max_pages cut)

    def __iter__(self) -> Iterator[Article | BadRecord]:
        self.modified.clear()
        self._newest = None
        self._finished = self._incomplete = False
        yield from self._pull()
        self._finished = True

    def _pull(self) -> Iterator[Article | BadRecord]:
        raise NotImplementedError

    @property
    def watermark(self) -> datetime | None:
        """The `since` for the next pull: the newest modification seen, if this pull fetched everything it tried.

        After a transient failure (5xx, timeout), an unreadable page of results or a `max_pages` cut it stays at
        this pull's `since`, so the next pull asks for the same window again; content hashes make the repeated
        articles free. An article that was fetched but invalid, or a 404, does not hold it back: fixing the article
        changes its modified time.
        """
        if not self._finished or self._incomplete:
            return self.since
        return max([t for t in (self._newest, self.since) if t is not None], default=None)

    def _take(self, modified: datetime | None) -> bool:
        """Whether to pull an item last modified at `modified` (None: unknown), noting it for the watermark.

        At or after `since`: the boundary is pulled again rather than risk missing an edit in the same second.
        """
        if self.since is not None and modified is not None and modified < self.since:
            return False
        if modified is not None and (self._newest is None or modified > self._newest):
            self._newest = modified
        return True


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
