"""What one settled visit consumed (engine/use.py), in small worked examples on states written
out slot by slot: the use read off a visit, a cancellation giving it back (`plus(.., -1)`),
a late claim adding it (`plus(.., 1)`). The property module test_use.py checks the same over
generated member-years; these pin each case to the fen and to the slot.

Institutions and items are keys (the kernel's: `facts.institution_key`, `facts.item_key`);
times are local seconds since 1970, as the kernel keeps a window's opening."""

import pytest

from gongji.engine import layout as L
from gongji.engine.invariants import InvariantError
from gongji.engine.state import OpenWindow, YearState, kept, start_state
from gongji.engine.use import Use, accumulated, items_met, plus, use_of

A, B = 1_001, 2_002  # two institutions
DAY = L.SECONDS_PER_DAY
DAY1 = 19_783 * DAY + 9 * 3600  # 2024-03-01 09:00
DAY2 = DAY1 + DAY  # 2024-03-02 09:00
MARCH = 2024 * 12 + 2
NO_POOLS = (0,) * (L.N_POOLS * L.PU_STRIDE)


def general(annual: int, monthly: int, met: int) -> tuple[int, ...]:
    """A use's pools: the general pool's fund pay for the year and month, deductible met."""
    return (annual, monthly, met, *NO_POOLS[3:])


def state(windows=(), items=(), month=MARCH, pools=None, balance=0) -> YearState:
    """A state in `month`: windows (institution, opened, met) and items (key, met) from
    slot 0 on, the other slots free."""
    s = [0] * L.S_SIZE
    start_state(s, balance)
    s[L.S_YEAR], s[L.S_MONTH] = month // 12, month
    for i, w in enumerate(windows):
        at = L.S_WINDOW + i * L.W_STRIDE
        s[at : at + L.W_STRIDE] = w
    for i, it in enumerate(items):
        at = L.S_ITEM + i * L.I_STRIDE
        s[at : at + L.I_STRIDE] = it
    if pools is not None:
        s[L.S_POOL : L.S_POOL + len(pools)] = pools
    return YearState(tuple(s))


FREE_WINDOW = (0, -1, 0)
FREE_ITEM = (0, 0)


def windows_of(st: YearState) -> list[tuple[int, int, int]]:
    return [tuple(st.slots[L.S_WINDOW + i * L.W_STRIDE :][: L.W_STRIDE]) for i in range(L.WINDOWS)]


def items_of(st: YearState) -> list[tuple[int, int]]:
    return [tuple(st.slots[L.S_ITEM + i * L.I_STRIDE :][: L.I_STRIDE]) for i in range(L.ITEMS)]


# -- the document kept with a settlement ---------------------------------------------------


def test_a_use_as_a_document_and_back():
    use = Use(MARCH, general(100, 100, 50), ((7, 300),), ((A, DAY1, 50),))
    doc = use.document()
    assert doc == {
        "month": MARCH,
        "pools": [100, 100, 50] + [0] * (len(NO_POOLS) - 3),
        "items": [[7, 300]],
        "windows": [[A, DAY1, 50]],
    }
    assert Use.from_document(doc) == use


# -- use_of: what a visit added ------------------------------------------------------------


def test_use_of_an_item_met_in_part_before():
    # item 7's yearly deductible 300: 100 met by an earlier visit, this one meets 50 more
    # (its in-scope cost was 50): the visit used 150 - 100 = 50
    before = state(items=[(7, 100)])
    after = state(items=[(7, 150)])
    assert use_of(before, after, MARCH).items == ((7, 50),)


def test_use_of_an_item_met_by_one_fen():
    # a visit with 1 fen in scope for item 7, met before by no one: it meets 1 fen
    assert use_of(state(), state(items=[(7, 1)]), MARCH).items == ((7, 1),)


def test_use_of_leaves_out_an_item_it_did_not_touch():
    # item 7 met in full (300) earlier; this visit meets 200 of item 9's: only item 9 is used
    before = state(items=[(7, 300)])
    after = state(items=[(7, 300), (9, 200)])
    assert use_of(before, after, MARCH).items == ((9, 200),)


