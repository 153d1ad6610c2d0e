"""A member's state before the first visit: nothing used, no window open, the balance given."""

from gongji import engine
from gongji.engine import layout as L


def test_a_new_state():
    new = engine.YearState.new()
    assert (new.year, new.month, new.account_balance) == (0, 0, 0)
    assert new.open_windows == ()
    assert engine.YearState.new(12_345).account_balance == 12_345
    assert [new.pool(p).annual for p in L.POOL_NAMES] == [0] * L.N_POOLS
