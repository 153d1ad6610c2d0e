"""The personal-account rules outside a visit as pure functions (engine.accounts): the
monthly credit (X-4 and each region's article), the retirement switch of crediting
(JMS-10b, KF-16, NY-11), the back-credit (JMS-10a), a frozen premium's transfer day
(XSBN-26) and family mutual aid (XSBN-24).

Worked examples computed by hand from the articles, with the shipped packs' values
(configured ones — pensions, XSBN's retiree standard — are the packs' own)."""

from datetime import date

import pytest

from gongji import policy
from gongji.engine import accounts as rules
from gongji.money import round_to_yuan
from gongji.terms import MemberType

MARCH = date(2023, 3, 1)


def crediting(region: str, day: date = MARCH):
    return policy.load_region(region).version_on(day).crediting


@pytest.mark.parametrize(
    ("region", "mtype", "base", "want", "rule"),
    [
        # 在职职工 ... 计入标准为本人参保缴费基数的 2%: 2% of 5000 yuan is 100
        ("kaifeng", MemberType.employee, 500000, 10000, "KF-16"),
        ("kaifeng", MemberType.flexible, 300000, 6000, "KF-16"),
        # 退休人员 ... 具体标准为 60 元/月: fixed, whatever the base
        ("kaifeng", MemberType.retiree, None, 6000, "KF-16"),
        # 2% of 4321.00 is 86.42, to the fen
        ("jiamusi", MemberType.employee, 432100, 8642, "JMS-10a"),
        # 划入额度为每人每月 62 元 (provisional)
        ("jiamusi", MemberType.retiree, None, 6200, "JMS-10a"),
        # 2% of the 2021 average pension (configured 2800.00) is 56.00
        ("nanyang", MemberType.retiree, None, 5600, "NY-8"),
        # 2% of the 2022 average pension (configured 3126.00) is 62.52, 以"元"为单位四舍五入: 63
        ("panzhihua", MemberType.retiree, None, 6300, "PZH-4a"),
        ("panzhihua", MemberType.flexible, 250000, 5000, "PZH-4a"),
        # 在职职工个人缴费全部计入本人个人账户: the own contribution, at the configured 2%
        # of the base: 2% of 4321.50 is 86.43
        ("panzhihua", MemberType.employee, 432150, 8643, "PZH-4a"),
        # 继续按现行标准 (configured 70.00)
        ("xishuangbanna", MemberType.retiree, None, 7000, "XSBN-19"),
    ],
)
def test_a_months_credit(region, mtype, base, want, rule):
    credit = rules.credit_for(crediting(region), mtype)
    assert rules.monthly_credit(credit, base) == want
    assert credit.rule_for() == rule
    assert rules.from_contribution(credit) == (mtype is not MemberType.retiree)


def test_no_credit_of_a_base_before_the_contribution_is_paid():
    credit = rules.credit_for(crediting("kaifeng"), MemberType.employee)
    assert rules.monthly_credit(credit, None) is None
    assert rules.monthly_credit(credit, 0) == 0


def test_a_class_without_a_credit_has_none():
    # JMS-9: flexible workers have no account; the pack gives them no credit
    assert rules.credit_for(crediting("jiamusi"), MemberType.flexible) is None


def version(region: str, day: date = MARCH):
    return policy.load_region(region).version_on(day)


D = date  # the switch days below, as (processed, benefits start) of the member record


@pytest.mark.parametrize(
    ("region", "processed", "benefits_from", "switch"),
    [
        # JMS-10b 在职转退休人员，从次月起: processed 15 March (benefits that day, 第七条
        # reading) -> credited as a retiree from 1 April; processed on 1 March: still April
        ("jiamusi", D(2023, 3, 15), D(2023, 3, 15), D(2023, 4, 1)),
        ("jiamusi", D(2023, 3, 1), D(2023, 3, 1), D(2023, 4, 1)),
        # only the retirement day recorded: the month after it
        ("jiamusi", None, D(2023, 3, 1), D(2023, 4, 1)),
        # NY-11 从办理之日次月起: processed 31 March -> April
        ("nanyang", D(2023, 3, 31), D(2023, 4, 1), D(2023, 4, 1)),
        # retired_from recorded: the NY-6 switch (办理之日次月), the same day NY-11 counts
        # from -> credited as a retiree from that month, April, not May
        ("nanyang", None, D(2023, 4, 1), D(2023, 4, 1)),
        # KF-16 从其享受退休人员医疗保障待遇之日起: the day benefits start, whatever the
        # processing day (processed 20 March, benefits from 1 April)
        ("kaifeng", D(2023, 3, 20), D(2023, 4, 1), D(2023, 4, 1)),
        ("kaifeng", None, D(2023, 3, 2), D(2023, 3, 2)),
        # no switch
        ("kaifeng", None, None, None),
        ("nanyang", None, None, None),
    ],
)
def test_the_day_a_new_retiree_is_credited_as_one(region, processed, benefits_from, switch):
    v = version(region)
    timing = v.retirement.takes_effect
    assert rules.credit_switch(v.crediting, timing, processed, benefits_from) == switch


