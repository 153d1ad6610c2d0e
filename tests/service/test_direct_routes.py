"""The settling routes are called straight from the front door (app.direct_routes), only
where the router would have picked them, and their refusals are the app's handlers'."""

import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from gongji.errors import ServiceError
from gongji.service.app import direct_routes


async def fast(_request: Request) -> Response:
    raise ServiceError("E_FORBIDDEN", "visit.institution", "not this credential's institution")


async def earlier(_request: Request) -> Response:
    return Response(b"earlier")


def test_only_the_route_the_router_would_pick_is_called_straight(tmp_path):
    app = FastAPI()
    app.add_api_route("/a", fast, methods=["POST"])
    app.add_api_route("/b", earlier, methods=["POST"])  # before the fast route at /b
    app.add_api_route("/b", fast, methods=["POST"])
    app.add_api_route("/c/{x}", fast, methods=["POST"])  # a path with parameters: never
    app.router.routes.append(Mount("/d", StaticFiles(directory=tmp_path)))
    app.add_api_route("/d/e", fast, methods=["POST"])  # under a mount matched first
    assert set(direct_routes(app.router.routes, (fast,))) == {("POST", "/a")}


def test_what_the_endpoint_raises_is_answered_by_the_apps_handler():
    app = FastAPI()
    app.add_api_route("/a", fast, methods=["POST"])

    @app.exception_handler(ServiceError)
    async def refused(_request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"code": exc.code, "field": exc.field}, status_code=403)

    call = direct_routes(app.router.routes, (fast,))[("POST", "/a")]
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/a", "headers": [], "app": app,
             "query_string": b"", "root_path": ""}  # fmt: skip
    asyncio.run(call(scope, receive, send))
    assert sent[0]["status"] == 403
    assert sent[1]["body"] == b'{"code":"E_FORBIDDEN","field":"visit.institution"}'
    assert scope["route"].path == "/a"  # the access log names the route
