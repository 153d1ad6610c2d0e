"""Settling visits against the store exactly once, and cancelling them.

Each settlement locks its member (and, for account mutual aid, the holder with the user, in
id order), checks everything before it writes anything, and commits with the journal entry, the
settlement record and the member's new state together: a crash leaves a whole settlement
or none. `settle_many` settles a batch in one transaction (group commit), so one durable
commit carries many settlements; each answer is final when it returns.
"""

import hashlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import orjson
import psycopg
import sqlalchemy.exc
from sqlalchemy import Connection, Engine, func, insert, select, update

from gongji import catalogue, engine, policy
from gongji.engine import accounts as account_rules
from gongji.engine import layout as L
from gongji.engine.invariants import check_pools
from gongji.engine.use import Use, plus, use_of
from gongji.errors import InputError, validated
from gongji.labels import label
from gongji.ledger import members as M
from gongji.ledger.answer import Settled, Step
from gongji.ledger.chart import Chart
from gongji.ledger.driver import PREFETCH_PG, WRITE_PG, Driver, Key, as_time, from_json
from gongji.ledger.journal import legs_of, post
from gongji.ledger.schema import members, settlements, withdrawn_txns
from gongji.ledger.uses import late_start, month_of, use_of_row
from gongji.model import (
    ID_MAX,
    TEXT_MAX,
    MemberIn,
    VisitIn,
    check_text,
    check_visit,
    engine_member,
    engine_visit,
)
from gongji.money import fmt
from gongji.policy.schema import MAX_WINDOW_HOURS, Cited, Version
from gongji.terms import Condition, MemberClass

Request = tuple[str, str, object]  # (txn_id, member_id, visit document)


def settle(db: Engine, txn_id: str, member_id: str, visit: object) -> Settled:
    """Settle one visit. A retry with the same txn_id returns the first result."""
    (answer,) = settle_many(db, [(txn_id, member_id, visit)])
    if isinstance(answer, InputError):
        raise answer
    return answer


def settle_many(
    db: Engine, requests: list[Request], again: bool = True
) -> list[Settled | InputError]:
    """Settle a batch in one transaction; each answer is the result or the InputError that
    refused it (a refused request writes nothing; the others go on). A request the store
    could not hold is refused before the batch begins; one the store still rejects fails
    alone (the batch is settled again one by one)."""
    answers, admitted = _screened(requests)
    batch = [requests[i] for i in admitted]
    for i, answer in zip(admitted, _settle_batch(db, batch, again) if batch else [], strict=True):
        answers[i] = answer
    return answers


def _settle_batch(db: Engine, requests: list[Request], again: bool) -> list:
    try:
        with db.begin() as conn, _prefetched(conn, requests) as sql:
            answers = [_settle_or_refuse(sql, *r) for r in requests]
            sql.commit()
            return answers
    except Exception as exc:
        step = _after_failure(exc, len(requests), again)
        if step == "raise":
            raise
        if step == "refuse":
            return [_store_refused(exc)]
        return [a for r in requests for a in _settle_batch(db, [r], len(requests) > 1)]


async def settle_many_async(
    conn: psycopg.AsyncConnection, requests: list[Request], alone: bool = False
) -> list[Settled | InputError]:
    """`settle_many` on PostgreSQL over a psycopg AsyncConnection (the service's event loop
    settles while the store works, with no thread beside it): the same batch — one prefetch,
    the settling, the writes sent with the COMMIT — in two round trips."""
    answers, admitted = _screened(requests)
    batch = [requests[i] for i in admitted]
    settled = await _settle_batch_async(conn, batch, not alone) if batch else []
    for i, answer in zip(admitted, settled, strict=True):
        answers[i] = answer
    return answers


