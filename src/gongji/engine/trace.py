"""Rendering a result's trace records as steps people read, each naming its rule ID.

Kept out of the kernel: records are four integers; words are made only when asked for.
"""

from collections.abc import Callable
from dataclasses import dataclass

from gongji.engine import layout as L
from gongji.engine.facts import local_time
from gongji.engine.settle import Result
from gongji.engine.tables import Citation, Tables
from gongji.labels import label
from gongji.money import fmt, fmt_bp
from gongji.terms import Condition, MemberClass

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
    reading: str | None = None  # where configured: the pack's reading in the step's language


def explain(tables: Tables, result: Result, words: bool = True, lang: str = "zh") -> list[Step]:
    return explain_records(tables, result.member_class, result.trace, words, lang)


def explain_records(
    tables: Tables,
    member_class: MemberClass,
    records: tuple[int, ...],
    words: bool = True,
    lang: str = "zh",
) -> list[Step]:
    """The steps of a trace, each citing its rule; `words=False` leaves the text empty (an
    answer for machines: rule IDs and amounts, the words rendered when someone reads it).
    `lang` is "zh" (the default: the people who read it) or "en"."""
    return [
        Step(s["rule"], s["article"], s["text"], s["amount"], "configured" in s, s.get("reading"))
        for s in rows(tables, member_class, records, words, lang)
    ]


def _fen(amount: int) -> int:
    return amount


def rows(
    tables: Tables,
    member_class: MemberClass,
    records: tuple[int, ...],
    words: bool = True,
    lang: str = "zh",
    number: Callable[[int], object] = _fen,
) -> list[dict]:
    """The steps of a trace as the objects of calculate.md's trace: rule, article, text,
    amount (`number` of its fen: fen itself by default), and where the value used is
    configured `"configured": true` and the pack's reading, if it has one. Made straight as
    the answer's objects, for callers that render every step of many visits (`gongji
    calculate --json`): the loop does no more a step than look up its citation and words."""
    klass = L.CLASSES.index(member_class)
    table, names = WORDS[lang], _NAMES[lang]
    who = names[member_class]  # a StrEnum is its value as a key (its `.value` is slower)
    share = SHARE_WORDS[lang][tables.params[L.P_ACCOUNT_SHARE]]
    in_scope = SHARE_WORDS[lang][L.ACCOUNT_IN_SCOPE]
    reshare = share != in_scope
    cited = _cited(tables, lang, klass)
    line_no = L.GENERAL
    line = names[L.LINE_NAMES[L.GENERAL]]
    out = []
    records = iter(records)
    for step, amount, a, b in zip(records, records, records, records, strict=True):
        if step == L.T_LINE:  # the steps that follow are this line's: cite its rules
            line_no, line = amount, names[L.LINE_NAMES[amount]]
            continue
        # recorded before the kernel's first line mark: the rule of line a
        rule, article, configured, reading = cited[a if step in _OF_LINE_A else line_no][step]
        text = ""
        if words:
            render = table.get(step)
            if render is None:
                raise ValueError(f"unknown trace step {step}")
            text = render(amount, a, b, who, line)
            if reshare and step in _ACCOUNT_STEPS:
                text = text.replace(in_scope, share)
        row = {"rule": rule, "article": article, "text": text, "amount": number(amount)}
        if configured:
            row["configured"] = True
            if reading:
                row["reading"] = reading
        out.append(row)
    return out


def _cited(tables: Tables, lang: str, klass: int) -> tuple:
    """Per line and step, what a row says of the step's citation for members of class
    `klass`: (rule, article, configured, the pack's reading in `lang` or None); None where
    the step cites nothing. Made once a compiled version, language and class, kept in its
    `said`."""
    cited = tables.said.get((lang, klass))
    if cited is None:
        cited = tables.said[lang, klass] = tuple(
            tuple(_said(cite, lang) for cite in classes[klass]) for classes in tables.cites
        )
    return cited


def _said(cite: Citation | None, lang: str) -> tuple[str, str, bool, str | None] | None:
    if cite is None:
        return None
    reading = cite.reading.say(lang) if cite.reading is not None else None
    return cite.rule, cite.article, cite.configured, reading


def _level(i: int) -> str:
    return L.LEVELS[i].value


_OF_LINE_A = (L.T_UNRECOGNISED, L.T_RECOGNISED, L.T_NOT_COUNTED)


