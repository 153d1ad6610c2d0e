"""A trace's records as layout.py defines them — (step, amount, a, b), each field what its
step says and the fields a step does not use 0 — agree with the settled figures and with the
member's state before the visit, for every visit of every worked example (tests/cases)."""

from datetime import date
from pathlib import Path

import pytest

from gongji import catalogue, documents, engine, policy
from gongji.calculate import Scenario
from gongji.engine import layout as L
from gongji.engine.facts import LEVEL_INDEX, local_seconds
from gongji.errors import validated
from gongji.model import engine_member, engine_visit
from gongji.money import apply_ratio
from gongji.terms import MemberClass

ACCOUNT_STEPS = (L.T_ACCOUNT, L.T_NO_ACCOUNT, L.T_ACCOUNT_DECLINED, L.T_ACCOUNT_NOT_DESIGNATED)
CASES = sorted((Path(__file__).parents[1] / "cases").glob("*/*.yaml"))


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_trace_records_agree_with_the_figures(path):
    scenario = documents.read(path)["scenario"]
    pack = policy.load_region(scenario["region"])
    s = validated(Scenario, scenario)
    member = engine_member(pack, s.member, s.visits[0].time.date())
    items = catalogue.sample() if any(v.items for v in s.visits) else None
    state = engine.YearState.new(s.member.account_balance or 0)
    charged_at: list[int] = []  # when each visit that charged a per-visit deductible was
    for v in s.visits:
        visit = engine_visit(v, items)
        tables = engine.tables_on(pack, visit.time.date())
        result, after = engine.settle(tables, member, state, visit)
        Check(tables, member, visit, result, state, charged_at).run()
        state = after


def records(result) -> list[tuple[int, int, int, int]]:
    t = result.trace
    return [tuple(t[i : i + L.TRACE_STRIDE]) for i in range(0, len(t), L.TRACE_STRIDE)]


