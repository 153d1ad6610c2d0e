"""Worked examples per rule, kept as data in tests/cases/<region>/*.yaml.

Each case gives a scenario, the figures computed by hand from the article (the arithmetic is
in the file's comments), and the rule IDs that must appear in each visit's trace.
"""

import re
from decimal import Decimal
from pathlib import Path

import pytest

from gongji import documents
from gongji.calculate import calculate

CASES = sorted((Path(__file__).parent / "cases").glob("*/*.yaml"))
FIGURES = (
    "total",
    "in_scope",
    "deductible",
    "fund_pay",
    "account_pay",
    "cash_pay",
    "account_balance",
    "out_of_scope",
    "above_standard",
    "class_b_self_pay",
)

# The rule IDs issue #2 asks the engine to carry out (general outpatient, all five regions).
ISSUE_RULES = (
    "JMS-7a JMS-7b JMS-7c JMS-8 JMS-9 KF-7 KF-9a KF-9b KF-9c KF-9d KF-10 KF-12 KF-13 KF-19 "
    "PZH-7a PZH-7b PZH-7c PZH-7d PZH-8 NY-5a NY-5b NY-5c NY-6 NY-15 XSBN-9 XSBN-10 XSBN-11 "
    "X-1 X-2 X-3 X-5"
).split()


def load_case(path: Path) -> dict:
    case = documents.read(path)
    assert set(case) <= {"description", "rules", "scenario", "expect"}, path
    return case


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_case(path: Path):
    case = load_case(path)
    assert case["scenario"]["region"] == path.parent.name
    out = calculate(case["scenario"])
    by_id = {v["id"]: v for v in out["visits"]}
    assert [e["id"] for e in case["expect"]] == list(by_id)[: len(case["expect"])]
    traced: set[str] = set()
    for expected in case["expect"]:
        got = by_id[expected["id"]]
        for key, value in expected.items():
            if key in FIGURES:
                assert got[key] == Decimal(str(value)), f"{expected['id']}.{key}"
            elif key in ("member_class", "policy_version"):
                assert got[key] == value, f"{expected['id']}.{key}"
        rules_here = {step["rule"] for step in got["trace"]}
        missing = set(expected.get("rules", [])) - rules_here
        assert not missing, f"{expected['id']}: {missing} not in trace {sorted(rules_here)}"
        traced |= rules_here
        total = got["fund_pay"] + got["account_pay"] + got["cash_pay"]
        assert total == got["total"]
    assert set(case["rules"]) <= traced, f"case rules not traced: {set(case['rules']) - traced}"


# Issue #3: every outpatient category, routing, line items and institution kinds.
CATEGORY_RULES = (
    "XSBN-11 XSBN-12 XSBN-13 XSBN-14 XSBN-15 XSBN-16 XSBN-17 XSBN-29 XSBN-31 XSBN-32 "
    "PZH-7b PZH-9 PZH-10/11 JMS-18 NY-18 NY-19"
).split()


# Issue #19: rules read anew (the chronic cap's diseases, other diseases, Nanyang's pharmacies
# under 第十三条 — M-3 in the inventory —, no pooling during an inpatient stay).
READINGS_RULES = "XSBN-12 XSBN-13 JMS-18 PZH-10/11 NY-5a M-3 XSBN-33".split()


@pytest.mark.parametrize(
    "rules",
    [ISSUE_RULES, CATEGORY_RULES, READINGS_RULES],
    ids=["engine", "categories", "readings"],
)
def test_every_issue_rule_has_a_worked_example(rules):
    covered = {rule for path in CASES for rule in load_case(path)["rules"]}
    assert sorted(set(rules) - covered) == []


def test_every_region_has_cases():
    from gongji.policy import known_regions

    assert {p.parent.name for p in CASES} == set(known_regions())


def test_case_rules_exist_in_inventory(inventory_text):
    known = set(re.findall(r"^- ([A-Z]+-[0-9]+[a-z]?(?:/[0-9]+)?) ", inventory_text, re.M))
    for path in CASES:
        for rule in load_case(path)["rules"]:
            assert rule in known, f"{path.name}: {rule}"
