import hashlib
import json
from datetime import date, datetime, timezone

import pytest

from dateutil import parser

from indexer.article import ArticleInvalid, _parse_date, parse_article

GOOD = {"id": "a-1", "title": "Title", "body": "Body text."}


def test_minimal_record_and_normalisation():
    a = parse_article({**GOOD, "title": "  Spaced  ", "published_at": "2025-03-01T10:00:00+02:00",
                       "categories": "Health; WASH;Health", "tags": ["x", " y ", ""]})
    assert a.title == "Spaced"
    assert a.published_at == datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)
    assert a.categories == ("Health", "WASH")
    assert a.tags == ("x", "y")


def test_json_list_strings_and_text_alias_are_accepted():
    a = parse_article({"id": "b", "title": "T", "text": "from text", "countries": '["Ghana", "Kenya"]'})
    assert a.body == "from text" and a.countries == ("Ghana", "Kenya")


def test_id_is_derived_from_url_when_missing():
    a = parse_article({"url": "https://x.example.org/p/1", "title": "T", "body": "B"})
    assert a.id.startswith("u-") and a.id == parse_article({"url": "https://x.example.org/p/1", "title": "T", "body": "B"}).id


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "x", "body": "b"}, "field 'title' is missing"),
        ({"id": "x", "title": "  ", "body": "b"}, "field 'title' is empty"),
        ({"id": "x", "title": "t"}, "field 'body' is missing"),
        ({"title": "t", "body": "b"}, "field 'id' is missing"),
        ({"id": "has space", "title": "t", "body": "b"}, "field 'id': must be"),
        ({**GOOD, "published_at": "next tuesday-ish"}, "field 'published_at': unparseable date"),
        ({**GOOD, "published_at": ["2025"]}, "field 'published_at': expected a date"),
        ({**GOOD, "url": "ftp://nope"}, "field 'url': must be an http(s) URL"),
        ({**GOOD, "categories": "[broken"}, "field 'categories': looks like a JSON list"),
        ({**GOOD, "tags": [{"a": 1}]}, "field 'tags': list items must be strings"),
    ],
)
def test_bad_records_name_the_field(record, message):
    with pytest.raises(ArticleInvalid, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_article(record)


def test_content_hash_changes_with_content_only():
    a = parse_article(GOOD)
    assert a.content_hash() == parse_article(dict(GOOD)).content_hash()
    assert a.content_hash() != parse_article({**GOOD, "body": "Other."}).content_hash()


@pytest.mark.parametrize(
    "text",
    ["2024-01-02", "2024-01-02T10:20:30Z", "2024-01-02T10:20:30+02:00", "2024-01-02 10:20", "20240102",
     "2024-01-02T10:20:30.123456", "Tue, 02 Jan 2024 10:20:30 GMT", "January 5, 2023"],
)
def test_iso_dates_take_the_fast_path_and_read_as_the_general_parser_reads_them(text):
    general = parser.parse(text)
    general = (general if general.tzinfo else general.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    assert _parse_date(text) == general.replace(microsecond=0)


def test_a_deadline_field_is_a_day_and_leaves_other_articles_hashes_alone():
    base = {"id": "a1", "title": "Grants", "body": "Apply now."}
    assert parse_article({**base, "deadline": "15 May 2026"}).deadline == date(2026, 5, 15)
    assert parse_article({**base, "deadline": "2026-05-15T23:59:00+03:00"}).deadline == date(2026, 5, 15)
    assert parse_article({**base, "deadline": ""}).deadline is None
    with pytest.raises(ArticleInvalid, match="field 'deadline'"):
        parse_article({**base, "deadline": "soon"})
    # an article without one hashes as it did before the field existed: re-indexing re-embeds nothing
    plain = parse_article(base)
    before = {k: v for k, v in plain.model_dump(mode="json").items() if k != "deadline"}
    assert plain.content_hash() == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()
    assert parse_article({**base, "deadline": "2026-05-15"}).content_hash() != plain.content_hash()


def test_nul_characters_are_dropped_from_every_text_field():
    a = parse_article({"id": "n1", "title": "Flo\x00ods", "body": "Rain\x00 fell.", "author": "A\x00. Writer",
                       "categories": "Relief\x00", "tags": ["wa\x00ter"], "countries": ["Ke\x00nya"]})
    assert (a.title, a.body, a.author, a.categories, a.tags, a.countries) == (
        "Floods", "Rain fell.", "A. Writer", ("Relief",), ("water",), ("Kenya",))
    with pytest.raises(ArticleInvalid, match="body"):
        parse_article({"id": "n2", "title": "Only NUL", "body": "\x00"})
