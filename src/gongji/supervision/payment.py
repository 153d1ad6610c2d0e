"""M-2: how the insurance pays each institution, configured in payment.yaml under the
region's article on paying institutions, which its policy pack cites (`payment_methods`:
the rule, the article and the methods it allows).

An institution is paid by the first entry that names it (`institution`), else by its
region's entry for its level, else by its region's entry without a level; one that no entry
covers is paid fee-for-service, as settled. Methods:
- `fee_for_service`: what the settlements charged the fund; under a global budget
  (`annual_budget`) no more than the budget the year has left: the excess is over budget,
  not paid.
- `capitation`: `per_member_month` for each member enrolled with the institution in each
  whole month of the period (`enrolment`, counts per month), whatever the visits cost.
Amounts are yuan as strings ("1200.00") in the file, fen inside. An entry takes its rule
and article from the region's pack; one that gives them must give the pack's.
"""

from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from gongji import policy
from gongji.errors import InputError, validated
from gongji.model import Id
from gongji.money import amount
from gongji.policy.schema import PaymentMethod, PaymentMethods
from gongji.supervision.legs import whole_months
from gongji.terms import Level

CONFIG = Path(__file__).with_name("payment.yaml")


def cited(region: str | None) -> PaymentMethods | None:
    """The region's article on paying institutions (rules inventory, M-2), as its policy
    pack cites it (the latest version: a statement is paid under the rule now in force);
    None for a region without a pack or a pack without one."""
    if region is None or region not in policy.known_regions():
        return None
    return policy.load_region(region).versions[-1].payment_methods


def articles() -> dict[str, tuple[str, str]]:
    """Each region's (rule, article) on paying institutions, from the packs."""
    found = {region: cited(region) for region in policy.known_regions()}
    return {region: (c.rule_for(), c.article) for region, c in found.items() if c is not None}


def _yuan(value: object) -> int:
    # a string, as packs write money: YAML would read 1200.10 as a float
    if not isinstance(value, str):
        raise ValueError("an amount of yuan as a string, e.g. '1200.00'")
    return amount(value)


def _is_month(text: str) -> bool:
    try:
        date.fromisoformat(f"{text}-01")
    except ValueError:
        return False
    return len(text) == 7


Yuan = Annotated[int, BeforeValidator(_yuan)]


