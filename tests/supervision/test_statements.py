"""Institution statements (M-2), their payment methods, reconciliation rows (3201/3202) and
clearing between regions (M-7), on SQLite and PostgreSQL.

Worked examples computed by hand from Kaifeng's 2023 general outpatient rules (KF-9: level
3 deductible 50 and employee 50%, level 1 none and 60%, level 2 40 and 55%; monthly cap
150) and Xishuangbanna's (XSBN-9/10: level 1 deductible 30, employee 60%); every amount is
also checked against sums of the journal legs made here, apart from the code under test."""

from datetime import date

import pytest
from sqlalchemy import insert

from gongji.errors import InputError
from gongji.ledger import members, registry
from gongji.ledger.family import bind
from gongji.ledger.schema import family_bindings
from gongji.ledger.settlement import cancel, settle
from gongji.supervision import clearing, payment, statements
from gongji.supervision.payment import payment_config
from gongji.supervision.present import in_yuan

from .journal import statement_sums

MARCH = date(2023, 3, 1)
FILED = {"from": "2023-01-01", "to": "2023-12-31"}


def visit(vid: str, day: str, institution: str, total: str, **more) -> dict:
    return {"id": vid, "time": f"2023-{day}T10:00:00", "institution": institution,
            "total": total, **more}  # fmt: skip


def add(db, region: str, member_id: str, mtype: str, balance: str, **more) -> None:
    members.add_member(
        db, region, {"id": member_id, "type": mtype, "account_balance": balance, **more}
    )


def institution(db, code: str, region: str, level: str) -> None:
    with db.begin() as conn:
        registry.add_institution(conn, {"code": code, "name": code, "region": region,
                                        "level": level})  # fmt: skip


def config(*methods: dict, enrolment: dict | None = None):
    cited = [{"region": "kaifeng", "rule": "KF-24", "article": "第二十四条", **m} for m in methods]
    return payment_config({"methods": cited, "enrolment": enrolment or {}})


@pytest.fixture
def kaifeng(db):
    """P1: an employee with 300 yuan; three March visits, the last one cancelled."""
    add(db, "kaifeng", "P1", "employee", "300.00")
    # level 3, in-scope 200: fund (200 - 50) x 50% = 75, account 125, cash the 50 out of scope
    settle(db, "T1", "P1", visit("V1", "03-02", "H001", "250.00", in_scope="200.00"))
    # level 1: no deductible, fund 80 x 60% = 48, account 32
    settle(db, "T2", "P1", visit("V2", "03-10", "C1", "80.00"))
    # level 3: fund (100 - 50) x 50% = 25, account 75; cancelled: a refund, nets to nothing
    settle(db, "T3", "P1", visit("V3", "03-20", "H001", "100.00"))
    cancel(db, "T3")
    return db


def test_a_months_statements_from_the_journal(kaifeng):
    got = {s["institution"]: s for s in statements.statements(kaifeng, MARCH)}
    assert sorted(got) == ["C1", "H001"]
    h = got["H001"]
    assert (h["settlements"], h["cancelled"]) == (2, 1)
    assert (h["total"], h["fund_pay"], h["account_pay"], h["mutual_aid_pay"], h["cash_pay"]) == (
        25000, 7500, 12500, 0, 5000
    )  # fmt: skip
    assert h["owed"] == 20000 and h["payable"] == 20000  # fund + account; the cash was the member's
    assert h["payment"] == {
        "method": "fee_for_service", "rule": "KF-24", "article": "第二十四条",
        "fund_settled": 7500, "fund_payable": 7500, "adjustment": 0,
    }  # fmt: skip
    assert (got["C1"]["total"], got["C1"]["fund_pay"], got["C1"]["owed"]) == (8000, 4800, 8000)
    for code, s in got.items():
        assert {k: s[k] for k in statement_sums(kaifeng, code, "2023-03-01", "2023-04-01")} == (
            statement_sums(kaifeng, code, "2023-03-01", "2023-04-01")
        )
    assert in_yuan(h)["owed"] == in_yuan(20000) and str(in_yuan(h)["owed"]) == "200.00"
    assert in_yuan(h)["settlements"] == 2


def test_a_period_includes_both_days_and_nothing_outside(kaifeng):
    one_day = statements.statement(kaifeng, "H001", date(2023, 3, 2), date(2023, 3, 2))
    assert (one_day["settlements"], one_day["total"]) == (1, 25000)
    before = statements.statement(kaifeng, "H001", date(2023, 2, 1), date(2023, 3, 1))
    assert (before["settlements"], before["total"], before["payable"]) == (0, 0, 0)
    with pytest.raises(InputError) as err:
        statements.statement(kaifeng, "H001", date(2023, 3, 2), date(2023, 3, 1))
    assert err.value.field == "end"


