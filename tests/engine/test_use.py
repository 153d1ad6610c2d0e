"""What a visit consumed (engine/use.py), over generated member-years: adding each visit's
use to the accumulators of the visits before it gives the state the engine left, giving the
last one back gives the state before it, and the year's uses summed are the year's state —
what the ledger's cancellations in any order and late claims rely on."""

from hypothesis import given

from gongji import engine
from gongji.engine import layout as L
from gongji.engine.use import accumulated, plus, use_of

from ..conftest import examples
from .test_properties import SETTINGS, member_and_visits

POOLS = slice(L.S_POOL, L.S_POOL + L.N_POOLS * L.PU_STRIDE)


def month_of(visit) -> int:
    return visit.time.year * 12 + visit.time.month - 1


def items(state) -> set[tuple[int, int]]:
    s = state.slots
    pairs = (
        (s[L.S_ITEM + i * L.I_STRIDE], s[L.S_ITEM + i * L.I_STRIDE + 1]) for i in range(L.ITEMS)
    )
    return {p for p in pairs if p[0] and p[1]}  # an item with nothing met is none


@SETTINGS.__class__(SETTINGS, max_examples=examples(100))
@given(member_and_visits())
def test_uses_add_up_to_the_state_and_give_back_exactly(case):
    pack, member, visits, balance = case
    state = engine.YearState.new(balance)
    uses = []
    for visit in visits:
        tables = engine.tables_on(pack, visit.time.date())
        _, after = engine.settle(tables, member, state, visit, trace=False)
        use = use_of(state, after, month_of(visit))
        # the accumulators are the year's uses summed (the month's fund pay: the month's)
        uses.append(use)
        summed = accumulated(uses, month_of(visit), after.account_balance)
        assert summed.slots[POOLS] == after.slots[POOLS]
        assert items(summed) == items(after)
        # giving the use back leaves what the visits before it had consumed
        back = plus(after, use, -1)
        before = accumulated(uses[:-1], month_of(visit), 0)
        assert back.slots[POOLS] == before.slots[POOLS]
        assert items(back) == items(before)
        state = after
