"""Personal accounts outside a visit, on SQLite and PostgreSQL: monthly crediting (X-4 and
each region's article), the retirement switch, the back-credit (JMS-10a), premiums with
their use restrictions and freeze (X-4, XSBN-26), and closing (KF-18, NY-12, ...).

Worked examples computed by hand from the articles; configured values (pensions, XSBN's
retiree standard) are the packs' own."""

from datetime import date
from decimal import Decimal

import pytest
import yaml
from sqlalchemy import select

from gongji import policy
from gongji.errors import InputError
from gongji.ledger import accounts, check, members, registry, views
from gongji.ledger.chart import Chart
from gongji.ledger.schema import credits, entries, freezes, legs
from gongji.ledger.settlement import settle
from gongji.policy.loader import PACKS_DIR

MARCH, APRIL = date(2023, 3, 1), date(2023, 4, 1)


def add(db, region: str, member_id: str, mtype: str, balance: str = "0", **more) -> None:
    members.add_member(
        db, region, {"id": member_id, "type": mtype, "account_balance": balance, **more}
    )


def paid(db, member_id: str, month: str, base: str) -> None:
    with db.begin() as conn:
        registry.add_contribution(
            conn, {"member": member_id, "month": month, "base": base, "paid_on": f"{month}-05"}
        )


def balance(db, member_id: str) -> Decimal:
    return views.account_show(db, member_id)["account_balance"]


def credited(db, member_id: str) -> list[tuple[str, str, int, str]]:
    with db.connect() as conn:
        rows = conn.execute(
            select(credits.c.month, credits.c.kind, credits.c.amount, credits.c.rule)
            .where(credits.c.member_id == member_id)
            .order_by(credits.c.id)
        ).all()
    return [(f"{m:%Y-%m}", k, a, r) for m, k, a, r in rows]


@pytest.mark.parametrize(
    ("region", "mtype", "base", "want", "rule"),
    [
        ("kaifeng", "employee", "5000.00", 10000, "KF-16"),  # 2% of base
        ("kaifeng", "flexible", "3000.00", 6000, "KF-16"),  # flexible: 2% too
        ("kaifeng", "retiree", None, 6000, "KF-16"),  # 60 yuan a month from the fund
        ("kaifeng", "single_pool", "4000.00", None, None),  # no account
        ("jiamusi", "employee", "4321.00", 8642, "JMS-10a"),
        ("jiamusi", "flexible", "4000.00", None, None),  # JMS-9: no account
        ("jiamusi", "retiree", None, 6200, "JMS-10a"),  # 62 provisional
        ("nanyang", "retiree", None, 5600, "NY-8"),  # 2% of 2800 (configured)
        ("panzhihua", "retiree", None, 6300, "PZH-4a"),  # 2% of 3126 = 62.52 -> 63 yuan
        ("xishuangbanna", "employee", "6000.00", 12000, "XSBN-18"),
        ("xishuangbanna", "flexible", "6000.00", None, None),  # single-pool: no account
        ("xishuangbanna", "retiree", None, 7000, "XSBN-19"),  # configured standard
    ],
)
def test_monthly_credit(db, region, mtype, base, want, rule):
    add(db, region, "P1", mtype)
    if base:
        paid(db, "P1", "2023-03", base)
    accounts.credit_month(db, region, MARCH)
    expected = [] if want is None else [("2023-03", "monthly", want, rule)]
    assert credited(db, "P1") == expected
    assert balance(db, "P1") == Decimal(want or 0) / 100
    assert check.problems(db) == []


