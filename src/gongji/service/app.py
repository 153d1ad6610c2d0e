"""The FastAPI app: national transactions at POST /fsi/api (and the platform's other paths:
national.PATHS), REST under /v1, /health, and the OpenAPI docs at /docs. `create_app()`
reads its settings from the environment.

Front ends above the service (the console) are handed in by whoever composes the
application (`gongji.web`): the service imports none of them."""

import asyncio
import gc
import inspect
import logging
import sys
import time
from collections.abc import Sequence
from contextlib import asynccontextmanager
from typing import Protocol

import orjson
import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, Mount

from gongji.documents import read_json
from gongji.errors import InputError, ServiceError, body, from_input, status
from gongji.ledger import store
from gongji.service import charset, docs, files, member_info, national, refmsgid, rest, signed
from gongji.service.auth import Gate
from gongji.service.limits import RateLimit
from gongji.service.settings import Settings, from_env
from gongji.service.writer import Writer, _described

log = logging.getLogger("gongji.service")

access = logging.getLogger("gongji.access")


class FrontEnd(Protocol):
    """Pages served beside the API under their own prefix (the console module is one)."""

    PREFIX: str  # its pages check their own sessions: no service credential is asked

    def install(self, app: FastAPI) -> None: ...

    def warm(self, db: Engine) -> None: ...  # run in the background as the worker starts


def create_app(settings: Settings | None = None, front_ends: Sequence[FrontEnd] = ()) -> FastAPI:
    settings = settings or from_env()
    db = store.connect(settings.database_url, settings.store_deadline)
    if not store.is_initialised(db):
        raise SystemExit(f"database: not initialised: run gongji db init ({db.url})")
    app = FastAPI(
        title="gongji 共济",
        summary="Employee outpatient mutual-aid settlement: national transactions and REST.",
        version="0.1",
        lifespan=_lifespan,
        docs_url=None,  # served by docs.install: offline, with the national input typed
        redoc_url=None,  # ReDoc loads its script from a CDN: blank on a bureau's closed network
    )
    app.state.db = db
    app.state.writer = Writer(db, settings.batch, settings.store_deadline)
    app.state.deadline = settings.store_deadline
    rate = RateLimit(db, settings.rate, settings.rate_window)
    app.state.gate = Gate(db, settings.credential_ttl, rate, settings.signature_window)
    app.state.require_sign_in = settings.require_sign_in
    app.state.front_ends = tuple(front_ends)
    app.state.resolver = member_info.load_resolver(settings.voucher_resolver)
    refmsgid.start(db)  # this worker's number in the answers' inf_refmsgid
    _errors(app)
    for path in national.PATHS:
        app.add_api_route(
            path,
            transaction,
            methods=["POST"],
            summary="A national-platform transaction ("
            + ", ".join(sorted(national.HANDLERS))
            + ")",
            description="Authenticated by `Authorization: Bearer <token>` or by the "
            "x-tif-paasid, x-tif-timestamp, x-tif-nonce and x-tif-signature headers.",
            openapi_extra=rest.openapi_body(national.Envelope),
            # every refusal is answered in the envelope, infcode -1 (national.refusal)
            responses=NATIONAL_ANSWERS,
        )
    # any other path under /fsi/api: the per-service paths and infno suffixes clients are
    # configured with (national-interface §1.2, §1.3); the body's infno decides
    app.add_api_route(
        national.PREFIX + "/{service:path}", transaction, methods=["POST"], include_in_schema=False
    )
    rest.install(app)
    docs.install(app)
    for front_end in front_ends:
        front_end.install(app)  # after the API: its routes are matched first
    app.add_api_route("/health", health, methods=["GET"], summary="The service and its store")
    app.add_middleware(
        Guard,
        max_body=settings.max_body,
        log=settings.access_log,
        gate=app.state.gate,
        deadline=settings.store_deadline,
        own_sessions=tuple(f.PREFIX for f in front_ends),
        direct=direct_routes(app.router.routes, (transaction, rest.settle)),
    )
    if settings.access_log and not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """The writer connects as the worker starts, not on its first settlement (which would
    otherwise wait for the connection)."""
    await app.state.writer.start()
    # What the worker made to start (modules, routes, schemas: most of the objects it will
    # ever hold) lives as long as it does: frozen out of the cyclic collector's sight, whose
    # collections walked all of it again and again under load (12% of a busy worker's time,
    # py-spy --native over benchmarks/service.py).
    gc.freeze()
    # e.g. the console's fund page sums the journal once: in the background, not awaited
    loop = asyncio.get_running_loop()
    warming = [loop.run_in_executor(None, f.warm, app.state.db) for f in app.state.front_ends]
    yield
    for w in warming:
        w.cancel()


