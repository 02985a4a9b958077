import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from indexer import publish as publish_mod
from indexer.errors import IndexMismatch
from indexer.pipeline import index_sources
from indexer.publish import PRUNE_GRACE_SECONDS, current_version, prune_versions, read_manifest, sha256_file
from indexer.store import Store
from search_api.engine import Engine

TINY = Path(__file__).resolve().parent.parent / "fixtures" / "tiny_corpus.jsonl"


def _copy_corpus(tmp_path: Path) -> Path:
    target = tmp_path / "src" / "corpus.jsonl"
    target.parent.mkdir()
    shutil.copy(TINY, target)
    return target


def _edit(path: Path, article_id: str, **changes) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        if row["id"] == article_id:
            row.update(changes)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_first_run_publishes_a_complete_version(tmp_path, embedder):
    idx = tmp_path / "idx"
    report = index_sources([TINY], idx, embedder, progress=False)
    assert (report.read, report.added, report.skipped, report.published) == (12, 12, 0, True)
    assert report.embedded + report.cached == 12  # every tiny article is one passage
    assert current_version(idx) == report.version == "000001"
    version_dir = idx / "versions" / "000001"
    manifest = read_manifest(version_dir)
    assert manifest["model_id"] == embedder.model_id and manifest["dim"] == 384
    assert manifest["counts"] == {"articles": 12, "chunks": 12}
    for name, digest in manifest["files"].items():
        assert sha256_file(version_dir / name) == digest
    with Store(idx / "store.sqlite") as store:
        assert store.count_articles() == 12
        assert store.last_ingest()["added"] == 12


def test_unchanged_input_embeds_nothing_and_keeps_the_version(tmp_path, embedder):
    idx = tmp_path / "idx"
    index_sources([TINY], idx, embedder, progress=False)
    again = index_sources([TINY], idx, embedder, progress=False)
    assert (again.unchanged, again.embedded, again.cached, again.published) == (12, 0, 12, False)
    assert again.version == "000001"


def test_an_edit_embeds_only_that_article_and_publishes(tmp_path, embedder):
    corpus = _copy_corpus(tmp_path)
    idx = tmp_path / "idx"
    index_sources([corpus], idx, embedder, progress=False)
    _edit(corpus, "t05", body="Teacher training now reaches fifteen districts of Nepal, the foundation says.")
    report = index_sources([corpus], idx, embedder, progress=False)
    assert (report.updated, report.unchanged, report.embedded, report.version) == (1, 11, 1, "000002")
    engine = Engine.open(idx, embedder)
    assert "fifteen districts" in engine.search("teacher training Nepal", k=1).hits[0].snippet


def test_bad_and_duplicate_records_are_skipped_and_counted(tmp_path, embedder):
    src = tmp_path / "mixed.jsonl"
    src.write_text(TINY.read_text() + '{"id": "t01", "title": "dup", "body": "again"}\nnot json\n')
    report = index_sources([src], tmp_path / "idx", embedder, progress=False)
    assert (report.added, report.skipped) == (12, 2)
    reasons = [str(e) for e in report.errors]
    assert "duplicate id 't01'" in reasons[0]
    assert reasons[1].startswith(f"{src}:line 14: invalid JSON")


def test_a_crash_while_publishing_leaves_the_previous_version_serving(tmp_path, embedder, monkeypatch):
    corpus = _copy_corpus(tmp_path)
    idx = tmp_path / "idx"
    index_sources([corpus], idx, embedder, progress=False)
    _edit(corpus, "t02", title="Lottery winner funds a maternity ward")

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publish_mod.faiss, "write_index", boom)
    with pytest.raises(OSError):
        index_sources([corpus], idx, embedder, progress=False)
    monkeypatch.undo()
    assert current_version(idx) == "000001"
    assert sorted(p.name for p in (idx / "versions").iterdir()) == ["000001"]  # no half-built folder left
    assert Engine.open(idx, embedder).article("t02").title.startswith("Lottery winner donates")
    # the edit is safe in the store; the next run publishes it without embedding it again
    report = index_sources([corpus], idx, embedder, progress=False)
    assert (report.unchanged, report.embedded, report.published) == (12, 0, True)
    assert Engine.open(idx, embedder).article("t02").title == "Lottery winner funds a maternity ward"