def test_panzhihua_credits_the_own_contribution_and_flexible_workers_at_tier_1(db):
    # PZH-4a 第四条 (一): 在职职工个人缴费全部计入本人个人账户，单位缴费全部进入统筹基金 —
    # the own contribution (the configured 2% of the base): 2% of 4321.50 = 86.43; of a whole
    # contribution of 432.15 (10% of the base), 432.15 - 86.43 = 345.72 is the fund's
    add(db, "panzhihua", "E1", "employee")
    with db.begin() as conn:
        registry.add_contribution(
            conn,
            {"member": "E1", "month": "2023-03", "base": "4321.50", "paid_on": "2023-03-05",
             "amount": "432.15"},
        )  # fmt: skip
    # 以职工医保"一档"缴费标准参保的灵活就业人员，按缴费基数的 2%计入: tier 1 at 3333.33 is
    # credited 66.6666 -> 66.67 (half-up); a tier-2 worker has no account and nothing
    add(db, "panzhihua", "F1", "flexible", contribution_tier=1)
    add(db, "panzhihua", "F2", "flexible", contribution_tier=2)
    paid(db, "F1", "2023-03", "3333.33")
    paid(db, "F2", "2023-03", "3333.33")
    # 退休人员（含退休后享受灵活就业人员"一档"缴费标准对应待遇的人员）: 2% of 3126 = 62.52 -> 63
    # yuan for a retired employee (no tier); a retiree recorded at tier 2 has no account
    add(db, "panzhihua", "R1", "retiree")
    add(db, "panzhihua", "R2", "retiree", contribution_tier=2)
    accounts.credit_month(db, "panzhihua", MARCH)
    got = {m: [c[2] for c in credited(db, m)] for m in ("E1", "F1", "F2", "R1", "R2")}
    assert got == {"E1": [8643], "F1": [6667], "F2": [], "R1": [6300], "R2": []}
    with db.connect() as conn:
        split = conn.execute(
            select(legs.c.account, legs.c.amount)
            .join(entries, entries.c.id == legs.c.entry_id)
            .where(entries.c.txn_id == "contribution:E1:2023-03")
        ).all()
    assert sorted(split) == [
        ("contributions:panzhihua", -43215),
        ("fund:panzhihua", 34572),
        ("premium:panzhihua", 8643),  # set aside for E1's credit, which took it
    ]
    with pytest.raises(InputError) as err:
        add(db, "panzhihua", "F3", "flexible")  # the tier decides the account: never guessed
    assert err.value.field == "member.contribution_tier"
    assert "PZH-4a 第四条" in err.value.reason
    assert check.problems(db) == []


def test_panzhihua_credits_the_own_contribution_as_recorded(db):
    """PZH-4a 第四条: 在职职工个人缴费全部计入本人个人账户 — where the contribution record gives
    the member's own part (a member paying 2.5% by a company rule: 108.04 of a 4321.50 base),
    that is the credit, not the configured 2%; the rest of the whole 540.19 is the fund's
    (540.19 - 108.04 = 432.15). An own part above the whole is refused, naming the field."""
    add(db, "panzhihua", "E1", "employee")
    month = {"member": "E1", "month": "2023-03", "base": "4321.50", "paid_on": "2023-03-05"}
    with db.begin() as conn, pytest.raises(InputError) as err:
        registry.add_contribution(conn, {**month, "amount": "100.00", "own": "108.04"})
    assert err.value.field == "contribution.own"
    with db.begin() as conn:
        registry.add_contribution(conn, {**month, "amount": "540.19", "own": "108.04"})
    accounts.credit_month(db, "panzhihua", MARCH)
    assert [c[2] for c in credited(db, "E1")] == [10804]
    with db.connect() as conn:
        split = dict(
            conn.execute(
                select(legs.c.account, legs.c.amount)
                .join(entries, entries.c.id == legs.c.entry_id)
                .where(entries.c.txn_id == "contribution:E1:2023-03")
            ).all()
        )
    assert (split["fund:panzhihua"], split["premium:panzhihua"]) == (43215, 10804)
    assert check.problems(db) == []


