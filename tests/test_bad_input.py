"""Bad scenarios: one line naming the field and why, exit 2, never a traceback, never coerced."""

import json
import re
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongji.calculate import calculate
from gongji.errors import InputError
from gongji.model import unprintable

from .conftest import examples


def scenario(**visit_changes) -> dict:
    visit = {
        "id": "V1",
        "time": "2023-03-01T10:00:00",
        "institution": "H1",
        "level": "level3",
        "total": "250.00",
        "in_scope": "200.00",
    }
    visit.update(visit_changes)
    visit = {k: v for k, v in visit.items() if v is not None}
    return {"region": "kaifeng", "member": {"id": "P1", "type": "employee"}, "visits": [visit]}


def with_member(**changes) -> dict:
    doc = scenario()
    doc["member"].update(changes)
    return doc


def second_visit(**changes) -> dict:
    doc = scenario()
    doc["visits"].append({**doc["visits"][0], "id": "V2", **changes})
    return doc


BAD = [
    (scenario(in_scope="300.00"), "visits[0].in_scope", "must not exceed total (300.00 > 250.00)"),
    (scenario(total="-1"), "visits[0].total", "must not be negative"),
    (scenario(total="250.005"), "visits[0].total", "at most two decimals"),
    (scenario(total=True), "visits[0].total", "exact decimal"),
    (scenario(total=None), "visits[0].total", "required"),
    (scenario(level="level4"), "visits[0].level", "unknown value 'level4'"),
    (scenario(category="dental"), "visits[0].category", "unknown value 'dental'"),
    (scenario(category="chronic"), "visits[0].category", "kaifeng@2023-01-01 has no chronic"),
    (scenario(category="negotiated_drug"), "visits[0].drug", "required"),
    (scenario(prescription_level="level2"), "visits[0].prescription_level", "pharmacy sale"),
    (scenario(level="pharmacy", internet=True), "visits[0].internet", "physical institution"),
    (scenario(remote="yes"), "visits[0].remote", "boolean"),
    (scenario(agreement=False), "visits[0].agreement", "designated for pooling has one"),
    (scenario(totl="1"), "visits[0].totl", "unknown field"),
    (scenario(time="2021-01-01T00:00:00"), "visits[0].time", "no kaifeng policy in force"),
    (second_visit(time="2023-02-01T00:00:00"), "visits[1].time", "time order"),
    (second_visit(id="V1"), "visits[1].id", "duplicate visit id"),
    # compared with the first visit's local time, an offset raised TypeError (a traceback)
    (second_visit(time="2023-03-02T10:00:00+08:00"), "visits[1].time", "without a time zone"),
    ({**scenario(), "region": "atlantis"}, "region", "unknown region 'atlantis'"),
    ({**scenario(), "region": "x" * 300}, "region", "unknown region 'xxx"),  # no OSError
    ({**scenario(), "region": "../kaifeng"}, "region", "unknown region '../kaifeng'"),
    ({**scenario(), "region": None}, "region", "required"),
    ({**scenario(), "visits": []}, "visits", "at least 1"),
    (with_member(type="student"), "member.type", "unknown value 'student'"),
    (with_member(type="retiree", retired_from="2023-01-01"), "member.retired_from", "retiree"),
    (
        with_member(type="retiree", retirement_processed="2023-01-01"),
        "member.retirement_processed",
        "type is retiree",
    ),
    (
        with_member(type="single_pool", account_balance="10.00"),
        "member.account_balance",
        "no personal account",
    ),
    (
        with_member(inpatient_stays=[{"from": "2023-05-10", "to": "2023-05-01"}]),
        "member.inpatient_stays[0].to",
        "ends before it starts",
    ),
    ([1, 2], "(document)", "mapping"),
    # issue 17: ids within the store's limits and printable, days within reason
    (scenario(id="V" * 65), "visits[0].id", "at most 64 characters"),
    (scenario(institution="H" * 41), "visits[0].institution", "at most 40 characters"),
    (scenario(institution="H1\x00"), "visits[0].institution", "control character (U+0000)"),
    (scenario(disease="J06\ud800"), "visits[0].disease", "unpaired surrogate (U+D800)"),
    (scenario(id=" "), "visits[0].id", "must not be blank"),
    (with_member(id="P" * 41), "member.id", "at most 40 characters"),
    (with_member(chronic_diseases=["E11\x1b"]), "member.chronic_diseases[0]", "control"),
    (
        with_member(retirement_processed="9999-12-31"),
        "member.retirement_processed",
        "not a day between",
    ),
    (
        with_member(arrears=[{"from": "0001-01-01", "to": "2023-01-01"}]),
        "member.arrears[0].from",
        "not a day between",
    ),
    (
        with_member(arrears=[{"from": "2023-01-01", "to": "1899-12-31"}]),
        "member.arrears[0].to",
        "not a day from 1900-01-01 on",
    ),
]


