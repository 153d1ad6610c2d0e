"""Invariants of the engine over generated members and visit streams (hypothesis).

- fund + account + cash == total, none negative, the account never above the in-scope share;
- no monthly or annual cap exceeded (recomputed here from the results, not the engine state);
- a deductible never above its standard;
- the account balance never negative, falling by exactly what the account paid;
- settling visits in two calls with the state carried over equals one call.
"""

from collections import defaultdict
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from gongji import engine, policy
from gongji.engine import layout as L
from gongji.engine import tables_on
from gongji.policy.schema import AnnualDeductible
from gongji.terms import Category, Level, MemberType

REGIONS = policy.known_regions()
PACKS = {r: policy.load_region(r) for r in REGIONS}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def periods(start: date):
    span = st.tuples(st.integers(0, 700), st.integers(0, 60))
    return st.lists(span, max_size=2).map(
        lambda xs: tuple(
            engine.Period(start + timedelta(a), start + timedelta(a + n)) for a, n in xs
        )
    )


@st.composite
def member_and_visits(draw):
    region = draw(st.sampled_from(REGIONS))
    pack = PACKS[region]
    start = pack.versions[0].valid_from
    mtype = draw(st.sampled_from(list(MemberType)))
    retired_from = None
    if mtype is not MemberType.retiree and draw(st.booleans()):
        retired_from = start + timedelta(draw(st.integers(0, 700)))
    without = pack.versions[0].accounts.without_account
    member = engine.Member(
        type=mtype,
        has_account=mtype not in without,
        retired_from=retired_from,
        contribution_raised=draw(st.booleans()),
        benefit_periods=draw(st.one_of(st.none(), st.none(), periods(start))),
        inpatient_stays=draw(periods(start)),
        arrears=draw(periods(start)),
        remote_filings=draw(periods(start)),
        chronic_diseases=tuple(f"d{i}" for i in range(draw(st.integers(0, 7)))),
    )
    # half the members have clean visits, so pooling paths are reached as often as refusals
    rarely = (
        st.sampled_from([False, False, False, False, False, True])
        if draw(st.booleans())
        else st.just(False)
    )
    n = draw(st.integers(1, 40))
    # minutes between visits: often the same day (deductible windows), sometimes months apart
    gaps = draw(
        st.lists(
            st.sampled_from([0, 30, 600, 1380, 1440, 1500, 4000, 50_000, 200_000]),
            min_size=n,
            max_size=n,
        )
    )
    t = datetime.combine(start, datetime.min.time()) + timedelta(hours=8)
    visits = []
    for gap in gaps:
        t += timedelta(minutes=gap)
        total = draw(st.integers(0, 50_000) | st.integers(0, 600_000))
        in_scope = draw(st.integers(0, total))
        tables = tables_on(pack, t.date())
        category = draw(st.sampled_from(sorted(tables.entry))) if tables else Category.general
        diseases = ["d1", "hypertension", *sorted(tables.exception_diseases if tables else ())]
        visits.append(
            engine.Visit(
                time=t,
                institution=draw(st.sampled_from(["H1", "H2", "H3", "C1"])),
                level=draw(st.sampled_from(list(Level))),
                total=total,
                in_scope=in_scope,
                remote=draw(rarely),
                designated=not draw(rarely),
                manual=draw(rarely),
                third_party=draw(rarely),
                category=category,
                disease=draw(st.sampled_from(diseases)),
                drug=draw(st.sampled_from(["XA01", "XA02", "XB07"])),
            )
        )
    # keep visits inside the policy's validity
    visits = [v for v in visits if pack.version_on(v.time.date()) is not None] or visits[:0]
    balance = draw(st.integers(0, 300_000)) if member.has_account else 0
    return pack, member, visits, balance


def run(pack, member, visits, balance):
    return engine.settle_all(pack, member, engine.YearState.new(balance), visits)


@SETTINGS
@given(member_and_visits())
def test_payments_balance_and_are_never_negative(case):
    _pack, _member, visits, balance = case
    results, state = run(*case)
    for v, r in zip(visits, results, strict=True):
        assert r.fund_pay + r.account_pay + r.cash_pay == v.total
        assert min(r.fund_pay, r.account_pay, r.cash_pay, r.deductible) >= 0
        assert r.fund_pay + r.deductible <= v.in_scope
        assert r.account_pay <= v.in_scope - r.fund_pay
        assert r.account_balance == balance - r.account_pay >= 0
        balance = r.account_balance
    assert state.account_balance == balance