def test_xishuangbanna_credits_january_2023_under_its_first_version(db):
    # 第四十三条 本细则自 2023 年 1 月 10 日起执行: in force part-way through January, which the
    # pack reads as credited whole under it: an employee 2% of 6000 = 120 (XSBN-18), a retiree
    # the configured 70 (XSBN-19): 190 in all
    add(db, "xishuangbanna", "E1", "employee")
    add(db, "xishuangbanna", "R1", "retiree")
    paid(db, "E1", "2023-01", "6000.00")
    done = accounts.credit_month(db, "xishuangbanna", date(2023, 1, 1))
    assert done == {"month": "2023-01", "credited": 2, "amount": Decimal("190.00")}
    assert credited(db, "E1") == [("2023-01", "monthly", 12000, "XSBN-18")]
    assert credited(db, "R1") == [("2023-01", "monthly", 7000, "XSBN-19")]
    for region, month in (("xishuangbanna", date(2022, 12, 1)), ("kaifeng", date(2022, 6, 1))):
        with pytest.raises(InputError) as err:  # before any version: refused, nothing credited
            accounts.credit_month(db, region, month)
        assert err.value.field == "month"
    assert check.problems(db) == []


def test_an_employee_without_a_paid_contribution_is_not_credited_and_a_rerun_credits_once(db):
    add(db, "kaifeng", "P1", "employee")
    add(db, "kaifeng", "P2", "employee")
    paid(db, "P1", "2023-03", "5000.00")
    first = accounts.credit_month(db, "kaifeng", MARCH)
    assert first["credited"] == 1 and first["amount"] == Decimal("100.00")
    paid(db, "P2", "2023-03", "4000.00")  # paid late: the next run credits it, and only it
    again = accounts.credit_month(db, "kaifeng", MARCH)
    assert again["credited"] == 1 and again["amount"] == Decimal("80.00")
    assert accounts.credit_month(db, "kaifeng", MARCH)["credited"] == 0
    assert (balance(db, "P1"), balance(db, "P2")) == (Decimal("100.00"), Decimal("80.00"))


@pytest.mark.parametrize(
    ("region", "switch", "march", "april"),
    [
        # JMS-10b: processed 15 March -> retiree crediting from April
        ("jiamusi", {"retirement_processed": "2023-03-15"}, 8000, 6200),
        # NY-11: from the month after it is processed
        ("nanyang", {"retirement_processed": "2023-03-15"}, 8000, 5600),
        # KF-16: from the day retiree benefits start; March began as an employee
        ("kaifeng", {"retired_from": "2023-03-15"}, 8000, 6000),
        ("kaifeng", {"retired_from": "2023-03-01"}, 6000, 6000),
        # KF-16 with the processing day apart: processed 20 March, benefits from 1 April
        (
            "kaifeng",
            {"retirement_processed": "2023-03-20", "retired_from": "2023-04-01"},
            8000,
            6000,
        ),
        # NY-11 counts from NY-6's day: retired_from (1 April, already 办理之日次月) is credited
        # as a retiree from April itself — 2% of 2800 = 56 — not from May
        ("nanyang", {"retired_from": "2023-04-01"}, 8000, 5600),
    ],
)
def test_retirement_switch_changes_crediting(db, region, switch, march, april):
    add(db, region, "P1", "employee", **switch)
    paid(db, "P1", "2023-03", "4000.00")
    accounts.credit_month(db, region, MARCH)
    accounts.credit_month(db, region, APRIL)  # a retiree pays no contribution
    assert [c[2] for c in credited(db, "P1")] == [march, april]


def test_kaifeng_benefits_start_on_their_own_day_apart_from_processing(db):
    # KF-12/KF-16 从其享受退休人员医疗保障待遇之日起: processed 20 March, benefits from 1 April
    add(db, "kaifeng", "P1", "employee")
    done = members.retire(db, "P1", date(2023, 3, 20), date(2023, 4, 1))
    assert done == {"member_id": "P1", "retirement_processed": "2023-03-20",
                    "retired_from": "2023-04-01"}  # fmt: skip
    paid(db, "P1", "2023-03", "4000.00")
    accounts.credit_month(db, "kaifeng", MARCH)  # an employee still: 2% of 4000 = 80
    accounts.credit_month(db, "kaifeng", APRIL)  # a retiree: 60 a month
    assert [c[2] for c in credited(db, "P1")] == [8000, 6000]

    def visit(visit_id: str, day: str) -> dict:
        return {"id": visit_id, "time": f"{day}T09:00:00", "institution": "H001", "total": "250"}

    # level 3: deductible 50 (KF-9a); 25 March, an employee: (250 - 50) x 50% = 100;
    # 3 April, a retiree (KF-9d: +10 points): (250 - 50) x 60% = 120
    assert settle(db, "T1", "P1", visit("V1", "2023-03-25"))["fund_pay"] == "100.00"
    assert settle(db, "T2", "P1", visit("V2", "2023-04-03"))["fund_pay"] == "120.00"
    assert check.problems(db) == []


