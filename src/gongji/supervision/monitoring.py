"""Monitoring rules (M-4, with the articles each names) over claims: each rule is one function
of the claims and its thresholds (monitoring.yaml), returning its alerts.

An alert is one row: rule (the rule's name), rules (the rule IDs it carries out), subject
(what it is about: a visit id, a member id, member@institution@day, an institution or
institution@month), amount (fen: the cost in question) and evidence (JSON: the facts that
raised it, so staff can check the alert without another query).

Shares are compared in integer arithmetic: `part * 10000 >= whole * bp` (no floats).
"""

from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, field_validator

from gongji.errors import InputError, validated
from gongji.money import BP_PER_UNIT, amount, percent_to_bp
from gongji.supervision.claims import Claims
from gongji.supervision.legs import whole_months

CONFIG = Path(__file__).with_name("monitoring.yaml")
ALERTS = {
    "rule": pl.Utf8,
    "rules": pl.Utf8,
    "subject": pl.Utf8,
    "amount": pl.Int64,
    "evidence": pl.Utf8,
}


# -- configuration ---------------------------------------------------------------------------
# thresholds are read by money.amount and money.percent_to_bp: their MoneyError is a
# ValueError, which pydantic reports against the field


class Cite(BaseModel):
    """An article a monitoring rule rests on: the region's policy pack id, 第N条, and the
    article's own words (checked against the rulebook by tests/policy/test_quotes.py)."""

    model_config = ConfigDict(extra="forbid")
    region: str
    article: str
    text: str | None = None


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[str]
    cites: list[Cite]
    reading: str | None = None  # what the articles do not say in words: the bureau's


class InpatientOverlap(_Rule):
    categories: list[str]


class ShiftedInpatient(_Rule):
    days_before: int
    days_after: int
    min_examination_share: int
    min_total: int
    _bp = field_validator("min_examination_share", mode="before")(percent_to_bp)
    _fen = field_validator("min_total", mode="before")(amount)


class SplitVisits(_Rule):
    min_visits: int


class FrequentVisits(_Rule):
    window_days: int
    max_visits: int


class LargePrescription(_Rule):
    max_total: dict[str, int]  # by institution kind; "other" for the rest

    @field_validator("max_total", mode="before")
    @classmethod
    def _amounts(cls, value: object) -> object:
        if not isinstance(value, dict) or "other" not in value:
            raise ValueError("give a limit per institution kind, including 'other'")
        return {k: amount(v) for k, v in value.items()}


class AccountCashOut(_Rule):
    window_days: int
    min_purchases: int
    round_to: int
    min_account_pay: int
    min_account_share: int
    _fen = field_validator("round_to", "min_account_pay", mode="before")(amount)
    _bp = field_validator("min_account_share", mode="before")(percent_to_bp)


class PrescriptionCirculation(_Rule):
    valid_days: int