async def _settle_batch_async(
    conn: psycopg.AsyncConnection, requests: list[Request], again: bool
) -> list:
    sql = Driver()
    try:
        async with conn.pipeline():
            cur = conn.cursor()
            await cur.execute(PREFETCH_PG, (sql.keys(_prefetch_keys(requests)),), prepare=True)
            sql.found((await cur.fetchone())[0])
            answers = [_settle_or_refuse(sql, *r) for r in requests]
            writes = sql.writes()
            if writes is not None:
                await cur.execute(WRITE_PG, writes, prepare=True)
            # queued, not conn.commit(): that syncs, and leaving the pipeline syncs again (a
            # round trip for nothing); the pipeline's own sync as it ends sends the writes
            # and the COMMIT together, and raises what either failed with
            await cur.execute("COMMIT")
        return answers
    except Exception as exc:
        await conn.rollback()
        step = _after_failure(exc, len(requests), again)
        if step == "raise":
            raise
        if step == "refuse":
            return [_store_refused(exc)]
        # as in `settle_many`: one by one; settled again, a request's prefetch sees what won
        return [
            a for r in requests for a in await _settle_batch_async(conn, [r], len(requests) > 1)
        ]


# what a transaction that lost a race gets from the database, whether SQLAlchemy wrapped it
# or it came straight from the driver's cursor
_RACES = ("UniqueViolation", "IntegrityError", "DeadlockDetected", "SerializationFailure")
# what the store rejects of a request's data (a value too long, text it cannot encode, a
# constraint), whether SQLAlchemy wrapped it or it came from the driver's cursor; an outage
# (a lost connection, a timeout) is none of these: the batch is refused whole, and retried
# by its clients
_REJECTED = (
    sqlalchemy.exc.DataError,
    sqlalchemy.exc.IntegrityError,
    psycopg.DataError,
    psycopg.IntegrityError,
    sqlite3.DataError,
    sqlite3.IntegrityError,
    UnicodeError,
    orjson.JSONEncodeError,
)


def _lost_race(exc: Exception) -> bool:
    return type(getattr(exc, "orig", None) or exc).__name__ in _RACES


def _after_failure(exc: Exception, size: int, again: bool) -> str:
    """What a failed batch of `size` does next: "alone" — each request settled again on its
    own (a lost race: its prefetch then sees what won; a rejection: only the rejected one
    fails); "refuse" — the one request the store rejects is refused; "raise"."""
    if _lost_race(exc) and again:
        return "alone"
    if isinstance(exc, _REJECTED):
        return "alone" if size > 1 else "refuse"
    return "raise"


def _store_refused(exc: Exception) -> InputError:
    """The store rejected a request's data after every check passed: named by the error's
    class and SQLSTATE, never its text (which quotes the data)."""
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    kind = type(orig).__name__ + (f" {state}" if state else "")
    return InputError("(request)", f"the store could not record it ({kind})")


def _screened(requests: list[Request]) -> tuple[list, list[int]]:
    """Each request's answer where it is refused before the batch (ids the store cannot
    hold: they would fail the batch's one prefetch for every request in it), and the
    indices of the requests admitted to the batch."""
    answers: list = [None] * len(requests)
    admitted = []
    for i, request in enumerate(requests):
        answers[i] = _inadmissible(*request)
        if answers[i] is None:
            admitted.append(i)
    return answers, admitted


def _inadmissible(txn_id: object, member_id: object, visit: object) -> InputError | None:
    try:
        check_text(txn_id, "txn_id", TEXT_MAX)
        check_text(member_id, "member_id", ID_MAX)
        if isinstance(visit, dict):
            for key, most in (("institution", ID_MAX), ("id", TEXT_MAX)):
                if visit.get(key) is not None:
                    check_text(visit[key], f"visit.{key}", most)
    except InputError as exc:
        return exc
    return None


@contextmanager
def _prefetched(conn: Connection, requests: list[Request]) -> Iterator[Driver]:
    with Driver(conn) as sql:
        sql.prefetch(_prefetch_keys(requests))
        yield sql


def _prefetch_keys(requests: list[Request]) -> list[Key]:
    return [(str(t), str(m), _institution_code(v), _visit_id(v)) for t, m, v in requests]


