"""A policy version as rows people compare: (topic, value, rule, article, source), and for a
configured value the pack's reading: what the project takes where the text is silent or says
less, shown as such, never as the article's words."""

from dataclasses import dataclass

from pydantic import BaseModel

from gongji.money import fmt, fmt_bp
from gongji.policy.schema import (
    CATEGORY_SECTIONS,
    AnnualDeductible,
    Benefit,
    Cap,
    Cited,
    Ratio,
    Reading,
    Version,
)
from gongji.terms import Condition, Level, MemberClass


@dataclass(frozen=True)
class Row:
    topic: str
    value: str
    rule: str
    article: str
    configured: bool
    reading: Reading | None = None  # where configured: the pack's reading (`say(lang)`)


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
        if ded.year_end is not None:
            ends = "closes" if ded.year_end.closes else "runs on into the new year"
            out.append(_row("deductible window at the year's end", ends, ded.year_end))
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
    listed = {cond.condition: cond for cond in g.eligibility}
    for kind in Condition:  # every condition, in one order, so two packs line up
        cond = listed.get(kind)
        if cond is None or not cond.applies:  # a pack may cite its reading that none applies
            out.append(_row(f"condition: {kind.value}", "not applied", cond))
            continue
        types = cond.member_types
        extra = f" ({', '.join(t.value for t in types)})" if types else ""
        out.append(_row(f"condition: {kind.value}", "required" + extra, cond))
    if g.overflow:
        out.append(_row("general above its cap", "paid at the inpatient ratio", g.overflow))
    out += _inpatient_rows(version)
    out += _channel_rows(version)
    for name in CATEGORY_SECTIONS:
        benefit = getattr(version, name)
        if benefit is not None:
            out += _category_rows(name, benefit)
    acc = version.accounts
    out.append(_row("no personal account", ", ".join(t.value for t in acc.without_account), acc))
    out.append(
        _row(
            "retiree switch takes effect", version.retirement.takes_effect.value, version.retirement
        )
    )
    pays = version.account_pays
    share = {"in_scope": "the in-scope share", "member": "the member's whole share"}[pays.share]
    out.append(_row("personal account pays", share, pays))
    freeze = version.premium_freeze
    if freeze is not None:
        day = f"by day {freeze.transfer_by_day} of the next month"
        out.append(_row("premium frozen, transferred", day, freeze))
    pay = version.payment_methods
    if pay is not None:
        out.append(_row("paying institutions", ", ".join(pay.allowed), pay))
    return out


def _channel_rows(version: Version) -> list[Row]:
    out = []
    internet, rx = version.channels.internet, version.channels.prescription
    if internet is not None:
        out.append(_row("internet visit settles at", "its physical institution's level", internet))
    if rx is not None:
        value = f"the prescriber's level; deductible window: the {rx.deductible_at}'s"
        out.append(_row("prescription filled at a pharmacy", value, rx))
    return out


def _inpatient_rows(version: Version) -> list[Row]:
    ip = version.inpatient
    if ip is None:
        return []
    levels = ", ".join(f"{lv.value} {fmt(fen)}" for lv, fen in ip.deductible.items())
    out = [_row("inpatient deductible", levels, ip)]
    for klass in MemberClass:
        table = getattr(ip, klass.value)
        ratios = ", ".join(f"{lv.value} {fmt_bp(bp)}" for lv, bp in table.items())
        out.append(_row(f"inpatient ratio ({klass.value})", ratios, ip))
    caps = ", ".join(f"{k.value} {fmt(v)}" for k, v in ip.annual_cap.items())
    out.append(_row("inpatient annual cap", caps, ip))
    return out


