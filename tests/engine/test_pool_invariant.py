"""Invariant 5 (engine/invariants.py) across a month's and a year's end: the pools count a
visit's fund pay from nothing in a new month or year, and the check says so."""

from datetime import datetime

import pytest

from gongji import engine, policy
from gongji.engine import layout as L
from gongji.engine.invariants import InvariantError, broken_pools, check_pools
from gongji.terms import Level, MemberType

MEMBER = engine.Member(type=MemberType.employee, has_account=True)
PACK = policy.load_region("kaifeng")


def settle(state, when: datetime, total: int = 10_000):
    tables = engine.tables_on(PACK, when.date())
    visit = engine.Visit(when, "H1", Level.level3, total, total)
    return engine.settle(tables, MEMBER, state, visit)


@pytest.mark.parametrize(
    "second",
    [datetime(2023, 3, 20, 9), datetime(2023, 4, 1, 9), datetime(2024, 1, 2, 9)],
    ids=["same month", "next month", "next year"],
)
def test_the_pools_count_each_visits_fund_pay(second):
    # KF-9a/9d: 100 at level 3, deductible 50, the fund 50% of 50 = 25
    first, before = settle(engine.YearState.new(), datetime(2023, 3, 1, 9))
    assert first.fund_pay == 2_500
    result, after = settle(before, second)
    assert result.fund_pay == 2_500
    assert broken_pools(before.slots, after.slots, result.fund_pay) == 0
    check_pools(before.slots, after.slots, result.fund_pay)
    # one fen more or less than the visit's fund pay is not what the pools counted
    for wrong in (result.fund_pay - 1, result.fund_pay + 1):
        assert broken_pools(before.slots, after.slots, wrong) == 5
        with pytest.raises(InvariantError):
            check_pools(before.slots, after.slots, wrong)


def test_a_pool_not_reset_in_a_new_month_is_caught():
    _, before = settle(engine.YearState.new(), datetime(2023, 3, 1, 9))
    result, after = settle(before, datetime(2023, 4, 1, 9))
    s = list(after.slots)
    s[L.S_POOL + L.PU_MONTHLY] += 2_500  # March's fund pay still counted in April
    assert broken_pools(before.slots, s, result.fund_pay) == 5