def test_member_retire_records_the_switch(db):
    add(db, "nanyang", "P1", "employee")
    members.retire(db, "P1", date(2023, 3, 15))
    accounts.credit_month(db, "nanyang", APRIL)
    assert credited(db, "P1") == [("2023-04", "monthly", 5600, "NY-8")]
    with pytest.raises(InputError) as err:
        members.retire(db, "P1", date(2023, 5, 1))
    assert err.value.code == "E_RETIRED"


def test_back_credit_tops_up_the_provisional_standard(db, tmp_path, monkeypatch):
    # JMS-10a: 62 yuan a month until the 2022 standard is out, then the difference
    add(db, "jiamusi", "R1", "retiree")
    add(db, "jiamusi", "E1", "employee")
    paid(db, "E1", "2023-01", "5000.00")
    for month in (date(2023, 1, 1), date(2023, 2, 1), MARCH):
        accounts.credit_month(db, "jiamusi", month)
    assert balance(db, "R1") == Decimal("186.00")
    assert accounts.back_credit(db, "jiamusi")["members"] == 0  # nothing published yet

    published = yaml.safe_load((PACKS_DIR / "jiamusi.yaml").read_text(encoding="utf-8"))
    retiree = published["versions"][0]["crediting"]["retiree"]
    retiree.update(fixed="70.00", provisional=False)
    (tmp_path / "jiamusi.yaml").write_text(yaml.safe_dump(published, allow_unicode=True))
    monkeypatch.setenv("GONGJI_PACKS", str(tmp_path))

    done = accounts.back_credit(db, "jiamusi")
    assert done == {"members": 1, "amount": Decimal("24.00")}  # 3 months x 8 yuan
    assert balance(db, "R1") == Decimal("210.00")
    assert [c[:3] for c in credited(db, "R1")][-3:] == [
        ("2023-01", "back_credit", 800),
        ("2023-02", "back_credit", 800),
        ("2023-03", "back_credit", 800),
    ]
    assert accounts.back_credit(db, "jiamusi")["members"] == 0  # never twice
    assert balance(db, "E1") == Decimal("100.00")  # employees untouched
    assert check.problems(db) == []


def test_premium_from_an_account_where_the_region_allows_it(db):
    add(db, "kaifeng", "P1", "employee", "300.00")
    # KF-17: 可用于配偶、父母、子女参加城乡居民基本医疗保险 — the spouse's 190, paid at once:
    # 300 - 190 = 110 left
    done = accounts.pay_premium(
        db, "OP1", "P1", 19000, "family_resident_premium", MARCH, "spouse", "王芳"
    )
    assert done == {
        "op_id": "OP1",
        "purpose": "family_resident_premium",
        "beneficiary": "spouse",
        "relative": "王芳",
        "paid": Decimal("190.00"),
        "rule": "KF-17",
    }
    assert balance(db, "P1") == Decimal("110.00")
    # the same operation again changes nothing
    accounts.pay_premium(db, "OP1", "P1", 19000, "family_resident_premium", MARCH, "spouse")
    assert balance(db, "P1") == Decimal("110.00")
    for purpose, code in (
        ("fitness", "E_USE_NOT_ALLOWED"),
        ("long_term_care_premium", "E_USE_NOT_ALLOWED"),
        ("family_care", "E_USE_NOT_ALLOWED"),  # care is paid at a visit, not as a premium
        ("lottery", "E_INPUT"),
    ):
        with pytest.raises(InputError) as err:
            accounts.pay_premium(db, "OP2", "P1", 1000, purpose, MARCH)
        assert (err.value.field, err.value.code) == ("purpose", code)
    with pytest.raises(InputError) as err:
        accounts.pay_premium(db, "OP3", "P1", 20000, "supplementary_premium", MARCH)
    assert err.value.code == "E_INSUFFICIENT"
    assert balance(db, "P1") == Decimal("110.00")
    assert check.problems(db) == []


