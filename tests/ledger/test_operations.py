"""Settle, retry, conflict, cancel, bad input, and db check — on SQLite and PostgreSQL."""

import asyncio
import importlib
import threading
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import func, select

from gongji import engine
from gongji.calculate import calculate
from gongji.engine import layout as L
from gongji.errors import InputError
from gongji.ledger import check
from gongji.ledger.members import add_member
from gongji.ledger.schema import members, settlements
from gongji.ledger.settlement import (
    _prefetched,
    _settle_one,
    cancel,
    settle,
    settle_many,
    settle_many_async,
)

MEMBER = {"id": "P001", "type": "employee", "account_balance": "300.00"}


def visit(vid: str, time: str, total: str, **more) -> dict:
    return {
        "id": vid,
        "time": time,
        "institution": "H001",
        "level": "level3",
        "total": total,
        **more,
    }


V1 = visit("V1", "2023-03-01T10:00:00", "250.00", in_scope="200.00")
V2 = visit("V2", "2023-03-01T15:00:00", "100.00")


def snapshot(db) -> tuple:
    with db.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(settlements)).scalar(),
            conn.execute(select(members.c.state)).scalar(),
            conn.execute(select(members.c.account_balance, members.c.last_visit)).all(),
        )


@pytest.fixture
def member(db):
    add_member(db, "kaifeng", MEMBER)
    return db


def test_settle_matches_the_trial_calculation_and_checks_clean(member):
    first = settle(member, "T1", "P001", V1)
    second = settle(member, "T2", "P001", V2)
    trial = calculate({"region": "kaifeng", "member": MEMBER, "visits": [V1, V2]})
    for got, want in zip((first, second), trial["visits"], strict=True):
        for key in ("deductible", "fund_pay", "account_pay", "cash_pay", "account_balance"):
            assert Decimal(got[key]) == want[key], key
    assert check.problems(member) == []


def test_retry_returns_the_first_result_and_pays_once(member):
    first = settle(member, "T1", "P001", V1)
    before = snapshot(member)
    assert settle(member, "T1", "P001", V1) == first
    assert snapshot(member) == before


def test_same_txn_with_another_payload_is_refused_and_changes_nothing(member):
    settle(member, "T1", "P001", V1)
    before = snapshot(member)
    with pytest.raises(InputError) as err:
        settle(member, "T1", "P001", V2)
    assert err.value.code == "E_TXN_CONFLICT"
    assert snapshot(member) == before


def test_cancel_in_any_order_gives_back_exactly_what_was_consumed(member):
    """Issue 16, defect 4 (before: "cancel the later settlement T2 first"). V1 paid the
    day's deductible 50 and 75 from the fund (50% of 150), 125 from the account; V2, at the
    same institution that day, no deductible and 50 from the fund, 50 from the account."""
    settle(member, "T1", "P001", V1)
    second = settle(member, "T2", "P001", V2)
    out = cancel(member, "T1")  # the earlier one, with T2 settled after it
    assert out["returned"]["fund_pay"] == "75.00" and out["returned"]["account_pay"] == "125.00"
    assert out["returned"]["counted"] == {
        "general": {"annual": "75.00", "monthly": "75.00", "deductible_met": "0.00"}
    }  # fmt: skip
    assert out["returned"]["reading"] == (
        "a cancellation gives back exactly what its settlement consumed; settlements made"
        " after it stand as they were paid"
    )
    state = engine.YearState(tuple(snapshot(member)[1]))
    assert state.pool("general").annual == 5000 and state.pool("general").monthly == 5000
    assert state.account_balance == 300_00 - 50_00  # T2's 50 stays paid
    assert state.open_windows == ()  # the window V1 opened is given back with it
    assert settle(member, "T2", "P001", V2) == second  # T2 stands as paid
    assert check.problems(member) == []
    cancel(member, "T2")
    state = engine.YearState(tuple(snapshot(member)[1]))
    assert [state.pool(p).annual for p in L.POOL_NAMES] == [0] * L.N_POOLS
    assert snapshot(member)[2] == [(300_00, None)]  # balance, and no active settlement
    assert cancel(member, "T2") == {"txn_id": "T2", "cancelled": True}
    assert check.problems(member) == []
    # the visit settles again, alone now: the day's deductible 50; 50% x 50 = 25
    again = settle(member, "T3", "P001", V2)
    assert again["fund_pay"] == "25.00" and again["deductible"] == "50.00"


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (visit("V9", "2023-03-02T10:00:00", "100.00", in_scope="200.00"), "visit.in_scope"),
        (visit("V9", "2023-03-02T10:00:00", "-1"), "visit.total"),
        (
            {
                "id": "V9",
                "time": "2023-03-02T10:00:00",
                "institution": "H001",
                "level": "x",
                "total": "1",
            },
            "visit.level",
        ),
    ],
)
def test_bad_visit_names_the_field_and_writes_nothing(member, bad, field):
    settle(member, "T1", "P001", V1)
    before = snapshot(member)
    with pytest.raises(InputError) as err:
        settle(member, "T9", "P001", bad)
    assert err.value.field == field
    assert snapshot(member) == before


