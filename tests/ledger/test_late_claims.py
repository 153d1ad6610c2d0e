"""Issue 16, defect 5: a visit dated before the member's last settlement (an old invoice, a
pharmacy batch uploaded late, a remote visit cleared weeks later) is settled, no longer
refused: against the accumulators of its own year and month as they stand when it arrives
(processing order), under the policy version of its own date; its trace says it was late.
Settlements already made stand as they were paid.

Kaifeng, employee: level 1 has no deductible and pays 60%, with KF-9b's 150 a month; level 3
charges 50 once a day per institution (KF-9a) and pays 50%.
"""

from sqlalchemy import select, update

from gongji import engine
from gongji.ledger import check, year
from gongji.ledger.driver import from_json
from gongji.ledger.members import add_member
from gongji.ledger.schema import members, settlements, year_accumulators
from gongji.ledger.settlement import cancel, explain_answer, settle


def visit(vid: str, time: str, total: str, institution: str = "C1", **more) -> dict:
    return {"id": vid, "time": time, "institution": institution, "total": total, **more}


def state(db) -> engine.YearState:
    with db.connect() as conn:
        return engine.YearState(tuple(conn.execute(select(members.c.state)).scalar()))


def test_a_late_claim_meets_its_own_months_cap(db):
    add_member(db, "kaifeng", {"id": "L1", "type": "employee"})
    settle(db, "T1", "L1", visit("V1", "2023-03-20T09:00:00", "300.00"))  # 180 -> 150 (cap)
    settle(db, "T2", "L1", visit("V2", "2023-04-05T09:00:00", "100.00"))  # 60
    # 10 March, after April's settlement: March's 150 is used up
    march = settle(db, "T3", "L1", visit("V3", "2023-03-10T09:00:00", "100.00"))
    assert (march["fund_pay"], march["late"]) == ("0.00", True)
    assert explain_answer(march)[0] == {
        "rule": "X-1",
        "text": "补结算：就诊日期早于该参保人最近一次结算，按就诊当年、当月的累计额结算",
        "amount": "0.00",
    }
    assert explain_answer(march, "en")[0] == {
        "rule": "X-1",
        "text": "settled late: the visit is dated before the member's last settlement; it was"
        " settled against its own year's and month's accumulators as they stood when it"
        " arrived",
        "amount": "0.00",
    }
    # 10 February: a month with nothing used, 60% x 100 = 60
    february = settle(db, "T4", "L1", visit("V4", "2023-02-10T09:00:00", "100.00"))
    assert february["fund_pay"] == "60.00"
    now = state(db)
    assert now.pool("general").annual == 150_00 + 60_00 + 60_00
    assert now.pool("general").monthly == 60_00  # April's, untouched by the late claims
    # the member's next visit in April sees April's 60 used: 150 - 60 = 90 left
    assert settle(db, "T5", "L1", visit("V5", "2023-04-20T09:00:00", "300.00"))["fund_pay"] == (
        "90.00"
    )
    cancel(db, "T4")  # a late claim cancels as any settlement
    assert state(db).pool("general").annual == 150_00 + 60_00 + 90_00
    assert check.problems(db) == []


def test_a_late_claim_shares_the_window_opened_before_it_only(db):
    add_member(db, "kaifeng", {"id": "L2", "type": "employee"})
    settle(db, "T1", "L2", visit("V1", "2023-03-01T10:00:00", "150.00", "H001"))  # ded 50, 50
    settle(db, "T2", "L2", visit("V2", "2023-04-05T10:00:00", "100.00", "C1"))  # April
    # the afternoon of 1 March at H001: the day's deductible was met at 10:00
    afternoon = settle(db, "T3", "L2", visit("V3", "2023-03-01T15:00:00", "100.00", "H001"))
    assert (afternoon["deductible"], afternoon["fund_pay"]) == ("0.00", "50.00")
    # that morning at 08:00, before the 10:00 visit: no window covers it, its own deductible
    morning = settle(db, "T4", "L2", visit("V4", "2023-03-01T08:00:00", "100.00", "H001"))
    assert (morning["deductible"], morning["fund_pay"]) == ("50.00", "25.00")
    assert check.problems(db) == []


def test_a_late_claim_for_a_closed_year(db):
    add_member(db, "kaifeng", {"id": "L3", "type": "employee"})
    settle(db, "T1", "L3", visit("V1", "2023-12-05T09:00:00", "200.00"))  # 120
    year.rollover(db, 2024)
    settle(db, "T2", "L3", visit("V2", "2024-01-05T09:00:00", "100.00"))  # 60
    # 20 December 2023, cleared in January: December's 150 less the 120 used leaves 30
    late = settle(db, "T3", "L3", visit("V3", "2023-12-20T09:00:00", "100.00"))
    assert (late["fund_pay"], late["policy_version"]) == ("30.00", "kaifeng@2023-01-01")
    with db.connect() as conn:
        kept = conn.execute(select(year_accumulators.c.fund_paid)).scalars().all()
    assert kept == [120_00 + 30_00]  # 2023's kept accumulators grew by the late claim
    assert state(db).pool("general").annual == 60_00  # 2024 is untouched
    assert check.problems(db) == []