def _line(i: int) -> str:
    return L.LINE_NAMES[i].replace("_", " ")


def _opened(b: int) -> str:
    return f"{local_time(b):%Y-%m-%d %H:%M}"


# step -> words, from (amount, a, b, the member's class, the line's name), a table a language.
# A table rather than a chain of cases: every step of every answer is rendered, so the lookup
# is one dict get. Chinese is the default (the people who read a trace); English is kept.
_EN = {
    L.T_YEAR_RESET: lambda n, a, b, who, line: (
        f"new year {b}: deductible and caps of {a} reset ({fmt(n)} used in {a})"
    ),
    L.T_LEVEL_NOT_COVERED: lambda n, a, b, who, line: (
        f"{_level(a)} is not paid by {line.replace('_', ' ')}"
    ),
    L.T_DED_ANNUAL: lambda n, a, b, who, line: (
        f"annual deductible {fmt(a)} ({who}): {fmt(b)} met before, {fmt(n)} now"
    ),
    L.T_DED_PER_VISIT: lambda n, a, b, who, line: f"{_level(b)} per-visit deductible {fmt(a)}",
    L.T_DED_WINDOW: lambda n, a, b, who, line: (
        f"one deductible {fmt(a)} per window, opened {_opened(b)} "
        f"at this institution: {fmt(n)} more"
    ),
    L.T_DED_NONE: lambda n, a, b, who, line: f"no deductible at {_level(a)}",
    L.T_RATIO: lambda n, a, b, who, line: (
        f"{who} ratio {fmt_bp(a)} of {fmt(b)} above the deductible"
    ),
    L.T_RETIREE_MERGED: lambda n, a, b, who, line: (
        f"retiree annual cap {fmt(a)} counts {fmt(n)} paid earlier this year"
    ),
    L.T_MONTHLY_CAP: lambda n, a, b, who, line: (
        f"monthly cap {fmt(a)}: {fmt(b)} used before, {fmt(n)} cut"
    ),
    L.T_ANNUAL_CAP: lambda n, a, b, who, line: (
        f"annual cap {fmt(a)}: {fmt(b)} used before, {fmt(n)} cut"
    ),
    L.T_FUND: lambda n, a, b, who, line: (
        f"{line.replace('_', ' ')} pays {fmt(n)}; {fmt(a)} of its {fmt(b)} cap used"
    ),
    L.T_ACCOUNT: lambda n, a, b, who, line: (
        f"personal account pays {fmt(n)} of the in-scope share {fmt(b)}; balance {fmt(a)}"
    ),
    L.T_NO_ACCOUNT: lambda n, a, b, who, line: (
        f"no personal account: the in-scope share {fmt(b)} is paid in cash"
    ),
    L.T_ACCOUNT_DECLINED: lambda n, a, b, who, line: (
        f"the member chose to pay the in-scope share {fmt(b)} in cash, not from the account"
    ),
    L.T_ACCOUNT_NOT_DESIGNATED: lambda n, a, b, who, line: (
        f"not a designated institution: the account pays nothing; the in-scope share {fmt(b)}"
        " is paid in cash"
    ),
    L.T_CASH: lambda n, a, b, who, line: f"cash {fmt(n)}, of which {fmt(a)} out of scope",
    L.T_OVERFLOW: lambda n, a, b, who, line: (
        f"{fmt(n)} left unpaid by the cap passes to {L.LINE_NAMES[a]}"
    ),
    L.T_OUT_OF_SCOPE: lambda n, a, b, who, line: (
        f"{fmt(n)} out of the catalogue (class C or not listed): the member's"
    ),
    L.T_ABOVE_STANDARD: lambda n, a, b, who, line: (
        f"{fmt(n)} above the payment standard: the member's"
    ),
    L.T_CLASS_B: lambda n, a, b, who, line: f"{fmt(n)} class-B self-pay share (先行自付)",
    L.T_INTERNET: lambda n, a, b, who, line: (
        f"internet visit settled at its physical institution's level ({_level(a)})"
    ),
    L.T_PRESCRIPTION: lambda n, a, b, who, line: (
        f"prescription filled at a pharmacy: the prescriber's level ({_level(b)})"
    ),
    L.T_EXEMPT: lambda n, a, b, who, line: (
        f"not limited by the {L.CONDITIONS[a].value.replace('_', ' ')} rule"
    ),
    L.T_DED_ITEM: lambda n, a, b, who, line: (
        f"yearly deductible {fmt(a)} for this item: {fmt(b)} met before, {fmt(n)} now"
    ),
    L.T_UNRECOGNISED: lambda n, a, b, who, line: (
        f"the disease is not among the member's recognised ones: the {_line(a)} visit is paid"
        f" as {_line(b)} outpatient"
    ),
    L.T_NOT_COUNTED: lambda n, a, b, who, line: (
        f"recognised diseases that do not raise the {_line(a)} cap: {b}"
    ),
    L.T_RECOGNISED: lambda n, a, b, who, line: (
        f"the disease is among the member's recognised ones: the {_line(a)} visit is paid"
        f" by the {_line(b)} policy alone"
    ),
}


