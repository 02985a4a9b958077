"""schemathesis against the app's own OpenAPI spec: no server errors, and every response matches its schema."""

import os
import re

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from search_api.http.app import create_app
from search_api.settings import Settings

EXAMPLES = int(os.environ.get("SIFT_FUZZ_EXAMPLES", "12"))  # `make fuzz` raises it


@pytest.mark.slow
def test_api_never_errors_and_keeps_its_schema(tiny_engine, tiny_index):
    app = create_app(Settings(index_dir=tiny_index, api_key="fuzz-key", related_min_similarity=-1), engine=tiny_engine)
    with TestClient(app):  # runs the lifespan, so app.state is ready
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 15
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def check(case):
                case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

            check()


# Words the query reader acts on, mixed with topic words, places, operators and noise: whatever the mix, a search
# answers or says what is wrong with the query (InvalidQuery, a 422), and the words read off its ends go back in
# place when a typo is corrected.
_QUERY_WORDS = [
    "latest", "newest", "most recent", "recent news on", "news", "today", "yesterday", "this week", "this month",
    "in the past 30 days", "last 2 weeks", "than", "child", "traficking", "cholera", "in Kenya", "Sahel", "-Ghana",
    '"child labour"', '"', "-", ":", ",", "🙂", "what's", "the", "of", "2026", "€2", "Okazaki fragments",
    "dernières nouvelles sur", "cette semaine", "l'année dernière", "que", "hoy", "últimas noticias",
    "en los últimos 30 días", "convocatorias abiertas", "editais abertos", "que cierran pronto",
]


def test_query_words_in_any_mix_are_answered_or_refused_clearly(sample_engine):
    from datetime import date

    from hypothesis import strategies as st

    from indexer.errors import InvalidQuery

    @given(words=st.lists(st.sampled_from(_QUERY_WORDS), min_size=1, max_size=7))
    @settings(max_examples=EXAMPLES * 5, deadline=None, database=None)
    def check(words):
        query = " ".join(words)
        try:
            results = sample_engine.search(query, k=5, today=date(2026, 10, 27), facets=True)
        except InvalidQuery as exc:
            assert str(exc)
            return
        assert len(results.hits) <= 5 and results.query == " ".join(query.split())
        if results.corrected_query:  # word for word (a separator after "latest:" may go)
            assert len(re.findall(r"\w+", results.corrected_query)) == len(re.findall(r"\w+", results.query))
        if results.time_window is not None:
            start = results.time_window.date_from
            assert all(h.published_at is not None and h.published_at.date() >= start for h in results.hits)

    check()
