"""The engine's entry points: (policy, member, year-to-date state, visit) -> result, new state.

Pure: no I/O, nothing mutated that the caller can see. The ledger settles each visit with
`settle` (the service and the console reach the engine through the ledger); `settle_all`
folds `settle` over a member's visits in time order, for `gongji calculate` (and the
console's trial calculation, which is calculate's).

Every result `settle` makes is checked against the invariants of a settled visit
(invariants.py: fund + account + cash = total, no amount negative, the fund within in-scope
cost, the account within its balance); a broken one raises InvariantError. The ledger also
checks that the caps count every fen the fund pays, where it records a settlement.
"""

from collections.abc import Iterable
from typing import NamedTuple

from gongji.engine import layout as L
from gongji.engine.facts import LEVEL_INDEX, Member, Visit, kernel_args
from gongji.engine.invariants import check
from gongji.engine.kernel import emit, settle_visit
from gongji.engine.state import YearState, grown, kept
from gongji.engine.tables import Tables, tables_on
from gongji.policy.schema import Pack
from gongji.terms import Level, MemberClass


class EngineError(ValueError):
    """A visit the engine cannot settle as given (the message says which and why)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class Result(NamedTuple):
    """One settled visit, in fen. fund_pay + account_pay + cash_pay == total. A NamedTuple
    as `Visit` is (made a visit: a frozen dataclass's construction costs five times as much).
    """

    version_id: str
    member_class: MemberClass
    total: int
    in_scope: int
    deductible: int
    fund_pay: int
    account_pay: int
    cash_pay: int
    account_balance: int
    trace: tuple[int, ...]  # flat (step, amount, a, b) records; see trace.explain


def settle(
    tables: Tables, member: Member, state: YearState, visit: Visit, trace: bool = True
) -> tuple[Result, YearState]:
    return _settle(tables, member, state, visit, trace, trace_buffer(trace))


def trace_buffer(trace: bool) -> list[int]:
    """Where the kernel writes a visit's trace records (`tr[0]` counts them)."""
    return [0] * L.TRACE_CAPACITY if trace else [0]


def _settle(
    tables: Tables, member: Member, state: YearState, visit: Visit, trace: bool, tr: list[int]
) -> tuple[Result, YearState]:
    """`settle`, the trace written into `tr` from its start: a buffer of `trace_buffer`'s,
    reused visit after visit by `settle_all` (a fresh one a visit, 5 KiB, took a fifth of the
    kernel's time). The kernel writes only the records `tr[0]` counts, so none is left over
    from an earlier visit."""
    tr[0] = 0
    line = tables.line_for(visit.category, visit.disease)
    if line is None:
        raise EngineError(
            L.STATUS_CODES[L.NO_CATEGORY],
            f"{tables.version_id} has no {visit.category.value} outpatient policy",
        )
    visit, before = _before_kernel(tables, visit)
    recognised = visit.disease is not None and visit.disease in member.chronic_diseases
    paid_by = tables.routes[line][recognised]
    if paid_by != line:  # JMS-18, PZH-10/11: another category's policy pays the visit
        before += [L.T_RECOGNISED if recognised else L.T_UNRECOGNISED, 0, line, paid_by]
        line = paid_by
    counted = tables.counted(member.chronic_diseases)
    if counted < len(member.chronic_diseases) and tables.cites[line][0][L.T_NOT_COUNTED]:
        before += [L.T_NOT_COUNTED, 0, line, len(member.chronic_diseases) - counted]
    for i in range(0, len(before) if trace else 0, L.TRACE_STRIDE):
        emit(True, tr, *before[i : i + L.TRACE_STRIDE])
    args = kernel_args(member, visit, counted)
    s = list(state.slots)
    deductible, fund, account, cash, status = settle_visit(tables.params, s, *args, line, trace, tr)
    if status != L.OK:  # the kernel's only other statuses: the state had no room
        s, tr, (deductible, fund, account, cash) = _with_room(
            tables, state, args, line, trace, before
        )
    check(state.slots, s, visit.total, visit.in_scope, deductible, fund, account, cash)
    result = Result(
        tables.version_id,
        L.CLASSES[args[5]],
        visit.total,
        visit.in_scope,
        deductible,
        fund,
        account,
        cash,
        s[L.S_BALANCE],
        tuple(tr[1 : 1 + tr[0]]),
    )
    return result, YearState(tuple(s))


def _with_room(
    tables: Tables, state: YearState, args: tuple, line: int, trace: bool, before: list[int]
) -> tuple[list[int], list[int], tuple[int, int, int, int]]:
    """A visit with more open windows or items than the state keeps: settled again from the
    state before it, with twice the room as often as it needs (rare: the common case keeps
    its fixed size). (state after, trace, figures); `before`: the trace records made before
    the kernel."""
    s = list(state.slots)
    status = L.WINDOWS_FULL
    while status != L.OK:
        s = grown(state.slots, 2 * kept(s))
        tr = [0] * L.TRACE_CAPACITY if trace else [0]
        for i in range(0, len(before) if trace else 0, L.TRACE_STRIDE):
            emit(True, tr, *before[i : i + L.TRACE_STRIDE])
        *figures, status = settle_visit(tables.params, s, *args, line, trace, tr)
    return s, tr, tuple(figures)


def settle_all(
    pack: Pack, member: Member, state: YearState, visits: Iterable[Visit], trace: bool = True
) -> tuple[list[Result], YearState]:
    """Settle visits in order, each under the policy version in force on its date."""
    results = []
    day = tables = None
    tr = trace_buffer(trace)
    for visit in visits:
        if visit.time.date() != day:  # the version in force: looked up once a day
            day = visit.time.date()
            tables = tables_on(pack, day)
        if tables is None:
            raise EngineError(
                L.STATUS_CODES[L.NO_POLICY],
                f"no {pack.region} policy in force on {visit.time:%Y-%m-%d}",
            )
        result, state = _settle(tables, member, state, visit, trace, tr)
        results.append(result)
    return results, state


def _before_kernel(tables: Tables, visit: Visit) -> tuple[Visit, list[int]]:
    """The visit at the level it settles at, and trace records for what was decided before
    the kernel: how a line-item visit's cost split (where the pack cites the rule), and the
    level an internet hospital (XSBN-31) or a prescription filled at a pharmacy (XSBN-32,
    KF-23) settles at.
    """
    cites = tables.cites[L.GENERAL][0]
    records: list[int] = []
    for step, amount in (
        (L.T_OUT_OF_SCOPE, visit.out_of_scope),
        (L.T_ABOVE_STANDARD, visit.above_standard),
        (L.T_CLASS_B, visit.class_b_self_pay),
    ):
        if amount and cites[step] is not None:
            records += [step, amount, 0, 0]
    if visit.internet and tables.channels.internet is not None:
        records += [L.T_INTERNET, 0, LEVEL_INDEX[visit.level], 0]
    level = settled_level(tables, visit.level, visit.prescription_level)
    if level is not visit.level:
        records += [L.T_PRESCRIPTION, 0, LEVEL_INDEX[visit.level], LEVEL_INDEX[level]]
        visit = visit._replace(level=level, institution=_deductible_window_of(tables, visit))
    return visit, records


def _deductible_window_of(tables: Tables, visit: Visit) -> str:
    """The institution whose per-visit deductible window a prescription sale falls in: the
    pharmacy's own, or — where the pack reads the sale as continuing the prescribing visit
    (`deductible_at: prescriber`) and the sale names its prescriber — the prescriber's."""
    channel = tables.channels.prescription
    if channel.deductible_at == "prescriber" and visit.prescribed_at:
        return visit.prescribed_at
    return visit.institution


def settled_level(tables: Tables, level: Level, prescription_level: Level | None) -> Level:
    """The level a visit settles at: a pharmacy's sale on a prescription the pack lets
    circulate settles at the prescriber's level (XSBN-32, KF-23)."""
    if level is Level.pharmacy and prescription_level and tables.channels.prescription is not None:
        return prescription_level
    return level