def test_a_crash_while_embedding_resumes_where_it_stopped(tmp_path, embedder):
    class Flaky:
        model_id, dim = embedder.model_id, embedder.dim

        def encode(self, texts, progress=None):
            raise RuntimeError("killed")

    idx = tmp_path / "idx"
    with pytest.raises(RuntimeError):
        index_sources([TINY], idx, Flaky(), progress=False)
    assert current_version(idx) is None
    report = index_sources([TINY], idx, embedder, progress=False)
    assert (report.unchanged, report.embedded, report.published) == (12, 12, True)


def test_old_versions_are_pruned(tmp_path, embedder):
    corpus = _copy_corpus(tmp_path)
    idx = tmp_path / "idx"
    for n in range(5):
        _edit(corpus, "t03", body=f"Revision {n} of the call for proposals in Bangladesh.")
        index_sources([corpus], idx, embedder, progress=False, keep_versions=2)
    # all five were replaced moments ago: inside the grace period nothing goes
    assert sorted(p.name for p in (idx / "versions").iterdir()) == [f"00000{n}" for n in range(1, 6)]
    # once 000002 has been live for longer than the grace period, 000001 goes; then all but the newest two
    manifest = idx / "versions" / "000002" / "manifest.json"
    meta = json.loads(manifest.read_text())
    meta["created_at"] = (datetime.now(timezone.utc) - timedelta(seconds=PRUNE_GRACE_SECONDS + 5)).isoformat()
    manifest.write_text(json.dumps(meta))
    assert prune_versions(idx, keep=2) == ["000001"]
    assert prune_versions(idx, keep=2, grace_seconds=0) == ["000002", "000003"]
    assert sorted(p.name for p in (idx / "versions").iterdir()) == ["000004", "000005"]


def test_engine_refuses_another_model_and_corrupt_files(tmp_path, embedder):
    idx = tmp_path / "idx"
    index_sources([TINY], idx, embedder, progress=False)

    class Other:
        model_id, dim = "someone/else@123", 384

        def encode(self, texts, progress=None):
            return np.zeros((len(texts), 384), dtype=np.float32)

    with pytest.raises(IndexMismatch, match="built with sentence-transformers/all-MiniLM-L6-v2.*configured model is someone/else"):
        Engine.open(idx, Other())
    with open(idx / "versions" / "000001" / "dense.faiss", "r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00garbage\x00")
    with pytest.raises(IndexMismatch, match="does not match its checksum"):
        Engine.open(idx, embedder)


def test_new_build_parameters_republish_without_embedding_again(tmp_path, embedder):
    idx = tmp_path / "idx"
    index_sources([TINY], idx, embedder, progress=False)
    report = index_sources([TINY], idx, embedder, progress=False, duplicate_threshold=0.9)
    assert (report.embedded, report.published, report.version) == (0, True, "000002")
    assert read_manifest(idx / "versions" / "000002")["build"]["duplicate_threshold"] == 0.9


def test_new_chunking_rechunks_unchanged_articles(tmp_path, embedder):
    from indexer.pipeline import ChunkingParams

    idx = tmp_path / "idx"
    index_sources([TINY], idx, embedder, progress=False)
    report = index_sources([TINY], idx, embedder, progress=False, chunking=ChunkingParams(max_words=20, overlap_words=5))
    assert report.updated == 12 and report.published
    assert read_manifest(idx / "versions" / "000002")["counts"]["chunks"] > 12


def test_a_new_chunking_recipe_rechunks_unchanged_articles_and_reuses_vectors(tmp_path, embedder, monkeypatch):
    import indexer.pipeline as pipeline

    idx = tmp_path / "idx"
    index_sources([TINY], idx, embedder, progress=False)
    monkeypatch.setattr(pipeline, "CHUNKING_RECIPE", pipeline.CHUNKING_RECIPE + 1)  # chunker code changed
    report = index_sources([TINY], idx, embedder, progress=False)
    assert report.updated == 12 and report.embedded == 0  # same passages: every vector from the cache


def test_short_articles_token_vectors_are_computed_once_and_cached_in_the_store(tmp_path, embedder, monkeypatch):
    from indexer.late import text_key, token_text

    idx = tmp_path / "idx"
    calls = []
    real = embedder.token_vectors
    monkeypatch.setattr(embedder, "token_vectors", lambda texts: calls.append(len(texts)) or real(texts))
    index_sources([TINY], idx, embedder, progress=False)
    assert calls == [12]  # every tiny article is short (27-44 words): one batch
    related = read_manifest(idx / "versions" / "000001")["related"]
    assert related["late_interaction"] == 12 and related["pass"] == "full"
    with Store(idx / "store.sqlite") as store:
        articles = list(store.iter_articles())
        keys = [text_key(token_text(a.title, a.body)) for a in articles]
        cached = store.get_token_vectors(f"{embedder.model_id}#tokens", keys, embedder.dim)
    assert len(cached) == 12 and all(0 < len(v) <= 48 for v in cached.values())
    # a new version (other build parameters) reads them from the store
    index_sources([TINY], idx, embedder, progress=False, duplicate_threshold=0.9)
    assert calls == [12] and read_manifest(idx / "versions" / "000002")["related"]["late_interaction"] == 12


