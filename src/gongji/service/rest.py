"""The plain REST API beside the national transactions: JSON with the glossary's names.

Institutions settle and read their own visits; the bureau reads everything, adds members,
and enters manual reimbursements (XSBN-28) from invoices.
"""

import asyncio
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from gongji.errors import InputError
from gongji.ledger import members as ledger_members
from gongji.ledger import views
from gongji.ledger.schema import settlements
from gongji.ledger.settlement import cancel, explain_answer, presettle
from gongji.service.auth import Caller
from gongji.service.errors import ServiceError

router = APIRouter(prefix="/v1")


def _json(content: object, status_code: int = 200) -> Response:
    """The answer as JSON, straight from orjson (money stays text, decimals as text):
    FastAPI's generic encoder would cost more than the settlement itself."""
    return Response(orjson.dumps(content, default=str), status_code, media_type="application/json")


def caller(request: Request) -> Caller:
    return request.state.caller


Who = Annotated[Caller, Depends(caller)]


class MemberNew(BaseModel):
    region: str = Field(min_length=1)
    member: dict


class SettleIn(BaseModel):
    txn_id: str = Field(min_length=1, max_length=64)
    member_id: str = Field(min_length=1, max_length=40)
    visit: dict


class PresettleIn(BaseModel):
    member_id: str = Field(min_length=1, max_length=40)
    visit: dict


def _bureau(who: Caller) -> None:
    if not who.bureau:
        raise ServiceError("E_FORBIDDEN", "", "bureau credentials only")


def _own_visit(who: Caller, visit: dict) -> None:
    if who.bureau:
        raise ServiceError("E_FORBIDDEN", "", "institutions settle; the bureau reimburses")
    if visit.get("institution") != who.institution:
        raise ServiceError("E_FORBIDDEN", "visit.institution", "not this credential's institution")


@router.get("/members/{member_id}", summary="A member: record, balances, accumulators")
async def member(member_id: str, request: Request, who: Who) -> Response:
    shown = await asyncio.to_thread(views.member_show, request.app.state.db, member_id)
    if who.bureau:
        return _json(shown)
    keep = ("id", "region", "status", "account_balance", "year", "accumulators")
    return _json({k: shown[k] for k in keep} | {"type": shown["record"]["type"]})


@router.post("/members", status_code=201, summary="Add a member (bureau)")
async def member_add(body: MemberNew, request: Request, who: Who) -> Response:
    _bureau(who)
    db = request.app.state.db
    added = await asyncio.to_thread(ledger_members.add_member, db, body.region, body.member)
    return _json({"id": added}, 201)


@router.post("/settlements", summary="Settle a visit, exactly once per txn_id")
async def settle(body: SettleIn, request: Request, who: Who) -> Response:
    _own_visit(who, body.visit)
    future = request.app.state.writer.submit(body.txn_id, body.member_id, body.visit)
    return _json(await asyncio.wrap_future(future))


@router.post("/settlements/pre", summary="What settling would give now; writes nothing")
async def settle_pre(body: PresettleIn, request: Request, who: Who) -> Response:
    _own_visit(who, body.visit)
    db = request.app.state.db
    return _json(await asyncio.to_thread(presettle, db, body.member_id, body.visit))


def _settlement(request: Request, who: Caller, txn_id: str):
    with request.app.state.db.connect() as conn:
        row = conn.execute(select(settlements).where(settlements.c.txn_id == txn_id)).first()
    if row is None:
        raise InputError("txn_id", f"no settlement {txn_id}", "E_NOT_FOUND")
    if not who.may_see(row.institution):
        raise ServiceError("E_FORBIDDEN", "txn_id", "another institution's settlement")
    return row


@router.get("/settlements/{txn_id}", summary="A settlement with its trace in words")
async def settlement(txn_id: str, request: Request, who: Who) -> Response:
    row = await asyncio.to_thread(_settlement, request, who, txn_id)
    return _json(
        {
            **row.result,
            "cancelled": row.cancel_entry_id is not None,
            "trace": explain_answer(row.result),
        }
    )


@router.post("/settlements/{txn_id}/cancel", summary="Cancel a settlement (the latest first)")
async def settlement_cancel(txn_id: str, request: Request, who: Who) -> Response:
    await asyncio.to_thread(_settlement, request, who, txn_id)
    return _json(await asyncio.to_thread(cancel, request.app.state.db, txn_id))


@router.get("/visits", summary="The caller's settled visits, newest first")
async def visits(
    request: Request,
    who: Who,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    def rows() -> list:
        query = select(settlements.c.txn_id, settlements.c.result, settlements.c.cancel_entry_id)
        if not who.bureau:
            query = query.where(settlements.c.institution == who.institution)
        query = query.order_by(settlements.c.id.desc()).limit(limit).offset(offset)
        with request.app.state.db.connect() as conn:
            return conn.execute(query).all()

    return _json(
        [
            {
                k: r.result[k]
                for k in (
                    "txn_id",
                    "visit_id",
                    "institution",
                    "time",
                    "total",
                    "fund_pay",
                    "account_pay",
                    "cash_pay",
                )
            }
            | {"cancelled": r.cancel_entry_id is not None}
            for r in await asyncio.to_thread(rows)
        ]
    )


@router.get("/accounts/{member_id}", summary="A personal account and its journal (bureau)")
async def account(member_id: str, request: Request, who: Who) -> Response:
    _bureau(who)
    return _json(await asyncio.to_thread(views.account_show, request.app.state.db, member_id))


@router.post("/reimbursements", summary="Manual reimbursement from invoices (XSBN-28, bureau)")
async def reimbursement(body: SettleIn, request: Request, who: Who) -> Response:
    """Care that could not be settled online, entered by bureau staff from the invoices:
    the same engine and ledger, the visit marked manual."""
    _bureau(who)
    visit = {**body.visit, "manual": True}
    future = request.app.state.writer.submit(body.txn_id, body.member_id, visit)
    return _json({**await asyncio.wrap_future(future), "manual": True})
