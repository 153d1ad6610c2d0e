"""What the engine needs to know about a member and a visit, as plain facts.

Facts are not rules: "the visit falls in an inpatient stay" is a fact; "no pooling during a
stay" (KF-10) is a rule a pack switches on. This module turns a member record and a visit
into the kernel's integer arguments.
"""

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property, lru_cache
from typing import NamedTuple

from gongji.engine import layout as L
from gongji.terms import Category, Level, MemberType, RetirementTiming

# The kernel counts time in local seconds and days since this (the one place it is said).
EPOCH = datetime(1970, 1, 1)
_EPOCH_ORDINAL = EPOCH.toordinal()
DAYS_BEFORE_EPOCH = _EPOCH_ORDINAL - 1  # from 1 January of year 1 (proleptic Gregorian)
LEVEL_INDEX = {level: i for i, level in enumerate(L.LEVELS)}
_TYPE_INDEX = {mtype: i for i, mtype in enumerate(L.MEMBER_TYPES)}


@dataclass(frozen=True, slots=True)
class Period:
    """A span of days, both ends included."""

    start: date
    end: date

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Member:
    type: MemberType
    has_account: bool
    retired_from: date | None = None  # the day retiree benefits take effect
    contribution_raised: bool = False  # raised contribution rate paid (JMS-9)
    benefit_periods: tuple[Period, ...] | None = None  # None: entitled throughout
    inpatient_stays: tuple[Period, ...] = ()
    arrears: tuple[Period, ...] = ()
    remote_filings: tuple[Period, ...] = ()
    # recognised 慢特病 codes: a cap may grow with them (XSBN-12), and whether a visit's disease
    # is among them may decide which category's policy pays it (JMS-18, PZH-10/11)
    chronic_diseases: tuple[str, ...] = ()

    @cached_property
    def periods_flat(self) -> list[int]:
        """Dated periods as the kernel reads them (computed once per member)."""
        return periods_flat(self)

    @cached_property
    def facts_args(self) -> tuple[int, bool, int, bool, list[int]]:
        """What `visit_facts` reads of the member, whatever the visit (computed once per
        member): its bits, whether a retiree, the day retired from, whether it has benefit
        periods, its dated periods."""
        return (
            member_bits(self.has_account, self.contribution_raised),
            self.type is MemberType.retiree,
            NO_DAY if self.retired_from is None else day_number(self.retired_from),
            self.benefit_periods is not None,
            self.periods_flat,
        )


class Visit(NamedTuple):
    """A visit as the engine settles it. A NamedTuple, immutable as a frozen dataclass is,
    but made at a fifth of the cost: a trial calculation makes one a visit, and a frozen
    dataclass's twenty `object.__setattr__` took 7% of calculating 40,000 visits."""

    time: datetime  # local time
    institution: str
    level: Level
    total: int  # fen
    in_scope: int  # fen
    category: Category = Category.general
    remote: bool = False
    designated: bool = True
    manual: bool = False  # not settled online (manual reimbursement from invoices)
    third_party: bool = False  # a third party is liable for the cost
    disease: str | None = None  # the diagnosis the category is claimed for
    drug: str | None = None  # negotiated-drug code: one deductible per drug per year
    internet: bool = False  # an internet hospital's visit; `level` is its physical institution's
    prescription_level: Level | None = None  # a pharmacy sale's prescribing institution's level
    prescribed_at: str | None = None  # a pharmacy sale's prescribing institution
    use_account: bool = True  # False: the member pays the in-scope share in cash (acct_used_flag)
    agreement: bool = True  # a designated institution (定点): the account may pay there
    # where the visit was priced from line items: how total minus in_scope splits
    out_of_scope: int = 0
    above_standard: int = 0
    class_b_self_pay: int = 0


def retirement_effective(processed: date, timing: RetirementTiming) -> date:
    """The day the retiree switch takes effect, from the day retirement was processed."""
    if timing is RetirementTiming.on_date:
        return processed
    first_of_month = processed.replace(day=1)
    return (first_of_month + timedelta(days=32)).replace(day=1)