def test_a_premium_is_for_whom_the_article_says(db):
    # KF-17: 个人账户可用于配偶、父母、子女参加城乡居民基本医疗保险或本人参加职工大额医疗费用
    # 补助等的个人缴费 — residents' insurance for the family, the large-amount supplement for
    # the member only
    add(db, "kaifeng", "P1", "employee", "300.00")
    refused = [
        # (purpose, beneficiary, relative, field, code)
        ("family_resident_premium", None, None, "beneficiary", "E_INPUT"),  # whose? say so
        ("family_resident_premium", "member", None, "beneficiary", "E_USE_NOT_ALLOWED"),
        ("supplementary_premium", "spouse", None, "beneficiary", "E_USE_NOT_ALLOWED"),
        ("supplementary_premium", "cousin", None, "beneficiary", "E_INPUT"),
        ("supplementary_premium", "member", "王芳", "relative", "E_INPUT"),
    ]
    for purpose, who, relative, field, code in refused:
        with pytest.raises(InputError) as err:
            accounts.pay_premium(db, "OP9", "P1", 1000, purpose, MARCH, who, relative)
        assert (err.value.field, err.value.code) == (field, code), (purpose, who)
        if who is None:
            assert "spouse, parent, child (KF-17 第十七条)" in err.value.reason
    assert balance(db, "P1") == Decimal("300.00")  # refusals change nothing
    # not named: the member's own supplement; a parent's resident premium names the parent
    own = accounts.pay_premium(db, "OP1", "P1", 6000, "supplementary_premium", MARCH)
    assert (own["beneficiary"], own["paid"], own["rule"]) == ("member", Decimal("60.00"), "KF-17")
    accounts.pay_premium(
        db, "OP2", "P1", 38000 // 2, "family_resident_premium", MARCH, "parent", "P-0417"
    )
    # 300 - 60 - 190 = 50
    shown = views.account_show(db, "P1")
    assert shown["account_balance"] == Decimal("50.00")
    assert [(p["purpose"], p["beneficiary"], p.get("relative"), p["amount"]) for p in
            shown["premiums"]] == [
        ("supplementary_premium", "member", None, Decimal("60.00")),
        ("family_resident_premium", "parent", "P-0417", Decimal("190.00")),
    ]  # fmt: skip
    assert check.problems(db) == []


@pytest.mark.parametrize(
    ("region", "purpose", "who", "allowed"),
    [
        # NY 第九条(三): 配偶、父母、子女参加城乡居民基本医疗保险或本人参加职工大额医疗保险
        ("nanyang", "family_resident_premium", "child", True),
        ("nanyang", "supplementary_premium", "parent", False),
        ("nanyang", "supplementary_premium", "member", True),
        # JMS 第十一条: 配偶、父母、子女参加城乡居民基本医疗保险 — and no other premium
        ("jiamusi", "family_resident_premium", "parent", True),
        ("jiamusi", "family_resident_premium", "member", False),
        # PZH 第五条: 本人及其配偶、父母、子女 ... 长期护理保险 ... 的个人缴费
        ("panzhihua", "long_term_care_premium", "parent", True),
        ("panzhihua", "critical_illness_premium", "member", True),
        ("panzhihua", "family_resident_premium", "member", False),  # the member is employee-insured
        # XSBN 第二十条: 本人及其配偶、父母、子女 ... (三) 购买商业健康保险; (二) 配偶、父母、子女
        ("xishuangbanna", "commercial_health_premium", "child", True),
        ("xishuangbanna", "supplementary_premium", "spouse", True),
        ("xishuangbanna", "family_resident_premium", "member", False),
    ],
)
def test_each_region_names_whom_a_premium_may_be_for(db, region, purpose, who, allowed):
    add(db, region, "P1", "employee", "100.00")
    if not allowed:
        with pytest.raises(InputError) as err:
            accounts.pay_premium(db, "OP1", "P1", 2500, purpose, MARCH, who)
        assert (err.value.field, err.value.code) == ("beneficiary", "E_USE_NOT_ALLOWED")
        assert balance(db, "P1") == Decimal("100.00")
        return
    done = accounts.pay_premium(db, "OP1", "P1", 2500, purpose, MARCH, who)
    assert done["beneficiary"] == who
    assert balance(db, "P1") == Decimal("75.00")  # 100 - 25, paid or frozen


