"""Term profiles are built when a version is published, reused for unchanged articles, and equal to building them
from the text on the serving path (so captions do not change)."""

import json
import shutil
from pathlib import Path

from indexer import terms
from indexer.pipeline import index_sources
from indexer.publish import read_manifest
from indexer.terms import StoredProfiles, decode_profile, encode_profile, term_profile
from search_api.engine import Engine
from search_api.related.policy import RelatedRules

TINY = Path(__file__).resolve().parent.parent / "fixtures" / "tiny_corpus.jsonl"
ALL = RelatedRules(min_similarity=-1.0)


def _counting(monkeypatch) -> list[str]:
    """Spy on the profiles a publish computes (texts it could not copy from the previous version)."""
    computed: list[str] = []
    real = terms.encode_profile

    def spy(text: str) -> bytes:
        computed.append(text)
        return real(text)

    monkeypatch.setattr(terms, "encode_profile", spy)
    return computed


def test_a_record_decodes_to_the_profile_of_its_text():
    for text in [
        "Farming in Ghana. The farming families farm cocoa, up to 2025, with UN help.",
        "Côte d'Ivoire: la récolte de cacao. Naïve café owners\tsaid \"so\".",
        "",
        "the of and 2024",  # nothing but stop words and numbers
    ]:
        assert decode_profile(encode_profile(text)) == term_profile(text)


def test_a_stem_is_written_in_lower_case_unless_an_acronym_is_written_more():
    profile = term_profile("WHO teams, who arrived early, met WHO staff. Farming. FARMING. farming. AID and aid.")
    assert profile.surface["who"] == "WHO"  # twice in capitals, once "who"
    assert profile.surface["farm"] == "farming"  # once in capitals, once lower-case, once at a sentence start
    assert profile.surface["aid"] == "aid"  # as often either way: the lower-case word


def test_stored_profiles_equal_profiles_built_from_the_text(sample_engine):
    stored = sample_engine.explainer.profile.__wrapped__
    assert stored.__self__ is not None  # the version's stored profiles, not built from text
    assert len(sample_engine.catalogue.chunk_start) > 1 and (sample_engine.catalogue.chunk_start[1:] - sample_engine.catalogue.chunk_start[:-1]).max() > 1
    for row in range(len(sample_engine.articles)):  # articles of several passages too (their overlaps count)
        assert stored(row) == term_profile(sample_engine.article_text(row))


def test_an_incremental_publish_profiles_only_new_and_edited_articles(tmp_path, embedder, monkeypatch):
    corpus = tmp_path / "corpus.jsonl"
    shutil.copy(TINY, corpus)
    idx = tmp_path / "idx"
    computed = _counting(monkeypatch)
    index_sources([corpus], idx, embedder, progress=False)
    assert len(computed) == 12
    first = Engine.open(idx, embedder)
    old_t01 = first.explainer.profile(first.catalogue.position["t01"])

    rows = [json.loads(line) for line in corpus.read_text().splitlines()]
    rows[4]["body"] = "Teacher training now reaches fifteen districts of Nepal, the foundation says."  # t05
    rows.append({"id": "t13", "title": "Cocoa cooperatives in Ghana", "body": "Cocoa growers in Ghana formed a cooperative."})
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    computed.clear()
    report = index_sources([corpus], idx, embedder, progress=False)
    assert report.version == "000002"
    assert len(computed) == 2 and "fifteen districts" in computed[0] and "cooperative" in computed[1]

    engine = Engine.open(idx, embedder)
    profile = engine.explainer.profile
    edited = profile(engine.catalogue.position["t05"])
    assert edited == term_profile(engine.article_text(engine.catalogue.position["t05"])) and "fifteen" in edited.weights
    assert profile(engine.catalogue.position["t01"]) == old_t01  # copied, unchanged
    assert profile(engine.catalogue.position["t13"]).surface["cooper"] == "cooperatives"  # the title spells it first


def test_damaged_previous_profiles_are_not_copied(tmp_path, embedder, monkeypatch):
    idx = tmp_path / "idx"
    index_sources([TINY], idx, embedder, progress=False)
    with open(idx / "versions" / "000001" / terms.DATA_FILE, "r+b") as fh:
        fh.write(b"\x00garbage\x00")
    computed = _counting(monkeypatch)
    report = index_sources([TINY], idx, embedder, progress=False, duplicate_threshold=0.9)  # publishes again
    assert report.version == "000002" and len(computed) == 12
    engine = Engine.open(idx, embedder)
    assert all(engine.explainer.profile(r) == term_profile(engine.article_text(r)) for r in range(12))


def test_a_version_without_stored_profiles_still_serves_the_same_captions(tmp_path, embedder):
    idx = tmp_path / "idx"
    index_sources([TINY], idx, embedder, progress=False)
    with_profiles = Engine.open(idx, embedder, related_rules=ALL)
    # as published before profiles were stored: no files, none listed
    version = idx / "versions" / "000001"
    manifest = read_manifest(version)
    for name in terms.FILES:
        (version / name).unlink()
        del manifest["files"][name]
    (version / "manifest.json").write_text(json.dumps(manifest, indent=2))
    without = Engine.open(idx, embedder, related_rules=ALL)
    assert without.stored_profiles is None
    for aid in with_profiles.articles["id"]:
        served = [(i.id, i.reason) for i in without.related(aid, k=5).items]
        assert served == [(i.id, i.reason) for i in with_profiles.related(aid, k=5).items]
    assert without.related("t11", k=1).items[0].reason == "Both mention coastal"


def test_an_empty_version_has_empty_profiles(tmp_path):
    report = terms.write_profiles(tmp_path, [])
    assert (report.articles, report.computed) == (0, 0)
    assert len(StoredProfiles(tmp_path)) == 0


def test_a_version_from_before_stored_profiles_is_republished_with_them_without_embedding(tmp_path, embedder):
    idx = tmp_path / "idx"
    index_sources([TINY], idx, embedder, progress=False)
    version = idx / "versions" / "000001"
    manifest = read_manifest(version)
    for name in terms.FILES:
        (version / name).unlink()
        del manifest["files"][name]
    del manifest["build"]["term_profiles"]
    (version / "manifest.json").write_text(json.dumps(manifest, indent=2))
    report = index_sources([TINY], idx, embedder, progress=False)  # nothing changed in the store
    assert (report.embedded, report.published, report.version) == (0, True, "000002")
    assert Engine.open(idx, embedder).stored_profiles is not None
