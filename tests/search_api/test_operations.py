from fastapi.testclient import TestClient

from search_api.http.app import create_app
from search_api.settings import Settings


def test_metrics_count_requests_per_route_template_and_describe_the_index(tiny_engine, tiny_index):
    with TestClient(create_app(Settings(index_dir=tiny_index), engine=tiny_engine)) as c:
        c.get("/search", params={"q": "water"})
        c.get("/articles/t01")
        c.get("/articles/nope")
        text = c.get("/metrics").text
    assert 'sift_http_requests_total{method="GET",route="/search",status="200"} 1.0' in text
    assert 'sift_http_requests_total{method="GET",route="/articles/{article_id}",status="404"} 1.0' in text
    assert 'sift_http_request_duration_seconds_bucket{le="0.5",method="GET",route="/search"}' in text
    assert "sift_index_articles 12.0" in text and "sift_index_version 1.0" in text
    assert "t01" not in text  # route templates, not raw paths


def test_ready_before_and_after_an_index_exists(tmp_path):
    with TestClient(create_app(Settings(index_dir=tmp_path / "none"))) as c:
        r = c.get("/ready")
        assert r.status_code == 503 and r.json()["status"] == "not ready" and "no index" in r.json()["error"]
        assert c.get("/health").status_code == 200  # alive, though not ready


def test_ready_when_serving(tiny_engine, tiny_index):
    with TestClient(create_app(Settings(index_dir=tiny_index), engine=tiny_engine)) as c:
        assert c.get("/ready").json() == {"status": "ready", "version": "000001", "articles": 12, "error": None}
