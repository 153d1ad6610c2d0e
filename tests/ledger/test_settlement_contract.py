"""What settle, cancel, reverse and presettle answer and refuse, to the word: the answer's
fields besides the amounts, each refusal's field, reason and code, the journal entry a
cancellation posts, a chain of cancellations back to the start, and a batch that loses a
race or fails. On SQLite and PostgreSQL."""

import asyncio
import sqlite3
from datetime import datetime

import psycopg
import pytest
import sqlalchemy.exc
from psycopg import errors as pg_errors
from sqlalchemy import func, select

from gongji.errors import InputError
from gongji.ledger import check, members, registry, settlement, views
from gongji.ledger.family import bind
from gongji.ledger.journal import legs_of
from gongji.ledger.schema import entries, settlements, withdrawn_txns
from gongji.ledger.settlement import (
    cancel,
    explain_answer,
    presettle,
    reverse,
    settle,
    settle_many,
)

MEMBER = {"id": "P001", "type": "employee", "account_balance": "300.00"}


def visit(vid: str, time: str, total: str = "100.00", **more) -> dict:
    return {
        "id": vid,
        "time": time,
        "institution": "H001",
        "level": "level3",
        "total": total,
        **more,
    }


# KF-9a/9d at level 3: deductible 50, employee 50% (tests/cases/kaifeng)
V1 = visit("V1", "2023-03-01T10:00:00", "250.00", in_scope="200.00")
V2 = visit("V2", "2023-03-02T10:00:00")
V3 = visit("V3", "2023-03-03T10:00:00")


@pytest.fixture
def member(db):
    members.add_member(db, "kaifeng", MEMBER)
    return db


def refusal(call, *args) -> tuple[str, str, str]:
    with pytest.raises(InputError) as err:
        call(*args)
    return err.value.field, err.value.reason, err.value.code


def balance(db, member_id: str) -> str:
    return str(views.account_show(db, member_id)["account_balance"])


def last_visit(db, member_id: str):
    with db.connect() as conn:
        return conn.execute(
            select(members.members.c.last_visit).where(members.members.c.id == member_id)
        ).scalar()


# -- the answer ----------------------------------------------------------------------------


def test_an_invoice_is_paid_once(member):
    """XSBN-28's manual reimbursement: an invoice number is unique at its institution; the
    same invoice with other figures is refused, naming the first transaction."""
    settle(member, "T1", "P001", {**V1, "manual": True})
    assert refusal(settle, member, "T2", "P001", {**V1, "manual": True, "total": "251.00"}) == (
        "visit.id",
        "invoice V1 of H001 is paid already (transaction T1)",
        "E_INVOICE_CLAIMED",
    )


def test_a_cancel_answers_its_txn_and_leaves_the_member_its_own_latest_visit(member):
    """After a cancellation the member's latest visit is their own latest active one, not
    another member's: a visit dated between is not a late claim."""
    members.add_member(member, "kaifeng", {"id": "P009", "type": "employee"})
    settle(member, "T1", "P001", V1)  # 1 March
    settle(member, "T2", "P001", V3)  # 3 March
    settle(member, "T9", "P009", visit("V9", "2023-03-20T10:00:00"))
    out = cancel(member, "T2")
    assert (out["txn_id"], out["cancelled"]) == ("T2", True)
    assert last_visit(member, "P001").isoformat() == "2023-03-01T10:00:00"
    assert "late" not in settle(member, "T3", "P001", V2)  # 2 March: after 1 March


def test_the_answer_names_the_visit_the_version_and_the_class(member):
    got = settle(member, "T1", "P001", V1)
    assert (got["txn_id"], got["visit_id"], got["institution"], got["time"]) == (
        "T1",
        "V1",
        "H001",
        "2023-03-01T10:00:00",
    )
    assert (got["policy_version"], got["member_class"]) == ("kaifeng@2023-01-01", "employee")
    # 200 in scope: deductible 50, the fund 50% of 150 = 75, the account the other 125
    assert [(s["rule"], s["amount"]) for s in got["trace"]] == [
        ("KF-9a", "50.00"),
        ("KF-9d", "75.00"),
        ("KF-11", "75.00"),
        ("X-5", "125.00"),
        ("X-5", "50.00"),
    ]
    members.add_member(member, "kaifeng", {"id": "R1", "type": "retiree"})
    assert settle(member, "T2", "R1", V2)["member_class"] == "retiree"


