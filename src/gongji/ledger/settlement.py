"""Settling visits against the store exactly once, and cancelling them.

Each settlement locks its member (and, for account mutual aid, the holder after the user),
checks everything before it writes anything, and commits with the journal entry, the
settlement record and the member's new state together: a crash leaves a whole settlement
or none. `settle_many` settles a batch in one transaction (group commit), so one durable
commit carries many settlements; each answer is final when it returns.
"""

import hashlib
import json
from datetime import date, datetime

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, bindparam, insert, select, update
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
from gongji.ledger import members as M
from gongji.ledger.journal import legs_of, post
from gongji.ledger.schema import family_bindings, institutions, settlements
from gongji.money import to_yuan
from gongji.policy.schema import Cited, Version
from gongji.terms import Level

Request = tuple[str, str, object]  # (txn_id, member_id, visit document)

_DONE = select(settlements.c.payload_hash, settlements.c.result).where(
    settlements.c.txn_id == bindparam("b_txn")
)
_INSTITUTION = select(institutions).where(institutions.c.code == bindparam("b_code"))
_HOLDER = select(family_bindings.c.holder_id).where(
    family_bindings.c.user_id == bindparam("b_user"),
    family_bindings.c.valid_from <= bindparam("b_day"),
    family_bindings.c.valid_to >= bindparam("b_day"),
)
_INSERT = insert(settlements)


def settle(db: Engine, txn_id: str, member_id: str, visit: object) -> dict:
    """Settle one visit. A retry with the same txn_id returns the first result."""
    (answer,) = settle_many(db, [(txn_id, member_id, visit)])
    if isinstance(answer, InputError):
        raise answer
    return answer


def settle_many(db: Engine, requests: list[Request]) -> list[dict | InputError]:
    """Settle a batch in one transaction; each answer is the result or the InputError that
    refused it (a refused request writes nothing; the others go on)."""
    try:
        with db.begin() as conn:
            return [_settle_or_refuse(conn, *r) for r in requests]
    except IntegrityError:
        # the same txn_id was settled by a concurrent transaction for another member: settle
        # one by one, so each request sees what won
        if len(requests) > 1:
            return [a for r in requests for a in settle_many(db, [r])]
        txn_id, member_id, visit = requests[0]
        with db.connect() as conn:
            try:
                done = _settled(conn, txn_id, _digest(_request(member_id, visit)))
            except InputError as exc:
                return [exc]
        if done is None:
            raise
        return [done]


def _settle_or_refuse(conn: Connection, txn_id: str, member_id: str, visit: object):
    try:
        return _settle_one(conn, txn_id, member_id, visit)
    except InputError as exc:
        return exc


def _settle_one(conn: Connection, txn_id: str, member_id: str, document: object) -> dict:
    request = _request(member_id, document)
    digest = _digest(request)
    row = M.lock(conn, member_id)
    done = _settled(conn, txn_id, digest)
    if done is not None:
        return done
    pack = policy.load_region(row.region)
    v = _visit(conn, request["visit"])
    check_visit(pack, "visit", v)
    if row.last_visit is not None and v.time < row.last_visit:
        raise InputError(
            "visit.time", f"earlier than the member's last settlement ({row.last_visit})"
        )
    member = engine_member(pack, MemberIn.model_validate(row.profile), v.time.date())
    visit = engine_visit(v, sample_catalogue() if v.items else None)
    state = M.state_of(row)
    tables = engine.tables_on(pack, v.time.date())
    result, new_state = engine.settle(tables, member, state, visit)
    version = pack.version_on(v.time.date())
    holder, aid = _mutual_aid(conn, version, row, v.time.date(), result)
    out = _answer(txn_id, v, result, tables, version.mutual_aid, holder, aid)
    entry_id = post(
        conn,
        "settle",
        txn_id,
        [
            (f"institution:{v.institution}", result.total),
            (f"fund:{row.region}", -result.fund_pay),
            (f"account:{row.id}", -result.account_pay),
            (f"account:{holder}", -aid),
            (f"cash:{row.id}", aid - result.cash_pay),
        ],
    )
    conn.execute(
        _INSERT,
        {
            "txn_id": txn_id,
            "member_id": row.id,
            "visit_time": v.time,
            "payload_hash": digest,
            "request": {**request, "record": row.profile},  # the member as settled
            "result": out,
            "state_before": list(state.slots),
            "entry_id": entry_id,
        },
    )
    M.save_visit(conn, row.id, new_state, v.time)
    return out


def _visit(conn: Connection, document: dict) -> VisitIn:
    """The visit as sent, with what the registry knows of its institution: a registered
    institution's level, designation and kind come from the registry (a visit may leave them
    out and must not contradict them); a local visit must name a registered institution."""
    document = dict(document) if isinstance(document, dict) else document
    code = document.get("institution") if isinstance(document, dict) else None
    known = conn.execute(_INSTITUTION, {"b_code": str(code)}).first() if code else None
    if known is not None:
        for field, value in (
            ("level", known.level),
            ("designated", known.designated),
            ("internet", known.kind == "internet"),
        ):
            given = document.setdefault(field, value)
            if given != value:
                raise InputError(
                    f"visit.{field}",
                    f"institution {code} is registered with {field} {value}, not {given}",
                    "E_INSTITUTION_MISMATCH",
                )
    try:
        v = VisitIn.model_validate(document)
    except ValidationError as exc:
        field, reason = first_error(exc)
        raise InputError("visit" if field == "(document)" else f"visit.{field}", reason) from None
    if known is None and not v.remote:
        raise InputError(
            "visit.institution", f"institution {v.institution} is not registered", "E_NOT_FOUND"
        )
    if v.prescription_level is not None and v.prescription_level is Level.pharmacy:
        raise InputError("visit.prescription_level", "name the prescribing institution's level")
    return v


