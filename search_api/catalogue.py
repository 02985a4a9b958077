"""The articles of one loaded version as arrays and lookup tables, shared by every stage of a search, related posts
and article facts: rows by id, publication times, deadlines, members by category, country and region, near-duplicate
groups, languages, each article's range of passages, and the fields a hit or a related item shows."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime

import numpy as np
import pandas as pd

from indexer.keyword import DEFAULT_LANGUAGE

NO_DEADLINE = np.iinfo(np.int64).max  # padding of the deadline table (day ordinals)

# the fields a hit or related item shows, as plain lists: pandas row access costs ~0.1 ms a row
SITE_LANGUAGE_ARTICLES = 4  # as the language balance (ranking.legs.LanguageBalance.MIN_ARTICLES)
CARD_COLUMNS = ("id", "title", "url", "published_at", "categories", "countries", "regions")


def _to_utc_seconds(value: object) -> float:
    if value is None or value != value:
        return np.nan
    return datetime.fromisoformat(str(value)).timestamp()


def deadline_table(column: Iterable) -> np.ndarray:
    """Articles × their deadlines as proleptic ordinals (date.toordinal), earliest first, padded with NO_DEADLINE."""
    rows = [[date.fromisoformat(d).toordinal() for d in days] for days in column]
    table = np.full((len(rows), max((len(r) for r in rows), default=0) or 1), NO_DEADLINE, dtype=np.int64)
    for i, days in enumerate(rows):
        table[i, : len(days)] = days
    return table


def members(column: pd.Series, key: Callable[[str], str]) -> dict[str, np.ndarray]:
    """{value: rows holding it} for a list-valued column."""
    found: dict[str, list[int]] = {}
    for i, values in enumerate(column):
        for value in values:
            found.setdefault(key(value), []).append(i)
    return {k: np.array(v, dtype=np.int64) for k, v in found.items()}


class Catalogue:
    """A version's articles (`frame`, one row each, in index order) and what the stages look up about them."""

    def __init__(self, frame: pd.DataFrame, chunk_article: np.ndarray) -> None:
        self.frame = frame
        self.size = len(frame)
        # chunks are stored grouped by article, so each article's passages are one contiguous range
        self.chunk_start = np.searchsorted(chunk_article, np.arange(self.size + 1))
        self.position = {aid: i for i, aid in enumerate(frame["id"])}
        self.group = frame["group"].to_numpy(dtype=np.int64)
        self.group_members: dict[int, list[int]] = {}
        for i, g in enumerate(self.group):
            self.group_members.setdefault(int(g), []).append(i)
        self.deadlines = deadline_table(frame["deadlines"])
        self.published = np.array([_to_utc_seconds(v) for v in frame["published_at"]], dtype=np.float64)
        self.year = np.zeros(self.size, dtype=np.int64)  # UTC publication year, 0 when undated
        dated_rows = ~np.isnan(self.published)
        years = self.published[dated_rows].astype("datetime64[s]").astype("datetime64[Y]")
        self.year[dated_rows] = years.astype(np.int64) + 1970
        dated = self.published[dated_rows]
        self.newest = float(dated.max()) if len(dated) else np.nan  # related posts' recency rules count age from here
        self.category_members = members(frame["categories"], str.casefold)
        self.country_members = members(frame["country_codes"], str)
        self.region_members = members(frame["regions"], str)
        # versions from before languages were told hold only the declared ones: English for the rest
        self.language = [code or DEFAULT_LANGUAGE for code in frame["language"]] if "language" in frame else (
            [DEFAULT_LANGUAGE] * self.size)
        self.language_members = members([[code] for code in self.language], str)
        self.main_language = max(self.language_members, key=lambda c: len(self.language_members[c]), default=DEFAULT_LANGUAGE)
        # what a query too short to tell alone may be told as (`languages.query_language`): a language the site has a
        # few articles in, so that one stray article does not make a site bilingual
        self.site_languages = tuple(sorted(code for code, rows in self.language_members.items()
                                           if len(rows) >= SITE_LANGUAGE_ARTICLES or code == self.main_language))
        self.card = {column: frame[column].tolist() for column in CARD_COLUMNS}

    def passages(self, row: int) -> range:
        """The chunk ids of one article's passages."""
        return range(int(self.chunk_start[row]), int(self.chunk_start[row + 1]))

    def rows_with_any(self, table: dict[str, np.ndarray], keys: Iterable[str]) -> np.ndarray:
        """Boolean mask of the articles holding any of `keys` in a members `table`."""
        mask = np.zeros(self.size, dtype=bool)
        for key in keys:
            found = table.get(key)
            if found is not None:
                mask[found] = True
        return mask

    def next_deadlines(self, today: date, rows: np.ndarray | None = None) -> np.ndarray:
        """Each article's (or each of `rows`') first deadline on or after `today` (day ordinal), NO_DEADLINE when
        none is."""
        table = self.deadlines if rows is None else self.deadlines[rows]
        return np.where(table >= today.toordinal(), table, NO_DEADLINE).min(axis=1)

    def calls_closed(self, today: date, rows: np.ndarray | None = None) -> np.ndarray:
        """Per article (or per one of `rows`): a call whose deadlines have all passed by `today`; False without one."""
        has_one = (self.deadlines if rows is None else self.deadlines[rows])[:, 0] != NO_DEADLINE
        return has_one & (self.next_deadlines(today, rows) == NO_DEADLINE)

    def deadline(self, row: int, today: date) -> tuple[date | None, bool | None]:
        """(the next deadline, else the last; whether all have passed) of one article; (None, None) without one."""
        days = self.deadlines[row]
        days = days[days != NO_DEADLINE]
        if not len(days):
            return None, None
        upcoming = days[days >= today.toordinal()]
        return date.fromordinal(int(upcoming[0] if len(upcoming) else days[-1])), not len(upcoming)