def presettle(db: Engine, member_id: str, visit: object) -> Settled:
    """What settling would give now (the platform's 2206): the same path as `settle`, in a
    transaction that is rolled back, so nothing is written."""
    txn_id = f"presettle:{uuid.uuid4().hex}"
    refused = _inadmissible(txn_id, member_id, visit)
    if refused is not None:
        raise refused
    with db.connect() as conn:
        trans = conn.begin()
        try:
            with _prefetched(conn, [(txn_id, member_id, visit)]) as sql:
                answer = _settle_one(sql, txn_id, member_id, visit)
        except _REJECTED as exc:
            raise _store_refused(exc) from None
        finally:
            trans.rollback()
    return answer.as_presettlement()


def _settle_or_refuse(sql: Driver, txn_id: str, member_id: str, visit: object):
    try:
        return _settle_one(sql, txn_id, member_id, visit)
    except (InputError, LateClaim) as exc:
        return exc


def _settle_one(sql: Driver, txn_id: str, member_id: str, document: object) -> Settled:
    request, digest = _request(member_id, document)
    row = sql.members.get(member_id)
    if row is None:
        raise InputError("member_id", f"unknown member {member_id}", "E_NOT_FOUND")
    if txn_id in sql.withdrawn:
        raise InputError("txn_id", f"{txn_id} was reversed before it arrived", "E_TXN_REVERSED")
    if row.status != "active":
        raise InputError("member_id", f"member {member_id} is {row.status}", "E_MEMBER_CLOSED")
    done = sql.done.get(txn_id)
    if done is not None:
        if done.payload_hash != digest:
            raise InputError(
                "txn_id", f"{txn_id} was used for a different request", "E_TXN_CONFLICT"
            )
        return done.result
    pack = policy.load_region(row.region)
    code = _institution_code(request["visit"])
    known = sql.institutions.get(code) if code else None
    v, as_settled = _visit(request["visit"], known, row.region)
    tables = check_visit(pack, "visit", v)
    _not_in_the_future(v.time)
    first = _paid_already(sql, v, digest)
    if first is not None:
        return first
    late = _is_late(row, v)
    if late and not sql.reads:
        raise LateClaim  # the writer settles the request alone: it knows which
    version_index = pack.version_index_on(v.time.date())
    version = pack.versions[version_index]
    member, profile = _member_for(row.region, id(pack), row.profile, version_index)
    visit = engine_visit(v, catalogue.sample() if v.items else None)
    state = M.state_of(row)
    start = _late_start(sql, row, profile, v) if late else state
    result, after = engine.settle(tables, member, start, visit)
    check_pools(start.slots, after.slots, result.fund_pay)  # the caps count every fen
    use = use_of(start, after, month_of(v.time))
    new_state = plus(state, use, 1).with_balance(after.account_balance) if late else after
    holder, aid, aid_rule = _mutual_aid(sql, row, v, result)
    out = _answer(txn_id, v, visit, result, tables, aid_rule, holder, aid)
    out = _marked(out, version, late, known.region if known else row.region, row.region)
    moves = [
        (Chart.institution.of(v.institution), result.total),
        (Chart.fund.of(row.region), -result.fund_pay),
        (Chart.account.of(row.id), -result.account_pay),
        (Chart.account.of(holder), -aid),
        (Chart.cash.of(row.id), aid - result.cash_pay),
    ]
    # what `gongji db check` replays: the visit as settled (the registry's values filled
    # in) and the member record it was settled with; payload_hash keeps the request's digest
    stored = orjson.dumps({"member_id": row.id, "visit": as_settled, "record": profile}).decode()
    last = max(v.time, row.last_visit or v.time)
    sql.write(
        row, txn_id, v.institution, v.id, v.time, digest, stored, out, moves, start, new_state,
        use, last,
    )  # fmt: skip
    if late and state.year > use.year:
        sql.add_to_year(row.id, use)  # a claim for a closed year
    return out


def _paid_already(sql: Driver, v: VisitIn, digest: str) -> Settled | None:
    """A visit (institution and visit id) is paid once: the same request again under a new
    transaction id gets the first answer; another request for it is refused."""
    paid = sql.visits.get((v.institution, v.id))
    if paid is None:
        return None
    if paid.payload_hash == digest:
        return paid.result
    if v.manual:  # XSBN-28: an invoice number is unique at the institution that issued it
        raise InputError(
            "visit.id",
            f"invoice {v.id} of {v.institution} is paid already (transaction {paid.txn_id})",
            "E_INVOICE_CLAIMED",
        )
    raise InputError(
        "visit.id",
        f"visit {v.id} at {v.institution} is paid already (transaction {paid.txn_id})",
        "E_VISIT_SETTLED",
    )


