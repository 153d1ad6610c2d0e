"""Monitoring rules: a worked example per rule (it fires, and the near miss does not), the
rules over the store's settled visits (SQLite and PostgreSQL), and recall / false alarms
measured on generated data with planted anomalies."""

from datetime import date, datetime, timedelta

import polars as pl
import pytest
from typer.testing import CliRunner

from gongji.cli import app
from gongji.errors import InputError
from gongji.ledger import members as M
from gongji.ledger.members import add_member
from gongji.ledger.settlement import settle
from gongji.supervision import claims as C
from gongji.supervision import monitoring, planted

CONFIG = monitoring.load_config()
T0 = datetime(2023, 5, 10, 9, 0)


def visit(vid, member="M1", when=T0, institution="H1", **more) -> dict:
    row = {
        "visit_id": vid,
        "member_id": member,
        "time": when,
        "institution": institution,
        "kind": "hospital",
        "level": "level2",
        "category": "general",
        "total": 20_000,
        "in_scope": 18_000,
        "examination": 2_000,
        "fund_pay": 9_000,
        "account_pay": 5_000,
        "cash_pay": 6_000,
        "rxno": None,
    }
    return {**row, **more}


def claims(visits, stays=(), prescriptions=(), institutions=None) -> C.Claims:
    institutions = institutions or [
        ("H1", "hospital", "level2", True),
        ("H2", "hospital", "level1", False),
        ("P1", "pharmacy", "pharmacy", True),
    ]
    return C.Claims(
        visits=pl.DataFrame(list(visits), schema=C.VISITS),
        stays=pl.DataFrame(list(stays), schema=C.STAYS, orient="row"),
        prescriptions=pl.DataFrame(list(prescriptions), schema=C.PRESCRIPTIONS, orient="row"),
        institutions=pl.DataFrame(institutions, schema=C.INSTITUTIONS, orient="row"),
    )


def subjects(c: C.Claims, rule: str) -> list[str]:
    alerts = monitoring.monitor(c, CONFIG)
    return sorted(alerts.filter(pl.col("rule") == rule)["subject"])


def rules_of(c: C.Claims, rule: str) -> set[str]:
    """The rule IDs the alerts of one monitoring rule carry out."""
    alerts = monitoring.monitor(c, CONFIG)
    return set(alerts.filter(pl.col("rule") == rule)["rules"])


def test_inpatient_overlap_kf10_counts_admission_and_discharge_days():
    stay = ("M1", date(2023, 5, 10), date(2023, 5, 12))
    c = claims(
        [
            visit("in-first-day"),
            visit("in-last-day", when=T0 + timedelta(days=2)),
            visit("day-after", when=T0 + timedelta(days=3)),
            visit("no-pooling", when=T0 + timedelta(days=1), fund_pay=0, cash_pay=15_000),
            visit("chronic", when=T0 + timedelta(days=1), category="chronic"),
        ],
        stays=[stay],
    )
    assert subjects(c, "inpatient_overlap") == ["in-first-day", "in-last-day"]
    alert = (
        monitoring.monitor(c, CONFIG).filter(pl.col("subject") == "in-first-day").row(0, named=True)
    )
    assert alert["rules"] == "KF-10,M-4"
    assert alert["amount"] == 9_000
    assert '"start":"2023-05-10"' in alert["evidence"]


def test_shifted_inpatient_xsbn33_window_and_share():
    stay = ("M1", date(2023, 5, 20), date(2023, 5, 25))
    heavy = {"total": 50_000, "examination": 30_000}  # 60%: at the threshold
    c = claims(
        [
            visit("3-days-before", when=datetime(2023, 5, 17, 9), **heavy),
            visit("4-days-before", when=datetime(2023, 5, 16, 9), **heavy),
            visit("2-days-after", when=datetime(2023, 5, 27, 9), **heavy),
            visit("light", when=datetime(2023, 5, 19, 9), total=50_000, examination=29_999),
            visit("small", when=datetime(2023, 5, 19, 10), total=9_999, examination=9_000),
        ],
        stays=[stay],
    )
    assert subjects(c, "shifted_inpatient") == ["2-days-after", "3-days-before"]


