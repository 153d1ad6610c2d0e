"""The journal's own invariant: an entry's legs sum to zero, or nothing is posted."""

import pytest

from gongji.ledger.chart import Chart
from gongji.ledger.journal import LedgerError, balanced, legs_of, post


def test_an_unbalanced_entry_is_refused(db):
    """A fen out of balance is a bug, never posted (TigerBeetle's style: asserted, not only
    documented). The same entry balanced is posted with its non-zero legs only."""
    moves = [(Chart.account.of("P1"), -100), (Chart.institution.of("H1"), 99)]
    with pytest.raises(LedgerError, match="unbalanced"):
        balanced("settle", "T1", moves)
    with db.begin() as conn, pytest.raises(LedgerError, match="unbalanced"):
        post(conn, "settle", "T1", moves)
    fixed = [*moves, (Chart.cash.of("P1"), 1), (Chart.fund.of("kaifeng"), 0)]
    with db.begin() as conn:
        entry = post(conn, "settle", "T1", fixed)
        assert sorted(legs_of(conn, entry)) == sorted(fixed[:3])