def _is_late(row, v: VisitIn) -> bool:
    """A visit dated before the member's last settlement, or before the month the member's
    state is in (a later settlement cancelled), is a late claim: it settles against its own
    year's and month's accumulators, which the batch reads (engine/use.py)."""
    if row.last_visit is not None and v.time < row.last_visit:
        return True
    return row.state[L.S_YEAR] != 0 and month_of(v.time) < row.state[L.S_MONTH]


def _marked(out: Settled, version: Version, late: bool, where: str, region: str) -> Settled:
    """The answer marked late, and remote where the registry places the institution in
    another region (the version's remote rule first in its trace)."""
    if late:
        out = replace(out, late=True)
    if where != region:
        rule = _remote_rule(version)
        steps = (Step(rule, 0),) if rule else ()
        out = replace(out, remote_region=where, trace=(*steps, *out.trace))
    return out


class LateClaim(Exception):
    """A late claim in a batch over the service's async connection, which reads nothing
    beyond its prefetch: the writer settles it on its own (`settle_many`)."""


def _late_start(sql: Driver, row, profile: dict, v: VisitIn) -> engine.YearState:
    # and the end of the year before: a deductible window opened then may run into this
    # year (NY-5a), up to the longest window a pack may have
    rows = sql.settlements_in(row.id, v.time.year, timedelta(hours=MAX_WINDOW_HOURS))
    return late_start(row.region, rows, profile, row.account_balance, v.time, v.institution)


# Visit times are local time where the region is (China Standard Time, as HIS clients send
# them), whatever zone the server runs in. A client's clock may run ahead of ours by up to
# CLOCK_SKEW (GONGJI_CLOCK_SKEW seconds); a visit later than that has not happened yet, and
# settling it would put every real visit of the member before it.
LOCAL_TIME = ZoneInfo("Asia/Shanghai")
CLOCK_SKEW = timedelta(seconds=int(os.environ.get("GONGJI_CLOCK_SKEW", "300")))


def _not_in_the_future(when: datetime) -> None:
    latest = datetime.now(LOCAL_TIME).replace(tzinfo=None) + CLOCK_SKEW
    if when > latest:
        raise InputError(
            "visit.time",
            f"{when:%Y-%m-%dT%H:%M:%S} is later than now ({latest - CLOCK_SKEW:%Y-%m-%dT%H:%M:%S}"
            f" China Standard Time, {int(CLOCK_SKEW.total_seconds())} s of clock difference"
            " allowed)",
            "E_VISIT_FUTURE",
        )


def _institution_code(document: object) -> str | None:
    code = document.get("institution") if isinstance(document, dict) else None
    return None if code is None else str(code)


def _visit_id(document: object) -> str | None:
    vid = document.get("id") if isinstance(document, dict) else None
    return None if vid is None else str(vid)


# distinct (record, version) pairs kept: the members settling within a while (a city's
# active members in an hour); at 4,096 a load cycling over 5,000 members missed every time
MEMBERS_CACHED = 65_536


@lru_cache(maxsize=MEMBERS_CACHED)
def _member_for(region: str, _pack_id: int, text: str, version: int) -> tuple[engine.Member, dict]:
    """The engine's member from the stored record (JSON text) under one version of the
    region's pack (the pack object's id in the key: a reloaded pack is a new one), made once
    per distinct record and version: members settle again and again."""
    pack = policy.load_region(region)
    document = orjson.loads(text)
    # a record stored before a check was tightened is refused for its own request (naming
    # its field), not failed with its whole batch
    record = validated(MemberIn, document, "member")
    return engine_member(pack, record, pack.versions[version].valid_from), document


