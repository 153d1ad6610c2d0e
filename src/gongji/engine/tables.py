"""Compiling one policy version into the kernel's parameter table and citation table.

This is where pack data becomes numbers the kernel reads; the engine never sees YAML and
never holds a policy number of its own.
"""

from dataclasses import dataclass
from datetime import date

from gongji.engine import layout as L
from gongji.policy.schema import AnnualDeductible, Cited, Pack, Version
from gongji.terms import Condition, DeductibleWindow, MemberClass

_WINDOW = {
    DeductibleWindow.none: L.WIN_NONE,
    DeductibleWindow.same_institution_day: L.WIN_SAME_DAY,
    DeductibleWindow.hours_from_charged: L.WIN_HOURS,
}
CLASSES = (MemberClass.employee, MemberClass.retiree)


@dataclass(frozen=True)
class Citation:
    rule: str
    article: str
    text: str | None
    configured: bool


@dataclass(frozen=True)
class Tables:
    """One policy version, compiled: `params` for the kernel, `cites[class][step]` for traces."""

    version_id: str
    params: tuple[int, ...]
    cites: tuple[tuple[Citation | None, ...], ...]


# id(pack) -> (pack, its compiled versions); the pack is kept so its id is never reused.
_compiled: dict[int, tuple[Pack, tuple[Tables, ...]]] = {}


def compile_pack(pack: Pack) -> tuple[Tables, ...]:
    entry = _compiled.get(id(pack))
    if entry is None:
        tables = tuple(_compile(pack, version) for version in pack.versions)
        entry = _compiled[id(pack)] = (pack, tables)
    return entry[1]


def tables_on(pack: Pack, day: date) -> Tables | None:
    """The compiled version in force on `day`, or None outside every version."""
    i = pack.version_index_on(day)
    return None if i is None else compile_pack(pack)[i]


def _compile(pack: Pack, version: Version) -> Tables:
    return Tables(
        version_id=pack.version_id(version),
        params=tuple(_params(version)),
        cites=tuple(tuple(_cites(version, klass)) for klass in CLASSES),
    )


def _params(version: Version) -> list[int]:
    g = version.general
    p = [0] * L.P_SIZE
    ded = g.deductible
    if isinstance(ded, AnnualDeductible):
        p[L.P_DED_BASIS] = L.DED_ANNUAL
        p[L.P_DED_CLASS + L.EMPLOYEE] = ded.employee
        p[L.P_DED_CLASS + L.RETIREE] = ded.retiree
    else:
        p[L.P_DED_BASIS] = L.DED_PER_VISIT
        p[L.P_DED_WINDOW] = _WINDOW[ded.window]
        p[L.P_DED_WINDOW_SPAN] = (ded.window_hours or 0) * 3600
        for level, fen in ded.by_level.items():
            p[L.P_DED_LEVEL + L.LEVELS.index(level)] = fen
    for klass, table in ((L.EMPLOYEE, g.ratio.employee), (L.RETIREE, g.ratio.retiree)):
        for level, bp in table.items():
            i = L.LEVELS.index(level)
            p[L.P_LEVEL_OK + i] = 1
            p[L.P_RATIO + klass * L.N_LEVELS + i] = bp
    p[L.P_ANNUAL_CAP + L.EMPLOYEE] = g.annual_cap.employee
    p[L.P_ANNUAL_CAP + L.RETIREE] = g.annual_cap.retiree
    monthly = g.monthly_cap
    p[L.P_MONTHLY_CAP + L.EMPLOYEE] = monthly.employee if monthly else -1
    p[L.P_MONTHLY_CAP + L.RETIREE] = monthly.retiree if monthly else -1
    for cond in g.eligibility:
        p[L.P_CONDITION + L.CONDITIONS.index(cond.condition)] = 1
        if cond.condition is Condition.raised_contribution:
            for mtype in cond.member_types or ():
                p[L.P_RAISE_TYPES] |= 1 << L.MEMBER_TYPES.index(mtype)
    return p


def _cites(version: Version, klass: MemberClass) -> list[Citation | None]:
    g = version.general
    by_step: list[Cited | None] = [None] * L.N_STEPS
    by_step[L.T_YEAR_RESET] = version.year
    for cond in g.eligibility:
        by_step[L.T_CONDITION + L.CONDITIONS.index(cond.condition)] = cond
    by_step[L.T_LEVEL_NOT_COVERED] = g.ratio
    for step in (L.T_DED_ANNUAL, L.T_DED_PER_VISIT, L.T_DED_WINDOW, L.T_DED_NONE):
        by_step[step] = g.deductible
    by_step[L.T_RATIO] = g.ratio
    by_step[L.T_RETIREE_MERGED] = version.retirement
    by_step[L.T_MONTHLY_CAP] = g.monthly_cap
    by_step[L.T_ANNUAL_CAP] = g.annual_cap
    by_step[L.T_FUND] = g.pool
    by_step[L.T_ACCOUNT] = version.settlement
    by_step[L.T_NO_ACCOUNT] = version.accounts
    by_step[L.T_CASH] = version.settlement
    return [
        None
        if node is None
        else Citation(node.rule_for(klass), node.article, node.text, node.source == "configured")
        for node in by_step
    ]
