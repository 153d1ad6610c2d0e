"""A policy version as rows people compare: (topic, value, rule, article, source)."""

from dataclasses import dataclass

from gongji.money import fmt, fmt_bp
from gongji.policy.schema import AnnualDeductible, Cited, Version
from gongji.terms import Condition, Level, MemberClass


@dataclass(frozen=True)
class Row:
    topic: str
    value: str
    rule: str
    article: str
    configured: bool


def rows(version: Version) -> list[Row]:
    g = version.general
    out: list[Row] = []
    ded = g.deductible
    if isinstance(ded, AnnualDeductible):
        for klass in MemberClass:
            out.append(
                _row(
                    f"deductible, annual ({klass.value})",
                    fmt(getattr(ded, klass.value)),
                    ded,
                    klass,
                )
            )
    else:
        for level, fen in ded.by_level.items():
            out.append(_row(f"deductible per visit, {level.value}", fmt(fen), ded))
        hours = f" ({ded.window_hours} h)" if ded.window_hours else ""
        out.append(_row("deductible window", ded.window.value + hours, ded))
    for klass in MemberClass:
        table = getattr(g.ratio, klass.value)
        for level in Level:
            value = fmt_bp(table[level]) if level in table else "not pooled"
            out.append(_row(f"ratio {klass.value}, {level.value}", value, g.ratio, klass))
    for name, cap in (("annual cap", g.annual_cap), ("monthly cap", g.monthly_cap)):
        for klass in MemberClass:
            value = fmt(getattr(cap, klass.value)) if cap else "none"
            out.append(_row(f"{name} ({klass.value})", value, cap, klass))
    out.append(_row("cap pool", "general outpatient, separate", g.pool))
    applied = {cond.condition: cond for cond in g.eligibility}
    for kind in Condition:  # every condition, in one order, so two packs line up
        cond = applied.get(kind)
        if cond is None:
            out.append(_row(f"condition: {kind.value}", "not applied", None))
            continue
        types = cond.member_types
        extra = f" ({', '.join(t.value for t in types)})" if types else ""
        out.append(_row(f"condition: {kind.value}", "required" + extra, cond))
    acc = version.accounts
    out.append(_row("no personal account", ", ".join(t.value for t in acc.without_account), acc))
    out.append(
        _row(
            "retiree switch takes effect", version.retirement.takes_effect.value, version.retirement
        )
    )
    return out


def _row(
    topic: str, value: str, node: Cited | None, klass: MemberClass = MemberClass.employee
) -> Row:
    if node is None:
        return Row(topic, value, "", "", False)
    return Row(topic, value, node.rule_for(klass), node.article, node.source == "configured")