def test_reconciliation_rows_show_a_refund_with_its_amounts(kaifeng):
    rows = statements.reconciliation_rows(kaifeng, "H001", MARCH, date(2023, 3, 31))
    assert [(r["setl_id"], r["psn_no"], r["mdtrt_id"], str(r["medfee_sumamt"]),
             str(r["fund_pay_sumamt"]), str(r["acct_pay"]), r["refd_setl_flag"])
            for r in rows] == [
        ("T1", "P1", "V1", "250.00", "75.00", "125.00", "0"),
        ("T3", "P1", "V3", "100.00", "25.00", "75.00", "1"),
    ]  # fmt: skip
    totals = statements.reconciliation_totals(kaifeng, "H001", MARCH, date(2023, 3, 31))
    assert {k: str(v) for k, v in totals.items()} == {
        "medfee_sumamt": "250.00", "fund_pay_sumamt": "75.00", "acct_pay": "125.00",
        "fixmedins_setl_cnt": "1",
    }  # fmt: skip


def test_a_global_budget_pays_no_more_than_the_year_has_left(db):
    add(db, "kaifeng", "P1", "employee", "300.00")
    settle(db, "T0", "P1", visit("V0", "02-15", "H001", "250.00", in_scope="200.00"))  # fund 75
    settle(db, "T1", "P1", visit("V1", "03-02", "H001", "250.00", in_scope="200.00"))  # fund 75
    budget = config({"institution": "H001", "method": "fee_for_service",
                     "annual_budget": "100.00"})  # fmt: skip
    feb = statements.statement(db, "H001", date(2023, 2, 1), date(2023, 2, 28), budget)
    assert (feb["payment"]["fund_payable"], feb["payment"]["over_budget"]) == (7500, 0)
    # March: 100 - 75 = 25 left of the budget; 75 settled, 25 payable, 50 over budget
    got = statements.statement(db, "H001", MARCH, date(2023, 3, 31), budget)["payment"]
    assert got == {
        "method": "fee_for_service", "rule": "KF-24", "article": "第二十四条",
        "fund_settled": 7500, "fund_payable": 2500, "adjustment": -5000,
        "annual_budget": 10000, "budget_left": 2500, "over_budget": 5000,
    }  # fmt: skip
    march = statements.statement(db, "H001", MARCH, date(2023, 3, 31), budget)
    assert march["payable"] == 20000 - 5000  # the account's 125 is owed in full
    with pytest.raises(InputError) as err:
        statements.statement(db, "H001", date(2023, 12, 1), date(2024, 1, 31), budget)
    assert err.value.field == "end"


def test_capitation_pays_per_member_month_whatever_the_visits_cost(kaifeng):
    cap = config(
        {"level": "level1", "method": "capitation", "per_member_month": "12.50"},
        enrolment={"C1": {"2023-03": 40}, "H2": {"2023-03": 10}},
    )
    got = {s["institution"]: s for s in statements.statements(kaifeng, MARCH, cap)}
    # C1: 40 members x 12.50 = 500 payable; its visits charged the fund 48
    assert got["C1"]["payment"] == {
        "method": "capitation", "rule": "KF-24", "article": "第二十四条",
        "fund_settled": 4800, "fund_payable": 50000, "adjustment": 45200,
        "per_member_month": 1250, "member_months": 40,
    }  # fmt: skip
    assert got["C1"]["payable"] == 8000 + 45200
    # H2 is level 2: enrolled, but paid fee-for-service, so nothing without visits
    assert got["H2"]["payment"]["method"] == "fee_for_service" and got["H2"]["payable"] == 0
    assert got["H001"]["payment"]["method"] == "fee_for_service"
    # part of a month is no capitation month; a month without its count is refused, by name
    half = statements.statement(kaifeng, "C1", MARCH, date(2023, 3, 15), cap)
    assert half["payment"]["member_months"] == 0
    with pytest.raises(InputError) as err:
        statements.statement(kaifeng, "C1", MARCH, date(2023, 4, 30), cap)
    assert err.value.field == "enrolment.C1.2023-04"


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"method": "capitation"}, "methods[0].per_member_month"),
        ({"method": "fee_for_service", "annual_budget": 1000.5}, "methods[0].annual_budget"),
        ({"method": "fee_for_service", "annual_budget": "10.001"}, "methods[0].annual_budget"),
        ({"method": "by_points"}, "methods[0].method"),
        ({"method": "fee_for_service", "rule": "NY-17"}, "methods[0].rule"),
        ({"method": "fee_for_service", "institution": "H1", "level": "level2"}, "methods[0].level"),
    ],
)
def test_a_bad_payment_config_names_the_field(entry, field):
    with pytest.raises(InputError) as err:
        config(entry)
    assert err.value.field == f"payment.{field}"


