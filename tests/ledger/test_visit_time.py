"""Issue 16, defect 6: a visit dated after now (beyond the clock difference allowed) is
refused with its own code and changes nothing; before, a visit in year 9999 was settled and
then locked every real visit of the member out as "earlier than the last settlement"."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from gongji.errors import InputError
from gongji.ledger import check
from gongji.ledger.members import add_member
from gongji.ledger.schema import settlements
from gongji.ledger.settlement import CLOCK_SKEW, settle


def china_now() -> datetime:
    return datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, microsecond=0)


def visit(vid: str, when: datetime) -> dict:
    return {
        "id": vid,
        "time": when.isoformat(),
        "institution": "C1",
        "level": "level1",
        "total": "100.00",
    }


@pytest.mark.parametrize("ahead", [timedelta(days=1), timedelta(days=365 * 7000)])
def test_a_visit_in_the_future_is_refused_and_changes_nothing(db, ahead):
    add_member(db, "kaifeng", {"id": "F1", "type": "employee"})
    when = min(china_now() + ahead, datetime(9999, 12, 31, 23, 59))
    with pytest.raises(InputError) as refused:
        settle(db, "T9", "F1", visit("V9", when))
    assert (refused.value.code, refused.value.field) == ("E_VISIT_FUTURE", "visit.time")
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(settlements)).scalar() == 0
    # the member is not locked out: a visit an hour ago settles (60% x 100 at level 1)
    assert (
        settle(db, "T1", "F1", visit("V1", china_now() - timedelta(hours=1)))["fund_pay"] == "60.00"
    )
    assert check.problems(db) == []


def test_a_clock_a_little_ahead_is_allowed(db):
    add_member(db, "kaifeng", {"id": "F2", "type": "employee"})
    ahead = china_now() + CLOCK_SKEW - timedelta(seconds=30)
    assert settle(db, "T1", "F2", visit("V1", ahead))["fund_pay"] == "60.00"
