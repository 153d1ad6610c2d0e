"""`gongji db check`: recompute what the ledger keeps from what it recorded.

- every journal entry's legs sum to zero;
- each member's account balance and frozen amount equal the sums of their legs, are not
  below zero, and the balance equals the one in the member's engine state;
- every active settlement, re-run through the engine from the state it started from (and
  the member record it was settled with), gives the stored result;
- settlements chain: the first active one starts from a new member's state, and each one
  from what the one before left (the account balance aside, which crediting and other
  account movements change in between; a year rollover in between resets exactly what a
  visit in the new year would, X-1); the member's state is what the last one left;
- no pool's fund use this year is above the highest annual cap any version in force that
  year gives it.
"""

from functools import cache

from sqlalchemy import Connection, Engine, func, select

from gongji import catalogue, engine, policy
from gongji.engine import kernel
from gongji.engine import layout as L
from gongji.ledger.chart import Chart
from gongji.ledger.schema import legs, members, settlements
from gongji.model import MemberIn, VisitIn, engine_member, engine_visit
from gongji.money import to_fen, to_yuan


def problems(db: Engine) -> list[str]:
    found: list[str] = []
    with db.connect() as conn:
        unbalanced = conn.execute(
            select(legs.c.entry_id, func.sum(legs.c.amount))
            .group_by(legs.c.entry_id)
            .having(func.sum(legs.c.amount) != 0)
        ).all()
        found += [f"entry {e}: legs sum to {s}, not 0" for e, s in unbalanced]
        sums = _member_leg_sums(conn)
        for member in conn.execute(select(members).order_by(members.c.id)).all():
            found += _balances(member, sums)
            found += _caps(member)
            found += _replay(conn, member)
    return found


def _member_leg_sums(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(legs.c.account, func.sum(legs.c.amount))
        .where(legs.c.account.like(Chart.account.like) | legs.c.account.like(Chart.frozen.like))
        .group_by(legs.c.account)
    ).all()
    return {account: int(total) for account, total in rows}


def _balances(member, sums: dict[str, int]) -> list[str]:
    out = []
    for kind, kept in ((Chart.account, member.account_balance), (Chart.frozen, member.frozen)):
        account = kind.of(member.id)
        legs_sum = sums.get(account, 0)
        if kept != legs_sum:
            out.append(f"{account}: kept {kept}, legs sum to {legs_sum}")
        if kept < 0:
            out.append(f"{account}: below zero ({kept})")
    if member.state[L.S_BALANCE] != member.account_balance:
        out.append(
            f"member {member.id}: state balance {member.state[L.S_BALANCE]} is not the account's"
        )
    return out


def _caps(member) -> list[str]:
    state = engine.YearState(tuple(member.state))
    if not state.year:
        return []
    ceilings = _ceilings(member.region, state.year)
    out = []
    for pool, ceiling in ceilings.items():
        used = state.pool(pool).annual
        if used > ceiling:
            out.append(f"member {member.id}: {pool} fund use {to_yuan(used)} above its cap")
    return out


@cache
def _ceilings(region: str, year: int) -> dict[str, int]:
    """Per pool, the highest annual cap of any line counting against it, over the versions
    in force during `year` (a cap that grows with diseases at its ceiling)."""
    pack = policy.load_region(region)
    out: dict[str, int] = {}
    for version, tables in zip(pack.versions, engine.compile_pack(pack), strict=True):
        if version.valid_from.year > year or (version.valid_to and version.valid_to.year < year):
            continue
        p = tables.params
        for line in range(L.N_LINES):
            base = line * L.LINE_SIZE
            if not p[base + L.L_ON]:
                continue
            cap = max(p[base + L.L_ANNUAL_CAP], p[base + L.L_ANNUAL_CAP + 1], p[base + L.L_CAP_MAX])
            pool = L.POOL_NAMES[p[base + L.L_POOL]]
            out[pool] = max(out.get(pool, 0), cap)
    return out


def _replay(conn: Connection, member) -> list[str]:
    pack = policy.load_region(member.region)
    active = conn.execute(
        select(settlements)
        .where(settlements.c.member_id == member.id, settlements.c.cancel_entry_id.is_(None))
        .order_by(settlements.c.id)
    ).all()
    # cancelling only the latest settlement restores its starting state exactly, so the
    # first active one starts from the state the member was added with
    after = list(engine.YearState.new().slots)
    for n, s in enumerate(active):
        before = list(s.state_before)
        if not _continues(after, before):
            where = "the member's opening state" if n == 0 else "where the previous one ended"
            return [f"settlement {s.txn_id}: does not start from {where}"]
        v = VisitIn.model_validate(s.request["visit"])
        em = engine_member(
            pack, MemberIn.model_validate(s.request.get("record", member.profile)), v.time.date()
        )
        visit = engine_visit(v, catalogue.sample() if v.items else None)
        tables = engine.tables_on(pack, v.time.date())
        result, state = engine.settle(tables, em, engine.YearState(tuple(before)), visit)
        for key in ("fund_pay", "account_pay"):
            # the stored document's own figures, read one by one: a tampered document need
            # not hold the answer's invariants, and the check reports it rather than fail
            stored = to_fen(s.result[key])
            if getattr(result, key) != stored:
                return [
                    f"settlement {s.txn_id}: {key} {to_yuan(stored)} but replay "
                    f"gives {to_yuan(getattr(result, key))}"
                ]
        after = list(state.slots)
    if not _continues(after, list(member.state)):
        return [f"member {member.id}: state differs from its last settlement's"]
    return []


def _continues(after: list[int], before: list[int]) -> bool:
    """`before` is `after`, apart from the account balance and, where `before` is in a later
    year, the reset the rollover made (the kernel's own, as `gongji year rollover` applies it)."""
    expected = list(after)
    if before[L.S_YEAR] > expected[L.S_YEAR]:
        kernel.roll_year(expected, before[L.S_MONTH], False, [])
    expected[L.S_BALANCE] = before[L.S_BALANCE]
    return expected == before
