"""`gongji db check`: recompute what the ledger keeps from what it recorded.

- every journal entry's legs sum to zero;
- no visit (its institution and id) has more than one active settlement;
- each member's record reads back as imported (its opening balance the account's);
- each member's account balance and frozen amount equal the sums of their legs, are not
  below zero, and the balance equals the one in the member's engine state;
- every settlement, re-run through the engine from the state it started from (and the
  member record it was settled with), gives the stored result and the stored use (what it
  consumed of the member's year, engine/use.py), and its entry took from other members'
  accounts (family mutual aid) and in cash what its answer says, the aid no more than the
  member's own account could not pay;
- each settlement started from what the settlements active when it was made had consumed
  of its year (its month's fund pay, its year's pool use and deductibles): in processing
  order, whatever order the visits' dates, cancellations and late claims came in;
- the member's accumulators are what its active settlements consumed (a cancellation gives
  back its settlement's use), and so are each closed year's;
- no pool's fund use this year is above the highest annual cap any version in force that
  year gives it.
"""

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from heapq import heappop, heappush

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, func, select

from gongji import engine, policy
from gongji.engine import kernel
from gongji.engine import layout as L
from gongji.engine.use import POOL_SLOTS, Use, items_met, use_of
from gongji.ledger import store
from gongji.ledger.chart import Chart
from gongji.ledger.schema import legs, members, settlements, year_accumulators
from gongji.ledger.uses import month_of, rerun
from gongji.model import MemberIn
from gongji.money import to_fen, to_yuan


def problems(
    db: Engine, progress: Callable[[int, int], None] = lambda done, total: None
) -> list[str]:
    """What does not hold, a line each (none: the ledger is consistent). `progress(done,
    total)` after each member (a bureau's store takes a while)."""
    found: list[str] = []
    with store.snapshot(db) as conn:  # a live store: one view of it, its writers not held up
        unbalanced = conn.execute(
            select(legs.c.entry_id, func.sum(legs.c.amount))
            .group_by(legs.c.entry_id)
            .having(func.sum(legs.c.amount) != 0)
        ).all()
        found += [f"entry {e}: legs sum to {s}, not 0" for e, s in unbalanced]
        twice = conn.execute(
            select(settlements.c.institution, settlements.c.visit_id, func.count())
            .where(settlements.c.cancel_entry_id.is_(None), settlements.c.visit_id.is_not(None))
            .group_by(settlements.c.institution, settlements.c.visit_id)
            .having(func.count() > 1)
        ).all()
        found += [f"visit {v} at {i}: {n} active settlements" for i, v, n in twice]
        sums = _member_leg_sums(conn)
        total = conn.execute(select(func.count()).select_from(members)).scalar_one()
        # streamed (a server-side cursor on PostgreSQL): a bureau's members do not fit in
        # memory; their records are read a thousand members at a time (Records), not a
        # member (or a settlement) at a time
        every = select(members).order_by(members.c.id).execution_options(yield_per=MEMBERS_READ)
        done = 0
        for part in conn.execute(every).partitions():
            records = Records.read(conn, [m.id for m in part])
            for member in part:
                found += _balances(member, sums)
                found += _caps(member)
                found += _record(member) or _replay(member, records)
                done += 1
                progress(done, total)
    return found


MEMBERS_READ = 1000  # members whose records are read together


@dataclass
class Records:
    """What some members' settlements recorded: each member's settlements in the order they
    were made, each entry's legs, each member's closed years' accumulators."""

    settlements: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    legs: dict[int, list[tuple[str, int]]] = field(default_factory=lambda: defaultdict(list))
    years: dict[str, list] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def read(cls, conn: Connection, ids: list[str]) -> "Records":
        out = cls()
        of = settlements.c.member_id.in_(ids)
        for r in conn.execute(select(settlements).where(of).order_by(settlements.c.id)):
            out.settlements[r.member_id].append(r)
        joined = legs.join(settlements, legs.c.entry_id == settlements.c.entry_id)
        moved = select(legs.c.entry_id, legs.c.account, legs.c.amount).select_from(joined)
        for r in conn.execute(moved.where(of).order_by(legs.c.id)):
            out.legs[r.entry_id].append((r.account, r.amount))
        kept = select(year_accumulators).where(year_accumulators.c.member_id.in_(ids))
        for r in conn.execute(kept):
            out.years[r.member_id].append(r)
        return out


