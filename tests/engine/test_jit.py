"""The numba-compiled kernel gives exactly the CPython kernel's results, state and trace."""

import importlib
import random
from datetime import datetime, timedelta

import numpy as np
import pytest

from gongji import engine, policy
from gongji.engine import layout as L
from gongji.engine.facts import kernel_args
from gongji.engine.invariants import check_pools
from gongji.engine.jit import compiled_settle_visit, empty_trace
from gongji.engine.kernel import settle_visit
from gongji.terms import Level, MemberType

SETTLE = importlib.import_module("gongji.engine.settle")  # engine.settle is the function


def random_stream(rng: random.Random, pack, n: int):
    start = datetime.combine(pack.versions[0].valid_from, datetime.min.time())
    mtype = rng.choice(list(MemberType))
    member = engine.Member(
        type=mtype,
        has_account=mtype not in pack.versions[0].accounts.without_account,
        retired_from=(start + timedelta(days=rng.randint(0, 500))).date()
        if mtype is not MemberType.retiree and rng.random() < 0.5
        else None,
        contribution_raised=rng.random() < 0.5,
        chronic_diseases=("d1", "d2", "d3")[: rng.randint(0, 3)],
        inpatient_stays=(
            engine.Period(start.date() + timedelta(40), start.date() + timedelta(50)),
        ),
    )
    t = start + timedelta(hours=8)
    visits = []
    for _ in range(n):
        t += timedelta(minutes=rng.choice([0, 45, 600, 1440, 3000, 40_000]))
        if pack.version_on(t.date()) is None:
            break
        total = rng.randint(0, 300_000)
        tables = engine.tables_on(pack, t.date())
        visits.append(
            engine.Visit(
                time=t,
                institution=rng.choice(["H1", "H2", "C1"]),
                level=rng.choice(list(Level)),
                total=total,
                in_scope=rng.randint(0, total),
                remote=rng.random() < 0.1,
                designated=rng.random() < 0.95,
                category=rng.choice(sorted(tables.entry)),
                disease=rng.choice(["d1", "chronic_renal_failure"]),
                drug=rng.choice(["XA01", "XA02"]),
            )
        )
    return member, visits


@pytest.mark.parametrize("region", policy.known_regions())
def test_compiled_kernel_matches_python(region):
    fast = compiled_settle_visit()
    pack = policy.load_region(region)
    rng = random.Random(region)
    for _ in range(30):
        member, visits = random_stream(rng, pack, 60)
        py_state = list(engine.YearState.new(rng.randint(0, 200_000)).slots)
        jit_state = np.array(py_state, dtype=np.int64)
        for visit in visits:
            tables = engine.tables_on(pack, visit.time.date())
            args = kernel_args(member, visit)
            py_trace = [0] * L.TRACE_CAPACITY
            jit_trace = empty_trace()
            line = tables.line_for(visit.category, visit.disease)
            expected = settle_visit(tables.params, py_state, *args, line, True, py_trace)
            params = np.array(tables.params, dtype=np.int64)
            got = fast(params, jit_state, *args, line, True, jit_trace)
            assert tuple(got) == expected
            assert list(jit_state) == py_state
            assert list(jit_trace) == py_trace


def test_the_cache_key_covers_what_the_compiled_code_depends_on():
    """numba's cache notices a change to a function's own file only: the folder is named by
    the modules a kernel module's compiled code depends on, found from what it imports."""
    from gongji.engine import jit

    replay = jit._sources("gongji.analysis.kernel")
    assert {
        "gongji.analysis.kernel",
        "gongji.engine.kernel",  # kernel functions it imports, and theirs
        "gongji.engine.facts",
        "gongji.engine.state",
        "gongji.money",
        "gongji.engine.layout",  # constants
        "gongji.terms",  # the enums layout's indices come from
        "gongji.engine.jit",  # the options
    } <= replay
    assert "gongji.analysis.kernel" not in jit._sources("gongji.engine.kernel")


@pytest.mark.parametrize(
    ("broken", "invariant"),
    [
        (lambda d, f, a, c: (d, f, a, c + 1), "fund + account + cash = total"),
        (lambda d, f, a, c: (d, f + c + 1, a, -1), "no amount negative"),
        (lambda d, f, a, c: (d + f + a + c, f, a, c), "deductible + fund <= in_scope"),
        (lambda d, f, a, c: (d, f, a + 1, c - 1), "account <= balance before"),
    ],
)
def test_a_result_breaking_an_invariant_is_refused_loudly(monkeypatch, broken, invariant):
    """engine.settle checks every result it makes (engine/invariants.py): a kernel returning
    figures that break one raises InvariantError (raised, so `python -O` keeps it)."""
    real = SETTLE.settle_visit

    def kernel(*args):
        deductible, fund, account, cash, status = real(*args)
        return (*broken(deductible, fund, account, cash), status)

    pack = policy.load_region("kaifeng")
    member = engine.Member(type=MemberType.employee, has_account=True)
    visit = engine.Visit(datetime(2023, 3, 1, 9), "H1", Level.level1, 50_000, 40_000)
    tables = engine.tables_on(pack, visit.time.date())
    state = engine.YearState.new(100_000)
    engine.settle(tables, member, state, visit)  # as it is, it holds them
    monkeypatch.setattr(SETTLE, "settle_visit", kernel)
    with pytest.raises(engine.InvariantError, match=invariant.replace("+", r"\+")):
        engine.settle(tables, member, state, visit)


def test_fund_pay_not_counted_against_the_caps_is_refused(monkeypatch):
    real = SETTLE.settle_visit

    def kernel(P, S, *args):
        out = real(P, S, *args)
        S[L.S_POOL + L.PU_ANNUAL] -= 1  # a fen of fund pay not counted against the year's cap
        return out

    pack = policy.load_region("kaifeng")
    member = engine.Member(type=MemberType.employee, has_account=True)
    visit = engine.Visit(datetime(2023, 3, 1, 9), "H1", Level.level1, 50_000, 40_000)
    tables = engine.tables_on(pack, visit.time.date())
    monkeypatch.setattr(SETTLE, "settle_visit", kernel)
    before = engine.YearState.new(0)
    result, after = engine.settle(tables, member, before, visit)  # checked where recorded
    with pytest.raises(engine.InvariantError, match="pools"):
        check_pools(before.slots, after.slots, result.fund_pay)
