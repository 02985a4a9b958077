"""`sift sync` against a WordPress site on loopback: a full pull, an incremental pull after edits, deletions."""

import json

from indexer.pipeline import sync_source
from search_api.engine import Engine


def _post(pid: int, title: str, body: str, modified: str) -> dict:
    return {"id": pid, "link": f"https://news.example.org/?p={pid}", "title": {"rendered": title},
            "content": {"rendered": f"<p>{body}</p>", "protected": False},
            "date_gmt": "2026-01-10T08:00:00", "modified_gmt": modified}


POSTS = {
    1: _post(1, "Boreholes for schools in Malawi", "Twelve schools now have safe water and hand-washing points.",
             "2026-01-10T08:00:00"),
    2: _post(2, "Mangrove grants open in Indonesia", "Community groups can apply for up to USD 75,000.",
             "2026-01-11T08:00:00"),
    3: _post(3, "Migrants stranded in Libya", "Hundreds held in detention centres ask to go home.",
             "2026-01-12T08:00:00"),
}


def _serve(site, posts: dict) -> None:
    def listing(query: dict) -> object:
        after = query.get("modified_after", "").rstrip("Z")
        chosen = sorted((p for p in posts.values() if p["modified_gmt"] >= after), key=lambda p: p["modified_gmt"])
        return site.reply(200, json.dumps(chosen).encode(),
                          {"Content-Type": "application/json", "X-WP-Total": str(len(chosen)), "X-WP-TotalPages": "1"})

    site.route("/wp-json/wp/v2/posts", listing)


def test_full_then_incremental_then_full_sync(site, fast, tmp_path, embedder):
    idx = tmp_path / "idx"
    spec = "wp+" + site.base
    posts = dict(POSTS)
    _serve(site, posts)
    first = sync_source(spec, idx, embedder, politeness=fast, progress=False)
    assert (first.added, first.updated, first.deleted, first.skipped, first.version) == (3, 0, 0, 0, "000001")

    posts[2] = _post(2, "Mangrove grants reopen in Indonesia", "The deadline moves to 30 June; up to USD 90,000.",
                     "2026-02-01T08:00:00")
    posts[4] = _post(4, "Solar pumps for farms in Kenya", "Forty farms swapped diesel for solar irrigation.",
                     "2026-02-02T08:00:00")
    del posts[3]
    before = len(site.hits)
    second = sync_source(spec, idx, embedder, politeness=fast, progress=False)
    assert (second.read, second.added, second.updated, second.deleted) == (2, 1, 1, 0)  # only what changed
    asked = [p for p in site.paths()[before:] if p.startswith("/wp-json/")]
    assert "modified_after=2026-01-11" in asked[0]  # from the watermark, 2026-01-12, minus a day's margin

    third = sync_source(spec, idx, embedder, politeness=fast, progress=False, full=True)
    assert (third.unchanged, third.deleted, third.version) == (3, 1, "000003")
    engine = Engine.open(idx, embedder)
    assert engine.search("solar irrigation Kenya", k=1).hits[0].id == "wp-4"
    assert "USD 90,000" in engine.search("mangrove grant deadline", k=1).hits[0].snippet
    assert "wp-3" not in set(engine.articles["id"])


def test_a_failed_full_pull_deletes_nothing(site, fast, tmp_path, embedder):
    idx = tmp_path / "idx"
    spec = "wp+" + site.base
    _serve(site, dict(POSTS))
    sync_source(spec, idx, embedder, politeness=fast, progress=False)
    site.route("/wp-json/wp/v2/posts", site.reply(500, b"oops"))
    report = sync_source(spec, idx, embedder, politeness=fast, progress=False, full=True)
    assert report.deleted == 0 and report.skipped == 1
    assert "HTTP 500" in str(report.errors[0]) and site.base in str(report.errors[0])
    assert len(Engine.open(idx, embedder).articles) == 3
