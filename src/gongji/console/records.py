"""What the console's office pages read from the store: the region a home page opens on, the
latest month settled, settlements found by date, institution, member or transaction, the
family bindings and the service's credentials. Read-only; the pages (office.py) write
through the ledger's and the service's own functions."""

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, select

from gongji import policy
from gongji.ledger import store, views
from gongji.ledger.answer import Settled
from gongji.ledger.schema import credentials, family_bindings, institutions, members, settlements

FOUND_MAX = 200  # settlements a search shows at most (the newest)


def home_region(db: Engine) -> str:
    """The region of the latest settled visit; else the first region with members; else
    the first pack's (a new store)."""
    with store.snapshot(db) as conn:
        latest = conn.execute(
            select(members.c.region)
            .join(settlements, settlements.c.member_id == members.c.id)
            .order_by(settlements.c.visit_time.desc())
            .limit(1)
        ).scalar()
    return latest or next(iter(views.regions(db)), None) or policy.known_regions()[0]


def latest_month(db: Engine) -> str:
    """The month (YYYY-MM) of the latest settled visit; "" when nothing is settled yet."""
    latest = views.latest_visit_time(db)
    return f"{latest:%Y-%m}" if latest else ""


@dataclass(frozen=True)
class Found:
    """A settlement as a search lists it and its detail page shows it."""

    txn_id: str
    member_id: str
    institution: str
    institution_name: str | None
    visit_time: datetime
    answer: Settled
    cancelled: bool
    manual: bool  # a manual reimbursement (XSBN-28), entered from an invoice
    region: str


@dataclass(frozen=True)
class Search:
    begin: date | None = None
    end: date | None = None  # the last day, included
    institution: str = ""
    member_id: str = ""
    txn_id: str = ""


def _query():
    return select(
        settlements.c.txn_id,
        settlements.c.member_id,
        settlements.c.institution,
        institutions.c.name.label("institution_name"),
        settlements.c.visit_time,
        settlements.c.result,
        settlements.c.request,
        settlements.c.cancel_entry_id,
        members.c.region,
    ).select_from(
        settlements.join(members, members.c.id == settlements.c.member_id).outerjoin(
            institutions, institutions.c.code == settlements.c.institution
        )
    )


def search(db: Engine, given: Search) -> list[Found]:
    """The settlements that match every condition given, newest visit first."""
    query = _query()
    if given.begin:
        query = query.where(settlements.c.visit_time >= given.begin)
    if given.end:
        query = query.where(settlements.c.visit_time < given.end + timedelta(days=1))
    for column, value in (
        (settlements.c.institution, given.institution),
        (settlements.c.member_id, given.member_id),
        (settlements.c.txn_id, given.txn_id),
    ):
        if value:
            query = query.where(column == value)
    query = query.order_by(settlements.c.visit_time.desc(), settlements.c.id.desc())
    with store.snapshot(db) as conn:
        return [_found(r) for r in conn.execute(query.limit(FOUND_MAX))]


def one(db: Engine, txn_id: str) -> Found | None:
    with store.snapshot(db) as conn:
        row = conn.execute(_query().where(settlements.c.txn_id == txn_id)).first()
    return None if row is None else _found(row)


def _found(row) -> Found:
    request = json.loads(row.request) if isinstance(row.request, str) else row.request or {}
    manual = bool((request.get("visit") or {}).get("manual"))
    return Found(
        row.txn_id,
        row.member_id,
        row.institution,
        row.institution_name,
        row.visit_time,
        Settled.from_document(row.result),
        row.cancel_entry_id is not None,
        manual,
        row.region,
    )


def bindings(db: Engine, limit: int = 500) -> list:
    """Family bindings, the latest made first."""
    query = select(family_bindings).order_by(family_bindings.c.id.desc()).limit(limit)
    with store.snapshot(db) as conn:
        return conn.execute(query).all()


def credentials_issued(db: Engine) -> list:
    """Every credential, the newest first: never its token (kept only as a hash) nor its
    secret (shown once, when issued)."""
    c = credentials.c
    query = select(c.id, c.institution, institutions.c.name, c.label, c.created_at,
                   c.revoked_at, c.paasid).outerjoin(
        institutions, institutions.c.code == c.institution
    ).order_by(c.id.desc())  # fmt: skip
    with store.snapshot(db) as conn:
        return conn.execute(query).all()
