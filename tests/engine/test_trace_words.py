"""The words a trace is rendered in (engine/trace.py), for people: each step's text with its
amounts, the member's class, the window's opening time, the year reset; and the steps at the
edges of the condition range."""

from datetime import date, datetime
from pathlib import Path

import pytest

from gongji import documents, engine, policy
from gongji.calculate import calculate
from gongji.engine import layout as L
from gongji.engine.trace import describe
from gongji.terms import Level, MemberClass, MemberType


def texts(visit: dict) -> list[tuple[str, str, str]]:
    return [(s["rule"], str(s["amount"]), s["text"]) for s in visit["trace"]]


def retiree_visits(lang: str) -> list[dict]:
    return calculate(
        {
            "region": "kaifeng",
            "member": {"id": "R", "type": "retiree"},
            "visits": [
                {
                    "id": "V1",
                    "time": "2023-03-01T10:00:00",
                    "institution": "H001",
                    "level": "level3",
                    "total": "250.00",
                    "in_scope": "200.00",
                },
                {
                    "id": "V2",
                    "time": "2023-03-01T15:30:00",
                    "institution": "H001",
                    "level": "level3",
                    "total": "100.00",
                },
                {
                    "id": "V3",
                    "time": "2024-01-02T09:00:00",
                    "institution": "H001",
                    "level": "level1",
                    "total": "100.00",
                },
            ],
        },
        lang=lang,
    )["visits"]


def test_a_retirees_visits_in_words():
    """KF-9a: 50 at level 3 once per institution and day, none at level 1; KF-9d: a retiree's
    ratio is 10 points above an employee's (60% at level 3, 70% at level 1); KF-9b: the
    retiree's cap 1500. In Chinese, the default."""
    v1, v2, v3 = retiree_visits("zh")
    assert texts(v1) == [
        ("KF-9a", "50.00", "三级每次就诊起付线 50.00"),
        ("KF-9d", "90.00", "退休人员支付比例 60%，起付线以上费用 150.00"),
        ("KF-11", "90.00", "统筹基金支付 90.00（普通门诊统筹）；年度限额 1500.00 已用 90.00"),
        ("X-5", "0.00", "个人账户支付 0.00（政策范围内个人负担 110.00）；账户余额 0.00"),
        ("X-5", "160.00", "个人现金支付 160.00，其中全自费 50.00"),
    ]
    assert texts(v2)[0] == (
        "KF-9a",
        "0.00",
        "同一计算周期只计一次起付线 50.00（本机构 2023-03-01 10:00 起算）：本次计入 0.00",
    )
    assert texts(v3)[:3] == [
        ("X-1", "150.00", "新年度 2024：2023 年的起付线和限额累计清零（2023 年已累计 150.00）"),
        ("KF-9a", "0.00", "一级不设起付线"),
        ("KF-9d", "70.00", "退休人员支付比例 70%，起付线以上费用 100.00"),
    ]


def test_a_retirees_visits_in_english():
    """The same visits with lang="en": the English words, the same rules and amounts."""
    v1, v2, v3 = retiree_visits("en")
    assert texts(v1) == [
        ("KF-9a", "50.00", "level3 per-visit deductible 50.00"),
        ("KF-9d", "90.00", "retiree ratio 60% of 150.00 above the deductible"),
        ("KF-11", "90.00", "general pays 90.00; 90.00 of its 1500.00 cap used"),
        ("X-5", "0.00", "personal account pays 0.00 of the in-scope share 110.00; balance 0.00"),
        ("X-5", "160.00", "cash 160.00, of which 50.00 out of scope"),
    ]
    assert texts(v2)[0] == (
        "KF-9a",
        "0.00",
        "one deductible 50.00 per window, opened 2023-03-01 10:00 at this institution: 0.00 more",
    )
    assert texts(v3)[:3] == [
        ("X-1", "150.00", "new year 2024: deductible and caps of 2023 reset (150.00 used in 2023)"),
        ("KF-9a", "0.00", "no deductible at level1"),
        ("KF-9d", "70.00", "retiree ratio 70% of 100.00 above the deductible"),
    ]


