import pytest
from fastapi.testclient import TestClient

from search_api.http.app import create_app
from search_api.http.guards import RateLimit
from search_api.settings import Settings


@pytest.fixture()
def strict(tiny_engine, tiny_index):
    # One token a minute: no request sequence in these tests is slow enough to earn a refill, however busy the
    # machine (at 60/min a 1 s stall between requests refilled the bucket on a loaded CI runner).
    settings = Settings(index_dir=tiny_index, rate_limit_per_minute=1, rate_limit_burst=3, max_body_bytes=2048,
                        api_key="k", related_min_similarity=-1)
    with TestClient(create_app(settings, engine=tiny_engine)) as c:
        yield c


def test_rate_limit_answers_429_with_retry_after(strict):
    codes = [strict.get("/search", params={"q": "water"}).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    r = strict.get("/articles/t01/related")
    retry = int(r.headers["retry-after"])
    assert r.status_code == 429 and 1 <= retry <= 60 and f"retry in {retry} s" in r.json()["error"]
    assert strict.get("/suggest", params={"q": "wat"}).status_code == 429  # one bucket for the search box's calls
    assert strict.get("/health").status_code == 200  # operations routes are not limited


def test_token_bucket_refills_continuously_and_says_when():
    now = [100.0]
    bucket = RateLimit(app=None, per_minute=60, burst=3, clock=lambda: now[0])
    assert [bucket._take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket._take("a") == pytest.approx(1.0)  # empty: one token a second at 60/min
    assert bucket._take("b") == 0.0  # buckets are per client
    now[0] += 0.25
    assert bucket._take("a") == pytest.approx(0.75)
    now[0] += 0.75
    assert bucket._take("a") == 0.0 and bucket._take("a") == pytest.approx(1.0)
    now[0] += 3600
    assert [bucket._take("a") for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(1.0)]  # up to the burst, no more


def test_oversized_body_is_413_before_parsing(strict):
    big = {"articles": [{"id": "x", "title": "t", "body": "b" * 5000}]}
    r = strict.post("/articles", json=big, headers={"Authorization": "Bearer k"})
    assert r.status_code == 413 and "larger than 2048 bytes" in r.json()["error"]


def test_streamed_oversized_body_is_413(strict):
    def chunks():
        for _ in range(10):
            yield b"x" * 1000

    r = strict.post("/related", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_limits_off(tiny_engine, tiny_index):
    with TestClient(create_app(Settings(index_dir=tiny_index, rate_limit_per_minute=0), engine=tiny_engine)) as c:
        assert {c.get("/search", params={"q": "water"}).status_code for _ in range(80)} == {200}