def _zh_level(i: int) -> str:
    return label(L.LEVELS[i])


def _zh_line(i: int) -> str:
    return label(L.LINE_NAMES[i])


_ZH = {
    L.T_YEAR_RESET: lambda n, a, b, who, line: (
        f"新年度 {b}：{a} 年的起付线和限额累计清零（{a} 年已累计 {fmt(n)}）"
    ),
    L.T_LEVEL_NOT_COVERED: lambda n, a, b, who, line: f"{_zh_level(a)}不属于{line}的支付范围",
    L.T_DED_ANNUAL: lambda n, a, b, who, line: (
        f"年度起付线 {fmt(a)}（{who}）：此前已累计 {fmt(b)}，本次计入 {fmt(n)}"
    ),
    L.T_DED_PER_VISIT: lambda n, a, b, who, line: f"{_zh_level(b)}每次就诊起付线 {fmt(a)}",
    L.T_DED_WINDOW: lambda n, a, b, who, line: (
        f"同一计算周期只计一次起付线 {fmt(a)}（本机构 {_opened(b)} 起算）：本次计入 {fmt(n)}"
    ),
    L.T_DED_NONE: lambda n, a, b, who, line: f"{_zh_level(a)}不设起付线",
    L.T_RATIO: lambda n, a, b, who, line: f"{who}支付比例 {fmt_bp(a)}，起付线以上费用 {fmt(b)}",
    L.T_RETIREE_MERGED: lambda n, a, b, who, line: (
        f"退休人员年度最高支付限额 {fmt(a)}，含本年此前已支付 {fmt(n)}"
    ),
    L.T_MONTHLY_CAP: lambda n, a, b, who, line: (
        f"月度最高支付限额 {fmt(a)}：此前已支付 {fmt(b)}，超出限额 {fmt(n)}"
    ),
    L.T_ANNUAL_CAP: lambda n, a, b, who, line: (
        f"年度最高支付限额 {fmt(a)}：此前已支付 {fmt(b)}，超出限额 {fmt(n)}"
    ),
    L.T_FUND: lambda n, a, b, who, line: (
        f"统筹基金支付 {fmt(n)}（{line}）；年度限额 {fmt(b)} 已用 {fmt(a)}"
    ),
    L.T_ACCOUNT: lambda n, a, b, who, line: (
        f"个人账户支付 {fmt(n)}（政策范围内个人负担 {fmt(b)}）；账户余额 {fmt(a)}"
    ),
    L.T_NO_ACCOUNT: lambda n, a, b, who, line: (
        f"无个人账户：政策范围内个人负担 {fmt(b)} 由个人现金支付"
    ),
    L.T_ACCOUNT_DECLINED: lambda n, a, b, who, line: (
        f"参保人选择不用个人账户：政策范围内个人负担 {fmt(b)} 由个人现金支付"
    ),
    L.T_ACCOUNT_NOT_DESIGNATED: lambda n, a, b, who, line: (
        f"非定点医疗机构：个人账户不予支付，政策范围内个人负担 {fmt(b)} 由个人现金支付"
    ),
    L.T_CASH: lambda n, a, b, who, line: f"个人现金支付 {fmt(n)}，其中全自费 {fmt(a)}",
    L.T_OVERFLOW: lambda n, a, b, who, line: f"超出限额未支付的 {fmt(n)} 转入{_zh_line(a)}",
    L.T_OUT_OF_SCOPE: lambda n, a, b, who, line: f"全自费 {fmt(n)}（丙类或目录外）：个人负担",
    L.T_ABOVE_STANDARD: lambda n, a, b, who, line: f"超限价自费 {fmt(n)}：个人负担",
    L.T_CLASS_B: lambda n, a, b, who, line: f"乙类先行自付 {fmt(n)}",
    L.T_INTERNET: lambda n, a, b, who, line: (
        f"互联网诊疗按其实体医疗机构的级别（{_zh_level(a)}）结算"
    ),
    L.T_PRESCRIPTION: lambda n, a, b, who, line: (
        f"定点零售药店外配处方：按开方机构的级别（{_zh_level(b)}）结算"
    ),
    L.T_EXEMPT: lambda n, a, b, who, line: f"不受“{label(L.CONDITIONS[a])}”条件限制",
    L.T_DED_ITEM: lambda n, a, b, who, line: (
        f"该项目年度起付线 {fmt(a)}：此前已累计 {fmt(b)}，本次计入 {fmt(n)}"
    ),
    L.T_UNRECOGNISED: lambda n, a, b, who, line: (
        f"该病种不在参保人已认定的病种内：{_zh_line(a)}就诊按{_zh_line(b)}支付"
    ),
    L.T_NOT_COUNTED: lambda n, a, b, who, line: f"不提高{_zh_line(a)}年度限额的已认定病种：{b} 种",
    L.T_RECOGNISED: lambda n, a, b, who, line: (
        f"该病种属参保人已认定的病种：{_zh_line(a)}就诊只按{_zh_line(b)}政策支付"
    ),
}
_ZH_CONDITION_TEXT = {
    Condition.designated: "该机构不是门诊统筹定点医疗机构：统筹基金不予支付",
    Condition.benefit_period: "就诊不在待遇享受期内：基金不予支付",
    Condition.not_inpatient: "参保人当日处于住院期间：不享受门诊统筹",
    Condition.not_in_arrears: "就诊时处于欠费期间：统筹基金不予支付",
    Condition.has_account: "参保人没有个人账户：不享受门诊统筹",
    Condition.raised_contribution: "未按提高后的费率缴费：暂不享受门诊统筹",
    Condition.remote_filing: "异地就医未办理备案：基金不予支付",
    Condition.remote_direct_settlement: "异地就医未直接联网结算：基金不予支付",
    Condition.no_third_party: "该费用应由第三方负担：基金不予支付",
}
# a failed condition: its own step (T_CONDITION + the condition's index), its own words
for _table, _texts in ((_EN, _CONDITION_TEXT), (_ZH, _ZH_CONDITION_TEXT)):
    _table.update(
        (L.T_CONDITION + i, lambda n, a, b, who, line, text=_texts[c]: text)
        for i, c in enumerate(L.CONDITIONS)
    )
