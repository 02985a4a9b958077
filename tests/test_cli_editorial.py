"""`sift pin / unpin / exclude / unexclude`: editorial control from the command line, straight in the store."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from search_api.cli import app

FIXTURES = Path(__file__).resolve().parent / "fixtures"
runner = CliRunner()


def sift(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def idx(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    shutil.copy(FIXTURES / "tiny_corpus.jsonl", src / "tiny.jsonl")
    path = tmp_path_factory.mktemp("cli-editorial") / "idx"
    assert sift("index", str(src), "--index", str(path), "--quiet").exit_code == 0
    return path


def related(idx: Path, aid: str) -> list[dict]:
    return json.loads(sift("related", aid, "-i", str(idx), "-k", "3", "--json").stdout)["items"]


def test_pin_exclude_and_undo(idx, monkeypatch):
    monkeypatch.setenv("SIFT_RELATED_MIN_SIMILARITY", "-1")  # the tiny corpus's lists stay full
    before = [i["id"] for i in related(idx, "t11")]
    out = sift("pin", "t11", "t02", "--position", "2", "-i", str(idx))
    assert out.exit_code == 0 and out.output == "t11: pinned t02 (position 2); excluded none\n"
    out = sift("exclude", "t11", before[0], "-i", str(idx))
    assert out.output == f"t11: pinned t02 (position 2); excluded {before[0]}\n"
    items = related(idx, "t11")
    assert [i["id"] for i in items] == [before[1], "t02", before[2]] and items[1]["pinned"]
    human = sift("related", "t11", "-i", str(idx), "-k", "3").output
    assert "   Chosen by the editors\n" in human
    assert sift("unpin", "t11", "t02", "-i", str(idx)).output == f"t11: pinned none; excluded {before[0]}\n"
    assert sift("unexclude", "t11", before[0], "-i", str(idx)).output == "t11: pinned none; excluded none\n"
    assert [i["id"] for i in related(idx, "t11")] == before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["pin", "t11", "nope"], 1, "error: article 'nope' is not in the index at"),
        (["exclude", "nope", "t02"], 1, "error: article 'nope' is not in the index at"),
        (["pin", "t11", "t11"], 1, "error: an article cannot be pinned to or excluded from its own related posts"),
        (["unpin", "t11", "t02"], 1, "error: 't02' is not pinned to 't11''s related posts"),
        (["unexclude", "t11", "t02"], 1, "error: 't02' is not excluded from 't11''s related posts"),
        (["pin", "t11", "t02", "--position", "0"], 2, "Invalid value for '--position'"),
    ],
)
def test_bad_editorial_commands(idx, args, code, message):
    result = runner.invoke(app, [*args, "-i", str(idx)])
    assert result.exit_code == code and message in result.output


def test_editorial_commands_need_an_index(tmp_path):
    result = runner.invoke(app, ["pin", "a", "b", "-i", str(tmp_path / "none")])
    assert result.exit_code == 1 and "error: no index at" in result.output
    assert not (tmp_path / "none").exists()
