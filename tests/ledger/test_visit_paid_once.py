"""Issue 16, defect 2: a visit (its institution and visit id) is paid once, whatever
transaction ids it is sent under. The same request again returns the first answer; another
request for the visit is refused (E_VISIT_SETTLED, naming the first transaction), under
concurrency too; after a cancellation the visit can be settled again."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, insert, select, text

from gongji.errors import InputError
from gongji.ledger import check, store
from gongji.ledger.members import add_member
from gongji.ledger.schema import legs, settlements
from gongji.ledger.settlement import cancel, settle
from tests.ledger.revisions import back_to


def visit(total: str = "100.00", vid: str = "V1") -> dict:
    return {"id": vid, "time": "2023-03-01T10:00:00", "institution": "H1", "level": "level2",
            "total": total}  # fmt: skip


@pytest.fixture
def member(db):
    add_member(db, "kaifeng", {"id": "D1", "type": "employee", "account_balance": "1000.00"})
    return db


def fund_paid(db) -> int:
    with db.connect() as conn:
        return -conn.execute(
            select(func.sum(legs.c.amount)).where(legs.c.account == "fund:kaifeng")
        ).scalar()


def active(db) -> int:
    with db.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(settlements)
            .where(settlements.c.cancel_entry_id.is_(None))
        ).scalar()


def test_the_same_request_under_a_new_txn_id_gets_the_first_answer(member):
    first = settle(member, "T1", "D1", visit())
    again = settle(member, "T2", "D1", visit())
    assert again.document() == first.document()
    # level 2: deductible 40; 55% x 60 = 33, paid once
    assert (active(member), fund_paid(member)) == (1, 3300)


def test_another_request_for_a_paid_visit_is_refused(member):
    settle(member, "T1", "D1", visit())
    with pytest.raises(InputError) as refused:
        settle(member, "T2", "D1", visit(total="200.00"))
    assert (refused.value.code, refused.value.field) == ("E_VISIT_SETTLED", "visit.id")
    assert "T1" in refused.value.reason
    assert (active(member), fund_paid(member)) == (1, 3300)


def test_another_member_cannot_claim_the_visit(member):
    add_member(member, "kaifeng", {"id": "D2", "type": "employee"})
    settle(member, "T1", "D1", visit())
    with pytest.raises(InputError) as refused:
        settle(member, "T2", "D2", visit())
    assert refused.value.code == "E_VISIT_SETTLED"


def test_a_cancelled_visit_can_be_settled_again(member):
    settle(member, "T1", "D1", visit())
    cancel(member, "T1")
    assert settle(member, "T2", "D1", visit(total="200.00"))["fund_pay"] == "88.00"  # 55% x 160
    assert check.problems(member) == []


def test_concurrent_retries_with_new_ids_pay_once(member):
    """Ten clients send the visit at once, each under its own transaction id, half of them
    with a different total: one settlement is made, every other answer is the first one or a
    refusal."""
    add_member(member, "kaifeng", {"id": "D2", "type": "employee"})

    def one(n: int):
        who = "D2" if n == 9 else "D1"
        try:
            return settle(member, f"T{n}", who, visit(total="100.00" if n % 2 else "150.00"))
        except InputError as exc:
            return exc.code

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(one, range(10)))
    assert active(member) == 1
    paid = [a for a in answers if not isinstance(a, str)]
    assert {a.document()["txn_id"] for a in paid} == {paid[0].document()["txn_id"]}
    assert set(answers) - set(paid) <= {"E_VISIT_SETTLED"}
    assert fund_paid(member) == int(paid[0]["fund_pay"].replace(".", ""))
    assert check.problems(member) == []


def test_db_check_reports_a_visit_paid_twice(member):
    settle(member, "T1", "D1", visit())
    with member.begin() as conn:
        conn.execute(text("DROP INDEX uq_settlements_active_visit"))
        row = conn.execute(select(settlements).where(settlements.c.txn_id == "T1")).one()
        copy = {k: v for k, v in row._mapping.items() if k != "id"}
        conn.execute(insert(settlements).values({**copy, "txn_id": "T1-copy"}))
    assert "visit V1 at H1: 2 active settlements" in check.problems(member)


def test_the_migration_reads_visit_ids_and_stops_on_a_visit_paid_twice(member):
    settle(member, "T1", "D1", visit())
    settle(member, "T2", "D1", visit(vid="V2"))
    back_to(member, "0006")
    store.upgrade(member)
    with member.connect() as conn:
        ids = conn.execute(select(settlements.c.visit_id).order_by(settlements.c.id)).scalars()
        assert list(ids) == ["V1", "V2"]
    back_to(member, "0006")
    with member.begin() as conn:
        gone = ("id", "visit_id", "consumed", "cancel_txn_id")  # the id, and what 0006 lacks
        kept = [c for c in settlements.c if c.name not in gone]
        row = conn.execute(select(*kept).where(settlements.c.txn_id == "T1")).one()
        conn.execute(insert(settlements).values({**row._mapping, "txn_id": "T1-copy"}))
    with pytest.raises(RuntimeError, match=r"H1/V1 \(2 times\)"):
        store.upgrade(member)