def _visit(document: object, known, region: str) -> tuple[VisitIn, object]:
    """The visit as sent, with what the registry knows of its institution: a registered
    institution's level, designation and kind come from the registry (a visit may leave them
    out and must not contradict them); a local visit must name a registered institution.
    Care at an institution the registry places in another region than the member's is remote
    care, whatever the request says (KF-22 and its peers then apply)."""
    local = isinstance(document, dict) and document.get("remote") is not True
    if known is None and local and "institution" in document:
        raise _unregistered(document["institution"])
    if known is not None and isinstance(document, dict):
        document = dict(document)
        for field, value in (
            ("level", known.level),
            ("designated", known.designated),
            ("agreement", known.agreement),
            ("internet", known.kind == "internet"),
        ):
            given = document.setdefault(field, value)
            if given != value:
                raise InputError(
                    f"visit.{field}",
                    f"institution {document['institution']} is registered with {field} {value},"
                    f" not {given}",
                    "E_INSTITUTION_MISMATCH",
                )
        if known.region != region:
            document["remote"] = True
    v = validated(VisitIn, document, "visit")
    if known is None and not v.remote:
        raise _unregistered(v.institution)
    return v, document


def _remote_rule(version: Version) -> str | None:
    """The rule that governs remote general outpatient care in a version: its filing or
    online-settlement condition (the trace cites it where the registry made a visit remote)."""
    remote = (Condition.remote_filing, Condition.remote_direct_settlement)
    conditions = version.general.eligibility
    return next((e.rule_for() for e in conditions if e.applies and e.condition in remote), None)


def _unregistered(code: object) -> InputError:
    return InputError("visit.institution", f"institution {code} is not registered", "E_NOT_FOUND")


def _mutual_aid(
    sql: Driver, row, v: VisitIn, result: engine.Result
) -> tuple[str | None, int, Cited | None]:
    """Family mutual aid (XSBN-24, KF-17, ...): what the user's own account could not pay of
    the in-scope share — all of it where the user has no account — is drawn from the account
    of a holder the user is bound to on the visit's day, where the holder's pack allows it:
    the first, in the order they bound the user, whose account is open and holds money. A
    user who pays in cash this time, or a visit where no account may pay (not designated),
    draws on no holder either. The batch's prefetch locked user and holders in id order."""
    unpaid = account_rules.unpaid_in_scope(result.in_scope, result.fund_pay, result.account_pay)
    if unpaid <= 0 or not v.use_account or not v.agreement:
        return None, 0, None
    day = v.time.date()
    for holder_id in sql.holders(row.id, day):
        holder = sql.members[holder_id]
        version = policy.load_region(holder.region).version_on(day)
        rule = None if version is None else version.family
        if holder.status != "active" or holder.account_balance <= 0 or rule is None:
            continue  # closed (its bindings ended with it), empty, or no family use that day
        aid = account_rules.mutual_aid(unpaid, holder.account_balance)
        sql.move(holder, -aid)
        return holder_id, aid, rule
    return None, 0, None


def cancel(db: Engine, txn_id: str, cancel_id: str | None = None) -> dict:
    """Cancel a settlement, in any order: a compensating entry, and the member's year given
    back exactly what the settlement consumed (fund pay of the year and, in the same month,
    of the month; the deductible met; the items' yearly deductibles; the window it opened).
    Settlements made after it stand as they were paid. A holder's account that paid by
    mutual aid gets its amount back.

    `cancel_id`: the cancellation's own transaction id (the national 2208's), kept with the
    settlement. The answer then also gives the id the cancellation is known by (the first
    one given: a retry, even under a new id, gets the same cancellation back) and the
    member's account balance after it. An id withdrawn (2601) before it arrived is refused,
    and so is one already naming another settlement's cancellation.
    """
    with db.begin() as conn:
        found = conn.execute(select(settlements).where(settlements.c.txn_id == txn_id)).first()
        if found is None:
            raise InputError("txn_id", f"no settlement {txn_id}", "E_NOT_FOUND")
        M.lock_all(conn, _holders_of(found))
        row = M.lock(conn, found.member_id)
        if cancel_id is None:
            return _cancel_locked(conn, row, found.id, txn_id)
        _check_cancel_id(conn, cancel_id, found.id)
        done = _cancel_locked(conn, row, found.id, txn_id, cancel_id)
        known = conn.execute(
            select(settlements.c.cancel_txn_id).where(settlements.c.id == found.id)
        ).scalar_one()
        balance = conn.execute(
            select(members.c.account_balance).where(members.c.id == found.member_id)
        ).scalar_one()
        return {**done, "cancel_id": known, "account_balance": fmt(balance)}


