"""Institution payment statements (M-2) and the platform's reconciliation (3201/3202).

A period's settlements are those whose visit falls in it (both days included, as 3201 reads
its period); a cancelled one is counted as a refund and nets to nothing, whenever it was
cancelled. Amounts are fen, summed from the settlements' journal legs (see legs.py).
"""

from datetime import date, timedelta

from sqlalchemy import Connection, Engine, case, select

from gongji.errors import InputError
from gongji.ledger import store
from gongji.ledger.schema import institutions
from gongji.money import to_yuan
from gongji.supervision import payment
from gongji.supervision.kept import kept_sums
from gongji.supervision.legs import (
    KEYS,
    S,
    amounts,
    counted,
    entries,
    in_period,
    month_of,
    month_span,
    with_legs,
)

ZERO = dict.fromkeys(KEYS, 0)


def statement(
    db: Engine,
    institution: str,
    begin: date,
    end: date,
    config: payment.PaymentConfig | None = None,
) -> dict:
    """One institution's statement for the days `begin`..`end`."""
    _check_period(begin, end)
    config = config or payment.load_payment()
    with store.snapshot(db) as conn:
        sums = _sums(conn, begin, end, institution).get(institution, ZERO)
        known = _registry(conn, [institution]).get(institution)
        return _statement(conn, config, institution, known, sums, begin, end)


def statements(db: Engine, month: date, config: payment.PaymentConfig | None = None) -> list[dict]:
    """The month's statement of every institution with settlements in it (or paid by
    capitation for it), by code. From sums by (month, institution) kept over the journal
    (kept.py): a month viewed again sums only what was posted since."""
    begin, end = month_span(month)
    config = config or payment.load_payment()
    monthly = kept_sums(db, ("statements",), 2, _month_sums)
    key = f"{begin:%Y-%m}"
    sums = {code: dict(zip(KEYS, v, strict=True)) for (m, code), v in monthly.items() if m == key}
    with store.snapshot(db) as conn:
        codes = sorted(set(sums) | config.enrolled_in(begin, end))
        known = _registry(conn, codes)
        return [
            _statement(
                conn, config, c, known.get(c), sums.get(c, ZERO), begin, end,
                used=_used_before(monthly, c, begin),
            )
            for c in codes
        ]  # fmt: skip


def _used_before(monthly: dict, code: str, begin: date) -> int:
    """What the year's earlier months charged the fund at `code` (a global budget)."""
    first = f"{begin:%Y}-01"
    fund = KEYS.index("fund_pay")
    return sum(
        v[fund] for (m, c), v in monthly.items() if c == code and first <= m < f"{begin:%Y-%m}"
    )


def _month_sums(conn: Connection, after: int, through: int) -> list[tuple]:
    """(visit month, institution, settlements, cancelled, amounts...) of the settlements'
    and cancellations' entries after..through (counts and sums of ranges add up)."""
    e = entries(entry_ids=(after, through))
    month = month_of(conn, e.c.visit_time)
    query = (
        select(month, e.c.institution, *amounts(e))
        .select_from(with_legs(e))
        .group_by(month, e.c.institution)
    )
    return conn.execute(query).all()


def _statement(
    conn: Connection, config, code: str, known, sums: dict, begin, end, used: int | None = None
) -> dict:
    owed = sums["fund_pay"] + sums["account_pay"] + sums["mutual_aid_pay"]
    region, level = (known.region, known.level) if known else (None, None)
    method = config.method_for(code, region, level)
    terms = _terms(conn, config, method, code, begin, end, sums["fund_pay"], used)
    return {
        "institution": code,
        "name": known.name if known else None,  # a remote visit's unregistered institution
        "region": region,
        "level": level,
        "begin": begin.isoformat(),
        "end": end.isoformat(),
        **sums,
        "owed": owed,  # what the insurance owes for the settlements: fund, accounts, aid
        "payment": terms,
        "payable": owed + terms["adjustment"],  # what it pays under the payment method
    }


def _terms(
    conn, config, method, code: str, begin: date, end: date, settled: int, used: int | None
) -> dict:
    """The payment method's terms; `used`: the year's fund charges before `begin`, when the
    caller has them (else summed here)."""
    member_months = 0
    if method is not None and method.method == "capitation":
        member_months = config.member_months(code, begin, end)
    elif method is not None and method.annual_budget is not None:
        if begin.year != end.year:
            raise InputError("end", f"{code} has an annual budget: keep a period in one year")
        new_year = date(begin.year, 1, 1)
        if used is None and begin > new_year:
            before = _sums(conn, new_year, begin - timedelta(days=1), code).get(code, ZERO)
            used = before["fund_pay"]
    return payment.terms(method, settled, used or 0, member_months)


def _check_period(begin: date, end: date) -> None:
    if end < begin:
        raise InputError("end", f"before the beginning ({end} < {begin})")


def _sums(conn: Connection, begin: date, end: date, code: str | None = None) -> dict[str, dict]:
    """Per institution: its settlements in the period, net of cancellations."""
    where = (*in_period(begin, end), *(() if code is None else (S.institution == code,)))
    e = entries(*where)
    rows = conn.execute(
        select(e.c.institution, *amounts(e)).select_from(with_legs(e)).group_by(e.c.institution)
    )
    return {r.institution: counted(r) for r in rows}


def _registry(conn: Connection, codes: list[str]) -> dict:
    rows = conn.execute(select(institutions).where(institutions.c.code.in_(codes)))
    return {r.code: r for r in rows}


# -- 3201 / 3202: the platform's reconciliation, in its names and in yuan -------------------
def reconciliation_totals(db: Engine, institution: str, begin: date, end: date) -> dict:
    """3201: the period's totals over settlements not cancelled."""
    with store.snapshot(db) as conn:
        s = _sums(conn, begin, end, institution).get(institution, ZERO)
    return {
        "medfee_sumamt": to_yuan(s["total"]),
        "fund_pay_sumamt": to_yuan(s["fund_pay"]),
        "acct_pay": to_yuan(s["account_pay"] + s["mutual_aid_pay"]),
        "fixmedins_setl_cnt": s["settlements"] - s["cancelled"],
    }


def reconciliation_rows(db: Engine, institution: str, begin: date, end: date) -> list[dict]:
    """3202: each settlement of the period as it was settled, with its member and visit; a
    cancelled one is a refund (refd_setl_flag 1)."""
    refunded = case((S.cancel_entry_id.is_(None), "0"), else_="1").label("refd_setl_flag")
    extra = (S.txn_id, S.visit_id, refunded)
    e = entries(*in_period(begin, end), S.institution == institution, extra=extra)
    query = (
        select(e.c.txn_id, e.c.member_id, e.c.visit_id, e.c.refd_setl_flag, *amounts(e))
        .select_from(with_legs(e))
        .where(e.c.undone == 0)  # the settlement's own entry: its amounts before any refund
        .group_by(e.c.settlement_id, e.c.txn_id, e.c.member_id, e.c.visit_id, e.c.refd_setl_flag)
        .order_by(e.c.txn_id)
    )
    with store.snapshot(db) as conn:
        rows = conn.execute(query).all()
    return [_platform_row(r, counted(r)) for r in rows]


def _platform_row(r, s: dict) -> dict:
    return {
        "setl_id": r.txn_id,
        "psn_no": r.member_id,
        "mdtrt_id": r.visit_id,
        "medfee_sumamt": to_yuan(s["total"]),
        "fund_pay_sumamt": to_yuan(s["fund_pay"]),
        "acct_pay": to_yuan(s["account_pay"] + s["mutual_aid_pay"]),
        "refd_setl_flag": r.refd_setl_flag,
    }