def test_split_visits_three_at_one_institution_in_one_day():
    c = claims(
        [
            visit("a"),
            visit("b", when=T0 + timedelta(hours=1)),
            visit("c", when=T0 + timedelta(hours=2)),
            visit("other-institution", member="M2", institution="H2"),
            visit("two-only", member="M2"),
            visit("two-only-2", member="M2", when=T0 + timedelta(hours=3)),
        ]
    )
    assert subjects(c, "split_visits") == ["M1@H1@2023-05-10"]


def test_frequent_visits_more_than_fifteen_in_thirty_days():
    many = [visit(f"m1-{d}", when=T0 + timedelta(days=d * 29 / 15)) for d in range(16)]
    spread = [visit(f"m2-{d}", member="M2", when=T0 + timedelta(days=2 * d)) for d in range(16)]
    assert subjects(claims(many + spread), "frequent_visits") == ["M1"]


def test_large_prescription_limit_by_institution_kind():
    c = claims(
        [
            visit("pharmacy-over", institution="P1", kind="pharmacy", total=150_001),
            visit("pharmacy-at", member="M2", institution="P1", kind="pharmacy", total=150_000),
            visit("hospital-1600", member="M3", total=160_000),
            visit("hospital-over", member="M4", total=1_000_001),
        ]
    )
    assert subjects(c, "large_prescription") == ["hospital-over", "pharmacy-over"]
    # M-3: agreement management forbids large prescriptions (佳木斯 第十五条, 南阳 第二十二条)
    assert rules_of(c, "large_prescription") == {"M-3,M-4"}


def test_account_cash_out_round_sums_from_the_account():
    def buy(vid, member, day, total, account=None):
        return visit(
            vid,
            member,
            T0 + timedelta(days=day),
            "P1",
            kind="pharmacy",
            total=total,
            in_scope=total,
            fund_pay=0,
            account_pay=total if account is None else account,
            cash_pay=0 if account is None else total - account,
            examination=0,
        )

    c = claims(
        [
            *(buy(f"a{d}", "M1", d * 9, 10_000) for d in range(3)),  # 3 x 100 yuan in 18 days
            *(buy(f"b{d}", "M2", d * 20, 10_000) for d in range(3)),  # spread over 40 days
            *(buy(f"c{d}", "M3", d, 10_001) for d in range(3)),  # not round sums
            *(buy(f"d{d}", "M4", d, 10_000, account=9_000) for d in range(3)),  # 90% account
        ]
    )
    assert subjects(c, "account_cash_out") == ["M1"]


def test_prescription_circulation_kf23_pzh14_xsbn32():
    def sale(vid, rxno, member="M1", day=0):
        return visit(vid, member, T0 + timedelta(days=day), "P1", kind="pharmacy", rxno=rxno)

    issued = T0.date()
    c = claims(
        [
            sale("ok", "RX1"),
            sale("missing", None, "M2"),
            sale("unknown", "RX-NONE", "M3"),
            sale("undesignated", "RX2", "M4"),
            sale("someone-else", "RX3", "M5"),
            sale("stale", "RX4", "M6", day=4),
            sale("again", "RX1", day=1),
            visit("not-pooled", "M7", institution="P1", kind="pharmacy", fund_pay=0),
        ],
        prescriptions=[
            ("RX1", "H1", "M1", issued),
            ("RX2", "H2", "M4", issued),
            ("RX3", "H1", "M1", issued),
            ("RX4", "H1", "M6", issued),
        ],
    )
    alerts = monitoring.monitor(c, CONFIG).filter(pl.col("rule") == "prescription_circulation")
    reasons = {r["subject"]: r["evidence"] for r in alerts.iter_rows(named=True)}
    assert sorted(reasons) == [
        "again",
        "missing",
        "someone-else",
        "stale",
        "undesignated",
        "unknown",
    ]
    assert "used again" in reasons["again"] and "not designated" in reasons["undesignated"]