class Check:
    def __init__(self, tables, member, visit, result, before, charged_at):
        self.p, self.member, self.visit, self.r = tables.params, member, visit, result
        self.tables = tables
        self.before, self.charged_at = before, charged_at
        self.where = f"{visit.time} {visit.institution}"
        self.level = LEVEL_INDEX[visit.level]  # the level the visit settles at
        self.scope = visit.in_scope  # what the current line settles
        self.line = None
        self.paid: dict[int, int] = {}  # fund pay of this visit so far, by pool
        self.due = 0  # the current line's fund pay after the ratio, then after each cap

    def used(self, kind: str) -> int:
        """The current line's pool's fund pay this year (or month) before this line."""
        pool = self.p[self.line * L.LINE_SIZE + L.L_POOL]
        same = (
            self.before.year == self.visit.time.year
            if kind == "annual"
            else self.before.slots[L.S_MONTH]
            == self.visit.time.year * 12 + self.visit.time.month - 1
        )
        earlier = getattr(self.before.pool(L.POOL_NAMES[pool]), kind) if same else 0
        return earlier + self.paid.get(pool, 0)

    def run(self) -> None:
        r, w = self.r, self.where
        recs = records(r)
        steps = [rec[0] for rec in recs]
        deductible = fund = 0
        for step, amount, a, b in recs:
            assert amount >= 0 or step == L.T_CASH, (w, step, amount)
            if step == L.T_YEAR_RESET:
                assert (a, b) == (self.before.year, self.visit.time.year), w
                assert amount == sum(self.before.pool(p).annual for p in L.POOL_NAMES), w
            elif L.T_CONDITION <= step < L.T_CONDITION + L.N_CONDITIONS:
                assert (amount, a, b) == (0, 0, 0), w
            elif step in (L.T_LEVEL_NOT_COVERED, L.T_DED_NONE, L.T_INTERNET):
                assert (amount, a, b) == (0, self.level, 0), w
            elif step == L.T_EXEMPT:
                assert (amount, b) == (0, 0) and 0 <= a < L.N_CONDITIONS, w
            elif step == L.T_PRESCRIPTION:
                assert (amount, a) == (0, self.level) and 0 <= b < L.N_LEVELS, w
                self.level = b
            elif step in (L.T_OUT_OF_SCOPE, L.T_ABOVE_STANDARD, L.T_CLASS_B):
                assert amount > 0 and (a, b) == (0, 0), w
            elif step in (L.T_UNRECOGNISED, L.T_RECOGNISED):
                recognised = self.visit.disease in self.member.chronic_diseases
                assert recognised == (step == L.T_RECOGNISED) and amount == 0, w
                assert self.tables.routes[a][recognised] == b != a and self.line is None, w
            elif step == L.T_NOT_COUNTED:
                diseases = self.member.chronic_diseases
                not_counted = [d for d in diseases if d in self.tables.not_counted]
                assert (amount, b) == (0, len(not_counted)) and b > 0 and self.line is None, w
                assert self.p[a * L.LINE_SIZE + L.L_CAP_MAX] >= 0, w
            elif step == L.T_LINE:
                assert 0 <= amount < L.N_LINES and (a, b) == (self.scope, 0), w
                self.line = amount
            elif step == L.T_OVERFLOW:
                base = self.line * L.LINE_SIZE
                assert (a, b) == (self.p[base + L.L_OVERFLOW], 0) and amount <= self.scope, w
                self.scope = amount
            elif step == L.T_DED_PER_VISIT:
                assert amount == min(a, self.scope) and b == self.level, w
                if amount:
                    self.charged_at.append(local_seconds(self.visit.time))
                deductible += amount
            elif step in (L.T_DED_ANNUAL, L.T_DED_ITEM):
                assert amount == min(max(a - b, 0), self.scope), w
                deductible += amount
            elif step == L.T_DED_WINDOW:
                assert 0 <= amount <= a and b in self.charged_at, w
                deductible += amount
            elif step == L.T_RATIO:
                assert amount == apply_ratio(b, a), w
                self.due = amount
            elif step == L.T_RETIREE_MERGED:
                # a member who retired after 1 January this year: the year's earlier pay
                retired = self.member.retired_from
                assert r.member_class is MemberClass.retiree and retired is not None, w
                assert date(self.visit.time.year, 1, 1) < retired <= self.visit.time.date(), w
                assert (amount, b) == (self.used("annual"), 0) and amount > 0, w
            elif step == L.T_MONTHLY_CAP:
                assert b == self.used("monthly"), w
                assert amount == self.due - max(a - b, 0) > 0, w
                self.due -= amount
            elif step == L.T_ANNUAL_CAP:
                assert b == self.used("annual"), w
                assert amount == self.due - max(a - b, 0) > 0, w
                self.due -= amount
            elif step == L.T_FUND:
                assert amount == self.due and a == self.used("annual") + amount, w
                assert amount == 0 or a <= b, w
                pool = self.p[self.line * L.LINE_SIZE + L.L_POOL]
                self.paid[pool] = self.paid.get(pool, 0) + amount
                fund += amount
            elif step == L.T_ACCOUNT:
                share = self.visit.in_scope - r.fund_pay
                assert (amount, a, b) == (r.account_pay, r.account_balance, share), w
            elif step in (L.T_NO_ACCOUNT, L.T_ACCOUNT_DECLINED, L.T_ACCOUNT_NOT_DESIGNATED):
                assert (amount, a, b) == (0, 0, self.visit.in_scope - r.fund_pay), w
            elif step == L.T_CASH:
                assert (amount, a, b) == (r.cash_pay, self.visit.total - self.visit.in_scope, 0), w
            else:
                pytest.fail(f"{w}: unknown step {step}")
        assert (deductible, fund) == (r.deductible, r.fund_pay), w
        assert steps[-1] == L.T_CASH and steps.count(L.T_CASH) == 1, w
        # the account pays, or there is none, or the member declined it, or it may not pay
        # at this institution (not designated: X-4) — one of them
        account = [s for s in steps if s in ACCOUNT_STEPS]
        if not self.member.has_account:
            assert account == [L.T_NO_ACCOUNT], w
        elif not self.visit.use_account:
            assert account == [L.T_ACCOUNT_DECLINED], w
        elif not self.visit.agreement:
            assert account == [L.T_ACCOUNT_NOT_DESIGNATED], w
        else:
            assert account == [L.T_ACCOUNT], w
