"""`gongji db check` can fail: each problem it reports, made by tampering with a store that
was consistent (the tampered balance, state and cap are in test_operations.py)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert, select, update

from gongji.engine import layout as L
from gongji.engine.use import POOL_SLOTS, Use, accumulated, items_met
from gongji.ledger import check, year
from gongji.ledger.check import Sums
from gongji.ledger.members import add_member
from gongji.ledger.schema import legs, settlements, year_accumulators
from gongji.ledger.settlement import settle

NOT_FROM_BEFORE = "does not start from what the settlements before it consumed of its year"


def visit(vid: str, time: str, total: str) -> dict:
    return {"id": vid, "time": time, "institution": "H001", "level": "level3", "total": total}


@pytest.fixture
def settled(db):
    """Two settlements of one Kaifeng employee, checked consistent."""
    add_member(db, "kaifeng", {"id": "P001", "type": "employee", "account_balance": "300.00"})
    settle(db, "T1", "P001", visit("V1", "2023-03-01T10:00:00", "250.00"))
    settle(db, "T2", "P001", visit("V2", "2023-03-05T10:00:00", "100.00"))
    assert check.problems(db) == []
    return db


def _row(conn, txn_id: str):
    return conn.execute(select(settlements).where(settlements.c.txn_id == txn_id)).one()


def test_an_unbalanced_entry_is_reported(settled):
    with settled.begin() as conn:
        entry = _row(conn, "T1").entry_id
        conn.execute(insert(legs).values(entry_id=entry, account="fund:kaifeng", amount=1))
    assert check.problems(settled) == [f"entry {entry}: legs sum to 1, not 0"]


def _tamper(db, txn_id: str, key: str, value: str) -> str:
    """The stored result's `key` made `value`; returns the figure it was."""
    with db.begin() as conn:
        result = dict(_row(conn, txn_id).result)
        was, result[key] = result[key], value
        conn.execute(
            update(settlements).where(settlements.c.txn_id == txn_id).values(result=result)
        )
    return was


def test_a_stored_result_the_engine_does_not_give_again_is_reported(settled):
    paid = _tamper(settled, "T1", "fund_pay", "999.99")
    assert check.problems(settled) == [f"settlement T1: fund_pay 999.99 but replay gives {paid}"]


def test_a_broken_chain_is_reported(settled):
    """T2 must start from the state T1 left (the balance aside): a fen of pool use more in
    its starting state is a settlement that did not follow the one before it."""
    with settled.begin() as conn:
        before = list(_row(conn, "T2").state_before)
        before[3] += 1  # the general pool's annual use
        conn.execute(
            update(settlements).where(settlements.c.txn_id == "T2").values(state_before=before)
        )
    assert check.problems(settled) == [f"settlement T2: {NOT_FROM_BEFORE}"]


def test_a_first_settlement_not_starting_from_a_new_state_is_reported(settled):
    """The first settlement has no predecessor: it must start from nothing used of its
    year (a fen of March 2023's pool use there is use no settlement recorded)."""
    with settled.begin() as conn:
        before = list(_row(conn, "T1").state_before)
        before[:2] = [2023, 2023 * 12 + 2]  # the year and month of the visit
        before[3] += 1  # the general pool's annual use
        conn.execute(
            update(settlements).where(settlements.c.txn_id == "T1").values(state_before=before)
        )
    assert check.problems(settled) == [f"settlement T1: {NOT_FROM_BEFORE}"]


def test_after_a_rollover_the_chain_is_the_reset_state(db):
    """A year rollover between two settlements resets the year's use (X-1): the next year's
    first settlement starts from exactly that reset, not from any state of a later year."""
    add_member(db, "kaifeng", {"id": "P002", "type": "employee"})
    settle(db, "T1", "P002", visit("V1", "2023-12-01T10:00:00", "250.00"))
    year.rollover(db, 2024)
    settle(db, "T2", "P002", visit("V2", "2024-03-05T10:00:00", "100.00"))
    assert check.problems(db) == []
    with db.begin() as conn:
        before = list(_row(conn, "T2").state_before)
        before[3] += 1  # a fen of 2024 use that no settlement paid
        conn.execute(
            update(settlements).where(settlements.c.txn_id == "T2").values(state_before=before)
        )
    assert check.problems(db) == [f"settlement T2: {NOT_FROM_BEFORE}"]