def test_institution_indicators_ny22_against_peers_of_the_level():
    visits = []
    for i, code in enumerate(("A", "B", "C", "D")):
        scale = 2 if code == "D" else 1  # D: twice its peers' cost per visit
        for n in range(200):
            when = datetime(2023, 1 + n % 6, 1 + n % 28, 9)
            visits.append(
                visit(
                    f"{code}{n}",
                    f"M{i}-{n}",
                    when,
                    code,
                    total=10_000 * scale,
                    in_scope=9_000 * scale,
                    fund_pay=5_000 * scale,
                    account_pay=2_000 * scale,
                    cash_pay=3_000 * scale,
                    examination=1_000 * scale,
                )
            )
    c = claims(visits)
    assert subjects(c, "institution_cost_per_visit") == ["D"]
    assert subjects(c, "institution_self_pay_ratio") == []  # shares are the same
    # NY-22 (二): 次均费用高 … against the median of institutions of the level
    assert rules_of(c, "institution_cost_per_visit") == {"NY-22,M-4"}


def test_bad_threshold_is_named(tmp_path):
    bad = tmp_path / "m.yaml"
    text = monitoring.CONFIG.read_text(encoding="utf-8").replace('"60%"', '"sixty"', 1)
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"m.yaml: shifted_inpatient.min_examination_share"):
        monitoring.load_config(bad)


# -- over the store ------------------------------------------------------------------------------
def test_monitor_over_the_store_sees_a_stay_reported_after_the_visit(db):
    add_member(db, "kaifeng", {"id": "P1", "type": "employee", "account_balance": "100.00"})
    for n, hour in enumerate((9, 10, 11)):
        settle(
            db,
            f"T{n}",
            "P1",
            {
                "id": f"V{n}",
                "time": f"2023-03-01T{hour:02d}:00:00",
                "institution": "H1",
                "total": "80.00",
            },
        )
    with db.begin() as conn:  # the stay is reported after the visits were settled
        M.update_profile(
            conn,
            M.lock(conn, "P1"),
            {"inpatient_stays": [{"from": "2023-03-01", "to": "2023-03-04"}]},
        )
    alerts = monitoring.monitor(C.from_ledger(db, date(2023, 3, 1), date(2023, 3, 31)), CONFIG)
    by_rule = {r: sorted(g["subject"]) for (r,), g in alerts.group_by("rule")}
    # KF-9a: one deductible (40 at level 2) for the day; each visit still pays pooling
    assert by_rule == {
        "split_visits": ["P1@H1@2023-03-01"],
        "inpatient_overlap": ["T0", "T1", "T2"],
    }


def test_monitor_command(db, monkeypatch, tmp_path):
    monkeypatch.setenv("GONGJI_DATABASE_URL", str(db.url.render_as_string(hide_password=False)))
    add_member(db, "kaifeng", {"id": "P1", "type": "employee", "account_balance": "100.00"})
    for n in range(3):
        settle(
            db,
            f"T{n}",
            "P1",
            {
                "id": f"V{n}",
                "time": f"2023-03-01T0{n + 1}:00:00",
                "institution": "H1",
                "total": "80.00",
            },
        )
    saved = tmp_path / "alerts.csv"
    run = CliRunner().invoke(
        app, ["monitor", "--from", "2023-03-01", "--to", "2023-03-31", "--out", str(saved)]
    )
    assert run.exit_code == 0, run.output
    assert "split_visits" in run.output
    written = pl.read_csv(saved, infer_schema_length=0)  # as text: what a spreadsheet shows
    assert written["subject"].to_list() == ["P1@H1@2023-03-01"]
    # yuan with two decimals, the unit in the header (issue 21): the fund's 110.00 of the day
    assert "amount" not in written.columns and written["amount_yuan"].to_list() == ["110.00"]
    assert "11000" not in written["evidence"][0]
    # the evidence as Chinese 名称：值 text in yuan: three visits of 80.00 (24000 fen)
    assert written["evidence"][0] == (
        "个人编号：P1；机构编码：H1；日期：2023-03-01；就诊次数：3；医疗费总额：240.00；"
        "就诊编号：T0、T1、T2"  # the claims' visit ids: the settlements' transactions
    )
    assert saved.read_bytes().startswith(b"\xef\xbb\xbfrule,")  # a BOM: Excel reads UTF-8
    # the terminal: each alert's rule in Chinese and its evidence as label：value in yuan
    assert "分解就诊 P1@H1@2023-03-01" in run.output and "医疗费总额：240.00" in run.output
    assert '{"' not in run.output and "24000" not in run.output
    parquet = tmp_path / "alerts.parquet"
    args = ["monitor", "--from", "2023-03-01", "--to", "2023-03-31", "--out", str(parquet)]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert pl.read_parquet(parquet)["amount"].to_list() == [11000]  # fen, for programs
    bad = CliRunner().invoke(app, ["monitor", "--from", "2023-03-31", "--to", "2023-03-01"])
    assert bad.exit_code == 2 and "--to" in bad.output


