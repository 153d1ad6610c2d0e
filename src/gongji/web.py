"""The web application as it is served: the service's API (national transactions, REST)
with the bureau's console mounted beside it. `gongji serve` runs `create_app`; composed here,
above both, so the service imports no front end."""

from fastapi import FastAPI

from gongji.console import pages as console
from gongji.service import app as service
from gongji.service.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return service.create_app(settings, front_ends=(console,))
