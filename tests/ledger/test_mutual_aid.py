"""XSBN-24 account mutual aid: the user's own account first, then the holder's; a user
without an account draws on the holder's directly. On SQLite and PostgreSQL."""

import asyncio
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from gongji.errors import InputError
from gongji.ledger import check, members, registry, views
from gongji.ledger.accounts import close_account
from gongji.ledger.settlement import cancel, settle, settle_many, settle_many_async

# XSBN-9/10 at level 1: deductible 30, employee 60%. A 100-yuan visit: the fund pays
# (100 - 30) x 60% = 42, the member's in-scope share is 58.
VISIT = {"id": "V1", "time": "2023-03-01T09:00:00", "institution": "X1", "total": "100.00"}


@pytest.fixture
def family(db):
    with db.begin() as conn:
        registry.add_institution(
            conn,
            {
                "code": "X1",
                "name": "景洪市社区卫生服务中心",
                "region": "xishuangbanna",
                "level": "level1",
            },
        )
    add_family(db)
    return db


def add_family(db, suffix: str = "") -> None:
    """The holder H, a user U with a small account, a user F without one (ids + suffix)."""
    for member_id, mtype, balance in (
        ("H", "employee", "100.00"),
        ("U", "employee", "10.00"),
        ("F", "flexible", "0"),  # XSBN-18: a flexible worker has no account
    ):
        members.add_member(
            db,
            "xishuangbanna",
            {"id": member_id + suffix, "type": mtype, "account_balance": balance},
        )
    with db.begin() as conn:
        for user, rel, start in (("U", "child", "2023-02-01"), ("F", "spouse", "2023-01-10")):
            registry.bind_family(
                conn,
                {
                    "holder": "H" + suffix,
                    "user": user + suffix,
                    "relationship": rel,
                    "from": start,
                    "to": "2023-12-31",
                },
            )


def money(db, member_id: str) -> Decimal:
    return views.account_show(db, member_id)["account_balance"]


def test_the_users_account_first_then_the_holders(family):
    got = settle(family, "T1", "U", VISIT)
    assert (got["fund_pay"], got["account_pay"], got["mutual_aid_pay"], got["cash_pay"]) == (
        "42.00",
        "10.00",
        "48.00",
        "0.00",
    )
    assert got["holder"] == "H" and got["trace"][-1]["rule"] == "XSBN-24"
    assert (money(family, "U"), money(family, "H")) == (Decimal("0.00"), Decimal("52.00"))
    assert check.problems(family) == []


def test_a_user_without_an_account_draws_on_the_holders_directly(family):
    got = settle(family, "T1", "F", VISIT)
    assert (got["account_pay"], got["mutual_aid_pay"], got["cash_pay"]) == ("0.00", "58.00", "0.00")
    # the holder's balance runs out: the rest is cash
    again = settle(family, "T2", "F", {**VISIT, "id": "V2", "time": "2023-03-02T09:00:00"})
    assert (again["mutual_aid_pay"], again["cash_pay"]) == ("42.00", "16.00")
    assert money(family, "H") == Decimal("0.00")
    assert check.problems(family) == []


def test_cancel_gives_the_holder_back_what_it_paid(family):
    settle(family, "T1", "U", VISIT)
    settle(family, "T2", "H", {**VISIT, "id": "V2", "time": "2023-03-01T10:00:00"})
    assert money(family, "H") == Decimal("0.00")  # 52 left, the holder's own share 58
    cancel(family, "T1")
    assert (money(family, "U"), money(family, "H")) == (Decimal("10.00"), Decimal("48.00"))
    assert check.problems(family) == []


def test_no_aid_outside_the_binding_or_the_region(family):
    before = settle(family, "T1", "U", {**VISIT, "time": "2023-01-20T09:00:00"})  # unbound yet
    assert "mutual_aid_pay" not in before and before["cash_pay"] == "48.00"
    with family.begin() as conn, pytest.raises(InputError) as err:
        registry.bind_family(
            conn,
            {
                "holder": "U",
                "user": "F",
                "relationship": "spouse",
                "from": "2023-02-01",
                "to": "2023-03-01",
            },
        )
    assert "holder or a user" in err.value.reason