def test_after_cancelling_the_latest_an_earlier_month_keeps_its_use(db):
    """The member's state is in April after an April settlement is cancelled; a visit in
    March (after the last active one) must meet March's cap as used, not a fresh month."""
    add_member(db, "kaifeng", {"id": "L4", "type": "employee"})
    settle(db, "T1", "L4", visit("V1", "2023-03-10T09:00:00", "300.00"))  # 150: March's cap
    settle(db, "T2", "L4", visit("V2", "2023-04-05T09:00:00", "100.00"))
    cancel(db, "T2")
    march = settle(db, "T3", "L4", visit("V3", "2023-03-20T09:00:00", "100.00"))
    assert march["fund_pay"] == "0.00"
    assert check.problems(db) == []


def test_after_cancelling_the_only_settlement_an_earlier_month_settles(db):
    """Found by the model-based test: with no active settlement left, a visit in a month
    before the state's is settled late (no last settlement to compare with)."""
    add_member(db, "kaifeng", {"id": "L5", "type": "employee"})
    settle(db, "T1", "L5", visit("V1", "2023-04-06T09:00:00", "100.00"))
    cancel(db, "T1")
    assert settle(db, "T2", "L5", visit("V2", "2023-03-01T09:00:00", "100.00"))["late"] is True
    assert check.problems(db) == []


def test_two_visits_in_the_same_second_are_both_on_time(db):
    """A visit is late only if it is dated before the member's last settlement, not at the
    same second (two counters of one hospital)."""
    add_member(db, "kaifeng", {"id": "S1", "type": "employee"})
    settle(db, "T1", "S1", visit("V1", "2023-03-20T09:00:00", "10.00"))
    assert "late" not in settle(db, "T2", "S1", visit("V2", "2023-03-20T09:00:00", "10.00"))


def test_a_late_claim_in_the_year_it_is_in_counts_once_at_the_rollover(db):
    """A late claim of the current year is in the member's accumulators; only a claim for a
    closed year adds to that year's kept accumulators, so the rollover keeps each fen once."""
    add_member(db, "kaifeng", {"id": "Y1", "type": "employee"})
    settle(db, "T1", "Y1", visit("V1", "2023-04-05T09:00:00", "100.00"))  # 60
    settle(db, "T2", "Y1", visit("V2", "2023-03-10T09:00:00", "100.00"))  # late: 60
    assert check.problems(db) == []  # 2023 keeps no accumulators while it is open
    year.rollover(db, 2024)
    with db.connect() as conn:
        kept = conn.execute(
            select(year_accumulators.c.fund_paid).where(
                year_accumulators.c.year == 2023, year_accumulators.c.pool == "general"
            )
        ).scalar_one()
    assert kept == 120_00
    assert check.problems(db) == []


def test_settlements_stored_before_their_use_was_kept(db):
    """Settlements stored before migration 0009 keep no use, and before the member's record
    was stored with them, none either: a cancellation and a late claim read their use off a
    re-run with the member's record, and come out as for the others (the first test's
    figures: March's 150 used up, April's 60)."""
    add_member(db, "kaifeng", {"id": "O1", "type": "employee"})
    settle(db, "T1", "O1", visit("V1", "2023-03-20T09:00:00", "300.00"))
    settle(db, "T2", "O1", visit("V2", "2023-04-05T09:00:00", "100.00"))
    with db.begin() as conn:
        for row in conn.execute(select(settlements.c.id, settlements.c.request)).all():
            request = from_json(row.request)
            old = {k: v for k, v in request.items() if k != "record"}
            conn.execute(
                update(settlements)
                .where(settlements.c.id == row.id)
                .values(consumed=None, request=old)
            )
    march = settle(db, "T3", "O1", visit("V3", "2023-03-10T09:00:00", "100.00"))
    assert (march["fund_pay"], march["late"]) == ("0.00", True)
    cancel(db, "T1")  # gives back March's 150
    assert state(db).pool("general").annual == 60_00
    assert check.problems(db) == []


def test_a_late_claim_on_1_january_shares_the_window_of_31_december(db):
    """NY-5a (第五条: 24 小时内在同一医院多次就诊的只记一次起付标准; no year break, the pack's
    year_end reading): a late claim for 1 January 09:00 at the hospital a visit at 22:00 on
    31 December was charged the deductible at falls in that visit's window, though the window
    was opened in the year before; the year's cap is its own (X-1). Nanyang, level 3:
    deductible 50, employee 50%."""
    from gongji.ledger import registry

    with db.begin() as conn:
        for code in ("NY1", "NY2"):
            registry.add_institution(
                conn, {"code": code, "name": f"医院 {code}", "region": "nanyang", "level": "level3"}
            )
    add_member(db, "nanyang", {"id": "L9", "type": "employee"})
    # 31 December 22:00: deductible 50; 50% x 150 = 75
    first = settle(db, "T1", "L9", visit("V1", "2023-12-31T22:00:00", "200.00", "NY1"))
    assert (first["deductible"], first["fund_pay"]) == ("50.00", "75.00")
    year.rollover(db, 2024)
    # 1 January 10:00 at another hospital: its own deductible 50; 50% x 50 = 25
    settle(db, "T2", "L9", visit("V2", "2024-01-01T10:00:00", "100.00", "NY2"))
    # cleared late: 1 January 09:00 at NY1, 11 hours after V1 — inside its window, no
    # deductible; 50% x 100 = 50 against 2024's cap
    late = settle(db, "T3", "L9", visit("V3", "2024-01-01T09:00:00", "100.00", "NY1"))
    assert (late["deductible"], late["fund_pay"], late["late"]) == ("0.00", "50.00", True)
    assert state(db).pool("general").annual == 25_00 + 50_00
    assert check.problems(db) == []
