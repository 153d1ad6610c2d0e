"""Personal-account rules outside a visit's settlement, as pure functions of pack values:
the monthly credit (X-4 and each region's crediting article), the version a month is
credited under and from when a new retiree is credited as one, the back-credit of a
provisional standard (JMS-10a), whom a premium is for and whether it is frozen, with the
transfer day of a frozen one (X-4, KF-17, XSBN-26), and what a holder's account pays by
family mutual aid (XSBN-24).

Amounts are fen. No I/O: the ledger reads members and contributions, calls these and posts
the journal entries.
"""

from datetime import date, timedelta

from gongji.engine.facts import retirement_effective
from gongji.money import apply_ratio, round_to_yuan
from gongji.policy.schema import Credit, Crediting, Pack, PremiumFreeze, PremiumUse, Version
from gongji.terms import AccountPurpose, Beneficiary, MemberType, RetirementTiming


def crediting_version(pack: Pack, month: date) -> Version | None:
    """The version a month is credited under: the one in force on its first day; for the
    month the pack's first version comes into force part-way through, that version where
    its crediting says so (`first_month`: a month is credited whole); else None."""
    month = month.replace(day=1)
    version = pack.version_on(month)
    first = pack.versions[0]
    if version is None and first.crediting.first_month is not None:
        return first if first.valid_from.replace(day=1) == month else None
    return version


def credit_switch(
    crediting: Crediting,
    ratio_timing: RetirementTiming,
    processed: date | None,
    benefits_from: date | None,
) -> date | None:
    """The day from which a new retiree is credited as one, from the day the retirement was
    processed and the day retiree benefits start (the member's switch, X-2):
    - on_date (KF-16 从其享受退休人员医疗保障待遇之日起): the day benefits start;
    - next_month (NY-11 从办理之日次月起, JMS-10b 从次月起): the first day of the month
      after processing. Without a processing day, the day benefits start stands for it: where
      the pack's benefits too start the month after processing (NY-6, the same words as
      NY-11), that day already is the crediting switch; where they start on the processing
      day itself, crediting switches the month after it."""
    if crediting.switch.takes_effect is RetirementTiming.on_date:
        return benefits_from
    if processed is not None:
        return retirement_effective(processed, RetirementTiming.next_month)
    if benefits_from is None or ratio_timing is RetirementTiming.next_month:
        return benefits_from
    return retirement_effective(benefits_from, RetirementTiming.next_month)


def credit_class(member_type: MemberType, switch: date | None, month: date) -> MemberType:
    """The class a month is credited as: a member switched to retiree (`credit_switch`) is
    credited as one for every month that begins on or after the switch — a month is
    credited whole at one standard."""
    if switch is not None and switch <= month:
        return MemberType.retiree
    return member_type


def credit_for(crediting: Crediting, klass: MemberType) -> Credit | None:
    """The credit of a member class; None: the class is not credited (it has no account)."""
    return getattr(crediting, klass.value)


def monthly_credit(credit: Credit, base: int | None, own: int | None = None) -> int | None:
    """One month's credit: a share of the month's contribution base, or the member's own
    contribution — as paid (`own`, where the contribution record gives it), else at its rate
    of the base (None while the month's contribution is not paid: no base) — a fixed amount,
    or a share of the average pension, rounded to whole yuan where the pack says so (PZH-4a:
    以"元"为单位四舍五入)."""
    if credit.own_contribution is not None and base is not None and own is not None:
        return own
    share = credit.percent_of_base if credit.own_contribution is None else credit.own_contribution
    if share is not None:
        return None if base is None else apply_ratio(base, share)
    if credit.fixed is not None:
        return credit.fixed
    amount = apply_ratio(credit.average_pension, credit.percent_of_pension)
    return round_to_yuan(amount) if credit.round_to_yuan else amount


def from_contribution(credit: Credit) -> bool:
    """X-4: a share of the base, or the whole own contribution, comes from the member's own
    contribution; a fixed amount or a share of the pension from the pooling fund."""
    return credit.percent_of_base is not None or credit.own_contribution is not None


def back_credit(due: int, credited: int) -> int:
    """JMS-10a: what a month already credited is topped up by once the standard in force for
    it is higher; credits are never taken back."""
    return due - credited if due > credited else 0


def default_beneficiary(use: PremiumUse) -> Beneficiary | None:
    """Whom a premium is for when the request does not say: the member, where the premium
    may be for the member (KF-17: 本人参加职工大额医疗费用补助); otherwise nobody can be
    assumed (a resident-insurance premium is a relative's, and which one must be said)."""
    return Beneficiary.member if Beneficiary.member in use.beneficiaries else None


def is_frozen(freeze: PremiumFreeze | None, purpose: AccountPurpose) -> bool:
    """XSBN-26 (二): premiums of the purposes the pack lists are frozen until transferred;
    others (a commercial health-insurance purchase, (三)) are paid at once."""
    return freeze is not None and purpose in freeze.purposes


def freeze_due(freeze: PremiumFreeze, frozen_on: date) -> date:
    """XSBN-26: a premium frozen on `frozen_on` is transferred by the pack's day of the next
    month."""
    return (frozen_on.replace(day=1) + timedelta(days=32)).replace(day=freeze.transfer_by_day)


def unpaid_in_scope(in_scope: int, fund_pay: int, account_pay: int) -> int:
    """XSBN-24: the in-scope share of a visit that neither the fund nor the user's own account
    paid, which a holder's account may pay by mutual aid (not above zero: nothing)."""
    return in_scope - fund_pay - account_pay


def mutual_aid(unpaid: int, holder_balance: int) -> int:
    """XSBN-24: what the holder's account pays of the user's unpaid in-scope share: all of
    it, or as much as the holder's balance holds."""
    return min(unpaid, holder_balance)
