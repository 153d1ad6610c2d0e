"""What the engine needs to know about a member and a visit, as plain facts.

Facts are not rules: "the visit falls in an inpatient stay" is a fact; "no pooling during a
stay" (KF-10) is a rule a pack switches on. This module turns a member record and a visit
into the kernel's integer arguments.
"""

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from gongji.engine import layout as L
from gongji.terms import Category, Level, MemberType, RetirementTiming

_EPOCH = datetime(1970, 1, 1)
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
    chronic_diseases: tuple[str, ...] = ()  # recognised 慢特病 codes (caps may grow with them)

    def retired_on(self, day: date) -> bool:
        if self.type is MemberType.retiree:
            return True
        return self.retired_from is not None and day >= self.retired_from


@dataclass(frozen=True, slots=True)
class Visit:
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
    use_account: bool = True  # False: the member pays the in-scope share in cash (acct_used_flag)
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


def facts_of(member: Member, visit: Visit) -> int:
    day = visit.time.date()
    retired = member.retired_on(day)
    rf = member.retired_from
    facts = (
        (L.F_DESIGNATED, visit.designated),
        (
            L.F_IN_BENEFIT,
            member.benefit_periods is None or _any_covers(member.benefit_periods, day),
        ),
        (L.F_IN_STAY, _any_covers(member.inpatient_stays, day)),
        (L.F_IN_ARREARS, _any_covers(member.arrears, day)),
        (L.F_HAS_ACCOUNT, member.has_account),
        (L.F_RAISED, member.contribution_raised),
        (L.F_REMOTE, visit.remote),
        (L.F_FILED, _any_covers(member.remote_filings, day)),
        (L.F_MANUAL, visit.manual),
        (L.F_THIRD_PARTY, visit.third_party),
        (L.F_RETIRED, retired),
        # retired after 1 January of this year: the year's earlier pay counts
        (L.F_SWITCHED_THIS_YEAR, retired and rf is not None and date(day.year, 1, 1) < rf),
        (L.F_ACCOUNT_DECLINED, not visit.use_account),
    )
    return sum(bit for bit, holds in facts if holds)


def kernel_args(member: Member, visit: Visit) -> tuple[int, ...]:
    """(when, month, institution, item, level, class, member type, facts, diseases, total,
    in_scope): the kernel's arguments before the line."""
    t = visit.time
    facts = facts_of(member, visit)
    return (
        int((t.replace(tzinfo=None) - _EPOCH).total_seconds()),
        t.year * 12 + t.month - 1,
        institution_key(visit.institution),
        institution_key(visit.drug) or 1 if visit.drug else 0,  # item key; 0 marks a free slot
        LEVEL_INDEX[visit.level],
        L.RETIREE if facts & L.F_RETIRED else L.EMPLOYEE,
        _TYPE_INDEX[member.type],
        facts,
        len(member.chronic_diseases),
        visit.total,
        visit.in_scope,
    )


def _any_covers(periods: tuple[Period, ...], day: date) -> bool:
    return any(p.covers(day) for p in periods)
