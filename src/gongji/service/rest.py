"""The plain REST API beside the national transactions: JSON with the glossary's names.

Institutions settle and read their own visits; the bureau reads everything, adds members,
and enters manual reimbursements (XSBN-28) from invoices.
"""

import asyncio
from typing import Annotated, TypeVar

import orjson
from fastapi import FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gongji.documents import read_json
from gongji.errors import CATALOGUE, InputError, ServiceError, first_error, from_input
from gongji.labels import lang_of
from gongji.ledger import accounts as ledger_accounts
from gongji.ledger import family, views
from gongji.ledger import members as ledger_members
from gongji.ledger.settlement import cancel, explain_answer, presettle
from gongji.model import ID_MAX, TEXT_MAX, Clean, Day, Fen, check_text, printable
from gongji.service import scope
from gongji.service.auth import Caller

Body = TypeVar("Body", bound=BaseModel)


def _json(content: object, status_code: int = 200) -> Response:
    """The answer as JSON, straight from orjson (money stays text, decimals as text):
    FastAPI's generic encoder would cost more than the settlement itself."""
    return Response(orjson.dumps(content, default=str), status_code, media_type="application/json")


class MemberNew(BaseModel):
    region: str = Field(min_length=1)
    member: dict = Field(
        description="The member's record (id, type, account_balance, ...) and, optionally,"
        " its identity: certno, psn_cert_type, name, gender (1 male, 2 female), birth_date,"
        " nationality (2-digit 民族 code), card_no",
        examples=[{"id": "P100", "type": "employee", "account_balance": "300.00",
                   "certno": "410202198801150014", "name": "张三", "nationality": "01"}],
    )  # fmt: skip


# ids as the store holds them (model.py): within its lengths, no control characters
TxnId = Annotated[str, Field(min_length=1, max_length=TEXT_MAX), printable(TEXT_MAX)]
MemberId = Annotated[str, Field(min_length=1, max_length=ID_MAX), printable(ID_MAX)]


def _text(most: int, least: int = 1) -> type:
    return Annotated[str, Field(min_length=least, max_length=most), Clean]


class SettleIn(BaseModel):
    txn_id: TxnId
    member_id: MemberId
    visit: dict


class PresettleIn(BaseModel):
    member_id: MemberId
    visit: dict


class PremiumIn(BaseModel):
    """A premium paid from the account (X-4): for whom — the member, or a spouse, parent or
    child (KF-17); without `beneficiary`, the member where the pack allows it."""

    model_config = ConfigDict(extra="forbid")  # a misspelt beneficiary must not fall back

    op_id: TxnId
    amount: Fen
    purpose: _text(40)
    on: Day
    beneficiary: _text(12, 0) | None = None
    relative: _text(100, 0) | None = None


# -- answers, as the OpenAPI description gives them (money is yuan text: "75.00") ----------
Yuan = Annotated[str, Field(pattern=r"^-?\d+\.\d{2}$", examples=["75.00"])]


class StepOut(BaseModel):
    rule: str
    amount: Yuan


class ExplainedStep(StepOut):
    article: str | None = None
    text: str


class SettlementOut(BaseModel):
    """A settlement's answer (`txn_id` null and `presettle` true for a pre-settlement)."""

    txn_id: str | None
    visit_id: str
    institution: str
    time: str
    total: Yuan
    in_scope: Yuan
    deductible: Yuan
    fund_pay: Yuan
    account_pay: Yuan
    account_balance: Yuan
    out_of_scope: Yuan
    above_standard: Yuan
    class_b_self_pay: Yuan
    mutual_aid_pay: Yuan | None = None
    holder: str | None = None
    cash_pay: Yuan
    policy_version: str
    member_class: str
    trace: list[StepOut]
    trace_records: list[int]
    presettle: bool | None = None


class ReimbursementOut(SettlementOut):
    manual: bool


class SettlementShown(SettlementOut):
    """A settlement read back: whether it was cancelled, and its trace in words."""

    cancelled: bool
    trace: list[ExplainedStep]  # type: ignore[assignment]


class VisitRow(BaseModel):
    txn_id: str
    visit_id: str
    institution: str
    time: str
    total: Yuan
    fund_pay: Yuan
    account_pay: Yuan
    cash_pay: Yuan
    cancelled: bool


class ErrorOut(BaseModel):
    """A refusal: a code of the catalogue (errors.py), the field it concerns, and why."""

    code: str
    field: str | None
    message_zh: str
    message_en: str


def _bureau(who: Caller) -> None:
    if not who.bureau:
        raise ServiceError("E_FORBIDDEN", "", "bureau credentials only")


