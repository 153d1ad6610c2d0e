"""Rendering a result's trace records as steps people read, each naming its rule ID.

Kept out of the kernel: records are four integers; words are made only when asked for.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from gongji.engine import layout as L
from gongji.engine.settle import Result
from gongji.engine.tables import Tables
from gongji.money import fmt, fmt_bp
from gongji.terms import Condition, MemberClass

_EPOCH = datetime(1970, 1, 1)

_CONDITION_TEXT = {
    Condition.designated: "institution not designated for outpatient pooling: no pooling",
    Condition.benefit_period: "visit outside the member's benefit periods: the fund pays nothing",
    Condition.not_inpatient: "member is an inpatient on this date: no outpatient pooling",
    Condition.not_in_arrears: "visit in a period of unpaid contributions: no pooling",
    Condition.has_account: "member has no personal account: not eligible for outpatient pooling",
    Condition.raised_contribution: "contribution rate not raised: no outpatient pooling yet",
    Condition.remote_filing: "remote visit without a remote filing: the fund pays nothing",
    Condition.remote_direct_settlement: "remote visit not settled online: the fund pays nothing",
    Condition.no_third_party: "a third party is liable for this cost: the fund pays nothing",
}


@dataclass(frozen=True)
class Step:
    rule: str
    article: str
    text: str
    amount: int  # fen
    configured: bool  # the value used is configured, not from the rulebook's text


def explain(tables: Tables, result: Result) -> list[Step]:
    klass = 1 if result.member_class is MemberClass.retiree else 0
    line = L.GENERAL
    steps = []
    tr = result.trace
    for i in range(0, len(tr), L.TRACE_STRIDE):
        step, amount, a, b = tr[i : i + L.TRACE_STRIDE]
        if step == L.T_LINE:  # the steps that follow are this line's: cite its rules
            line = amount
            continue
        cite = tables.cites[line][klass][step]
        text = describe(step, amount, a, b, result.member_class, L.LINE_NAMES[line])
        steps.append(Step(cite.rule, cite.article, text, amount, cite.configured))
    return steps


def describe(step: int, amount: int, a: int, b: int, klass: MemberClass, line: str) -> str:
    if L.T_CONDITION <= step < L.T_CONDITION + L.N_CONDITIONS:
        return _CONDITION_TEXT[L.CONDITIONS[step - L.T_CONDITION]]
    who = klass.value
    match step:
        case L.T_YEAR_RESET:
            return f"new year {b}: deductible and caps of {a} reset ({fmt(amount)} used in {a})"
        case L.T_LEVEL_NOT_COVERED:
            return f"{L.LEVELS[a].value} is not paid by {line.replace('_', ' ')}"
        case L.T_DED_ANNUAL:
            return f"annual deductible {fmt(a)} ({who}): {fmt(b)} met before, {fmt(amount)} now"
        case L.T_DED_PER_VISIT:
            return f"{L.LEVELS[b].value} per-visit deductible {fmt(a)}"
        case L.T_DED_WINDOW:
            opened = _EPOCH + timedelta(seconds=b)
            return (
                f"one deductible {fmt(a)} per window, opened {opened:%Y-%m-%d %H:%M} "
                f"at this institution: {fmt(amount)} more"
            )
        case L.T_DED_NONE:
            return f"no deductible at {L.LEVELS[a].value}"
        case L.T_RATIO:
            return f"{who} ratio {fmt_bp(a)} of {fmt(b)} above the deductible"
        case L.T_RETIREE_MERGED:
            return f"retiree annual cap {fmt(a)} counts {fmt(amount)} paid earlier this year"
        case L.T_MONTHLY_CAP:
            return f"monthly cap {fmt(a)}: {fmt(b)} used before, {fmt(amount)} cut"
        case L.T_ANNUAL_CAP:
            return f"annual cap {fmt(a)}: {fmt(b)} used before, {fmt(amount)} cut"
        case L.T_FUND:
            return f"{line.replace('_', ' ')} pays {fmt(amount)}; {fmt(a)} of its {fmt(b)} cap used"
        case L.T_ACCOUNT:
            return (
                f"personal account pays {fmt(amount)} of the in-scope share {fmt(b)}; "
                f"balance {fmt(a)}"
            )
        case L.T_NO_ACCOUNT:
            return f"no personal account: the in-scope share {fmt(b)} is paid in cash"
        case L.T_CASH:
            return f"cash {fmt(amount)}, of which {fmt(a)} out of scope"
        case L.T_OVERFLOW:
            return f"{fmt(amount)} left unpaid by the cap passes to {L.LINE_NAMES[a]}"
        case L.T_OUT_OF_SCOPE:
            return f"{fmt(amount)} out of the catalogue (class C or not listed): the member's"
        case L.T_ABOVE_STANDARD:
            return f"{fmt(amount)} above the payment standard: the member's"
        case L.T_CLASS_B:
            return f"{fmt(amount)} class-B self-pay share (先行自付)"
        case L.T_INTERNET:
            return (
                f"internet visit settled at its physical institution's level ({L.LEVELS[a].value})"
            )
        case L.T_PRESCRIPTION:
            return (
                f"prescription filled at a pharmacy: the prescriber's level ({L.LEVELS[b].value})"
            )
        case L.T_EXEMPT:
            return f"not limited by the {L.CONDITIONS[a].value.replace('_', ' ')} rule"
        case L.T_DED_ITEM:
            return (
                f"yearly deductible {fmt(a)} for this item: {fmt(b)} met before, {fmt(amount)} now"
            )
    raise ValueError(f"unknown trace step {step}")
