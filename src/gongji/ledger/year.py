"""Year rollover (X-1): the finished year's accumulators are kept per member and pool, and
each member's state starts the new year with its account balance carried over."""

from sqlalchemy import Connection, Engine, insert, select

from gongji import engine
from gongji.engine import kernel
from gongji.engine import layout as L
from gongji.ledger import members as M
from gongji.ledger.schema import members, year_accumulators

BATCH = 500


def rollover(db: Engine, year: int) -> dict:
    """Close every active member's earlier year; members already in `year` are left alone,
    so a rollover that stopped half-way is finished by running it again."""
    with db.connect() as conn:
        ids = (
            conn.execute(
                select(members.c.id).where(members.c.status == "active").order_by(members.c.id)
            )
            .scalars()
            .all()
        )
    rolled = 0
    for i in range(0, len(ids), BATCH):
        with db.begin() as conn:
            rolled += sum(_roll_one(conn, member_id, year) for member_id in ids[i : i + BATCH])
    return {"year": year, "rolled": rolled}


def _roll_one(conn: Connection, member_id: str, year: int) -> bool:
    state = M.state_of(M.lock(conn, member_id))
    if state.year == 0 or state.year >= year:
        return False
    used = [(name, state.pool(name)) for name in L.POOL_NAMES]
    kept = [
        {
            "member_id": member_id,
            "year": state.year,
            "pool": name,
            "fund_paid": use.annual,
            "deductible_met": use.deductible_met,
        }
        for name, use in used
        if use.annual or use.deductible_met
    ]
    if kept:
        conn.execute(insert(year_accumulators), kept)
    slots = list(state.slots)
    kernel.roll_year(slots, year * 12, False, [])  # the same reset a visit in `year` makes
    M.save(conn, member_id, engine.YearState(tuple(slots)))
    return True
