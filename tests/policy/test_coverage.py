"""Every rule of rules-inventory.md is named by a test that exercises it, or is carried
outside the engine at a place docs/rules-coverage.md names (and this test checks it is
there), or is left, by name, to other work."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULE_ID = r"[A-Z]+-[0-9]+[a-z]?(?:/[0-9]+)?"

# rule -> (file, the names in it that carry the rule)
OUTSIDE = {
    "M-5": [
        ("src/gongji/service/national.py", ("def member_information", "def _settlement_input")),
    ],
    "M-6": [
        ("src/gongji/service/registered.py", ("def upload_fees", "rx_circ_flag")),
        ("src/gongji/supervision/monitoring.yaml", ("prescription_circulation:",)),
    ],
}
# rule -> the work that covers it (issue 19 items 1-7: the engine's changes)
LEFT = {"XSBN-33": "issue 19 items 1–7: the engine's inpatient condition for XSBN-33"}


def inventory_ids(text: str) -> list[str]:
    return re.findall(rf"^- ({RULE_ID}) ", text, re.M)


def named_by_tests() -> set[str]:
    """The rule IDs a test names: in a test module, or in a worked example's `rules`."""
    found: set[str] = set()
    here = Path(__file__).resolve()
    for path in (ROOT / "tests").rglob("*"):
        if path.suffix not in (".py", ".yaml") or path.resolve() == here:
            continue
        if path.suffix == ".py" and not (path.name.startswith("test_") or "cases" in path.parts):
            continue
        found |= set(re.findall(rf"(?<![A-Za-z0-9-])({RULE_ID})(?![0-9a-z/])", path.read_text()))
    return found


def test_every_inventory_rule_is_tested_or_carried_outside_the_engine(inventory_text):
    named = named_by_tests()
    missing = [
        r for r in inventory_ids(inventory_text) if r not in named | set(OUTSIDE) | set(LEFT)
    ]
    assert missing == []


@pytest.mark.parametrize("rule", sorted(OUTSIDE))
def test_a_rule_carried_outside_the_engine_is_where_the_docs_say(rule, inventory_text):
    assert rule in inventory_ids(inventory_text)
    doc = (ROOT / "docs" / "rules-coverage.md").read_text(encoding="utf-8")
    row = next(line for line in doc.splitlines() if line.startswith(f"| {rule} |"))
    for file, names in OUTSIDE[rule]:
        text = (ROOT / file).read_text(encoding="utf-8")
        assert file in row
        for name in names:
            assert name in text, f"{rule}: {name} is not in {file}"


def test_the_docs_list_what_this_test_leaves_to_other_work():
    doc = (ROOT / "docs" / "rules-coverage.md").read_text(encoding="utf-8")
    for rule in LEFT:
        assert any(line.startswith(f"| {rule} |") for line in doc.splitlines()), rule
