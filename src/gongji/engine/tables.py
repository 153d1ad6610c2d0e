"""Compiling one policy version into the kernel's parameter table and citation table.

This is where pack data becomes numbers the kernel reads; the engine never sees YAML and
never holds a policy number of its own.
"""

from dataclasses import dataclass
from datetime import date

from gongji.engine import layout as L
from gongji.policy.schema import AnnualDeductible, Cited, GeneralOutpatient, Pack, Version
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
    """One policy version, compiled: `params` for the kernel, `cites[line][class][step]`."""

    version_id: str
    params: tuple[int, ...]
    cites: tuple[tuple[tuple[Citation | None, ...], ...], ...]


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


def lines_of(version: Version) -> dict[int, GeneralOutpatient]:
    """The benefit lines a version defines, by line index."""
    return {L.GENERAL: version.general}


def _compile(pack: Pack, version: Version) -> Tables:
    lines = lines_of(version)
    params = [0] * L.P_SIZE
    for i in range(L.N_LINES):
        base = i * L.LINE_SIZE
        params[base + L.L_OVERFLOW] = -1
        params[base + L.L_CAP_MAX] = -1
        if i in lines:
            _line_params(params, base, lines[i])
    cites = tuple(
        tuple(tuple(_cites(version, lines.get(i), klass)) for klass in CLASSES)
        for i in range(L.N_LINES)
    )
    return Tables(pack.version_id(version), tuple(params), cites)


def _line_params(p: list[int], base: int, line: GeneralOutpatient) -> None:
    p[base + L.L_ON] = 1
    ded = line.deductible
    if isinstance(ded, AnnualDeductible):
        p[base + L.L_DED_BASIS] = L.DED_ANNUAL
        p[base + L.L_DED_CLASS + L.EMPLOYEE] = ded.employee
        p[base + L.L_DED_CLASS + L.RETIREE] = ded.retiree
    else:
        p[base + L.L_DED_BASIS] = L.DED_PER_VISIT
        p[base + L.L_DED_WINDOW] = _WINDOW[ded.window]
        p[base + L.L_DED_WINDOW_SPAN] = (ded.window_hours or 0) * 3600
        for level, fen in ded.by_level.items():
            p[base + L.L_DED_LEVEL + L.LEVELS.index(level)] = fen
    for klass, table in ((L.EMPLOYEE, line.ratio.employee), (L.RETIREE, line.ratio.retiree)):
        for level, bp in table.items():
            i = L.LEVELS.index(level)
            p[base + L.L_LEVEL_OK + i] = 1
            p[base + L.L_RATIO + klass * L.N_LEVELS + i] = bp
    p[base + L.L_POOL] = L.pool_index("general")
    p[base + L.L_ANNUAL_CAP + L.EMPLOYEE] = line.annual_cap.employee
    p[base + L.L_ANNUAL_CAP + L.RETIREE] = line.annual_cap.retiree
    monthly = line.monthly_cap
    p[base + L.L_MONTHLY_CAP + L.EMPLOYEE] = monthly.employee if monthly else -1
    p[base + L.L_MONTHLY_CAP + L.RETIREE] = monthly.retiree if monthly else -1
    for cond in line.eligibility:
        p[base + L.L_CONDITION + L.CONDITIONS.index(cond.condition)] = 1
        if cond.condition is Condition.raised_contribution:
            for mtype in cond.member_types or ():
                p[base + L.L_RAISE_TYPES] |= 1 << L.MEMBER_TYPES.index(mtype)


def _cites(
    version: Version, line: GeneralOutpatient | None, klass: MemberClass
) -> list[Citation | None]:
    by_step: list[Cited | None] = [None] * L.N_STEPS
    by_step[L.T_YEAR_RESET] = version.year
    by_step[L.T_RETIREE_MERGED] = version.retirement
    by_step[L.T_ACCOUNT] = version.settlement
    by_step[L.T_NO_ACCOUNT] = version.accounts
    by_step[L.T_CASH] = version.settlement
    if line is not None:
        for cond in line.eligibility:
            by_step[L.T_CONDITION + L.CONDITIONS.index(cond.condition)] = cond
        by_step[L.T_LEVEL_NOT_COVERED] = line.ratio
        for step in (L.T_DED_ANNUAL, L.T_DED_PER_VISIT, L.T_DED_WINDOW, L.T_DED_NONE, L.T_DED_ITEM):
            by_step[step] = line.deductible
        by_step[L.T_RATIO] = line.ratio
        by_step[L.T_MONTHLY_CAP] = line.monthly_cap
        by_step[L.T_ANNUAL_CAP] = line.annual_cap
        by_step[L.T_FUND] = line.pool
        by_step[L.T_LINE] = line.pool
    return [
        None
        if node is None
        else Citation(node.rule_for(klass), node.article, node.text, node.source == "configured")
        for node in by_step
    ]
