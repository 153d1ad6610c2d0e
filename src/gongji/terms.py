"""The fixed vocabulary shared by packs, engine and scenarios (names from the glossary).

The order of each enum is its index in the engine's parameter tables: append, never reorder.
"""

from enum import StrEnum


class Level(StrEnum):
    """Designated institution tier (医疗机构级别); a retail pharmacy is its own kind."""

    primary = "primary"  # 基层: 社区卫生服务中心, 乡镇卫生院, 村卫生室, 社区卫生服务站
    level1 = "level1"
    level2 = "level2"
    level3 = "level3"
    pharmacy = "pharmacy"  # 定点零售药店


class MemberType(StrEnum):
    employee = "employee"  # 在职
    retiree = "retiree"  # 退休
    flexible = "flexible"  # 灵活就业
    single_pool = "single_pool"  # 单建统筹


class MemberClass(StrEnum):
    """The benefit class that ratios and caps depend on."""

    employee = "employee"
    retiree = "retiree"


class Category(StrEnum):
    general = "general"
    chronic = "chronic"
    special = "special"
    two_diseases = "two_diseases"
    emergency = "emergency"
    negotiated_drug = "negotiated_drug"
    day_surgery = "day_surgery"


class Condition(StrEnum):
    """Eligibility mechanisms a pack can switch on for general outpatient pooling."""

    designated = "designated"  # the institution is designated for outpatient pooling
    benefit_period = "benefit_period"  # the visit falls in one of the member's benefit periods
    not_inpatient = "not_inpatient"  # not during an inpatient stay
    not_in_arrears = "not_in_arrears"  # not in a period of unpaid contributions
    has_account = "has_account"  # the member has a personal account
    raised_contribution = "raised_contribution"  # listed types, not retired: raised rate paid
    remote_filing = "remote_filing"  # a remote visit needs a filing covering its date
    remote_direct_settlement = "remote_direct_settlement"  # a remote visit settled online
    no_third_party = "no_third_party"  # costs a third party is liable for are excluded


class DeductibleWindow(StrEnum):
    """How per-visit deductibles are de-duplicated."""

    none = "none"  # every visit is charged
    same_institution_day = "same_institution_day"  # one per institution per calendar day
    hours_from_charged = "hours_from_charged"  # one per hospital within N hours of the charge


class RetirementTiming(StrEnum):
    on_date = "on_date"  # from the day retiree benefits start
    next_month = "next_month"  # from the first day of the month after it is processed


class AccountPurpose(StrEnum):
    """What a personal account may be asked to pay besides the member's own care (X-4)."""

    family_care = "family_care"  # spouse, parents, children at designated institutions
    family_resident_premium = "family_resident_premium"  # their resident-insurance premium
    supplementary_premium = "supplementary_premium"  # large-amount supplement (大额补助)
    long_term_care_premium = "long_term_care_premium"
    critical_illness_premium = "critical_illness_premium"
    commercial_health_premium = "commercial_health_premium"
    public_health = "public_health"  # never allowed; listed so a request names it
    fitness = "fitness"
    wellness = "wellness"

    @property
    def premium(self) -> bool:
        """A contribution to an insurance (paid by `gongji account premium`), not care."""
        return self.value.endswith("_premium")


class Beneficiary(StrEnum):
    """Whom a premium paid from an account is for (X-4: the member, spouse, parents, children)."""

    member = "member"  # the account's own member (本人)
    spouse = "spouse"  # 配偶
    parent = "parent"  # 父母
    child = "child"  # 子女


class CloseReason(StrEnum):
    """Why an account's balance leaves the ledger (JMS-12, KF-18, NY-12, XSBN-22)."""

    transfer = "transfer"  # moves with the member to another pooling region
    refund = "refund"  # one-off refund where it cannot move
    death = "death"  # paid to the heirs
    emigration = "emigration"
    withdrawal = "withdrawal"  # leaves employee insurance (NY-12)
