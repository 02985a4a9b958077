"""Site synonyms for the keyword leg: "GBV" finds articles that only say "gender-based violence", and back.

A site's readers and writers often use different words for one thing (acronyms above all: GBV, FGM, IDPs, WASH);
the dense leg knows some of them, BM25 none. `SIFT_SYNONYMS` names a text file in the format Solr and Elasticsearch
use, one rule per line:

    # equivalent: any of them in a query also searches the others
    gbv, gender-based violence, violence against women and girls
    # one way: the left side in a query also searches the right side, not the reverse
    idps, idp => internally displaced people, internally displaced persons

Matching is on whole words, in any case. The added words go to the keyword leg (and are marked in snippets); the
dense leg embeds the query as typed. None are shipped: SciFact's acronyms, mined from its own abstracts and added
the same way, cost relevance there (BENCHMARKS.md), so synonyms are a site's own, curated list.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from indexer.errors import SiftError
from search_api.query.syntax import phrase_pattern

_WORD = re.compile(r"\w")
_WORDS = re.compile(r"\w+")
MAX_RULES = 10_000


class SynonymsInvalid(SiftError):
    """A synonyms file that cannot be read or has a malformed line (named in the message)."""


@dataclass(frozen=True)
class _Rule:
    when: tuple[str, ...]  # any of these phrases in a query …
    add: tuple[str, ...]  # … also searches these
    patterns: tuple[re.Pattern[str], ...] = field(compare=False, default=())


@dataclass(frozen=True)
class Synonyms:
    rules: tuple[_Rule, ...] = ()

    def expand(self, query: str) -> list[str]:
        """The phrases to search besides `query`: every rule's other side when one of its phrases is in the query,
        each once, none the query already holds."""
        added: list[str] = []
        for rule, _ in self._found(query):
            for phrase in rule.add:
                if phrase not in added and not phrase_pattern(phrase).search(query):
                    added.append(phrase)
        return added

    def variants(self, query: str, most: int = 20) -> list[str]:
        """`query` with a phrase a rule reads replaced by one it adds ("IDPs in Darfur" → "internally displaced in
        Darfur"), at most `most`: what an article holding "every query word" may hold instead."""
        out = [pattern.sub(lambda _, phrase=phrase: phrase, query)
               for rule, pattern in self._found(query) for phrase in rule.add]
        return list(dict.fromkeys(out))[:most]

    def _found(self, query: str) -> list[tuple[_Rule, re.Pattern[str]]]:
        """(rule, its pattern that matched), in the file's order: only the rules whose phrase starts with a word of
        the query are tried, so a list of thousands costs what a few do."""
        words = {w.casefold() for w in _WORDS.findall(query)}
        tried = sorted({entry for w in words for entry in self._by_first_word.get(w, ())})
        found = []
        for number, which in tried:
            rule = self.rules[number]
            pattern = rule.patterns[which]
            if pattern.search(query) and not any(r is rule for r, _ in found):
                found.append((rule, pattern))
        return found

    @functools.cached_property
    def _by_first_word(self) -> dict[str, list[tuple[int, int]]]:
        index: dict[str, list[tuple[int, int]]] = {}
        for number, rule in enumerate(self.rules):
            for which, phrase in enumerate(rule.when):
                index.setdefault(_WORDS.findall(phrase)[0].casefold(), []).append((number, which))
        return index

    def __len__(self) -> int:
        return len(self.rules)


def parse_synonyms(text: str, source: str = "synonyms") -> Synonyms:
    """Rules from Solr-format text; a malformed line raises SynonymsInvalid naming `source` and the line."""
    rules: list[_Rule] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{source}, line {number}"
        if line.count("=>") > 1:
            raise SynonymsInvalid(f"{where}: one '=>' at most")
        if "=>" in line:
            left, right = (_phrases(side, where) for side in line.split("=>"))
            if not left or not right:
                raise SynonymsInvalid(f"{where}: '=>' needs words on both sides, e.g. 'idp => internally displaced'")
            rules.append(_rule(left, right))
        else:
            group = _phrases(line, where)
            if len(group) < 2:
                raise SynonymsInvalid(f"{where}: give two or more phrases separated by commas, e.g. 'gbv, "
                                      f"gender-based violence'")
            for phrase in group:  # each member finds the others
                rules.append(_rule((phrase,), tuple(p for p in group if p != phrase)))
        if len(rules) > MAX_RULES:
            raise SynonymsInvalid(f"{where}: more than {MAX_RULES} rules")
    return Synonyms(tuple(rules))


def load_synonyms(path: Path) -> Synonyms:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SynonymsInvalid(f"cannot read the synonyms file {path}: {exc}") from None
    return parse_synonyms(text, str(path))


def _phrases(side: str, where: str) -> tuple[str, ...]:
    phrases = []
    for raw in side.split(","):
        phrase = " ".join(raw.split())
        if not phrase:
            continue
        if not _WORD.search(phrase):
            raise SynonymsInvalid(f"{where}: {phrase!r} has no word in it")
        if phrase.casefold() not in {p.casefold() for p in phrases}:
            phrases.append(phrase)
    return tuple(phrases)


def _rule(when: tuple[str, ...], add: tuple[str, ...]) -> _Rule:
    return _Rule(when, add, tuple(phrase_pattern(p) for p in when))
