"""The reference model: each region's outpatient rules written again, deliberately simply.

It reads the policy packs as data (the `gongji.policy` pack objects: versions, benefits,
deductibles, ratios, caps, conditions) and nothing else of the project: no engine code and
no `gongji.money`. Amounts are fen (int); a ratio (basis points, as the pack holds it) is
applied in Decimal and rounded half-up to the fen. A member's year-to-date state is a plain
dict. Each function carries out one mechanism and names the rule IDs of
`shared/spec/rules-inventory.md` it implements.

A visit is paid line by line: the line its category starts on, then (where the pack routes
what a cap left unpaid) the next one; then the personal account, then cash (X-5).

Every visit also reports the *paths* it took where money boundaries lie (a cap reached
exactly, a deductible window at its last second, a retirement day, ...), so a run can show
how often each boundary was exercised (`boundary_paths` names the ones a pack has).
"""

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

CLASSES = ("employee", "retiree")
MEDICAL_LEVELS = ("primary", "level1", "level2", "level3")
LEVELS = (*MEDICAL_LEVELS, "pharmacy")
SECTIONS = (
    "general",
    "chronic",
    "special",
    "two_diseases",
    "emergency",
    "negotiated_drug",
    "day_surgery",
)  # the pack's benefit sections, one line each
PERIOD_CONDITIONS = ("benefit_period", "not_inpatient", "not_in_arrears", "remote_filing")
BASIS_POINTS = Decimal(10_000)  # 100% (the pack holds ratios in basis points)
ONE_FEN = Decimal(1)
DAY = timedelta(days=1)

Span = tuple[date, date]  # both days included


class NotSettled(ValueError):
    """A visit the model has no rule for (no version in force, no such category)."""


def half_up(fen: int, bp: int) -> int:
    """fen × ratio, rounded half-up to the fen (rules inventory: money is fen, half-up)."""
    return int((Decimal(fen) * Decimal(bp) / BASIS_POINTS).quantize(ONE_FEN, ROUND_HALF_UP))


# -- what a member and a visit are ---------------------------------------------------------


@dataclass(frozen=True)
class MemberSpec:
    type: str  # employee / retiree / flexible / single_pool
    has_account: bool
    balance: int = 0  # fen in the personal account before the first visit
    retirement_processed: date | None = None  # the day a retirement was processed
    raised: bool = False  # JMS-9: the raised contribution rate is paid
    benefit_periods: tuple[Span, ...] | None = None  # None: entitled throughout
    stays: tuple[Span, ...] = ()  # inpatient stays
    arrears: tuple[Span, ...] = ()  # periods of unpaid contributions
    filings: tuple[Span, ...] = ()  # remote filings
    diseases: tuple[str, ...] = ()  # recognised chronic and special diseases


@dataclass(frozen=True)
class VisitSpec:
    time: datetime
    institution: str
    level: str
    total: int
    in_scope: int
    category: str = "general"
    remote: bool = False
    designated: bool = True
    manual: bool = False  # not settled online
    third_party: bool = False
    disease: str | None = None
    drug: str | None = None
    prescription_level: str | None = None  # a pharmacy sale: the prescriber's level
    use_account: bool = True


@dataclass(frozen=True)
class LineStep:
    """What one benefit line did with a visit (the generator reads these to steer)."""

    line: str
    paid_by_line: bool  # eligible and the level covered
    deductible_left: int = 0  # the deductible still to meet before this visit
    charged: int = 0
    ratio: int = 0
    due: int = 0  # the ratio's pay before caps
    room: int = 0  # what the caps still allowed
    binding: str = ""  # the cap that allowed it: monthly or annual
    paid: int = 0
    left: int = 0  # cost passed on to the next line


@dataclass
class Answer:
    deductible: int
    fund_pay: int
    account_pay: int
    cash_pay: int
    account_balance: int
    member_class: str
    paths: list[str] = field(default_factory=list)
    steps: list[LineStep] = field(default_factory=list)

    def figures(self) -> tuple:
        return (
            self.deductible,
            self.fund_pay,
            self.account_pay,
            self.cash_pay,
            self.account_balance,
            self.member_class,
        )


