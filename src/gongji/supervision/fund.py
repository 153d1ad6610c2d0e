"""M-1 fund statistics: a region's year month by month — income, the pooling fund's
expenditure, the personal accounts' movements, and balances at each month's end — summed
from the journal legs of the region's accounts, so every figure balances to the journal.

An entry counts in the month of what it records: a settlement and its cancellation in the
month of the visit (a cancelled one nets to nothing there), a credit in the month
credited, a contribution in the month paid for, a frozen premium on the day it was frozen.
Other entries (a premium not frozen, a freeze's end, an account closed) count when they
were posted. Opening balances, carried over from before the ledger, come before all.
"""

from collections import defaultdict

from sqlalchemy import Connection, Engine, String, case, func, literal, or_, select, union_all

from gongji.ledger.chart import Chart
from gongji.ledger.schema import contributions, credits, entries, freezes, legs, members
from gongji.supervision.kept import kept_sums
from gongji.supervision.legs import S, month_of, text_null

BEFORE_ALL = "0000-00"  # the month of opening balances
VISIT, CREDIT = {"settle", "cancel"}, {"monthly", "back_credit"}
PREMIUM, CLOSE = {"premium", "released"}, {"close"}
ACCOUNTS = ("credited", "visits", "mutual_aid", "premiums", "closed", "other")
BALANCES = ("fund", "accounts", "frozen", "premium")


def fund_statistics(db: Engine, region: str, year: int) -> dict:
    """The region's fund statistics for `year`: balances at its start, then each month."""
    rows = _summed(db, region)
    opening = dict.fromkeys(BALANCES, 0)
    months = {f"{year}-{m:02d}": _month() for m in range(1, 13)}
    for month, kind, role, category, level, amount in rows:
        if month < f"{year}-01":
            _move(opening, role, amount)
        elif month in months:
            _add(months[month], kind, role, category or "general", level, amount)
    return {"region": region, "year": year, "opening": opening, "months": _ends(opening, months)}


def _ends(opening: dict, months: dict[str, dict]) -> list[dict]:
    """The months in order, each with the balances at its end."""
    balances, out = dict(opening), []
    for month, flows in months.items():
        for role, amount in flows.pop("change").items():
            _move(balances, role, amount)
        spent = flows["expenditure"]
        for key in ("by_category", "by_level"):
            spent[key] = dict(sorted(spent[key].items()))
        out.append({"month": month, **flows, "balances": dict(balances)})
    return out


def _month() -> dict:
    return {
        "income": {"contributions": 0, "to_fund": 0, "to_accounts": 0},
        "expenditure": {
            "fund_pay": 0,
            "by_category": defaultdict(int),
            "by_level": defaultdict(int),
            "retiree_credits": 0,  # personal-account credits the fund pays (retirees')
            "other": 0,
        },
        "accounts": dict.fromkeys(ACCOUNTS, 0),
        "change": defaultdict(int),
    }


def _move(balances: dict, role: str, amount: int) -> None:
    # a holder's account paying mutual aid is one of the region's personal accounts too
    key = "accounts" if role in ("account", "aid") else role
    if key in balances:
        balances[key] += amount


def _add(m: dict, kind: str, role: str, category: str, level: str | None, amount: int) -> None:
    m["change"][role] += amount
    if role == "contributions":
        m["income"]["contributions"] -= amount  # the outside source: paid in is a credit leg
    elif role == "premium" and kind == "contribution":
        m["income"]["to_accounts"] += amount
    elif role == "fund":
        _fund(m, kind, category, level, amount)
    elif role in ("account", "aid"):
        _account(m["accounts"], kind, role, amount)


def _fund(m: dict, kind: str, category: str, level: str | None, amount: int) -> None:
    out = m["expenditure"]
    if kind == "contribution":
        m["income"]["to_fund"] += amount
    elif kind in VISIT:
        out["fund_pay"] -= amount
        out["by_category"][category] -= amount
        out["by_level"][level] -= amount
    elif kind in CREDIT:
        out["retiree_credits"] -= amount
    else:
        out["other"] -= amount


