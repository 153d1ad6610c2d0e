"""The typed shape of a policy pack: one region's outpatient rules, versioned by date.

Every value sits in a *cited node*: the node names the rule ID of `rules-inventory.md` and
the article (第N条) it comes from, may quote the article's words (`text`), may state the
reading the project takes (`reading`), and says whether the value is from the text or
configured by the bureau (`source`). Amounts are written in yuan and held in fen; ratios are
written as '55%' and held in basis points.
"""

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from gongji.money import percent_to_bp, to_fen
from gongji.terms import (
    Condition,
    DeductibleWindow,
    Level,
    MemberClass,
    MemberType,
    RetirementTiming,
)

RuleId = Annotated[str, Field(pattern=r"^[A-Z]+-\d+[a-z]?(/\d+)?$")]


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
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ClassRules(_Strict):
    """Rule IDs per benefit class, where the text splits one mechanism across two rules."""

    employee: RuleId
    retiree: RuleId


class Cited(_Strict):
    rule: RuleId | ClassRules
    article: Annotated[str, Field(pattern=r"^第[一二三四五六七八九十百零]+条")]
    text: str | None = None
    reading: str | None = None
    source: Literal["text", "configured"] = "text"

    def rule_for(self, klass: MemberClass = MemberClass.employee) -> str:
        return self.rule if isinstance(self.rule, str) else getattr(self.rule, klass.value)

    def rule_ids(self) -> list[str]:
        return (
            [self.rule] if isinstance(self.rule, str) else [self.rule.employee, self.rule.retiree]
        )


class PerVisitDeductible(Cited):
    basis: Literal["per_visit"]
    window: DeductibleWindow
    window_hours: Annotated[int, Field(gt=0, le=24 * 31)] | None = None  # hours_from_charged
    by_level: dict[Level, Fen]


class AnnualDeductible(Cited):
    basis: Literal["annual"]
    employee: Fen
    retiree: Fen


Deductible = Annotated[PerVisitDeductible | AnnualDeductible, Field(discriminator="basis")]


class Ratio(Cited):
    employee: dict[Level, BasisPoints]
    retiree: dict[Level, BasisPoints]

    def levels(self) -> list[Level]:
        return [lv for lv in Level if lv in self.employee]


class Cap(Cited):
    employee: Fen
    retiree: Fen


class Eligibility(Cited):
    condition: Condition
    member_types: list[MemberType] | None = None  # for raised_contribution: whom it binds


class Accounts(Cited):
    without_account: list[MemberType]


class Retirement(Cited):
    takes_effect: RetirementTiming


class GeneralOutpatient(_Strict):
    deductible: Deductible
    ratio: Ratio
    annual_cap: Cap
    monthly_cap: Cap | None = None
    pool: Cited  # which accumulator the fund pay counts against
    eligibility: list[Eligibility] = []


class Version(_Strict):
    valid_from: date = Field(alias="from")
    valid_to: date | None = Field(default=None, alias="to")
    note: str | None = None
    year: Cited  # accumulators per calendar year
    settlement: Cited  # fund first, then account, then cash
    accounts: Accounts
    retirement: Retirement
    general: GeneralOutpatient


class Pack(_Strict):
    region: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    name: str
    province: str
    document: str
    source: str  # the rulebook file in shared/seeds
    versions: list[Version]

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
