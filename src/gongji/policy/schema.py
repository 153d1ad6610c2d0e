"""The typed shape of a policy pack: one region's outpatient rules, versioned by date.

Every value sits in a *cited node*: the node names the rule ID of `rules-inventory.md` and
the article (第N条) it comes from, may quote the article's words (`text`), may state the
reading the project takes (`reading`: Chinese `zh`, what bureau staff read, and English
`en`), and says whether the value is from the text or
configured by the bureau (`source`). Amounts are written in yuan and held in fen; ratios are
written as '55%' and held in basis points.
"""

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from gongji.money import percent_to_bp, to_fen
from gongji.terms import (
    AccountPurpose,
    Beneficiary,
    Category,
    CloseReason,
    Condition,
    DeductibleWindow,
    Level,
    MemberClass,
    MemberType,
    RetirementTiming,
)

RuleId = Annotated[str, Field(pattern=r"^[A-Z]+-\d+[a-z]?(/\d+)?$")]
MAX_WINDOW_HOURS = 24 * 31  # the longest deductible window (hours_from_charged) a pack may set


def _within_100_percent(bp: int) -> int:
    if not 0 <= bp <= 10_000:
        raise ValueError(f"a ratio must be between 0% and 100%, not {bp / 100:g}%")
    return bp


def _yuan(value: object) -> int:
    fen = to_fen(value)
    if fen < 0:
        raise ValueError("an amount must not be negative")
    return fen


Fen = Annotated[int, BeforeValidator(_yuan)]
BasisPoints = Annotated[int, BeforeValidator(percent_to_bp), AfterValidator(_within_100_percent)]


class _Strict(BaseModel):
    # the schema is built at the first validation: a pack read from the cache (loader.py)
    # is never validated again, so `gongji calculate` need not build it at all
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class ClassRules(_Strict):
    """Rule IDs per benefit class, where the text splits one mechanism across two rules."""

    employee: RuleId
    retiree: RuleId


class Reading(_Strict):
    """The reading a pack takes where the text is silent or says less, in the two languages:
    Chinese first (the bureau staff who read it on the console and in `gongji calculate`),
    English for `--lang en` / Accept-Language en. A bureau's own reading may be Chinese only."""

    zh: Annotated[str, Field(min_length=1)]
    en: Annotated[str, Field(min_length=1)] | None = None

    def say(self, lang: str = "zh") -> str:
        """The reading in `lang` ("zh" or "en"); the Chinese where no English is written."""
        return self.en if lang == "en" and self.en else self.zh


class Cited(_Strict):
    rule: RuleId | ClassRules
    article: Annotated[str, Field(pattern=r"^第[一二三四五六七八九十百零]+条")]
    text: str | None = None
    reading: Reading | None = None
    source: Literal["text", "configured"] = "text"

    def rule_for(self, klass: MemberClass = MemberClass.employee) -> str:
        return self.rule if isinstance(self.rule, str) else getattr(self.rule, klass.value)

    def uses_configured(self) -> bool:
        """True where the value is configured, or taken from configured inpatient parameters."""
        # read from the node's field values (a pydantic model's __dict__), where a field this
        # kind of node lacks is simply absent: getattr with a default goes through pydantic's
        # __getattr__ and two exceptions a miss, some 2,000 misses when a pack is compiled
        # (3% of the instructions of `gongji calculate` of one example)
        fields = self.__dict__
        return (
            self.source == "configured"
            or fields.get("from_inpatient") is not None
            or fields.get("shared_with") is not None
            or fields.get("to") == "inpatient"
        )

    def rule_ids(self) -> list[str]:
        return (
            [self.rule] if isinstance(self.rule, str) else [self.rule.employee, self.rule.retiree]
        )


class InpatientRef(_Strict):
    """A value taken from the (configured) inpatient parameters of the version."""

    share: BasisPoints = 10_000  # e.g. 50% for day surgery's deductible (XSBN-17)
    level: Level | None = None  # one level's value for every visit (XSBN-16: level 3)
    level_as: dict[Level, Level] = {}  # read a level as another (XSBN-15: primary as level1)


class YearEnd(Cited):
    """Whether a deductible window closes at the end of the year it was opened in (X-1 resets
    the year's accumulators; a window that runs past midnight on 31 December is another
    matter): the pack states its reading, as a text that counts visits within N hours once
    (NY-5a) does not say."""

    closes: bool


