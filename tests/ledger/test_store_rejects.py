"""Issue 17, item 3: one request the store rejects no longer fails its whole batch (group
commit). The store is made to reject one transaction id, as it would a value it cannot hold
that got past every check: PostgreSQL with SQLSTATE 22001 (value too long, a DataError),
SQLite with a constraint (an IntegrityError). The good requests of the batch all settle;
the rejected one is refused alone, with a 4xx code, and writes nothing."""

import asyncio

import psycopg
import pytest
import sqlalchemy.exc
from sqlalchemy import create_engine, select, text

from gongji.errors import InputError
from gongji.ledger import check, members
from gongji.ledger.driver import Driver
from gongji.ledger.schema import settlements
from gongji.ledger.settlement import Settled, presettle, settle_many, settle_many_async

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


# the refusal names the driver's error class and its SQLSTATE (SQLite's error name), never
# the error's text, which quotes the data
REFUSED = {
    "postgresql": "the store could not record it (StringDataRightTruncation 22001)",
    "sqlite": "the store could not record it (IntegrityError SQLITE_CONSTRAINT_TRIGGER)",
}


def assert_only_the_bad_one_failed(db, answers: list, batch: list | None = None) -> None:
    batch = requests() if batch is None else batch
    refused = answers.pop([t for t, _, _ in batch].index("BAD"))
    assert isinstance(refused, Exception) and refused.code == "E_INPUT"
    assert (refused.field, refused.reason) == ("(request)", REFUSED[db.dialect.name])
    assert all(isinstance(a, Settled) for a in answers), answers
    with db.connect() as conn:
        txns = conn.execute(select(settlements.c.txn_id).order_by(settlements.c.txn_id)).all()
        assert [t for (t,) in txns] == sorted(t for t, _, _ in batch if t != "BAD")
    assert check.problems(db) == []


def test_a_batch_with_a_request_the_store_rejects_settles_the_others(rejecting):
    assert_only_the_bad_one_failed(rejecting, settle_many(rejecting, requests()))


def test_a_batch_of_two_with_one_rejected_settles_the_other(rejecting):
    """The smallest batch that is settled again one by one rather than refused whole."""
    batch = requests()[5:7]
    assert_only_the_bad_one_failed(rejecting, settle_many(rejecting, batch), batch)


def psycopg_url(db) -> str:
    return db.url.set(drivername="postgresql").render_as_string(hide_password=False)


def test_the_asyncio_batch_settles_the_others_too(rejecting):
    if rejecting.dialect.name != "postgresql":
        pytest.skip("asyncio batches are PostgreSQL's (SQLite's run in a thread)")

    async def run(batch: list) -> list:
        async with await psycopg.AsyncConnection.connect(psycopg_url(rejecting)) as conn:
            return await settle_many_async(conn, batch)

    assert_only_the_bad_one_failed(rejecting, asyncio.run(run(requests())))
    (alone,) = asyncio.run(run([requests()[6]]))  # a batch of one: refused, not retried
    assert (alone.field, alone.reason) == ("(request)", REFUSED["postgresql"])


def test_a_rejection_without_a_sqlstate_is_named_by_its_class(db, monkeypatch):
    """An error of the driver's that is no database's (text it cannot encode for the store,
    as psycopg's encoding for a LATIN1 database): named by its class alone."""
    with db.begin() as conn:
        members.insert_member(conn, "kaifeng", {"id": "M1", "type": "employee"})

    def unencodable(self):
        raise UnicodeEncodeError("latin-1", "张三", 0, 1, "ordinal not in range(256)")

    monkeypatch.setattr(Driver, "commit", unencodable)
    visit = {"id": "V1", "time": "2023-03-01T10:00:00", "institution": "H1", "total": "80.00"}
    (refused,) = settle_many(db, [("T1", "M1", visit)])
    assert isinstance(refused, InputError) and refused.code == "E_INPUT"
    assert (refused.field, refused.reason) == (
        "(request)", "the store could not record it (UnicodeEncodeError)"
    )  # fmt: skip