@SETTINGS
@given(member_and_visits())
def test_no_cap_is_ever_exceeded(case):
    pack, _member, visits, _ = case
    results, _ = run(*case)
    per_year: dict[int, int] = defaultdict(int)
    per_month: dict[tuple[int, int], int] = defaultdict(int)
    for v, r in zip(visits, results, strict=True):
        day = v.time.date()
        paid = fund_by_line(r)["general"]  # general outpatient's own cap (routed pay included)
        per_year[day.year] += paid
        per_month[(day.year, day.month)] += paid
        if paid == 0:
            continue
        g = pack.version_on(day).general
        klass = r.member_class.value
        assert per_year[day.year] <= getattr(g.annual_cap, klass)
        if g.monthly_cap:
            assert per_month[(day.year, day.month)] <= getattr(g.monthly_cap, klass)


@SETTINGS
@given(member_and_visits())
def test_a_deductible_never_exceeds_its_standard(case):
    pack, _member, visits, _ = case
    results, _ = run(*case)
    per_year: dict[int, int] = defaultdict(int)
    for v, r in zip(visits, results, strict=True):
        assert r.deductible <= v.in_scope
        if v.category is not Category.general:
            continue  # other lines' standards: worked examples in tests/cases
        ded = pack.version_on(v.time.date()).general.deductible
        per_year[v.time.year] += r.deductible
        if isinstance(ded, AnnualDeductible):
            if r.deductible:
                assert per_year[v.time.year] <= getattr(ded, r.member_class.value)
        else:
            assert r.deductible <= ded.by_level.get(v.level, 0)


@SETTINGS
@given(member_and_visits(), st.integers(0, 40))
def test_two_calls_with_carried_state_equal_one_call(case, cut):
    pack, member, visits, balance = case
    cut = min(cut, len(visits))
    whole, end_state = run(*case)
    first, mid_state = run(pack, member, visits[:cut], balance)
    second, end_state_2 = engine.settle_all(pack, member, mid_state, visits[cut:])
    assert first + second == whole
    assert end_state_2 == end_state


@SETTINGS
@given(member_and_visits())
def test_trace_names_pack_rules_and_agrees_with_the_figures(case):
    pack, _member, visits, _ = case
    results, _ = run(*case)
    cited = {node for v in pack.versions for node in _rule_ids(v)}
    for v, r in zip(visits, results, strict=True):
        steps = engine.explain(tables_on(pack, v.time.date()), r)
        assert {s.rule for s in steps} <= cited
        assert steps[-1].amount == r.cash_pay
        pooled = [s for s in steps if " pays " in s.text and "account" not in s.text]
        assert sum(s.amount for s in pooled) == r.fund_pay


def _rule_ids(version) -> set[str]:
    out: set[str] = set()

    def walk(node):
        if hasattr(node, "rule_ids"):
            out.update(node.rule_ids())
        if hasattr(node, "__iter__") and not isinstance(node, (str, dict)):
            for _, child in node:
                if isinstance(child, list):
                    for item in child:
                        walk(item)
                elif isinstance(child, BaseModel):
                    walk(child)

    walk(version)
    return out


def fund_by_line(result) -> dict[str, int]:
    """What each benefit line paid, read from the trace records."""
    paid: dict[str, int] = defaultdict(int)
    line = L.GENERAL
    tr = result.trace
    for i in range(0, len(tr), L.TRACE_STRIDE):
        step, amount = tr[i], tr[i + 1]
        if step == L.T_LINE:
            line = amount
        elif step == L.T_FUND:
            paid[L.LINE_NAMES[line]] += amount
    return paid


def pool_and_cap(version, line: str, klass: str, diseases: int) -> tuple[str, int]:
    """The pool a line's pay counts against and its cap, read from the pack."""
    name = "special" if line == "special_exception" else line
    if line == "general_overflow" or getattr(version, name).annual_cap.shared_with:
        return "inpatient", version.inpatient.annual_cap[klass]
    cap_node = getattr(version, name).annual_cap
    cap = getattr(cap_node, klass)
    if cap_node.max is not None and diseases > 1:
        cap = min(cap + (diseases - 1) * cap_node.per_extra_disease, cap_node.max)
    return name, cap


@SETTINGS
@given(member_and_visits())
def test_no_pool_cap_is_exceeded_across_categories_that_share_it(case):
    pack, member, visits, _ = case
    results, _ = run(*case)
    used: dict[tuple[int, str], int] = defaultdict(int)
    for v, r in zip(visits, results, strict=True):
        by_line = fund_by_line(r)
        assert sum(by_line.values()) == r.fund_pay
        version = pack.version_on(v.time.date())
        klass = r.member_class.value
        for line, paid in by_line.items():
            pool, cap = pool_and_cap(version, line, klass, len(member.chronic_diseases))
            used[(v.time.year, pool)] += paid
            if paid:
                assert used[(v.time.year, pool)] <= cap, (line, pool)
