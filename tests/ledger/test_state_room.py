"""Issue 19: a member's year state that grew past a new state's room (more institutions with
an open deductible window, or more negotiated drugs with a yearly deductible, than
layout.WINDOWS / layout.ITEMS) is stored in members.state and read back whole, on both
stores: the next visit finds its window or drug, a cancellation gives back what its
settlement consumed, and `gongji db check` finds the accumulators the sum of the uses.

Kaifeng, employee, level 3: 50 deductible once a day per institution (KF-9a), then 50%, up
to KF-9b's 150 a month.
Xishuangbanna: one deductible per negotiated drug per year (XSBN-16), no limit to the drugs.
"""

from datetime import datetime, timedelta

from sqlalchemy import select

from gongji import engine, policy
from gongji.engine import layout as L
from gongji.engine.facts import institution_key
from gongji.engine.state import kept
from gongji.ledger import check, registry
from gongji.ledger.members import add_member
from gongji.ledger.schema import members
from gongji.ledger.settlement import cancel, settle
from gongji.terms import Level, MemberType


def stored(db, member_id: str) -> engine.YearState:
    with db.connect() as conn:
        row = conn.execute(select(members.c.state).where(members.c.id == member_id))
        return engine.YearState(tuple(row.scalar()))


def register(db, region: str, codes: list[str]) -> None:
    with db.begin() as conn:
        for code in codes:
            registry.add_institution(
                conn, {"code": code, "name": f"医院 {code}", "region": region, "level": "level3"}
            )


def test_twelve_open_windows_round_trip_through_the_ledger(db):
    register(db, "kaifeng", [f"R{i}" for i in range(12)])
    add_member(db, "kaifeng", {"id": "W1", "type": "employee"})
    t = datetime(2023, 3, 1, 8)
    fund = []
    for i in range(12):
        when = (t + timedelta(minutes=i)).isoformat()
        doc = {"id": f"V{i}", "time": when, "institution": f"R{i}", "total": "100.00"}
        answer = settle(db, f"T{i}", "W1", doc)
        assert answer["deductible"] == "50.00"
        fund.append(answer["fund_pay"])
    state = stored(db, "W1")
    assert kept(state.slots) == 2 * L.WINDOWS
    assert sorted(w.institution_key for w in state.open_windows) == sorted(
        institution_key(f"R{i}") for i in range(12)
    )
    # the engine alone, from a new state, ends where the stored state is
    member = engine.Member(type=MemberType.employee, has_account=True)
    visits = [
        engine.Visit(t + timedelta(minutes=i), f"R{i}", Level.level3, 100_00, 100_00)
        for i in range(12)
    ]
    results, alone = engine.settle_all(
        policy.load_region("kaifeng"), member, engine.YearState.new(), visits
    )
    assert stored(db, "W1").slots == alone.slots
    assert fund == [f"{r.fund_pay / 100:.2f}" for r in results]
    assert fund[:6] == ["25.00"] * 6 and fund[6:] == ["0.00"] * 6  # KF-9b: 150 a month
    # the windows read back are found: R10's window (past the first eight) is open
    again = settle(db, "T12", "W1", {"id": "V12", "time": "2023-03-01T15:00:00",
                                     "institution": "R10", "total": "100.00"})  # fmt: skip
    assert again["deductible"] == "0.00"
    cancel(db, "T11")  # R11's window closes: a visit there charges its deductible again
    assert len(stored(db, "W1").open_windows) == 11
    back = settle(db, "T13", "W1", {"id": "V13", "time": "2023-03-01T16:00:00",
                                    "institution": "R11", "total": "100.00"})  # fmt: skip
    assert back["deductible"] == "50.00"
    assert check.problems(db) == []


def test_ten_negotiated_drugs_round_trip_through_the_ledger(db):
    register(db, "xishuangbanna", ["X3"])
    add_member(db, "xishuangbanna", {"id": "D1", "type": "employee"})
    first = None
    for i in range(10):
        doc = {"id": f"V{i}", "time": f"2023-03-{i + 1:02d}T09:00:00", "institution": "X3",
               "total": "1000.00", "category": "negotiated_drug", "drug": f"D{i}"}  # fmt: skip
        answer = settle(db, f"T{i}", "D1", doc)
        first = first or answer
        assert (answer["deductible"], answer["fund_pay"]) == (
            first["deductible"],
            first["fund_pay"],
        )
    assert first["deductible"] != "0.00"
    state = stored(db, "D1")
    assert kept(state.slots) == 2 * L.ITEMS
    # D9's yearly deductible (the tenth drug's, past the first eight) is found again
    doc = {"id": "V10", "time": "2023-04-01T09:00:00", "institution": "X3",
           "total": "1000.00", "category": "negotiated_drug", "drug": "D9"}  # fmt: skip
    assert settle(db, "T10", "D1", doc)["deductible"] == "0.00"
    cancel(db, "T9")  # D9's first purchase given back: its deductible is charged again
    doc = {**doc, "id": "V11", "time": "2023-04-02T09:00:00"}
    assert settle(db, "T11", "D1", doc)["deductible"] == first["deductible"]
    assert check.problems(db) == []