def test_explain_without_words_keeps_rules_and_amounts():
    tables = engine.tables_on(policy.load_region("kaifeng"), date(2023, 3, 1))
    member = engine.Member(type=MemberType.employee, has_account=False)
    visit = engine.Visit(datetime(2023, 3, 1, 9), "H1", Level.level3, 10_000, 10_000)
    result, _ = engine.settle(tables, member, engine.YearState.new(), visit)
    bare = engine.explain(tables, result, words=False)
    worded = engine.explain(tables, result)
    assert [s.text for s in bare] == [""] * len(worded)
    assert [(s.rule, s.amount) for s in bare] == [(s.rule, s.amount) for s in worded]
    assert worded[-2].text == "无个人账户：政策范围内个人负担 75.00 由个人现金支付"
    english = engine.explain(tables, result, lang="en")
    assert english[-2].text == "no personal account: the in-scope share 75.00 is paid in cash"


@pytest.mark.parametrize(
    ("step", "a", "b", "text", "zh"),
    [
        (
            L.T_YEAR_RESET,
            2022,
            2023,
            "new year 2023: deductible and caps of 2022 reset (0.00 used in 2022)",
            "新年度 2023：2022 年的起付线和限额累计清零（2022 年已累计 0.00）",
        ),
        (
            L.T_CONDITION,
            0,
            0,
            "institution not designated for outpatient pooling: no pooling",
            "该机构不是门诊统筹定点医疗机构：统筹基金不予支付",
        ),
        (
            L.T_CONDITION + L.N_CONDITIONS - 1,
            0,
            0,
            "a third party is liable for this cost: the fund pays nothing",
            "该费用应由第三方负担：基金不予支付",
        ),
        (
            L.T_LEVEL_NOT_COVERED,
            L.LEVELS.index(Level.pharmacy),
            0,
            "pharmacy is not paid by two diseases",
            "定点零售药店不属于两病的支付范围",
        ),
    ],
)
def test_the_steps_at_the_edges_of_the_condition_range(step, a, b, text, zh):
    assert describe(step, 0, a, b, MemberClass.employee, "two_diseases", lang="en") == text
    assert describe(step, 0, a, b, MemberClass.employee, "two_diseases") == zh


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_step_has_words_in_every_language(lang):
    """A step added to the engine without its words in one language fails here."""
    for step in range(L.N_STEPS):
        if step == L.T_LINE:
            continue
        assert describe(step, 0, 0, 0, MemberClass.employee, "general", lang=lang)


def test_an_unknown_step_is_an_error():
    with pytest.raises(ValueError) as err:
        describe(L.N_STEPS, 0, 0, 0, MemberClass.employee, "general")
    assert str(err.value) == f"unknown trace step {L.N_STEPS}"


def test_a_negotiated_drugs_yearly_deductible_in_words():
    """XSBN-16: 800 per drug per year, met over purchases (the worked example
    tests/cases/xishuangbanna/negotiated-drug-partial.yaml)."""
    path = Path(__file__).parents[1] / "cases" / "xishuangbanna" / "negotiated-drug-partial.yaml"
    d1, d2 = calculate(documents.read(path)["scenario"])["visits"][:2]
    assert texts(d1)[0] == (
        "XSBN-16",
        "300.00",
        "该项目年度起付线 800.00：此前已累计 0.00，本次计入 300.00",
    )
    assert texts(d2)[0] == (
        "XSBN-16",
        "300.00",
        "该项目年度起付线 800.00：此前已累计 300.00，本次计入 300.00",
    )
    e1 = calculate(documents.read(path)["scenario"], lang="en")["visits"][0]
    assert texts(e1)[0] == (
        "XSBN-16",
        "300.00",
        "yearly deductible 800.00 for this item: 0.00 met before, 300.00 now",
    )


def test_a_step_from_configured_values_says_so():
    """XSBN-15: the emergency line takes the inpatient deductible and ratio the bureau
    configures (tests/cases/xishuangbanna/emergency.yaml); the designation rule it is
    exempt from is the article's own."""
    path = Path(__file__).parents[1] / "cases" / "xishuangbanna" / "emergency.yaml"
    v1 = calculate(documents.read(path)["scenario"])["visits"][0]
    flags = [(s["rule"], s.get("configured", False)) for s in v1["trace"]][:3]
    assert flags == [("XSBN-29", False), ("XSBN-29", False), ("XSBN-15", True)]
