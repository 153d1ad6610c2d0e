"""facts.local_seconds, computed from the calendar fields, against its definition: the
seconds of the timedelta from 1970-01-01 00:00, truncated (towards 1970), a time zone
ignored."""

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from gongji.engine.facts import EPOCH, local_seconds, local_time

from ..conftest import examples


def by_definition(t: datetime) -> int:
    return int((t.replace(tzinfo=None) - EPOCH).total_seconds())


@settings(max_examples=examples(1000))
@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2199, 12, 31, 23, 59, 59)),
    st.sampled_from([None, UTC, timezone(timedelta(hours=8))]),
)
def test_local_seconds_is_its_definition(t, zone):
    assert local_seconds(t.replace(tzinfo=zone)) == by_definition(t.replace(tzinfo=zone))


def test_local_seconds_edges():
    cases = {
        datetime(1970, 1, 1): 0,
        datetime(2023, 3, 1, 8, 0, 0, 999_999): 1677657600,
        datetime(1969, 12, 31, 23, 59, 59, 500_000): 0,  # -0.5 s, truncated towards 1970
        datetime(1969, 12, 31, 23, 59, 59): -1,
    }
    assert {t: local_seconds(t) for t in cases} == cases
    assert local_time(local_seconds(datetime(2023, 12, 31, 23, 59, 59))) == datetime(
        2023, 12, 31, 23, 59, 59
    )