def test_a_live_publish_computes_at_most_its_budget_of_candidates_token_vectors(tmp_path, embedder, monkeypatch):
    from indexer.article import Article
    from indexer.pipeline import apply_changes, refresh

    idx = tmp_path / "idx"
    long = [Article(id=f"l{i}", title=f"Harvest report {i}", body=" ".join(["maize harvest in the district"] * 30))
            for i in range(5)]
    apply_changes(idx, embedder, upserts=long)  # five long articles: none is short, no token vectors at all
    calls = []
    real = embedder.token_vectors
    monkeypatch.setattr(embedder, "token_vectors", lambda texts: calls.append(len(texts)) or real(texts))
    brief = Article(id="brief", title="Maize prices", body="Maize prices fell after the harvest.")
    apply_changes(idx, embedder, upserts=[brief], publish_now=False)
    refresh(idx, embedder, token_budget=2)  # as a server's background publish does
    assert calls == [1, 2]  # the brief's own, then two of its five long candidates; the rest keep their cosine
    related = read_manifest(idx / "versions" / current_version(idx))["related"]
    assert related["late_interaction"] == 1
    index_sources([], idx, embedder, progress=False, duplicate_threshold=0.9)  # `sift index`: no budget
    assert calls == [1, 2, 3]


def test_only_short_articles_and_their_nearest_candidates_get_token_vectors(tmp_path, embedder, monkeypatch):
    """Late interaction for short articles reads the short ones' token vectors and those of each one's
    LATE_CANDIDATES nearest articles; no other article's are computed or kept (a full pass prunes the rest)."""
    from indexer.article import Article
    from indexer.late import LATE_CANDIDATES, text_key, token_text
    from indexer.pipeline import apply_changes

    idx = tmp_path / "idx"
    topics = ["maize harvest", "school meals", "cholera vaccines", "flood shelters", "girls' education",
              "solar pumps", "locust swarms", "mobile money"]
    long = [Article(id=f"l{i:02d}", title=f"Report {i}: {topics[i % 8]}",
                    body=" ".join([f"The district report on {topics[i % 8]} in season {i} follows."] * 25))
            for i in range(12)]
    # 60 words, but well over 48 kept tokens: it may be short by its words, the tokenizer says it is not
    medium = Article(id="medium", title="Field notes", body=" ".join(f"village{i} water point" for i in range(20)))
    brief = Article(id="brief", title="Maize prices", body="Maize prices fell after the harvest.")
    calls = []
    real = embedder.token_vectors
    monkeypatch.setattr(embedder, "token_vectors", lambda texts: calls.append(list(texts)) or real(texts))
    index_sources([], idx, embedder, progress=False)  # creates the folder
    apply_changes(idx, embedder, upserts=[*long, medium, brief])
    computed = [t for batch in calls for t in batch]
    # the brief's own (the one short article), then its LATE_CANDIDATES nearest: whichever they are, long or medium
    engine = Engine.open(idx, embedder)
    row = {a: r for r, a in enumerate(engine.articles["id"])}
    vectors = engine.article_index.reconstruct_n(0, engine.article_index.ntotal)
    _, nearest = engine.article_index.search(vectors[[row["brief"]]], LATE_CANDIDATES + 1)
    by_row = {row[a.id]: a for a in [*long, medium, brief]}
    assert computed[0] == token_text(brief.title, brief.body)
    assert sorted(computed[1:]) == sorted(token_text(by_row[r].title, by_row[r].body)
                                          for r in nearest[0] if r != row["brief"])

    def cached() -> set[str]:
        with Store(idx / "store.sqlite") as store:
            rows = store._conn.execute("SELECT hash FROM embeddings WHERE model_id=?", (f"{embedder.model_id}#tokens",))
            return {r["hash"] for r in rows}

    assert cached() == {text_key(t) for t in computed}
    # the brief gone, `sift index` keeps none of them
    apply_changes(idx, embedder, deletes=["brief"])
    index_sources([], idx, embedder, progress=False, duplicate_threshold=0.9)
    assert cached() == set()
