"""Issue 17, item 3: one request the store rejects no longer fails its whole batch (group
commit). The store is made to reject one transaction id, as it would a value it cannot hold
that got past every check: PostgreSQL with SQLSTATE 22001 (value too long, a DataError),
SQLite with a constraint (an IntegrityError). The good requests of the batch all settle;
the rejected one is refused alone, with a 4xx code, and writes nothing."""

import asyncio

import psycopg
import pytest
from sqlalchemy import func, select, text

from gongji.ledger import check, members
from gongji.ledger.schema import settlements
from gongji.ledger.settlement import Settled, settle_many, settle_many_async

REJECT = {
    "postgresql": [
        """CREATE FUNCTION reject_bad() RETURNS trigger AS $$ BEGIN
             IF NEW.txn_id = 'BAD' THEN
               RAISE EXCEPTION 'value too long' USING ERRCODE = '22001';
             END IF; RETURN NEW; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER reject_bad BEFORE INSERT ON settlements
             FOR EACH ROW EXECUTE FUNCTION reject_bad()""",
    ],
    "sqlite": [
        """CREATE TRIGGER reject_bad BEFORE INSERT ON settlements WHEN NEW.txn_id = 'BAD'
             BEGIN SELECT RAISE(ABORT, 'rejected'); END""",
    ],
}


@pytest.fixture
def rejecting(db):
    with db.begin() as conn:
        for statement in REJECT[db.dialect.name]:
            conn.execute(text(statement))
        for i in range(12):
            members.insert_member(conn, "kaifeng", {"id": f"M{i:02d}", "type": "employee",
                                                    "account_balance": "100.00"})  # fmt: skip
    return db


def requests() -> list:
    """Twelve good requests, for twelve members, and the bad one in the middle."""
    good = [
        (f"T{i:02d}", f"M{i:02d}",
         {"id": f"V{i}", "time": "2023-03-01T10:00:00", "institution": "H1", "total": "80.00"})
        for i in range(12)
    ]  # fmt: skip
    bad = ("BAD", "M05", {**good[5][2], "id": "V-BAD"})
    return [*good[:6], bad, *good[6:]]


def assert_only_the_bad_one_failed(db, answers: list) -> None:
    refused = answers.pop(6)
    assert isinstance(refused, Exception) and refused.code == "E_INPUT"
    assert refused.field == "(request)" and "could not record" in refused.reason
    assert all(isinstance(a, Settled) for a in answers), answers
    with db.connect() as conn:
        txns = conn.execute(select(settlements.c.txn_id).order_by(settlements.c.txn_id)).all()
        assert [t for (t,) in txns] == [f"T{i:02d}" for i in range(12)]
        assert conn.execute(select(func.count()).select_from(settlements)).scalar() == 12
    assert check.problems(db) == []


def test_a_batch_with_a_request_the_store_rejects_settles_the_others(rejecting):
    assert_only_the_bad_one_failed(rejecting, settle_many(rejecting, requests()))


def test_the_asyncio_batch_settles_the_others_too(rejecting):
    if rejecting.dialect.name != "postgresql":
        pytest.skip("asyncio batches are PostgreSQL's (SQLite's run in a thread)")
    url = rejecting.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def run() -> list:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            return await settle_many_async(conn, requests())

    assert_only_the_bad_one_failed(rejecting, asyncio.run(run()))


def test_a_request_the_store_cannot_hold_is_refused_before_the_batch(db):
    """Ids beyond the store are refused by name before the batch's one prefetch, which
    they would fail for every request in it (a NUL on PostgreSQL, an unpaired surrogate on
    both stores)."""
    with db.begin() as conn:
        members.insert_member(conn, "kaifeng", {"id": "M1", "type": "employee"})
    visit = {"id": "V1", "time": "2023-03-01T10:00:00", "institution": "H1", "total": "80.00"}
    answers = settle_many(db, [
        ("T1", "M1\x00", visit),
        ("T2", "M1", {**visit, "institution": "H1\ud800"}),
        ("T3" * 33, "M1", visit),
        ("T4", "M1", {**visit, "id": "V" * 65}),
        ("T5", "M1", visit),
    ])  # fmt: skip
    assert [(a.field, a.code) for a in answers[:4]] == [
        ("member_id", "E_INPUT"), ("visit.institution", "E_INPUT"), ("txn_id", "E_INPUT"),
        ("visit.id", "E_INPUT"),
    ]  # fmt: skip
    assert isinstance(answers[4], Settled)
    assert check.problems(db) == []


def test_a_record_stored_before_a_check_was_tightened_fails_alone(db):
    """A member record the model now refuses (a chronic disease code over 64 characters,
    stored before ids were bounded): its own request is refused by field; its batch
    settles."""
    with db.begin() as conn:
        for member_id in ("M1", "M2"):
            members.insert_member(conn, "kaifeng", {"id": member_id, "type": "employee"})
        conn.execute(
            text("UPDATE members SET profile = :p WHERE id = 'M1'"),
            {"p": '{"id": "M1", "type": "employee", "chronic_diseases": ["' + "E" * 65 + '"]}'},
        )
    visit = {"id": "V1", "time": "2023-03-01T10:00:00", "institution": "H1", "total": "80.00"}
    stale, fresh = settle_many(db, [("T1", "M1", visit), ("T2", "M2", {**visit, "id": "V2"})])
    assert (stale.field, stale.code) == ("member.chronic_diseases[0]", "E_INPUT")
    assert isinstance(fresh, Settled)