def _own_visit(who: Caller, visit: dict) -> None:
    if who.bureau:
        raise ServiceError("E_FORBIDDEN", "", "institutions settle; the bureau reimburses")
    if visit.get("institution") != who.institution:
        raise ServiceError("E_FORBIDDEN", "visit.institution", "not this credential's institution")


async def _body(request: Request, model: type[Body]) -> Body:
    """The request body as `model`: amounts exact (JSON numbers read as decimals, never
    floats), nothing a store cannot hold (documents.read_json); a mistake names its field."""
    try:
        document = read_json(await request.body())
    except InputError as exc:
        raise from_input(exc) from None
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        field, reason = first_error(exc)
        raise ServiceError("E_INPUT", field, reason) from None


async def member(member_id: str, request: Request) -> Response:
    member_id = check_text(member_id, "member_id", ID_MAX)
    who: Caller = request.state.caller
    shown = await asyncio.to_thread(views.member_show, request.app.state.db, member_id)
    if who.bureau:
        return _json(shown)
    keep = ("id", "region", "status", "account_balance", "year", "accumulators")
    return _json({k: shown[k] for k in keep} | {"type": shown["record"]["type"]})


async def member_add(request: Request) -> Response:
    _bureau(request.state.caller)
    body = await _body(request, MemberNew)
    db = request.app.state.db
    added = await asyncio.to_thread(ledger_members.add_member, db, body.region, body.member)
    return _json({"id": added}, 201)


async def settle(request: Request) -> Response:
    body = await _body(request, SettleIn)
    who: Caller = request.state.caller
    _own_visit(who, body.visit)
    txn_id = scope.key(who, body.txn_id, "txn_id")
    answer = await request.app.state.writer.settle(txn_id, body.member_id, body.visit)
    return _json(_shown(who, answer.document()))


def _shown(who: Caller, document: dict) -> dict:
    """An answer with its transaction id as the caller knows it."""
    return {**document, "txn_id": scope.shown(who, document["txn_id"])}


async def settle_pre(request: Request) -> Response:
    body = await _body(request, PresettleIn)
    _own_visit(request.state.caller, body.visit)
    db = request.app.state.db
    answer = await asyncio.to_thread(presettle, db, body.member_id, body.visit)
    return _json(answer.document())


def _settlement(request: Request, txn_id: str) -> views.SettlementRecord:
    """The caller's settlement: another institution's is not found, as an unknown one."""
    check_text(txn_id, "txn_id", TEXT_MAX)
    return scope.settlement(request.app.state.db, request.state.caller, txn_id, "txn_id")


async def settlement(txn_id: str, request: Request) -> Response:
    found = await asyncio.to_thread(_settlement, request, txn_id)
    return _json(
        {
            **_shown(request.state.caller, found.answer.document()),
            "cancelled": found.cancelled,
            "trace": explain_answer(found.answer, lang_of(request.headers.get("accept-language"))),
        }
    )


async def settlement_cancel(txn_id: str, request: Request) -> Response:
    found = await asyncio.to_thread(_settlement, request, txn_id)
    done = await asyncio.to_thread(cancel, request.app.state.db, found.txn_id)
    return _json(_shown(request.state.caller, done))