# -- measured on generated data --------------------------------------------------------------------
@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> C.Claims:
    from gongji import policy
    from gongji.analysis import generate, replay

    root = tmp_path_factory.mktemp("monitoring")
    generate.generate("kaifeng", 20_000, 2023, root, seed=3)
    baseline = replay.ReplayPolicy("baseline", policy.load_region("kaifeng"))
    replay.replay(root / "visits.parquet", root / "members.parquet", [baseline], root / "run")
    return planted.generated_claims(root, root / "run" / "baseline" / "results.parquet")


def test_recall_and_false_alarms_on_planted_anomalies(generated):
    report = {r["rule"]: r for r in planted.measure(generated, per_rule=40).iter_rows(named=True)}
    assert set(report) == set(planted.MEASURED)
    exact = ("inpatient_overlap", "split_visits", "prescription_circulation")
    for rule in exact:  # the rule is the definition: everything found, nothing else
        assert report[rule]["found"] == report[rule]["planted"] > 0, report[rule]
        assert report[rule]["false_alarms"] == 0, report[rule]
    for r in report.values():
        assert r["planted"] > 0 and r["recall_bp"] >= 6_000, r  # planted around the thresholds
        assert r["false_alarm_bp"] <= 5_000, r
    # planted below the threshold on purpose: some are missed
    assert report["frequent_visits"]["recall_bp"] < 10_000


def test_planted_claims_keep_every_normal_visit(generated):
    claims_after, labels = planted.plant(generated, per_rule=10)
    before = set(generated.visits["visit_id"])
    assert before <= set(claims_after.visits["visit_id"])
    assert labels.height > 0 and labels.filter(pl.col("rule") == "").height == 0


def test_measure_command_names_a_missing_file(tmp_path):
    run = CliRunner().invoke(app, ["monitor-measure", str(tmp_path), "x.parquet"])
    assert run.exit_code == 2 and "data: no such file" in run.output


def test_a_prescription_used_twice_flags_the_later_sale_whatever_the_row_order():
    def sale(vid, day):
        return visit(vid, "M1", T0 + timedelta(days=day), "P1", kind="pharmacy", rxno="RX1")

    issued = T0.date()
    c = claims(
        [sale("later", 1), sale("first", 0)],  # the store gives rows in no particular order
        prescriptions=[("RX1", "H1", "M1", issued), ("RX1", "H1", "M1", issued)],  # uploaded twice
    )
    assert subjects(c, "prescription_circulation") == ["later"]


def test_cost_growth_compares_whole_months_only():
    # a flat institution: 8 visits a day; monitored from 20 January to the end of February
    visits = [
        visit(f"v{d}-{n}", f"M{d}-{n}", datetime(2023, 1, 20) + timedelta(days=d, hours=n))
        for d in range(40)
        for n in range(8)
    ]
    c = claims(visits)
    assert c.period() == (date(2023, 1, 20), date(2023, 2, 28))
    assert subjects(c, "institution_cost_growth") == []
    march = [visit(f"m{d}-{n}", f"N{d}-{n}", datetime(2023, 3, 1) + timedelta(days=d, hours=n),
                   total=40_000) for d in range(31) for n in range(8)]  # fmt: skip
    # March at twice February's cost a visit: growth, now that both months are whole
    assert subjects(claims(visits + march), "institution_cost_growth") == ["H1@2023-03"]
