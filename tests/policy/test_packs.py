"""Packs load, cite real rules, and an inconsistent pack fails naming file, key and reason."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gongji import policy
from gongji.errors import PolicyError
from gongji.policy.loader import PACKS_DIR, PACKS_ENV


@pytest.mark.parametrize("region", ["jiamusi", "kaifeng", "panzhihua", "nanyang", "xishuangbanna"])
def test_shipped_pack_loads(region):
    pack = policy.load_region(region)
    assert pack.region == region and pack.versions


def test_every_cited_rule_is_in_the_inventory(inventory_text):
    known = set(re.findall(r"^- ([A-Z]+-[0-9]+[a-z]?(?:/[0-9]+)?) ", inventory_text, re.M))
    # and the regions' articles a management rule lists as its own (M-2: [JMS-19, KF-24, ...])
    for listed in re.findall(r"\[([^\]]*)\]", inventory_text):
        ids = (i.strip() for i in listed.split(","))
        known |= {i for i in ids if re.fullmatch(r"[A-Z]+-[0-9]+[a-z]?(?:/[0-9]+)?", i)}
    for region in policy.known_regions():
        text = (PACKS_DIR / f"{region}.yaml").read_text(encoding="utf-8")
        for rule in re.findall(r"\b[A-Z]+-\d+[a-z]?(?:/\d+)?\b", text):
            assert rule in known, f"{region}: {rule}"


def test_kaifeng_halving_is_a_dated_version():
    pack = policy.load_region("kaifeng")
    from datetime import date

    v2022, v2023 = pack.version_on(date(2022, 9, 1)), pack.version_on(date(2023, 9, 1))
    assert (v2022.general.annual_cap.employee, v2023.general.annual_cap.employee) == (50000, 100000)
    assert v2022.general.annual_cap.rule == "KF-9c" and v2023.general.annual_cap.rule == "KF-9b"
    # the 2023 version inherits what it does not change
    assert v2023.general.monthly_cap == v2022.general.monthly_cap
    assert pack.version_on(date(2022, 6, 30)) is None


def broken(tmp_path: Path, mutate) -> Path:
    doc = yaml.safe_load((PACKS_DIR / "kaifeng.yaml").read_text(encoding="utf-8"))
    mutate(doc)
    path = tmp_path / "kaifeng.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def set_ratio(doc, level, value):
    doc["versions"][0]["general"]["ratio"]["employee"][level] = value


def set_to(doc, value):
    doc["versions"][0]["to"] = value


BROKEN = [
    (
        lambda d: set_ratio(d, "level4", "50%"),
        "versions[0].general.ratio.employee.level4",
        "unknown value 'level4'",
    ),
    (
        lambda d: set_ratio(d, "level3", "120%"),
        "versions[0].general.ratio.employee.level3",
        "between 0% and 100%",
    ),
    (
        lambda d: set_ratio(d, "level3", 0.5),
        "versions[0].general.ratio.employee.level3",
        "percent sign",
    ),
    (lambda d: set_to(d, "2023-06-30"), "versions[0].to", "overlaps versions[1]"),
    (lambda d: d["versions"][1].update({"from": "2022-01-01"}), "versions[1].from", "date order"),
    (
        lambda d: d["versions"][0]["general"]["ratio"]["employee"].pop("level2"),
        "versions[0].general.ratio.retiree",
        "same levels",
    ),
    (
        lambda d: d["versions"][0]["general"]["annual_cap"].update({"rule": "KF9c"}),
        "versions[0].general.annual_cap.rule",
        "should match pattern",
    ),
    (
        lambda d: d["versions"][0]["general"]["annual_cap"].update({"employee": "12.345"}),
        "versions[0].general.annual_cap.employee",
        "two decimals",
    ),
    (
        lambda d: d["versions"][0]["general"]["eligibility"][0].update(
            {"member_types": ["flexible"]}
        ),
        "versions[0].general.eligibility[0].member_types",
        "only for raised_contribution",
    ),
    (lambda d: d["versions"][0]["general"].pop("ratio"), "versions[0].general.ratio", "required"),
    (
        lambda d: d["versions"][0]["account_use"]["premiums"].pop("supplementary_premium"),
        "versions[0].account_use.premiums.supplementary_premium",
        "say whom it may be for",
    ),
    (
        lambda d: d["versions"][0]["account_use"]["premiums"]["family_resident_premium"].update(
            {"beneficiaries": []}
        ),
        "versions[0].account_use.premiums.family_resident_premium.beneficiaries",
        "at least 1",
    ),
    (
        lambda d: d["versions"][0].update(
            {
                "premium_freeze": {
                    "rule": "XSBN-26",
                    "article": "第二十六条",
                    "purposes": ["long_term_care_premium"],
                    "transfer_by_day": 10,
                }
            }
        ),
        "versions[0].premium_freeze.purposes",
        "not an allowed premium",
    ),
    # a calendar-day window cannot run past 31 December: no year-end reading for it
    (
        lambda d: d["versions"][0]["general"]["deductible"].update(
            {"year_end": {"rule": "KF-9a", "article": "第九条", "closes": True}}
        ),
        "versions[0].general.deductible.year_end",
        "only for hours_from_charged",
    ),
    (
        lambda d: d["versions"][0]["general"]["deductible"].update(
            {"window": "hours_from_charged", "window_hours": 24}
        ),
        "versions[0].general.deductible.year_end",
        "required for hours_from_charged",
    ),
    (
        lambda d: d["versions"][0]["general"]["annual_cap"].update(
            {"not_counted": {"rule": "KF-9b", "article": "第九条", "diseases": ["d1"]}}
        ),
        "versions[0].general.annual_cap.not_counted",
        "only for a cap that grows per disease",
    ),
    (
        lambda d: d["versions"][0]["general"].update(
            {"unrecognised": {"rule": "KF-9b", "article": "第九条", "to": "chronic"}}
        ),
        "versions[0].general.unrecognised",
        "not for general",
    ),
    (
        lambda d: d["versions"][0].update({"special": _special(to="chronic")}),
        "versions[0].special.unrecognised.to",
        "no chronic policy",
    ),
    (
        lambda d: d["versions"][0]["family"].update({"within": "province"}),
        "versions[0].family.within",
        "valid dictionary",
    ),
]


def _special(to: str) -> dict:
    """A special-disease benefit for 开封 (which has none) sending other diseases on."""
    cite = {"rule": "KF-9a", "article": "第九条"}
    return {
        "deductible": {**cite, "basis": "none"},
        "ratio": {**cite, "flat": "50%"},
        "annual_cap": {**cite, "employee": 1000, "retiree": 1000},
        "unrecognised": {**cite, "to": to},
    }


@pytest.mark.parametrize(("mutate", "key", "reason"), BROKEN, ids=[b[1] for b in BROKEN])
def test_inconsistent_pack_fails_naming_file_key_reason(tmp_path, mutate, key, reason):
    with pytest.raises(PolicyError) as err:
        policy.load_file(broken(tmp_path, mutate))
    assert err.value.file == "kaifeng.yaml"
    assert err.value.key == key
    assert reason in err.value.reason


def test_a_pack_file_is_read_whatever_its_name_but_a_regions_pack_must_say_its_region(
    tmp_path, monkeypatch
):
    reform = tmp_path / "reform.yaml"
    broken(tmp_path, lambda d: None).rename(reform)
    assert policy.load_file(reform).region == "kaifeng"  # the region is the file's
    assert policy.load(str(reform)).region == "kaifeng"
    own = tmp_path / "own"
    own.mkdir()
    (own / "kaifeng.yaml").write_text(
        reform.read_text(encoding="utf-8").replace("region: kaifeng", "region: nanyang"),
        encoding="utf-8",
    )
    monkeypatch.setenv(PACKS_ENV, str(own))  # a bureau's kaifeng.yaml that says nanyang
    with pytest.raises(PolicyError) as err:
        policy.load_region("kaifeng")
    assert (err.value.key, err.value.reason) == ("region", "must match the file name ('kaifeng')")


def test_cli_shows_and_compares_packs(tmp_path):
    show = subprocess.run(
        [sys.executable, "-m", "gongji", "policy", "show", "nanyang"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert show.returncode == 0 and "NY-5a" in show.stdout
    assert "同一机构计起付线后若干小时内只计一次" in show.stdout  # hours_from_charged, in words
    cmp = subprocess.run(
        [
            sys.executable,
            "-m",
            "gongji",
            "policy",
            "compare",
            "kaifeng",
            "panzhihua",
            "--on",
            "2023-06-01",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert cmp.returncode == 0 and "KF-9d" in cmp.stdout and "PZH-7b" in cmp.stdout
    lines = cmp.stdout.splitlines()
    # a difference is marked (≠, and bold), a value both packs share is not
    assert "≠" in next(line for line in lines if "每次就诊起付线, 三级" in line)
    assert "≠" not in next(line for line in lines if "限额归集" in line)
    assert re.search(r"\d+ 项不同", cmp.stdout)
    bad = broken(tmp_path, lambda d: set_ratio(d, "level3", "120%"))
    proc = subprocess.run(
        [sys.executable, "-m", "gongji", "policy", "show", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("kaifeng.yaml·versions第1项·general·ratio·employee·level3：")
    assert "(kaifeng.yaml: versions[0].general.ratio.employee.level3: " in proc.stderr