def _check_cancel_id(conn: Connection, cancel_id: str, settlement_id: int) -> None:
    """A cancellation's id, under the member's lock: not withdrawn before it arrived, and
    not the id of another settlement's cancellation."""
    if conn.execute(
        select(withdrawn_txns.c.txn_id).where(withdrawn_txns.c.txn_id == cancel_id)
    ).first():
        raise InputError(
            "cancel_id", f"{cancel_id} was reversed before it arrived", "E_TXN_REVERSED"
        )
    other = conn.execute(
        select(settlements.c.txn_id).where(
            settlements.c.cancel_txn_id == cancel_id, settlements.c.id != settlement_id
        )
    ).first()
    if other is not None:
        raise InputError(
            "cancel_id", f"{cancel_id} cancelled another settlement already", "E_TXN_CONFLICT"
        )


def withdraw_cancellation(db: Engine, cancel_id: str, member_id: str) -> dict:
    """Reverse a cancellation whose answer was lost (the platform's 2601 of a 2208). One that
    was made stands: the ledger cannot restore a cancelled settlement (its year's
    accumulators and the account have moved on since, and settlements made after it were
    paid against them), so the reversal is refused (E_CANCEL_FINAL) and the visit is to be
    settled again. One that has not arrived is withdrawn: refused if it arrives later.
    Under the member's lock, as the cancellation of the member's settlement is; repeating it
    changes nothing."""
    with db.begin() as conn:
        M.lock(conn, member_id)
        made = conn.execute(
            select(settlements.c.txn_id).where(settlements.c.cancel_txn_id == cancel_id)
        ).first()
        if made is not None:
            raise InputError(
                "cancel_id",
                f"{cancel_id} cancelled settlement {made.txn_id}: a cancellation stands (the"
                " ledger cannot restore a cancelled settlement); settle the visit again",
                "E_CANCEL_FINAL",
            )
        gone = conn.execute(
            select(withdrawn_txns.c.txn_id).where(withdrawn_txns.c.txn_id == cancel_id)
        ).first()
        if gone is None:
            conn.execute(insert(withdrawn_txns).values(txn_id=cancel_id, at=datetime.now()))
    return {"txn_id": cancel_id, "reversed": True, "cancelled": False}


def reverse(db: Engine, txn_id: str, member_id: str) -> dict:
    """Reverse a transaction whose answer was lost (the platform's 2601): a settlement under
    `txn_id` is cancelled; one that has not arrived is withdrawn, so it is refused if it
    arrives later. Under the member's lock, so it cannot cross a settlement in flight;
    repeating it changes nothing."""
    with db.begin() as conn:
        found = conn.execute(select(settlements).where(settlements.c.txn_id == txn_id)).first()
        if found is not None and found.member_id == member_id:
            M.lock_all(conn, _holders_of(found))
        row = M.lock(conn, member_id)
        if found is not None:
            if found.member_id != member_id:
                raise InputError("member_id", f"{txn_id} is not {member_id}'s", "E_NOT_FOUND")
            return {**_cancel_locked(conn, row, found.id, txn_id), "reversed": True}
        gone = conn.execute(
            select(withdrawn_txns.c.txn_id).where(withdrawn_txns.c.txn_id == txn_id)
        ).first()
        if gone is None:
            conn.execute(insert(withdrawn_txns).values(txn_id=txn_id, at=datetime.now()))
    return {"txn_id": txn_id, "reversed": True, "settled": False}


