"""Measuring the monitoring rules: generated claims with planted anomalies, and how many of
them the rules find (recall) and how many alerts are about nothing planted (false alarms).

    claims = generated_claims(data_dir, results_parquet)      # from `gongji generate` + replay
    planted, labels = plant(claims, per_rule=40, seed=1)
    report = evaluate(monitor(planted), labels)

The generated data are a normal year; what the replay does not settle is filled in here by
assumption (deterministic by seed): the examination share of a hospital visit ~ Beta(2, 6)
(mean 25%), pharmacies none; every pooled pharmacy sale names a prescription written for the
member by a designated hospital 0–2 days before. Each planted anomaly is one the rule is
meant to catch, made the way it happens (a stay reported after the visit was settled,
examinations moved out of a stay, a visit split in three, an account drawn down in round
sums, an institution whose costs or shares run high). Labels are the subjects planted, by
rule; an alert whose subject was not planted is a false alarm (the generator's own tails
raise some: they are part of what is measured).
"""

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from gongji.supervision.claims import INSTITUTIONS, PRESCRIPTIONS, STAYS, VISITS, Claims
from gongji.supervision.monitoring import RULES, Config, load_config, monitor

LABELS = {"rule": pl.Utf8, "subject": pl.Utf8}
INDICATOR_RULES = (
    "institution_cost_per_visit",
    "institution_self_pay_ratio",
    "institution_examination_share",
    "institution_out_of_catalogue_share",
    "institution_cost_growth",
)
MEASURED = (*(r for r in RULES if r != "institution_indicators"), *INDICATOR_RULES)


def generated_claims(data: Path, results: Path, seed: int = 1) -> Claims:
    """Claims from `gongji generate`'s files and a replay's results.parquet (settled visits)."""
    rng = np.random.default_rng(seed)
    visits = pl.read_parquet(data / "visits.parquet").with_columns(
        pl.col("visit_id").cast(pl.Utf8), pl.col("member_id").cast(pl.Utf8)
    )
    settled = pl.read_parquet(
        results, columns=["status", "fund_pay", "account_pay", "cash_pay"]
    ).with_columns(pl.col("status").cast(pl.Utf8))
    frame = visits.hstack(settled).filter(pl.col("status") == "")
    kind = (
        pl.when(pl.col("level") == "pharmacy")
        .then(pl.lit("pharmacy"))
        .otherwise(pl.lit("hospital"))
    )
    share = rng.beta(2, 6, frame.height)
    frame = frame.with_columns(kind.alias("kind")).with_columns(
        pl.when(pl.col("kind") == "hospital")
        .then((pl.col("total") * pl.Series(share)).cast(pl.Int64))
        .otherwise(0)
        .alias("examination"),
    )
    institutions = _institutions(frame)
    frame, prescriptions = _prescriptions(frame, institutions, rng)
    stays = (
        pl.read_parquet(data / "members.parquet", columns=["member_id", "inpatient_stays"])
        .explode("inpatient_stays", empty_as_null=True)
        .drop_nulls("inpatient_stays")
        .unnest("inpatient_stays")
        .with_columns(pl.col("member_id").cast(pl.Utf8))
    )
    year = frame["time"].min().year
    return Claims(
        begin=date(year, 1, 1),
        end=date(year, 12, 31),
        visits=frame.with_columns(pl.col("time").cast(pl.Datetime("us")))
        .select(list(VISITS))
        .cast(VISITS),
        stays=stays.select(list(STAYS)).cast(STAYS),
        prescriptions=prescriptions,
        institutions=institutions,
    )


def _institutions(frame: pl.DataFrame) -> pl.DataFrame:
    return (
        frame.group_by("institution")
        .agg(pl.col("kind").first(), pl.col("level").first())
        .select(
            pl.col("institution").alias("code"), "kind", "level", pl.lit(True).alias("designated")
        )
        .sort("code")
        .cast(INSTITUTIONS)
    )


