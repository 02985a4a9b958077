"""Application deadlines of grant calls, read from the article's text: "The deadline for applications is 15 September
2024", "Concept notes must be submitted by 31 May", "Applications close on 30 November 2025", a title ending "—
Deadline 30 June 2025".

A funding portal's readers ask for open calls and the ones closing soon; the CMS rarely has a field for it, but the
call's text always names the date. A date counts when the same sentence names it as a deadline before it:

- a deadline word: "deadline", "closing date", "due date", "cut-off date", "closes" (with the date after it:
  "Deadline: 15 May", "the deadline for proposals is 15 May 2026", a title's "… apply now, closes 15 May");
- something sent in by a time: "applications / proposals / concept notes / submissions / nominations / the call …
  by, before, until, through, due, no later than, on or before <date>", also "apply / submit … by <date>", with a
  time of day or not ("by 5 pm on <date>", "until 11:59 p.m. EST on <date>");
- something closing: "applications close on <date>", "the call closes <date>", "applications open on 1 May and close
  on <date>".

and, for a deadline word, the sentence or the title (the body, for a title) says what is applied for, so "a deadline
of 30 June for militias to disarm" in a news story is not a grant's. Dates need a day and a month ("15 May
2026", "May 15, 2026", "Friday 15 May", ISO "2026-05-15", or "15/05/2026" and "15.05.2026" when the numbers say which
is the day: "03/04/2026" is not read; "the end of May" is its last day); a date without a year is the next one on or
after the publication date (none when the article is undated). A date more than a month before publication or more than two
years after it is not a deadline of this call (an earlier round's, a programme's end).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
    "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
    "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}
# Months are written with a capital ("may 2 groups apply" is not a date); case-sensitive, the pattern is cheap.
_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?|"
          r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"
_DATE = re.compile(
    r"\b(?:"
    r"(?P<d1>" + _DAY + r")(?:\s+of)?\s+(?P<m1>" + _MONTH + r")(?:,?\s+(?P<y1>" + _YEAR + r"))?"  # 15 May 2026
    r"|(?P<m2>" + _MONTH + r")\s+(?P<d2>" + _DAY + r")(?:,?\s+(?P<y2>" + _YEAR + r"))?"  # May 15, 2026
    r"|(?P<y3>" + _YEAR + r")-(?P<m3>0[1-9]|1[0-2])-(?P<d3>0[1-9]|[12]\d|3[01])"  # 2026-05-15
    r"|(?P<a4>[0-3]?\d)(?P<sep>[/.])(?P<b4>[0-3]?\d)(?P=sep)(?P<y4>" + _YEAR + r")"  # 15/05/2026, 15.05.2026
    r"|end\s+of\s+(?P<m5>" + _MONTH + r")(?:,?\s+(?P<y5>" + _YEAR + r"))?"  # the end of May 2026: its last day
    r")\b(?!-\d)(?![/.]\d)"
)
_MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAY = r"(?:(?:Mon|Tues?|Wed(?:nes)?|Thu(?:rs?)?|Fri|Sat(?:ur)?|Sun)(?:day)?\.?,?\s+)?"
# What is sent in, and the words that set a time for it: "applications must be submitted … by", "apply before".
_SENT = (r"(?:applications?|proposals?|concept\s+notes?|submissions?|nominations?|entries|expressions?\s+of\s+"
         r"interest|eois?|letters?\s+of\s+intent|bids|tenders?|abstracts|applicants|apply|submit(?:ted)?|the\s+call)")
# A time of day may come first: "by 5 pm on", "by 17:00 CET on", "until 12:00 noon (GMT),", "by midnight on".
_TIME = (r"(?:(?:(?:[01]?\d|2[0-3])(?:[:.h][0-5]\d)?\s*(?:[ap]\.?m\.?|hrs?|h)?(?:\s+(?:noon|midnight))?|midnight|noon|"
         r"midday)(?:\s*\(?[A-Z]{2,4}(?:[+-]\d{1,2})?\)?)?\s*,?\s*(?:on\s+)?)?")
_BY = (r"(?:by|before|until|till|through|thru|no\s+later\s+than|not\s+later\s+than|on\s+or\s+before|up\s+to|"
       r"due(?:\s+(?:on|by))?)\s+" + _TIME)
_TRIGGERS = re.compile(
    r"(?P<word>\b(?:deadlines?|closing\s+dates?|due\s+dates?|cut-?\s?off\s+dates?|closes)\b)"
    r"|(?P<sent>\b" + _SENT + r"\b(?:(?![.;]\s).){0,160}?\b" + _BY + r":?\s*(?:the\s+)?" + _WEEKDAY + r"$)"
    r"|(?P<close>\b(?:applications?|submissions?|nominations?|the\s+call|the\s+(?:application\s+)?(?:window|round)|"
    r"registrations?)\s+"
    r"(?:(?:(?![.;]\s).){0,80}?\s(?:and|but)\s+)?"  # "applications open on 1 May and close on …": the same subject
    r"(?:will\s+)?(?:close|closes|closing|ends?|shuts?)\s*(?:on\s+|at\s+)?" + _TIME + r":?\s*" + _WEEKDAY + r"$)",
    re.IGNORECASE | re.DOTALL,
)
# What may stand between a deadline word and its date: "deadline for concept notes is", "deadline: ", "deadline of",
# "closing date has been extended to", a title's "Deadline 30 June". Anything else ("the deadline, first announced
# on 2 March, …") and the date is not read as the deadline.
_LINK = re.compile(
    r"(?:\s+(?:for|to)(?:\s+[^\W\d_]+){1,6}?)?\s*(?:(?:is|was|are|will\s+be|has\s+been|had\s+been)\s+)?"
    r"(?:(?:extended|moved|pushed\s+back|brought\s+forward|set|fixed)\s+(?:to|for|at|as)\s+|falls?\s+on\s+|"
    r"(?:of|on|by|at)\s+)?[:–—-]?\s*(?:the\s+)?" + _WEEKDAY + r"$",
    re.IGNORECASE,
)
# What a deadline word's sentence (or else the title; the body, for the title's own) must name for a call's deadline.
_CALL_WORDS = re.compile(
    r"\b(?:applications?|apply|applicants?|proposals?|concept(?:\s+note)?s?|submissions?|submit(?:ted)?|nominations?|"
    r"grants?|funding|call\s+for|expressions?\s+of\s+interest|eois?|tenders?|fellowships?|scholarships?|awards?|"
    r"prizes?|entries|registrations?)\b",
    re.IGNORECASE,
)
# Sentence ends: a full stop, question or exclamation mark before a capital or quote, or a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<![ap]\.m\.)[\"”’)]?\s+(?=[A-Z0-9\"“(])|\n+")  # not "5 p.m. GMT"
_LOOKBACK = 200  # characters of the sentence read before a date for its trigger
# in every version's build record: a change re-reads every article's deadlines (2: "it ends on" is no call closing;
# 3: numeric dates, a time of day before the date, "applications open on … and close on …", "due", "through",
# "the call … until", a call that "closes <date>", "the end of <month>")
RECIPE = 3
MAX_DEADLINES = 4  # an article's deadlines kept, earliest first (a concept note's and a full proposal's)
EARLIEST = timedelta(days=31)  # a date this long before publication is not this call's
LATEST = timedelta(days=2 * 366)  # nor one this long after it


def find_deadlines(title: str, body: str, published: datetime | date | None = None) -> tuple[date, ...]:
    """The application deadlines `title` and `body` name, earliest first (at most MAX_DEADLINES)."""
    if isinstance(published, datetime):
        published = published.date()
    found: set[date] = set()
    names_call: dict[str, bool] = {}  # whether the title / the body names what is applied for, read once if needed
    for text, other in ((title, body), (body, title)):
        for m in _dates(text or ""):
            before = _sentence_before(text, m.start())
            trigger = _trigger(before)
            if trigger is None:
                continue
            if trigger == "word" and not _CALL_WORDS.search(before + _sentence_after(text, m.end())):
                # "The closing date is …" under a title "… Grants …"; "Deadline 30 June" over a call's text
                if other not in names_call:
                    names_call[other] = bool(other and _CALL_WORDS.search(other))
                if not names_call[other]:
                    continue
            day = _as_date(m, published)
            if day is not None and _plausible(day, published):
                found.add(day)
    return tuple(sorted(found)[:MAX_DEADLINES])


def _dates(text: str) -> list[re.Match[str]]:
    """`_DATE`'s matches in `text`, found from the month names and ISO dates' "20" by plain substring search first:
    the pattern scanned over a whole article costs ~100 µs, the substring searches a few."""
    starts = set()
    for month in _MONTH_ABBREVIATIONS:
        at = text.find(month)
        while at >= 0:
            starts.add(max(0, at - 10))  # room for "31st of " before the month
            at = text.find(month, at + 3)
    at = text.find("20")
    while at >= 0:
        if text[at + 4: at + 5] == "-":
            starts.add(at)
        elif at >= 4 and text[at - 1] in "/." and text[at - 4] == text[at - 1]:  # 15/05/2026: from its day
            starts.add(max(0, at - 6))
        at = text.find("20", at + 2)
    matches, covered = [], -1
    for start in sorted(starts):
        start = max(start, covered)
        end = min(len(text), start + 60)  # a date is at most ~30 characters; one cut by `end` is not read
        m = _DATE.search(text, start, end)
        if m is not None and (m.end() <= end - 8 or end == len(text)):  # room for a year after it
            matches.append(m)
            covered = m.end()
    return matches


def _sentence_before(text: str, at: int) -> str:
    """The sentence's text before position `at` (at most _LOOKBACK characters of it)."""
    before = text[max(0, at - _LOOKBACK): at]
    start = 0
    for m in _SENTENCE_END.finditer(before):
        start = m.end()
    return before[start:]


