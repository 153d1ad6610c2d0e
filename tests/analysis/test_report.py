"""`write_report`: aggregates.json -> one self-contained report.html and charts/*.png."""

import base64
import copy
import io
import json
import re

import pytest
from matplotlib.image import imread

from gongji.analysis import report
from gongji.analysis.report import write_report
from gongji.errors import InputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHARTS = (
    "fund_by_member_type",
    "fund_by_level",
    "fund_by_category",
    "fund_by_month",
    "out_of_pocket_histogram",
)


def figures(visits: int, fund_pay: str, refused: int = 0) -> dict:
    return {
        "visits": visits,
        "refused": refused,
        "total": "1000.00",
        "in_scope": "900.00",
        "deductible": "100.00",
        "fund_pay": fund_pay,
        "account_pay": "50.00",
        "cash_pay": "250.00",
    }


def stats(members: int, mean: str) -> dict:
    return {"members": members, "mean": mean, "p50": "80.00", "p90": "400.00"} | {
        "p99": "1500.00",
        "max": "3000.00",
    }


def scenario(fund_pay: str, employee_fund: str, policy: str, **extra) -> dict:
    return {
        "policy": [policy],
        "overrides": {},
        "pack_file": None,
        "totals": figures(1000, fund_pay, refused=7),
        "by": {
            "member_type": {
                "employee": figures(600, employee_fund),
                "retiree": figures(400, "2000.00"),
            },
            "level": {"primary": figures(700, "3000.00"), "level3": figures(300, "2000.00")},
            "category": {"general": figures(1000, "5000.00")},
            "month": {f"2023-{m:02d}": figures(80, "400.00") for m in range(1, 13)},
        },
        "out_of_pocket": {
            **stats(500, "300.00"),
            "histogram": [
                {"from": "0.00", "to": "100.00", "members": 200},
                {"from": "100.00", "to": "1000.00", "members": 290},
                {"from": "1000.00", "to": None, "members": 10},
            ],
            "by_member_type": {"employee": stats(300, "250.00"), "retiree": stats(200, "375.00")},
        },
        **extra,
    }


def aggregates(reform: bool = True) -> dict:
    doc = {
        "region": "kaifeng",
        "visits_file": "data/visits.parquet",
        "visit_count": 1000,
        "scenarios": {"baseline": scenario("9876.55", "3000.00", "kaifeng@2023-01-01")},
    }
    if reform:
        # fund pay 9876.55 -> 8642.05: -1234.50, -12.4994...% -> -12.50%
        reform_doc = scenario("8642.05", "1765.50", "kaifeng@2023-01-01")
        reform_doc["overrides"] = {"general.annual_cap.employee": "3000"}
        # a key the baseline lacks counts as zero there
        reform_doc["by"]["category"]["chronic"] = figures(5, "10.00")
        doc["scenarios"]["reform"] = reform_doc
    return doc


def write(tmp_path, doc: dict):
    (tmp_path / "aggregates.json").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return write_report(tmp_path)


def embedded_pngs(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_report_is_self_contained_and_embeds_the_charts(tmp_path):
    out = write(tmp_path, aggregates())
    assert out == tmp_path / "report.html"
    page = out.read_text("utf-8")
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)  # nothing loaded from outside
    pngs = embedded_pngs(page)
    assert len(pngs) == len(CHARTS)
    for name in CHARTS:
        data = (tmp_path / "charts" / f"{name}.png").read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert data in pngs  # the file and the page show the same chart
        image = imread(io.BytesIO(data), format="png")
        assert image.shape[1] >= 1000 and image.shape[0] >= 400  # readable at 1366 px


