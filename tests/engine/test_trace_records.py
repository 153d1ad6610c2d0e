"""A trace's records as layout.py defines them — (step, amount, a, b), each field what its
step says and the fields a step does not use 0 — agree with the settled figures, for every
visit of every worked example (tests/cases)."""

from pathlib import Path

import pytest

from gongji import catalogue, documents, engine, policy
from gongji.calculate import Scenario
from gongji.engine import layout as L
from gongji.engine.facts import LEVEL_INDEX, local_seconds
from gongji.errors import validated
from gongji.model import engine_member, engine_visit
from gongji.money import apply_ratio

CASES = sorted((Path(__file__).parents[1] / "cases").glob("*/*.yaml"))


def settled(path: Path):
    """(visit, result, tables, balance before) per visit of a worked example."""
    scenario = documents.read(path)["scenario"]
    pack = policy.load_region(scenario["region"])
    s = validated(Scenario, scenario)
    member = engine_member(pack, s.member, s.visits[0].time.date())
    items = catalogue.sample() if any(v.items for v in s.visits) else None
    state = engine.YearState.new(s.member.account_balance or 0)
    for v in s.visits:
        visit = engine_visit(v, items)
        tables = engine.tables_on(pack, visit.time.date())
        before = state
        result, state = engine.settle(tables, member, state, visit)
        yield visit, result, before, state


def records(result) -> list[tuple[int, int, int, int]]:
    t = result.trace
    return [tuple(t[i : i + L.TRACE_STRIDE]) for i in range(0, len(t), L.TRACE_STRIDE)]


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_trace_records_agree_with_the_figures(path):
    for visit, r, before, after in settled(path):
        _check(visit, r, before, after)


def _check(visit, r, before, after) -> None:
    recs = records(r)
    steps = [rec[0] for rec in recs]
    where = f"{visit.time} {visit.institution}"
    deductible = fund = 0
    scope = None
    level = LEVEL_INDEX[visit.level]  # the level the visit settles at
    for step, amount, a, b in recs:
        assert min(amount, 0) == 0 or step == L.T_CASH, (where, step, amount)
        if step == L.T_YEAR_RESET:
            assert (a, b) == (before.year, visit.time.year), where
            assert amount == sum(before.pool(p).annual for p in L.POOL_NAMES), where
        elif L.T_CONDITION <= step < L.T_CONDITION + L.N_CONDITIONS:
            assert (amount, a, b) == (0, 0, 0), where
        elif step in (L.T_LEVEL_NOT_COVERED, L.T_DED_NONE, L.T_INTERNET):
            assert (amount, a, b) == (0, level, 0), where
        elif step == L.T_EXEMPT:
            assert (amount, b) == (0, 0) and 0 <= a < L.N_CONDITIONS, where
        elif step == L.T_PRESCRIPTION:
            assert (amount, a) == (0, level) and 0 <= b < L.N_LEVELS, where
            level = b
        elif step in (L.T_OUT_OF_SCOPE, L.T_ABOVE_STANDARD, L.T_CLASS_B):
            assert amount > 0 and (a, b) == (0, 0), where
        elif step == L.T_LINE:
            assert 0 <= amount < L.N_LINES and b == 0, where
            assert a == (visit.in_scope if scope is None else scope), where
            scope = a
        elif step == L.T_OVERFLOW:
            assert 0 <= a < L.N_LINES and b == 0 and amount <= scope, where
            scope = amount
        elif step == L.T_DED_PER_VISIT:
            assert amount == min(a, scope) and b == level, where
            deductible += amount
        elif step in (L.T_DED_ANNUAL, L.T_DED_ITEM):
            assert amount == min(max(a - b, 0), scope), where
            deductible += amount
        elif step == L.T_DED_WINDOW:
            assert 0 <= amount <= a and 0 <= b <= local_seconds(visit.time), where
            deductible += amount
        elif step == L.T_RATIO:
            assert amount == apply_ratio(b, a) and b <= scope, where
        elif step == L.T_RETIREE_MERGED:
            assert amount > 0 and a >= 0 and b == 0, where
        elif step in (L.T_MONTHLY_CAP, L.T_ANNUAL_CAP):
            assert amount > 0 and a >= 0 and b >= 0, where
        elif step == L.T_FUND:
            assert a >= amount and (amount == 0 or a <= b), where
            fund += amount
        elif step == L.T_ACCOUNT:
            assert (amount, a, b) == (
                r.account_pay,
                r.account_balance,
                visit.in_scope - r.fund_pay,
            ), where
        elif step in (L.T_NO_ACCOUNT, L.T_ACCOUNT_DECLINED):
            assert (amount, a, b) == (0, 0, visit.in_scope - r.fund_pay), where
        elif step == L.T_CASH:
            assert (amount, a, b) == (r.cash_pay, visit.total - visit.in_scope, 0), where
        else:
            pytest.fail(f"{where}: unknown step {step}")
    assert (deductible, fund) == (r.deductible, r.fund_pay), where
    assert steps[-1] == L.T_CASH and sum(s == L.T_CASH for s in steps) == 1, where
    assert r.account_balance == after.account_balance, where