class Method(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: Id
    # the region's rule (KF-24, ...) and article: M-2 of the rules inventory, from the pack
    rule: str = Field(default=None, validate_default=True)
    article: str = Field(default=None, validate_default=True)
    institution: Id | None = None
    level: Level | None = Field(default=None, validate_default=True)
    method: PaymentMethod
    annual_budget: Yuan | None = Field(default=None, validate_default=True)
    per_member_month: Yuan | None = Field(default=None, validate_default=True)

    @field_validator("rule", "article", mode="before")
    @classmethod
    def _from_pack(cls, given: object, info: ValidationInfo) -> object:
        if given is not None or "region" not in info.data:
            return given
        pack = cited(info.data["region"])
        if pack is None:  # no pack gives it: the entry must
            raise PydanticCustomError("missing", "Field required")
        return pack.rule_for() if info.field_name == "rule" else pack.article

    @field_validator("rule", "article")
    @classmethod
    def _regions_article(cls, given: str, info: ValidationInfo) -> str:
        region = info.data.get("region")
        pack = cited(region)
        want = {"rule": pack.rule_for(), "article": pack.article} if pack else {}
        if region is not None and want.get(info.field_name) != given:
            found = want.get(info.field_name)
            if found:
                raise ValueError(f"{region}'s {info.field_name} on payment is {found}")
            known = region in policy.known_regions()
            raise ValueError(f"{region}'s pack cites no rule on payment" if known else "no region")
        return given

    @field_validator("method")
    @classmethod
    def _allowed(cls, method: str, info: ValidationInfo) -> str:
        pack = cited(info.data.get("region"))
        if pack is not None and method not in pack.allowed:
            raise ValueError(
                f"{info.data['region']}'s {pack.rule_for()} {pack.article} does not allow {method}"
            )
        return method

    @field_validator("level")
    @classmethod
    def _one_key(cls, level: Level | None, info: ValidationInfo) -> Level | None:
        if level is not None and info.data.get("institution") is not None:
            raise ValueError("give an institution or a level, not both")
        return level

    @field_validator("annual_budget")
    @classmethod
    def _budget(cls, budget: int | None, info: ValidationInfo) -> int | None:
        if budget is not None and info.data.get("method") == "capitation":
            raise ValueError("a global budget is for fee_for_service")
        return budget

    @field_validator("per_member_month")
    @classmethod
    def _capitation(cls, rate: int | None, info: ValidationInfo) -> int | None:
        method = info.data.get("method")
        if method == "capitation" and rate is None:
            raise ValueError("required for capitation")
        if method == "fee_for_service" and rate is not None:
            raise ValueError("only for capitation")
        return rate

    def key(self) -> tuple:
        return (self.institution,) if self.institution else (self.region, self.level)


class PaymentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    methods: list[Method]
    # capitation: members enrolled with an institution, by month
    enrolment: dict[Id, dict[str, StrictInt]] = {}

    @field_validator("methods")
    @classmethod
    def _once_each(cls, methods: list[Method]) -> list[Method]:
        seen: set[tuple] = set()
        for i, m in enumerate(methods):
            if m.key() in seen:
                raise ValueError(f"entry {i} pays {'/'.join(map(str, m.key()))} a second time")
            seen.add(m.key())
        return methods

    @field_validator("enrolment")
    @classmethod
    def _months(cls, enrolment: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        # checked here so that the error names the institution (field paths drop codes)
        for code, counts in enrolment.items():
            for month in counts:
                if not _is_month(month):
                    raise ValueError(f"{code}: a month as YYYY-MM, not {month!r}")
                if counts[month] < 0:
                    raise ValueError(f"{code}.{month}: a count of members, not below zero")
        return enrolment

    def method_for(self, code: str, region: str | None, level: str | None) -> Method | None:
        by_key = {m.key(): m for m in self.methods}
        for key in ((code,), (region, level), (region, None)):
            if key in by_key:
                return by_key[key]
        return None

    def member_months(self, code: str, begin: date, end: date) -> int:
        """Members enrolled over the whole months of the period (capitation is by month)."""
        counts = self.enrolment.get(code, {})
        total = 0
        for month in whole_months(begin, end):
            if month not in counts:
                raise InputError(f"enrolment.{code}.{month}", "required for capitation")
            total += counts[month]
        return total

    def enrolled_in(self, begin: date, end: date) -> set[str]:
        months = set(whole_months(begin, end))
        return {code for code, counts in self.enrolment.items() if months & set(counts)}


def payment_config(document: object, where: str = "payment") -> PaymentConfig:
    return validated(PaymentConfig, document, where)


@cache
def load_payment(path: Path = CONFIG) -> PaymentConfig:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(path.name, f"cannot be read: {exc}") from None
    return payment_config(document, path.name)


def terms(method: Method | None, settled: int, used_before: int, member_months: int) -> dict:
    """What the fund owes under the method for a period whose settlements charged it
    `settled` fen; `used_before` is what the year's earlier settlements charged (a global
    budget), `member_months` the period's enrolment (capitation)."""
    cited = {"rule": method.rule if method else None, "article": method.article if method else None}
    if method is not None and method.method == "capitation":
        payable = method.per_member_month * member_months
        more = {"per_member_month": method.per_member_month, "member_months": member_months}
    elif method is not None and method.annual_budget is not None:
        left = max(method.annual_budget - used_before, 0)
        payable = min(settled, left)
        more = {
            "annual_budget": method.annual_budget,
            "budget_left": left,
            "over_budget": settled - payable,
        }
    else:
        payable, more = settled, {}
    return {
        "method": method.method if method else "fee_for_service",
        **cited,
        "fund_settled": settled,
        "fund_payable": payable,
        "adjustment": payable - settled,
        **more,
    }
