"""M-7: clearing between regions for remote care and for account mutual aid (XSBN-25,
XSBN-26(二)), for one region and one month, from the settlements' journal legs.

- Care: a member insured in one region treated at an institution of another. The insured
  region's fund and accounts (the member's own and a holder's) paid for the visit; the care
  region settled with its institution, so the insured region owes it fund + account + aid.
  A remote visit's institution the registry does not know has no region: counterpart None.
- Mutual aid: a holder's account in one region paid for a user insured in another. The
  user's region settled the visit (and owes the care region for it), so the holder's
  region owes the user's region the aid.
Settlements count by the month of the visit; a cancelled one nets to nothing.
"""

from datetime import date

from sqlalchemy import Connection, Engine, String, func, literal, or_, select

from gongji.ledger import store
from gongji.ledger.chart import Chart
from gongji.ledger.schema import institutions, legs, members
from gongji.supervision.legs import amounts, counted, counts, entries, in_period, is_aid, month_span

CARE = ("settlements", "cancelled", "fund_pay", "account_pay", "mutual_aid_pay")


def clearing(db: Engine, region: str, month: date) -> dict:
    """What `region` owes other regions (payable) and they owe it (receivable) for `month`."""
    begin, end = month_span(month)
    with store.snapshot(db) as conn:
        care = _care(conn, region, begin, end)
        aid = _aid(conn, region, begin, end)
    return {
        "region": region,
        "month": f"{begin:%Y-%m}",
        "care": care,
        "mutual_aid": aid,
        "net": _net(care, aid),
    }


def _net(care: list[dict], aid: list[dict]) -> list[dict]:
    """Per counterpart, what it owes the region less what the region owes it."""
    net: dict[str | None, int] = {}
    for row, amount in [(r, r["owed"]) for r in care] + [(r, r["amount"]) for r in aid]:
        sign = 1 if row["direction"] == "receivable" else -1
        net[row["counterpart"]] = net.get(row["counterpart"], 0) + sign * amount
    return [{"counterpart": c, "net": n} for c, n in sorted(net.items(), key=lambda i: i[0] or "")]


def _direction(region: str, payer: str | None, payee: str | None) -> dict:
    if payer == region:
        return {"counterpart": payee, "direction": "payable"}
    return {"counterpart": payer, "direction": "receivable"}


def _care(conn: Connection, region: str, begin: date, end: date) -> list[dict]:
    e = entries(*in_period(begin, end))
    insured, care = members.c.region, institutions.c.region
    query = (
        select(insured.label("insured"), care.label("care"), *amounts(e))
        .select_from(
            e.outerjoin(legs, legs.c.entry_id == e.c.entry_id)
            .join(members, members.c.id == e.c.member_id)
            .outerjoin(institutions, institutions.c.code == e.c.institution)
        )
        .where(or_(care.is_(None), care != insured), or_(insured == region, care == region))
        .group_by(insured, care)
    )
    out = []
    for r in conn.execute(query):
        sums = counted(r, CARE)
        owed = sums["fund_pay"] + sums["account_pay"] + sums["mutual_aid_pay"]
        out.append({**_direction(region, r.insured, r.care), **sums, "owed": owed})
    return sorted(out, key=_order)


def _aid(conn: Connection, region: str, begin: date, end: date) -> list[dict]:
    e = entries(*in_period(begin, end))
    user, holder = members.alias("user_"), members.alias("holder")
    query = (
        select(
            holder.c.region.label("holder"),
            user.c.region.label("user"),
            *counts(e),
            (-func.sum(legs.c.amount)).label("amount"),
        )
        .select_from(
            e.join(legs, legs.c.entry_id == e.c.entry_id)
            .join(user, user.c.id == e.c.member_id)
            .join(holder, literal(Chart.account.prefix, String) + holder.c.id == legs.c.account)
        )
        .where(
            is_aid(e),
            holder.c.region != user.c.region,
            or_(holder.c.region == region, user.c.region == region),
        )
        .group_by(holder.c.region, user.c.region)
    )
    rows = conn.execute(query)
    out = [
        {
            **_direction(region, r.holder, r.user),
            **counted(r, ("settlements", "cancelled", "amount")),
        }
        for r in rows
    ]
    return sorted(out, key=_order)


def _order(row: dict) -> tuple:
    return (row["counterpart"] or "", row["direction"])
