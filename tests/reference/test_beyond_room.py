"""Issue 19: no valid visit is refused for the size of the member's state, and one that needs
more room than a new state keeps is settled as the reference model settles it.

A new state keeps layout.WINDOWS open deductible windows and layout.ITEMS yearly item
deductibles (the common case's fixed size); members here have 9-20 institutions with an open
window at once (KF-9a: the same day; NY-5a: 24 hours) or buy 9-20 negotiated drugs a year
(XSBN-16, which sets no limit), with some institutions and drugs visited again. Every figure
must equal the model's (model.py: dict state, no limit), the state carried between calls
through `YearState` (as the ledger stores it) as in one call.
"""

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gongji import engine, policy
from gongji.engine import layout as L
from gongji.engine.state import kept
from gongji.terms import Level, MemberType

from ..conftest import examples
from . import model as M
from .test_reference import engine_figures, engine_member, engine_visit

PACKS = {r: policy.load_region(r) for r in ("kaifeng", "nanyang", "xishuangbanna")}
SETTINGS = settings(
    max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def member_beyond_room(draw):
    """(region, member, visits): 9-20 distinct institutions (or drugs), then up to 8 again."""
    region = draw(st.sampled_from(sorted(PACKS)))
    drugs = region == "xishuangbanna"  # the pack with a yearly deductible per drug
    n = draw(st.integers(9, 20))
    again = draw(st.lists(st.integers(0, n - 1), max_size=8))
    t = datetime(2024, 1, 1, 8) + timedelta(days=draw(st.integers(0, 363)))
    visits = []
    for k in [*range(n), *again]:
        # windows: minutes apart (the same day, mostly; now and then past a window's end);
        # drugs: days apart, across the year's end now and then
        step = (
            timedelta(days=draw(st.integers(0, 40)))
            if drugs
            else timedelta(minutes=draw(st.sampled_from([1, 7, 30, 90, 24 * 60])))
        )
        t += step
        total = draw(st.integers(0, 500_000))
        visits.append(
            M.VisitSpec(
                time=t,
                institution="H0" if drugs else f"H{k}",
                level=draw(st.sampled_from(["level2", "level3"])),
                total=total,
                in_scope=draw(st.integers(0, total)),
                category="negotiated_drug" if drugs else "general",
                drug=f"D{k}" if drugs else None,
            )
        )
    member = M.MemberSpec(
        type="employee", has_account=draw(st.booleans()), balance=draw(st.integers(0, 300_000))
    )
    return region, member, visits, draw(st.integers(0, len(visits)))


@SETTINGS
@given(member_beyond_room())
def test_visits_beyond_a_new_states_room_are_settled_as_the_model_settles_them(case):
    region, spec, visits, cut = case
    pack = PACKS[region]
    state = M.new_state(spec)
    expected = [M.settle(pack, spec, state, v).figures() for v in visits]
    member = engine_member(pack, spec)
    start = engine.YearState.new(spec.balance)
    ev = [engine_visit(v) for v in visits]
    whole, end = engine.settle_all(pack, member, start, ev, trace=False)
    assert [engine_figures(r) for r in whole] == expected
    # in two calls, the state between them stored and read back as the ledger does
    first, mid = engine.settle_all(pack, member, start, ev[:cut], trace=False)
    stored = engine.YearState(tuple(list(mid.slots)))
    second, end2 = engine.settle_all(pack, member, stored, ev[cut:], trace=False)
    assert [engine_figures(r) for r in first + second] == expected
    assert end2 == end
    assert kept(end.slots) >= L.WINDOWS


def test_a_state_grows_only_past_its_room():
    """The common case keeps the fixed size: eight institutions the same day do not grow the
    state, a ninth doubles it (KF-9a, kaifeng's same-day window)."""
    pack = PACKS["kaifeng"]
    member = engine.Member(type=MemberType.employee, has_account=True)
    t = datetime(2024, 3, 1, 8)
    visits = [
        engine.Visit(t + timedelta(minutes=i), f"H{i}", Level.level3, 10_000, 10_000)
        for i in range(9)
    ]
    _, eight = engine.settle_all(pack, member, engine.YearState.new(), visits[:8])
    assert len(eight.slots) == L.S_SIZE
    results, nine = engine.settle_all(pack, member, eight, visits[8:])
    assert results[0].deductible == 5_000  # KF-9a: the ninth institution's own deductible
    # its trace is the one made from the grown state: the steps the eighth visit's were
    eighth, _ = engine.settle_all(pack, member, engine.YearState.new(), visits[:8])
    assert results[0].trace[:: L.TRACE_STRIDE] == eighth[7].trace[:: L.TRACE_STRIDE]
    assert kept(nine.slots) == 2 * L.WINDOWS and len(nine.open_windows) == 9
