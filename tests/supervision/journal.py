"""Sums of journal legs made apart from the reports under test: plain SQL over the legs,
classified here in Python, to check the reports against to the fen."""

import json
from collections import defaultdict

from sqlalchemy import text

AMOUNTS = ("total", "fund_pay", "account_pay", "mutual_aid_pay", "cash_pay")

# each settlement's legs, of its own entry and of its cancellation's
_SETTLED = (
    "SELECT l.account, l.amount, s.member_id, s.institution, s.visit_time, s.request"
    " FROM settlements s"
    " JOIN journal_legs l ON l.entry_id = s.entry_id OR l.entry_id = s.cancel_entry_id"
)


def settled_legs(db) -> list:
    with db.connect() as conn:
        return conn.execute(text(_SETTLED)).all()


def statement_sums(db, code: str, begin: str, end: str, legs: list | None = None) -> dict:
    """The legs of the settlements at `code` with visits from `begin` up to `end` (of
    `legs`, the store's `settled_legs` read once, where given)."""
    sums = dict.fromkeys(AMOUNTS, 0)
    for leg in settled_legs(db) if legs is None else legs:
        if leg.institution != code or not begin <= _day(leg.visit_time) < end:
            continue
        kind, _, owner = leg.account.partition(":")
        if kind == "institution":
            sums["total"] += leg.amount
        elif kind == "fund":
            sums["fund_pay"] -= leg.amount
        elif kind == "account":
            sums["account_pay" if owner == leg.member_id else "mutual_aid_pay"] -= leg.amount
        elif kind == "cash":
            sums["cash_pay"] -= leg.amount
    return sums


def region_members(db, region: str) -> set[str]:
    with db.connect() as conn:
        rows = conn.execute(text("SELECT id FROM members WHERE region = :r"), {"r": region})
        return {r.id for r in rows}


def visit_flows(db, region: str) -> dict[str, dict]:
    """By the month of the visit: the fund's pay (and by level), the region's members' own
    accounts' pay and the region's holders' mutual aid."""
    people = region_members(db, region)
    out: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for leg in settled_legs(db):
        month = _day(leg.visit_time)[:7]
        kind, _, owner = leg.account.partition(":")
        if leg.account == f"fund:{region}":
            out[month]["fund_pay"] -= leg.amount
            out[month][_request(leg.request)["visit"]["level"]] -= leg.amount
        elif kind == "account" and owner in people:
            use = "visits" if owner == leg.member_id else "mutual_aid"
            out[month][use] -= leg.amount
    return out


def linked_legs(db, table: str) -> list[tuple[str, str, int]]:
    """(month, account, amount) of the legs of the entries a credit or a contribution
    records, by the month it is for."""
    sql = text(
        f"SELECT t.month, l.account, l.amount FROM {table} t"
        " JOIN journal_legs l ON l.entry_id = t.entry_id"
    )
    with db.connect() as conn:
        return [(_day(m)[:7], a, n) for m, a, n in conn.execute(sql)]


def balance(db, accounts: set[str]) -> int:
    with db.connect() as conn:
        rows = conn.execute(text("SELECT account, amount FROM journal_legs")).all()
    return sum(amount for account, amount in rows if account in accounts)


def _day(value) -> str:
    return str(value)[:10]


def _request(value) -> dict:
    return json.loads(value) if isinstance(value, str) else value