def _cancel_locked(
    conn: Connection, row, settlement_id: int, txn_id: str, cancel_id: str | None = None
) -> dict:
    s = conn.execute(select(settlements).where(settlements.c.id == settlement_id)).one()
    if s.cancel_entry_id is not None:
        if cancel_id is not None and s.cancel_txn_id is None:  # cancelled over REST or 2601
            _name_cancellation(conn, s.id, cancel_id)
        return {"txn_id": txn_id, "cancelled": True}
    state = M.state_of(row)
    if state.year > s.visit_time.year:
        raise InputError(
            "txn_id", f"{s.visit_time.year} is closed (year rollover)", "E_YEAR_CLOSED"
        )
    use = use_of_row(row.region, s, row.profile)
    moves = [(_back_to(conn, a, s.member_id), -n) for a, n in legs_of(conn, s.entry_id)]
    entry_id = post(conn, "cancel", txn_id, moves, reverses=s.entry_id)
    conn.execute(
        update(settlements).where(settlements.c.id == s.id).values(cancel_entry_id=entry_id)
    )
    if cancel_id is not None:
        _name_cancellation(conn, s.id, cancel_id)
    # the account as it is now (crediting may have come in between) plus what the settlement
    # took from it; the accumulators less what it consumed
    refund = dict(moves)
    balance = state.account_balance + refund.get(Chart.account.of(s.member_id), 0)
    restored = plus(state, use, -1).with_balance(balance)
    latest = conn.execute(
        select(func.max(settlements.c.visit_time)).where(
            settlements.c.member_id == s.member_id, settlements.c.cancel_entry_id.is_(None)
        )
    ).scalar()
    M.save_visit(conn, s.member_id, restored, as_time(latest))
    for account, amount in moves:
        holder = Chart.account.key(account)
        if holder is not None and holder != s.member_id:
            M.move_balance(conn, M.lock(conn, holder), amount)  # open: _back_to
    return {"txn_id": txn_id, "cancelled": True, "returned": _returned(use, refund, s)}


def _name_cancellation(conn: Connection, settlement_id: int, cancel_id: str) -> None:
    conn.execute(
        update(settlements).where(settlements.c.id == settlement_id).values(cancel_txn_id=cancel_id)
    )


def _holders_of(s) -> set[str]:
    """The member of a settlement and the holder whose account paid by mutual aid: locked
    together, in id order, before a cancellation moves money back to both."""
    holder = from_json(s.result).get("holder")
    return {s.member_id} | ({holder} if holder else set())


def _back_to(conn: Connection, account: str, member_id: str) -> str:
    """Where a cancelled settlement's money goes back: the account it came from, unless that
    is a holder's account closed since (death, transfer, refund) — then where its balance
    went on closing, so the holder's heirs or new region get the aid back, not a closed
    account."""
    holder = Chart.account.key(account)
    if holder is None or holder == member_id:  # the member's own: locked, so open
        return account
    closed_to = conn.execute(select(members.c.closed_to).where(members.c.id == holder)).scalar_one()
    return account if closed_to is None else closed_to


def _returned(use: Use, refund: dict[str, int], s) -> dict:
    """What the cancellation gave back, for its answer: the money to each account and what
    the member's year had counted of the visit."""
    fund = sum(a for k, a in refund.items() if k.startswith(Chart.fund.prefix))
    pools = [L.POOL_NAMES[p] for p in range(L.N_POOLS) if any(use.pool(p))]
    return {
        "fund_pay": fmt(fund),
        "account_pay": fmt(refund.get(Chart.account.of(s.member_id), 0)),
        "counted": {
            name: {
                "annual": fmt(use.pool(L.pool_index(name))[0]),
                "monthly": fmt(use.pool(L.pool_index(name))[1]),
                "deductible_met": fmt(use.pool(L.pool_index(name))[2]),
            }
            for name in pools
        },
        "reading": "a cancellation gives back exactly what its settlement consumed; "
        "settlements made after it stand as they were paid",
    }


