"""The console's pages are served by the web app the service's tests start (tests/service/
conftest.py): its fixtures, with console staff added."""

import pytest

from gongji.console import auth as console_auth

from ..service import conftest as web

HOSPITAL = web.HOSPITAL
service = web.service  # the fixture, visible to the console's tests

PASSWORD = "correct horse battery"  # the console staff's


@pytest.fixture
def console(service):
    """The service with console staff: viewer1, operator1, admin1 (password PASSWORD)."""
    for name, role in (("viewer1", "viewer"), ("operator1", "operator"), ("admin1", "admin")):
        console_auth.add_staff(service.db, name, f"{role} 张", role, PASSWORD, "test")
    return service