def test_xishuangbanna_freezes_a_premium_then_transfers_it_by_the_tenth(db):
    add(db, "xishuangbanna", "P1", "employee", "300.00")
    frozen = accounts.pay_premium(
        db, "OP1", "P1", 20000, "family_resident_premium", date(2023, 3, 20), "child"
    )
    assert frozen["due"] == "2023-04-10" and frozen["rule"] == "XSBN-26"
    assert frozen["beneficiary"] == "child"
    shown = views.account_show(db, "P1")
    assert (shown["account_balance"], shown["frozen"]) == (Decimal("100.00"), Decimal("200.00"))
    assert accounts.settle_freezes(db, date(2023, 3, 31))["transferred"] == 0  # same month
    assert accounts.settle_freezes(db, date(2023, 4, 8))["transferred"] == 1
    assert views.account_show(db, "P1")["frozen"] == Decimal("0.00")
    # one not collected goes back to the account
    accounts.pay_premium(db, "OP2", "P1", 5000, "long_term_care_premium", date(2023, 4, 9))
    assert balance(db, "P1") == Decimal("50.00")
    with db.connect() as conn:
        second = conn.execute(select(freezes.c.id).where(freezes.c.outcome.is_(None))).scalar()
    accounts.release_freeze(db, second)
    assert balance(db, "P1") == Decimal("100.00")
    with pytest.raises(InputError) as err:
        accounts.release_freeze(db, second)
    assert err.value.code == "E_DONE"
    assert check.problems(db) == []


def test_xishuangbanna_freezes_only_what_article_26_freezes(db):
    # XSBN-26 (二) 封存其代缴保费金额: resident insurance, the large-amount supplement and
    # long-term care are frozen; (三) 购买商业健康保险 ... 由商业保险公司与医保经办机构进行对账、
    # 结算: a commercial health-insurance purchase is paid at once, never frozen.
    # 300 in the account: commercial 150 paid, supplement 100 frozen -> 50 left, 100 frozen
    add(db, "xishuangbanna", "P1", "employee", "300.00")
    paid = accounts.pay_premium(db, "OP1", "P1", 15000, "commercial_health_premium", MARCH)
    assert (paid["paid"], paid["rule"], "frozen" in paid) == (
        Decimal("150.00"),
        "XSBN-20/21",
        False,
    )
    frozen = accounts.pay_premium(db, "OP2", "P1", 10000, "supplementary_premium", MARCH)
    assert (frozen["frozen"], frozen["due"]) == (Decimal("100.00"), "2023-04-10")
    shown = views.account_show(db, "P1")
    assert (shown["account_balance"], shown["frozen"]) == (Decimal("50.00"), Decimal("100.00"))
    with db.connect() as conn:
        payable = conn.execute(
            select(legs.c.amount).where(
                legs.c.account == Chart.payable.of("commercial_health_premium")
            )
        ).all()
        held = conn.execute(select(freezes.c.purpose, freezes.c.amount)).all()
    assert payable == [(15000,)]
    assert held == [("supplementary_premium", 10000)]  # the commercial premium has no freeze
    assert accounts.settle_freezes(db, date(2023, 4, 10)) == {
        "transferred": 1,
        "amount": Decimal("100.00"),
    }
    assert check.problems(db) == []