uses = st.builds(
    Use,
    month=st.integers(2023 * 12, 2024 * 12 + 11),
    pools=st.lists(st.integers(0, 10_000), min_size=POOL_SLOTS, max_size=POOL_SLOTS).map(tuple),
    items=st.lists(st.tuples(st.integers(1, 4), st.integers(0, 500)), max_size=3).map(tuple),
)


@given(
    st.lists(st.tuples(uses, st.booleans()), max_size=12), st.integers(2023 * 12, 2024 * 12 + 11)
)
def test_running_sums_are_the_uses_summed_again(made, month):
    """`db check` keeps running sums of a member's settlements' uses instead of summing them
    again for each settlement: for any uses, less any cancelled, and any month, the pools'
    slots and the items met are what `accumulated` (the ledger's own sum) gives."""
    active = Sums()
    for use, _ in made:
        active.add(use, 1)
    for use, cancelled in made:
        if cancelled:
            active.add(use, -1)
    want = accumulated([use for use, cancelled in made if not cancelled], month, 0).slots
    assert active.pools(month) == tuple(want[L.S_POOL : L.S_POOL + POOL_SLOTS])
    assert active.items_met(month // 12) == items_met(want)


def test_the_check_tells_its_progress_member_by_member(settled):
    add_member(settled, "kaifeng", {"id": "P002", "type": "employee"})
    told = []
    assert check.problems(settled, lambda done, total: told.append((done, total))) == []
    assert told == [(1, 2), (2, 2)]


def test_members_read_a_few_at_a_time_are_each_checked(settled, monkeypatch):
    """Members' records are read MEMBERS_READ members at a time: a problem in the last
    members read is found as in the first."""
    monkeypatch.setattr(check, "MEMBERS_READ", 2)
    for m in range(2, 6):
        add_member(settled, "kaifeng", {"id": f"P00{m}", "type": "employee"})
    settle(settled, "T5", "P005", visit("V5", "2023-03-01T10:00:00", "80.00"))
    assert check.problems(settled) == []
    paid = _tamper(settled, "T5", "account_pay", "1.23")
    assert check.problems(settled) == [f"settlement T5: account_pay 1.23 but replay gives {paid}"]


def test_a_check_of_a_live_store_reads_one_view_and_holds_no_settlement_up(settled, monkeypatch):
    """`db check` while the service settles: a settlement committed midway (here, before the
    members' records are read) is not held up by the check, and the check, reading one view
    of the store as of its start, finds nothing (not that member's state against records it
    did not see before)."""
    real = check.Records.read

    def read(conn, ids):
        settle(settled, "T3", "P001", visit("V3", "2023-03-09T10:00:00", "60.00"))  # committed
        return real(conn, ids)

    monkeypatch.setattr(check.Records, "read", read)
    assert check.problems(settled) == []
    monkeypatch.undo()
    with settled.connect() as conn:
        assert _row(conn, "T3").member_id == "P001"  # it was settled, and is checked now
    assert check.problems(settled) == []


def test_a_closed_years_kept_accumulators_not_its_settlements_sum_are_reported(db):
    """The rollover keeps 2023's accumulators (X-1): a fen more kept than the year's active
    settlements paid is reported against that year."""
    add_member(db, "kaifeng", {"id": "P002", "type": "employee"})
    settle(db, "T1", "P002", visit("V1", "2023-12-01T10:00:00", "250.00"))
    year.rollover(db, 2024)
    settle(db, "T2", "P002", visit("V2", "2024-03-05T10:00:00", "100.00"))
    assert check.problems(db) == []
    kept = year_accumulators.c
    with db.begin() as conn:
        conn.execute(
            update(year_accumulators)
            .where(kept.member_id == "P002", kept.year == 2023, kept.pool == "general")
            .values(fund_paid=kept.fund_paid + 1)
        )
    assert check.problems(db) == ["member P002: 2023's accumulators are not its settlements' sum"]