# -- the rules of one benefit line, read from a pack version -------------------------------


@dataclass(frozen=True)
class Line:
    name: str
    conditions: tuple[tuple[str, tuple[str, ...]], ...]  # (condition, member types it binds)
    exempt: frozenset[str]
    deductible_basis: str  # none / annual / per_visit / per_item_year
    deductible_by_class: dict[str, int]
    deductible_by_level: dict[str, int]
    window: str  # none / same_institution_day / hours_from_charged
    window_seconds: int
    window_closes_at_year_end: bool  # NY-5a's year_end reading (shipped: false)
    deductible_pool: str
    ratios: dict[str, dict[str, int]]  # class -> level -> bp; a level not listed is not paid
    annual_cap: dict[str, int]
    per_extra_disease: int
    cap_ceiling: int | None
    not_counted: frozenset[str]  # XSBN-12/13: recognised (special) diseases not raising it
    monthly_cap: dict[str, int] | None
    pool: str
    onward: str | None
    # JMS-18, PZH-10/11: the section paying a visit whose disease is not (is) recognised
    if_unrecognised: str | None = None
    if_recognised: str | None = None


_LINES: dict[tuple[int, str], tuple[object, Line]] = {}  # the version is kept: ids stay unique


def line_rules(version, name: str) -> Line:
    key = (id(version), name)
    if key not in _LINES:
        if name == "general_overflow":
            rules = _overflow_line(version)
        elif name == "special_exception":
            rules = _exception_line(version)
        else:
            rules = _benefit_line(version, name, getattr(version, name))
        _LINES[key] = (version, rules)
    return _LINES[key][1]


def lines_of(version) -> list[str]:
    names = [s for s in SECTIONS if getattr(version, s) is not None]
    if version.general.overflow is not None:
        names.append("general_overflow")
    if version.special is not None and version.special.exceptions is not None:
        names.append("special_exception")
    return names


def _benefit_line(version, name: str, b) -> Line:
    shared = b.annual_cap.shared_with is not None  # XSBN-13/15/16/17: the inpatient cap
    return Line(
        name=name,
        conditions=tuple(
            (str(c.condition), tuple(str(t) for t in c.member_types or ()))
            for c in b.eligibility
            if c.applies  # a condition the pack cites as not applying is not enforced
        ),
        exempt=frozenset(str(c) for c in b.exempt.conditions) if b.exempt else frozenset(),
        **_deductible(version, b.deductible),
        deductible_pool=name,
        ratios={k: _ratio_table(version, b.ratio, k) for k in CLASSES},
        annual_cap={
            k: version.inpatient.annual_cap[k] if shared else getattr(b.annual_cap, k)
            for k in CLASSES
        },
        per_extra_disease=b.annual_cap.per_extra_disease or 0,
        cap_ceiling=b.annual_cap.max,
        not_counted=frozenset(b.annual_cap.not_counted.diseases)
        if b.annual_cap.not_counted
        else frozenset(),
        monthly_cap=None
        if b.monthly_cap is None
        else {k: getattr(b.monthly_cap, k) for k in CLASSES},
        pool="inpatient" if shared else name,
        onward="general" if b.then else "general_overflow" if b.overflow else None,
        if_unrecognised=b.unrecognised.to if b.unrecognised else None,
        if_recognised=b.recognised.to if b.recognised else None,
    )


