"""The words of the search page and the widget: one JSON catalogue per language in static/messages/ (the browser
loads them too), which catalogue a page or a widget box gets, and which languages are written right to left."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Annotated, Literal

from fastapi import Query
from pydantic import AfterValidator

DEFAULT_LANGUAGE = "en"
# Scripts written right to left, by language subtag: Arabic, Hebrew, Persian, Urdu.
RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur"})
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

Message = str | dict[str, str]  # a plural message maps CLDR categories (one, other, …) to texts


def _folder():
    return files("search_api.http").joinpath("static", "messages")


@lru_cache(maxsize=1)
def languages() -> tuple[str, ...]:
    """The languages with a catalogue (file names without .json), sorted."""
    return tuple(sorted(f.name.removesuffix(".json") for f in _folder().iterdir() if f.name.endswith(".json")))


def text_direction(language: str) -> Literal["ltr", "rtl"]:
    return "rtl" if language.split("-")[0].lower() in RTL_LANGUAGES else "ltr"


def choose_language(asked: str | None, fallback: str) -> str:
    """The catalogue for a language tag: "pt-BR" gets pt-br if there is one, else pt; a tag without a catalogue (or
    none) gets `fallback`."""
    tag = (asked or "").strip().lower().replace("_", "-")
    for candidate in (tag, tag.split("-")[0]):
        if candidate in languages():
            return candidate
    return fallback


@dataclass(frozen=True)
class Catalogue:
    language: str
    messages: dict[str, Message]

    @property
    def direction(self) -> Literal["ltr", "rtl"]:
        return text_direction(self.language)

    def text(self, key: str, **params: object) -> str:
        """A message with its {placeholders} filled in (the server's pages have no counts, so no plural forms)."""
        message = self.messages[key]
        if not isinstance(message, str):
            raise TypeError(f"message {key!r} has plural forms; the browser chooses them (Intl.PluralRules)")
        return _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]), message)


@lru_cache(maxsize=None)
def catalogue(language: str) -> Catalogue:
    """The catalogue of a language in languages() (raises FileNotFoundError for any other)."""
    text = _folder().joinpath(f"{language}.json").read_text(encoding="utf-8")
    return Catalogue(language, json.loads(text))


def _known_language(value: str) -> str:
    language = value.strip().lower()
    if language not in languages():
        raise ValueError(
            f"no catalogue for the language {value!r}: choose one of {', '.join(languages())}, or add "
            f"search_api/http/static/messages/{language}.json with every key of en.json"
        )
    return language


UiLanguage = Annotated[str, AfterValidator(_known_language)]
# `?lang=` of the search page and the widget's fragment: a tag without a catalogue is no error, it gets the site's
LanguageQuery = Annotated[
    str | None,
    Query(max_length=35, description="Language of the words (a language tag: fr, pt-BR, …); without a catalogue "
          "for it, SIFT_UI_LANGUAGE"),
]