@pytest.mark.parametrize(("doc", "field", "reason"), BAD, ids=[b[1] + ":" + b[2][:20] for b in BAD])
def test_bad_scenario_names_the_field(doc, field, reason):
    with pytest.raises(InputError) as err:
        calculate(doc)
    assert err.value.field == field
    assert reason in err.value.reason


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gongji", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("doc", [scenario(in_scope="300.00"), scenario(level="x"), [1]])
def test_cli_bad_scenario_exits_2_with_one_line(doc):
    proc = run_cli("calculate", "-", "--json", stdin=json.dumps(doc))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr


def test_cli_example_of_the_contract():
    proc = run_cli("calculate", "-", "--json", stdin=json.dumps(scenario(in_scope="300.00")))
    english = "visits[0].in_scope: must not exceed total (300.00 > 250.00)"
    # Chinese first, the field as people name it; the English `field: reason` after it
    assert proc.stderr.startswith("第1次就诊·政策范围内费用：")
    assert proc.stderr.strip().endswith(f" ({english})")


def test_cli_unreadable_and_malformed_files(tmp_path):
    missing = run_cli("calculate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("region: [kaifeng\n", encoding="utf-8")
    proc = run_cli("calculate", str(bad))
    assert proc.returncode == 2 and "not valid YAML" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_json_input_numbers_stay_exact():
    doc = scenario(total=250.005, in_scope=None)
    proc = run_cli("calculate", "-", "--json", stdin=json.dumps(doc))
    assert proc.returncode == 2 and "at most two decimals" in proc.stderr


def test_a_period_may_end_on_the_last_day_a_date_holds():
    """9999-12-31, the open end some systems write: nothing counts on from a period's end."""
    doc = with_member(benefit_periods=[{"from": "2023-01-01", "to": "9999-12-31"}])
    assert calculate(doc)["visits"][0]["fund_pay"] == Decimal("75.00")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (
            "  - {id: V1, time: 2023-02-30T10:00:00, institution: H1, total: 250.00}",
            "visits[0].time",
        ),
        ("  - {id: V1, time: 2023-02-30, institution: H1, total: 250.00}", "visits[0].time"),
    ],
)
def test_a_yaml_date_that_does_not_exist_is_one_line_naming_the_field(tmp_path, line, field):
    """2023-02-30 in YAML is named as in JSON (YAML reads dates itself: it was a traceback)."""
    path = tmp_path / "scenario.yaml"
    path.write_text(
        f"region: kaifeng\nmember: {{id: P1, type: employee}}\nvisits:\n{line}\n", encoding="utf-8"
    )
    proc = run_cli("calculate", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (message,) = proc.stderr.splitlines()
    assert message.startswith("第1次就诊·就诊时间：") and f"({field}: " in message
    assert "day value is outside expected range" in message


def test_a_pack_date_that_does_not_exist_names_its_key(tmp_path):
    from gongji import policy
    from gongji.errors import PolicyError
    from gongji.policy.loader import PACKS_DIR

    text = (PACKS_DIR / "kaifeng.yaml").read_text(encoding="utf-8")
    path = tmp_path / "kaifeng.yaml"
    path.write_text(text.replace("from: 2023-01-01", "from: 2023-02-30", 1), encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        policy.load_file(path)
    assert err.value.key == "versions[1].from" and "day value" in err.value.reason


def _unprintable_by_pattern(text: str) -> str | None:
    found = re.search("[\x00-\x1f\x7f-\x9f\ud800-\udfff]", text)
    if found is None:
        return None
    char = found.group()
    kind = "an unpaired surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
    return f"contains {kind} (U+{ord(char):04X})"


@settings(max_examples=examples(1000))
@given(st.text(alphabet=st.characters(max_codepoint=0xFFFF, exclude_categories=()), max_size=12))
def test_unprintable_as_its_pattern_says(text):
    """An id's characters: the ASCII shortcut answers as the pattern does, whatever the text
    (ASCII with DEL or a control character, C1 controls, surrogates, CJK)."""
    assert unprintable(text) == _unprintable_by_pattern(text)


@pytest.mark.parametrize("text", ["H1", "H\x7f", "a\x00", "医院\x85", "\ud800", " ", "~"])
def test_unprintable_edges(text):
    assert unprintable(text) == _unprintable_by_pattern(text)
