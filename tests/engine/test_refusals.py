"""The visits the engine refuses, with the code and the words of each (EngineError), and the
date facts it reads periods and days with."""

from datetime import date, datetime, timedelta

import pytest

from gongji import engine, policy
from gongji.engine import layout as L
from gongji.engine.facts import Period, day_number, day_of
from gongji.engine.state import kept
from gongji.terms import Category, Level, MemberType

EMPLOYEE = engine.Member(type=MemberType.employee, has_account=True)


def tables(region: str, day: date):
    return engine.tables_on(policy.load_region(region), day)


def refused(call, *args) -> tuple[str, str]:
    with pytest.raises(engine.EngineError) as err:
        call(*args)
    return err.value.code, str(err.value)


def test_a_category_the_version_does_not_pay():
    kaifeng = tables("kaifeng", date(2023, 3, 1))
    v = engine.Visit(
        datetime(2023, 3, 1, 9), "H1", Level.level3, 10_000, 10_000, category=Category.chronic
    )
    assert refused(engine.settle, kaifeng, EMPLOYEE, engine.YearState.new(), v) == (
        "E_CATEGORY",
        "kaifeng@2023-01-01 has no chronic outpatient policy",
    )


def test_a_day_no_version_is_in_force_on():
    pack = policy.load_region("kaifeng")  # from 2022-07-01
    v = engine.Visit(datetime(2022, 6, 30, 23, 59), "H1", Level.level3, 10_000, 10_000)
    assert refused(engine.settle_all, pack, EMPLOYEE, engine.YearState.new(), [v]) == (
        "E_NO_POLICY",
        "no kaifeng policy in force on 2022-06-30",
    )
    # the next morning: the first version's
    results, _ = engine.settle_all(
        pack,
        EMPLOYEE,
        engine.YearState.new(),
        [engine.Visit(datetime(2022, 7, 1), "H1", Level.level3, 10_000, 10_000)],
    )
    assert results[0].version_id == "kaifeng@2022-07-01"


def test_more_open_deductible_windows_than_a_new_state_keeps_are_not_refused():
    """KF-9a: one deductible per institution per day, each kept open in the member's state.
    A new state keeps layout.WINDOWS of them; a ninth (to a twentieth) institution the same
    day is settled, not refused (issue 19), and the state grows to keep its window."""
    kaifeng = tables("kaifeng", date(2023, 3, 1))
    state = engine.YearState.new()
    t = datetime(2023, 3, 1, 8)
    for i in range(20):
        v = engine.Visit(t + timedelta(minutes=i), f"H{i}", Level.level3, 10_000, 10_000)
        result, state = engine.settle(kaifeng, EMPLOYEE, state, v)
        assert result.deductible == 5_000
    assert kept(state.slots) == 4 * L.WINDOWS and len(state.open_windows) == 20
    # every institution's window is still open that day: no second deductible at any
    for i in (0, L.WINDOWS, 19):
        v = engine.Visit(t + timedelta(hours=2), f"H{i}", Level.level3, 10_000, 10_000)
        assert engine.settle(kaifeng, EMPLOYEE, state, v)[0].deductible == 0
    # the next day every window has closed
    result, _ = engine.settle(
        kaifeng,
        EMPLOYEE,
        state,
        engine.Visit(datetime(2023, 3, 2, 8), "H8", Level.level3, 10_000, 10_000),
    )
    assert result.deductible == 5_000


def test_more_negotiated_drugs_than_a_new_state_keeps_are_not_refused():
    """XSBN-16: one deductible per negotiated drug per year, kept per drug in the member's
    state; XSBN-16 sets no limit to the drugs, and the ninth is settled like the first."""
    xsbn = tables("xishuangbanna", date(2023, 3, 1))
    state = engine.YearState.new()
    t = datetime(2023, 3, 1, 8)

    def drug(i: int, day: int) -> engine.Visit:
        return engine.Visit(
            t + timedelta(days=day),
            "X3",
            Level.level3,
            100_000,
            100_000,
            category=Category.negotiated_drug,
            drug=f"D{i}",
        )

    first, state = engine.settle(xsbn, EMPLOYEE, state, drug(0, 0))
    assert first.deductible > 0
    for i in range(1, 12):
        result, state = engine.settle(xsbn, EMPLOYEE, state, drug(i, i))
        assert (result.deductible, result.fund_pay) == (first.deductible, first.fund_pay)
    assert kept(state.slots) == 2 * L.ITEMS
    # a drug bought again that year: its deductible is met
    assert engine.settle(xsbn, EMPLOYEE, state, drug(10, 20))[0].deductible == 0