class PeerFactors(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cost_per_visit: int
    self_pay_ratio: int
    examination_share: int
    out_of_catalogue_share: int
    _bp = field_validator("*", mode="before")(percent_to_bp)


class InstitutionIndicators(_Rule):
    min_visits: int
    min_monthly_visits: int
    peer_factor: PeerFactors
    max_monthly_growth: int
    _bp = field_validator("max_monthly_growth", mode="before")(percent_to_bp)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inpatient_overlap: InpatientOverlap
    shifted_inpatient: ShiftedInpatient
    split_visits: SplitVisits
    frequent_visits: FrequentVisits
    large_prescription: LargePrescription
    account_cash_out: AccountCashOut
    prescription_circulation: PrescriptionCirculation
    institution_indicators: InstitutionIndicators


def load_config(path: Path = CONFIG) -> Config:
    """The thresholds; a bad value is named by file and key."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError("config", f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InputError(path.name, f"not YAML: {exc}") from None
    try:
        return validated(Config, document)
    except InputError as exc:
        raise InputError(f"{path.name}: {exc.field}", exc.reason) from None


# -- rules -------------------------------------------------------------------------------------
def _alerts(frame: pl.DataFrame, subject: pl.Expr, amount: pl.Expr, evidence: list) -> pl.DataFrame:
    """A rule's hits as alert rows (rule and rules are added by `monitor`)."""
    return frame.select(
        subject.cast(pl.Utf8).alias("subject"),
        amount.cast(pl.Int64).alias("amount"),
        pl.struct(evidence).struct.json_encode().alias("evidence"),
    )


def _day() -> pl.Expr:
    return pl.col("time").dt.date()


def _share_at_least(part: pl.Expr, whole: pl.Expr, bp: int) -> pl.Expr:
    return part * BP_PER_UNIT >= whole * bp


def inpatient_overlap(c: Claims, cfg: InpatientOverlap) -> pl.DataFrame:
    """KF-10: pooling paid for an outpatient visit on a day of an inpatient stay."""
    hits = (
        c.visits.filter(pl.col("fund_pay") > 0, pl.col("category").is_in(cfg.categories))
        .join(c.stays, on="member_id")
        .filter(_day().is_between(pl.col("start"), pl.col("end")))
        .unique("visit_id", keep="first", maintain_order=True)
    )
    return _alerts(
        hits,
        pl.col("visit_id"),
        pl.col("fund_pay"),
        ["member_id", "time", "institution", "fund_pay", "start", "end"],
    )


def shifted_inpatient(c: Claims, cfg: ShiftedInpatient) -> pl.DataFrame:
    """XSBN-33: examination-heavy pooled visits in the days before admission or after discharge."""
    heavy = c.visits.filter(
        pl.col("fund_pay") > 0,
        pl.col("total") >= cfg.min_total,
        _share_at_least(pl.col("examination"), pl.col("total"), cfg.min_examination_share),
    )
    day = _day()
    before = (pl.col("start") - day).dt.total_days()
    after = (day - pl.col("end")).dt.total_days()
    hits = (
        heavy.join(c.stays, on="member_id")
        .filter(before.is_between(1, cfg.days_before) | after.is_between(1, cfg.days_after))
        .unique("visit_id", keep="first", maintain_order=True)
    )
    return _alerts(
        hits,
        pl.col("visit_id"),
        pl.col("fund_pay"),
        ["member_id", "time", "institution", "total", "examination", "start", "end"],
    )


def split_visits(c: Claims, cfg: SplitVisits) -> pl.DataFrame:
    """A member settled `min_visits` or more times at one institution on one day."""
    hits = (
        c.visits.group_by("member_id", "institution", _day().alias("day"))
        .agg(
            pl.len().alias("visits"),
            pl.col("total").sum(),
            pl.col("fund_pay").sum(),
            pl.col("visit_id").sort(),
        )
        .filter(pl.col("visits") >= cfg.min_visits)
    )
    subject = pl.concat_str(
        [pl.col("member_id"), pl.col("institution"), pl.col("day").cast(pl.Utf8)], separator="@"
    )
    return _alerts(
        hits,
        subject,
        pl.col("fund_pay"),
        ["member_id", "institution", "day", "visits", "total", "visit_id"],
    )


def frequent_visits(c: Claims, cfg: FrequentVisits) -> pl.DataFrame:
    """A member with more than `max_visits` visits within any `window_days` days."""
    counted = (
        c.visits.select("member_id", "time", "visit_id")
        .sort("member_id", "time")
        .rolling(index_column="time", period=f"{cfg.window_days}d", group_by="member_id")
        .agg(pl.len().alias("visits"), pl.col("time").first().alias("since"))
    )
    hits = (
        counted.filter(pl.col("visits") > cfg.max_visits)
        .sort("visits", "time", descending=[True, False])
        .unique("member_id", keep="first", maintain_order=True)
    )
    return _alerts(
        hits,
        pl.col("member_id"),
        pl.lit(0),
        ["member_id", "visits", "since", pl.col("time").alias("until")],
    )


def large_prescription(c: Claims, cfg: LargePrescription) -> pl.DataFrame:
    """One visit's cost above the limit for its kind of institution (M-3: no large
    prescriptions)."""
    limit = pl.col("kind").replace_strict(
        cfg.max_total, default=cfg.max_total["other"], return_dtype=pl.Int64
    )
    hits = c.visits.filter(pl.col("fund_pay") + pl.col("account_pay") > 0, pl.col("total") > limit)
    return _alerts(
        hits,
        pl.col("visit_id"),
        pl.col("total"),
        ["member_id", "time", "institution", "kind", "total", limit.alias("limit")],
    )


def account_cash_out(c: Claims, cfg: AccountCashOut) -> pl.DataFrame:
    """Round-sum pharmacy purchases paid (almost) wholly from the personal account, repeated
    within a window: the pattern of drawing an account out as goods or cash (套现)."""
    suspect = c.visits.filter(
        pl.col("kind") == "pharmacy",
        pl.col("account_pay") > 0,
        pl.col("total") % cfg.round_to == 0,
        _share_at_least(pl.col("account_pay"), pl.col("total"), cfg.min_account_share),
    ).sort("member_id", "time")
    windows = suspect.rolling(
        index_column="time", period=f"{cfg.window_days}d", group_by="member_id"
    ).agg(
        pl.len().alias("purchases"),
        pl.col("account_pay").sum(),
        pl.col("visit_id"),
        pl.col("institution").unique().sort().alias("pharmacies"),
    )
    hits = (
        windows.filter(
            pl.col("purchases") >= cfg.min_purchases, pl.col("account_pay") >= cfg.min_account_pay
        )
        .sort("account_pay", descending=True)
        .unique("member_id", keep="first", maintain_order=True)
    )
    return _alerts(
        hits,
        pl.col("member_id"),
        pl.col("account_pay"),
        ["member_id", "purchases", "account_pay", "pharmacies", "visit_id"],
    )


def prescription_circulation(c: Claims, cfg: PrescriptionCirculation) -> pl.DataFrame:
    """A pharmacy's pooled sale must name a prescription written for the member by a designated
    institution within `valid_days` before the sale, and used once."""
    sales = c.visits.filter(pl.col("kind") == "pharmacy", pl.col("fund_pay") > 0)
    writers = c.institutions.select(
        pl.col("code").alias("writer"), pl.col("designated").alias("writer_designated")
    )
    rx = (  # one row a prescription (fee details uploaded twice name it twice)
        c.prescriptions.sort("issued")
        .unique("rxno", keep="first", maintain_order=True)
        .rename({"institution": "writer", "member_id": "patient"})
        .join(writers, on="writer", how="left")
    )
    joined = (  # the sales in time order: the first use of a prescription is the good one
        sales.sort("time", "visit_id")
        .join(rx, on="rxno", how="left", maintain_order="left")
        .with_columns(pl.col("visit_id").cum_count().over("rxno").alias("use"))
    )
    age = (_day() - pl.col("issued")).dt.total_days()
    reason = (
        pl.when(pl.col("rxno").is_null())
        .then(pl.lit("no prescription"))
        .when(pl.col("issued").is_null())
        .then(pl.lit("unknown prescription"))
        .when(~pl.col("writer_designated").fill_null(False))
        .then(pl.lit("prescriber not designated"))
        .when(pl.col("patient") != pl.col("member_id"))
        .then(pl.lit("written for another member"))
        .when(~age.is_between(0, cfg.valid_days))
        .then(pl.lit("expired or dated after the sale"))
        .when(pl.col("use") > 1)
        .then(pl.lit("used again"))
    )
    hits = joined.with_columns(reason.alias("reason")).filter(pl.col("reason").is_not_null())
    return _alerts(
        hits,
        pl.col("visit_id"),
        pl.col("fund_pay"),
        ["member_id", "time", "institution", "rxno", "reason", "writer", "issued"],
    )


INDICATORS = {
    # name: (numerator, denominator) per institution over the period
    "cost_per_visit": (pl.col("total").sum(), pl.len()),
    "self_pay_ratio": (pl.col("cash_pay").sum(), pl.col("total").sum()),
    "examination_share": (pl.col("examination").sum(), pl.col("total").sum()),
    "out_of_catalogue_share": ((pl.col("total") - pl.col("in_scope")).sum(), pl.col("total").sum()),
}


def institution_indicators(c: Claims, cfg: InstitutionIndicators) -> pl.DataFrame:
    """NY-22: each indicator of an institution against its peers' (same level) median, and
    cost growth month on month. The rule name of each alert is `institution_<indicator>`."""
    by_institution = (
        c.visits.group_by("institution", "level")
        .agg(
            pl.len().alias("visits"),
            *(
                (num * (BP_PER_UNIT if name != "cost_per_visit" else 1) // den).alias(name)
                for name, (num, den) in INDICATORS.items()
            ),
        )
        .filter(pl.col("visits") >= cfg.min_visits)
    )
    frames = []
    for name in INDICATORS:
        factor = getattr(cfg.peer_factor, name)
        peers = by_institution.with_columns(
            pl.col(name).median().over("level").cast(pl.Int64).alias("peer_median")
        )
        hits = peers.filter(
            pl.col("peer_median") > 0,
            pl.col(name) * BP_PER_UNIT >= pl.col("peer_median") * factor,
        )
        frames.append(
            _alerts(
                hits,
                pl.col("institution"),
                pl.lit(0),
                ["institution", "level", "visits", name, "peer_median"],
            ).with_columns(pl.lit(f"institution_{name}").alias("rule"))
        )
    frames.append(_growth(c, cfg).with_columns(pl.lit("institution_cost_growth").alias("rule")))
    return pl.concat(frames)


def _growth(c: Claims, cfg: InstitutionIndicators) -> pl.DataFrame:
    """Months wholly inside the claims' period only: a month cut by the period's edge would
    look like a fall, and the month after it like growth."""
    whole = [date.fromisoformat(f"{m}-01") for m in whole_months(*c.period())]
    month = pl.col("time").dt.truncate("1mo").dt.date()
    monthly = (
        c.visits.filter(month.is_in(whole))
        .group_by("institution", month.alias("month"))
        .agg(pl.col("total").sum(), pl.len().alias("visits"))
        .sort("institution", "month")
        .with_columns(
            pl.col("total").shift(1).over("institution").alias("before"),
            pl.col("visits").shift(1).over("institution").alias("visits_before"),
            pl.col("month").shift(1).over("institution").alias("month_before"),
        )
    )
    consecutive = pl.col("month_before") == pl.col("month").dt.offset_by("-1mo")
    hits = monthly.filter(
        consecutive,
        pl.col("visits") >= cfg.min_monthly_visits,
        pl.col("visits_before") >= cfg.min_monthly_visits,
        pl.col("before") > 0,
        (pl.col("total") - pl.col("before")) * BP_PER_UNIT
        > pl.col("before") * cfg.max_monthly_growth,
    )
    subject = pl.concat_str(
        [pl.col("institution"), pl.col("month").dt.strftime("%Y-%m")], separator="@"
    )
    return _alerts(
        hits,
        subject,
        pl.col("total") - pl.col("before"),
        ["institution", pl.col("month").dt.strftime("%Y-%m"), "total", "before", "visits"],
    )


RULES: dict[str, Callable[[Claims, object], pl.DataFrame]] = {
    "inpatient_overlap": inpatient_overlap,
    "shifted_inpatient": shifted_inpatient,
    "split_visits": split_visits,
    "frequent_visits": frequent_visits,
    "large_prescription": large_prescription,
    "account_cash_out": account_cash_out,
    "prescription_circulation": prescription_circulation,
    "institution_indicators": institution_indicators,
}


def monitor(
    claims: Claims, config: Config | None = None, only: tuple[str, ...] | None = None
) -> pl.DataFrame:
    """Every rule's alerts (or those of the rules named in `only`), sorted by rule and subject."""
    config = config or load_config()
    frames = []
    for name, rule in RULES.items():
        if only is not None and name not in only:
            continue
        cfg = getattr(config, name)
        alerts = rule(claims, cfg)
        if "rule" not in alerts.columns:
            alerts = alerts.with_columns(pl.lit(name).alias("rule"))
        frames.append(alerts.with_columns(pl.lit(",".join(cfg.rules)).alias("rules")))
    return pl.concat([f.select(list(ALERTS)) for f in frames]).cast(ALERTS).sort("rule", "subject")
