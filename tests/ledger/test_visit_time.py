"""Issue 16, defect 6: a visit dated after now (beyond the clock difference allowed) is
refused with its own code and changes nothing; before, a visit in year 9999 was settled and
then locked every real visit of the member out as "earlier than the last settlement"."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from gongji.errors import InputError
from gongji.ledger import check, settlement
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


def test_the_last_second_allowed_and_the_next(db, monkeypatch):
    """With the server's clock at 10:00:00 China Standard Time, a visit at 10:05:00 (the 300 s
    of clock difference allowed) settles; one at 10:05:01 is refused, saying why."""

    class TenOClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2023, 3, 1, 10, 0, tzinfo=tz)

    monkeypatch.setattr(settlement, "datetime", TenOClock)
    monkeypatch.setattr(settlement, "CLOCK_SKEW", timedelta(seconds=300))
    add_member(db, "kaifeng", {"id": "F3", "type": "employee"})
    assert settle(db, "T1", "F3", visit("V1", datetime(2023, 3, 1, 10, 5)))["fund_pay"] == "60.00"
    with pytest.raises(InputError) as refused:
        settle(db, "T2", "F3", visit("V2", datetime(2023, 3, 1, 10, 5, 1)))
    assert refused.value.reason == (
        "2023-03-01T10:05:01 is later than now (2023-03-01T10:00:00 China Standard Time,"
        " 300 s of clock difference allowed)"
    )
