"""What the front ends look up (the CLI, the service, the console): a member with their
yearly accumulators, an account with its journal, settlements by transaction id or by
institution. Read-only."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, or_, select

from gongji.engine import layout as L
from gongji.errors import InputError
from gongji.ledger import members as M
from gongji.ledger import store
from gongji.ledger.answer import Settled
from gongji.ledger.chart import Chart
from gongji.ledger.schema import (
    entries,
    family_bindings,
    legs,
    members,
    premiums,
    settlements,
    year_accumulators,
)
from gongji.model import IDENTITY_FIELDS
from gongji.money import to_yuan


def regions(db: Engine) -> list[str]:
    """The regions whose members the store holds."""
    with store.snapshot(db) as conn:
        query = select(members.c.region).distinct().order_by(members.c.region)
        return list(conn.execute(query).scalars())


def latest_visit_time(db: Engine) -> datetime | None:
    """The time of the latest visit settled, if any."""
    with store.snapshot(db) as conn:
        return conn.execute(select(func.max(settlements.c.visit_time))).scalar()


def member_show(db: Engine, member_id: str) -> dict:
    with store.snapshot(db) as conn:
        row = _row(conn, member_id)
        state = M.state_of(row)
        bindings = conn.execute(
            select(family_bindings).where(
                or_(
                    family_bindings.c.holder_id == member_id, family_bindings.c.user_id == member_id
                )
            )
        ).all()
        past = conn.execute(
            select(year_accumulators)
            .where(year_accumulators.c.member_id == member_id)
            .order_by(year_accumulators.c.year, year_accumulators.c.pool)
        ).all()
    pools = {}
    for name in L.POOL_NAMES:
        use = state.pool(name)
        if use.annual or use.monthly or use.deductible_met:
            pools[name] = {
                "fund_paid": to_yuan(use.annual),
                "fund_paid_this_month": to_yuan(use.monthly),
                "deductible_met": to_yuan(use.deductible_met),
            }
    return {
        "id": row.id,
        "region": row.region,
        "status": row.status,
        "record": row.profile,
        "identity": identity(row),
        "account_balance": to_yuan(row.account_balance),
        "frozen": to_yuan(row.frozen),
        "year": state.year or None,
        "accumulators": pools,
        "earlier_years": [
            {
                "year": p.year,
                "pool": p.pool,
                "fund_paid": to_yuan(p.fund_paid),
                "deductible_met": to_yuan(p.deductible_met),
            }
            for p in past
        ],
        "family": [
            {
                "role": "holder" if b.holder_id == member_id else "user",
                "other": b.user_id if b.holder_id == member_id else b.holder_id,
                "relationship": b.relationship,
                "from": b.valid_from.isoformat(),
                "to": None if b.valid_to is None else b.valid_to.isoformat(),
            }
            for b in sorted(bindings, key=lambda b: b.id)
        ],
    }


def identity(row) -> dict:
    """A member row's identity as it was registered (model.IDENTITY_FIELDS; None: not
    recorded)."""
    shown = {name: getattr(row, name) for name in IDENTITY_FIELDS}
    if shown["birth_date"] is not None:
        shown["birth_date"] = shown["birth_date"].isoformat()
    return shown


# what 1101 finds a member by: the document number or the social security card's
LOOKUP = {"certno": members.c.certno, "card_no": members.c.card_no}


def members_with(db: Engine, key: str, value: str, most: int = 10) -> list[str]:
    """The ids of the members (closed ones too) whose `key` (certno, card_no) is `value`,
    in id order, at most `most` of them."""
    column = LOOKUP[key]
    query = select(members.c.id).where(column == value).order_by(members.c.id).limit(most)
    with store.snapshot(db) as conn:
        return list(conn.execute(query).scalars())


def member_exists(db: Engine, member_id: str) -> bool:
    query = select(members.c.id).where(members.c.id == member_id)
    with store.snapshot(db) as conn:
        return conn.execute(query).first() is not None


def account_show(db: Engine, member_id: str) -> dict:
    """The balance and every journal leg on the member's account and frozen amounts, and
    the premiums paid from it with whom each was for."""
    with store.snapshot(db) as conn:
        row = _row(conn, member_id)
        journal = conn.execute(
            select(
                entries.c.id,
                entries.c.kind,
                entries.c.txn_id,
                entries.c.created_at,
                entries.c.business_date,
                entries.c.reverses,
                legs.c.account,
                legs.c.amount,
            )
            .join(legs, legs.c.entry_id == entries.c.id)
            .where(legs.c.account.in_([Chart.account.of(member_id), Chart.frozen.of(member_id)]))
            .order_by(entries.c.id)
        ).all()
        paid = conn.execute(
            select(premiums).where(premiums.c.member_id == member_id).order_by(premiums.c.id)
        ).all()
    balance = 0
    lines = []
    for j in journal:
        if Chart.account.key(j.account) is not None:
            balance += j.amount
        lines.append(
            {
                "entry": j.id,
                "kind": j.kind,
                "txn_id": j.txn_id,
                "at": j.created_at.isoformat(timespec="seconds"),  # when it was recorded
                **({"on": j.business_date.isoformat()} if j.business_date else {}),
                "account": j.account.partition(":")[0],  # its kind: account or frozen
                "amount": to_yuan(j.amount),
                "balance": to_yuan(balance),
                **({"reverses": j.reverses} if j.reverses else {}),
            }
        )
    return {
        "member": member_id,
        "account_balance": to_yuan(row.account_balance),
        "frozen": to_yuan(row.frozen),
        "journal": lines,
        "premiums": [_premium(p) for p in paid],
    }


def _premium(p) -> dict:
    """A premium paid from the account: for what, for whom (X-4, KF-17), how much, when."""
    return {
        "op_id": p.op_id,
        "on": p.paid_on.isoformat(),
        "purpose": p.purpose,
        "beneficiary": p.beneficiary,
        **({"relative": p.relative} if p.relative else {}),
        "amount": to_yuan(p.amount),
        "rule": p.rule,
        "entry": p.entry_id,
    }


def _row(conn, member_id: str):
    row = conn.execute(select(members).where(members.c.id == member_id)).first()
    if row is None:
        raise InputError("member_id", f"unknown member {member_id}", "E_NOT_FOUND")
    return row


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    """A settlement as the ledger keeps it: whose, where, its answer, and whether cancelled."""

    txn_id: str
    member_id: str
    institution: str
    answer: Settled
    cancelled: bool


def find_settlement(db: Engine, txn_id: str) -> SettlementRecord | None:
    with store.snapshot(db) as conn:
        row = conn.execute(_SETTLEMENTS.where(settlements.c.txn_id == txn_id)).first()
    return None if row is None else _record(row)


def settlement(db: Engine, txn_id: str, field: str = "txn_id") -> SettlementRecord:
    """The settlement made under `txn_id`; an InputError naming `field` if there is none."""
    found = find_settlement(db, txn_id)
    if found is None:
        raise InputError(field, f"no settlement {txn_id}", "E_NOT_FOUND")
    return found


def settlements_of(
    db: Engine, institution: str | None, limit: int, offset: int
) -> list[SettlementRecord]:
    """An institution's settlements (None: every institution's), newest first."""
    query = _SETTLEMENTS
    if institution is not None:
        query = query.where(settlements.c.institution == institution)
    query = query.order_by(settlements.c.id.desc()).limit(limit).offset(offset)
    with store.snapshot(db) as conn:
        return [_record(r) for r in conn.execute(query)]


_SETTLEMENTS = select(
    settlements.c.txn_id,
    settlements.c.member_id,
    settlements.c.institution,
    settlements.c.result,
    settlements.c.cancel_entry_id,
)


def _record(row) -> SettlementRecord:
    return SettlementRecord(
        row.txn_id,
        row.member_id,
        row.institution,
        Settled.from_document(row.result),
        row.cancel_entry_id is not None,
    )


# -- what the national platform's settlement answers tell beyond the answer (issue 18) -------
def member_identity(conn: Connection, member_id: str) -> dict:
    """The member as the national platform knows them: the identity columns (migration 0014;
    None where not recorded), the region and the member type."""
    row = _row(conn, member_id)
    return {
        **{key: getattr(row, key) for key in IDENTITY_FIELDS},
        "region": row.region,
        "type": row.profile.get("type"),
    }


def recorded_at(conn: Connection, txn_id: str) -> datetime | None:
    """When the settlement under `txn_id` was recorded: its journal entry's time."""
    return conn.execute(
        select(entries.c.created_at)
        .join(settlements, settlements.c.entry_id == entries.c.id)
        .where(settlements.c.txn_id == txn_id)
    ).scalar()


def active_settlement(db: Engine, institution: str, visit_id: str) -> str | None:
    """The transaction id of the visit's settlement at the institution, unless cancelled."""
    with store.snapshot(db) as conn:
        return conn.execute(
            select(settlements.c.txn_id).where(
                settlements.c.institution == institution,
                settlements.c.visit_id == visit_id,
                settlements.c.cancel_entry_id.is_(None),
            )
        ).scalar()
