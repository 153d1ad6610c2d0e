"""Each policy version is in force from the first second of its first day to the last second of
its last day, in every region: a visit then settles under it; a visit the second before the
first version or after the last one is refused (E_NO_POLICY), never settled under a neighbour.
"""

from datetime import date, datetime, time, timedelta

import pytest

from gongji import engine, policy
from gongji.engine import layout as L
from gongji.terms import Category, Level, MemberType

REGIONS = policy.known_regions()


def visit_at(when: datetime) -> engine.Visit:
    return engine.Visit(
        time=when,
        institution="C1",
        level=Level.level1,
        total=10_000,
        in_scope=10_000,
        category=Category.general,
    )


def version_at(region: str, when: datetime) -> str:
    pack = policy.load_region(region)
    member = engine.Member(type=MemberType.employee, has_account=False)
    (result,), _ = engine.settle_all(pack, member, engine.YearState.new(0), [visit_at(when)])
    return result.version_id


def first_second(day: date) -> datetime:
    return datetime.combine(day, time.min)


def last_second(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59))


def edges(region: str):
    """(moment, the version id in force then, or None where no version is)."""
    pack = policy.load_region(region)
    ids = [pack.version_id(v) for v in pack.versions]
    first = pack.versions[0].valid_from
    yield last_second(first - timedelta(days=1)), None
    for i, version in enumerate(pack.versions):
        yield first_second(version.valid_from), ids[i]
        end = version.valid_to or (
            pack.versions[i + 1].valid_from - timedelta(days=1)
            if i + 1 < len(pack.versions)
            else None
        )
        if end is None:
            continue
        yield last_second(end), ids[i]
        if i + 1 == len(pack.versions):
            yield first_second(end + timedelta(days=1)), None


CASES = [(region, when, expected) for region in REGIONS for when, expected in edges(region)]


@pytest.mark.parametrize(
    ("region", "when", "expected"), CASES, ids=[f"{r}-{w:%Y%m%dT%H%M%S}" for r, w, _ in CASES]
)
def test_a_version_holds_from_its_first_second_to_its_last(region, when, expected):
    if expected is not None:
        assert version_at(region, when) == expected
        return
    with pytest.raises(engine.EngineError) as refused:
        version_at(region, when)
    assert refused.value.code == L.STATUS_CODES[L.NO_POLICY]


def test_every_region_has_a_boundary_on_both_sides():
    # the edges above are not vacuous: each region has a refused moment before its first version
    refused = {r for r, _, expected in CASES if expected is None}
    assert refused == set(REGIONS)