def test_closing_pays_out_or_transfers_and_ends_the_member(db):
    add(db, "kaifeng", "P1", "employee", "300.00")
    add(db, "jiamusi", "J1", "employee", "50.00")
    add(db, "nanyang", "N1", "employee", "20.00")
    with pytest.raises(InputError) as err:
        # NY-12: 可随同转移 ... 出国定居、死亡、主动放弃 — no one-off refund on a transfer
        accounts.close_account(db, "N1", "refund", MARCH)
    assert (err.value.field, err.value.code) == ("reason", "E_NOT_IN_POLICY")
    assert balance(db, "N1") == Decimal("20.00")
    done = accounts.close_account(db, "P1", "death", MARCH)  # KF-18: heirs withdraw
    assert done["paid"] == Decimal("300.00") and done["rule"] == "KF-18"
    assert views.member_show(db, "P1")["status"] == "closed"
    with pytest.raises(InputError) as err:
        settle(
            db,
            "T1",
            "P1",
            {"id": "V", "time": "2023-03-02T09:00:00", "institution": "H001", "total": "10"},
        )
    assert err.value.code == "E_MEMBER_CLOSED"
    with pytest.raises(InputError):
        accounts.close_account(db, "P1", "death", MARCH)
    accounts.close_account(db, "J1", "transfer", MARCH)
    legs = views.account_show(db, "J1")["journal"]
    assert [(j["kind"], j["amount"]) for j in legs] == [
        ("opening", Decimal("50.00")),
        ("close", Decimal("-50.00")),
    ]
    assert check.problems(db) == []


@pytest.mark.parametrize(
    ("region", "article"), [("jiamusi", "第十二条"), ("xishuangbanna", "第二十二条")]
)
def test_emigration_where_the_text_is_silent_pays_out_under_the_national_rule(db, region, article):
    # JMS 第十二条 and XSBN 第二十二条 name transfer, refund and inheritance but not 出国定居;
    # both packs read the silence the same way, by X-4: the balance is paid out in one sum.
    # 123.45 in the account: 123.45 paid out, 0.00 left, the member closed
    add(db, region, "E1", "employee", "123.45")
    rule = policy.load_region(region).version_on(MARCH).closing
    assert rule.article == article and "X-4" in rule.reading.zh and "出国定居" in rule.reading.zh
    done = accounts.close_account(db, "E1", "emigration", MARCH)
    assert (done["paid"], done["rule"]) == (Decimal("123.45"), "X-4")
    assert balance(db, "E1") == Decimal("0.00")
    assert views.member_show(db, "E1")["status"] == "closed"
    with db.connect() as conn:
        paid_out = conn.execute(
            select(legs.c.amount).where(legs.c.account == Chart.payout.of("E1"))
        ).scalar()
    assert paid_out == 12345
    assert check.problems(db) == []


def test_closing_waits_for_a_frozen_premium(db):
    add(db, "xishuangbanna", "P1", "employee", "300.00")
    accounts.pay_premium(db, "OP1", "P1", 1000, "supplementary_premium", MARCH)
    with pytest.raises(InputError) as err:
        accounts.close_account(db, "P1", "refund", MARCH)
    assert err.value.code == "E_FROZEN"


def test_cancel_after_a_credit_keeps_the_credit(db):
    # found by the ledger property test: a cancellation restores the accumulators, not the
    # balance from before the settlement, which a credit has changed since
    add(db, "kaifeng", "P1", "retiree", "10.00")
    visit = {"id": "V1", "time": "2023-03-02T09:00:00", "institution": "H001", "total": "100.00"}
    got = settle(db, "T1", "P1", visit)  # level 3 retiree: 50 deductible, 60% of 50 = 30
    assert (got["fund_pay"], got["account_pay"]) == ("30.00", "10.00")
    accounts.credit_month(db, "kaifeng", APRIL)  # +60 (KF-16)
    from gongji.ledger.settlement import cancel

    cancel(db, "T1")
    assert balance(db, "P1") == Decimal("70.00")
    assert views.member_show(db, "P1")["accumulators"] == {}
    assert check.problems(db) == []
