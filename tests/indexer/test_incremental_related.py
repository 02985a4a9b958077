"""Publishing a few changes recomputes only the related lists they reach, and the result agrees with a full pass.

A synthetic site of 2,400 articles in 24 topics (each topic its own words and its own region of a 32-dimensional
vector space), stored and published by the real store and publisher; passage vectors are put in the store as an
embedding model would.
"""

import numpy as np
import pandas as pd
import pytest

from indexer import relatedness
from indexer.article import Article
from indexer.chunking import chunk_article
from indexer.publish import STORE_FILE, current_version_dir, publish, read_manifest
from indexer.store import Store
from indexer.vectors import VectorConfig

DIM = 32
MODEL = "synthetic-test-model"
TOPICS = 24
PER_TOPIC = 100
WORDS = [f"w{t}x{j}" for t in range(TOPICS) for j in range(12)]


class Site:
    def __init__(self, root):
        self.root = root
        self.rng = np.random.default_rng(7)
        self.centres = self.rng.normal(size=(TOPICS, DIM))
        self.store = Store(root / STORE_FILE)

    def put(self, ids_topics: list[tuple[str, int]]) -> None:
        items, vectors, hashes = [], [], []
        for article_id, topic in ids_topics:
            words = self.rng.choice(WORDS[topic * 12 : topic * 12 + 12], 40)
            article = Article(id=article_id, title=" ".join(words[:5]), body=" ".join(words[5:]) + ".")
            chunks = chunk_article(article)
            items.append((article, chunks, "test"))
            for chunk in chunks:
                vector = self.centres[topic] + 0.6 * self.rng.normal(size=DIM)
                vectors.append(vector / np.linalg.norm(vector))
                hashes.append(chunk.hash)
        self.store.upsert_many(items)
        self.store.put_embeddings(MODEL, hashes, np.asarray(vectors, dtype=np.float32))

    def publish(self, index_dir=None, **kwargs):
        return publish(index_dir or self.root, self.store, model_id=MODEL, dim=DIM, build={"max_words": 120}, **kwargs)


def _lists(version_dir, k=5):
    ids = pd.read_parquet(version_dir / "articles.parquet", columns=["id"])["id"].tolist()
    neighbours = np.load(version_dir / "neighbours.npy")[:, :k]
    return {ids[i]: [ids[j] for j in row if j >= 0] for i, row in enumerate(neighbours)}


@pytest.fixture()
def site(tmp_path):
    site = Site(tmp_path)
    site.put([(f"a{t:02d}-{i:03d}", t) for t in range(TOPICS) for i in range(PER_TOPIC)])
    first = site.publish()
    assert first.related_pass == "full" and first.related_recomputed == TOPICS * PER_TOPIC
    yield site
    site.store.close()


def test_a_small_change_recomputes_only_the_lists_it_reaches_and_agrees_with_a_full_pass(site, tmp_path):
    before = _lists(current_version_dir(site.root))
    site.put([(f"new-{i}", i % 3) for i in range(6)])  # six new articles in topics 0-2
    site.put([("a05-000", 9)])  # an edit moves an article from topic 5 to topic 9
    site.store.delete_many(["a07-001", "a07-002"])
    version = site.publish()
    assert version.related_pass == "incremental"
    assert 7 <= version.related_recomputed < 0.2 * version.articles  # a few hundred lists, not 2,405
    manifest = read_manifest(version.path)
    assert manifest["related"] == {
        "pass": "incremental", "recomputed": version.related_recomputed, "changes": 9, "changes_since_full_pass": 9,
        "late_interaction": 0,  # no token vectors here (publish without a token encoder): no short article
    }
    assert all(name in manifest["files"] for part, name in relatedness.STATE_FILES.items() if part != "late_stats")
    got = _lists(version.path)
    # the same lists as computing every list from scratch, near enough
    full_version = site.publish(tmp_path / "fresh")  # no previous version there
    assert full_version.related_pass == "full"
    full = _lists(full_version.path)
    assert got.keys() == full.keys()
    assert np.mean([len(set(got[a]) & set(full[a])) / 5 for a in got]) >= 0.95
    # new articles appear in the older lists a full pass puts them in; deleted ones in none; never self
    entered_full = {(a, b) for a, items in full.items() for b in items if b.startswith("new-")}
    entered_got = {(a, b) for a, items in got.items() for b in items if b.startswith("new-")}
    assert len(entered_full) > 6 and len(entered_got & entered_full) >= 0.9 * len(entered_full)
    assert not any(b in ("a07-001", "a07-002") or b == a for a, items in got.items() for b in items)
    # the edited article's list follows it to its new topic
    assert sum(b.startswith("a09-") for b in got["a05-000"]) >= 4
    # a list far from every change is the previous version's
    assert got["a20-050"] == before["a20-050"]


def test_changes_add_up_to_a_full_pass(site, monkeypatch):
    monkeypatch.setattr(relatedness, "INCREMENTAL_LIMIT", 5 / (TOPICS * PER_TOPIC))  # a full pass past 5 changes
    site.put([("b-0", 1), ("b-1", 2)])
    assert site.publish().related_pass == "incremental"
    site.put([("c-0", 3), ("c-1", 4)])
    version = site.publish()
    since = read_manifest(version.path)["related"]["changes_since_full_pass"]
    assert (version.related_pass, since) == ("incremental", 4)
    site.put([("d-0", 5), ("d-1", 6)])
    version = site.publish()
    assert version.related_pass == "full"
    assert read_manifest(version.path)["related"]["changes_since_full_pass"] == 0


