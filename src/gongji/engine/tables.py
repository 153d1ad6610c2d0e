"""Compiling one policy version into the kernel's parameter table and citation table.

This is where pack data becomes numbers the kernel reads; the engine never sees YAML and
never holds a policy number of its own. Categories become benefit lines; values a line takes
from the configured inpatient parameters ("the institution's inpatient ratio") are looked up
here, so the kernel only ever reads plain tables.
"""

from dataclasses import dataclass, field
from datetime import date

from gongji.engine import layout as L
from gongji.policy.schema import (
    CATEGORY_SECTIONS,
    AnnualDeductible,
    Benefit,
    Cap,
    Channels,
    Cited,
    InpatientRef,
    NoDeductible,
    Pack,
    PerItemDeductible,
    PerVisitDeductible,
    Ratio,
    Reading,
    Version,
)
from gongji.terms import Category, Condition, DeductibleWindow, Level, MemberClass

_WINDOW = {
    DeductibleWindow.none: L.WIN_NONE,
    DeductibleWindow.same_institution_day: L.WIN_SAME_DAY,
    DeductibleWindow.hours_from_charged: L.WIN_HOURS,
}
MEDICAL_LEVELS = (Level.primary, Level.level1, Level.level2, Level.level3)
# The pool each category's own cap and annual deductible count against.
OWN_POOL = {
    "general": "general",
    "chronic": "chronic",
    "special": "special",
    "two_diseases": "two_diseases",
}


@dataclass(frozen=True)
class Citation:
    rule: str
    article: str
    text: str | None
    configured: bool  # the value used is configured (not from the text), or derived from one
    reading: Reading | None = None  # the pack's reading (zh, en), where the value is configured


@dataclass(frozen=True)
class Tables:
    """One policy version, compiled: `params` for the kernel, `cites[line][class][step]`."""

    version_id: str
    params: tuple[int, ...]
    cites: tuple[tuple[tuple[Citation | None, ...], ...], ...]
    entry: dict[Category, int]  # the line a category's visits start on
    exception_diseases: frozenset[str]  # special diseases paid on the exception line
    channels: Channels  # which visit channels settle at another institution's level
    # per line, the line that pays a visit starting on it: [its disease not among the
    # member's recognised ones, among them] (the line itself where its benefit redirects
    # neither: JMS-18, PZH-10/11)
    routes: tuple[tuple[int, int], ...]
    # recognised diseases a growing cap does not count (XSBN-12/13: the special ones)
    not_counted: frozenset[str]
    # per (language, class index), what a trace row says of each citation (trace.py's
    # `_cited` fills it: made once a version, read at every step of every visit rendered)
    said: dict[tuple[str, int], tuple] = field(default_factory=dict, compare=False, repr=False)

    def line_for(self, category: Category, disease: str | None) -> int | None:
        line = self.entry.get(category)
        if category is Category.special and disease in self.exception_diseases:
            return L.line_index("special_exception")
        return line

    def counted(self, diseases: tuple[str, ...]) -> int:
        """How many of a member's recognised diseases a growing cap counts."""
        if not self.not_counted:
            return len(diseases)
        return sum(d not in self.not_counted for d in diseases)


@dataclass(frozen=True)
class _Line:
    benefit: Benefit
    pool: str  # cap pool
    deductible_pool: str
    overflow: int  # line index, or -1


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


def _lines(version: Version) -> dict[int, _Line]:
    """The benefit lines a version defines, by line index."""
    lines: dict[int, _Line] = {}
    general = L.line_index("general")
    for name in ("general", *CATEGORY_SECTIONS):
        b = getattr(version, name)
        if b is None:
            continue
        pool = "inpatient" if b.annual_cap.shared_with else OWN_POOL[name]
        onward = general if b.then else -1
        if b.overflow:
            onward = L.line_index("general_overflow")
            lines[onward] = _Line(_overflow_line(b), "inpatient", "inpatient", -1)
        lines[L.line_index(name)] = _Line(b, pool, OWN_POOL.get(name, pool), onward)
        if b.exceptions:
            exc = b.exceptions
            cite = _cite_of(exc)
            plain = b.model_copy(
                update={
                    "deductible": NoDeductible(basis="none", **cite),
                    "ratio": Ratio.model_construct(flat=exc.ratio, **cite),  # already validated
                }
            )
            lines[L.line_index("special_exception")] = _Line(plain, pool, pool, onward)
    return lines


