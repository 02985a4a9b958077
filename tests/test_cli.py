"""The `sift` command line, run in-process with the real model and a real index folder."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from search_api.cli import EXIT_SKIPPED, app

FIXTURES = Path(__file__).resolve().parent / "fixtures"
runner = CliRunner()


def sift(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    shutil.copy(FIXTURES / "tiny_corpus.jsonl", src / "tiny.jsonl")
    (src / "bad.jsonl").write_text('{"id": "b1", "title": "No body"}\n{oops\n')
    idx = tmp_path_factory.mktemp("cli") / "idx"
    result = sift("index", str(src), "--index", str(idx), "--quiet")
    assert result.exit_code == EXIT_SKIPPED, result.output
    assert "read 12 articles: 12 added, 0 updated, 0 unchanged, 0 deleted; 2 failed (skipped)" in result.output
    assert "bad.jsonl:line 1: field 'body' is missing" in result.output
    assert "bad.jsonl:line 2: invalid JSON" in result.output
    return idx


def test_reindexing_unchanged_input_says_nothing_was_embedded(cli_index):
    result = sift("index", str(FIXTURES / "tiny_corpus.jsonl"), "--index", str(cli_index), "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert (report["unchanged"], report["embedded"], report["published"]) == (12, 0, False)
    human = sift("index", str(FIXTURES / "tiny_corpus.jsonl"), "--index", str(cli_index), "-q")
    assert "embedded nothing: all 12 passages came from the cache" in human.output


def test_search_human_and_json(cli_index):
    human = sift("search", "grants to replant mangroves", "--index", str(cli_index), "-k", "2")
    assert human.exit_code == 0
    assert human.output.startswith("1. Mangrove restoration grant for coastal communities in Indonesia")
    data = json.loads(sift("search", "grants to replant mangroves", "-i", str(cli_index), "--json").stdout)
    assert data["hits"][0]["id"] == "t11" and len(data["hits"]) == 10
    faceted = sift("search", "grants to replant mangroves", "-i", str(cli_index), "-k", "1", "--facets")
    assert "\nin the best " in faceted.output and "  categories: " in faceted.output
    data = json.loads(sift("search", "grants to replant mangroves", "-i", str(cli_index), "--facets", "--json").stdout)
    assert data["facets"]["counted"] > 0
    newest = sift("search", "grant", "-i", str(cli_index), "--sort", "date")
    assert newest.exit_code == 0 and newest.output.startswith("the ") and "most relevant results, newest first" in newest.output
    latest = sift("search", "latest grants", "-i", str(cli_index))
    assert latest.exit_code == 0 and '"latest" asks for the newest; --sort relevance ranks them' in latest.output
    newest = sift("search", "latest news", "-i", str(cli_index), "-k", "3")
    assert newest.exit_code == 0 and newest.output.startswith("the ") and " newest articles (" in newest.output
    assert "\n3. " in newest.output and "\n4. " not in newest.output and "score " not in newest.output
    span = sift("search", "grant this year", "-i", str(cli_index))
    assert span.exit_code == 0 and span.output.startswith("published since ") and '("this year")' in span.output
    wrong = sift("search", "grant", "-i", str(cli_index), "--sort", "oldest")
    assert wrong.exit_code != 0 and "unknown sort 'oldest'" in wrong.output
    completed = sift("suggest", "mangr", "-i", str(cli_index))
    assert completed.exit_code == 0 and completed.output.splitlines()[0].startswith("mangrove")
    assert json.loads(sift("suggest", "mangr", "-i", str(cli_index), "--json").stdout)["suggestions"]
    assert sift("suggest", "zzzz", "-i", str(cli_index)).output.strip() == "no completions"
    misspelt = sift("search", "mangorve restoration", "-i", str(cli_index), "-k", "1")
    assert misspelt.output.startswith("showing results for: mangroves restoration")
    assert "showing results" not in sift("search", "mangorve restoration", "-i", str(cli_index), "--no-spellcheck").output
    weak = sift("search", "premier league transfer window", "-i", str(cli_index))
    assert weak.exit_code == 0 and weak.output.startswith("no article matches well") and "--floor 0" in weak.output
    nearest = sift("search", "premier league transfer window", "-i", str(cli_index), "--floor", "0", "-k", "2")
    assert nearest.output.startswith("1. ") and "\n2. " in nearest.output
    assert sift("search", "grant", "-i", str(cli_index), "--floor", "2").exit_code == 2  # typer's range check


def test_search_filters(cli_index):
    data = json.loads(
        sift("search", "grant", "-i", str(cli_index), "-c", "Health", "--date-from", "2025-01-01", "--json").stdout
    )
    assert [h["id"] for h in data["hits"]] == ["t08"]


def test_search_grant_calls(cli_index):
    closed = sift("search", "climate grants", "-i", str(cli_index), "--calls", "closed")
    assert closed.exit_code == 0 and closed.output.startswith("1. EU opens €2 million call")
    assert " · closed 2026-03-15 · score " in closed.output and "\n2. " not in closed.output
    asked = sift("search", "climate grants closing soon", "-i", str(cli_index))
    assert asked.exit_code == 0 and asked.output.strip() == (  # the one call closed in March
        "no open calls right now (--calls closed lists the calls that have closed)")
    both = sift("search", "climate grants closing soon", "-i", str(cli_index), "--calls", "closed")
    assert both.exit_code == 0 and "EU opens €2 million call" in both.output and "closed 2026-03-15" in both.output
    nothing = sift("search", '"cocoa mangrove"', "-i", str(cli_index))  # no article holds the phrase: no call asked
    assert nothing.exit_code == 0 and nothing.output.strip() == "no articles match"
    wrong = sift("search", "grants", "-i", str(cli_index), "--calls", "soon")
    assert wrong.exit_code != 0 and "unknown --calls 'soon'; use open or closed" in wrong.output


def test_related_and_stats(cli_index):
    data = json.loads(sift("related", "t11", "-i", str(cli_index), "-k", "3", "--json").stdout)
    assert data["items"][0]["id"] == "t03" and "t11" not in [i["id"] for i in data["items"]]
    human = sift("related", "t11", "-i", str(cli_index), "-k", "3").output
    assert "(t03, 2025-12-01, closed 2026-03-15)" in human  # a grant call says when it closed
    stats = json.loads(sift("stats", "-i", str(cli_index), "--json").stdout)
    assert (stats["articles"], stats["version"]) == (12, "000001")
    assert "articles     12 in 12 passages" in sift("stats", "-i", str(cli_index)).output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["related", "nope"], "error: article 'nope' is not in the index"),
        (["search", "   "], "error: the query is empty"),
        (["search", "x", "--date-from", "2025-02-01", "--date-to", "2025-01-01"], "is after date_to"),
    ],
)
def test_errors_are_one_line_and_exit_1(cli_index, args, message):
    result = sift(*args, "-i", str(cli_index))
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_commands_on_a_missing_index(tmp_path):
    result = sift("search", "water", "-i", str(tmp_path / "none"))
    assert result.exit_code == 1 and "no index at" in result.output and "sift index" in result.output


def test_index_of_nothing_readable_fails(tmp_path):
    result = sift("index", str(tmp_path / "missing.jsonl"), "-i", str(tmp_path / "idx"), "-q")
    assert result.exit_code == 1 and "no such file or directory" in result.output


def test_insights_print_what_readers_searched_for(cli_index, tmp_path):
    from indexer.editorial import EditorialStore
    from indexer.publish import STORE_FILE

    idx = Path(shutil.copytree(cli_index, tmp_path / "idx"))
    empty = sift("insights", "-i", str(idx))
    assert empty.exit_code == 0 and empty.output.strip() == "last 30 days: 0 searches, 0 listed nothing"
    store = EditorialStore(idx / STORE_FILE)  # what `sift serve` records
    for query, answered in [("mangrove grants", True), ("mangrove grants", True), ("football", False)]:
        store.record_search(query, answered=answered, keep_days=90)
    store.close()
    out = sift("insights", "-i", str(idx), "--days", "7").output
    assert out.startswith("last 7 days: 3 searches, 1 listed nothing (33%)")
    assert "most searched:\n       2  mangrove grants\n       1  football  (1 listed nothing)" in out
    assert "most searched of those that listed nothing:\n       1  football  (1 listed nothing)" in out
    data = json.loads(sift("insights", "-i", str(idx), "-k", "1", "--json").stdout)
    assert data["searches"] == 3 and [c["query"] for c in data["top"]] == ["mangrove grants"]
    assert sift("insights", "-i", str(tmp_path / "nowhere")).exit_code == 1


def test_backup_copies_a_serving_index(cli_index, tmp_path):
    done = sift("backup", str(tmp_path / "copy"), "-i", str(cli_index))
    assert done.exit_code == 0 and done.output.startswith("backed up version ") and "(12 articles)" in done.output
    hits = json.loads(sift("search", "grants to replant mangroves", "-i", str(tmp_path / "copy"), "--json").stdout)["hits"]
    assert hits[0]["id"] == "t11"
    report = json.loads(sift("backup", str(tmp_path / "second"), "-i", str(cli_index), "--json").stdout)
    assert report["articles"] == 12 and report["destination"] == str(tmp_path / "second")
    again = sift("backup", str(tmp_path / "copy"), "-i", str(cli_index))
    assert again.exit_code == 1 and "already exists and is not an empty folder" in again.output
    assert sift("backup", str(tmp_path / "x"), "-i", str(tmp_path / "nowhere")).exit_code == 1


def test_delete_publishes_a_version_without_the_articles(cli_index, tmp_path):
    idx = Path(shutil.copytree(cli_index, tmp_path / "idx"))
    result = sift("delete", "t11", "t03", "--index", str(idx))
    assert result.exit_code == 0, result.output
    assert "0 added, 0 updated, 0 unchanged, 2 deleted" in result.output and "published" in result.output
    gone = json.loads(sift("search", "grants to replant mangroves", "-i", str(idx), "--json").stdout)
    assert gone["weak_only"] and gone["hits"] == []  # the two mangrove grants are gone: nothing else matches well
    hits = json.loads(sift("search", "grants to replant mangroves", "-i", str(idx), "--floor", "0", "--json").stdout)["hits"]
    assert {"t11", "t03"}.isdisjoint(h["id"] for h in hits) and len(hits) == 10
    assert json.loads(sift("stats", "-i", str(idx), "--json").stdout)["articles"] == 10
    # an unknown id is named and the rest still deleted (exit 3); only unknown ids delete nothing (exit 1)
    partly = sift("delete", "t01", "no-such", "-i", str(idx))
    assert partly.exit_code == EXIT_SKIPPED and "not in the index: no-such" in partly.output
    nothing = sift("delete", "no-such", "-i", str(idx))
    assert nothing.exit_code == 1 and "nothing was deleted: no such article" in nothing.output
    assert json.loads(sift("stats", "-i", str(idx), "--json").stdout)["articles"] == 9
    assert sift("delete", "t02", "-i", str(tmp_path / "nowhere")).exit_code == 1


def _index_stderr(tmp_path: Path, name: str, *, terminal: bool) -> str:
    """`sift index` of the tiny corpus in a subprocess whose stderr is a terminal (a pty) or a file."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "search_api.cli", "index", str(FIXTURES / "tiny_corpus.jsonl"),
           "--index", str(tmp_path / name)]
    if not terminal:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stderr
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a new pty is 0 columns wide
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=300) == 0
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


def test_the_progress_bar_draws_on_a_terminal_and_stays_out_of_logs(tmp_path):
    assert "embedding: 100%" in _index_stderr(tmp_path, "tty", terminal=True)
    logged = _index_stderr(tmp_path, "log", terminal=False)
    assert "embedding" not in logged and "\r" not in logged  # a cron job's log gets no bar redraws