NATIONAL_ANSWERS = {
    200: {"description": "The answer envelope: infcode 0 with output, or infcode -1 with "
          "err_code and err_msg for any refusal (credential, signature, sign-in, tenancy, "
          "size, rate, the transaction's own)"},
    503: {"description": "E_UNAVAILABLE (the store), in the envelope: the outcome may be "
          "unknown; retry the same msgid, or reverse (2601)"},
}  # fmt: skip


async def transaction(request: Request) -> Response:
    app = request.app
    try:
        raw = await request.body()
        # GBK where a client sends it (charset.py); amounts exact, decimals; nothing a store
        # cannot hold (documents.read_json)
        document = read_json(charset.text(raw, request.headers.get("content-type")))
        if not isinstance(document, dict):
            raise InputError("(body)", "a JSON object (the envelope)")
        answer = await national.answer(
            app.state.db,
            app.state.writer,
            request.state.caller,
            document,
            resolver=app.state.resolver,
            sign_in=app.state.require_sign_in,
        )
    except InputError as exc:
        answer = national._failed(None, exc)
    except ServiceError as err:  # the body over the limit, the writer's store unavailable
        return _national_refusal(err)
    except OUTAGES as exc:  # the store failed during a read
        log.error("E_UNAVAILABLE: %s", _described(exc))
        return _national_refusal(ServiceError("E_UNAVAILABLE", "", "the store failed; retry"))
    output = answer.get("output")
    if isinstance(output, files.Download):  # 9102: the file itself, as the platform sends it
        return Response(output.content, media_type=output.media_type)
    return Response(orjson.dumps(answer, default=str), media_type="application/json")


def _national_refusal(err: ServiceError) -> Response:
    answer, code = national.refusal(err)
    return Response(orjson.dumps(answer), status_code=code, media_type="application/json")


async def health(request: Request) -> JSONResponse:
    """200 if the store answers within the deadline, else 503 E_UNAVAILABLE."""
    db, deadline = request.app.state.db, request.app.state.deadline
    try:
        # in a thread, waited for up to the deadline: a silent store holds the thread, not
        # the loop nor the prober
        await asyncio.wait_for(asyncio.to_thread(_ping, db), deadline)
    except (TimeoutError, *OUTAGES) as exc:
        log.warning("E_UNAVAILABLE: /health: %s", _described(exc))
        err = ServiceError("E_UNAVAILABLE", "", f"the store did not answer within {deadline} s")
        return JSONResponse(body(err), status_code=503)
    return JSONResponse({"status": "ok", "store": db.dialect.name})


def _ping(db: Engine) -> None:
    with db.connect() as conn:
        conn.execute(text("SELECT 1"))


# what a store that is down, silent or overloaded raises outside the writer: no connection,
# a connection lost, a statement or lock wait over the deadline (psycopg's QueryCanceled and
# LockNotAvailable are OperationalErrors), no pooled connection free in time, a transaction
# the server ended (a read's thread starved past idle_in_transaction_session_timeout: the
# next statement raises an InternalError, SQLSTATE class 25)
OUTAGES = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.InternalError,
    sqlalchemy.exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg.InternalError,
)


async def _outage_handler(_request: Request, exc: Exception) -> JSONResponse:
    return _outage_answer(exc)


def _outage_answer(exc: BaseException) -> JSONResponse:
    """503 E_UNAVAILABLE for a store outage, logged by class and SQLSTATE: never the
    exception's text, which quotes the statement."""
    log.error("E_UNAVAILABLE: %s", _described(exc))
    err = ServiceError("E_UNAVAILABLE", "", "the store failed; retry")
    return JSONResponse(body(err), status_code=503)


