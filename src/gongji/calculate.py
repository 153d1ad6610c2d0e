"""`gongji calculate`: the trial-calculation contract of shared/spec/calculate.md.

A scenario (one member, visits in time order, one region) is validated field by field, run
through the engine under the policy version in force on each visit's date, and reported in
yuan. Any problem with the scenario is an `InputError` naming the field; nothing else.
"""

from decimal import Decimal

from pydantic import Field

from gongji import catalogue, engine, policy
from gongji.engine import EngineError
from gongji.errors import InputError, validated
from gongji.model import Id, MemberIn, Strict, VisitIn, check_visit, engine_member, engine_visit
from gongji.money import to_yuan
from gongji.policy.schema import Pack


class Scenario(Strict):
    region: Id
    member: MemberIn
    visits: list[VisitIn] = Field(min_length=1)


def calculate(document: object, items: dict[str, catalogue.Item] | None = None) -> dict:
    """Validate a scenario document and run it; the JSON-ready output of the contract.

    `items` is the catalogue line-item visits are priced with (the shipped sample if None).
    """
    pack = _pack_of(document)
    scenario = validated(Scenario, document)
    _check_visits(pack, scenario.visits)
    member = engine_member(pack, scenario.member, scenario.visits[0].time.date())
    balance = scenario.member.account_balance or 0
    if items is None and any(v.items for v in scenario.visits):
        items = catalogue.sample()
    visits = [engine_visit(v, items) for v in scenario.visits]
    try:
        results, _ = engine.settle_all(pack, member, engine.YearState.new(balance), visits)
    except EngineError as exc:
        raise InputError("visits", str(exc), exc.code) from None
    return _output(pack, scenario, visits, results)


def _pack_of(document: object) -> Pack:
    if not isinstance(document, dict):
        raise InputError("(document)", "a scenario is a mapping with region, member and visits")
    region = document.get("region")
    if not isinstance(region, str):
        raise InputError("region", "required: one of " + ", ".join(policy.known_regions()))
    return policy.load_region(region)


def _check_visits(pack: Pack, visits: list[VisitIn]) -> None:
    seen: set[str] = set()
    for i, v in enumerate(visits):
        where = f"visits[{i}]"
        if v.id in seen:
            raise InputError(f"{where}.id", f"duplicate visit id {v.id!r}")
        seen.add(v.id)
        if i and v.time < visits[i - 1].time:
            raise InputError(
                f"{where}.time", f"earlier than visits[{i - 1}] (visits go in time order)"
            )
        check_visit(pack, where, v)


def _split(v: VisitIn, visit: engine.Visit) -> dict:
    """For a line-item visit, how total minus in_scope splits (glossary names)."""
    if v.items is None:
        return {}
    return {
        "out_of_scope": to_yuan(visit.out_of_scope),
        "above_standard": to_yuan(visit.above_standard),
        "class_b_self_pay": to_yuan(visit.class_b_self_pay),
    }


def _output(
    pack: Pack, scenario: Scenario, settled: list[engine.Visit], results: list[engine.Result]
) -> dict:
    visits = []
    for v, visit, r in zip(scenario.visits, settled, results, strict=True):
        tables = engine.tables_on(pack, v.time.date())
        visits.append(
            {
                "id": v.id,
                "total": to_yuan(r.total),
                "in_scope": to_yuan(r.in_scope),
                "deductible": to_yuan(r.deductible),
                "fund_pay": to_yuan(r.fund_pay),
                "account_pay": to_yuan(r.account_pay),
                "cash_pay": to_yuan(r.cash_pay),
                "account_balance": to_yuan(r.account_balance),
                **_split(v, visit),
                "member_class": r.member_class.value,
                "policy_version": r.version_id,
                "trace": [
                    {
                        "rule": s.rule,
                        "article": s.article,
                        "text": s.text,
                        "amount": to_yuan(s.amount),
                        **({"configured": True} if s.configured else {}),
                        **({"reading": s.reading} if s.reading else {}),
                    }
                    for s in engine.explain(tables, r)
                ],
            }
        )
    totals = {
        key: to_yuan(sum(getattr(r, attr) for r in results))
        for key, attr in (
            ("total", "total"),
            ("fund_pay", "fund_pay"),
            ("account_pay", "account_pay"),
            ("cash_pay", "cash_pay"),
        )
    }
    return {
        "region": pack.region,
        "policy_version": results[-1].version_id,
        "member": scenario.member.id,
        "visits": visits,
        "totals": totals,
    }


def to_json_numbers(value: object) -> object:
    """Decimal yuan -> JSON numbers (exact for amounts far below 2**53 fen)."""
    if isinstance(value, Decimal):
        return float(value)  # serialisation only; no arithmetic happens on it
    if isinstance(value, dict):
        return {k: to_json_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_numbers(v) for v in value]
    return value