def test_explain_answer_gives_each_step_its_article_and_words(member):
    steps = explain_answer(settle(member, "T1", "P001", V1))
    assert steps[0] == {
        "rule": "KF-9a",
        "article": "第九条",
        "text": "三级每次就诊起付线 50.00",
        "amount": "50.00",
    }
    assert [s["rule"] for s in steps] == ["KF-9a", "KF-9d", "KF-11", "X-5", "X-5"]
    assert steps[-1]["text"] == "个人现金支付 50.00，其中全自费 50.00"
    english = explain_answer(settle(member, "T1", "P001", V1), "en")
    assert english[0]["text"] == "level3 per-visit deductible 50.00"
    assert english[-1]["text"] == "cash 50.00, of which 50.00 out of scope"


def test_presettle_answers_as_settle_would_and_writes_nothing(member):
    settle(member, "T1", "P001", V1)
    with member.connect() as conn:
        before = conn.execute(select(func.count()).select_from(settlements)).scalar()
    pre = presettle(member, "P001", V2)
    assert pre["txn_id"] is None and pre["presettle"] is True
    # the same day's window is closed by V2 (a day later): a new deductible of 50, 50% of 50
    assert (pre["deductible"], pre["fund_pay"], pre["account_pay"]) == ("50.00", "25.00", "75.00")
    assert balance(member, "P001") == "175.00"
    with member.connect() as conn:
        assert conn.execute(select(func.count()).select_from(settlements)).scalar() == before
    got = settle(member, "T2", "P001", V2)
    assert {k: v for k, v in got.items() if k != "txn_id"} == {
        k: v for k, v in pre.items() if k not in ("txn_id", "presettle")
    }


def test_presettle_refuses_as_settle_would(member):
    assert refusal(presettle, member, "nobody", V1) == (
        "member_id",
        "unknown member nobody",
        "E_NOT_FOUND",
    )


def test_a_visit_that_is_not_an_object_is_refused(member):
    field, _, code = refusal(settle, member, "T1", "P001", ["V1", "H001"])
    assert (field, code) == ("visit", "E_INPUT")


def test_an_institution_coded_none_is_an_ordinary_code(member):
    """A visit that names no institution is refused as such, whatever is registered."""
    with member.begin() as conn:
        registry.add_institution(
            conn, {"code": "None", "name": "医院", "region": "kaifeng", "level": "level2"}
        )
    bad = {k: v for k, v in V1.items() if k != "institution"}
    field, _, code = refusal(settle, member, "T1", "P001", bad)
    assert (field, code) == ("visit.institution", "E_INPUT")


# -- refusals --------------------------------------------------------------------------------


def test_an_unregistered_local_institution_is_refused(member):
    bad = {**V1, "institution": "ZZZ9"}
    assert refusal(settle, member, "T1", "P001", bad) == (
        "visit.institution",
        "institution ZZZ9 is not registered",
        "E_NOT_FOUND",
    )


def test_an_institution_that_contradicts_the_registry_is_refused(member):
    assert refusal(settle, member, "T1", "P001", {**V1, "level": "level2"}) == (
        "visit.level",
        "institution H001 is registered with level level3, not level2",
        "E_INSTITUTION_MISMATCH",
    )


def test_settle_refusals_name_the_field_and_the_reason(member):
    assert refusal(settle, member, "T1", "nobody", V1) == (
        "member_id",
        "unknown member nobody",
        "E_NOT_FOUND",
    )
    reverse(member, "T2", "P001")
    assert refusal(settle, member, "T2", "P001", V1) == (
        "txn_id",
        "T2 was reversed before it arrived",
        "E_TXN_REVERSED",
    )


def test_cancel_refusals_name_the_field_and_the_reason(member):
    assert refusal(cancel, member, "T9") == ("txn_id", "no settlement T9", "E_NOT_FOUND")
    settle(member, "T1", "P001", V1)
    assert refusal(reverse, member, "T1", "P009") == (
        "member_id",
        "unknown member P009",
        "E_NOT_FOUND",
    )


def test_a_settlement_of_a_closed_year_cannot_be_cancelled(member):
    settle(member, "T1", "P001", V1)
    settle(member, "T2", "P001", visit("V2", "2024-01-05T10:00:00"))
    assert refusal(cancel, member, "T1") == (
        "txn_id",
        "2023 is closed (year rollover)",
        "E_YEAR_CLOSED",
    )