def _overflow_line(version) -> Line:
    """XSBN-11: general in-scope cost beyond the general cap, paid at the inpatient ratio of
    the level and class, no second deductible, counted against the inpatient cap."""
    inpatient = version.inpatient
    return Line(
        name="general_overflow",
        conditions=(),
        exempt=frozenset(),
        deductible_basis="none",
        deductible_by_class={},
        deductible_by_level={},
        window="none",
        window_seconds=0,
        window_closes_at_year_end=False,
        deductible_pool="inpatient",
        ratios={k: {lv: getattr(inpatient, k)[lv] for lv in MEDICAL_LEVELS} for k in CLASSES},
        annual_cap={k: inpatient.annual_cap[k] for k in CLASSES},
        per_extra_disease=0,
        cap_ceiling=None,
        not_counted=frozenset(),
        monthly_cap=None,
        pool="inpatient",
        onward=None,
    )


def _exception_line(version) -> Line:
    """XSBN-13: chronic renal failure and severe mental illness: no deductible, their own
    ratio; otherwise the special-disease line (its cap, its conditions)."""
    special = _benefit_line(version, "special", version.special)
    exc = version.special.exceptions
    flat = {lv: exc.ratio for lv in MEDICAL_LEVELS}
    return replace(
        special,
        name="special_exception",
        deductible_basis="none",
        ratios={k: flat for k in CLASSES},
    )


def _inpatient_deductible(version, ref, level: str) -> int:
    """XSBN-15/16/17: a deductible taken from the inpatient one (of a fixed level, or a level
    read as another), scaled by a share (day surgery: half)."""
    source = ref.level or ref.level_as.get(level, level)
    return half_up(version.inpatient.deductible[source], ref.share)


def _deductible(version, d) -> dict:
    by_class: dict[str, int] = {}
    by_level: dict[str, int] = {}
    window, seconds, closes = "none", 0, False
    if d.basis == "annual":
        by_class = {k: getattr(d, k) for k in CLASSES}
    elif d.basis == "per_visit":
        window, seconds = str(d.window), (d.window_hours or 0) * 3600
        closes = d.year_end is not None and d.year_end.closes
        by_level = {str(k): v for k, v in (d.by_level or {}).items()} or {
            lv: _inpatient_deductible(version, d.from_inpatient, lv) for lv in MEDICAL_LEVELS
        }
    elif d.basis == "per_item_year":
        by_level = {
            lv: d.amount
            if d.amount is not None
            else _inpatient_deductible(version, d.from_inpatient, lv)
            for lv in LEVELS
        }
    return {
        "deductible_basis": str(d.basis),
        "deductible_by_class": by_class,
        "deductible_by_level": by_level,
        "window": window,
        "window_seconds": seconds,
        "window_closes_at_year_end": closes,
    }


def _ratio_table(version, ratio, klass: str) -> dict[str, int]:
    """By level and class; one flat ratio at every institution level; or the inpatient
    ratio of the level (XSBN-13/15/16/17), limited to the levels the pack lists (XSBN-16)."""
    if ratio.employee is not None:
        table = {str(lv): bp for lv, bp in getattr(ratio, klass).items()}
    elif ratio.flat is not None:
        table = dict.fromkeys(MEDICAL_LEVELS, ratio.flat)
    else:
        ref, inpatient = ratio.from_inpatient, getattr(version.inpatient, klass)
        table = {lv: inpatient[ref.level or ref.level_as.get(lv, lv)] for lv in MEDICAL_LEVELS}
    if ratio.levels is not None:
        table = {lv: bp for lv, bp in table.items() if lv in {str(x) for x in ratio.levels}}
    return table


# -- dates: versions, retirement, periods ----------------------------------------------------


def last_day(pack, i: int) -> date | None:
    """A version's last day: its own end, or the day before the next version starts."""
    ends = [pack.versions[i].valid_to] if pack.versions[i].valid_to else []
    if i + 1 < len(pack.versions):
        ends.append(pack.versions[i + 1].valid_from - DAY)
    return min(ends) if ends else None


_IN_FORCE: dict[int, tuple[object, list]] = {}  # the pack is kept: ids stay unique


def in_force(pack) -> list[tuple[object, date, date | None]]:
    """(version, first day, last day or None) of each version of the pack."""
    if id(pack) not in _IN_FORCE:
        spans = [(v, v.valid_from, last_day(pack, i)) for i, v in enumerate(pack.versions)]
        _IN_FORCE[id(pack)] = (pack, spans)
    return _IN_FORCE[id(pack)][1]


