"""XSBN-3: the rules cover every class of member the article names."""

from decimal import Decimal

import pytest

from gongji.calculate import calculate

# -- XSBN-3: whom the rules cover --------------------------------------------------------------
# 第三条 本细则适用于…在职职工、退休人员和灵活就业人员、新就业形态劳动者及其他参加职工医保人员.
# A new-form worker (新就业形态劳动者) is insured as a flexible worker or an employee; each
# class is paid general outpatient pooling. Level 1, 130.00: deductible 30 (第九条), then
# 60% of 100 = 60 (employee and flexible), 65% for a retiree (第十条). 50.00 in the account:
# a flexible worker is single-pool here (第十八条): no account, the in-scope share in cash.
XSBN_3 = [
    ("employee", "60.00", "50.00", "20.00"),
    ("retiree", "65.00", "50.00", "15.00"),
    ("flexible", "60.00", "0.00", "70.00"),
]


@pytest.mark.parametrize(("member_type", "fund", "account", "cash"), XSBN_3)
def test_xsbn_3_every_class_the_article_names_is_paid(member_type, fund, account, cash):
    member = {"id": "B1", "type": member_type}
    if member_type != "flexible":
        member["account_balance"] = "50.00"
    visit = {"id": "V1", "time": "2023-03-01T09:00:00", "institution": "C1", "level": "level1",
             "total": "130.00"}  # fmt: skip
    out = calculate({"region": "xishuangbanna", "member": member, "visits": [visit]})
    v = out["visits"][0]
    assert (v["deductible"], v["fund_pay"], v["account_pay"], v["cash_pay"]) == (
        Decimal("30.00"),
        Decimal(fund),
        Decimal(account),
        Decimal(cash),
    )
    assert {"XSBN-9", "XSBN-10"} <= {s["rule"] for s in v["trace"]}