def _cite_of(node: Cited) -> dict:
    """A node's citation as fields for the nodes a line is made of; its reading kept as the
    object it is (`model_construct` does not validate a dict into one)."""
    cite = node.model_dump(include={"rule", "article", "text", "source"})
    return {**cite, "reading": node.reading}


def _overflow_line(general: Benefit) -> Benefit:
    ov = general.overflow
    cite = _cite_of(ov)
    return Benefit(
        deductible=NoDeductible(basis="none", **cite),
        ratio=Ratio(from_inpatient=InpatientRef(), **cite),
        annual_cap=Cap(shared_with="inpatient", **cite),
    )


def _compile(pack: Pack, version: Version) -> Tables:
    lines = _lines(version)
    params = [0] * L.P_SIZE
    member_share = version.account_pays.share == "member"
    params[L.P_ACCOUNT_SHARE] = L.ACCOUNT_MEMBER if member_share else L.ACCOUNT_IN_SCOPE
    for i in range(L.N_LINES):
        base = i * L.LINE_SIZE
        params[base + L.L_OVERFLOW] = -1
        params[base + L.L_CAP_MAX] = -1
        for klass in range(L.N_CLASSES):
            params[base + L.L_MONTHLY_CAP + klass] = -1
        if i in lines:
            _line_params(params, base, lines[i], version)
    cites = tuple(
        tuple(tuple(_cites(version, lines.get(i), klass)) for klass in L.CLASSES)
        for i in range(L.N_LINES)
    )
    entry = {
        Category(name): L.line_index(name)
        for name in L.LINE_NAMES
        if name in Category.__members__ and L.line_index(name) in lines
    }
    special = version.special
    diseases = frozenset(special.exceptions.diseases) if special and special.exceptions else ()
    caps = [line.benefit.annual_cap for line in lines.values()]
    return Tables(
        pack.version_id(version),
        tuple(params),
        cites,
        entry,
        frozenset(diseases),
        version.channels,
        tuple(_routes(i, lines.get(i)) for i in range(L.N_LINES)),
        frozenset(d for cap in caps if cap.not_counted for d in cap.not_counted.diseases),
    )


def _routes(i: int, line: _Line | None) -> tuple[int, int]:
    """(the line paying a visit whose disease is not recognised, the one if it is)."""
    if line is None:
        return i, i
    b = line.benefit
    return tuple(i if r is None else L.line_index(r.to) for r in (b.unrecognised, b.recognised))


def _line_params(p: list[int], base: int, line: _Line, version: Version) -> None:
    b = line.benefit
    p[base + L.L_ON] = 1
    p[base + L.L_POOL] = L.pool_index(line.pool)
    p[base + L.L_DED_POOL] = L.pool_index(line.deductible_pool)
    p[base + L.L_OVERFLOW] = line.overflow
    for klass, name in enumerate(L.CLASSES):
        for level, bp in _ratios(b.ratio, name, version).items():
            p[base + L.L_LEVEL_OK + L.LEVELS.index(level)] = 1
            p[base + L.L_RATIO + klass * L.N_LEVELS + L.LEVELS.index(level)] = bp
        p[base + L.L_ANNUAL_CAP + klass] = _cap(b.annual_cap, name, version)
        if b.monthly_cap is not None:
            p[base + L.L_MONTHLY_CAP + klass] = _cap(b.monthly_cap, name, version)
    if b.annual_cap.max is not None:
        p[base + L.L_CAP_PER_EXTRA] = b.annual_cap.per_extra_disease
        p[base + L.L_CAP_MAX] = b.annual_cap.max
    _deductible_params(p, base, b.deductible, version)
    for cond in b.eligibility:
        if not cond.applies:
            continue
        p[base + L.L_CONDITION + L.CONDITIONS.index(cond.condition)] = L.ENFORCED
        if cond.condition is Condition.raised_contribution:
            for mtype in cond.member_types or ():
                p[base + L.L_RAISE_TYPES] |= 1 << L.MEMBER_TYPES.index(mtype)
    for cond in b.exempt.conditions if b.exempt else ():
        p[base + L.L_CONDITION + L.CONDITIONS.index(cond)] = L.EXEMPT