class PerVisitDeductible(Cited):
    basis: Literal["per_visit"]
    window: DeductibleWindow = DeductibleWindow.none
    window_hours: Annotated[int, Field(gt=0, le=MAX_WINDOW_HOURS)] | None = None
    year_end: YearEnd | None = None  # hours_from_charged: whether the window stops at 1 January
    by_level: dict[Level, Fen] | None = None
    from_inpatient: InpatientRef | None = None


class AnnualDeductible(Cited):
    basis: Literal["annual"]
    employee: Fen
    retiree: Fen


class PerItemDeductible(Cited):
    """One deductible per item (a negotiated drug) per year."""

    basis: Literal["per_item_year"]
    amount: Fen | None = None
    from_inpatient: InpatientRef | None = None


class NoDeductible(Cited):
    basis: Literal["none"]


Deductible = Annotated[
    PerVisitDeductible | AnnualDeductible | PerItemDeductible | NoDeductible,
    Field(discriminator="basis"),
]


class Ratio(Cited):
    """By level and class (`employee`/`retiree` tables), one `flat` ratio, or the inpatient one."""

    employee: dict[Level, BasisPoints] | None = None
    retiree: dict[Level, BasisPoints] | None = None
    flat: BasisPoints | None = None
    from_inpatient: InpatientRef | None = None
    levels: list[Level] | None = None  # the levels paid, where not given by the tables

    def forms(self) -> int:
        return sum(x is not None for x in (self.employee, self.flat, self.from_inpatient))


class Diseases(Cited):
    """Disease codes a rule names (XSBN-13: the special diseases, which do not raise the
    chronic cap of XSBN-12)."""

    diseases: Annotated[list[str], Field(min_length=1)]


class Cap(Cited):
    """An annual (or monthly) cap by class, or the inpatient cap shared (`shared_with`)."""

    employee: Fen | None = None
    retiree: Fen | None = None
    per_extra_disease: Fen | None = None  # the cap grows per recognised disease (XSBN-12)
    max: Fen | None = None  # up to this ceiling
    not_counted: Diseases | None = None  # recognised diseases that do not make it grow
    shared_with: Literal["inpatient"] | None = None


class Eligibility(Cited):
    condition: Condition
    member_types: list[MemberType] | None = None  # for raised_contribution: whom it binds
    # false: the pack's reading that the text makes no such condition (NY-15 asks for a
    # filing but pays what is settled directly): cited, shown, and not enforced
    applies: bool = True


class Exemption(Cited):
    """Conditions a line is expressly not limited by (XSBN-29); the trace says so."""

    conditions: list[Condition]


class Route(Cited):
    """What the line's cap leaves unpaid continues into general outpatient (JMS-18, PZH-11)."""

    to: Literal["general"]


class Redirect(Cited):
    """A visit of the category paid by another category's policy, by whether its disease is
    among the member's recognised ones: not (`unrecognised`: JMS-18, PZH-11 治疗其他疾病的费用
    按普通门诊统筹政策支付) or so (`recognised`: PZH-10, a 两病 patient who meets the chronic
    criteria is paid by the chronic policy). The trace says so."""

    to: Literal["general", "chronic"]


class Overflow(Cited):
    """General in-scope cost above the cap, paid at the inpatient ratio into its cap (XSBN-11)."""

    to: Literal["inpatient"]


class Exceptions(Cited):
    """Diseases paid without the deductible at their own ratio (XSBN-13)."""

    diseases: list[str]
    ratio: BasisPoints


class Retirement(Cited):
    takes_effect: RetirementTiming


class Accounts(Cited):
    without_account: list[MemberType]