def _prescriptions(
    frame: pl.DataFrame, institutions: pl.DataFrame, rng: np.random.Generator
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every pooled pharmacy sale gets a prescription from a hospital, 0–2 days before."""
    hospitals = institutions.filter(pl.col("kind") == "hospital")["code"].to_list()
    sale = (pl.col("kind") == "pharmacy") & (pl.col("fund_pay") > 0)
    frame = frame.with_columns(
        pl.when(sale).then(pl.lit("RX") + pl.col("visit_id")).otherwise(None).alias("rxno")
    )
    sales = frame.filter(sale)
    writer = rng.integers(0, len(hospitals), sales.height)
    prescriptions = sales.with_columns(
        pl.Series("writer", [hospitals[i] for i in writer]),
        pl.Series("lag", rng.integers(0, 3, sales.height)),
    ).select(
        "rxno",
        pl.col("writer").alias("institution"),
        "member_id",
        (pl.col("time").dt.date() - pl.duration(days=pl.col("lag"))).alias("issued"),
    )
    return frame, prescriptions.cast(PRESCRIPTIONS)


# What each kind of planted anomaly is for: the monitoring rule that should find it, and the
# rule names (alerts' `rule`) it is measured on.
KINDS = {
    "overlap": ("inpatient_overlap", ("inpatient_overlap",)),
    "shifted": ("shifted_inpatient", ("shifted_inpatient",)),
    "split": ("split_visits", ("split_visits",)),
    "frequent": ("frequent_visits", ("frequent_visits",)),
    "large": ("large_prescription", ("large_prescription",)),
    "cash_out": ("account_cash_out", ("account_cash_out",)),
    "prescription": ("prescription_circulation", ("prescription_circulation",)),
    "institutions": ("institution_indicators", INDICATOR_RULES),
}


def plant(
    claims: Claims, kinds=tuple(KINDS), per_rule: int = 40, seed: int = 1, config=None
) -> tuple[Claims, pl.DataFrame]:
    """The claims with `per_rule` anomalies of each kind planted (institution indicators: a
    few institutions each), and the labels (rule, subject) of what was planted."""
    p = _Planter(claims, np.random.default_rng(seed), config or load_config())
    for kind in kinds:
        getattr(p, kind)(per_rule if kind != "institutions" else max(1, per_rule // 20))
    return p.result()


def measure(claims: Claims, per_rule: int = 40, seed: int = 1, config=None) -> pl.DataFrame:
    """Recall and false alarms of every rule, each measured on the claims with only its own
    kind of anomaly planted (so one rule's plants are not another's false alarms)."""
    config = config or load_config()
    frames = []
    for kind, (rule, measured) in KINDS.items():
        planted, labels = plant(claims, (kind,), per_rule, seed, config)
        alerts = monitor(planted, config, only=(rule,))
        frames.append(evaluate(alerts, labels, measured))
    return pl.concat(frames)


class _Planter:
    """Each method plants one kind of anomaly, on subjects no other method touched."""

    def __init__(self, claims: Claims, rng: np.random.Generator, config: Config):
        self.c = claims
        self.rng = rng
        self.config = config
        self.visits = claims.visits
        self.stays = claims.stays.rows()
        self.prescriptions = claims.prescriptions
        self.institution_rows = claims.institutions
        self.added: list[dict] = []
        self.labels: list[tuple[str, str]] = []
        self.used: set[str] = set()  # members (and institutions) an anomaly is planted on
        self.n = 0

    # -- helpers
    def _members(self, frame: pl.DataFrame, k: int) -> pl.DataFrame:
        """`k` rows of `frame`, at most one per member, members not used before."""
        frame = frame.filter(~pl.col("member_id").is_in(list(self.used)))
        frame = frame.unique("member_id", keep="first").sort("visit_id")
        rows = frame.sample(min(k, frame.height), seed=int(self.rng.integers(1 << 31)))
        self.used.update(rows["member_id"].to_list())
        return rows

    def _big(self) -> list[str]:
        """The busiest quarter of institutions: an anomaly planted there does not move the
        institution's indicators (a few huge bills at a small clinic would)."""
        counts = self.c.visits.group_by("institution").len()
        return counts.filter(pl.col("len") >= counts["len"].quantile(0.75))["institution"].to_list()

    def _visit(self, like: dict, **changes) -> dict:
        self.n += 1
        row = {**like, "visit_id": f"planted-{self.n}", "rxno": None, **changes}
        self.added.append(row)
        return row

    def _paid(self, total: int, fund_share: float = 0.5) -> dict:
        fund = int(total * fund_share)
        return {
            "total": total,
            "in_scope": total,
            "fund_pay": fund,
            "account_pay": 0,
            "cash_pay": total - fund,
        }

    # -- one method per rule
    def overlap(self, k: int) -> None:
        """KF-10: a stay reported after the visits in it were settled with pooling."""
        paid = self.visits.filter(pl.col("fund_pay") > 0, pl.col("category") == "general")
        for v in self._members(paid, k).iter_rows(named=True):
            day = v["time"].date()
            start, end = day - timedelta(days=1), day + timedelta(days=1)
            self.stays.append((v["member_id"], start, end))
            inside = paid.filter(
                pl.col("member_id") == v["member_id"],
                pl.col("time").dt.date().is_between(start, end),
            )
            self.labels += [("inpatient_overlap", i) for i in inside["visit_id"]]

    def shifted(self, k: int) -> None:
        """XSBN-33: an examination-heavy visit (50–95% examinations) 1–3 days before admission
        or after discharge."""
        stays = pl.DataFrame(self.stays, schema=STAYS, orient="row")
        visits = self.visits.filter(pl.col("kind") == "hospital").join(stays, on="member_id")
        for v in self._members(visits, k).iter_rows(named=True):
            lag = int(self.rng.integers(1, 4))
            when = (
                datetime.combine(v["start"] - timedelta(days=lag), v["time"].time())
                if self.rng.random() < 0.5
                else datetime.combine(v["end"] + timedelta(days=lag), v["time"].time())
            )
            total = int(self.rng.integers(30_000, 200_000))
            row = self._visit(
                v,
                time=when,
                examination=total * int(self.rng.integers(50, 96)) // 100,
                **self._paid(total),
            )
            self.labels.append(("shifted_inpatient", row["visit_id"]))

    def split(self, k: int) -> None:
        """One visit split into three settlements at the same institution the same day."""
        hospital = self.visits.filter(pl.col("kind") == "hospital", pl.col("total") >= 3_000)
        for v in self._members(hospital, k).iter_rows(named=True):
            for hours in (1, 2):
                self._visit(v, time=v["time"] + timedelta(minutes=20 * hours))
            self.labels.append(
                ("split_visits", f"{v['member_id']}@{v['institution']}@{v['time'].date()}")
            )

    def frequent(self, k: int) -> None:
        """10–24 visits within four weeks (some below the threshold: recall measures it)."""
        for v in self._members(self.visits.filter(pl.col("kind") == "hospital"), k).iter_rows(
            named=True
        ):
            for day in sorted(self.rng.choice(28, int(self.rng.integers(10, 25)), replace=False)):
                self._visit(v, time=v["time"] + timedelta(days=int(day) + 1, hours=1))
            self.labels.append(("frequent_visits", v["member_id"]))

    def large(self, k: int) -> None:
        """A prescription 1.2 to 3 times the limit for its kind of institution."""
        limits = self.config.large_prescription.max_total
        paid = self.visits.filter(pl.col("fund_pay") > 0, pl.col("institution").is_in(self._big()))
        for v in self._members(paid, k).iter_rows(named=True):
            limit = limits.get(v["kind"], limits["other"])
            total = limit * int(self.rng.integers(120, 300)) // 100
            row = self._visit(
                v,
                time=v["time"] + timedelta(hours=1),
                examination=0,
                rxno=None,
                **self._paid(total),
            )
            if v["kind"] == "pharmacy":
                row.update(fund_pay=0, account_pay=row["cash_pay"] + row["fund_pay"], cash_pay=0)
            self.labels.append(("large_prescription", row["visit_id"]))

    def cash_out(self, k: int) -> None:
        """Two to five round-sum pharmacy purchases from the account within three weeks."""
        sales = self.visits.filter(pl.col("kind") == "pharmacy")
        for v in self._members(sales, k).iter_rows(named=True):
            for day in sorted(self.rng.choice(21, int(self.rng.integers(2, 6)), replace=False)):
                total = 5_000 * int(self.rng.integers(2, 7))
                self._visit(
                    v,
                    time=v["time"] + timedelta(days=int(day), hours=2),
                    total=total,
                    in_scope=total,
                    examination=0,
                    fund_pay=0,
                    account_pay=total,
                    cash_pay=0,
                )
            self.labels.append(("account_cash_out", v["member_id"]))

    def prescription(self, k: int) -> None:
        """A pooled pharmacy sale whose prescription is missing, unknown, written by an
        institution not designated, for someone else, stale, or used a second time."""
        sales = self.visits.filter(pl.col("kind") == "pharmacy", pl.col("fund_pay") > 0)
        broken = {}
        for i, v in enumerate(self._members(sales, k).iter_rows(named=True)):
            how = i % 6
            if how == 0:
                broken[v["visit_id"]] = None
            elif how == 1:
                broken[v["visit_id"]] = "RX-UNKNOWN-" + v["visit_id"]
            elif how in (2, 3, 4):
                rx = "RXP" + v["visit_id"]
                writer, patient, issued = "H-UNDESIGNATED", v["member_id"], v["time"].date()
                if how == 3:
                    writer = self.prescriptions["institution"][0]
                    patient = "someone-else"
                if how == 4:
                    writer = self.prescriptions["institution"][0]
                    issued -= timedelta(days=10)
                self._add_prescription(rx, writer, patient, issued)
                broken[v["visit_id"]] = rx
            else:  # the same prescription once more, an hour later
                row = self._visit(v, time=v["time"] + timedelta(hours=1), rxno=v["rxno"])
                self.labels.append(("prescription_circulation", row["visit_id"]))
                continue
            self.labels.append(("prescription_circulation", v["visit_id"]))
        self.visits = self.visits.with_columns(
            pl.col("visit_id")
            .replace_strict(broken, default=pl.col("rxno"), return_dtype=pl.Utf8)
            .alias("rxno")
        )
        if not self.institution_rows.filter(pl.col("code") == "H-UNDESIGNATED").height:
            self.institution_rows = pl.concat(
                [
                    self.institution_rows,
                    pl.DataFrame(
                        [("H-UNDESIGNATED", "hospital", "level1", False)],
                        schema=INSTITUTIONS,
                        orient="row",
                    ),
                ]
            )

    def _add_prescription(self, rx: str, writer: str, patient: str, issued) -> None:
        self.prescriptions = pl.concat(
            [
                self.prescriptions,
                pl.DataFrame([(rx, writer, patient, issued)], schema=PRESCRIPTIONS, orient="row"),
            ]
        )

    def institutions(self, k: int) -> None:
        """A few institutions per indicator whose costs or shares run high; one whose costs
        double in June."""
        hospitals = self.visits.filter(pl.col("kind") == "hospital")
        june = pl.col("time").dt.month().is_in([5, 6])
        busy = (  # 100+ visits in May and in June: June's growth is compared
            hospitals.filter(june)
            .group_by("institution", pl.col("time").dt.month().alias("month"))
            .len()
            .group_by("institution")
            .agg(pl.col("len").min())
            .filter(pl.col("len") >= 100)
            .sort("institution")["institution"]
            .to_list()
        )
        growing = [busy[i] for i in self.rng.permutation(len(busy))[:k]]
        counts = hospitals.group_by("institution").len().filter(pl.col("len") >= 400)
        pool = sorted(set(counts["institution"]) - set(growing))
        chosen = iter(pool[i] for i in self.rng.permutation(len(pool)))
        changes = {
            "institution_cost_per_visit": lambda: {
                name: pl.col(name) * 2
                for name in (
                    "total",
                    "in_scope",
                    "examination",
                    "fund_pay",
                    "account_pay",
                    "cash_pay",
                )
            },
            "institution_self_pay_ratio": lambda: {
                "cash_pay": pl.col("cash_pay") + pl.col("fund_pay"),
                "fund_pay": pl.lit(0, pl.Int64),
            },
            "institution_examination_share": lambda: {"examination": pl.col("total") * 7 // 10},
            "institution_out_of_catalogue_share": lambda: {
                "in_scope": pl.col("in_scope") * 4 // 10,
                "fund_pay": pl.col("fund_pay") * 4 // 10,
                "cash_pay": pl.col("cash_pay") + pl.col("fund_pay") - pl.col("fund_pay") * 4 // 10,
            },
        }
        for rule, change in changes.items():
            for _ in range(k):
                code = next(chosen)
                self._change(pl.col("institution") == code, change())
                self.labels.append((rule, code))
        for code in growing:
            june = (pl.col("institution") == code) & (pl.col("time").dt.month() == 6)
            self._change(june, changes["institution_cost_per_visit"]())
            self.labels.append(("institution_cost_growth", f"{code}@{self._year()}-06"))

    def _year(self) -> int:
        return self.c.visits["time"].min().year

    def _change(self, where: pl.Expr, columns: dict[str, pl.Expr]) -> None:
        self.visits = self.visits.with_columns(
            pl.when(where).then(expr).otherwise(pl.col(name)).alias(name)
            for name, expr in columns.items()
        )

    def result(self) -> tuple[Claims, pl.DataFrame]:
        added = pl.DataFrame(self.added, schema=VISITS, orient="row") if self.added else None
        visits = pl.concat([self.visits, added]) if added is not None else self.visits
        claims = Claims(
            begin=self.c.begin,
            end=self.c.end,
            visits=visits.sort("member_id", "time"),
            stays=pl.DataFrame(self.stays, schema=STAYS, orient="row"),
            prescriptions=self.prescriptions,
            institutions=self.institution_rows,
        )
        return claims, pl.DataFrame(self.labels, schema=LABELS, orient="row").unique()


def evaluate(
    alerts: pl.DataFrame, labels: pl.DataFrame, rules: tuple[str, ...] = MEASURED
) -> pl.DataFrame:
    """Per rule: planted, alerts, found (planted and alerted), recall, false alarms (alerts
    about nothing planted) and their share of the alerts (bp: 10000 = all)."""
    rows = []
    for rule in rules:
        planted = set(labels.filter(pl.col("rule") == rule)["subject"])
        raised = set(alerts.filter(pl.col("rule") == rule)["subject"])
        found = len(planted & raised)
        false = len(raised - planted)
        rows.append(
            {
                "rule": rule,
                "planted": len(planted),
                "alerts": len(raised),
                "found": found,
                "recall_bp": found * 10_000 // len(planted) if planted else 0,
                "false_alarms": false,
                "false_alarm_bp": false * 10_000 // len(raised) if raised else 0,
            }
        )
    return pl.DataFrame(rows)