def _record(member) -> list[str]:
    """The member's record reads back as it was imported: valid, with the opening balance
    the account was opened with (a record written in fen and read in yuan fails this)."""
    try:
        m = MemberIn.model_validate(member.profile)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return [f"member {member.id}: record does not read back ({field}: {first['msg']})"]
    if (m.account_balance or 0) != member.opening_balance:
        return [
            f"member {member.id}: record's opening balance {to_yuan(m.account_balance or 0)} "
            f"is not the account's {to_yuan(member.opening_balance)}"
        ]
    return []


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


def _replay(member, records: Records) -> list[str]:
    """Every settlement re-run from where it started gives its stored result and use; it
    started from what the settlements active when it was made had consumed of its year; the
    member's accumulators, and each closed year's, are what the active ones consumed."""
    rows = records.settlements.get(member.id, [])
    uses = []
    for s in rows:
        before = list(s.state_before)
        result, after = rerun(member.region, s.request, before, member.profile)
        for key in ("fund_pay", "account_pay"):
            # the stored document's own figures, read one by one: a tampered document need
            # not hold the answer's invariants, and the check reports it rather than fail
            stored = to_fen(s.result[key])
            if getattr(result, key) != stored:
                return [
                    f"settlement {s.txn_id}: {key} {to_yuan(stored)} but replay "
                    f"gives {to_yuan(getattr(result, key))}"
                ]
        paid = _paid_by_others(s, result, records.legs.get(s.entry_id, []))
        if paid:
            return paid
        use = use_of(engine.YearState(tuple(before)), after, month_of(s.visit_time))
        if s.consumed is not None and Use.from_document(s.consumed) != use:
            return [f"settlement {s.txn_id}: the use it stored is not what replay gives"]
        uses.append(use)
    wrong, sums = _chained(rows, uses)
    if wrong is not None:
        return [
            f"settlement {wrong.txn_id}: does not start from what the settlements before it "
            "consumed of its year"
        ]
    state = member.state
    if state[L.S_YEAR] and not _same_accumulators(sums, state, state[L.S_MONTH]):
        return [f"member {member.id}: accumulators are not what its active settlements consumed"]
    return _closed_years(member.id, records.years.get(member.id, []), state[L.S_YEAR], sums)


def _chained(rows: list, uses: list[Use]) -> tuple[object | None, "Sums"]:
    """The first settlement that does not start from what the settlements active when it was
    made had consumed (made before it, not cancelled by then), else None; and the sums of the
    active settlements' uses. Summed as they go, each cancellation given back once its entry
    comes (a member's entries are numbered in the order they were made, ledger/driver.py);
    summing them again for each settlement took the square of a member's settlements."""
    sums, cancels = Sums(), []  # cancels: a heap of (cancellation's entry, settlement)
    for n, (s, use) in enumerate(zip(rows, uses, strict=True)):
        while cancels and cancels[0][0] <= s.entry_id:
            sums.add(uses[heappop(cancels)[1]], -1)
        if not _same_accumulators(sums, s.state_before, month_of(s.visit_time)):
            return s, sums
        sums.add(use, 1)
        if s.cancel_entry_id is not None:
            heappush(cancels, (s.cancel_entry_id, n))
    for _, n in cancels:
        sums.add(uses[n], -1)
    return None, sums