def test_use_of_leaves_out_a_window_it_did_not_touch():
    # a window open at A (100 met); this visit opens one at B the next day and meets 80
    before = state(windows=[(A, DAY1, 100)])
    after = state(windows=[(A, DAY1, 100), (B, DAY2, 80)])
    assert use_of(before, after, MARCH).windows == ((B, DAY2, 80),)


def test_use_of_a_window_shared():
    # the window at A opened with 30 met (a visit of 30 in scope, standard 100); this visit
    # in the window meets the other 70: the visit used 100 - 30 = 70 of the window
    before = state(windows=[(A, DAY1, 30)])
    after = state(windows=[(A, DAY1, 100)])
    assert use_of(before, after, MARCH).windows == ((A, DAY1, 70),)


def test_use_of_a_new_window_in_the_slot_of_a_closed_one():
    # A's window of day 1 (50 met) is closed on day 2: the visit opens a new one at A in the
    # same slot and meets 80 there: its use is the new window's 80, not 80 - 50
    before = state(windows=[(A, DAY1, 50)])
    after = state(windows=[(A, DAY2, 80)])
    assert use_of(before, after, MARCH).windows == ((A, DAY2, 80),)


def test_use_of_a_window_opened_at_second_zero():
    # opened >= 0 is an open window, 0 (1970-01-01 00:00) included
    after = state(windows=[(A, 0, 100)], month=1970 * 12)
    assert use_of(YearState.new(), after, 1970 * 12).windows == ((A, 0, 100),)


def test_use_of_across_the_year_roll():
    # December: item 7 met 300, pools used; the visit in January meets 40 of item 7 anew and
    # its fund pays 500: the year roll emptied the accumulators, so the use is 40 and 500
    december = 2023 * 12 + 11
    before = state(items=[(7, 300)], month=december, pools=(9_000, 1_000, 200))
    after = state(items=[(7, 40)], month=2024 * 12, pools=(500, 500, 0))
    use = use_of(before, after, 2024 * 12)
    assert use.items == ((7, 40),)
    assert use.pools == general(500, 500, 0)


# -- items_met -----------------------------------------------------------------------------


def test_items_met_keeps_items_with_something_met():
    # item 1 met 500; item 3 holds a slot with nothing met: as none
    assert items_met(state(items=[(1, 500), (3, 0)]).slots) == {1: 500}


# -- plus: given back, added ---------------------------------------------------------------


def test_giving_back_an_accumulator_below_zero_is_refused():
    use = Use(MARCH, general(100, 100, 0))
    with pytest.raises(InvariantError, match=r"^an accumulator below zero after giving back Use"):
        plus(state(), use, -1)


def test_giving_back_fund_pay_of_each_pool():
    # general 100 / chronic 200 / inpatient 400 paid this year and month, 30 of the chronic
    # deductible met; a cancelled visit had paid 40 from the chronic pool and met 10 there
    pools = (100, 100, 0, 200, 200, 30, 0, 0, 0, 0, 0, 0, 400, 400, 0)
    use = Use(MARCH, (0, 0, 0, 40, 40, 10, *NO_POOLS[6:]))
    back = plus(state(pools=pools), use, -1)
    assert back.slots[L.S_POOL : L.S_POOL + len(pools)] == (
        (100, 100, 0, 160, 160, 20, 0, 0, 0, 0, 0, 0, 400, 400, 0)
    )
    # in April the month's fund pay is April's: March's is not taken from it
    april = state(pools=(100, 0, 0, 200, 0, 30), month=MARCH + 1)
    assert plus(april, use, -1).slots[L.S_POOL : L.S_POOL + 6] == (100, 0, 0, 160, 0, 20)


