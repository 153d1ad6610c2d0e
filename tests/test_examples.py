"""Every scenario in examples/ runs through `gongji calculate`, as a table and as JSON."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gongji.cli import app
from gongji.policy import known_regions

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.*"))
runner = CliRunner()


def test_examples_cover_every_region():
    assert len(EXAMPLES) >= 10
    regions = {
        json.loads(runner.invoke(app, ["calculate", str(p), "--json"]).stdout)["region"]
        for p in EXAMPLES
    }
    assert regions == set(known_regions())


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path):
    table = runner.invoke(app, ["calculate", str(path)])
    assert table.exit_code == 0, table.output
    assert "合计" in table.output  # the table is Chinese by default
    proc = runner.invoke(app, ["calculate", str(path), "--json"])
    assert proc.exit_code == 0, proc.output
    out = json.loads(proc.stdout, parse_float=Decimal)
    for v in out["visits"]:
        assert v["fund_pay"] + v["account_pay"] + v["cash_pay"] == v["total"]
        assert v["trace"] and all(step["rule"] for step in v["trace"])
    assert out["totals"]["total"] == sum(v["total"] for v in out["visits"])


def test_examples_cover_every_category():
    from gongji import documents
    from gongji.terms import Category

    used = {
        visit.get("category", "general")
        for path in EXAMPLES
        for visit in documents.read(path)["visits"]
    }
    assert used == {c.value for c in Category}


def test_the_calculate_table_and_json_in_chinese_and_in_english():
    """Issue 21: each trace step in Chinese, with its rule and article; `--lang en` keeps the
    English, in the table and in the JSON alike."""
    path = Path(__file__).parents[1] / "examples" / "kaifeng-same-day.yaml"
    zh = runner.invoke(app, ["calculate", str(path)], env={"COLUMNS": "200"})
    assert zh.exit_code == 0, zh.output
    assert (
        "三级每次就诊起付线 50.00" in zh.output and "KF-9a" in zh.output and "第九条" in zh.output
    )
    assert "统筹基金支付" in zh.output and "per-visit" not in zh.output
    en = runner.invoke(app, ["calculate", str(path), "--lang", "en"], env={"COLUMNS": "200"})
    assert "level3 per-visit deductible 50.00" in en.output and "totals" in en.output
    assert "三级" not in en.output
    zh_json = json.loads(runner.invoke(app, ["calculate", str(path), "--json"]).stdout)
    en_json = json.loads(
        runner.invoke(app, ["calculate", str(path), "--json", "--lang", "en"]).stdout
    )
    assert zh_json["visits"][0]["trace"][0]["text"] == "三级每次就诊起付线 50.00"
    assert en_json["visits"][0]["trace"][0]["text"] == "level3 per-visit deductible 50.00"
    words = ("text", "reading")  # in the language asked for; the rest is the same
    strip = [
        [{k: v for k, v in s.items() if k not in words} for s in v["trace"]]
        for v in en_json["visits"]
    ]
    assert strip == [[{k: v for k, v in s.items() if k not in words} for s in v["trace"]]
                     for v in zh_json["visits"]]  # fmt: skip
    # a configured step's reading: the pack's Chinese, its English with --lang en
    zh_read = [s["reading"] for v in zh_json["visits"] for s in v["trace"] if "reading" in s]
    en_read = [s["reading"] for v in en_json["visits"] for s in v["trace"] if "reading" in s]
    assert zh_read and zh_read[0].startswith("第十七条写了两种份额")
    assert len(en_read) == len(zh_read) and en_read[0].startswith("第十七条 names two shares")
    bad = runner.invoke(app, ["calculate", str(path), "--lang", "fr"])
    assert bad.exit_code == 2 and "--lang" in bad.output