def test_unknown_member_and_duplicate_member(member):
    with pytest.raises(InputError) as err:
        settle(member, "T1", "NOBODY", V1)
    assert err.value.field == "member_id"
    with pytest.raises(InputError) as err:
        add_member(member, "kaifeng", MEMBER)
    assert err.value.code == "E_MEMBER_EXISTS"


def test_concurrent_settlements_for_one_member_never_spend_twice(member):
    # 12 threads, each a 100-yuan level-1 visit on its own day in March: 60% would be 60 each,
    # but the 150 monthly cap (KF-9b) and the 300 balance may be spent only once.
    errors: list[Exception] = []

    def one(i: int) -> None:
        try:
            settle(
                member,
                f"C{i}",
                "P001",
                {
                    "id": f"C{i}",
                    "time": "2023-03-10T09:00:00",
                    "institution": "C1",
                    "level": "level1",
                    "total": "100.00",
                },
            )
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with member.connect() as conn:
        results = [r.result for r in conn.execute(select(settlements.c.result))]
    assert sum(Decimal(r["fund_pay"]) for r in results) == Decimal("150.00")
    assert sum(Decimal(r["account_pay"]) for r in results) == Decimal("300.00")
    assert check.problems(member) == []


def test_check_finds_a_tampered_balance_and_a_tampered_state(member):
    from sqlalchemy import update

    settle(member, "T1", "P001", V1)
    with member.begin() as conn:
        conn.execute(update(members).values(account_balance=members.c.account_balance + 1))
    assert check.problems(member) == [
        "account:P001: kept 17501, legs sum to 17500",
        "member P001: state balance 17500 is not the account's",
    ]
    with member.begin() as conn:
        conn.execute(update(members).values(account_balance=members.c.account_balance - 1))
        state = conn.execute(select(members.c.state)).scalar()
        state[3] += 1  # a pool's annual use, off by a fen
        conn.execute(update(members).values(state=state))
    assert check.problems(member) == [
        "member P001: accumulators are not what its active settlements consumed"
    ]


def test_a_retry_read_from_yaml_equals_one_read_from_json(member):
    from gongji import documents

    yaml_visit = documents.parse(
        "id: V1\ntime: 2023-03-01T10:00:00\ninstitution: H001\nlevel: level3\n"
        "total: 250.00\nin_scope: 200.00\n",
        "visit.yaml",
    )
    first = settle(member, "T1", "P001", yaml_visit)
    assert settle(member, "T1", "P001", V1) == first


def test_check_finds_a_cap_exceeded(member):
    from sqlalchemy import update

    settle(member, "T1", "P001", V1)
    with member.begin() as conn:
        state = conn.execute(select(members.c.state)).scalar()
        state[3] = 150_001  # general pool: 1500.01 used, above KF-9b's highest cap (1500)
        conn.execute(update(members).values(state=state))
    assert check.problems(member)[0] == "member P001: general fund use 1500.01 above its cap"


