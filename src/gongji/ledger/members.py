"""Members: adding them, locking one for an operation, and keeping its row in step.

A member's row holds the record the engine needs (profile: type, retirement, stays,
filings, arrears, benefit periods), the year-to-date engine state, and the balances the
journal implies. Every operation that changes a member locks its row first (SELECT ... FOR
UPDATE on PostgreSQL; on SQLite the transaction already holds the database's write lock).
"""

from datetime import date, datetime

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from gongji import engine, policy
from gongji.errors import InputError, validated
from gongji.ledger.chart import Chart
from gongji.ledger.journal import LedgerError, post
from gongji.ledger.schema import members
from gongji.model import MemberIn, engine_member, parse_identity, without_identity
from gongji.terms import MemberType

_SELECT = select(members).where(members.c.id == bindparam("b_id"))
_LOCK = {"postgresql": _SELECT.with_for_update()}
_SAVE = (
    update(members)
    .where(members.c.id == bindparam("b_id"))
    .values(state=bindparam("b_state"), account_balance=bindparam("b_balance"))
)
_SAVE_VISIT = _SAVE.values(last_visit=bindparam("b_last_visit"))


def add_member(db: Engine, region: str, document: object) -> str:
    with db.begin() as conn:
        return insert_member(conn, region, document)


def insert_member(conn: Connection, region: str, document: object, where: str = "member") -> str:
    """Validate a member record as `gongji calculate` does and add it with its opening
    balance (an account carried over from before the ledger, or transferred in). Its
    identity fields (model.IDENTITY_FIELDS: certno, name, ...) go to their own columns."""
    pack = policy.load_region(region)
    m = parse_member(without_identity(document), where)
    _check(pack, m, where)
    identity = parse_identity(document, where)
    if conn.execute(_SELECT, {"b_id": m.id}).first():
        raise InputError(f"{where}.id", f"member {m.id} exists already", "E_MEMBER_EXISTS")
    opening = m.account_balance or 0
    conn.execute(
        insert(members).values(
            id=m.id,
            region=region,
            **identity,
            opening_balance=opening,
            account_balance=opening,
            profile=m.model_dump(mode="json", by_alias=True, exclude_none=True),
            state=list(engine.YearState.new(opening).slots),
        )
    )
    post(
        conn,
        "opening",
        Chart.opening.of(m.id),
        [(Chart.account.of(m.id), opening), (Chart.opening.of(m.id), -opening)],
    )
    return m.id


def _check(pack, m: MemberIn, where: str) -> None:
    """The checks `gongji calculate` makes of a member, with the fields named from `where`."""
    try:
        engine_member(pack, m, pack.versions[0].valid_from)
    except InputError as exc:
        raise InputError(where + exc.field.removeprefix("member"), exc.reason, exc.code) from None


def parse_member(document: object, where: str = "member") -> MemberIn:
    return validated(MemberIn, document, where)


def lock(conn: Connection, member_id: str, field: str = "member_id"):
    """The member's row, locked for the rest of the transaction; closed members refused."""
    row = conn.execute(_LOCK.get(conn.dialect.name, _SELECT), {"b_id": member_id}).first()
    if row is None:
        raise InputError(field, f"unknown member {member_id}", "E_NOT_FOUND")
    if row.status != "active":
        raise InputError(field, f"member {member_id} is {row.status}", "E_MEMBER_CLOSED")
    return row


def lock_all(conn: Connection, member_ids: set[str]) -> None:
    """Lock several members' rows in id order, closed members included: the order the
    settlement batch takes them in (driver.PREFETCH_PG: by code point, COLLATE "C", which is
    Python's order of str), so the two never wait on each other in a cycle."""
    for member_id in sorted(member_ids):
        conn.execute(_LOCK.get(conn.dialect.name, _SELECT), {"b_id": member_id})


def state_of(row) -> engine.YearState:
    return engine.YearState(tuple(row.state))


def save(conn: Connection, member_id: str, state: engine.YearState) -> None:
    """Write the member's new state; its balance column follows the state's."""
    conn.execute(_SAVE, _params(member_id, state))


def save_visit(
    conn: Connection, member_id: str, state: engine.YearState, last_visit: datetime | None
) -> None:
    """As `save`, with the time of the member's latest active settlement (None after
    cancelling the only one)."""
    conn.execute(_SAVE_VISIT, {**_params(member_id, state), "b_last_visit": last_visit})


def check_balance(member_id: str, state: engine.YearState) -> None:
    """No personal account goes below zero (the store's CHECK says so too)."""
    if state.account_balance < 0:
        account = Chart.account.of(member_id)
        raise LedgerError(f"{account} would go below zero ({state.account_balance})")


def _params(member_id: str, state: engine.YearState) -> dict:
    check_balance(member_id, state)
    return {"b_id": member_id, "b_state": list(state.slots), "b_balance": state.account_balance}


def move_balance(conn: Connection, row, amount: int) -> engine.YearState:
    """Add `amount` (negative: take) to a locked member's account; the new state."""
    state = state_of(row)
    new = state.with_balance(state.account_balance + amount)
    save(conn, row.id, new)
    return new


def update_profile(conn: Connection, row, changes: dict, where: str = "member") -> MemberIn:
    """Change fields of a locked member's record, checked as a new record would be."""
    document = {**row.profile, **changes}
    m = parse_member(document, where)
    _check(policy.load_region(row.region), m, where)
    conn.execute(
        update(members)
        .where(members.c.id == row.id)
        .values(profile=m.model_dump(mode="json", by_alias=True, exclude_none=True))
    )
    return m


def retire(db: Engine, member_id: str, processed: date, retired_from: date | None = None) -> dict:
    """The retirement switch: the day retirement was processed, and the day retiree benefits
    start where it is known apart from it (KF-12/16: 从其享受退休人员医疗保障待遇之日起).
    Without it, the pack turns the processing day into the day benefits start (X-2); the
    month crediting switches follows from both (JMS-10b, KF-16, NY-11)."""
    changes = {"retirement_processed": processed.isoformat()}
    if retired_from is not None:
        changes["retired_from"] = retired_from.isoformat()
    with db.begin() as conn:
        row = lock(conn, member_id)
        m = MemberIn.model_validate(row.profile)
        if m.type is MemberType.retiree or m.retired_from or m.retirement_processed:
            raise InputError("member_id", f"member {member_id} is already retired", "E_RETIRED")
        update_profile(conn, row, changes)
    return {"member_id": member_id, **changes}