def test_reverse_refuses_another_members_transaction(member):
    members.add_member(member, "kaifeng", {"id": "P002", "type": "employee"})
    settle(member, "T1", "P001", V1)
    assert refusal(reverse, member, "T1", "P002") == (
        "member_id",
        "T1 is not P002's",
        "E_NOT_FOUND",
    )


def test_reversing_one_not_arrived_twice_withdraws_it_once(member):
    first = reverse(member, "T7", "P001")
    assert (
        reverse(member, "T7", "P001")
        == first
        == {
            "txn_id": "T7",
            "reversed": True,
            "settled": False,
        }
    )
    reverse(member, "T8", "P001")
    with member.connect() as conn:
        rows = conn.execute(select(withdrawn_txns.c.txn_id).order_by(withdrawn_txns.c.txn_id))
        assert [r.txn_id for r in rows] == ["T7", "T8"]


# -- cancelling ------------------------------------------------------------------------------


def test_cancelling_back_to_the_start_one_settlement_at_a_time(member):
    for txn, v in (("T1", V1), ("T2", V2), ("T3", V3)):
        settle(member, txn, "P001", v)
    assert cancel(member, "T3")["cancelled"] is True
    assert last_visit(member, "P001") == datetime(2023, 3, 2, 10, 0)
    # a visit between T2 and the cancelled T3 is in time order again
    settle(member, "T4", "P001", visit("V4", "2023-03-02T12:00:00"))
    assert cancel(member, "T4")["cancelled"] is True
    assert cancel(member, "T2")["cancelled"] is True
    assert last_visit(member, "P001") == datetime(2023, 3, 1, 10, 0)
    assert cancel(member, "T1")["cancelled"] is True
    assert last_visit(member, "P001") is None
    assert balance(member, "P001") == "300.00"
    assert check.problems(member) == []


def test_a_cancellation_posts_the_reversing_entry(member):
    settle(member, "T1", "P001", V1)
    cancel(member, "T1")
    with member.connect() as conn:
        s = conn.execute(select(settlements).where(settlements.c.txn_id == "T1")).one()
        entry = conn.execute(select(entries).where(entries.c.id == s.cancel_entry_id)).one()
        assert (entry.kind, entry.txn_id, entry.reverses) == ("cancel", "T1", s.entry_id)
        settled = sorted(legs_of(conn, s.entry_id))
        assert sorted(legs_of(conn, entry.id)) == sorted((a, -m) for a, m in settled)
        assert dict(settled)["account:P001"] == -12_500


def test_cancelling_a_visit_the_account_did_not_pay_leaves_the_balance(member):
    members.add_member(member, "kaifeng", {"id": "Z1", "type": "employee"})  # balance 0
    got = settle(member, "T1", "Z1", V1)
    assert (got["account_pay"], got["cash_pay"]) == ("0.00", "175.00")
    cancel(member, "T1")
    assert balance(member, "Z1") == "0.00"
    assert check.problems(member) == []


# -- mutual aid (XSBN-24) --------------------------------------------------------------------


@pytest.fixture
def family(db):
    with db.begin() as conn:
        registry.add_institution(
            conn,
            {
                "code": "X1",
                "name": "社区卫生服务中心",
                "region": "xishuangbanna",
                "level": "level1",
            },
        )
    for member_id, balance_ in (("H", "100.00"), ("U", "10.00")):
        members.add_member(
            db, "xishuangbanna", {"id": member_id, "type": "employee", "account_balance": balance_}
        )
    with db.begin() as conn:
        bind(
            conn,
            {
                "holder": "H",
                "user": "U",
                "relationship": "child",
                "from": "2023-02-01",
                "to": "2023-12-31",
            },
        )
    return db


# XSBN-9/10 at level 1: deductible 30, employee 60% of 70 = 42; the user's own 10, then 48
# from the holder
AID_VISIT = {"id": "V1", "time": "2023-03-01T09:00:00", "institution": "X1", "total": "100.00"}


def test_the_aid_step_follows_the_engines_steps(family):
    got = settle(family, "T1", "U", AID_VISIT)
    assert [(s["rule"], s["amount"]) for s in got["trace"]] == [
        ("XSBN-9", "30.00"),
        ("XSBN-10", "42.00"),
        ("X-3", "42.00"),
        ("X-5", "10.00"),  # the user's own account
        ("X-5", "48.00"),  # the engine's cash, which the holder's account then pays
        ("XSBN-24", "48.00"),
    ]
    steps = explain_answer(got)
    assert steps[-1] == {
        "rule": "XSBN-24",
        "text": "个人账户共济：授权人 H 的个人账户支付 48.00",
        "amount": "48.00",
    }
    assert explain_answer(got, "en")[-1] == {
        "rule": "XSBN-24",
        "text": "account mutual aid: the holder H's account pays 48.00",
        "amount": "48.00",
    }
    assert len(steps) == len(got["trace"])