def test_kaifeng_has_no_mutual_aid(db):
    for member_id in ("A", "B"):
        members.add_member(db, "kaifeng", {"id": member_id, "type": "employee"})
    with db.begin() as conn, pytest.raises(InputError) as err:
        registry.bind_family(
            conn,
            {
                "holder": "A",
                "user": "B",
                "relationship": "parent",
                "from": date(2023, 1, 1),
                "to": date(2023, 12, 31),
            },
        )
    assert err.value.code == "E_NOT_IN_POLICY"


def family_requests(suffix: str) -> list:
    """One family's day: the holder twice before the users who draw on it, a refused
    request, a retry inside the batch."""

    def at(hour: int, total: str = "100.00") -> dict:
        # each family's own visits: a visit (institution and id) is paid once
        vid = f"V{hour}{suffix}"
        return {**VISIT, "id": vid, "time": f"2023-03-01T{hour:02d}:00:00", "total": total}

    return [
        ("T0" + suffix, "H" + suffix, at(7, "20.00")),  # below the deductible: 20 own
        ("T1" + suffix, "H" + suffix, at(8)),
        ("T2" + suffix, "U" + suffix, at(9)),
        ("T3" + suffix, "nobody", at(9)),
        ("T4" + suffix, "F" + suffix, at(10)),
        ("T2" + suffix, "U" + suffix, at(9)),  # a retry: the first answer
        ("T5" + suffix, "U" + suffix, at(11)),
    ]


def comparable(answer) -> object:
    if isinstance(answer, InputError):
        return answer.code, answer.field
    return {k: v for k, v in answer.items() if k not in ("txn_id", "holder", "visit_id")}


def test_a_batch_settles_as_the_same_requests_one_by_one(family):
    """Group commit (`settle_many`): one family's requests settled as one batch give the
    answers and balances that settling each request alone gives a twin family."""
    batch = settle_many(family, family_requests(""))
    add_family(family, "2")
    alone = []
    for txn_id, member_id, visit in family_requests("2"):
        try:
            alone.append(settle(family, txn_id, member_id, visit))
        except InputError as exc:
            alone.append(exc)
    assert [comparable(a) for a in batch] == [comparable(a) for a in alone]
    assert batch[5] == batch[2] and batch[2]["mutual_aid_pay"] == "22.00"
    for member_id in "HUF":
        assert money(family, member_id) == money(family, member_id + "2")
    assert money(family, "H") == Decimal("0.00")
    assert check.problems(family) == []


def test_an_asyncio_batch_settles_as_a_batch(family):
    """`settle_many_async` (the service's, on PostgreSQL) gives what `settle_many` gives."""
    if family.dialect.name != "postgresql":
        pytest.skip("asyncio batches are PostgreSQL's (SQLite's run in a thread)")

    async def run() -> list:
        url = family.url.set(drivername="postgresql").render_as_string(hide_password=False)
        async with await psycopg.AsyncConnection.connect(url) as conn:
            return await settle_many_async(conn, family_requests(""))

    got = asyncio.run(run())
    add_family(family, "2")
    assert [comparable(a) for a in got] == [
        comparable(a) for a in settle_many(family, family_requests("2"))
    ]
    for member_id in "HUF":
        assert money(family, member_id) == money(family, member_id + "2")
    assert check.problems(family) == []


def test_a_closed_holder_pays_nothing_and_the_settlement_is_refused(family):
    close_account(family, "H", "death", date(2023, 2, 20))
    with pytest.raises(InputError) as err:
        settle(family, "T1", "U", VISIT)
    assert (err.value.code, err.value.field) == ("E_MEMBER_CLOSED", "holder")
    assert money(family, "U") == Decimal("10.00") and check.problems(family) == []