def test_the_shipped_payment_config_cites_each_regions_rule_and_article():
    shipped = payment.load_payment()
    assert {m.region for m in shipped.methods} == set(payment.articles())
    assert all((m.rule, m.article) == payment.articles()[m.region] for m in shipped.methods)


def test_mutual_aid_in_a_statement(db):
    institution(db, "X1", "xishuangbanna", "level1")
    add(db, "xishuangbanna", "H", "employee", "100.00")
    add(db, "xishuangbanna", "U", "employee", "10.00")
    with db.begin() as conn:
        bind(conn, {"holder": "H", "user": "U", "relationship": "child",
                                    "from": "2023-02-01", "to": "2023-12-31"})  # fmt: skip
    # fund (100 - 30) x 60% = 42; the user's account 10, the holder's 48 (XSBN-24)
    settle(db, "T1", "U", visit("V1", "03-05", "X1", "100.00"))
    got = statements.statement(db, "X1", MARCH, date(2023, 3, 31))
    assert (got["fund_pay"], got["account_pay"], got["mutual_aid_pay"], got["cash_pay"]) == (
        4200, 1000, 4800, 0
    )  # fmt: skip
    assert got["owed"] == 10000 and got["payment"]["rule"] == "XSBN-30"
    assert {k: got[k] for k in statement_sums(db, "X1", "2023-03-01", "2023-04-01")} == (
        statement_sums(db, "X1", "2023-03-01", "2023-04-01")
    )


def test_remote_care_is_cleared_between_the_regions(db):
    institution(db, "N1", "nanyang", "level2")
    add(db, "kaifeng", "P2", "employee", "50.00", remote_filing=FILED)
    # filed (KF-22), at a level 2 hospital in Nanyang: fund (100 - 40) x 55% = 33, the
    # account's 50, cash 17
    settle(db, "T1", "P2", visit("V1", "03-05", "N1", "100.00", remote=True))
    settle(db, "T2", "P2", visit("V2", "03-06", "N1", "10.00", remote=True))
    cancel(db, "T2")
    settle(db, "T3", "P2", visit("V3", "03-07", "H001", "60.00"))  # at home: not cleared
    payable = {"counterpart": "nanyang", "direction": "payable", "settlements": 2,
               "cancelled": 1, "fund_pay": 3300, "account_pay": 5000, "mutual_aid_pay": 0,
               "owed": 8300}  # fmt: skip
    kf = clearing.clearing(db, "kaifeng", MARCH)
    assert kf["care"] == [payable] and kf["mutual_aid"] == []
    assert kf["net"] == [{"counterpart": "nanyang", "net": -8300}]
    ny = clearing.clearing(db, "nanyang", MARCH)
    assert ny["care"] == [{**payable, "counterpart": "kaifeng", "direction": "receivable"}]
    legs = statement_sums(db, "N1", "2023-03-01", "2023-04-01")
    assert (legs["fund_pay"], legs["account_pay"]) == (3300, 5000)
    assert clearing.clearing(db, "kaifeng", date(2023, 4, 1))["care"] == []


def test_mutual_aid_across_regions_is_cleared_to_the_users_region(db):
    institution(db, "X1", "xishuangbanna", "level1")
    add(db, "kaifeng", "KH", "employee", "100.00")
    add(db, "xishuangbanna", "U", "employee", "0")
    with db.begin() as conn:
        # the registry binds within a region only; a binding carried over from elsewhere
        conn.execute(insert(family_bindings).values(
            holder_id="KH", user_id="U", relationship="parent",
            valid_from=date(2023, 1, 1), valid_to=date(2023, 12, 31),
        ))  # fmt: skip
    # fund (100 - 30) x 60% = 42; the user's empty account nothing, the holder's the 58 left
    got = settle(db, "T1", "U", visit("V1", "03-05", "X1", "100.00"))
    aid = 5800
    assert (got["fund_pay"], got["mutual_aid_pay"]) == ("42.00", "58.00")
    kf = clearing.clearing(db, "kaifeng", MARCH)
    assert kf["care"] == []  # the visit was in the user's own region
    assert kf["mutual_aid"] == [{"counterpart": "xishuangbanna", "direction": "payable",
                                 "settlements": 1, "cancelled": 0, "amount": aid}]  # fmt: skip
    bn = clearing.clearing(db, "xishuangbanna", MARCH)
    assert bn["mutual_aid"] == [{**kf["mutual_aid"][0], "counterpart": "kaifeng",
                                 "direction": "receivable"}]  # fmt: skip
    assert bn["net"] == [{"counterpart": "kaifeng", "net": aid}]
    assert statement_sums(db, "X1", "2023-03-01", "2023-04-01")["mutual_aid_pay"] == aid