def test_presettle_names_a_rejection_by_class_and_sqlstate(db, monkeypatch):
    """presettle reads only (its transaction is rolled back), so the store can reject only
    its reads: named as settle names a rejection, without the statement or its data."""
    with db.begin() as conn:
        members.insert_member(conn, "kaifeng", {"id": "M1", "type": "employee"})
    too_long = psycopg.errors.StringDataRightTruncation("value too long: M1")

    def rejected(self, keys):
        raise sqlalchemy.exc.DataError("SELECT ... WHERE id = %s", ["M1"], too_long)

    monkeypatch.setattr(Driver, "prefetch", rejected)
    visit = {"id": "V1", "time": "2023-03-01T10:00:00", "institution": "H1", "total": "80.00"}
    with pytest.raises(InputError) as refused:
        presettle(db, "M1", visit)
    assert (refused.value.field, refused.value.reason) == ("(request)", REFUSED["postgresql"])


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


def unreachable(db):
    """The store of `db`, down: connecting fails."""
    if db.dialect.name == "sqlite":
        return create_engine("sqlite:////nonexistent/gongji.db")
    return create_engine(db.url.set(port=1))


def beyond_limits() -> list:
    """A request for each id one character over its limit (txn_id and visit.id 64,
    member_id and visit.institution 40)."""
    visit = {"id": "V1", "time": "2023-03-01T10:00:00", "institution": "H1", "total": "80.00"}
    return [
        ("T" * 65, "M1", visit),
        ("T2", "M" * 41, visit),
        ("T3", "M1", {**visit, "institution": "H" * 41}),
        ("T4", "M1", {**visit, "id": "V" * 65}),
    ]


def test_ids_beyond_their_limits_are_refused_without_the_store(db):
    """Refused before the batch touches the store: answered even with the store down."""
    answers = settle_many(unreachable(db), beyond_limits())
    assert [(a.field, a.reason, a.code) for a in answers] == [
        ("txn_id", "at most 64 characters", "E_INPUT"),
        ("member_id", "at most 40 characters", "E_INPUT"),
        ("visit.institution", "at most 40 characters", "E_INPUT"),
        ("visit.id", "at most 64 characters", "E_INPUT"),
    ]  # fmt: skip


def test_the_asyncio_batch_refuses_them_without_the_store(db):
    if db.dialect.name != "postgresql":
        pytest.skip("asyncio batches are PostgreSQL's (SQLite's run in a thread)")

    async def run() -> list:
        conn = await psycopg.AsyncConnection.connect(psycopg_url(db))
        await conn.close()  # a connection the store has dropped
        return await settle_many_async(conn, beyond_limits())

    assert [a.field for a in asyncio.run(run())] == [
        "txn_id", "member_id", "visit.institution", "visit.id"
    ]  # fmt: skip


def test_presettle_refuses_ids_beyond_their_limits_without_the_store(db):
    for _, member_id, visit in beyond_limits()[1:]:
        with pytest.raises(InputError) as refused:
            presettle(unreachable(db), member_id, visit)
        assert refused.value.reason.startswith("at most ")


def test_ids_at_their_limits_are_settled(db):
    member_id = "M" * 40
    with db.begin() as conn:
        members.insert_member(conn, "kaifeng", {"id": member_id, "type": "employee"})
    visit = {"id": "V" * 64, "time": "2023-03-01T10:00:00", "institution": "H1",
             "total": "80.00"}  # fmt: skip
    unknown = {**visit, "id": "V2", "institution": "H" * 40}
    settled, unregistered = settle_many(db, [("T" * 64, member_id, visit),
                                             ("T2", member_id, unknown)])  # fmt: skip
    assert isinstance(settled, Settled)
    assert (unregistered.field, unregistered.code) == ("visit.institution", "E_NOT_FOUND")
    assert presettle(db, member_id, visit).presettle


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
