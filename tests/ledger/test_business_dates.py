"""Issue 16, defect 8: the business date an operation is given is what reports date it by
(before, `account premium --on 2023-03-20` and `account close --on 2023-05-02` landed in
the month they were recorded); the time it was recorded is kept beside it."""

from datetime import date

from gongji.ledger import accounts, check, views
from gongji.ledger.members import add_member
from gongji.supervision import fund


def test_premium_and_closing_are_reported_in_their_own_months(db):
    add_member(db, "kaifeng", {"id": "B1", "type": "employee", "account_balance": "500.00"})
    accounts.pay_premium(
        db, "OP1", "B1", 12_000, "family_resident_premium", date(2023, 3, 20), "parent"
    )
    accounts.close_account(db, "B1", "transfer", date(2023, 5, 2))
    months = {
        m["month"]: m["accounts"] for m in fund.fund_statistics(db, "kaifeng", 2023)["months"]
    }
    assert months["2023-03"]["premiums"] == 12_000
    assert months["2023-05"]["closed"] == 38_000
    moved = {m: a["premiums"] + a["closed"] for m, a in months.items()}
    assert sum(moved.values()) == 50_000  # nothing in any other month
    journal = views.account_show(db, "B1")["journal"]
    assert [(line["kind"], line.get("on")) for line in journal] == [
        ("opening", None),
        ("premium", "2023-03-20"),
        ("close", "2023-05-02"),
    ]
    assert all(line["at"].startswith(str(date.today().year)) for line in journal)
    assert check.problems(db) == []
