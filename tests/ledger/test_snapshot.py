"""`store.snapshot`: the reads of a live store (db check, the front ends' views, statements)
see one view of it and hold up no settlement."""

from sqlalchemy import func, select

from gongji.ledger import store
from gongji.ledger.members import add_member
from gongji.ledger.schema import settlements
from gongji.ledger.settlement import settle


def visit(vid: str, day: int) -> dict:
    return {"id": vid, "time": f"2023-03-{day:02d}T10:00:00", "institution": "H001",
            "level": "level3", "total": "80.00"}  # fmt: skip


def test_a_snapshot_sees_one_view_and_holds_no_settlement_up(db):
    add_member(db, "kaifeng", {"id": "P001", "type": "employee", "account_balance": "300.00"})
    settle(db, "T1", "P001", visit("V1", 1))
    count = select(func.count()).select_from(settlements)
    with store.snapshot(db) as conn:
        assert conn.execute(count).scalar_one() == 1
        # another connection settles meanwhile: not held up by the read (on SQLite a
        # BEGIN IMMEDIATE read would hold the write lock: 'database is locked' after 30 s)
        assert settle(db, "T2", "P001", visit("V2", 2)).txn_id == "T2"
        assert conn.execute(count).scalar_one() == 1  # the view the read began with
    with store.snapshot(db) as conn:
        assert conn.execute(count).scalar_one() == 2
