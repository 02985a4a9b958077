import gzip
import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from indexer.article import Article
from indexer.errors import BadRecord
from indexer.sources import read_path

HTML = Path(__file__).resolve().parent.parent / "fixtures" / "html"


def _split(items):
    good = [i for i in items if isinstance(i, Article)]
    bad = [i for i in items if isinstance(i, BadRecord)]
    return good, bad


def _rec(i, **extra):
    return {"id": f"a{i}", "title": f"Title {i}", "body": f"Body of article {i}.", **extra}


# -- JSONL ---------------------------------------------------------------------------------------------------
def test_jsonl_reports_each_bad_line_and_keeps_the_rest(tmp_path):
    path = tmp_path / "in.jsonl"
    lines = [
        json.dumps(_rec(1)).encode(),
        b'{"id": "a2", "title": "broken json"',
        json.dumps({"id": "a3", "body": "no title"}).encode(),
        b"",
        json.dumps(_rec(4, published_at="31/31/2025")).encode(),
        '{"id": "a5", "title": "caf\u00e9", "body": "x"}'.encode("latin-1"),
        b"[1, 2]",
        json.dumps(_rec(7, categories=["Health"])).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    good, bad = _split(list(read_path(path)))
    assert [a.id for a in good] == ["a1", "a7"]
    assert [(b.location, b.reason.split(":")[0]) for b in bad] == [
        ("line 2", "invalid JSON"),
        ("line 3", "field 'title' is missing"),
        ("line 5", "field 'published_at'"),
        ("line 6", "not valid UTF-8 (byte 26); re-save the file as UTF-8"),
        ("line 7", "expected a JSON object, got list"),
    ]
    assert all(b.source == str(path) for b in bad)
    assert str(bad[0]).startswith(f"{path}:line 2: invalid JSON")


def test_jsonl_gz_and_html_bodies_are_cleaned(tmp_path):
    path = tmp_path / "in.jsonl.gz"
    body = "<p>First <strong>para</strong>.</p><script>evil()</script><p>Second &amp; last.</p>"
    with gzip.open(path, "wt") as fh:
        fh.write(json.dumps(_rec(1, body=body)) + "\n")
    (article,) = list(read_path(path))
    assert article.body == "First para.\n\nSecond & last."


# -- CSV -----------------------------------------------------------------------------------------------------
def test_csv_lists_dates_and_located_errors(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(
        "id,title,body,published_at,categories\n"
        'c1,Floods in Sindh,"Multi-line\n\nbody text.",2025-08-01,Humanitarian Relief; Climate\n'
        "c2,,Missing title,2025-08-02,\n"
        "c3,Too,many,columns,here,extra\n"
        "c4,Bad date,Body,someday,\n"
        "c5,Fine,Body,,Health\n",
        encoding="utf-8",
    )
    good, bad = _split(list(read_path(path)))
    assert [a.id for a in good] == ["c1", "c5"]
    assert good[0].categories == ("Humanitarian Relief", "Climate")
    assert good[0].body == "Multi-line\n\nbody text."
    assert good[0].published_at == datetime(2025, 8, 1, tzinfo=timezone.utc)
    assert [(b.location, b.reason) for b in bad] == [
        ("line 5", "field 'title' is empty"),
        ("line 6", "expected 5 columns, found 6"),
        ("line 7", "field 'published_at': unparseable date 'someday'"),
    ]


def test_csv_with_invalid_utf8_keeps_rows_before_it(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(b"id,title,body\nc1,Ok,Fine body\nc2,Caf\xe9,Latin-1 body\n")
    good, bad = _split(list(read_path(path)))
    assert [a.id for a in good] == ["c1"]
    assert bad[0].location == "line 3" and "not valid UTF-8" in bad[0].reason


# -- Parquet -------------------------------------------------------------------------------------------------
def test_parquet_with_list_columns_and_a_bad_record(tmp_path):
    path = tmp_path / "in.parquet"
    pd.DataFrame(
        {
            "id": ["p1", "p2", "p3"],
            "title": ["One", None, "Three"],
            "body": ["Body one.", "Body two.", "Body three."],
            "published_at": pd.to_datetime(["2025-01-01", "2025-01-02", None], utc=True),
            "categories": [["Health", "WASH"], [], ["Education"]],
        }
    ).to_parquet(path)
    good, bad = _split(list(read_path(path)))
    assert [(a.id, a.categories) for a in good] == [("p1", ("Health", "WASH")), ("p3", ("Education",))]
    assert good[1].published_at is None
    assert [(b.location, b.reason) for b in bad] == [("record 2", "field 'title': Input should be a valid string")]


def test_corrupt_parquet_is_one_located_error(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    (bad,) = list(read_path(path))
    assert bad.source == str(path) and bad.reason.startswith("cannot read Parquet file")


# -- HTML ----------------------------------------------------------------------------------------------------
def test_wordpress_page_loses_menus_sidebars_and_footer():
    (article,) = list(read_path(HTML / "wordpress_article.html"))
    assert article.title == "Human Trafficking Crisis: IOM Calls for Global Action on 125,000 Victims"
    assert article.published_at == datetime(2025, 7, 30, 8, 15, tzinfo=timezone.utc)
    assert article.categories == ("Human Trafficking",)
    assert article.tags == ("IOM", "victims")
    assert article.url == "https://news.example.org/2025/07/iom-global-action-trafficking/"
    assert article.id == "wordpress_article"
    assert "125,000 identified victims" in article.body
    assert article.body.count("\n\n") == 3  # four paragraphs kept apart
    for boilerplate in ("Latest News", "Related Posts", "Football Transfer", "Donate", "Privacy Policy",
                        "Subscribe", "Share this", "All rights reserved"):
        assert boilerplate not in article.body


def test_windows_1252_page_is_decoded_not_garbled():
    (article,) = list(read_path(HTML / "windows1252_article.html"))
    assert article.author == "José Muñoz"
    assert article.body.startswith("\u201cThe International Organization")


@pytest.mark.parametrize("name", ["broken_page.html", "no_title_nav_only.html"])
def test_pages_without_an_article_are_reported(name):
    (bad,) = list(read_path(HTML / name))
    assert bad.source.endswith(name) and "no article text found" in bad.reason


def test_undecodable_bytes_are_reported(tmp_path):
    path = tmp_path / "noise.html"
    path.write_bytes(bytes(range(128, 256)) * 40)
    (bad,) = list(read_path(path))
    assert isinstance(bad, BadRecord)


# -- directories and paths -----------------------------------------------------------------------------------
def test_directory_is_walked_recursively_in_order(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.jsonl").write_text(json.dumps(_rec(2)) + "\n")
    (tmp_path / "sub" / "a.jsonl").write_text(json.dumps(_rec(1)) + "\n")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / ".hidden.jsonl").write_text("ignored")
    assert [a.id for a in read_path(tmp_path)] == ["a2", "a1"]


def test_missing_path_and_empty_dir_are_reported(tmp_path):
    (missing,) = list(read_path(tmp_path / "nope"))
    assert missing.reason == "no such file or directory"
    (empty,) = list(read_path(tmp_path))
    assert empty.reason.startswith("no readable files")


def test_unsupported_single_file_is_reported(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    (bad,) = list(read_path(path))
    assert bad.reason.startswith("unsupported file type")
