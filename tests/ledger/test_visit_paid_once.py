"""Issue 16, defect 2: a visit (its institution and visit id) is paid once, whatever
transaction ids it is sent under. The same request again returns the first answer; another
request for the visit is refused (E_VISIT_SETTLED, naming the first transaction), under
concurrency too; after a cancellation the visit can be settled again."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, insert, select, text

from gongji.errors import InputError
from gongji.ledger import check, store
from gongji.ledger.driver import _VISITS, PREFETCH_PG, Driver
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


def _history(db, rows: int) -> None:
    """`rows` more settled visits at H1, written straight into the store: what they say does
    not matter here, only that the institution has them, as wide as real ones (the planner
    weighs the pages it would read)."""
    with db.begin() as conn:
        start = conn.execute(text("SELECT count(*) FROM settlements")).scalar()
        conn.execute(
            text(
                "WITH e AS (INSERT INTO journal_entries (kind, txn_id, created_at) "
                "SELECT 'settle', 'H' || g, now() "
                "FROM generate_series(CAST(:a AS int), CAST(:b AS int)) g "
                "RETURNING id, txn_id) "
                "INSERT INTO settlements (txn_id, member_id, institution, visit_id, visit_time, "
                "payload_hash, request, result, state_before, entry_id) "
                "SELECT txn_id, 'D1', 'H1', 'old-' || txn_id, now(), '', '{}', "
                "json_build_object('pad', repeat('x', 800)), '[]', id "
                "FROM e"
            ),
            {"a": start + 1, "b": start + rows},
        )


def _prefetch_reads(db) -> int:
    """Buffers PostgreSQL reads to prefetch a batch of ten new visits at H1."""
    keys = Driver.keys([(f"N{i}", "D1", "H1", f"new-{i}") for i in range(10)])
    with db.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + PREFETCH_PG, (keys,)
        ).scalar()
        conn.rollback()
    return plan[0]["Plan"]["Shared Hit Blocks"] + plan[0]["Plan"]["Shared Read Blocks"]


def test_finding_a_visits_settlement_reads_none_of_the_institutions_others(member):
    """The prefetch finds each visit's active settlement by the index on both its columns:
    what a batch reads does not grow with its institution's history. (It looked the
    institution up alone and filtered every settlement it ever made: 7,570 buffers and
    19 ms a batch after 20,000, the service's main cost under load.) The table is not
    analyzed here, as a store is until autovacuum first gets to it: the old statement's
    plan followed the planner's guesses, the lookup pair by pair does not."""
    if member.dialect.name == "sqlite":  # six statements; the visits' by their index
        with member.connect() as conn:
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + _VISITS.format(institutions="?", ids="?, ?"),
                ("H1", "V1", "V2"),
            ).all()
        assert [r[-1] for r in plan] == [
            "SEARCH settlements USING INDEX uq_settlements_active_visit (institution=? AND "
            "visit_id=?)"
        ]
        return
    _history(member, 200)
    few = _prefetch_reads(member)
    _history(member, 20000)
    many = _prefetch_reads(member)
    assert many <= few + 10  # an index a level deeper, at most