def version_on(pack, day: date):
    """The version in force on `day` (a pack's versions follow one another by date)."""
    for version, first, last in in_force(pack):
        if first <= day and (last is None or day <= last):
            return version
    return None


def switch_day(pack, member: MemberSpec) -> date | None:
    """X-2, KF-12, NY-6: the day a member retiring gets retiree ratios and caps: the day
    retiree benefits start, or the first day of the month after the retirement is
    processed, as the version in force on the processing day says."""
    processed = member.retirement_processed
    if processed is None:
        return None
    version = version_on(pack, processed)
    if version is None:
        raise NotSettled(f"no policy on the retirement day {processed}")
    if str(version.retirement.takes_effect) == "next_month":
        return date(processed.year + processed.month // 12, processed.month % 12 + 1, 1)
    return processed


def member_class(pack, member: MemberSpec, day: date) -> str:
    """X-2: a retiree, or a member whose retirement has taken effect, gets retiree rules."""
    if member.type == "retiree":
        return "retiree"
    switched = switch_day(pack, member)
    return "retiree" if switched is not None and day >= switched else "employee"


def covers(spans, day: date) -> bool:
    return any(start <= day <= end for start, end in spans)


def date_paths(pack, member: MemberSpec, day: date) -> list[str]:
    """Boundary days: a version's first and last day, a retirement day and the day before,
    a period's first and last day and the day after it."""
    paths = []
    for _version, first, last in in_force(pack):
        if day == first:
            paths.append("version.first_day")
        if day == last:
            paths.append("version.last_day")
    switched = switch_day(pack, member)
    if switched is not None:
        if day == switched:
            paths.append("retirement.switch_day")
        elif day == switched - DAY:
            paths.append("retirement.day_before")
    spans = (*(member.benefit_periods or ()), *member.stays, *member.arrears, *member.filings)
    for start, end in spans:
        if day == start:
            paths.append("period.first_day")
        if day == end:
            paths.append("period.last_day")
        if day == end + DAY:
            paths.append("period.day_after")
    return paths


# -- the member's year-to-date state ---------------------------------------------------------


def new_state(member: MemberSpec) -> dict:
    return {
        "year": None,
        "month": None,
        "balance": member.balance,
        "paid_year": {},  # pool -> fund paid this year
        "paid_month": {},  # pool -> fund paid this month
        "deductible_met": {},  # line -> annual deductible met this year
        "windows": {},  # institution -> [time of the charged visit, deductible met in it]
        "items": {},  # drug -> its yearly deductible met
    }


def copy_state(state: dict) -> dict:
    return {
        **state,
        "paid_year": dict(state["paid_year"]),
        "paid_month": dict(state["paid_month"]),
        "deductible_met": dict(state["deductible_met"]),
        "windows": {k: list(v) for k, v in state["windows"].items()},
        "items": dict(state["items"]),
    }


def roll_year(state: dict, when: datetime, paths: list[str]) -> None:
    """X-1 (JMS-14, KF-9c): caps used and deductibles met are per calendar year; a monthly
    cap (KF-9b) per calendar month. A deductible window is not a year's accumulator: the
    text counts visits within it once whatever the date (NY-5a)."""
    if state["year"] != when.year:
        if state["year"] is not None:
            paths.append("year.roll")
        state["year"] = when.year
        state["paid_year"] = {}
        state["deductible_met"] = {}
        state["items"] = {}
    if state["month"] != (when.year, when.month):
        state["month"] = (when.year, when.month)
        state["paid_month"] = {}


# -- one visit ---------------------------------------------------------------------------------


def settle(pack, member: MemberSpec, state: dict, visit: VisitSpec) -> Answer:
    """One visit under the version in force on its day; mutates `state`."""
    day = visit.time.date()
    version = version_on(pack, day)
    if version is None:
        raise NotSettled(f"no {pack.region} policy on {day}")
    klass = member_class(pack, member, day)
    paths = date_paths(pack, member, day)
    roll_year(state, visit.time, paths)
    level = settled_level(version, visit, paths)
    line: str | None = paying_line(version, member, visit, paths)
    paths.append(f"line.{line}")
    scope, deductible, fund, steps = visit.in_scope, 0, 0, []
    while line is not None:
        rules = line_rules(version, line)
        step = settle_line(pack, rules, member, state, visit, klass, level, scope, paths)
        steps.append(step)
        deductible += step.charged
        fund += step.paid
        line = rules.onward if step.left > 0 else None
        if line is not None:
            paths.append(f"overflow.to_{line}")
        scope = step.left
    # the pack's reading of X-5: the in-scope share, or the member's whole share
    owed = visit.total if version.account_pays.share == "member" else visit.in_scope
    account = pay_account(member, state, visit, owed - fund, paths)
    cash = visit.total - fund - account
    return Answer(deductible, fund, account, cash, state["balance"], klass, paths, steps)


def settled_level(version, visit: VisitSpec, paths: list[str]) -> str:
    """KF-23, XSBN-32: a pharmacy sale on a circulated prescription settles at the
    prescribing institution's level, where the pack says so."""
    if (
        visit.level == "pharmacy"
        and visit.prescription_level is not None
        and version.channels.prescription is not None
    ):
        paths.append("prescription_level")
        return visit.prescription_level
    return visit.level


def entry_line(version, visit: VisitSpec) -> str:
    """The line a visit's category is paid by; XSBN-13's two diseases have a line of their
    own (no deductible, their ratio)."""
    category = visit.category
    if getattr(version, category, None) is None:
        raise NotSettled(f"no {category} policy in this version")
    special = version.special
    if (
        category == "special"
        and special.exceptions is not None
        and visit.disease in special.exceptions.diseases
    ):
        return "special_exception"
    return category


def paying_line(version, member: MemberSpec, visit: VisitSpec, paths: list[str]) -> str:
    """JMS-18 (治疗其他疾病的费用按普通门诊统筹政策支付), PZH-11: a visit of a category for a
    disease the member is not recognised for is paid by the section the pack names (general
    outpatient); PZH-10: a 两病 visit for a disease recognised for the chronic policy is paid
    by that policy alone. One step: the section named does not send it on again."""
    line = entry_line(version, visit)
    rules = line_rules(version, line)
    recognised = visit.disease is not None and visit.disease in member.diseases
    other = rules.if_recognised if recognised else rules.if_unrecognised
    if other is None:
        return line
    paths.append("route.recognised" if recognised else "route.unrecognised")
    return other


def settle_line(pack, rules: Line, member, state, visit, klass, level, scope, paths) -> LineStep:
    """Eligibility, level, deductible, ratio, caps; and the cost the caps left unpaid."""
    day = visit.time.date()
    if not eligible(rules, member, visit, day, klass, paths):
        return LineStep(rules.name, False)
    ratio = rules.ratios[klass].get(level)
    if ratio is None:
        paths.append("level_not_covered")
        return LineStep(rules.name, False)
    left_before, charged = charge_deductible(rules, state, visit, klass, level, scope, paths)
    above = scope - charged
    due = half_up(above, ratio)
    if above * ratio % 10_000 == 5_000:
        paths.append("half_up")
    if rules.name == "general" and above > 0:
        paths.append(f"general.ratio.{klass}.{level}")
    room, binding = cap_room(pack, rules, member, state, klass, day, due, paths)
    paid = min(due, room)
    state["paid_year"][rules.pool] = state["paid_year"].get(rules.pool, 0) + paid
    state["paid_month"][rules.pool] = state["paid_month"].get(rules.pool, 0) + paid
    left = cost_left(above, due, paid, ratio, paths)
    return LineStep(rules.name, True, left_before, charged, ratio, due, room, binding, paid, left)


def condition_holds(cond: str, types, member: MemberSpec, visit: VisitSpec, day, klass) -> bool:
    if cond == "designated":  # JMS-7a, KF-19, NY-5a, PZH-7a, XSBN-9
        return visit.designated
    if cond == "benefit_period":  # KF-7, PZH-7a
        return member.benefit_periods is None or covers(member.benefit_periods, day)
    if cond == "not_inpatient":  # KF-10
        return not covers(member.stays, day)
    if cond == "not_in_arrears":  # KF-13
        return not covers(member.arrears, day)
    if cond == "has_account":  # PZH-7a
        return member.has_account
    if cond == "raised_contribution":  # JMS-9: retired ones directly, others once raised
        return member.type not in types or klass == "retiree" or member.raised
    if cond == "remote_filing":  # JMS-8, KF-22, PZH-7d, XSBN-28
        return not visit.remote or covers(member.filings, day)
    if cond == "remote_direct_settlement":  # KF-22, NY-15
        return not (visit.remote and visit.manual)
    if cond == "no_third_party":  # PZH-8
        return not visit.third_party
    raise NotSettled(f"the model has no rule for the condition {cond}")


def eligible(rules: Line, member, visit, day, klass, paths: list[str]) -> bool:
    """Every condition the line enforces must hold; a condition the line is expressly not
    limited by (XSBN-29) is not asked."""
    ok = True
    for cond, types in rules.conditions:
        if not condition_holds(cond, types, member, visit, day, klass):
            paths.append(f"refused.{cond}")
            ok = False
    for cond in sorted(rules.exempt):
        if not condition_holds(cond, (), member, visit, day, klass):
            paths.append(f"exempt.{cond}")
    return ok


# -- deductibles -------------------------------------------------------------------------------


def charge_deductible(rules: Line, state, visit, klass, level, scope, paths) -> tuple[int, int]:
    """(the deductible still to meet, the part of `scope` charged to it)."""
    if rules.deductible_basis == "annual":
        return annual_deductible(rules, state, klass, scope, paths)
    if rules.deductible_basis == "per_visit":
        return per_visit_deductible(rules, state, visit, level, scope, paths)
    if rules.deductible_basis == "per_item_year":
        return item_deductible(rules, state, visit, level, scope, paths)
    return 0, 0


def deductible_paths(name: str, remaining: int, scope: int, paths: list[str]) -> None:
    if remaining > 0 and scope == remaining:
        paths.append(f"{name}.deductible_exact")
    elif remaining > 0 and scope == remaining + 1:
        paths.append(f"{name}.deductible_plus_one_fen")


def annual_deductible(rules: Line, state, klass, scope, paths) -> tuple[int, int]:
    """JMS-7a, PZH-7b/7c, XSBN-12, XSBN-13: one deductible a year per line, by the class
    of the day; what was met earlier in the year counts (X-2)."""
    met = state["deductible_met"].get(rules.deductible_pool, 0)
    remaining = max(rules.deductible_by_class[klass] - met, 0)
    charge = min(remaining, scope)
    state["deductible_met"][rules.deductible_pool] = met + charge
    deductible_paths(rules.name, remaining, scope, paths)
    return remaining, charge


def window_end(rules: Line, opened: datetime) -> datetime:
    """KF-9a: the calendar day of the charged visit; NY-5a: N hours from the charged visit."""
    if rules.window == "same_institution_day":
        return datetime.combine(opened.date() + DAY, datetime.min.time())
    return opened + timedelta(seconds=rules.window_seconds)


def per_visit_deductible(rules: Line, state, visit, level, scope, paths) -> tuple[int, int]:
    """KF-9a, NY-5a, XSBN-9, XSBN-15, XSBN-17: a deductible per visit by level; where the
    pack has a window, visits to the same institution inside the window of the visit that
    was charged count one deductible (its rest is charged to the next ones)."""
    standard = rules.deductible_by_level.get(level, 0)
    if standard == 0:
        return 0, 0
    window = state["windows"].get(visit.institution) if rules.window != "none" else None
    if window is not None and rules.window_closes_at_year_end and window[0].year != visit.time.year:
        window = None  # the pack closes windows at the end of the year they were opened in
    inside = False
    if window is not None:
        end = window_end(rules, window[0])
        inside = visit.time < end
        if visit.time == end:
            paths.append("window.exact")
        elif visit.time == end - timedelta(seconds=1):
            paths.append("window.one_second_before")
        elif inside:
            paths.append("window.inside")
    if inside:
        remaining = max(standard - window[1], 0)
        charge = min(remaining, scope)
        window[1] += charge
    else:
        remaining = standard
        charge = min(standard, scope)
        if rules.window != "none" and charge > 0:
            state["windows"][visit.institution] = [visit.time, charge]
    deductible_paths(rules.name, remaining, scope, paths)
    return remaining, charge


def item_deductible(rules: Line, state, visit, level, scope, paths) -> tuple[int, int]:
    """XSBN-16: one deductible per negotiated drug per year."""
    standard = rules.deductible_by_level.get(level, 0)
    met = state["items"].get(visit.drug, 0)
    remaining = max(standard - met, 0)
    if visit.drug in state["items"] and remaining == 0:
        paths.append(f"{rules.name}.deductible_repeat")
    charge = min(remaining, scope)
    state["items"][visit.drug] = met + charge
    deductible_paths(rules.name, remaining, scope, paths)
    return remaining, charge


# -- caps ----------------------------------------------------------------------------------------


def annual_cap(rules: Line, klass: str, member: MemberSpec, paths: list[str]) -> int:
    """The class's annual cap; XSBN-12: 2000 for one disease + 1000 per further disease, at
    most 5000."""
    cap = rules.annual_cap[klass]
    n = len([d for d in member.diseases if d not in rules.not_counted])
    if n < len(member.diseases):
        paths.append(f"{rules.name}.cap_not_counted")
    if rules.cap_ceiling is not None and n > 1:
        grown = cap + (n - 1) * rules.per_extra_disease
        paths.append(f"{rules.name}.cap_grown")
        if grown > rules.cap_ceiling:
            paths.append(f"{rules.name}.cap_ceiling")
        cap = min(grown, rules.cap_ceiling)
    return cap


def cap_room(pack, rules: Line, member, state, klass, day, due, paths) -> tuple[int, str]:
    """What the caps still allow the line's pool: the monthly cap (KF-9b) and the annual cap
    of the class of the day, against one accumulator for the year whatever the class
    (X-2, KF-12, NY-6: what was paid before retiring counts against the retiree cap)."""
    pool = rules.pool
    used = state["paid_year"].get(pool, 0)
    switched = switch_day(pack, member)
    if klass == "retiree" and switched and switched > date(day.year, 1, 1) and used > 0:
        paths.append("retirement.cap_merged")
    room = max(annual_cap(rules, klass, member, paths) - used, 0)
    binding = "annual"
    if rules.monthly_cap is not None:
        monthly_room = max(rules.monthly_cap[klass] - state["paid_month"].get(pool, 0), 0)
        if monthly_room <= room:
            room, binding = monthly_room, "monthly"
    if due > 0 and due == room:
        paths.append(f"{pool}.{binding}_cap_exact")
    elif due > room > 0:
        paths.append(f"{pool}.{binding}_cap_cut")
    elif due > room:
        paths.append(f"{pool}.{binding}_cap_exhausted")
    return room, binding


def cost_left(above: int, due: int, paid: int, ratio: int, paths: list[str]) -> int:
    """JMS-18, PZH-10/11, XSBN-11: the in-scope cost beyond what the line's cap pays goes on
    to the next line: the cost above the deductible in the proportion the caps cut the pay
    due, to the fen half-up (the reading of tests/cases/jiamusi/chronic-routing.yaml:
    "1500 x 50 / 1050 = 71.43").

    Another reading, the cost less what the paid amount covers at the ratio
    (above - paid / ratio), differs from it by a fen now and then, from the rounding of the
    pay due; where it would, the path `overflow.fen_reading` is counted (not required)."""
    if paid >= due:
        return 0
    cut = Decimal(above) * Decimal(due - paid) / Decimal(due)
    left = int(cut.quantize(ONE_FEN, ROUND_HALF_UP))
    other = Decimal(above) - Decimal(paid) * BASIS_POINTS / Decimal(ratio)
    if int(other.quantize(ONE_FEN, ROUND_HALF_UP)) != left:
        paths.append("overflow.fen_reading")
    return left


# -- the personal account ------------------------------------------------------------------------


def pay_account(member: MemberSpec, state, visit: VisitSpec, share: int, paths) -> int:
    """X-5: after the fund, the member's share the pack lets the account pay (in-scope, or
    the whole), from the personal account, up to its balance, unless the member has none
    (X-4's exceptions: JMS-9, KF-16, XSBN-18) or pays in cash this time."""
    if share <= 0:
        return 0
    if not member.has_account:
        paths.append("account.none")
        return 0
    if not visit.use_account:
        paths.append("account.declined")
        return 0
    balance = state["balance"]
    if balance == share:
        paths.append("account.exact")
    elif 0 < balance < share:
        paths.append("account.short")
    paid = min(share, balance)
    state["balance"] = balance - paid
    return paid


# -- the boundaries a pack has ----------------------------------------------------------------


def boundary_paths(pack) -> list[str]:
    """The path names a run over this pack must exercise (each at least 100 times)."""
    want = {
        "version.first_day",
        "year.roll",
        "half_up",
        "retirement.switch_day",
        "retirement.day_before",
        "retirement.cap_merged",
        "account.exact",
        "account.short",
        "account.declined",
    }
    if any(last_day(pack, i) is not None for i in range(len(pack.versions))):
        want.add("version.last_day")
    for version in pack.versions:
        if version.channels.prescription is not None:
            want.add("prescription_level")
        if version.accounts.without_account:
            want.add("account.none")
        for name in lines_of(version):
            want |= _line_paths(line_rules(version, name))
        general = line_rules(version, "general")
        want |= {f"general.ratio.{k}.{lv}" for k in CLASSES for lv in general.ratios[k]}
    return sorted(want)


def _line_paths(rules: Line) -> set[str]:
    name, want = rules.name, set()
    if name != "general_overflow":
        want.add(f"line.{name}")
    for cond, _types in rules.conditions:
        want.add(f"refused.{cond}")
        if cond in PERIOD_CONDITIONS:
            want |= {"period.first_day", "period.last_day", "period.day_after"}
    want |= {f"exempt.{c}" for c in rules.exempt}
    if rules.deductible_basis != "none":
        want |= {f"{name}.deductible_exact", f"{name}.deductible_plus_one_fen"}
    if rules.deductible_basis == "per_item_year":
        want.add(f"{name}.deductible_repeat")
    if rules.window != "none":
        want |= {"window.exact", "window.one_second_before", "window.inside"}
    want |= {f"{rules.pool}.annual_cap_exact", f"{rules.pool}.annual_cap_cut"}
    if rules.monthly_cap is not None:
        want |= {f"{rules.pool}.monthly_cap_exact", f"{rules.pool}.monthly_cap_cut"}
    if rules.onward is not None:
        want.add(f"overflow.to_{rules.onward}")
    if rules.cap_ceiling is not None:
        want |= {f"{name}.cap_grown", f"{name}.cap_ceiling"}
    if rules.not_counted:
        want.add(f"{name}.cap_not_counted")
    if rules.if_unrecognised:
        want.add("route.unrecognised")
    if rules.if_recognised:
        want.add("route.recognised")
    if any(lv not in rules.ratios["employee"] for lv in LEVELS):
        want.add("level_not_covered")
    return want