@lru_cache(maxsize=65_536)
def institution_key(name: str) -> int:
    """A stable 63-bit key for an institution or item, so carried state still recognises it."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest()) >> 1


# -- facts as the kernel computes them (numba subset: integers and flat arrays) ------------
# Online, facts_of calls these per visit; the batch replay calls the same functions compiled.
NO_DAY = -(1 << 40)  # no retirement date
PERIOD_STRIDE = 3  # a member's periods, flat: (fact bit, first day, last day) per period


def member_bits(has_account, raised):
    """The facts that hold for a member whatever the visit."""
    return (L.F_HAS_ACCOUNT if has_account else 0) | (L.F_RAISED if raised else 0)


def visit_bits(designated, remote, manual, third_party, use_account):
    """The facts a visit states about itself."""
    bits = L.F_DESIGNATED if designated else 0
    bits |= L.F_REMOTE if remote else 0
    bits |= L.F_MANUAL if manual else 0
    bits |= L.F_THIRD_PARTY if third_party else 0
    return bits | (0 if use_account else L.F_ACCOUNT_DECLINED)


def visit_facts(day, year_start, bits, retiree_type, retired_from, limited, periods, lo, hi):
    """The fact bits of a visit on `day` (days since 1970; `year_start` is 1 January's).

    `bits` are the member's and the visit's own bits; `periods[lo:hi]` hold the member's
    dated periods, each setting its bit on the days it covers; `limited`: the member has
    benefit periods (without them, entitled throughout).
    """
    facts = bits
    for r in range(lo, hi, PERIOD_STRIDE):
        if periods[r + 1] <= day <= periods[r + 2]:
            facts |= periods[r]
    if not limited:
        facts |= L.F_IN_BENEFIT
    if retiree_type or (retired_from != NO_DAY and day >= retired_from):
        facts |= L.F_RETIRED
        # retired after 1 January of this year: the year's earlier pay counts
        if retired_from != NO_DAY and year_start < retired_from:
            facts |= L.F_SWITCHED_THIS_YEAR
    return facts


def class_of(facts):
    """The benefit class ratios and caps follow (X-2): retiree once retired."""
    return L.RETIREE if facts & L.F_RETIRED else L.EMPLOYEE


def year_start(year):
    """1 January of `year`, 00:00, in local seconds since 1970 (calendar arithmetic)."""
    y = year - 1
    days = 365 * y + y // 4 - y // 100 + y // 400 - DAYS_BEFORE_EPOCH
    return days * L.SECONDS_PER_DAY


KERNEL_FUNCTIONS = ("member_bits", "visit_bits", "visit_facts", "class_of", "year_start")


def day_number(day: date) -> int:
    """Days since 1970-01-01."""
    return day.toordinal() - _EPOCH_ORDINAL


def day_of(number: int) -> date:
    """The date `number` days after 1970-01-01 (the inverse of day_number)."""
    return date.fromordinal(number + _EPOCH_ORDINAL)


def local_seconds(t: datetime) -> int:
    """A local time as seconds since 1970-01-01 00:00 (its time zone, if any, ignored; a
    fraction of a second dropped, towards 1970). From the calendar fields, in integers: it
    runs for every visit, and a timedelta's float seconds took longer than the visit's facts."""
    days = t.toordinal() - _EPOCH_ORDINAL
    seconds = days * L.SECONDS_PER_DAY + t.hour * 3600 + t.minute * 60 + t.second
    return seconds + 1 if seconds < 0 and t.microsecond else seconds


def local_time(seconds: int) -> datetime:
    """The inverse of local_seconds."""
    return EPOCH + timedelta(seconds=seconds)


# The fact each kind of a member's dated periods sets on the days it covers (the names are
# Member's attributes and the columns of the analysis files).
PERIOD_FACTS = (
    ("benefit_periods", L.F_IN_BENEFIT),
    ("inpatient_stays", L.F_IN_STAY),
    ("arrears", L.F_IN_ARREARS),
    ("remote_filings", L.F_FILED),
)


def periods_flat(member: Member) -> list[int]:
    """The member's dated periods as `visit_facts` reads them."""
    flat: list[int] = []
    for name, bit in PERIOD_FACTS:
        for p in getattr(member, name) or ():
            flat += [bit, day_number(p.start), day_number(p.end)]
    return flat


def facts_of(member: Member, visit: Visit) -> int:
    bits, retiree, retired_from, limited, periods = member.facts_args
    day = visit.time.date()
    return visit_facts(
        day_number(day),
        day_number(date(day.year, 1, 1)),
        bits
        | visit_bits(
            visit.designated, visit.remote, visit.manual, visit.third_party, visit.use_account
        )
        | (0 if visit.agreement else L.F_NO_AGREEMENT),
        retiree,
        retired_from,
        limited,
        periods,
        0,
        len(periods),
    )


def item_key(drug: str | None) -> int:
    """The per-item deductible key of a drug; 0 marks a free slot, so no drug is 0."""
    return (institution_key(drug) or 1) if drug else 0


def kernel_args(member: Member, visit: Visit, diseases: int | None = None) -> tuple[int, ...]:
    """(when, month, institution, item, level, class, member type, facts, diseases, total,
    in_scope): the kernel's arguments before the line. `diseases`: how many of the member's
    recognised diseases a growing cap counts (Tables.counted; all of them if not given)."""
    t = visit.time
    facts = facts_of(member, visit)
    return (
        local_seconds(t),
        t.year * 12 + t.month - 1,
        institution_key(visit.institution),
        item_key(visit.drug),
        LEVEL_INDEX[visit.level],
        class_of(facts),
        _TYPE_INDEX[member.type],
        facts,
        len(member.chronic_diseases) if diseases is None else diseases,
        visit.total,
        visit.in_scope,
    )