async def visits(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    who: Caller = request.state.caller
    institution = None if who.bureau else who.institution
    db = request.app.state.db
    found = await asyncio.to_thread(views.settlements_of, db, institution, limit, offset)
    return _json([_shown(who, _visit_row(r)) for r in found])


VISIT_ROW = ("txn_id", "visit_id", "institution", "time", "total", "fund_pay", "account_pay",
             "cash_pay")  # fmt: skip


def _visit_row(r: views.SettlementRecord) -> dict:
    """A line of the visits list: the answer's own document, in part (formatted once)."""
    document = r.answer.document()
    return {k: document[k] for k in VISIT_ROW} | {"cancelled": r.cancelled}


async def account(member_id: str, request: Request) -> Response:
    _bureau(request.state.caller)
    member_id = check_text(member_id, "member_id", ID_MAX)
    return _json(await asyncio.to_thread(views.account_show, request.app.state.db, member_id))


async def binding_add(request: Request) -> Response:
    _bureau(request.state.caller)
    body = await _body(request, family.BindingIn)
    document = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    return _json(await asyncio.to_thread(family.add_binding, request.app.state.db, document), 201)


async def binding_end(request: Request) -> Response:
    _bureau(request.state.caller)
    body = await _body(request, family.UnbindIn)
    document = body.model_dump(mode="json")
    return _json(await asyncio.to_thread(family.end_binding, request.app.state.db, document))


async def premium(member_id: str, request: Request) -> Response:
    """A premium from a member's account, entered by bureau staff; a retry under the same
    op_id changes nothing."""
    _bureau(request.state.caller)
    member_id = check_text(member_id, "member_id", ID_MAX)
    b = await _body(request, PremiumIn)
    args = (b.op_id, member_id, b.amount, b.purpose, b.on, b.beneficiary, b.relative)
    db = request.app.state.db
    return _json(await asyncio.to_thread(ledger_accounts.pay_premium, db, *args))


async def reimbursement(request: Request) -> Response:
    """Care that could not be settled online, entered by bureau staff from the invoices:
    the same engine and ledger, the visit marked manual."""
    _bureau(request.state.caller)
    body = await _body(request, SettleIn)
    txn_id = scope.key(request.state.caller, body.txn_id, "txn_id")
    answer = await request.app.state.writer.reimburse(txn_id, body.member_id, body.visit)
    return _json({**answer.document(), "manual": True})


# (method, path, endpoint, body model, answer model, status, summary); the settling routes
# first: a request is matched against the routes in order
ROUTES = [
    ("POST", "/v1/settlements", settle, SettleIn, SettlementOut, 200,
     "Settle a visit, exactly once per txn_id"),
    ("POST", "/v1/settlements/pre", settle_pre, PresettleIn, SettlementOut, 200,
     "What settling would give now; writes nothing"),
    ("GET", "/v1/settlements/{txn_id}", settlement, None, SettlementShown, 200,
     "A settlement with its trace in words"),
    ("POST", "/v1/settlements/{txn_id}/cancel", settlement_cancel, None, None, 200,
     "Cancel a settlement, in any order"),
    ("GET", "/v1/members/{member_id}", member, None, None, 200,
     "A member: record, balances, accumulators"),
    ("POST", "/v1/members", member_add, MemberNew, None, 201, "Add a member (bureau)"),
    ("GET", "/v1/visits", visits, None, list[VisitRow], 200,
     "The caller's settled visits, newest first"),
    ("GET", "/v1/accounts/{member_id}", account, None, None, 200,
     "A personal account and its journal (bureau)"),
    ("POST", "/v1/bindings", binding_add, family.BindingIn, None, 201,
     "Bind a relative to a member's account: family mutual aid (bureau)"),
    ("POST", "/v1/bindings/end", binding_end, family.UnbindIn, None, 200,
     "End a family binding from a day (bureau)"),
    ("POST", "/v1/accounts/{member_id}/premiums", premium, PremiumIn, None, 200,
     "Pay a premium from an account, for whom the pack allows (X-4, KF-17; bureau)"),
    ("POST", "/v1/reimbursements", reimbursement, SettleIn, ReimbursementOut, 200,
     "Manual reimbursement from invoices (XSBN-28, bureau)"),
]  # fmt: skip


# what each route may refuse with besides the front door's (app.Guard: GUARDED); 422 on
# every route, which has a body or parameters to check
REFUSED = {
    settle: (403, 404, 409, 422),
    settle_pre: (403, 404, 409, 422),
    settlement: (404, 422),
    settlement_cancel: (404, 409, 422),
    member: (404, 422),
    member_add: (403, 409, 422),
    visits: (422,),
    account: (403, 404, 422),
    binding_add: (403, 404, 409, 422),
    binding_end: (403, 404, 409, 422),
    premium: (403, 404, 409, 422),
    reimbursement: (403, 404, 409, 422),
}
# the front door's refusals on every route that needs a credential: unknown credential, body
# too large, over the rate, the store unavailable (also what any route answers then)
GUARDED = (401, 413, 429, 503)


def refusals(*statuses: int) -> dict:
    """OpenAPI `responses`: these statuses and the front door's, each with the error body
    and the catalogue's codes that take it."""
    every = sorted({*statuses, *GUARDED})
    return {s: {"model": ErrorOut, "description": _codes(s)} for s in every}


def _codes(status: int) -> str:
    return "Refused: " + ", ".join(c for c, (s, _, _) in CATALOGUE.items() if s == status)


def install(app: FastAPI) -> None:
    """The REST routes on the app itself (an included router costs a lookup a request);
    bodies are read by `_body`, their schemas given to the OpenAPI description here. The
    answer models describe what the handlers return; the handlers build the JSON themselves
    (a Response, which FastAPI passes through unvalidated: its generic encoder would cost
    more than the settlement)."""
    for method, path, endpoint, model, answer, status, summary in ROUTES:
        app.add_api_route(
            path,
            endpoint,
            methods=[method],
            status_code=status,
            summary=summary,
            response_model=answer,
            responses=refusals(*REFUSED[endpoint]),
            openapi_extra=None if model is None else openapi_body(model),
        )


def openapi_body(model: type[BaseModel]) -> dict:
    """The OpenAPI description of a body read by hand rather than by FastAPI."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