class Sums:
    """Running sums of uses (engine/use.py): each year's pools (annual fund pay, deductible
    met) and items (deductible met), each month's fund pay by pool. What `accumulated` sums
    from a list of uses, kept as settlements are added, so a member's check is linear."""

    def __init__(self):
        self.years: dict[int, list[int]] = defaultdict(lambda: [0] * POOL_SLOTS)
        self.months: dict[int, list[int]] = defaultdict(lambda: [0] * L.N_POOLS)
        self.items: dict[int, Counter] = defaultdict(Counter)

    def add(self, use: Use, sign: int) -> None:
        year, month = self.years[use.year], self.months[use.month]
        for p in range(L.N_POOLS):
            annual, monthly, met = use.pool(p)
            at = p * L.PU_STRIDE
            year[at + L.PU_ANNUAL] += sign * annual
            year[at + L.PU_DED_MET] += sign * met
            month[p] += sign * monthly
        for key, met in use.items:
            self.items[use.year][key] += sign * met

    def pools(self, month: int) -> tuple[int, ...]:
        """The pools' slots of a state in `month`: its year's sums, its month's fund pay."""
        year, monthly = self.years.get(month // 12), self.months.get(month)
        slots = list(year) if year else [0] * POOL_SLOTS
        for p in range(L.N_POOLS):
            slots[p * L.PU_STRIDE + L.PU_MONTHLY] = monthly[p] if monthly else 0
        return tuple(slots)

    def items_met(self, year: int) -> dict[int, int]:
        """Item key -> deductible met in `year` (an item with nothing met is as none)."""
        return {k: met for k, met in self.items.get(year, {}).items() if met != 0}


def _paid_by_others(s, result, moved: list[tuple[str, int]]) -> list[str]:
    """What the settlement's entry took from other members' accounts (family mutual aid) and
    what the member paid in cash (its legs: `moved`) are what its answer says; the aid is no
    more than the member's own account could not pay of the in-scope share."""
    doc = s.result
    holder = doc.get("holder")
    aid = to_fen(doc["mutual_aid_pay"]) if holder is not None else 0
    others = {a: n for a, n in moved if Chart.account.key(a) not in (None, s.member_id)}
    if others != ({Chart.account.of(holder): -aid} if aid else {}):
        return [f"settlement {s.txn_id}: other accounts paid {others}, its answer says "
                f"{holder} paid {to_yuan(aid)}"]  # fmt: skip
    if dict(moved).get(Chart.cash.of(s.member_id), 0) != -to_fen(doc["cash_pay"]):
        return [f"settlement {s.txn_id}: its cash leg is not its answer's cash pay"]
    if aid > result.in_scope - result.fund_pay - result.account_pay:
        return [f"settlement {s.txn_id}: mutual aid {to_yuan(aid)} exceeds the unpaid share"]
    return []


def _same_accumulators(sums: Sums, state: list[int], month: int) -> bool:
    """The state's accumulators for `month` (its year's pools and items, the month's fund
    pay) are the sums of the uses: the state carried into the month first, as the kernel does."""
    rolled = list(state)
    kernel.roll_year(rolled, month, False, [])
    pools = tuple(rolled[L.S_POOL : L.S_POOL + POOL_SLOTS])
    return sums.pools(month) == pools and sums.items_met(month // 12) == items_met(rolled)


def _closed_years(member_id: str, rows: list, year: int, sums: Sums) -> list[str]:
    """Each year before the member's current one: its kept accumulators (`rows`: the
    rollover's, and late claims') are what its active settlements consumed (`sums`)."""
    kept: dict[tuple[int, str], tuple[int, int]] = {
        (r.year, r.pool): (r.fund_paid, r.deductible_met) for r in rows
    }
    # a year the rollover closed keeps its accumulators; one the member's visits rolled past
    # keeps none
    closed = {y for y, _ in kept}
    summed = {}
    for y, slots in sums.years.items():
        for p, pool in enumerate(L.POOL_NAMES):
            at = p * L.PU_STRIDE
            paid, met = slots[at + L.PU_ANNUAL], slots[at + L.PU_DED_MET]
            if y < year and y in closed and (paid or met):
                summed[(y, pool)] = (paid, met)
    if kept != summed:
        years = sorted({y for y, _ in set(kept) ^ set(summed)} | {
            y for (y, p) in kept if summed.get((y, p)) != kept[(y, p)]})  # fmt: skip
        return [f"member {member_id}: {years[0]}'s accumulators are not its settlements' sum"]
    return []