class Credit(Cited):
    """One member class's monthly personal-account credit (X-4): a share of the month's
    contribution base, or the member's whole own contribution (its rate of the base), both
    from the member's own contribution; a fixed amount, or a share of the average pension,
    both from the pooling fund. `tiers`: only members contributing at these tiers are
    credited and have an account (PZH-4a: 一档); a member of a tiered class records its tier,
    a flexible worker must."""

    percent_of_base: BasisPoints | None = None
    own_contribution: BasisPoints | None = None  # PZH-4a: 个人缴费全部计入本人个人账户
    fixed: Fen | None = None
    percent_of_pension: BasisPoints | None = None
    average_pension: Fen | None = None
    round_to_yuan: bool = False  # PZH-4a: 以"元"为单位四舍五入
    provisional: bool = False  # JMS-10a: topped up by a back-credit once the standard is out
    tiers: Annotated[list[Annotated[int, Field(ge=1, le=9)]], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> "Credit":
        ways = [
            self.percent_of_base is not None,
            self.own_contribution is not None,
            self.fixed is not None,
            self.percent_of_pension is not None,
        ]
        if sum(ways) != 1:
            raise ValueError(
                "give one of percent_of_base, own_contribution, fixed, percent_of_pension"
            )
        if (self.percent_of_pension is None) != (self.average_pension is None):
            raise ValueError("percent_of_pension goes with average_pension")
        return self


class Crediting(_Strict):
    """Monthly crediting by member class; a class without a credit has no account."""

    employee: Credit
    flexible: Credit | None = None
    retiree: Credit
    switch: Retirement  # from when a new retiree is credited as one (JMS-10b, NY-11)
    # present: the month the first version comes into force (10 January, XSBN) is credited
    # whole under it, as the node's reading says; absent: a month before it is refused
    first_month: Cited | None = None


class PremiumUse(Cited):
    """Whom one premium purpose may be paid for (KF-17: residents' insurance for spouse,
    parents and children; the large-amount supplement for the member only)."""

    beneficiaries: Annotated[list[Beneficiary], Field(min_length=1)]


class AccountUse(Cited):
    """What a personal account may pay for besides the member's own care (X-4), and for each
    premium it allows, whom that premium may be for (`premiums`, one entry per premium)."""

    allowed: list[AccountPurpose]
    premiums: dict[AccountPurpose, PremiumUse] = {}


class PremiumFreeze(Cited):
    """XSBN-26: a premium of one of `purposes` paid from an account is frozen, then
    transferred by a day of the next month; other premiums are paid at once."""

    purposes: Annotated[list[AccountPurpose], Field(min_length=1)]
    transfer_by_day: int = Field(ge=1, le=28)


class Closing(Cited):
    """How an account's balance leaves: transfer, one-off refund, pay-out on death or
    emigration (JMS-12, KF-18, NY-12, XSBN-22)."""

    reasons: list[CloseReason]


PaymentMethod = Literal["fee_for_service", "capitation"]  # as supervision/payment.py pays


class PaymentMethods(Cited):
    """M-2: the article on how the insurance pays the region's designated institutions, and
    the methods it allows that the project carries out (institution statements: the
    bureau's budgets, capitation rates and enrolment are in the supervision config)."""

    allowed: Annotated[list[PaymentMethod], Field(min_length=1)]


class Benefit(_Strict):
    """One outpatient category's rules: general outpatient, chronic disease, emergency, ..."""

    deductible: Deductible
    ratio: Ratio
    annual_cap: Cap
    monthly_cap: Cap | None = None
    pool: Cited | None = None  # general: the pool is separate from inpatient
    eligibility: list[Eligibility] = []
    exempt: Exemption | None = None
    then: Route | None = None
    overflow: Overflow | None = None
    exceptions: Exceptions | None = None
    unrecognised: Redirect | None = None  # a disease not among the member's recognised ones
    recognised: Redirect | None = None  # a disease among them


class Inpatient(Cited):
    """Inpatient parameters articles refer to without giving them: configured by the bureau."""

    deductible: dict[Level, Fen]
    employee: dict[Level, BasisPoints]
    retiree: dict[Level, BasisPoints]
    annual_cap: dict[MemberClass, Fen]


class PrescriptionChannel(Cited):
    """A pharmacy's sale on a circulated / dual-channel prescription settles at the
    prescribing institution's level. `deductible_at`: whose per-visit deductible window the
    sale falls in — the pharmacy's own (the sale is a visit of its own), or the prescribing
    institution's, where the sale names it (the sale continues that visit: inside the window
    a visit there opened, no second deductible)."""

    deductible_at: Literal["pharmacy", "prescriber"]


class Channels(_Strict):
    """Where a visit is not at a hospital's own counter, the level it settles at."""

    internet: Cited | None = None  # internet hospital: its physical institution's level
    prescription: PrescriptionChannel | None = None


class AccountPays(Cited):
    """X-5: what the personal account may pay of a visit after the fund: the in-scope share
    (`in_scope`: 政策范围内自付费用, the in-scope cost less the fund's pay) or the member's
    whole share (`member`: 由个人负担的医疗费用, the total less the fund's pay, out-of-scope
    cost included)."""

    share: Literal["in_scope", "member"]


class CataloguePolicy(_Strict):
    """Articles on how a line-item visit's cost is split (cited in the trace where present)."""

    out_of_scope: Cited | None = None  # not paid: out of the catalogue (NY-19)
    payment_standard: Cited | None = None  # above the payment standard: the member's (NY-18)
    class_b_self_pay: Cited | None = None  # 先行自付 before the fund pays


CATEGORY_SECTIONS = (
    "chronic",
    "special",
    "two_diseases",
    "emergency",
    "negotiated_drug",
    "day_surgery",
)


Relationship = Literal["spouse", "parent", "child"]


class FamilyScope(Cited):
    """Where a relative must be insured to be bound (XSBN-20: 原则上限于云南省医疗保险参保人员):
    the holder's pooling region, or any pooling region of the holder's province."""

    scope: Literal["region", "province"]


class Family(Cited):
    """Family mutual aid (个人账户家庭共济): the relatives whose care a member's account may pay,
    where they must be insured, and in which order the accounts pay. A relative is bound to
    the member's account (the holder's) in the ledger's registry; each visit of theirs
    draws first on their own account, and on the holder's only for what it could not pay."""

    relationships: Annotated[list[Relationship], Field(min_length=1)]
    within: FamilyScope  # where the relative must be insured
    order: Literal["user_first"]  # XSBN-24: the user's own account, then the holder's


class Version(_Strict):
    valid_from: date = Field(alias="from")
    valid_to: date | None = Field(default=None, alias="to")
    note: str | None = None
    year: Cited  # accumulators per calendar year
    settlement: Cited  # fund first, then account, then cash
    account_pays: AccountPays  # the share the account may pay
    accounts: Accounts
    crediting: Crediting
    account_use: AccountUse
    closing: Closing
    family: Family | None = None  # family mutual aid: a relative's care from the account
    premium_freeze: PremiumFreeze | None = None
    retirement: Retirement
    payment_methods: PaymentMethods | None = None  # paying institutions (M-2)
    general: Benefit
    inpatient: Inpatient | None = None
    # factories, not instances: an instance here would build their schemas at import
    channels: Channels = Field(default_factory=Channels)
    catalogue: CataloguePolicy = Field(default_factory=CataloguePolicy)
    chronic: Benefit | None = None
    special: Benefit | None = None
    two_diseases: Benefit | None = None
    emergency: Benefit | None = None
    negotiated_drug: Benefit | None = None
    day_surgery: Benefit | None = None


class MedType(Cited):
    """A med_type code the platform sends, mapped to a category by the article that puts that
    care under it (e.g. a pharmacy purchase under general outpatient pooling)."""

    category: Category


class Pack(_Strict):
    region: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    name: str
    province: str
    document: str
    source: str  # the rulebook file in shared/seeds
    admdvs: Annotated[str, Field(pattern=r"^\d{6}$")]  # administrative division code
    # the platform's med_type -> category: plain, or cited where an article maps it
    med_types: dict[str, Category | MedType]
    versions: list[Version]

    def category_of(self, med_type: str) -> Category | None:
        """The category the pack settles a med_type under (None: not one of its codes)."""
        given = self.med_types.get(med_type)
        return given.category if isinstance(given, MedType) else given

    def version_id(self, version: Version) -> str:
        return f"{self.region}@{version.valid_from.isoformat()}"

    def version_on(self, day: date) -> Version | None:
        """The version in force on `day`; versions are sorted and never overlap (loader)."""
        i = self.version_index_on(day)
        return None if i is None else self.versions[i]

    def version_index_on(self, day: date) -> int | None:
        for i, version in enumerate(self.versions):
            later = self.versions[i + 1].valid_from if i + 1 < len(self.versions) else None
            if (
                version.valid_from <= day
                and (version.valid_to is None or day <= version.valid_to)
                and (later is None or day < later)
            ):
                return i
        return None