def _sentence_after(text: str, at: int) -> str:
    """The sentence's text after position `at` (at most _LOOKBACK characters of it)."""
    after = text[at: at + _LOOKBACK]
    m = _SENTENCE_END.search(after)
    return after[: m.start()] if m else after


def _trigger(before: str) -> str | None:
    """Which kind of deadline context ends just before a date: "word" (a deadline word linked to it by `_LINK`),
    "sent" or "close" (up to _LOOKBACK characters of the sentence before it), or None."""
    for m in _TRIGGERS.finditer(before):
        if m.group("word"):
            if _LINK.match(before, m.end()):  # the date is what the deadline word says, not a later clause's
                return "word"
        elif m.group("sent"):
            return "sent"
        elif m.group("close"):
            return "close"
    return None


def _as_date(m: re.Match[str], published: date | None) -> date | None:
    if m.group("y3"):
        year, month, day = int(m.group("y3")), int(m.group("m3")), int(m.group("d3"))
    elif m.group("y4"):  # day first or month first: read only when the numbers say which (15/05, 05/15, 05/05)
        a, b, year = int(m.group("a4")), int(m.group("b4")), int(m.group("y4"))
        if a > 12 >= b or a == b:
            day, month = a, b
        elif b > 12 >= a:
            month, day = a, b
        else:
            return None  # 03/04/2026: 3 April or March 4, the text does not say
    else:
        name = m.group("m1") or m.group("m2") or m.group("m5")
        if not name[0].isupper():  # "may 2 groups apply": a month is written with a capital
            return None
        month = _MONTHS[name.lower().rstrip(".")]
        given = m.group("y1") or m.group("y2") or m.group("y5")
        if given is None and published is None:
            return None  # "by 30 June" in an undated article: which year is unknown
        year = int(given) if given else published.year
        end_of_month = m.group("m5") is not None  # "the end of May": its last day
        written = m.group("d1") or m.group("d2")
        day = calendar.monthrange(year, month)[1] if end_of_month else int(re.match(r"\d+", written).group())
        if not given and (month, day) < (published.month, published.day):  # the next such day on or after publication
            year += 1
            day = calendar.monthrange(year, month)[1] if end_of_month else day
    try:
        return date(year, month, day)
    except ValueError:  # 31 June
        return None


def _plausible(day: date, published: date | None) -> bool:
    return published is None or published - EARLIEST <= day <= published + LATEST
