"""Issue 16, defect 1: a member's record keeps its money through every update (it was
written in fen and read in yuan: each import of stays, filings or arrears, and each
retirement, multiplied the contribution base and opening balance by 100). `db check` reports
a record that no longer reads back as imported; migration 0006 repairs stored records."""

from datetime import date

from sqlalchemy import insert, select, text, update

from gongji.ledger import check, imports, members, store
from gongji.ledger.schema import members as member_rows
from gongji.ledger.settlement import settle
from gongji.model import MemberIn
from tests.ledger.revisions import back_to

STAYS = "member,from,to\nR1,2023-05-01,2023-05-03\nR1,2023-06-01,2023-06-02\n"


def record(db, member_id: str) -> MemberIn:
    with db.connect() as conn:
        row = conn.execute(select(member_rows).where(member_rows.c.id == member_id)).one()
    return MemberIn.model_validate(row.profile)


def test_updates_keep_the_records_money(db, tmp_path):
    members.add_member(
        db,
        "kaifeng",
        {"id": "R1", "type": "employee", "contribution_base": "6000.00", "account_balance": "300"},
    )
    stays = tmp_path / "stays.csv"
    stays.write_text(STAYS, encoding="utf-8")
    assert imports.import_csv(db, "stays", stays) == 2
    members.retire(db, "R1", date(2023, 8, 10))
    kept = record(db, "R1")
    assert (kept.contribution_base, kept.account_balance) == (600_000, 30_000)
    assert len(kept.inpatient_stays) == 2 and kept.retirement_processed is not None
    answer = settle(
        db,
        "T1",
        "R1",
        {
            "id": "V1",
            "time": "2023-09-01T09:00:00",
            "institution": "C1",
            "level": "level1",
            "total": "100.00",
        },
    )
    assert answer["fund_pay"] == "70.00"  # retiree 70% at level 1
    assert check.problems(db) == []


def test_db_check_reports_a_record_that_does_not_read_back(db):
    members.add_member(db, "kaifeng", {"id": "R2", "type": "employee", "account_balance": "300"})
    with db.begin() as conn:
        profile = {"id": "R2", "type": "employee", "account_balance": "30000.00"}
        conn.execute(update(member_rows).where(member_rows.c.id == "R2").values(profile=profile))
    assert check.problems(db) == [
        "member R2: record's opening balance 30000.00 is not the account's 300.00"
    ]


def test_migration_repairs_records_written_in_fen(db):
    """Records as the old code left them: added (fen as integers) and updated k times (x100
    each). The repair reads k from the account's true opening balance or the registered
    contribution base."""
    back_to(db, "0005")
    damaged = {
        "A": ({"account_balance": 30_000, "contribution_base": 600_000}, 30_000),  # as added
        "B": ({"account_balance": 300_000_000, "contribution_base": 6_000_000_000}, 30_000),
        "C": ({"contribution_base": 60_000_000}, 0),  # no balance: the contribution base
    }
    with db.begin() as conn:
        for member_id, (money, opening) in damaged.items():
            conn.execute(
                insert(member_rows).values(
                    id=member_id,
                    region="kaifeng",
                    opening_balance=opening,
                    account_balance=opening,
                    profile={"id": member_id, "type": "employee", **money},
                    state=[0] * 3,
                )
            )
        conn.execute(
            text(
                "INSERT INTO contributions (member_id, month, base, paid_on)"
                " VALUES ('C', '2023-01-01', 600000, '2023-01-05')"
            )
        )
    store.upgrade(db)
    for member_id in damaged:
        kept = record(db, member_id)
        assert kept.contribution_base == 600_000, member_id
        assert (kept.account_balance or 0) == damaged[member_id][1], member_id
