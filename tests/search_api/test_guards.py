import pytest
from fastapi.testclient import TestClient

from search_api.app import create_app
from search_api.settings import Settings


@pytest.fixture()
def strict(tiny_engine, tiny_index):
    settings = Settings(index_dir=tiny_index, rate_limit_per_minute=60, rate_limit_burst=3, max_body_bytes=2048,
                        api_key="k", related_min_similarity=-1)
    with TestClient(create_app(settings, engine=tiny_engine)) as c:
        yield c


def test_rate_limit_answers_429_with_retry_after(strict):
    codes = [strict.get("/search", params={"q": "water"}).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    r = strict.get("/articles/t01/related")
    assert r.status_code == 429 and r.headers["retry-after"] == "1" and "too many requests" in r.json()["error"]
    assert strict.get("/health").status_code == 200  # operations routes are not limited


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