def test_a_user_whose_own_account_pays_everything_draws_nothing(family):
    members.add_member(
        family, "xishuangbanna", {"id": "U2", "type": "employee", "account_balance": "58.00"}
    )
    with family.begin() as conn:
        bind(
            conn,
            {
                "holder": "H",
                "user": "U2",
                "relationship": "child",
                "from": "2023-02-01",
                "to": "2023-12-31",
            },
        )
    got = settle(family, "T1", "U2", AID_VISIT)  # the in-scope share is 58: all the user's own
    assert (got["account_pay"], got["cash_pay"]) == ("58.00", "0.00")
    assert "holder" not in got and got["trace"][-1]["rule"] == "X-5"
    assert balance(family, "H") == "100.00"


def test_one_fen_short_is_drawn_from_the_holder(family):
    members.add_member(
        family, "xishuangbanna", {"id": "U3", "type": "employee", "account_balance": "57.99"}
    )
    with family.begin() as conn:
        bind(
            conn,
            {
                "holder": "H",
                "user": "U3",
                "relationship": "child",
                "from": "2023-02-01",
                "to": "2023-12-31",
            },
        )
    got = settle(family, "T1", "U3", AID_VISIT)
    assert (got["account_pay"], got["mutual_aid_pay"], got["cash_pay"]) == (
        "57.99",
        "0.01",
        "0.00",
    )
    assert balance(family, "H") == "99.99"


# a closed holder: tests/ledger/test_family.py (the binding ends; the user's settlement goes on,
# and a cancellation gives the aid to where the holder's balance went)


# -- a batch that loses a race, or fails -----------------------------------------------------


def lost_race() -> Exception:
    """What SQLAlchemy raises when PostgreSQL finds a deadlock: the driver's error as orig."""
    return sqlalchemy.exc.OperationalError("INSERT", {}, pg_errors.DeadlockDetected())


def duplicate() -> Exception:
    """What SQLAlchemy raises when SQLite finds the txn_id taken meanwhile."""
    return sqlalchemy.exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE"))


def test_what_counts_as_a_lost_race():
    """Judged by the driver's error where SQLAlchemy wrapped one, else by the error itself."""
    assert settlement._lost_race(lost_race())
    assert settlement._lost_race(duplicate())
    assert settlement._lost_race(pg_errors.SerializationFailure())
    assert not settlement._lost_race(sqlalchemy.exc.IntegrityError("INSERT", {}, Exception()))
    assert not settlement._lost_race(
        sqlalchemy.exc.OperationalError("INSERT", {}, pg_errors.QueryCanceled())
    )
    assert not settlement._lost_race(RuntimeError("IntegrityError"))


def failing_once(monkeypatch, txn_id: str, error: Exception, times: int = 1) -> None:
    """`_settle_one` raises `error` the first `times` times it settles `txn_id`."""
    real = settlement._settle_one
    left = [times]

    def settle_one(sql, txn, member_id, document):
        if txn == txn_id and left[0]:
            left[0] -= 1
            raise error
        return real(sql, txn, member_id, document)

    monkeypatch.setattr(settlement, "_settle_one", settle_one)


def test_a_batch_that_loses_a_race_settles_one_by_one(member, monkeypatch):
    failing_once(monkeypatch, "T2", lost_race())
    got = settle_many(member, [("T1", "P001", V1), ("T2", "P001", V2)])
    assert [a["txn_id"] for a in got] == ["T1", "T2"]
    # 300 - 125 (V1) - 75 (V2: deductible 50 the next day, the fund 50% of 50)
    assert balance(member, "P001") == "100.00"
    assert check.problems(member) == []


def test_a_request_of_a_lost_batch_may_lose_once_more(member, monkeypatch):
    """A batch of two loses a race; settled again alone, T2 loses once more (a third
    transaction won meanwhile) and is settled again: a request alone gets one more try."""
    failing_once(monkeypatch, "T2", lost_race(), times=2)
    got = settle_many(member, [("T1", "P001", V1), ("T2", "P001", V2)])
    assert [a["txn_id"] for a in got] == ["T1", "T2"]
    assert balance(member, "P001") == "100.00"