def _errors(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(body(exc), status_code=status(exc.code))

    @app.exception_handler(InputError)
    async def input_error(_request: Request, exc: InputError) -> JSONResponse:
        err = from_input(exc)
        return JSONResponse(body(err), status_code=status(err.code))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        field = ".".join(str(p) for p in first["loc"] if p != "body") or "(body)"
        err = ServiceError("E_INPUT", field, first["msg"])
        return JSONResponse(body(err), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "E_UNAUTHORIZED", 403: "E_FORBIDDEN", 404: "E_NOT_FOUND"}.get(
            exc.status_code, "E_INPUT"
        )
        err = ServiceError(code, "", str(exc.detail))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed(request, headers.get("Allow", ""))
        return JSONResponse(body(err), status_code=exc.status_code, headers=headers)

    for outage in OUTAGES:
        app.add_exception_handler(outage, _outage_handler)

    @app.exception_handler(OSError)
    async def unavailable(_request: Request, exc: OSError) -> JSONResponse:
        return JSONResponse(body(ServiceError("E_UNAVAILABLE", "", str(exc))), status_code=503)


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed(request: Request, given: str) -> str:
    """Every method some route answers at this path. The router's 405 names only the route
    it stopped at, and the console has a GET route and a POST route at one path; a mount
    (static files) answers any method and names its own."""
    methods = {m.strip() for m in given.split(",") if m.strip()}
    for route in request.app.router.routes:
        if not isinstance(route, Mount):
            methods |= {m for m in METHODS if _answers(route, request.scope, m)}
    return ", ".join(sorted(methods))


def _answers(route, scope: dict, method: str) -> bool:
    return route.matches({**scope, "method": method})[0] is Match.FULL


# what answers without a credential
PUBLIC = frozenset({"/health", "/docs/oauth2-redirect", "/openapi.json", *docs.PUBLIC})


class Guard:
    """ASGI middleware, the front door: refuses bodies over the limit (413), finds the caller
    (401 unknown, 429 over the rate) for every route but the public ones, and writes one
    access-log line a request — method, route (ids masked), the status the client was sent
    (its own refusals and uncaught failures included), milliseconds; never a member's id,
    an identity number or a name. (As middleware rather than a FastAPI dependency: on the
    settling path a dependency cost as much as the settlement.)

    A request the store has not answered within `deadline` seconds of the service's own
    time (waiting for the client's body does not count) is answered 503 E_UNAVAILABLE;
    the front ends' pages (reports) are not bounded."""

    def __init__(
        self,
        app,
        max_body: int,
        log: bool,
        gate: Gate,
        deadline: float | None = None,
        own_sessions: tuple[str, ...] = (),
        direct: dict | None = None,
    ):
        self.app, self.max_body, self.log, self.gate = app, max_body, log, gate
        self.direct = direct or {}  # (method, path) -> the route's endpoint, called straight
        self.deadline = deadline
        # path prefixes whose pages check their own sessions: the prefix itself, or under it
        self.own_sessions = own_sessions
        self._under = tuple(p + "/" for p in own_sessions)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        code: list[int | None] = [None]  # None: nothing was answered (the client went away)

        async def sent(message):
            if message["type"] == "http.response.start":
                code[0] = message["status"]
            await send(message)

        try:
            if self.deadline is None or self._own_session(scope["path"]):
                await self._guarded(scope, receive, sent)
            else:
                await self._bounded(scope, receive, sent, code)
        except Exception:
            # Starlette's last handler answers what nothing caught: a 500
            code[0] = code[0] or 500
            raise
        finally:
            if self.log:
                self._log(scope, code[0], started)

    def _own_session(self, path: str) -> bool:
        return path.startswith(self._under) or path in self.own_sessions

    async def _bounded(self, scope, receive, send, code: list) -> None:
        """The body read first, then `_guarded` within the deadline, or 503 E_UNAVAILABLE (if
        nothing was sent yet). The clock starts once the body is in: the client's sending is
        not the service's time, and one timer a request costs less than a clock stopped and
        restarted around each read."""
        loop = asyncio.get_running_loop()
        replay = await self._buffered(receive)
        if replay is None:
            err = ServiceError("E_TOO_LARGE", "", f"over {self.max_body} bytes")
            return await _refuse(send, err, national.served(scope["path"]))
        try:
            async with asyncio.timeout(loop.time() + self.deadline):
                await self._guarded(scope, replay, send, counted=False)
        except TimeoutError:
            if code[0] is not None:  # answered already: nothing else can be sent
                raise
            await _refuse(send, ServiceError("E_UNAVAILABLE", "", "the store did not answer"
                                             f" within {self.deadline} s; retry"),
                          national.served(scope["path"]))  # fmt: skip
        except OUTAGES as exc:  # the gate's rate limit asks the store too
            if code[0] is not None:
                raise
            if national.served(scope["path"]):
                log.error("E_UNAVAILABLE: %s", _described(exc))
                err = ServiceError("E_UNAVAILABLE", "", "the store failed; retry")
                return await _refuse(send, err, True)
            response = _outage_answer(exc)
            await response(scope, receive, send)

    async def _buffered(self, receive):
        """A receive() that hands over the whole body, read now, in one message (then
        listens as the real one does, for a disconnect); None when the body is over the
        limit. A client that went away while sending: its disconnect is handed over."""
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                first = message
                break
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                return None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                first = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                break
        handed = False

        async def replay():
            nonlocal handed
            if handed:
                return await receive()
            handed = True
            return first

        return replay

    async def _guarded(self, scope, receive, send, counted: bool = True):
        """`counted`: the body is counted against the limit as it is read (False: read and
        counted already, by `_buffered`)."""
        headers = dict(scope["headers"])
        path = scope["path"]
        enveloped = national.served(path)  # its refusals in the platform's envelope
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            err = ServiceError("E_TOO_LARGE", "", f"over {self.max_body} bytes")
            return await _refuse(send, err, enveloped)
        if path not in PUBLIC and not self._own_session(path):
            try:
                caller = await self._caller(headers, enveloped)
            except ServiceError as err:
                return await _refuse(send, err, enveloped)
            scope.setdefault("state", {})["caller"] = caller
        app = self.direct.get((scope["method"], path), self.app)
        if not counted:
            return await app(scope, receive, send)
        seen = 0

        async def counting():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise ServiceError("E_TOO_LARGE", "", f"over {self.max_body} bytes")
            return message

        await app(scope, counting, send)

    async def _caller(self, headers: dict, enveloped: bool):
        """By a Bearer token anywhere; on the national paths also by the x-tif-* headers
        (service/signed.py), which decide when given."""
        authorization = headers.get(b"authorization")
        if enveloped:
            given = signed.given(headers)
            if given is not None:
                return await self.gate.signed(given)
            if authorization is None:
                wanted = "the x-tif-* signature headers, or 'Authorization: Bearer <token>'"
                raise ServiceError("E_UNAUTHORIZED", "x-tif-paasid", wanted)
        return await self.gate.caller(authorization and authorization.decode("latin-1"))

    @staticmethod
    def _log(scope, status: int | None, started: float) -> None:
        """One line: the status the client was sent, refusals and failures included."""
        if not access.isEnabledFor(logging.INFO):
            return
        route = scope.get("route")
        line = {
            "at": _now(),
            "method": scope["method"],
            "route": getattr(route, "path", None) or _masked(scope["path"]),
            "status": status,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        }
        # the record made and handled as Logger.info does, less its search of the stack for
        # the caller's file and line (which no access line shows): a third of its cost
        message = orjson.dumps(line).decode()
        access.handle(access.makeRecord(access.name, logging.INFO, __file__, 0, message, (), None))


_second: list = [None, ""]  # the second last formatted, and its text


def _now() -> str:
    """The local time to the second, formatted once a second."""
    now = int(time.time())
    if now != _second[0]:
        _second[:] = [now, time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now))]
    return _second[1]