WORDS = {"zh": _ZH, "en": _EN}

# the member's class and the lines as a step names them, a language
_KEYS = (*L.LINE_NAMES, *(c.value for c in MemberClass))
_NAMES = {"en": {k: k for k in _KEYS}, "zh": {k: label(k) for k in _KEYS}}

# What the account steps call the share the account may pay, by the pack's reading.
IN_SCOPE_SHARE = "in-scope share"
SHARE_WORDS = {
    "en": {L.ACCOUNT_IN_SCOPE: IN_SCOPE_SHARE, L.ACCOUNT_MEMBER: "member's share"},
    "zh": {L.ACCOUNT_IN_SCOPE: "政策范围内个人负担", L.ACCOUNT_MEMBER: "个人负担"},
}
_ACCOUNT_STEPS = (L.T_ACCOUNT, L.T_NO_ACCOUNT, L.T_ACCOUNT_DECLINED, L.T_ACCOUNT_NOT_DESIGNATED)


def describe(
    step: int,
    amount: int,
    a: int,
    b: int,
    klass: MemberClass,
    line: str,
    share: str | None = None,
    lang: str = "zh",
) -> str:
    """One step's words (what `rows` renders for it); `line` is the line's name, `share`
    what the account steps call the share the account may pay (default the in-scope one)."""
    words = WORDS[lang].get(step)
    if words is None:
        raise ValueError(f"unknown trace step {step}")
    names = _NAMES[lang]
    text = words(amount, a, b, names[klass.value], names.get(line, line))
    in_scope = SHARE_WORDS[lang][L.ACCOUNT_IN_SCOPE]
    if share is None or step not in _ACCOUNT_STEPS:
        return text
    return text.replace(in_scope, share)
