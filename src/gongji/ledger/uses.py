"""What settlements consumed of their members' years (engine/use.py), as the ledger keeps it.

A settlement stores its use; one made before uses were kept has it read off a re-run of the
engine from its starting state (`rerun`, which `gongji db check` also uses to verify every
stored result). A late claim starts from `late_start`: its year's accumulators summed over
the settlements active now, its month's fund pay, and the deductible window its institution
last opened at or before the visit.
"""

from dataclasses import replace
from datetime import datetime

from gongji import catalogue, engine, policy
from gongji.engine.facts import institution_key, local_seconds
from gongji.engine.use import POOL_SLOTS, Use, accumulated, use_of
from gongji.ledger.driver import as_time, from_json
from gongji.model import MemberIn, VisitIn, engine_member, engine_visit


def month_of(t: datetime) -> int:
    """The kernel's month: year * 12 + month - 1."""
    return t.year * 12 + t.month - 1


def rerun(region: str, request: dict, state_before: list[int], profile: dict):
    """The engine's result and state for a stored settlement, from its stored request (the
    visit as settled and the member record it was settled with) and starting state."""
    pack = policy.load_region(region)
    v = VisitIn.model_validate(request["visit"])
    record = MemberIn.model_validate(request.get("record", profile))
    member = engine_member(pack, record, v.time.date())
    visit = engine_visit(v, catalogue.sample() if v.items else None)
    tables = engine.tables_on(pack, v.time.date())
    return engine.settle(tables, member, engine.YearState(tuple(state_before)), visit)


def use_of_row(region: str, row, profile: dict) -> Use:
    """A stored settlement's use: kept with it, or read off a re-run (older settlements)."""
    consumed = from_json(row.consumed)
    if consumed is not None:
        return Use.from_document(consumed)
    before = from_json(row.state_before)
    _, after = rerun(region, from_json(row.request), before, profile)
    return use_of(engine.YearState(tuple(before)), after, month_of(as_time(row.visit_time)))


def late_start(
    region: str, rows: list, profile: dict, balance: int, when: datetime, institution: str
) -> engine.YearState:
    """Where a late claim at `when` starts: the year's settlements active now (`rows`, all of
    the year's, in processing order), their accumulators summed, with the window its
    institution opened last at or before the visit (a later one does not cover it; `rows`
    may hold settlements of the year before, whose windows may run into this one: NY-5a —
    their accumulators are not this year's, `accumulated` leaves them out)."""
    inst, at = institution_key(institution), local_seconds(when)
    uses, windows = [], []
    for row in rows:
        if row.cancel_entry_id is None:
            use = use_of_row(region, row, profile)
            windows += [w for w in use.windows if w[0] == inst and w[1] <= at]
            uses.append(replace(use, windows=()))
    if windows:
        opened = max(w[1] for w in windows)
        met = sum(w[2] for w in windows if w[1] == opened)
        uses.append(Use(month_of(when), (0,) * POOL_SLOTS, (), ((inst, opened, met),)))
    return accumulated(uses, month_of(when), balance)
