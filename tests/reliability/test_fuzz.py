"""schemathesis against the app's own OpenAPI spec: no server errors, and every response matches its schema."""

import os

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from search_api.app import create_app
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