def direct_routes(routes: Sequence[BaseRoute], endpoints: tuple) -> dict:
    """(method, path) -> an ASGI app calling the endpoint straight, for the routes of
    `endpoints` at fixed paths (the settling ones): where the router would pick that route
    (no route before it matches), the request skips FastAPI's stack — its middleware, the
    router's scan, request_response — measured at a fifth of a worker's CPU a settlement.
    What the endpoint raises is answered by the app's own exception handlers, as there."""
    direct = {}
    for i, route in enumerate(routes):
        if getattr(route, "endpoint", None) not in endpoints or "{" in route.path:
            continue
        for method in route.methods:
            probe = {"type": "http", "path": route.path, "method": method, "root_path": "",
                     "headers": []}  # fmt: skip
            if not any(r.matches(probe)[0] is Match.FULL for r in routes[:i]):
                direct.setdefault((method, route.path), _calling(route))
    return direct


def _calling(route: BaseRoute):
    endpoint = route.endpoint

    async def app(scope, receive, send):
        scope["route"] = route  # as the router sets it: the access log names it
        scope["endpoint"] = endpoint
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = _handler(scope["app"].exception_handlers, exc)
            if handler is None:  # Starlette's last handler answers it: a 500
                raise
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
        await response(scope, receive, send)

    return app


def _handler(handlers: dict, exc: Exception):
    """The app's handler for `exc` (the nearest class up its MRO), as Starlette finds it;
    None for what only its last handler answers."""
    # Starlette's own lookup (starlette._exception_handler._lookup_exception_handler) is
    # private, and its one public way in, ExceptionMiddleware, is the stack a direct route
    # skips; so its few lines are repeated here, the Exception and 500 entries (its last
    # handler's, ServerErrorMiddleware's) left to it as its middleware leaves them
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None


def _masked(path: str) -> str:
    parts = path.split("/")
    return "/".join(p if i < 3 or not p else "{id}" for i, p in enumerate(parts))


async def _refuse(send, err: ServiceError, enveloped: bool = False) -> None:
    """The refusal in the error format, or `enveloped` in the national envelope (with its
    status: national.refusal)."""
    if enveloped:
        answer, code = national.refusal(err)
        payload = orjson.dumps(answer)
    else:
        payload, code = orjson.dumps(body(err)), status(err.code)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if err.retry_after is not None and code == 429:
        headers.append((b"retry-after", str(err.retry_after).encode()))
    await send({"type": "http.response.start", "status": code, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
