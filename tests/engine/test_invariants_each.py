"""engine/invariants.py: each invariant of a settled visit broken alone is the one reported,
and `check` raises with the figures; X-2's merged cap is traced exactly when the member
retired after 1 January of the visit's year."""

from datetime import date, datetime

import pytest

from gongji import engine, policy
from gongji.engine import layout as L
from gongji.engine.invariants import (
    ACCOUNT,
    IN_SCOPE,
    NEGATIVE,
    SUM,
    InvariantError,
    broken_invariant,
    check,
)
from gongji.terms import Level, MemberType

# total 100, in scope 80: deductible 20, fund 30, account 40, cash 30; balance 50 -> 10
GOOD = {
    "total": 100,
    "in_scope": 80,
    "deductible": 20,
    "fund": 30,
    "account": 40,
    "cash": 30,
    "before": 50,
    "after": 10,
}


def broken(**change) -> int:
    return broken_invariant(**{**GOOD, **change})


def test_a_settled_visit_that_holds():
    assert broken() == 0


@pytest.mark.parametrize(
    ("change", "invariant"),
    [
        ({"cash": 31}, SUM),
        ({"deductible": -1}, NEGATIVE),
        ({"fund": -1, "cash": 61}, NEGATIVE),
        ({"account": -1, "cash": 71, "after": 51}, NEGATIVE),
        ({"cash": -1, "account": 71, "before": 80, "after": 9}, NEGATIVE),
        ({"after": -1, "before": 39}, NEGATIVE),
        ({"deductible": 51}, IN_SCOPE),  # 51 + 30 > 80 (51 - 30 is not)
        ({"after": 11}, ACCOUNT),  # the balance fell by less than the account paid
        ({"before": 39, "after": 0}, ACCOUNT),  # more than the balance, and it fell by 39
    ],
)
def test_each_invariant_broken_alone(change, invariant):
    assert broken(**change) == invariant


def test_check_raises_with_the_figures():
    b, s = [0] * L.S_SIZE, [0] * L.S_SIZE
    b[L.S_BALANCE], s[L.S_BALANCE] = 50, 10
    check(b, s, 100, 80, 20, 30, 40, 30)  # holds
    with pytest.raises(InvariantError) as err:
        check(b, s, 100, 80, 20, 30, 40, 31)
    assert str(err.value) == (
        "fund + account + cash = total: total 100, in_scope 80, deductible 20, fund 30, "
        "account 40, cash 31, balance 50 -> 10"
    )


# -- the retiree's cap counts what the year paid before the switch -------------------

KAIFENG = policy.load_region("kaifeng")


def merged(retired_from: date, visits: list[tuple[datetime, int]]) -> list[int]:
    """The amount of each visit's X-2 merge step (None where it has none)."""
    member = engine.Member(type=MemberType.employee, has_account=True, retired_from=retired_from)
    state, out = engine.YearState.new(), []
    for when, total in visits:
        tables = engine.tables_on(KAIFENG, when.date())
        visit = engine.Visit(when, "H1", Level.level1, total, total)
        result, state = engine.settle(tables, member, state, visit)
        recs = [result.trace[i : i + 4] for i in range(0, len(result.trace), 4)]
        out.append(next((r[1] for r in recs if r[0] == L.T_RETIREE_MERGED), None))
    return out


def test_the_merge_counts_even_one_fen_paid_earlier_in_the_year():
    # KF-9d level 1: employee 60% of 0.02 = 0.012 -> 0.01; then a retiree from 1 June
    got = merged(date(2023, 6, 1), [(datetime(2023, 3, 1, 9), 2), (datetime(2023, 7, 1, 9), 100)])
    assert got == [None, 1]


def test_retired_on_2_january_the_first_days_pay_counts():
    got = merged(
        date(2023, 1, 2), [(datetime(2023, 1, 1, 9), 10_000), (datetime(2023, 1, 3, 9), 10_000)]
    )
    assert got == [None, 6_000]  # 60% of 100 paid as an employee on 1 January


def test_no_merge_for_a_retiree_since_the_years_start_or_before():
    visits = [(datetime(2023, 3, 1, 9), 10_000), (datetime(2023, 4, 1, 9), 10_000)]
    assert merged(date(2023, 1, 1), visits) == [None, None]
    assert merged(date(2022, 8, 1), visits) == [None, None]


def test_no_merge_when_nothing_was_paid_before_the_switch():
    assert merged(date(2023, 6, 1), [(datetime(2023, 7, 1, 9), 10_000)]) == [None]