def _category_rows(name: str, b: Benefit) -> list[Row]:
    ded, ratio, cap = b.deductible, b.ratio, b.annual_cap
    out = [
        _row(f"{name}: deductible", _deductible_text(ded), ded),
        _row(f"{name}: ratio", _ratio_text(ratio), ratio),
        _row(f"{name}: annual cap", _cap_text(cap), cap),
    ]
    if b.exceptions:
        exc = b.exceptions
        text = f"{', '.join(exc.diseases)}: no deductible, {fmt_bp(exc.ratio)}"
        out.append(_row(f"{name}: exceptions", text, exc))
    if b.exempt:
        text = "not limited by " + ", ".join(c.value for c in b.exempt.conditions)
        out.append(_row(f"{name}: exempt", text, b.exempt))
    if b.then:
        out.append(_row(f"{name}: above its cap", "continues into general outpatient", b.then))
    for key, which in (("unrecognised", "not recognised"), ("recognised", "recognised")):
        node = getattr(b, key)
        if node is not None:
            text = f"a disease the member is {which} for: paid by {node.to.replace('_', ' ')}"
            out.append(_row(f"{name}: {key} disease", text, node))
    if cap.not_counted is not None:
        text = "not raised by " + ", ".join(cap.not_counted.diseases)
        out.append(_row(f"{name}: annual cap's diseases", text, cap.not_counted))
    return out


def _deductible_text(ded) -> str:
    ref = getattr(ded, "from_inpatient", None)
    if ref is not None:
        what = f"inpatient deductible x {fmt_bp(ref.share)}"
        what += f" at {ref.level.value}" if ref.level else ""
        return what + (" per item per year" if ded.basis == "per_item_year" else " per visit")
    if ded.basis == "annual":
        return f"annual {fmt(ded.employee)} / retiree {fmt(ded.retiree)}"
    if ded.basis == "per_item_year":
        return f"{fmt(ded.amount)} per item per year"
    if ded.basis == "per_visit":
        return "per visit " + ", ".join(f"{lv.value} {fmt(f)}" for lv, f in ded.by_level.items())
    return "none"


def _ratio_text(ratio: Ratio) -> str:
    limit = f" (levels {', '.join(lv.value for lv in ratio.levels)})" if ratio.levels else ""
    if ratio.flat is not None:
        return fmt_bp(ratio.flat) + limit
    if ratio.from_inpatient is not None:
        return "the institution's inpatient ratio" + limit
    return ", ".join(f"{lv.value} {fmt_bp(bp)}" for lv, bp in ratio.employee.items()) + limit


def _cap_text(cap: Cap) -> str:
    if cap.shared_with:
        return "shared with the inpatient cap"
    text = f"{fmt(cap.employee)} / retiree {fmt(cap.retiree)}"
    if cap.max is not None:
        text += f", +{fmt(cap.per_extra_disease)} per further disease up to {fmt(cap.max)}"
    return text


def _row(
    topic: str, value: str, node: Cited | None, klass: MemberClass = MemberClass.employee
) -> Row:
    if node is None:
        return Row(topic, value, "", "", False)
    configured = node.uses_configured()
    reading = node.reading if configured else None
    return Row(topic, value, node.rule_for(klass), node.article, configured, reading)


def side_by_side(first: Version, second: Version) -> list[tuple[str, Row | None, Row | None]]:
    """Two versions' rows by topic (every topic of either, in order): a comparison."""
    left, right = rows(first), rows(second)
    by_left, by_right = {r.topic: r for r in left}, {r.topic: r for r in right}
    topics = dict.fromkeys([r.topic for r in left] + [r.topic for r in right])
    return [(t, by_left.get(t), by_right.get(t)) for t in topics]


def quotes(version: Version) -> dict[tuple[str, str], str]:
    """The words of the rulebook each (rule ID, article) of a version cites: a trace step
    names its rule and article, and a reader wants the article's text beside it."""
    found: dict[tuple[str, str], str] = {}

    def walk(node: object) -> None:
        if isinstance(node, Cited) and node.text:
            for klass in MemberClass:
                found.setdefault((node.rule_for(klass), node.article), node.text)
        if isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name))
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)

    walk(version)
    return found
