"""A settlement's money as its journal legs say it.

A settlement's entry has a leg for each party: the institution is owed the total
(`institution:<code>`, +), and the fund (`fund:<region>`), the member's account
(`account:<member>`), a holder's account by mutual aid (`account:<holder>`) and the member's
cash (`cash:<member>`) pay it (-). A cancellation's entry reverses those legs. The reports
sum these legs, not the answers stored with the settlements, so they balance to the journal
by construction.
"""

from datetime import date, datetime, time, timedelta

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    String,
    Subquery,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    null,
    select,
    union_all,
)

from gongji.ledger.chart import Chart
from gongji.ledger.schema import legs, settlements

S = settlements.c


def entries(
    *where: ColumnElement, extra: tuple = (), entry_ids: tuple[int, int] | None = None
) -> Subquery:
    """The settlements matching `where`, one row per journal entry: the settlement's own and,
    once cancelled, its cancellation's (`undone` 1), whose legs net the first to nothing.
    `entry_ids` (after, through): only the entries with ids in that range. `extra` columns
    of the settlement ride along."""
    cols = (S.id.label("settlement_id"), S.institution, S.member_id, S.visit_time, *extra)
    made = select(*cols, S.entry_id.label("entry_id"), literal(0, Integer).label("undone"))
    undone = select(
        *cols, S.cancel_entry_id.label("entry_id"), literal(1, Integer).label("undone")
    ).where(S.cancel_entry_id.is_not(None))
    if entry_ids is not None:
        after, through = entry_ids
        made = made.where(S.entry_id > after, S.entry_id <= through)
        undone = undone.where(S.cancel_entry_id > after, S.cancel_entry_id <= through)
    return union_all(made.where(*where), undone.where(*where)).subquery("e")


def in_period(begin: date, end: date) -> tuple[ColumnElement, ...]:
    """Visits from `begin` to `end`, both days included."""
    after = datetime.combine(end + timedelta(days=1), time())
    return S.visit_time >= datetime.combine(begin, time()), S.visit_time < after


def whole_months(begin: date, end: date) -> list[str]:
    """The months ('YYYY-MM') lying wholly within begin..end."""
    out, first = [], begin.replace(day=1)
    while first <= end:
        following = (first + timedelta(days=32)).replace(day=1)
        if first >= begin and following - timedelta(days=1) <= end:
            out.append(f"{first:%Y-%m}")
        first = following
    return out


def month_span(month: date) -> tuple[date, date]:
    """The first and the last day of `month`."""
    begin = month.replace(day=1)
    return begin, (begin + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def own_account(e: Subquery) -> ColumnElement:
    return literal(Chart.account.prefix, String) + e.c.member_id


def is_aid(e: Subquery) -> ColumnElement:
    """A leg on another member's account: a holder's, by mutual aid (XSBN-24)."""
    return and_(legs.c.account.like(Chart.account.like), legs.c.account != own_account(e))


def amounts(e: Subquery) -> list[ColumnElement]:
    """Per group: the counts of settlements (cancelled ones included) and of cancelled ones,
    and the legs' sums in fen, each with the sign of what it means (paid, owed)."""
    return [
        *counts(e),
        _sum(legs.c.account == literal(Chart.institution.prefix, String) + e.c.institution).label(
            "total"
        ),
        (-_sum(legs.c.account.like(Chart.fund.like))).label("fund_pay"),
        (-_sum(legs.c.account == own_account(e))).label("account_pay"),
        (-_sum(is_aid(e))).label("mutual_aid_pay"),
        (-_sum(legs.c.account.like(Chart.cash.like))).label("cash_pay"),
    ]


def counts(e: Subquery) -> list[ColumnElement]:
    """A settlement counted by its own entry, a cancellation by its own: the counts of
    successive entry ranges add up (kept.py)."""
    return [
        func.count(distinct(case((e.c.undone == 0, e.c.settlement_id)))).label("settlements"),
        func.count(distinct(case((e.c.undone == 1, e.c.settlement_id)))).label("cancelled"),
    ]


AMOUNTS = ("total", "fund_pay", "account_pay", "mutual_aid_pay", "cash_pay")
KEYS = ("settlements", "cancelled", *AMOUNTS)  # what `amounts` gives, in its order


def _sum(condition: ColumnElement) -> ColumnElement:
    return func.coalesce(func.sum(case((condition, legs.c.amount), else_=0)), 0)


def with_legs(e: Subquery):
    """`e` with its entries' legs (outer: an entry of a zero-total visit has none)."""
    return e.outerjoin(legs, legs.c.entry_id == e.c.entry_id)


def month_of(conn: Connection, column: ColumnElement) -> ColumnElement:
    """'YYYY-MM' of a date or timestamp column (SQLite keeps them as ISO text)."""
    if conn.dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.substr(column, 1, 7, type_=String)


def text_null() -> ColumnElement:
    """A typed NULL: PostgreSQL must know a UNION column's type."""
    return cast(null(), String)


def counted(row, keys: tuple[str, ...] = KEYS) -> dict:
    """A result row's sums as ints (PostgreSQL sums bigints as numeric)."""
    return {k: int(getattr(row, k) or 0) for k in keys}