def test_reverse_cancels_a_settlement_once_and_withdraws_one_not_yet_arrived(member):
    from gongji.ledger.settlement import reverse

    settle(member, "T1", "P001", V1)
    before = snapshot(member)
    settle(member, "T2", "P001", V2)
    assert reverse(member, "T2", "P001")["reversed"] is True
    assert reverse(member, "T2", "P001")["cancelled"] is True  # again: nothing more moves
    assert snapshot(member)[1:] == before[1:]
    # the answer to T3 was lost before it arrived: reversed first, then refused on arrival
    assert reverse(member, "T3", "P001") == {"txn_id": "T3", "reversed": True, "settled": False}
    with pytest.raises(InputError) as err:
        settle(member, "T3", "P001", V2)
    assert err.value.code == "E_TXN_REVERSED"
    assert check.problems(member) == []


def test_one_txn_id_racing_for_two_members_settles_once(member):
    """Two batches carry the same txn_id for different members, so no member lock orders
    them: the second's insert waits on the first's, then fails; it is settled again alone
    and told that the id was used for another request."""
    add_member(member, "kaifeng", {**MEMBER, "id": "P002"})
    outcome: list[object] = []
    with member.begin() as conn, _prefetched(conn, [("T1", "P001", V1)]) as sql:
        _settle_one(sql, "T1", "P001", V1)
        sql.flush()  # written, not committed: the racing insert must wait for this commit
        racer = threading.Thread(
            target=lambda: outcome.append(settle_many(member, [("T1", "P002", V1)])[0])
        )
        racer.start()
        racer.join(timeout=1 if member.dialect.name == "postgresql" else 0)
        sql.commit()
    racer.join()
    (answer,) = outcome
    assert isinstance(answer, InputError) and answer.code == "E_TXN_CONFLICT"
    assert snapshot(member)[0] == 1 and check.problems(member) == []


def test_one_txn_id_racing_in_an_asyncio_batch_settles_once(member):
    """As above, the racer being the service's asyncio batch (PostgreSQL)."""
    if member.dialect.name != "postgresql":
        pytest.skip("asyncio batches are PostgreSQL's (SQLite's run in a thread)")
    add_member(member, "kaifeng", {**MEMBER, "id": "P002"})
    url = member.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def race() -> object:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            return await settle_many_async(conn, [("T1", "P002", V1), ("T2", "P002", V2)])

    outcome: list[object] = []
    with member.begin() as conn, _prefetched(conn, [("T1", "P001", V1)]) as sql:
        _settle_one(sql, "T1", "P001", V1)
        sql.flush()
        racer = threading.Thread(target=lambda: outcome.append(asyncio.run(race())))
        racer.start()
        racer.join(timeout=1)
        sql.commit()
    racer.join()
    (conflict, second) = outcome[0]
    assert isinstance(conflict, InputError) and conflict.code == "E_TXN_CONFLICT"
    assert second["txn_id"] == "T2"  # the rest of the batch, settled one by one
    assert snapshot(member)[0] == 2 and check.problems(member) == []


def test_the_ledger_refuses_fund_pay_not_counted_against_the_caps(monkeypatch, db):
    """The ledger checks invariant 5 before it records a settlement: nothing is written."""
    add_member(db, "kaifeng", {"id": "P1", "type": "employee"})
    kernel_module = importlib.import_module("gongji.engine.settle")
    real = kernel_module.settle_visit

    def kernel(P, S, *args):
        out = real(P, S, *args)
        S[L.S_POOL + L.PU_ANNUAL] -= 1  # a fen of fund pay not counted against the year's cap
        return out

    monkeypatch.setattr(kernel_module, "settle_visit", kernel)
    visit = {"id": "V1", "time": "2023-03-01T09:00:00", "institution": "H1", "total": "500.00"}
    with pytest.raises(engine.InvariantError, match="pools"):
        settle(db, "T1", "P1", visit)
    monkeypatch.setattr(kernel_module, "settle_visit", real)
    assert settle(db, "T1", "P1", visit)["txn_id"] == "T1"  # nothing of the refused one kept
