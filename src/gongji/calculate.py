"""`gongji calculate`: the trial-calculation contract of shared/spec/calculate.md.

A scenario (one member, visits in time order, one region) is validated field by field, run
through the engine under the policy version in force on each visit's date, and reported in
yuan. Any problem with the scenario is an `InputError` naming the field; nothing else.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pydantic import Field

from gongji import catalogue, engine, policy
from gongji.engine import EngineError
from gongji.errors import InputError, validated
from gongji.model import Id, MemberIn, Strict, VisitIn, check_visit, engine_member, engine_visit
from gongji.money import json_number, to_yuan
from gongji.policy.schema import Pack
from gongji.terms import MemberClass


class Scenario(Strict):
    region: Id
    member: MemberIn
    visits: list[VisitIn] = Field(min_length=1)


def calculate(
    document: object,
    items: dict[str, catalogue.Item] | None = None,
    pack: Pack | None = None,
    lang: str = "zh",
) -> dict:
    """Validate a scenario document and run it; the JSON-ready output of the contract, its
    amounts Decimal yuan, its trace in `lang` ("zh", or "en").

    `items` is the catalogue line-item visits are priced with (the shipped sample if None);
    `pack` the policy (if None, the shipped pack of the document's region).
    """
    trial = settle(document, items, pack)
    visits = list(trial.visits(to_yuan, lang))
    return {**trial.head(), "visits": visits, "totals": trial.totals(to_yuan)}


def settle(
    document: object, items: dict[str, catalogue.Item] | None = None, pack: Pack | None = None
) -> "Trial":
    """Validate a scenario document and settle its visits; the output is rendered from the
    `Trial` a visit at a time. Every problem is raised here, before anything is written.
    Given a `pack` (a reform, say), the document's region is the pack's and may be left out."""
    if pack is None:
        pack = _pack_of(document)
    else:
        document = _in_region(document, pack)
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
    return Trial(pack, scenario, visits, results)


def _pack_of(document: object) -> Pack:
    if not isinstance(document, dict):
        raise InputError("(document)", "a scenario is a mapping with region, member and visits")
    region = document.get("region")
    if not isinstance(region, str):
        raise InputError("region", "required: one of " + ", ".join(policy.known_regions()))
    return policy.load_region(region)


def _in_region(document: object, pack: Pack) -> dict:
    if not isinstance(document, dict):
        raise InputError("(document)", "a scenario is a mapping with member and visits")
    region = document.get("region", pack.region)
    if region != pack.region:
        raise InputError("region", f"{region!r}, but the pack is {pack.region!r}'s")
    return {**document, "region": pack.region}


def _check_visits(pack: Pack, visits: list[VisitIn]) -> None:
    seen: set[str] = set()
    for i, v in enumerate(visits):
        where = f"visits[{i}]"
        if v.id in seen:
            raise InputError(f"{where}.id", f"duplicate visit id {v.id!r}")
        seen.add(v.id)
        # an aware time is not compared (Python refuses to): check_visit refuses it below
        if i and v.time.tzinfo is None and v.time < visits[i - 1].time:
            raise InputError(
                f"{where}.time", f"earlier than visits[{i - 1}] (visits go in time order)"
            )
        check_visit(pack, where, v)


@dataclass(frozen=True)
class Trial:
    """A scenario settled: the contract's output, rendered on demand with `number` (fen ->
    the amount as it is written: `to_yuan` for Decimal yuan, `money.json_number`)."""

    pack: Pack
    scenario: Scenario
    settled: list[engine.Visit]
    results: list[engine.Result]

    def head(self) -> dict:
        return {
            "region": self.pack.region,
            "policy_version": self.results[-1].version_id,
            "member": self.scenario.member.id,
        }

    def visits(self, number: Callable[[int], object], lang: str = "zh") -> Iterator[dict]:
        """The visits' output, one at a time, the trace's words in `lang`."""
        tables = {t.version_id: t for t in engine.compile_pack(self.pack)}
        for v, visit, r in zip(self.scenario.visits, self.settled, self.results, strict=True):
            yield {
                "id": v.id,
                "total": number(r.total),
                "in_scope": number(r.in_scope),
                "deductible": number(r.deductible),
                "fund_pay": number(r.fund_pay),
                "account_pay": number(r.account_pay),
                "cash_pay": number(r.cash_pay),
                "account_balance": number(r.account_balance),
                **(_split(visit, number) if v.items is not None else {}),
                "member_class": CLASS_NAMES[r.member_class],
                "policy_version": r.version_id,
                "trace": engine.trace_rows(
                    tables[r.version_id], r.member_class, r.trace, lang=lang, number=number
                ),
            }

    def totals(self, number: Callable[[int], object]) -> dict:
        results = self.results
        return {
            "total": number(sum(r.total for r in results)),
            "fund_pay": number(sum(r.fund_pay for r in results)),
            "account_pay": number(sum(r.account_pay for r in results)),
            "cash_pay": number(sum(r.cash_pay for r in results)),
        }


CLASS_NAMES = {c: c.value for c in MemberClass}  # a dict's get: an enum's `.value` is slower


def _split(visit: engine.Visit, number: Callable[[int], object]) -> dict:
    """For a line-item visit, how total minus in_scope splits (glossary names)."""
    return {
        "out_of_scope": number(visit.out_of_scope),
        "above_standard": number(visit.above_standard),
        "class_b_self_pay": number(visit.class_b_self_pay),
    }


CHUNK = 1 << 16  # bytes handed to `write` at once: few system calls, whatever stdout buffers


def write_json(
    trial: Trial, write: Callable[[bytes], object], pretty: bool = False, lang: str = "zh"
) -> None:
    """The contract's JSON (amounts as JSON numbers), rendered a visit at a time and handed
    to `write` in pieces of about CHUNK bytes: the document is never whole in memory.
    Compact, or with `pretty` indented by two, the bytes `json.dumps(..., indent=2,
    ensure_ascii=False)` writes. A raw newline in orjson's output is always layout (one in a
    string is written as the two characters \\n), so a visit is indented to its depth by
    indenting its lines."""
    import orjson

    if pretty:
        option, depth = orjson.OPT_INDENT_2, b"\n    "
        head, between, tail = b',\n  "visits": [\n    ', b",\n    ", b'\n  ],\n  "totals": '
    else:
        option, depth = 0, b""
        head, between, tail = b',"visits":[', b",", b'],"totals":'
    # the head's fields: its object without the closing brace (indented: nor the newline)
    out = bytearray(orjson.dumps(trial.head(), option=option)[: -2 if pretty else -1]) + head
    for i, visit in enumerate(trial.visits(json_number, lang)):
        text = orjson.dumps(visit, option=option)
        out += (between if i else b"") + (text.replace(b"\n", depth) if pretty else text)
        if len(out) >= CHUNK:
            write(bytes(out))
            out.clear()
    totals = orjson.dumps(trial.totals(json_number), option=option)
    out += tail + (totals.replace(b"\n", b"\n  ") + b"\n}\n" if pretty else totals + b"}\n")
    write(bytes(out))