def test_giving_back_an_item_frees_its_slot():
    # items 5 (200 met) and 7 (300 met); the settlement that met item 7's 300 is cancelled:
    # 300 - 300 = 0, item 7's slot is free again, item 5's stands
    before = state(items=[(5, 200)])
    after = state(items=[(5, 200), (7, 300)])
    use = use_of(before, after, MARCH)
    assert plus(after, use, -1) == before
    assert items_of(plus(after, use, -1))[:2] == [(5, 200), FREE_ITEM]


def test_giving_back_part_of_an_item():
    # item 5 met 100 + 50 by two visits; the second is cancelled: 150 - 50 = 100 left
    assert items_of(plus(state(items=[(5, 150)]), Use(MARCH, NO_POOLS, ((5, 50),)), -1))[0] == (
        5,
        100,
    )


def test_a_late_claim_adds_to_an_item():
    # item 5 met 100; a late claim met 50 of it: 150
    st = plus(state(items=[(5, 100)]), Use(MARCH, NO_POOLS, ((5, 50),)), 1)
    assert items_of(st)[0] == (5, 150)
    assert items_met(st.slots) == {5: 150}


def test_a_late_claims_item_takes_the_first_free_slot():
    # slots 0 and 2 taken (items 5 and 9), 1 and 3..7 free: item 7 goes to slot 1
    st = plus(state(items=[(5, 100), FREE_ITEM, (9, 50)]), Use(MARCH, NO_POOLS, ((7, 40),)), 1)
    assert items_of(st) == [(5, 100), (7, 40), (9, 50)] + [FREE_ITEM] * (L.ITEMS - 3)


def test_giving_back_an_item_the_state_does_not_hold_is_refused():
    with pytest.raises(InvariantError, match=r"^item 7: -40 to give back$"):
        plus(state(items=[(5, 100)]), Use(MARCH, NO_POOLS, ((7, 40),)), -1)


def test_a_late_claims_item_with_no_free_slot_grows_the_state():
    # every slot taken: the state grows to twice the items (issue 19), item 7 in the first
    # new slot, the eight kept where they were
    full = state(items=[(k, 10) for k in range(11, 11 + L.ITEMS)])
    st = plus(full, Use(MARCH, NO_POOLS, ((7, 40),)), 1)
    assert kept(st.slots) == 2 * L.ITEMS
    assert items_met(st.slots) == {**{k: 10 for k in range(11, 11 + L.ITEMS)}, 7: 40}
    assert st.slots[: L.S_WINDOW] == full.slots[: L.S_WINDOW]


def test_items_of_another_year_are_left_alone():
    # a use of 2023 given back from a 2024 state: its items are not in it
    st = state(items=[(7, 300)])
    assert plus(st, Use(2023 * 12 + 5, NO_POOLS, ((7, 300),)), -1) == st


# -- plus: deductible windows --------------------------------------------------------------


def test_giving_back_a_window_frees_its_slot():
    # B's window (100 met) in slot 0; the visit at A the next day opened one in slot 1 and
    # met 60; cancelled: 60 - 60 = 0, the window is closed, its slot free, the state as before
    before = state(windows=[(B, DAY1, 100)])
    after = state(windows=[(B, DAY1, 100), (A, DAY2, 60)])
    use = use_of(before, after, MARCH)
    assert use.windows == ((A, DAY2, 60),)
    back = plus(after, use, -1)
    assert back == before
    assert windows_of(back)[:2] == [(B, DAY1, 100), FREE_WINDOW]


def test_giving_back_the_later_visit_in_a_window():
    # standard 100 at A: a first visit with 1 fen in scope meets 1, a second in the window
    # meets the other 99; the second is cancelled: 100 - 99 = 1 met, the window stays open
    use = Use(MARCH, NO_POOLS, (), ((A, DAY1, 99),))
    assert windows_of(plus(state(windows=[(A, DAY1, 100)]), use, -1))[0] == (A, DAY1, 1)


def test_a_late_claim_in_an_open_window():
    # A's window met 30; a late claim in it met 70 more: 100
    st = plus(state(windows=[(A, DAY1, 30)]), Use(MARCH, NO_POOLS, (), ((A, DAY1, 70),)), 1)
    assert windows_of(st)[0] == (A, DAY1, 100)


