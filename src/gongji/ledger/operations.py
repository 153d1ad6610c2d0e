"""What the ledger does: add members, settle a visit exactly once, cancel the latest.

Each operation is one database transaction that first locks the member (row lock on
PostgreSQL, the write lock on SQLite), so two settlements for one member never both spend
the same cap or balance, and a crash leaves a whole settlement or none.
"""

import hashlib
import json
from datetime import date, datetime

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from gongji import engine, policy
from gongji.calculate import (
    MemberIn,
    VisitIn,
    check_visit,
    engine_member,
    engine_visit,
    sample_catalogue,
)
from gongji.errors import InputError, first_error
from gongji.ledger.journal import legs_of, post
from gongji.ledger.schema import members, settlements
from gongji.money import to_yuan


def add_member(db: Engine, region: str, document: object) -> str:
    pack = policy.load_region(region)
    try:
        m = MemberIn.model_validate(document)
    except ValidationError as exc:
        raise InputError(*_prefixed("member", exc)) from None
    engine_member(pack, m, pack.versions[0].valid_from)  # the same checks as calculate
    opening = m.account_balance or 0
    state = engine.YearState.new(opening)
    with db.begin() as conn:
        if conn.execute(select(members.c.id).where(members.c.id == m.id)).first():
            raise InputError("member.id", f"member {m.id} exists already", "E_MEMBER_EXISTS")
        conn.execute(
            insert(members).values(
                id=m.id,
                region=region,
                opening_balance=opening,
                profile=m.model_dump(mode="json", by_alias=True, exclude_none=True),
                state=list(state.slots),
            )
        )
        post(
            conn,
            "opening",
            f"opening:{m.id}",
            [(f"account:{m.id}", opening), (f"opening:{m.id}", -opening)],
        )
    return m.id


def settle(db: Engine, txn_id: str, member_id: str, visit_document: object) -> dict:
    """Settle one visit. A retry with the same txn_id returns the first result."""
    request = _plain({"member_id": member_id, "visit": visit_document})
    digest = _digest(request)
    try:
        with db.begin() as conn:
            row = _lock_member(conn, member_id)
            done = _settled(conn, txn_id, digest)
            if done is not None:
                return done
            return _settle_locked(conn, row, txn_id, digest, request)
    except IntegrityError:  # the same txn_id raced in for another member: it won
        with db.connect() as conn:
            done = _settled(conn, txn_id, digest)
        if done is None:
            raise
        return done


def _settle_locked(conn: Connection, row, txn_id: str, digest: str, request: dict) -> dict:
    pack = policy.load_region(row.region)
    try:
        v = VisitIn.model_validate(request["visit"])
    except ValidationError as exc:
        raise InputError(*_prefixed("visit", exc)) from None
    check_visit(pack, "visit", v)
    last = conn.execute(
        select(settlements.c.visit_time)
        .where(settlements.c.member_id == row.id, settlements.c.cancel_entry_id.is_(None))
        .order_by(settlements.c.id.desc())
        .limit(1)
    ).scalar()
    if last is not None and v.time < last:
        raise InputError("visit.time", f"earlier than the member's last settlement ({last})")
    member = engine_member(pack, MemberIn.model_validate(row.profile), v.time.date())
    visit = engine_visit(v, sample_catalogue() if v.items else None)
    state = engine.YearState(tuple(row.state))
    tables = engine.tables_on(pack, v.time.date())
    result, new_state = engine.settle(tables, member, state, visit)
    out = _result(txn_id, v, result, tables)
    entry_id = post(
        conn,
        "settle",
        txn_id,
        [
            (f"institution:{v.institution}", result.total),
            (f"fund:{row.region}", -result.fund_pay),
            (f"account:{row.id}", -result.account_pay),
            (f"cash:{row.id}", -result.cash_pay),
        ],
    )
    conn.execute(
        insert(settlements).values(
            txn_id=txn_id,
            member_id=row.id,
            visit_time=v.time,
            payload_hash=digest,
            request=request,
            result=out,
            state_before=list(state.slots),
            entry_id=entry_id,
        )
    )
    conn.execute(update(members).where(members.c.id == row.id).values(state=list(new_state.slots)))
    return out


def cancel(db: Engine, txn_id: str) -> dict:
    """Cancel a settlement: a compensating entry, and the member's state restored exactly.

    Only a member's latest active settlement can be cancelled (later ones first), so what
    is restored is exactly what that settlement changed.
    """
    with db.begin() as conn:
        found = conn.execute(select(settlements).where(settlements.c.txn_id == txn_id)).first()
        if found is None:
            raise InputError("txn_id", f"no settlement {txn_id}", "E_NOT_FOUND")
        _lock_member(conn, found.member_id)
        s = conn.execute(select(settlements).where(settlements.c.id == found.id)).one()
        if s.cancel_entry_id is not None:
            return {"txn_id": txn_id, "cancelled": True}
        latest = conn.execute(
            select(settlements.c.txn_id)
            .where(settlements.c.member_id == s.member_id, settlements.c.cancel_entry_id.is_(None))
            .order_by(settlements.c.id.desc())
            .limit(1)
        ).scalar()
        if latest != txn_id:
            raise InputError(
                "txn_id", f"cancel the later settlement {latest} first", "E_NOT_LATEST"
            )
        moves = [(account, -amount) for account, amount in legs_of(conn, s.entry_id)]
        entry_id = post(conn, "cancel", txn_id, moves, reverses=s.entry_id)
        conn.execute(
            update(settlements).where(settlements.c.id == s.id).values(cancel_entry_id=entry_id)
        )
        conn.execute(
            update(members).where(members.c.id == s.member_id).values(state=s.state_before)
        )
    return {"txn_id": txn_id, "cancelled": True}


def _lock_member(conn: Connection, member_id: str):
    query = select(members).where(members.c.id == member_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise InputError("member_id", f"unknown member {member_id}", "E_NOT_FOUND")
    return row


def _settled(conn: Connection, txn_id: str, digest: str) -> dict | None:
    found = conn.execute(
        select(settlements.c.payload_hash, settlements.c.result).where(
            settlements.c.txn_id == txn_id
        )
    ).first()
    if found is None:
        return None
    if found.payload_hash != digest:
        raise InputError("txn_id", f"{txn_id} was used for a different request", "E_TXN_CONFLICT")
    return found.result


def _result(txn_id: str, v: VisitIn, r: engine.Result, tables: engine.Tables) -> dict:
    money = {
        k: str(to_yuan(getattr(r, k)))
        for k in (
            "total",
            "in_scope",
            "deductible",
            "fund_pay",
            "account_pay",
            "cash_pay",
            "account_balance",
        )
    }
    return {
        "txn_id": txn_id,
        "visit_id": v.id,
        **money,
        "policy_version": r.version_id,
        "trace": [
            {"rule": s.rule, "text": s.text, "amount": str(to_yuan(s.amount))}
            for s in engine.explain(tables, r)
        ],
    }


def _plain(document: object) -> dict:
    """JSON-safe and canonical: dates as ISO text, decimals as text (so a retry read from
    YAML or from JSON hashes the same)."""

    def encode(value: object) -> str:
        if isinstance(value, date | datetime):
            return value.isoformat()
        return str(value)

    return json.loads(json.dumps(document, default=encode))


def _digest(request: dict) -> str:
    text = json.dumps(request, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _prefixed(prefix: str, exc: ValidationError) -> tuple[str, str]:
    field, reason = first_error(exc)
    return (prefix if field == "(document)" else f"{prefix}.{field}"), reason
