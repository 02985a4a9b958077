"""The catalogues of the search page's and the widget's words: every language has exactly English's keys and
placeholders, every key is used, no English is left in the page's code, and SIFT_UI_LANGUAGE names a catalogue."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pydantic import ValidationError

from search_api.http.messages import (
    Catalogue, catalogue, choose_language, languages, text_direction,
)
from search_api.settings import Settings

STATIC = Path(__file__).resolve().parents[2] / "search_api" / "http" / "static"
CATALOGUES = STATIC / "messages"
SCRIPTS = ("search.js", "widget.js")
WIDGET_PY = STATIC.parent / "widget.py"
PLURAL_FORMS = {"zero", "one", "two", "few", "many", "other"}  # CLDR's categories, Intl.PluralRules' answers
PLACEHOLDER = re.compile(r"\{(\w+)\}")
ENGLISH = json.loads((CATALOGUES / "en.json").read_text(encoding="utf-8"))


def _forms(message) -> list[str]:
    return list(message.values()) if isinstance(message, dict) else [message]


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def test_the_five_languages_have_catalogues():
    assert languages() == ("ar", "en", "es", "fr", "pt")


@pytest.mark.parametrize("lang", languages())
def test_every_language_has_exactly_the_english_keys(lang):
    messages = json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))
    assert sorted(set(ENGLISH) - set(messages)) == [], f"{lang}.json lacks these keys"
    assert sorted(set(messages) - set(ENGLISH)) == [], f"{lang}.json has keys en.json does not"


@pytest.mark.parametrize("lang", languages())
def test_messages_keep_the_english_placeholders_and_plural_forms(lang):
    for key, message in catalogue(lang).messages.items():
        english = ENGLISH[key]
        assert isinstance(message, dict) == isinstance(english, dict), f"{lang} {key}: plural in one language only"
        assert all(text.strip() for text in _forms(message)), f"{lang} {key}: empty"
        if isinstance(message, dict):
            # Intl.PluralRules picks the form; "other" is the fallback for a form a catalogue leaves out
            assert {"one", "other"} <= set(message) <= PLURAL_FORMS, f"{lang} {key}: {sorted(message)}"
            # a form may leave the count out ("one day left"), never add a placeholder the page does not fill
            assert _placeholders(message["other"]) == _placeholders(english["other"]), f"{lang} {key}"
            assert all(_placeholders(text) <= _placeholders(english["other"]) for text in message.values()), key
        else:
            assert _placeholders(message) == _placeholders(english), f"{lang} {key}"


def test_arabic_counts_have_all_six_forms():
    plurals = {key: m for key, m in catalogue("ar").messages.items() if isinstance(m, dict)}
    assert plurals and all(set(m) == PLURAL_FORMS for m in plurals.values())


class _Words(HTMLParser):
    """index.html's text and the attributes a reader sees or hears, and the keys its data-i18n* attributes name."""

    SHOWN = {"placeholder", "title", "aria-label", "alt", "value"}

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.keys: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        for name, value in attrs:
            if name.startswith("data-i18n"):
                self.keys.add(value)
            elif name in self.SHOWN and tag != "option":  # an option's value is what the form sends
                self.texts.append(value or "")

    def handle_data(self, data) -> None:
        self.texts.append(data)


def _page() -> _Words:
    words = _Words()
    words.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    return words


# What the widget tells the site's developers in the console stays English: they read code, not the page.
_TO_DEVELOPERS = re.compile(r'(?:warn\(me, |console\.\w+\(|throw new Error\("HTTP ")[^;]*;')


def _string_literals(script: str) -> list[str]:
    """A script's string literals, comments left out (a comment may quote the English it explains)."""
    pattern = re.compile(r'("(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\')|//[^\n]*|/\*.*?\*/', re.DOTALL)
    return [m.group(1)[1:-1] for m in pattern.finditer(script) if m.group(1)]