def test_a_late_claim_of_one_fen_opens_its_window():
    st = plus(state(), Use(MARCH, NO_POOLS, (), ((A, DAY1, 1),)), 1)
    assert windows_of(st)[0] == (A, DAY1, 1)


def test_a_newer_window_supersedes_an_older_one_at_the_institution():
    # A's window of day 1 (50 met) in slot 0; a late claim's window at A of day 2 (80 met)
    # takes its slot: one window per institution, the newest
    st = plus(state(windows=[(A, DAY1, 50)]), Use(MARCH, NO_POOLS, (), ((A, DAY2, 80),)), 1)
    assert windows_of(st) == [(A, DAY2, 80)] + [FREE_WINDOW] * (L.WINDOWS - 1)


def test_an_older_window_does_not_replace_a_newer_one():
    # A's window of day 2 is open; a late claim of day 1 opened one there: it no longer counts
    st = state(windows=[(A, DAY2, 80)])
    assert plus(st, Use(MARCH, NO_POOLS, (), ((A, DAY1, 50),)), 1) == st


def test_windows_at_two_institutions():
    # B's window of day 2 in slot 0; a late claim of day 1 opened one at A: a slot of its
    # own, the first free one (slot 1), B's stands whichever is newer
    st = plus(state(windows=[(B, DAY2, 80)]), Use(MARCH, NO_POOLS, (), ((A, DAY1, 50),)), 1)
    assert windows_of(st) == [(B, DAY2, 80), (A, DAY1, 50)] + [FREE_WINDOW] * (L.WINDOWS - 2)


def test_windows_opened_at_second_zero():
    # a window opened at 0 (1970-01-01 00:00) is open: an older window of A's to replace,
    # and not a free slot for B's
    jan70 = 1970 * 12
    st = plus(
        state(windows=[(A, 0, 50)], month=jan70), Use(jan70, NO_POOLS, (), ((A, DAY, 80),)), 1
    )
    assert windows_of(st)[:2] == [(A, DAY, 80), FREE_WINDOW]
    st = plus(
        state(windows=[(B, 0, 50)], month=jan70), Use(jan70, NO_POOLS, (), ((A, 100, 80),)), 1
    )
    assert windows_of(st)[:2] == [(B, 0, 50), (A, 100, 80)]


def test_giving_back_a_window_whose_slot_was_taken_since():
    # A's window of day 1 (50 met) closed, and B's visit of day 2 opened one in its slot; the
    # visit at A is cancelled: there is no window of A's to close, nothing changes
    st = state(windows=[(B, DAY2, 70)])
    assert plus(st, Use(MARCH, NO_POOLS, (), ((A, DAY1, 50),)), -1) == st


def test_a_late_claims_window_with_every_slot_open_elsewhere_grows_the_state():
    # eight windows open at other institutions: A's late window is kept in a grown state
    # (issue 19: it may still be open, and a visit at A inside it must share it)
    full = state(windows=[(10 + i, DAY2, 10) for i in range(L.WINDOWS)])
    st = plus(full, Use(MARCH, NO_POOLS, (), ((A, DAY1, 50),)), 1)
    assert kept(st.slots) == 2 * L.WINDOWS
    assert st.open_windows == (*full.open_windows, OpenWindow(A, DAY1, 50))


def test_accumulated_a_late_claim_starts_from():
    # two March uses and one of 2023: a visit in March 2024 starts from the two summed
    uses = [
        Use(MARCH, general(100, 100, 20), ((7, 30),), ((A, DAY1, 20),)),
        Use(MARCH - 1, general(50, 50, 10), ((7, 20),)),
        Use(2023 * 12 + 5, general(999, 999, 999), ((8, 99),)),
    ]
    st = accumulated(uses, MARCH, 1_234)
    assert st.slots[L.S_POOL : L.S_POOL + 3] == (150, 100, 30)  # the month's: March's only
    assert items_met(st.slots) == {7: 50}
    assert st.open_windows[0].deductible_met == 20
    assert st.account_balance == 1_234