def test_report_shows_differences_to_the_fen(tmp_path):
    page = write(tmp_path, aggregates()).read_text("utf-8")
    totals = page.split("<h2>总量 Totals</h2>")[1].split("<h2>")[0]
    fund_row = re.search(r"<tr><th>统筹基金支出 Fund pay</th>(.*?)</tr>", totals).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", fund_row)
    assert cells == ["9,876.55", "8,642.05", "-1,234.50", "-12.50%"]  # thousands separated
    refused_row = re.search(r"<tr><th>未予结算人次 Refused</th>(.*?)</tr>", totals).group(1)
    assert re.findall(r"<td[^>]*>(.*?)</td>", refused_row) == ["7", "7", "0", "0.00%"]
    # by member type: employee 3000.00 -> 1765.50 is -1234.50, -41.15%
    assert ">-1,234.50<" in page.split("By member type")[1]
    assert ">-41.15%<" in page
    # a category only the reform has: baseline zero, change not defined
    chronic = re.search(r"<tr><th>门诊慢性病 Chronic</th>(.*?)</tr>", page).group(1)
    assert re.findall(r"<td[^>]*>(.*?)</td>", chronic) == ["0.00", "10.00", "+10.00", "—"]
    assert "general.annual_cap.employee = 3000" in page
    assert "统筹基金支出 Fund pay" in page
    # the policy version as people name it, its id kept beside it
    assert "<td>开封市 2023-01-01 起施行 (kaifeng@2023-01-01)</td>" in page
    assert "<td>开封市 kaifeng</td>" in page  # the region's name from the term table


def test_charts_are_titled_and_labelled_in_chinese(tmp_path, monkeypatch):
    drawn = []

    def bar_chart(title, ylabel, labels, series, money=True, xlabel=""):
        drawn.append((title, ylabel, labels))
        return PNG_SIGNATURE

    monkeypatch.setattr(report, "_bar_chart", bar_chart)
    write(tmp_path, aggregates())
    titles = {title: (ylabel, labels) for title, ylabel, labels in drawn}
    assert titles["统筹基金支出（按参保人员类别）"] == (
        "统筹基金支出（元）",
        ["在职职工", "退休人员"],
    )
    assert titles["统筹基金支出（按医疗机构级别）"][1] == ["基层医疗机构", "三级"]
    assert titles["参保人年度个人负担分布（个人账户 + 现金）"][0] == "人数"


def test_baseline_only(tmp_path):
    page = write(tmp_path, aggregates(reform=False)).read_text("utf-8")
    assert "Difference" not in page and "改革方案" not in page
    assert ">9,876.55<" in page
    assert len(embedded_pngs(page)) == len(CHARTS)
    for name in CHARTS:
        assert (tmp_path / "charts" / f"{name}.png").read_bytes().startswith(PNG_SIGNATURE)


def test_same_input_same_bytes(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    page_a = write(first, aggregates()).read_bytes()
    page_b = write(second, aggregates()).read_bytes()
    assert page_a == page_b
    for name in CHARTS:
        png = f"charts/{name}.png"
        assert (first / png).read_bytes() == (second / png).read_bytes()


def test_text_is_escaped(tmp_path):
    doc = aggregates()
    doc["region"] = "<script>alert(1)</script>"
    doc["scenarios"]["reform"]["overrides"] = {"<b>x": "<i>"}
    page = write(tmp_path, doc).read_text("utf-8")
    assert "<script>" not in page and "<b>x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("scenarios"), "scenarios"),
        (lambda d: d["scenarios"].pop("baseline"), "scenarios.baseline"),
        (
            lambda d: d["scenarios"]["reform"]["totals"].pop("fund_pay"),
            "scenarios.reform.totals.fund_pay",
        ),
        (
            lambda d: d["scenarios"]["baseline"]["by"]["level"]["primary"].update(fund_pay="1.234"),
            "scenarios.baseline.by.level.primary.fund_pay",
        ),
        (
            lambda d: d["scenarios"]["baseline"]["totals"].update(fund_pay=12.5),
            "scenarios.baseline.totals.fund_pay",
        ),
        (
            lambda d: d["scenarios"]["baseline"]["out_of_pocket"]["histogram"][1].pop("to"),
            "scenarios.baseline.out_of_pocket.histogram[1].to",
        ),
        (lambda d: d.update(visit_count="many"), "visit_count"),
        (lambda d: d["scenarios"].update(other={}), "scenarios.other"),
    ],
)
def test_bad_aggregates_name_the_field(tmp_path, change, field):
    doc = copy.deepcopy(aggregates())
    change(doc)
    with pytest.raises(InputError) as caught:
        write(tmp_path, doc)
    assert caught.value.field == field
    assert not (tmp_path / "report.html").exists()


def test_missing_or_unreadable_file(tmp_path):
    with pytest.raises(InputError, match=r"aggregates\.json"):
        write_report(tmp_path)
    (tmp_path / "aggregates.json").write_text("{not json", "utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        write_report(tmp_path)
    (tmp_path / "aggregates.json").write_text("[]", "utf-8")
    with pytest.raises(InputError, match="must be an object"):
        write_report(tmp_path)