def _english_phrases() -> dict[str, bool]:
    """The wording of every English message, the text between its placeholders where it holds a word → whether it is
    the whole message. A lone word out of a longer message ("closed" of "closed {date}") is also a value the API
    sends, so a literal that is just that word is not English text."""
    phrases: dict[str, bool] = {}
    for message in ENGLISH.values():
        for text in _forms(message):
            pieces = PLACEHOLDER.split(text)[::2]
            for piece in pieces:
                piece = piece.strip(" .,:;()“”—…")
                if re.search(r"[A-Za-z]{3}", piece):
                    phrases[piece] = phrases.get(piece, False) or (len(pieces) == 1 or " " in piece)
    return phrases


def _english_in(literal: str) -> list[str]:
    return [phrase for phrase, whole in _english_phrases().items()
            if (whole or literal != phrase) and re.search(rf"(?<![\w.-]){re.escape(phrase)}(?![\w.-])", literal)]


def test_the_english_scan_sees_what_it_should():
    assert _english_in("Related posts") == ["Related posts"] and _english_in(" days left") == ["days left"]
    assert _english_in("today") == ["today"] and _english_in(" · score ") == ["score"]
    assert _english_in("closed") == [] and _english_in("deadline") == []  # the API's values
    assert _string_literals('var a = "today", b = \'x\'; // "Related posts"\n/* "Search" */') == ["today", "x"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_no_english_is_left_in_the_scripts(name):
    script = _TO_DEVELOPERS.sub("", (STATIC / name).read_text(encoding="utf-8"))
    left = sorted({phrase for literal in _string_literals(script) for phrase in _english_in(literal)})
    assert left == [], f"{name} still says these in English; use a catalogue key"


def test_no_words_are_left_in_the_page():
    page = _page()
    assert [text for text in page.texts if re.search(r"[^\W\d_]", text)] == [], "index.html: use data-i18n"


def test_every_key_is_used_and_every_key_used_exists():
    code = "".join((STATIC / name).read_text(encoding="utf-8") for name in SCRIPTS) + WIDGET_PY.read_text("utf-8")
    looked_up = set(re.findall(r'(?:\bt\(|words\.text\(|words\[)"([\w.]+)"', code)) | _page().keys
    assert sorted(looked_up - set(ENGLISH)) == [], "keys looked up but in no catalogue"
    named = looked_up | set(re.findall(r'"([\w.]+)"', code))  # also keys chosen first (a ? b : c), looked up later
    assert sorted(set(ENGLISH) - named) == [], "keys neither the page nor the widget uses"


@pytest.mark.parametrize(
    ("asked", "fallback", "chosen"),
    [
        ("fr", "en", "fr"), ("FR", "en", "fr"), ("fr-CA", "en", "fr"), ("pt_BR", "en", "pt"), (" ar ", "en", "ar"),
        ("de", "en", "en"), ("de", "pt", "pt"), ("", "es", "es"), (None, "es", "es"), ("x" * 30, "en", "en"),
    ],
)
def test_choose_language(asked, fallback, chosen):
    assert choose_language(asked, fallback) == chosen


@pytest.mark.parametrize(
    ("lang", "direction"), [("ar", "rtl"), ("he", "rtl"), ("fa-IR", "rtl"), ("ur", "rtl"), ("en", "ltr"), ("fr", "ltr")]
)
def test_text_direction(lang, direction):
    assert text_direction(lang) == direction


def test_catalogue_text_fills_placeholders_and_leaves_plurals_to_the_browser():
    french = catalogue("fr")
    assert isinstance(french, Catalogue) and french.direction == "ltr" and catalogue("ar").direction == "rtl"
    assert french.text("widget.closed", date="2026-03-15") == "Clos le 2026-03-15"
    with pytest.raises(TypeError, match="plural forms"):
        french.text("deadline.days_left", n=3)


def test_ui_language_setting(monkeypatch):
    monkeypatch.delenv("SIFT_UI_LANGUAGE", raising=False)
    assert Settings().ui_language == "en"
    monkeypatch.setenv("SIFT_UI_LANGUAGE", "PT")
    assert Settings().ui_language == "pt"


@pytest.mark.parametrize("value", ["de", "pt-BR", "", "../en"])
def test_ui_language_without_a_catalogue_is_refused_with_the_choices(value):
    with pytest.raises(ValidationError) as info:
        Settings(ui_language=value)
    message = str(info.value)
    assert f"no catalogue for the language {value!r}: choose one of ar, en, es, fr, pt" in message
    assert "search_api/http/static/messages/" in message