@pytest.mark.parametrize(
    ("switch", "month", "want"),
    [
        # a month is credited whole: as a retiree once the switch is on or before its 1st
        (D(2023, 4, 1), D(2023, 3, 1), MemberType.employee),
        (D(2023, 4, 1), D(2023, 4, 1), MemberType.retiree),
        (D(2023, 3, 2), D(2023, 3, 1), MemberType.employee),
        (D(2023, 3, 2), D(2023, 4, 1), MemberType.retiree),
        (None, D(2023, 4, 1), MemberType.employee),
    ],
)
def test_the_month_a_new_retiree_is_credited_as_one(switch, month, want):
    assert rules.credit_class(MemberType.employee, switch, month) is want


def test_a_retiree_is_credited_as_one_and_a_flexible_worker_as_one():
    assert rules.credit_class(MemberType.retiree, None, MARCH) is MemberType.retiree
    assert rules.credit_class(MemberType.flexible, None, MARCH) is MemberType.flexible


@pytest.mark.parametrize(
    ("region", "month", "first"),
    [
        # XSBN 第四十三条: in force from 10 January 2023; January is credited under it (the
        # pack's first_month reading), December 2022 under nothing
        ("xishuangbanna", D(2023, 1, 1), True),
        ("xishuangbanna", D(2022, 12, 1), False),
        # KF 第三十二条: from 1 July 2022; June has no version and no such reading
        ("kaifeng", D(2022, 6, 1), False),
        ("kaifeng", D(2022, 7, 1), True),
    ],
)
def test_the_version_a_month_is_credited_under(region, month, first):
    pack = policy.load_region(region)
    got = rules.crediting_version(pack, month)
    assert (got is pack.versions[0]) if first else got is None


def test_a_back_credit_tops_up_and_never_takes_back():
    # JMS-10a: 62 yuan credited provisionally; a 2022 standard of 66.80 tops up 4.80
    assert rules.back_credit(6680, 6200) == 480
    assert rules.back_credit(6200, 6200) == 0
    assert rules.back_credit(6000, 6200) == 0


@pytest.mark.parametrize(
    ("frozen_on", "due"),
    [
        # 每月10日前: frozen in March, transferred by 10 April
        (date(2023, 3, 20), date(2023, 4, 10)),
        (date(2023, 3, 1), date(2023, 4, 10)),
        (date(2023, 1, 31), date(2023, 2, 10)),
        (date(2023, 12, 31), date(2024, 1, 10)),
    ],
)
def test_a_frozen_premium_is_transferred_by_the_day_of_the_next_month(frozen_on, due):
    freeze = policy.load_region("xishuangbanna").version_on(frozen_on).premium_freeze
    assert freeze.transfer_by_day == 10 and freeze.rule_for() == "XSBN-26"
    assert rules.freeze_due(freeze, frozen_on) == due


def test_mutual_aid_pays_what_the_users_account_left():
    # XSBN-9/10 at level 1: a 100-yuan visit, the fund (100 - 30) x 60% = 42; the user's
    # account holds 10: 48 is unpaid, which the holder's 100 pays in full
    unpaid = rules.unpaid_in_scope(10000, 4200, 1000)
    assert unpaid == 4800
    assert rules.mutual_aid(unpaid, 10000) == 4800
    # 使用人个人账户不足时，再划扣授权人个人账户: no more than the holder holds
    assert rules.mutual_aid(unpaid, 3000) == 3000
    assert rules.mutual_aid(unpaid, 0) == 0
    # nothing left unpaid: nothing drawn
    assert rules.unpaid_in_scope(10000, 4200, 5800) == 0


@pytest.mark.parametrize(
    ("fen", "want"), [(6252, 6300), (6250, 6300), (6249, 6200), (6200, 6200), (49, 0), (0, 0)]
)
def test_round_to_yuan_is_half_up(fen, want):
    assert round_to_yuan(fen) == want