def _answer(
    txn_id: str,
    v: VisitIn,
    visit: engine.Visit,
    r: engine.Result,
    tables: engine.Tables,
    aid_rule: Cited | None,
    holder: str | None,
    aid: int,
) -> Settled:
    """The answer: amounts, and the trace as rule IDs with amounts (plus the engine's
    records, from which `explain_answer` renders the words for people)."""
    trace = tuple(Step(s.rule, s.amount) for s in engine.explain(tables, r, False))
    if holder is not None:
        trace += (Step(aid_rule.rule_for(), aid),)
    return Settled(
        txn_id=txn_id,
        visit_id=v.id,
        institution=v.institution,
        time=v.time.isoformat(),
        total=r.total,
        in_scope=r.in_scope,
        deductible=r.deductible,
        fund_pay=r.fund_pay,
        account_pay=r.account_pay,
        account_balance=r.account_balance,
        out_of_scope=visit.out_of_scope,
        above_standard=visit.above_standard,
        class_b_self_pay=visit.class_b_self_pay,
        cash_pay=r.cash_pay - aid,
        policy_version=r.version_id,
        member_class=r.member_class.value,
        trace=trace,
        trace_records=tuple(r.trace),
        holder=holder,
        mutual_aid_pay=aid,
    )


def explain_answer(answer: Settled, lang: str = "zh") -> list[dict]:
    """A settlement's trace with each step's article and words, for people (`lang`: "zh",
    the default, or "en")."""
    region, _, _ = answer.policy_version.partition("@")
    pack = policy.load_region(region)
    tables = next(t for t in engine.compile_pack(pack) if t.version_id == answer.policy_version)
    klass = MemberClass(answer.member_class)
    steps = engine.explain_records(tables, klass, answer.trace_records, lang=lang)
    out = [
        {"rule": s.rule, "article": s.article, "text": s.text, "amount": fmt(s.amount)}
        for s in steps
    ]
    words = ANSWER_WORDS[lang]
    if answer.late:
        out.insert(0, {"rule": "X-1", "text": words["late"], "amount": fmt(0)})
    if answer.remote_region is not None:
        text = words["remote"].format(
            institution=answer.institution,
            there=label(answer.remote_region, lang),
            here=label(region, lang),
        )
        rule = _remote_rule(pack.version_on(date.fromisoformat(answer.time[:10])))
        out.insert(0, {"rule": rule, "text": text, "amount": fmt(0)})
    if answer.holder is not None:
        aid = fmt(answer.mutual_aid_pay)
        text = words["aid"].format(holder=answer.holder, aid=aid)
        out.append({"rule": answer.trace[-1].rule, "text": text, "amount": aid})
    return out


def proc_info(answer: Settled) -> str:
    """The national answer's setl_proc_info: each step's rule ID and amount, as machines
    have read them, then its words in Chinese ("KF-9a 50.00 三级每次就诊起付线 50.00; ...")."""
    return "; ".join(f"{s['rule']} {s['amount']} {s['text']}" for s in explain_answer(answer))


# the steps an answer adds to the engine's trace, a language
ANSWER_WORDS = {
    "zh": {
        "late": "补结算：就诊日期早于该参保人最近一次结算，按就诊当年、当月的累计额结算",
        "remote": "异地就医：机构 {institution} 登记在{there}，不在{here}",
        "aid": "个人账户共济：授权人 {holder} 的个人账户支付 {aid}",
    },
    "en": {
        "late": "settled late: the visit is dated before the member's last settlement;"
        " it was settled against its own year's and month's accumulators as they"
        " stood when it arrived",
        "remote": "remote care: institution {institution} is registered in {there}, not in {here}",
        "aid": "account mutual aid: the holder {holder}'s account pays {aid}",
    },
}


def _request(member_id: str, visit: object) -> tuple[dict, str]:
    """The request in canonical JSON form (keys sorted, compact; dates as ISO text, decimals
    as text, so a retry read from YAML hashes as one read from JSON) and its digest."""

    def encode(value: object) -> str:
        if isinstance(value, Decimal):
            return str(value)
        raise TypeError(f"not JSON: {type(value).__name__}")

    try:
        text = orjson.dumps(
            {"member_id": member_id, "visit": visit}, default=encode, option=orjson.OPT_SORT_KEYS
        )
    except TypeError as exc:
        raise InputError("visit", str(exc)) from None
    return orjson.loads(text), hashlib.sha256(text).hexdigest()
