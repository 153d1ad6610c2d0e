"""Claims: what the monitoring rules read — settled visits and what is known around them.

    visits         one row per settled visit (cancelled ones left out):
                   visit_id, member_id, time, institution, kind (hospital | pharmacy |
                   internet), level, category, total, in_scope, examination, fund_pay,
                   account_pay, cash_pay (fen), rxno (a pharmacy sale's prescription, or null)
    stays          member_id, start, end: inpatient stays as known now (a stay reported after
                   the outpatient visit was settled is what KF-10's monitoring is for)
    prescriptions  rxno, institution, member_id, issued: prescriptions written by institutions
    institutions   code, kind, level, designated

Two sources fill them: the ledger (`from_ledger`), and generated data for measuring the rules
(`supervision.planted`). Examination is the medical-technical share of a visit (imaging,
laboratory, pathology: national service codes starting with "2"); a visit settled without
line items has none recorded.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import polars as pl
from sqlalchemy import Engine, and_, select

from gongji.ledger import store
from gongji.ledger.schema import institutions, members, settlements
from gongji.ledger.schema import visits as registered
from gongji.money import times, unit_price

VISITS = {
    "visit_id": pl.Utf8,
    "member_id": pl.Utf8,
    "time": pl.Datetime("us"),
    "institution": pl.Utf8,
    "kind": pl.Utf8,
    "level": pl.Utf8,
    "category": pl.Utf8,
    "total": pl.Int64,
    "in_scope": pl.Int64,
    "examination": pl.Int64,
    "fund_pay": pl.Int64,
    "account_pay": pl.Int64,
    "cash_pay": pl.Int64,
    "rxno": pl.Utf8,
}
STAYS = {"member_id": pl.Utf8, "start": pl.Date, "end": pl.Date}
PRESCRIPTIONS = {"rxno": pl.Utf8, "institution": pl.Utf8, "member_id": pl.Utf8, "issued": pl.Date}
INSTITUTIONS = {"code": pl.Utf8, "kind": pl.Utf8, "level": pl.Utf8, "designated": pl.Boolean}
EXAMINATION_PREFIX = "2"  # 医技诊疗类: the national service catalogue's medical-technical class


@dataclass(frozen=True)
class Claims:
    visits: pl.DataFrame
    stays: pl.DataFrame
    prescriptions: pl.DataFrame
    institutions: pl.DataFrame
    # the visit days the claims cover (a month is compared whole or not at all); None: the
    # visits' own first and last day
    begin: date | None = None
    end: date | None = None

    def period(self) -> tuple[date, date]:
        days = self.visits["time"].dt.date()
        return self.begin or days.min(), self.end or days.max()

    def __post_init__(self) -> None:
        for name, schema in (
            ("visits", VISITS),
            ("stays", STAYS),
            ("prescriptions", PRESCRIPTIONS),
            ("institutions", INSTITUTIONS),
        ):
            frame = getattr(self, name)
            if dict(frame.select(list(schema)).schema) != schema:
                raise ValueError(f"claims.{name}: columns must be {schema}, not {frame.schema}")


def from_ledger(db: Engine, begin: date, end: date, rx_days: int = 7) -> Claims:
    """The settled visits with visit days in [begin, end], from the store, with the
    prescriptions written from `rx_days` before `begin` (a sale early in the period may use
    one written before it)."""
    in_period = and_(
        settlements.c.visit_time >= datetime.combine(begin, time.min),
        settlements.c.visit_time <= datetime.combine(end, time.max),
    )
    # stays of the members who visited (not every member's record)
    visited = select(settlements.c.member_id).where(in_period).distinct()
    since = datetime.combine(begin - timedelta(days=rx_days), time.min)
    with store.snapshot(db) as conn:
        rows = conn.execute(
            select(
                settlements.c.txn_id,
                settlements.c.member_id,
                settlements.c.visit_time,
                settlements.c.institution,
                *_SETTLED,
            ).where(settlements.c.cancel_entry_id.is_(None), in_period)
        ).all()
        insts = conn.execute(select(institutions)).all()
        profiles = conn.execute(
            select(members.c.id, members.c.profile["inpatient_stays"].label("stays")).where(
                members.c.id.in_(visited)
            )
        ).all()
        fees = conn.execute(
            select(
                registered.c.member_id,
                registered.c.institution,
                registered.c.begntime,
                registered.c.fees,
                registered.c.txn_id,
            ).where(
                registered.c.begntime >= since,
                registered.c.begntime <= datetime.combine(end, time.max),
                registered.c.cancelled_at.is_(None),  # a registration cancelled (2202)
            )
        ).all()
    kinds = {i.code: i.kind for i in insts}
    rx_of = {f.txn_id: rx for f in fees if f.txn_id and (rx := _rxno(f.fees))}
    return Claims(
        visits=_visits(rows, kinds, rx_of),
        stays=pl.DataFrame(
            [
                (p.id, date.fromisoformat(s["from"]), date.fromisoformat(s["to"]))
                for p in profiles
                for s in p.stays or []
            ],
            schema=STAYS,
            orient="row",
        ),
        prescriptions=pl.DataFrame(
            [
                (rx, f.institution, f.member_id, f.begntime.date())
                for f in fees
                if kinds.get(f.institution) != "pharmacy"
                for rx in _written(f.fees)
            ],
            schema=PRESCRIPTIONS,
            orient="row",
        ),
        institutions=pl.DataFrame(
            [(i.code, i.kind, i.level, i.designated) for i in insts],
            schema=INSTITUTIONS,
            orient="row",
        ),
        begin=begin,
        end=end,
    )


# What a visit's row needs of the settlement's documents, read by the store (JSON paths):
# decoding whole documents cost more than the rules.
_RESULT = ("total", "in_scope", "fund_pay", "account_pay", "mutual_aid_pay", "cash_pay")
_SETTLED = (
    settlements.c.request[("visit", "level")].as_string().label("level"),
    settlements.c.request[("visit", "category")].as_string().label("category"),
    settlements.c.request[("visit", "items")].label("items"),
    *(settlements.c.result[key].as_string().label(key) for key in _RESULT),
)


def _visits(rows: list, kinds: dict[str, str], rx_of: dict[str, str | None]) -> pl.DataFrame:
    raw = pl.DataFrame(
        [
            (r.txn_id, r.member_id, r.visit_time, r.institution, r.level, r.category,
             _examination(r.items), *(getattr(r, k) for k in _RESULT))
            for r in rows
        ],
        schema={**{k: pl.Utf8 for k in ("visit_id", "member_id")}, "time": pl.Datetime("us"),
                **{k: pl.Utf8 for k in ("institution", "level", "category")},
                "examination": pl.Int64, **{k: pl.Utf8 for k in _RESULT}},
        orient="row",
    )  # fmt: skip
    fen = {k: _fen(pl.col(k)) for k in _RESULT}
    return raw.select(
        "visit_id",
        "member_id",
        "time",
        "institution",
        pl.col("institution").replace_strict(kinds, default="hospital").alias("kind"),
        "level",
        pl.col("category").fill_null("general"),
        fen["total"],
        fen["in_scope"],
        "examination",
        fen["fund_pay"],
        (fen["account_pay"] + fen["mutual_aid_pay"].fill_null(0)).alias("account_pay"),
        fen["cash_pay"],
        pl.col("visit_id").replace_strict(rx_of, default=None, return_dtype=pl.Utf8).alias("rxno"),
    ).cast(VISITS)


def _fen(amount: pl.Expr) -> pl.Expr:
    """A settlement's amount as the ledger writes it (money.fmt: yuan with exactly two
    decimals, "123.45") -> integer fen, exactly (no floats)."""
    return amount.str.replace(".", "", literal=True).cast(pl.Int64)


def _examination(items: list | None) -> int:
    return sum(
        times(unit_price(i["unit_price"]), Decimal(str(i["quantity"])))
        for i in items or []
        if str(i.get("code", "")).startswith(EXAMINATION_PREFIX)
    )


# A registered visit's fees are its uploaded fee lines by feedetl_sn (service/registered.py).
def _rxno(fees: dict) -> str | None:
    """The prescription a pharmacy sale's fee details name (2204 `rxno`)."""
    return next((line["rxno"] for line in fees.values() if line.get("rxno")), None)


def _written(fees: dict) -> set[str]:
    """The prescriptions a hospital visit's fee details wrote for circulation (rx_circ_flag 1)."""
    return {
        line["rxno"]
        for line in fees.values()
        if line.get("rxno") and line.get("rx_circ_flag") == "1"
    }
