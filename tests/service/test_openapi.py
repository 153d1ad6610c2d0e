"""Schemathesis against the service's own OpenAPI description: whatever it generates for
every operation, with the bureau's and an institution's credentials, the answer is never a
server error (5xx). SQLite store."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from gongji.ledger import store

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


def test_no_server_errors(api):
    # driven directly (schemathesis's pytest plugin does not run under this pytest)
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples(40),
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_5xx(case):
            for token in (api.bureau, api.hospital):
                case.call_and_validate(
                    headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
                )

        no_5xx()