def test_period_covers_both_ends():
    p = Period(date(2023, 2, 1), date(2023, 2, 28))
    assert [p.covers(date(2023, 1, 31)), p.covers(date(2023, 2, 1))] == [False, True]
    assert [p.covers(date(2023, 2, 28)), p.covers(date(2023, 3, 1))] == [True, False]


@pytest.mark.parametrize("day", [date(1970, 1, 1), date(1969, 12, 31), date(2024, 2, 29)])
def test_day_of_inverts_day_number(day):
    assert day_of(day_number(day)) == day
    assert day_number(date(1970, 1, 2)) == 1 and day_of(1) == date(1970, 1, 2)


def test_settle_all_without_a_trace_keeps_no_records():
    pack = policy.load_region("kaifeng")
    v = engine.Visit(datetime(2023, 3, 1, 9), "H1", Level.level3, 10_000, 10_000)
    results, _ = engine.settle_all(pack, EMPLOYEE, engine.YearState.new(), [v], trace=False)
    assert results[0].trace == () and results[0].fund_pay == 2_500
    results, _ = engine.settle_all(pack, EMPLOYEE, engine.YearState.new(), [v])
    assert (
        len(results[0].trace) == 6 * L.TRACE_STRIDE
    )  # line, deductible, ratio, fund, account, cash


def test_emergency_reads_primary_as_level1_whatever_is_configured():
    """XSBN-15: 一级及以下按一级执行 — the inpatient deductible and ratio of level 1 at a
    primary institution. The shipped (configured) values happen to be equal at both levels,
    so the bureau's other values are tried here."""
    pack = policy.load_region("xishuangbanna")
    version = pack.versions[0]
    inpatient = version.inpatient.model_copy(
        update={
            "deductible": {**version.inpatient.deductible, Level.primary: 10_000},
            "employee": {**version.inpatient.employee, Level.primary: 9_900},
        }
    )
    other = pack.model_copy(
        update={"versions": [version.model_copy(update={"inpatient": inpatient})]}
    )
    tables = engine.tables_on(other, date(2023, 3, 1))
    v = engine.Visit(
        datetime(2023, 3, 1, 9), "X1", Level.primary, 100_000, 100_000, category=Category.emergency
    )
    result, _ = engine.settle(tables, EMPLOYEE, engine.YearState.new(), v)
    # level 1: deductible 200, 90% x 800 = 720 (not 100 and 99%)
    assert (result.deductible, result.fund_pay) == (20_000, 72_000)


def test_a_window_opened_at_the_epochs_first_second_is_open():
    """Local time 0 (1970-01-01 00:00:00) is a time like any other: -1 marks a free window
    slot, not 0. Kaifeng's tables (KF-9a) used directly, as the engine allows."""
    kaifeng = tables("kaifeng", date(2023, 3, 1))
    first = engine.Visit(datetime(1970, 1, 1), "H1", Level.level3, 10_000, 10_000)
    result, state = engine.settle(kaifeng, EMPLOYEE, engine.YearState.new(), first)
    assert result.deductible == 5_000
    again = engine.Visit(datetime(1970, 1, 1, 12), "H1", Level.level3, 10_000, 10_000)
    result, _ = engine.settle(kaifeng, EMPLOYEE, state, again)
    assert result.deductible == 0


def test_a_new_year_frees_every_negotiated_drugs_slot():
    """XSBN-16 with X-1: eight drugs in 2023, eight others in 2024 — each year's fit."""
    state = engine.YearState.new()
    for year, names in ((2023, "ABCDEFGH"), (2024, "IJKLMNOP")):
        xsbn = tables("xishuangbanna", date(year, 3, 1))
        for i, name in enumerate(names):
            v = engine.Visit(
                datetime(year, 3, 1 + i, 9),
                "X3",
                Level.level3,
                100_000,
                100_000,
                category=Category.negotiated_drug,
                drug=f"D{name}",
            )
            result, state = engine.settle(xsbn, EMPLOYEE, state, v)
            assert result.deductible == 80_000