def test_cancel_and_reverse_lock_the_holder_with_the_user(family, monkeypatch):
    """A cancellation or reversal of a visit the holder's account paid for locks user and
    holder together, in id order, before it moves money (as the settlement batch does: the
    two never wait on each other in a cycle); another member's transaction locks nothing."""
    locked = []
    real = members.lock_all
    monkeypatch.setattr(
        members, "lock_all", lambda conn, ids: (locked.append(ids), real(conn, ids))
    )
    settle(family, "T1", "U", AID_VISIT)
    settle(family, "T2", "U", {**AID_VISIT, "id": "V2", "time": "2023-03-02T09:00:00"})
    cancel(family, "T1")
    assert locked == [{"U", "H"}]
    assert refusal(reverse, family, "T2", "H")[2] == "E_NOT_FOUND"  # not H's: nothing locked
    assert locked == [{"U", "H"}]
    reverse(family, "T2", "U")
    assert locked == [{"U", "H"}, {"U", "H"}]


def test_a_batch_that_fails_otherwise_writes_nothing(member, monkeypatch):
    failing_once(monkeypatch, "T2", RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        settle_many(member, [("T1", "P001", V1), ("T2", "P001", V2)])
    with member.connect() as conn:
        assert conn.execute(select(func.count()).select_from(settlements)).scalar() == 0
    assert balance(member, "P001") == "300.00"


def test_a_lost_race_with_no_winner_is_raised(member, monkeypatch):
    failing_once(monkeypatch, "T1", lost_race(), times=2)
    with pytest.raises(sqlalchemy.exc.OperationalError):
        settle(member, "T1", "P001", V1)
    assert balance(member, "P001") == "300.00"


class OtherProcessWins:
    """A store on which another process settles `request` just after this one's batch lost
    the race to it (before the loser, settling again, looks at what won)."""

    def __init__(self, db, request):
        self.db, self.request, self.answer, self.begun = db, request, None, 0

    def begin(self):
        self.begun += 1
        if self.begun == 2:  # the loser's second try
            self.answer = settle(self.db, *self.request)
        return self.db.begin()


def test_a_lost_race_answers_with_what_won(member, monkeypatch):
    failing_once(monkeypatch, "T1", duplicate())
    store = OtherProcessWins(member, ("T1", "P001", V1))
    assert settle_many(store, [("T1", "P001", V1)]) == [store.answer]
    assert store.answer["fund_pay"] == "75.00" and balance(member, "P001") == "175.00"


def test_a_lost_race_to_another_request_is_a_conflict(member, monkeypatch):
    failing_once(monkeypatch, "T1", lost_race())
    store = OtherProcessWins(member, ("T1", "P001", V1))
    (got,) = settle_many(store, [("T1", "P001", V2)])
    assert (got.field, got.reason, got.code) == (
        "txn_id",
        "T1 was used for a different request",
        "E_TXN_CONFLICT",
    )


# -- the service's asyncio batch (PostgreSQL) ---------------------------------------------


def settle_async(db, requests: list) -> list:
    if db.dialect.name != "postgresql":
        pytest.skip("asyncio batches are PostgreSQL's (SQLite's run in a thread)")
    url = db.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def run() -> list:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            return await settlement.settle_many_async(conn, requests)

    return asyncio.run(run())


def test_an_asyncio_batch_that_loses_a_race_settles_one_by_one(member, monkeypatch):
    """Settled again one by one, a request that loses once more is tried once more alone."""
    failing_once(monkeypatch, "T2", pg_errors.DeadlockDetected(), times=2)
    got = settle_async(member, [("T1", "P001", V1), ("T2", "P001", V2)])
    assert [a["txn_id"] for a in got] == ["T1", "T2"]
    assert balance(member, "P001") == "100.00"


def test_an_asyncio_request_that_keeps_losing_is_raised(member, monkeypatch):
    failing_once(monkeypatch, "T2", pg_errors.DeadlockDetected(), times=3)
    with pytest.raises(pg_errors.DeadlockDetected):
        settle_async(member, [("T1", "P001", V1), ("T2", "P001", V2)])


def test_an_asyncio_batch_that_fails_otherwise_writes_nothing(member, monkeypatch):
    failing_once(monkeypatch, "T2", RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        settle_async(member, [("T1", "P001", V1), ("T2", "P001", V2)])
    assert balance(member, "P001") == "300.00"
