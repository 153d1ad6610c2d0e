"""Schemathesis against the service's own OpenAPI description: whatever it generates for
every operation, with the bureau's and an institution's credentials, the answer is never a
server error (5xx), its status is one the operation documents, and a refusal's body is the
error format. SQLite store."""

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from gongji.ledger import store
from gongji.service.rest import ErrorOut

from ..conftest import examples
from .conftest import start


@pytest.fixture
def api(tmp_path):
    db = store.connect(f"sqlite:///{tmp_path / 's.db'}")
    store.upgrade(db)
    svc, server, thread = start(db)
    yield svc
    server.should_exit = True
    thread.join(timeout=10)
    db.dispose()


def refusal_in_the_error_format(ctx, response, case) -> None:
    if case.path.startswith("/fsi/api"):  # the national envelope, even for a 503
        assert response.json()["infcode"] in (0, -1)
    elif response.status_code >= 400:
        ErrorOut.model_validate_json(response.content)  # raises if it is not


def test_every_answer_is_documented_and_never_a_server_error(api):
    # driven directly (schemathesis's pytest plugin does not run under this pytest)
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    checks = [not_a_server_error, status_code_conformance, refusal_in_the_error_format]

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples(40),
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def documented(case):
            for token in (api.bureau, api.hospital):
                case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)

        documented()


def test_every_route_with_a_credential_documents_the_front_doors_refusals(api):
    description = httpx.get(f"{api.url}/openapi.json").json()
    error = {"$ref": "#/components/schemas/ErrorOut"}
    for path, operations in description["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if path == "/health":
                continue
            if path.startswith("/fsi/api"):  # refusals in the envelope, 200 (503: the store)
                assert set(responses) == {"200", "503"}, path
                continue
            for status in ("401", "413", "429", "503"):
                content = responses[status]["content"]["application/json"]
                assert content["schema"] == error, (method, path, status)
            assert "E_RATE_LIMIT" in responses["429"]["description"]
            if "422" in responses:  # ours, not FastAPI's own validation error format
                assert responses["422"]["content"]["application/json"]["schema"] == error
    assert "HTTPValidationError" not in description["components"]["schemas"]