def test_a_damaged_state_file_means_a_full_pass(site):
    version_dir = current_version_dir(site.root)
    path = version_dir / relatedness.STATE_FILES["context_ids"]
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-8] + b"\0" * 8)
    site.put([("new-0", 3)])
    assert site.publish().related_pass == "full"


def test_a_republish_without_changes_recomputes_no_list(site):
    before = _lists(current_version_dir(site.root))
    version = site.publish()
    assert (version.related_pass, version.related_recomputed) == ("incremental", 0)
    assert _lists(version.path) == before


def test_an_ivf_passage_index_is_built_on_the_previous_versions_training(site):
    ivf = VectorConfig(index="ivf-sq8")
    first = read_manifest(site.publish(vectors=ivf).path)["vectors"]
    assert first["kind"] == "ivf-sq8" and first["trained_at"] > 0
    site.put([("new-0", 3), ("new-1", 4)])
    second = site.publish(vectors=ivf)
    again = read_manifest(second.path)["vectors"]
    assert (again["trained_at"], again["nlist"]) == (first["trained_at"], first["nlist"])  # not trained again
    assert again["calibrated_recall_at_10"] >= 0.95 and second.chunks == TOPICS * PER_TOPIC + 2
    # a live index that no longer matches its checksum lends nothing: the next build trains afresh
    damaged = second.path / "dense.faiss"
    damaged.write_bytes(damaged.read_bytes()[:-16] + b"\0" * 16)
    site.put([("new-2", 5)])
    third = read_manifest(site.publish(vectors=ivf).path)["vectors"]
    assert third["trained_at"] != first["trained_at"]


def test_place_tags_are_copied_for_unchanged_articles_and_computed_for_the_rest(site, monkeypatch, tmp_path):
    import indexer.publish as publishing

    tagged = []
    real = publishing.tag_places

    def counting(title, body, declared=(), **options):
        tagged.append(title)
        return real(title, body, declared, **options)

    monkeypatch.setattr(publishing, "tag_places", counting)
    kenya = Article(id="kenya", title="Floods in Kenya", body="Rain in Nairobi and Ghana.")
    chunks = chunk_article(kenya)
    site.store.upsert_many([(kenya, chunks, "test")])
    site.store.put_embeddings(MODEL, [c.hash for c in chunks], np.full((len(chunks), DIM), DIM**-0.5, np.float32))
    site.publish()
    assert tagged == ["Floods in Kenya"]  # the 2,400 others came from the previous version
    tags = pd.read_parquet(current_version_dir(site.root) / "articles.parquet").set_index("id")
    assert list(tags.loc["kenya", "country_codes"]) == ["KEN", "GHA"]
    fresh = pd.read_parquet(site.publish(tmp_path / "fresh").path / "articles.parquet").set_index("id")
    assert len(tagged) == 1 + TOPICS * PER_TOPIC + 1  # a folder without a previous version tags everything
    for column in ("countries", "country_codes", "regions"):
        assert tags[column].map(list).equals(fresh.loc[tags.index, column].map(list))
    # another tagger (a new recipe or country table) tags everything again
    monkeypatch.setattr(publishing, "tagger_params", lambda: {"recipe": -1})
    tagged.clear()
    site.publish()
    assert len(tagged) == TOPICS * PER_TOPIC + 1


def test_deadlines_are_read_for_new_and_edited_articles_and_copied_for_the_rest(site, monkeypatch):
    import datetime as dt

    import indexer.publish as publishing

    read = []
    real = publishing.find_deadlines

    def counting(title, body, published=None):
        read.append(title)
        return real(title, body, published)

    monkeypatch.setattr(publishing, "find_deadlines", counting)
    call = Article(id="call", title="Grants for Rural Schools", body="Applications must be submitted by 15 May 2026.",
                   published_at="2026-03-01")
    declared = Article(id="declared", title="Fellowship", body="Apply through the portal.", deadline="2026-07-01")
    items = [(a, chunk_article(a), "test") for a in (call, declared)]
    site.store.upsert_many(items)
    hashes = [c.hash for _, chunks, _ in items for c in chunks]
    site.store.put_embeddings(MODEL, hashes, np.full((len(hashes), DIM), DIM**-0.5, np.float32))
    site.publish()
    assert read == ["Grants for Rural Schools"]  # the source's own field is not read from the text; the rest copied
    table = pd.read_parquet(current_version_dir(site.root) / "articles.parquet").set_index("id")["deadlines"]
    assert list(table["call"]) == ["2026-05-15"] and list(table["declared"]) == ["2026-07-01"]
    assert list(table["a00-000"]) == []
    # the publication date says which year "by 15 May" means: a change of date reads the text again
    edited = call.model_copy(update={"body": "Applications must be submitted by 15 May.",
                                     "published_at": dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)})
    site.store.upsert_many([(edited, chunk_article(edited), "test")])
    site.store.put_embeddings(MODEL, [c.hash for c in chunk_article(edited)], np.full((1, DIM), DIM**-0.5, np.float32))
    read.clear()
    site.publish()
    assert read == ["Grants for Rural Schools"]
    table = pd.read_parquet(current_version_dir(site.root) / "articles.parquet").set_index("id")["deadlines"]
    assert list(table["call"]) == ["2027-05-15"]