def _deductible_params(p: list[int], base: int, ded, version: Version) -> None:
    if isinstance(ded, AnnualDeductible):
        p[base + L.L_DED_BASIS] = L.DED_ANNUAL
        p[base + L.L_DED_CLASS + L.EMPLOYEE] = ded.employee
        p[base + L.L_DED_CLASS + L.RETIREE] = ded.retiree
    elif isinstance(ded, PerVisitDeductible):
        p[base + L.L_DED_BASIS] = L.DED_PER_VISIT
        p[base + L.L_DED_WINDOW] = _WINDOW[ded.window]
        p[base + L.L_DED_WINDOW_SPAN] = (ded.window_hours or 0) * 3600
        p[base + L.L_DED_YEAR_END] = int(ded.year_end is not None and ded.year_end.closes)
        amounts = ded.by_level or {
            lv: _inpatient_deductible(ded.from_inpatient, lv, version) for lv in MEDICAL_LEVELS
        }
        for level, fen in amounts.items():
            p[base + L.L_DED_LEVEL + L.LEVELS.index(level)] = fen
    elif isinstance(ded, PerItemDeductible):
        p[base + L.L_DED_BASIS] = L.DED_PER_ITEM_YEAR
        for level in L.LEVELS:
            p[base + L.L_DED_LEVEL + L.LEVELS.index(level)] = (
                ded.amount
                if ded.amount is not None
                else _inpatient_deductible(ded.from_inpatient, level, version)
            )


def _inpatient_deductible(ref: InpatientRef, level: Level, version: Version) -> int:
    source = ref.level or ref.level_as.get(level, level)
    fen = version.inpatient.deductible.get(source, 0)
    return (fen * ref.share + 5_000) // 10_000  # share of a fen amount, half-up


def _ratios(ratio: Ratio, klass: MemberClass, version: Version) -> dict[Level, int]:
    if ratio.employee is not None:
        table = dict(getattr(ratio, klass.value))
    elif ratio.flat is not None:
        table = dict.fromkeys(MEDICAL_LEVELS, ratio.flat)
    else:
        ref, inpatient = ratio.from_inpatient, getattr(version.inpatient, klass.value)
        table = {lv: inpatient[ref.level or ref.level_as.get(lv, lv)] for lv in MEDICAL_LEVELS}
    if ratio.levels is not None:
        table = {lv: bp for lv, bp in table.items() if lv in ratio.levels}
    return table


def _cap(cap: Cap, klass: MemberClass, version: Version) -> int:
    if cap.shared_with:
        return version.inpatient.annual_cap[klass]
    return getattr(cap, klass.value)


def _cites(version: Version, line: _Line | None, klass: MemberClass) -> list[Citation | None]:
    by_step: list[Cited | None] = [None] * L.N_STEPS
    by_step[L.T_YEAR_RESET] = version.year
    by_step[L.T_RETIREE_MERGED] = version.retirement
    by_step[L.T_ACCOUNT] = version.account_pays
    by_step[L.T_NO_ACCOUNT] = version.accounts
    by_step[L.T_ACCOUNT_DECLINED] = version.settlement
    by_step[L.T_ACCOUNT_NOT_DESIGNATED] = version.account_use
    by_step[L.T_CASH] = version.settlement
    by_step[L.T_INTERNET] = version.channels.internet
    by_step[L.T_PRESCRIPTION] = version.channels.prescription
    by_step[L.T_OUT_OF_SCOPE] = version.catalogue.out_of_scope
    by_step[L.T_ABOVE_STANDARD] = version.catalogue.payment_standard
    by_step[L.T_CLASS_B] = version.catalogue.class_b_self_pay
    if line is not None:
        b = line.benefit
        for cond in b.eligibility:
            if cond.applies:
                by_step[L.T_CONDITION + L.CONDITIONS.index(cond.condition)] = cond
        by_step[L.T_EXEMPT] = b.exempt
        by_step[L.T_LEVEL_NOT_COVERED] = b.ratio
        for step in (L.T_DED_ANNUAL, L.T_DED_PER_VISIT, L.T_DED_WINDOW, L.T_DED_NONE, L.T_DED_ITEM):
            by_step[step] = b.deductible
        by_step[L.T_RATIO] = b.ratio
        by_step[L.T_MONTHLY_CAP] = b.monthly_cap
        by_step[L.T_ANNUAL_CAP] = b.annual_cap
        by_step[L.T_FUND] = b.pool or b.annual_cap
        by_step[L.T_OVERFLOW] = b.then or b.overflow
        by_step[L.T_UNRECOGNISED] = b.unrecognised
        by_step[L.T_RECOGNISED] = b.recognised
        by_step[L.T_NOT_COUNTED] = b.annual_cap.not_counted
    return [None if node is None else _citation(node, klass) for node in by_step]


def _citation(node: Cited, klass: MemberClass) -> Citation:
    configured = node.uses_configured()
    reading = node.reading if configured else None
    return Citation(node.rule_for(klass), node.article, node.text, configured, reading)