def _account(a: dict, kind: str, role: str, amount: int) -> None:
    """A personal-account leg by what it was for: credited in, or paid out (a cancelled
    visit's refund nets against its visit)."""
    if kind in CREDIT:
        a["credited"] += amount
    elif kind in VISIT:
        a["visits" if role == "account" else "mutual_aid"] -= amount
    elif kind in PREMIUM:
        a["premiums"] -= amount
    elif kind in CLOSE:
        a["closed"] -= amount  # paid out to the member or heirs, or transferred away
    else:
        a["other"] += amount


def _links(conn: Connection):
    """Each journal entry that records something dated: (entry_id, month, member_id,
    category, level); the category and level of a visit as it was settled."""
    category = func.coalesce(S.request[("visit", "category")].as_string(), "general")
    level = S.request[("visit", "level")].as_string()
    visit = (
        month_of(conn, S.visit_time).label("month"),
        S.member_id.label("member_id"),
        category.label("category"),
        level.label("level"),
    )
    plain = (text_null(), text_null())
    c, f = contributions.c, freezes.c
    return union_all(
        select(S.entry_id.label("entry_id"), *visit),
        select(S.cancel_entry_id, *visit).where(S.cancel_entry_id.is_not(None)),
        select(credits.c.entry_id, month_of(conn, credits.c.month), credits.c.member_id, *plain),
        select(c.entry_id, month_of(conn, c.month), c.member_id, *plain).where(
            c.entry_id.is_not(None)
        ),
        select(f.entry_id, month_of(conn, f.frozen_on), f.member_id, *plain),
    ).subquery("link")


def _summed(db: Engine, region: str) -> list[tuple]:
    """The region's movements over the whole journal (kept: only new entries are summed)."""

    def summer(conn: Connection, after: int, through: int) -> list[tuple]:
        return _movements(conn, region, after, through)

    sums = kept_sums(db, ("fund", region), 5, summer)
    return [(*k, amount) for k, (amount,) in sums.items()]


def _movements(conn: Connection, region: str, after: int, through: int) -> list[tuple]:
    """The legs of the region's accounts in entries after..through (ids), summed by (month,
    entry kind, role, category, level); role: fund, premium, contributions, frozen, account
    (a member's own) or aid (a holder's account on another member's settlement)."""
    link = _links(conn)
    member = link.c.member_id
    own = literal(Chart.account.prefix, String) + member
    role = case(
        (legs.c.account == Chart.fund.of(region), "fund"),
        (legs.c.account == Chart.premium.of(region), "premium"),
        (legs.c.account == Chart.contributions.of(region), "contributions"),
        (legs.c.account.like(Chart.frozen.like), "frozen"),
        (or_(member.is_(None), legs.c.account == own), "account"),
        else_="aid",
    )
    dated = case(
        (entries.c.kind == "opening", BEFORE_ALL),
        else_=func.coalesce(
            link.c.month,
            month_of(conn, entries.c.business_date),
            month_of(conn, entries.c.created_at),
        ),
    )
    leg = (
        select(
            dated.label("month"),
            entries.c.kind,
            role.label("role"),
            link.c.category,
            link.c.level,
            legs.c.amount,
        )
        .select_from(
            legs.join(entries, entries.c.id == legs.c.entry_id).outerjoin(
                link, link.c.entry_id == legs.c.entry_id
            )
        )
        .where(legs.c.entry_id > after, legs.c.entry_id <= through, _of_region(region))
        .subquery("leg")
    )
    # grouped outside: PostgreSQL would not match a CASE with bound values to its GROUP BY
    keys = (leg.c.month, leg.c.kind, leg.c.role, leg.c.category, leg.c.level)
    rows = conn.execute(select(*keys, func.sum(leg.c.amount)).group_by(*keys))
    return [(*r[:5], int(r[5])) for r in rows]


def _of_region(region: str):
    def owned(kind: Chart):
        name = literal(kind.prefix, String) + members.c.id
        return legs.c.account.in_(select(name).where(members.c.region == region))

    return or_(
        legs.c.account.in_(
            [Chart.fund.of(region), Chart.premium.of(region), Chart.contributions.of(region)]
        ),
        owned(Chart.account),
        owned(Chart.frozen),
    )
