"""What a settlement writes besides its answer, and the last of its refusals to the word: the
journal entry's legs, the settlement row's institution, the request's digest (canonical JSON,
whatever the key order), the member record db check replays with, a line-item visit; a
closed member, a reused transaction id, a visit out of order, a visit that is not JSON. On
SQLite and PostgreSQL."""

import hashlib
from datetime import date

import orjson
import pytest
from sqlalchemy import select

from gongji.errors import InputError
from gongji.ledger import check, members
from gongji.ledger.accounts import close_account
from gongji.ledger.journal import legs_of
from gongji.ledger.schema import settlements
from gongji.ledger.settlement import settle

MEMBER = {"id": "P001", "type": "employee", "account_balance": "300.00"}
# KF-9a/9d: deductible 50, the fund 50% of 150 = 75, the account 125, cash 50 out of scope
V1 = {
    "id": "V1",
    "time": "2023-03-01T10:00:00",
    "institution": "H001",
    "level": "level3",
    "total": "250.00",
    "in_scope": "200.00",
}


@pytest.fixture
def member(db):
    members.add_member(db, "kaifeng", MEMBER)
    return db


def refusal(*args) -> tuple[str, str, str]:
    with pytest.raises(InputError) as err:
        settle(*args)
    return err.value.field, err.value.reason, err.value.code


def row(db, txn_id: str):
    with db.connect() as conn:
        return conn.execute(select(settlements).where(settlements.c.txn_id == txn_id)).one()


def test_the_entry_and_the_row_a_settlement_writes(member):
    settle(member, "T1", "P001", V1)
    s = row(member, "T1")
    assert s.institution == "H001"
    with member.connect() as conn:
        assert sorted(legs_of(conn, s.entry_id)) == sorted(
            [
                ("institution:H001", 25_000),
                ("fund:kaifeng", -7_500),
                ("account:P001", -12_500),
                ("cash:P001", -5_000),
            ]
        )


def test_the_digest_is_of_the_canonical_request(member):
    """The digest is kept with the settlement: a retry, even after an upgrade, is known by it.
    Canonical: keys sorted at every level, compact."""
    settle(member, "T1", "P001", V1)
    text = orjson.dumps({"member_id": "P001", "visit": V1}, option=orjson.OPT_SORT_KEYS)
    assert row(member, "T1").payload_hash == hashlib.sha256(text).hexdigest()
    shuffled = dict(reversed(list(V1.items())))
    assert settle(member, "T1", "P001", shuffled)["txn_id"] == "T1"  # a retry, not a conflict


def test_db_check_replays_with_the_record_settled_with(member):
    """Retired (processed) after the visit was settled: the check
    replays the visit with the member record it was settled with, not today's."""
    settle(member, "T1", "P001", V1)
    members.retire(member, "P001", date(2023, 2, 1))
    assert check.problems(member) == []


def test_a_line_item_visit_is_priced_from_the_catalogue(member):
    """The shipped sample catalogue: a consultation (class A) 20.00 and an out-of-catalogue
    item 88.00; deductible 50 at level 3 leaves nothing for the fund."""
    items = [
        {"code": "001101000010000", "quantity": 1, "unit_price": "20.00"},
        {"code": "X0000000000000000000008", "quantity": 1, "unit_price": "88.00"},
    ]
    doc = {k: v for k, v in V1.items() if k not in ("total", "in_scope")}
    got = settle(member, "T1", "P001", {**doc, "items": items})
    assert (got["total"], got["in_scope"], got["out_of_scope"]) == ("108.00", "20.00", "88.00")


def test_a_closed_member_is_refused(member):
    close_account(member, "P001", "death", date(2023, 2, 1))
    assert refusal(member, "T1", "P001", V1) == (
        "member_id",
        "member P001 is closed",
        "E_MEMBER_CLOSED",
    )


def test_a_reused_transaction_id_and_a_visit_out_of_order(member):
    settle(member, "T1", "P001", V1)
    assert refusal(member, "T1", "P001", {**V1, "total": "251.00"}) == (
        "txn_id",
        "T1 was used for a different request",
        "E_TXN_CONFLICT",
    )
    # a visit dated before the member's last settlement is a late claim (issue 16)
    earlier = {**V1, "id": "V0", "time": "2023-02-28T10:00:00"}
    assert settle(member, "T2", "P001", earlier)["late"] is True


def test_a_visit_that_is_not_json_is_refused(member):
    assert refusal(member, "T1", "P001", {**V1, "tags": {"a"}}) == (
        "visit",
        "Type is not JSON serializable: set",
        "E_INPUT",
    )