def _mutual_aid(
    conn: Connection, version: Version, row, day: date, result: engine.Result
) -> tuple[str | None, int]:
    """XSBN-24: what the user's own account could not pay of the in-scope share is drawn
    from the holder's account (the user is locked first, then the holder)."""
    unpaid = result.in_scope - result.fund_pay - result.account_pay
    if version.mutual_aid is None or unpaid <= 0:
        return None, 0
    holder_id = conn.execute(_HOLDER, {"b_user": row.id, "b_day": day}).scalar()
    if holder_id is None:
        return None, 0
    holder = M.lock(conn, holder_id, "holder")
    aid = min(unpaid, holder.account_balance)
    if aid:
        M.move_balance(conn, holder, -aid)
    return holder_id, aid


def cancel(db: Engine, txn_id: str) -> dict:
    """Cancel a settlement: a compensating entry, and the member's state restored exactly.

    Only a member's latest active settlement can be cancelled (later ones first), so what
    is restored is exactly what that settlement changed. A holder's account that paid by
    mutual aid gets its amount back.
    """
    with db.begin() as conn:
        found = conn.execute(select(settlements).where(settlements.c.txn_id == txn_id)).first()
        if found is None:
            raise InputError("txn_id", f"no settlement {txn_id}", "E_NOT_FOUND")
        row = M.lock(conn, found.member_id)
        s = conn.execute(select(settlements).where(settlements.c.id == found.id)).one()
        if s.cancel_entry_id is not None:
            return {"txn_id": txn_id, "cancelled": True}
        if M.state_of(row).year > s.visit_time.year:
            raise InputError(
                "txn_id", f"{s.visit_time.year} is closed (year rollover)", "E_YEAR_CLOSED"
            )
        active = conn.execute(
            select(settlements.c.txn_id, settlements.c.visit_time)
            .where(settlements.c.member_id == s.member_id, settlements.c.cancel_entry_id.is_(None))
            .order_by(settlements.c.id.desc())
            .limit(2)
        ).all()
        if active[0].txn_id != txn_id:
            raise InputError(
                "txn_id", f"cancel the later settlement {active[0].txn_id} first", "E_NOT_LATEST"
            )
        moves = [(account, -amount) for account, amount in legs_of(conn, s.entry_id)]
        entry_id = post(conn, "cancel", txn_id, moves, reverses=s.entry_id)
        conn.execute(
            update(settlements).where(settlements.c.id == s.id).values(cancel_entry_id=entry_id)
        )
        previous = active[1].visit_time if len(active) > 1 else None
        M.save_visit(conn, s.member_id, engine.YearState(tuple(s.state_before)), previous)
        for account, amount in moves:
            holder = account.removeprefix("account:")
            if account.startswith("account:") and holder != s.member_id:
                M.move_balance(conn, M.lock(conn, holder, "holder"), amount)
    return {"txn_id": txn_id, "cancelled": True}


def _settled(conn: Connection, txn_id: str, digest: str) -> dict | None:
    found = conn.execute(_DONE, {"b_txn": txn_id}).first()
    if found is None:
        return None
    if found.payload_hash != digest:
        raise InputError("txn_id", f"{txn_id} was used for a different request", "E_TXN_CONFLICT")
    return found.result


def _answer(
    txn_id: str,
    v: VisitIn,
    r: engine.Result,
    tables: engine.Tables,
    aid_rule: Cited | None,
    holder: str | None,
    aid: int,
) -> dict:
    money = {
        k: str(to_yuan(getattr(r, k)))
        for k in ("total", "in_scope", "deductible", "fund_pay", "account_pay", "account_balance")
    }
    trace = [
        {"rule": s.rule, "text": s.text, "amount": str(to_yuan(s.amount))}
        for s in engine.explain(tables, r)
    ]
    aided = {}
    if holder is not None:
        aided = {"mutual_aid_pay": str(to_yuan(aid)), "holder": holder}
        trace.append(
            {
                "rule": aid_rule.rule_for(),
                "text": f"account mutual aid: the holder {holder}'s account pays {to_yuan(aid)}",
                "amount": str(to_yuan(aid)),
            }
        )
    return {
        "txn_id": txn_id,
        "visit_id": v.id,
        **money,
        **aided,
        "cash_pay": str(to_yuan(r.cash_pay - aid)),
        "policy_version": r.version_id,
        "trace": trace,
    }


def _request(member_id: str, visit: object) -> dict:
    return _plain({"member_id": member_id, "visit": visit})


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
