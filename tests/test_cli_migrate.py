"""`sift migrate --to / --from`: an index folder into a real PostgreSQL database and back from the command line, the
URL's password never printed, and every failure one line."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from search_api.cli import app
from tests.indexer.test_migrate import copy_without_editorial_state

runner = CliRunner()
PASSWORD = "s3cret-pw"


def sift(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def with_password(url: str) -> str:
    # the test server trusts every loopback connection: the password is sent and ignored
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@", 1)


def test_an_index_goes_into_the_database_and_back_without_its_password_printed(tiny_index, postgres_url, tmp_path):
    folder = copy_without_editorial_state(tiny_index, tmp_path / "idx")
    url = with_password(postgres_url)
    out = sift("migrate", "--to", url, "--index", str(folder), "--quiet")
    assert out.exit_code == 0, out.output
    first, second = out.output.splitlines()
    assert first.startswith(f"migrated {folder} to {postgres_url} in ")
    assert ": 12 articles, 12 chunks, " in first and "; version 000001 (25 files, " in first
    assert first.endswith(" MB), nothing embedded")
    assert second == "version 000001 is live in the database: serve it with SIFT_DATABASE_URL set to it"

    back = tmp_path / "back"
    out = sift("migrate", "--from", url, "--index", str(back), "--json")
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert (report["source"], report["target"], report["version"]) == (postgres_url, str(back), "000001")
    assert report["rows"]["articles"] == 12
    found = sift("search", "grants to replant mangroves", "--index", str(back), "-k", "1")
    assert found.output.startswith("1. Mangrove restoration grant for coastal communities in Indonesia")

    again = sift("migrate", "--to", url, "--index", str(folder))
    assert again.exit_code == 1
    assert again.output == (f"error: the database at {postgres_url} already holds an index (rows in articles, chunks, "
                            "embeddings, ingest_log, sift_versions); nothing was written: migrate into a new, empty "
                            "database (createdb NAME)\n")
    assert PASSWORD not in out.output + again.output


def test_a_database_that_is_not_there_is_one_line_without_its_password(tmp_path):
    folder = tmp_path / "idx"
    out = sift("migrate", "--from", f"postgresql://sift:{PASSWORD}@127.0.0.1:1/nowhere", "--index", str(folder))
    assert out.exit_code == 1
    assert out.output.startswith("error: cannot connect to the database at postgresql://sift@127.0.0.1:1/nowhere (")
    assert out.output.endswith("is PostgreSQL running there, and is the URL right?\n")
    assert out.output.count("\n") == 1 and PASSWORD not in out.output
    assert not folder.exists()


@pytest.mark.parametrize(("args", "message"), [
    ((), "give one of --to URL (folder → database) or --from URL (database → folder)"),
    (("--to", "postgresql://h/a", "--from", "postgresql://h/b"),
     "give one of --to URL (folder → database) or --from URL (database → folder)"),
    (("--to", f"mysql://root:{PASSWORD}@h/db"), "--to takes a postgresql:// or postgres:// URL"),
    (("--from", "postgresql://h/db"), "--from needs --index DIR: the new folder to copy the index into"),
])
def test_a_wrong_invocation_says_what_to_give(args, message):
    out = sift("migrate", *args)
    assert (out.exit_code, out.output) == (1, f"error: {message}\n")


def test_a_folder_without_an_index_is_refused(tmp_path):
    out = sift("migrate", "--to", "postgresql://postgres@127.0.0.1:1/never-reached", "--index", str(tmp_path))
    assert (out.exit_code, out.output) == (
        1, f"error: no index store at {Path(tmp_path) / 'store.sqlite'}; nothing to migrate (is --index the index "
           "folder?)\n")
