"""Readings: where a rulebook is silent or says less than the pack, the value is the pack's
`reading` with `source: configured` — cited as configured by the trace, `gongji policy show`
and the console, never as the article's words — and a bureau switches it in its own copy of
the pack (GONGJI_PACKS), without code. Each reading the packs take is switched here and the
result changes as the other reading says; the figures are worked by hand from the articles.
"""

import re
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest
import yaml

from gongji import policy
from gongji.calculate import calculate
from gongji.engine import accounts as account_rules
from gongji.policy.loader import PACKS_DIR, PACKS_ENV


def bureau_pack(tmp_path, monkeypatch, region: str, change) -> None:
    """The bureau's copy of a shipped pack with one reading switched, in force from now."""
    doc = yaml.safe_load((PACKS_DIR / f"{region}.yaml").read_text(encoding="utf-8"))
    change(doc["versions"][0])
    (tmp_path / f"{region}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    monkeypatch.setenv(PACKS_ENV, str(tmp_path))


def figures(out: dict, visit: str = "V1", *keys: str) -> tuple:
    v = next(v for v in out["visits"] if v["id"] == visit)
    return tuple(v[k] for k in keys or ("deductible", "fund_pay", "account_pay", "cash_pay"))


def steps(out: dict, rule: str, visit: str = "V1") -> list[dict]:
    v = next(v for v in out["visits"] if v["id"] == visit)
    return [s for s in v["trace"] if s["rule"] == rule]


def scenario(region: str, visits: list[dict], **member) -> dict:
    return {
        "region": region,
        "member": {"id": "M1", "type": "employee", **member},
        "visits": visits,
    }


def general(region: str, path: str):
    """The shipped node at `path` under the first version's general section."""
    node = policy.load_region(region).versions[0].general
    for part in path.split("."):
        node = node[int(part)] if part.isdigit() else getattr(node, part)
    return node


def d(*values) -> tuple:
    return tuple(Decimal(v) for v in values)


# -- when a new retiree's ratios begin, where the text does not say --------------------------
# Retirement processed on 15 May 2023; a visit on 20 May. on_date (the packs' reading): retiree
# from the 15th; next_month: an employee until 1 June.
RETIREMENT = [
    # 佳木斯 第七条: deductible 500, level 1 70% (retiree 75%): 1500 - 500 = 1000
    ("jiamusi", "level1", "1500.00", d("500.00", "750.00"), d("500.00", "700.00")),
    # 攀枝花 第七条: deductible 200 (retiree 150), level 1 60% (retiree 65%):
    # retiree (1200 - 150) x 65% = 682.50; employee (1200 - 200) x 60% = 600
    ("panzhihua", "level1", "1200.00", d("150.00", "682.50"), d("200.00", "600.00")),
    # 西双版纳 第九条/第十条: 30 a visit at level 1, 60% (retiree 65%): 100 x 65% / 60%
    ("xishuangbanna", "level1", "130.00", d("30.00", "65.00"), d("30.00", "60.00")),
]


@pytest.mark.parametrize(("region", "level", "total", "on_date", "next_month"), RETIREMENT)
def test_retirement_timing_is_a_reading_a_bureau_switches(
    tmp_path, monkeypatch, region, level, total, on_date, next_month
):
    node = policy.load_region(region).versions[0].retirement
    assert node.source == "configured" and node.text is None and node.reading
    visit = {"id": "V1", "time": "2023-05-20T09:00:00", "institution": "H", "level": level,
             "total": total}  # fmt: skip
    doc = scenario(region, [visit], retirement_processed="2023-05-15")
    shipped = calculate(doc)
    assert figures(shipped, "V1", "deductible", "fund_pay") == on_date
    assert figures(shipped, "V1", "member_class") == ("retiree",)
    bureau_pack(
        tmp_path,
        monkeypatch,
        region,
        lambda v: v["retirement"].update(takes_effect="next_month"),
    )
    switched = calculate(doc)
    assert figures(switched, "V1", "deductible", "fund_pay") == next_month
    assert figures(switched, "V1", "member_class") == ("employee",)


@pytest.mark.parametrize("region", ["jiamusi", "panzhihua", "xishuangbanna"])
def test_the_retiree_cap_merge_is_cited_as_a_reading_not_as_the_ratio_article(region):
    """X-2's merge (the year's earlier pay counts against the retiree cap) is stated in words
    only by 开封 第十二条 and 南阳 第六条; elsewhere the step cites the pack's reading."""
    early = {"id": "V1", "time": "2023-03-01T09:00:00", "institution": "H", "level": "level1",
             "total": "1000.00"}  # fmt: skip
    later = {**early, "id": "V2", "time": "2023-08-01T09:00:00"}
    out = calculate(scenario(region, [early, later], retired_from="2023-07-01"))
    merged = [s for s in steps(out, "X-2", "V2") if "含本年此前已支付" in s["text"]]
    assert merged and merged[0]["configured"] and "开封第十二条" in merged[0]["reading"]


def test_kaifeng_cites_its_own_merge_article_as_text():
    early = {"id": "V1", "time": "2023-03-01T09:00:00", "institution": "H", "level": "level2",
             "total": "100.00"}  # fmt: skip
    later = {**early, "id": "V2", "time": "2023-08-01T09:00:00"}
    out = calculate(scenario("kaifeng", [early, later], retired_from="2023-07-01"))
    merged = steps(out, "KF-12", "V2")
    assert merged and "configured" not in merged[0] and merged[0]["article"] == "第十二条"


# -- KF-23: the prescriber's level, and whose deductible a pharmacy fill meets -------------------
H_VISIT = {"id": "V1", "time": "2023-05-02T09:00:00", "institution": "H1", "level": "level2",
           "total": "100.00"}  # fmt: skip
FILL = {"id": "V2", "time": "2023-05-02T14:00:00", "institution": "YD-09", "level": "pharmacy",
        "prescription_level": "level2", "prescribed_at": "H1", "total": "100.00"}  # fmt: skip


def test_kaifeng_prescriber_level_is_a_reading_a_bureau_switches(tmp_path, monkeypatch):
    """开封 第二十三条 gives pharmacies no level: the pack reads the prescriber's (level 2:
    deductible 40, 55% of 60 = 33). Without that reading a pharmacy is paid nothing."""
    node = policy.load_region("kaifeng").versions[0].channels.prescription
    assert node.source == "configured" and node.deductible_at == "pharmacy"
    doc = scenario("kaifeng", [{**FILL, "id": "V1"}])
    assert figures(calculate(doc), "V1", "deductible", "fund_pay") == d("40.00", "33.00")
    bureau_pack(tmp_path, monkeypatch, "kaifeng", lambda v: v["channels"].pop("prescription"))
    assert figures(calculate(doc), "V1", "deductible", "fund_pay") == d("0.00", "0.00")


def test_kaifeng_same_day_fill_deductible_is_a_reading_a_bureau_switches(tmp_path, monkeypatch):
    """KF-9a: 一天内在同一机构多次就诊的，只记一次起付标准. The pack reads the fill as a
    visit of its own at the pharmacy: a second deductible of 40, 55% of 60 = 33. Read as
    continuing the prescribing visit at H1 (deductible_at: prescriber), the day's 40 is met:
    55% of 100."""
    doc = scenario("kaifeng", [H_VISIT, FILL])
    shipped = calculate(doc)
    assert figures(shipped, "V1", "deductible", "fund_pay") == d("40.00", "33.00")
    assert figures(shipped, "V2", "deductible", "fund_pay") == d("40.00", "33.00")
    assert any(s.get("configured") for s in steps(shipped, "KF-23", "V2"))
    bureau_pack(
        tmp_path,
        monkeypatch,
        "kaifeng",
        lambda v: v["channels"]["prescription"].update(deductible_at="prescriber"),
    )
    switched = calculate(doc)
    assert figures(switched, "V2", "deductible", "fund_pay") == d("0.00", "55.00")
    # a fill that does not name its prescriber cannot share its window: its own deductible
    unnamed = {k: v for k, v in FILL.items() if k != "prescribed_at"}
    alone = calculate(scenario("kaifeng", [H_VISIT, unnamed]))
    assert figures(alone, "V2", "deductible", "fund_pay") == d("40.00", "33.00")


# -- remote care without a filing or without direct settlement (KF-22, PZH-7d, NY-15) -----------
def remote(region: str, level: str, total: str, **flags) -> dict:
    visit = {"id": "V1", "time": "2023-05-02T09:00:00", "institution": "R1", "level": level,
             "total": total, "remote": True, **flags}  # fmt: skip
    return scenario(region, [visit])


def drop(condition: str):
    def change(version):
        conds = version["general"]["eligibility"]
        version["general"]["eligibility"] = [c for c in conds if c["condition"] != condition]

    return change


def test_kaifeng_remote_without_filing_is_a_reading_a_bureau_switches(tmp_path, monkeypatch):
    """开封 第二十二条 says where filed residents go, not what an unfiled remote visit gets: the
    pack reads nothing; without the condition, level 2: 40, 55% of 60 = 33."""
    assert general("kaifeng", "eligibility.4").source == "configured"
    doc = remote("kaifeng", "level2", "100.00")
    shipped = calculate(doc)
    assert figures(shipped, "V1", "fund_pay") == d("0.00")
    cited = steps(shipped, "KF-22")
    assert cited[0]["configured"] and cited[0]["reading"].startswith("第二十二条告诉已备案")
    english = steps(calculate(doc, lang="en"), "KF-22")[0]  # the English kept for --lang en
    assert english["reading"].startswith("第二十二条 tells filed remote residents")
    bureau_pack(tmp_path, monkeypatch, "kaifeng", drop("remote_filing"))
    assert figures(calculate(doc), "V1", "deductible", "fund_pay") == d("40.00", "33.00")


def test_kaifeng_remote_not_settled_directly_is_a_reading_a_bureau_switches(tmp_path, monkeypatch):
    assert general("kaifeng", "eligibility.5").source == "configured"
    doc = remote("kaifeng", "level2", "100.00", manual=True)
    doc["member"]["remote_filing"] = {"from": "2023-01-01", "to": "2023-12-31"}
    shipped = calculate(doc)
    assert figures(shipped, "V1", "fund_pay") == d("0.00")
    assert steps(shipped, "KF-22")[0]["configured"]
    bureau_pack(tmp_path, monkeypatch, "kaifeng", drop("remote_direct_settlement"))
    assert figures(calculate(doc), "V1", "fund_pay") == d("33.00")


def test_panzhihua_remote_without_filing_is_a_reading_a_bureau_switches(tmp_path, monkeypatch):
    """攀枝花 第七条 sets filed members' standard only: unfiled is read as unpaid; without the
    condition, the annual 200, then level 2 60% of 100 = 60."""
    assert general("panzhihua", "eligibility.3").source == "configured"
    doc = remote("panzhihua", "level2", "300.00")
    assert figures(calculate(doc), "V1", "fund_pay") == d("0.00")
    bureau_pack(tmp_path, monkeypatch, "panzhihua", drop("remote_filing"))
    assert figures(calculate(doc), "V1", "deductible", "fund_pay") == d("200.00", "60.00")


def test_nanyang_remote_filing_is_a_reading_a_bureau_switches(tmp_path, monkeypatch):
    """南阳 第十五条 pays nothing not settled directly but makes no filing condition: a remote
    visit settled directly is paid (level 2: 30, 55% of 70 = 38.50); a bureau reading the
    filing as required switches `applies` on, and the visit is paid nothing."""
    node = general("nanyang", "eligibility.2")
    assert (node.condition, node.applies, node.source) == ("remote_filing", False, "configured")
    doc = remote("nanyang", "level2", "100.00")
    assert figures(calculate(doc), "V1", "deductible", "fund_pay") == d("30.00", "38.50")

    def require(version):
        version["general"]["eligibility"][2]["applies"] = True

    bureau_pack(tmp_path, monkeypatch, "nanyang", require)
    switched = calculate(doc)
    assert figures(switched, "V1", "fund_pay") == d("0.00")
    assert steps(switched, "NY-15")[0]["configured"]


# -- what the personal account may pay ---------------------------------------------------
@pytest.mark.parametrize("region", ["jiamusi", "kaifeng", "panzhihua", "nanyang", "xishuangbanna"])
def test_what_the_account_pays_is_a_reading_a_bureau_switches(tmp_path, monkeypatch, region):
    """政策范围内自付费用 (the in-scope share, the packs' reading) or 由个人负担的医疗费用
    read as the member's whole share: a visit of 1000 with 800 in scope, 2000 in the
    account. The fund pays the same; the account pays in-scope less fund, or the total less
    fund."""
    node = policy.load_region(region).versions[0].account_pays
    assert (node.share, node.source, node.rule) == ("in_scope", "configured", "X-5")
    visit = {"id": "V1", "time": "2023-05-02T09:00:00", "institution": "H", "level": "level2",
             "total": "1000.00", "in_scope": "800.00"}  # fmt: skip
    doc = scenario(region, [visit], account_balance="2000.00")
    fund, account, cash = figures(calculate(doc), "V1", "fund_pay", "account_pay", "cash_pay")
    assert (account, cash) == (Decimal("800.00") - fund, Decimal("200.00"))
    bureau_pack(tmp_path, monkeypatch, region, lambda v: v["account_pays"].update(share="member"))
    switched = calculate(doc)
    assert figures(switched, "V1", "fund_pay", "account_pay", "cash_pay") == (
        fund,
        Decimal("1000.00") - fund,
        Decimal("0.00"),
    )
    paid = steps(switched, "X-5")[0]
    assert paid["configured"] and "（个人负担" in paid["text"]
    english = steps(calculate(doc, lang="en"), "X-5")[0]
    assert "member's share" in english["text"]


def test_kaifeng_account_share_worked_example(tmp_path, monkeypatch):
    """开封 第九条: level 2, 40, then 55%: (800 - 40) x 55% = 418, cut to the monthly cap 150.
    The in-scope share 800 - 150 = 650 from the account, the 200 out of scope in cash; read
    as the member's whole share, 1000 - 150 = 850 from the account, no cash."""
    visit = {"id": "V1", "time": "2023-05-02T09:00:00", "institution": "H", "level": "level2",
             "total": "1000.00", "in_scope": "800.00"}  # fmt: skip
    doc = scenario("kaifeng", [visit], account_balance="2000.00")
    assert figures(calculate(doc)) == d("40.00", "150.00", "650.00", "200.00")  # monthly cap 150
    bureau_pack(
        tmp_path, monkeypatch, "kaifeng", lambda v: v["account_pays"].update(share="member")
    )
    assert figures(calculate(doc)) == d("40.00", "150.00", "850.00", "0.00")


# -- XSBN-26: when a frozen premium is transferred ------------------------------------------
def test_xishuangbanna_transfer_day_is_a_reading_a_bureau_switches(tmp_path, monkeypatch):
    """第二十六条: 每月10日前…报送资金划拨计划 — the 10th is when the plan goes to the finance
    department; the pack reads it as the transfer day. A bureau whose money moves by the 20th
    sets that."""
    freeze = policy.load_region("xishuangbanna").versions[0].premium_freeze
    assert freeze.source == "configured" and freeze.transfer_by_day == 10
    assert account_rules.freeze_due(freeze, date(2023, 3, 15)) == date(2023, 4, 10)
    bureau_pack(
        tmp_path,
        monkeypatch,
        "xishuangbanna",
        lambda v: v["premium_freeze"].update(transfer_by_day=20),
    )
    switched = policy.load_region("xishuangbanna").versions[0].premium_freeze
    assert account_rules.freeze_due(switched, date(2023, 3, 15)) == date(2023, 4, 20)


# -- shown as readings ------------------------------------------------------------------------
def test_policy_show_marks_readings_as_configured_and_prints_them():
    proc = subprocess.run(
        [sys.executable, "-m", "gongji", "policy", "show", "jiamusi"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PYTHONPATH": ":".join(sys.path)},
    )
    assert proc.returncode == 0, proc.stderr
    switch = next(line for line in proc.stdout.splitlines() if "退休待遇生效" in line)
    assert "X-2" in switch and "配置" in switch
    readings = proc.stdout.split("configured readings")[1]
    assert "X-2第七条:第七条规定退休人员支付比例提高5个百分点" in "".join(readings.split())


# -- in two languages --------------------------------------------------------------------------
CJK = re.compile(r"[\u4e00-\u9fff]")
# three English words in a row: a sentence left in the Chinese (rule IDs such as X-4, numbers
# and `fields` in backticks are not words of a sentence)
ENGLISH_RUN = re.compile(r"[A-Za-z]+(?:[\s,;:'’()-]+[A-Za-z]+){2,}")


def pack_readings() -> list[tuple[str, str, dict]]:
    """Every `reading:` written in a shipped pack file: (file, path, the reading as written)."""
    found = []

    def walk(node, where: str, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "reading":
                    found.append((where, path, value))
                else:
                    walk(value, where, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, where, f"{path}[{i}]")

    for path in sorted(PACKS_DIR.glob("*.yaml")):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")), path.name, "")
    return found


def test_every_reading_is_written_in_chinese_and_english():
    readings = pack_readings()
    assert len(readings) >= 81  # every pack's, the five shipped packs
    for where, path, reading in readings:
        assert isinstance(reading, dict) and set(reading) == {"zh", "en"}, (where, path)
        zh = re.sub(r"`[^`]*`", "", reading["zh"])
        assert CJK.search(zh), (where, path)
        assert ENGLISH_RUN.findall(zh) == [], (where, path, ENGLISH_RUN.findall(zh))
        assert len(ENGLISH_RUN.findall(reading["en"])) > 0, (where, path)  # the English kept


def test_a_reading_is_given_in_the_language_asked_for():
    """`gongji calculate --json` (and the console) give the Chinese; `--lang en` the English."""
    visit = {"id": "V1", "time": "2023-05-02T09:00:00", "institution": "H", "level": "level3",
             "total": "250.00"}  # fmt: skip
    doc = scenario("kaifeng", [visit])
    zh, en = steps(calculate(doc), "X-5")[0], steps(calculate(doc, lang="en"), "X-5")[0]
    assert zh["reading"].startswith("第十七条写了两种份额") and not ENGLISH_RUN.findall(
        re.sub(r"`[^`]*`", "", zh["reading"])
    )
    assert en["reading"].startswith("第十七条 names two shares")


def test_a_reading_without_its_chinese_is_refused():
    from gongji.policy.schema import AccountPays

    node = {"rule": "X-5", "article": "第十七条", "source": "configured", "share": "in_scope"}
    with pytest.raises(ValueError, match="zh"):
        AccountPays.model_validate({**node, "reading": {"en": "the in-scope share"}})
    chinese_only = AccountPays.model_validate({**node, "reading": {"zh": "按政策范围内自付"}})
    assert chinese_only.reading.say("en") == "按政策范围内自付"  # no English: the Chinese
