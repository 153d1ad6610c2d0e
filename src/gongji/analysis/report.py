"""`gongji report DIR`: aggregates.json (written by `gongji replay`) -> report.html + charts.

The report compares a reform scenario (optional) with the baseline for policy analysts: totals,
fund pay (统筹基金支出) by member type, level, category and month, and the distribution of
members' out-of-pocket payments (个人账户 + 个人现金, per member per year).

report.html is one self-contained file (inline CSS, charts as base64 PNG data URIs); the same
charts are written to DIR/charts/*.png. Charts carry English text only (no CJK font can be
assumed); the Chinese labels are in the HTML around them. Amounts are integer fen throughout;
floats appear only as values handed to matplotlib for drawing.
"""

import base64
import html
import io
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from gongji.errors import InputError
from gongji.money import MoneyError, fmt, to_fen, to_yuan

SCENARIOS = ("baseline", "reform")  # display order; the difference is reform − baseline
COUNTS = ("visits", "refused")
AMOUNTS = ("total", "in_scope", "deductible", "fund_pay", "account_pay", "cash_pay")
OOP_AMOUNTS = ("mean", "p50", "p90", "p99", "max")

# (中文, English) per key; a dict's order is the display order of its keys.
FIGURE_NAMES = {
    "visits": ("就诊人次", "Visits"),
    "refused": ("未予结算人次", "Refused"),
    "total": ("医疗费总额", "Total"),
    "in_scope": ("政策范围内费用", "In-scope"),
    "deductible": ("起付标准", "Deductible"),
    "fund_pay": ("统筹基金支出", "Fund pay"),
    "account_pay": ("个人账户支付", "Account pay"),
    "cash_pay": ("个人现金支出", "Cash pay"),
}
OOP_NAMES = {
    "members": ("人数", "Members"),
    "mean": ("均值", "Mean"),
    "p50": ("中位数", "P50"),
    "p90": ("90分位", "P90"),
    "p99": ("99分位", "P99"),
    "max": ("最大值", "Max"),
}
DIMENSIONS = {
    "member_type": (
        ("参保人员类别", "Member type"),
        {
            "employee": ("在职职工", "Employee"),
            "retiree": ("退休人员", "Retiree"),
            "flexible": ("灵活就业人员", "Flexible worker"),
            "single_pool": ("单建统筹", "Single-pool"),
        },
    ),
    "level": (
        ("医疗机构级别", "Level"),
        {
            "primary": ("基层", "Primary"),
            "level1": ("一级", "Level 1"),
            "level2": ("二级", "Level 2"),
            "level3": ("三级", "Level 3"),
            "pharmacy": ("定点零售药店", "Pharmacy"),
        },
    ),
    "category": (
        ("门诊类别", "Category"),
        {
            "general": ("普通门诊", "General"),
            "chronic": ("门诊慢性病", "Chronic"),
            "special": ("门诊特殊病", "Special"),
            "two_diseases": ("“两病”", "Two diseases"),
            "emergency": ("急诊抢救", "Emergency"),
            "negotiated_drug": ("国家谈判药品", "Negotiated drug"),
            "day_surgery": ("日间手术", "Day surgery"),
        },
    ),
    "month": (("月份", "Month"), {}),  # months are sorted, shown as they are
}
SCENARIO_NAMES = {"baseline": ("基线", "Baseline"), "reform": ("改革方案", "Reform")}
COLOURS = {"baseline": "#4C72B0", "reform": "#DD8452"}


@dataclass(frozen=True)
class Scenario:
    name: str
    policy: list[str]
    overrides: dict[str, object]
    pack_file: str | None
    totals: dict[str, int]  # COUNTS as counts, AMOUNTS in fen
    by: dict[str, dict[str, dict[str, int]]]  # dimension -> key -> like totals
    oop: dict[str, int]  # "members" and OOP_AMOUNTS in fen
    oop_by_type: dict[str, dict[str, int]]
    histogram: dict[tuple[int, int | None], int]  # (from, to) fen, to None = open -> members


def write_report(directory: Path) -> Path:
    """Read directory/aggregates.json; write directory/report.html and directory/charts/*.png.
    Returns the path of report.html. Bad input raises InputError naming the field."""
    directory = Path(directory)
    doc = _read_json(directory / "aggregates.json")
    region, visits_file, visit_count, scenarios = _parse(doc)
    charts = _draw_charts(scenarios)
    chart_dir = directory / "charts"
    chart_dir.mkdir(exist_ok=True)
    for name, png in charts.items():
        (chart_dir / f"{name}.png").write_bytes(png)
    page = _page(region, visits_file, visit_count, scenarios, charts)
    out = directory / "report.html"
    out.write_text(page, encoding="utf-8")
    return out


# -- reading and checking aggregates.json ------------------------------------------------------


def _read_json(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), "file not found (run `gongji replay` first)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot be read: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"not valid JSON: {exc}") from None
    return _object(doc, "(document)")


def _at(parent: dict, key: str, path: str) -> tuple[object, str]:
    """parent[key] and its field path; a missing key is an InputError naming it."""
    where = f"{path}.{key}" if path else key
    if key not in parent:
        raise InputError(where, "required")
    return parent[key], where


def _object(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise InputError(where, "must be an object")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise InputError(where, "must be a string")
    return value


def _count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(where, "must be a whole number ≥ 0")
    return value


def _fen(value: object, where: str) -> int:
    if not isinstance(value, str):
        raise InputError(where, 'must be an amount in yuan as a string, e.g. "1234.50"')
    try:
        return to_fen(value)
    except MoneyError as exc:
        raise InputError(where, str(exc)) from None


def _parse(doc: dict) -> tuple[str, str, int, list[Scenario]]:
    region = _text(*_at(doc, "region", ""))
    visits_file = _text(*_at(doc, "visits_file", ""))
    visit_count = _count(*_at(doc, "visit_count", ""))
    given = _object(*_at(doc, "scenarios", ""))
    for name in given:
        if name not in SCENARIOS:
            raise InputError(f"scenarios.{name}", f"unknown scenario (expected {SCENARIOS})")
    _at(given, "baseline", "scenarios")  # required; reform is optional
    scenarios = [_scenario(n, given[n], f"scenarios.{n}") for n in SCENARIOS if n in given]
    return region, visits_file, visit_count, scenarios


def _scenario(name: str, value: object, path: str) -> Scenario:
    obj = _object(value, path)
    policy, where = _at(obj, "policy", path)
    if not isinstance(policy, list):
        raise InputError(where, "must be a list of policy versions")
    policy = [_text(v, f"{where}[{i}]") for i, v in enumerate(policy)]
    overrides = _object(*_at(obj, "overrides", path))
    pack_file, pack_path = _at(obj, "pack_file", path)
    by, by_path = _at(obj, "by", path)
    by = _object(by, by_path)
    oop_path = f"{path}.out_of_pocket"
    oop = _object(*_at(obj, "out_of_pocket", path))
    oop_by_type, by_type_path = _at(oop, "by_member_type", oop_path)
    return Scenario(
        name=name,
        policy=policy,
        overrides=overrides,
        pack_file=None if pack_file is None else _text(pack_file, pack_path),
        totals=_figures(*_at(obj, "totals", path)),
        by={dim: _breakdown(*_at(by, dim, by_path)) for dim in DIMENSIONS},
        oop=_oop_stats(oop, oop_path),
        oop_by_type={
            key: _oop_stats(_object(v, f"{by_type_path}.{key}"), f"{by_type_path}.{key}")
            for key, v in _object(oop_by_type, by_type_path).items()
        },
        histogram=_histogram(*_at(oop, "histogram", oop_path)),
    )


def _figures(value: object, path: str) -> dict[str, int]:
    """A totals-shaped object -> {count key: count, amount key: fen}."""
    obj = _object(value, path)
    out = {key: _count(*_at(obj, key, path)) for key in COUNTS}
    return out | {key: _fen(*_at(obj, key, path)) for key in AMOUNTS}


def _breakdown(value: object, path: str) -> dict[str, dict[str, int]]:
    return {key: _figures(v, f"{path}.{key}") for key, v in _object(value, path).items()}


def _oop_stats(obj: dict, path: str) -> dict[str, int]:
    out = {"members": _count(*_at(obj, "members", path))}
    return out | {key: _fen(*_at(obj, key, path)) for key in OOP_AMOUNTS}


def _histogram(value: object, path: str) -> dict[tuple[int, int | None], int]:
    if not isinstance(value, list):
        raise InputError(path, "must be a list of bins")
    bins = {}
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        obj = _object(item, where)
        low = _fen(*_at(obj, "from", where))
        high, high_where = _at(obj, "to", where)  # null: the open last bin
        high = None if high is None else _fen(high, high_where)
        bins[(low, high)] = _count(*_at(obj, "members", where))
    return bins


# -- numbers as text ---------------------------------------------------------------------------


def _signed(value: int, money: bool) -> str:
    text = fmt(value) if money else str(value)
    return f"+{text}" if value > 0 else text


def _percent(base: int, new: int) -> str:
    """Change from base to new in percent, two decimals half-up; '—' when base is zero."""
    if base == 0:
        return "—"
    pct = (Decimal(new - base) * 100 / Decimal(base)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f"{'+' if pct > 0 else ''}{pct}%"


def _bound(fen: int) -> str:
    """A histogram bound for a chart label: whole yuan with separators, else two decimals."""
    return f"{fen // 100:,}" if fen % 100 == 0 else fmt(fen)


def _label(names: dict[str, tuple[str, str]], key: str) -> str:
    zh, en = names.get(key, (key, ""))
    return f"{zh} {en}".strip()


def _keys(dimension: str, scenarios: list[Scenario]) -> list[str]:
    """The union of the scenarios' keys: known ones in vocabulary order, the rest sorted."""
    known = DIMENSIONS[dimension][1]
    present = {key for s in scenarios for key in s.by[dimension]}
    return [k for k in known if k in present] + sorted(present - known.keys())


# -- charts ------------------------------------------------------------------------------------


def _draw_charts(scenarios: list[Scenario]) -> dict[str, bytes]:
    """Chart name -> PNG bytes."""
    import matplotlib.style

    charts = {}
    # matplotlib's own defaults, not the user's matplotlibrc: the same input draws the same bytes
    with matplotlib.style.context("default"):
        for dimension, ((_, en), names) in DIMENSIONS.items():
            keys = _keys(dimension, scenarios)
            series = {
                s.name: [s.by[dimension].get(k, {}).get("fund_pay", 0) for k in keys]
                for s in scenarios
            }
            labels = [names.get(k, (k, k))[1] for k in keys]
            title = f"Fund pay by {en.lower()}"
            charts[f"fund_by_{dimension}"] = _bar_chart(title, "Fund pay (yuan)", labels, series)
        bins = sorted({b for s in scenarios for b in s.histogram}, key=_bin_order)
        labels = [_bin_label(b) for b in bins]
        series = {s.name: [s.histogram.get(b, 0) for b in bins] for s in scenarios}
        title = "Out-of-pocket per member per year (account + cash)"
        charts["out_of_pocket_histogram"] = _bar_chart(
            title, "Members", labels, series, money=False, xlabel="Out-of-pocket (yuan)"
        )
    return charts


def _bin_order(b: tuple[int, int | None]) -> tuple[int, bool, int]:
    return (b[0], b[1] is None, b[1] or 0)


def _bin_label(b: tuple[int, int | None]) -> str:
    return f"{_bound(b[0])}+" if b[1] is None else f"{_bound(b[0])}-{_bound(b[1])}"


def _bar_chart(
    title: str,
    ylabel: str,
    labels: list[str],
    series: dict[str, list[int]],
    money: bool = True,
    xlabel: str = "",
) -> bytes:
    """Grouped bars, one group per label, one bar per scenario. Values: fen when money."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import StrMethodFormatter

    fig = Figure(figsize=(12, 4.8), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas, without pyplot's global state
    ax = fig.add_subplot()
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        heights = [float(to_yuan(v)) if money else v for v in values]
        xs = [x - 0.4 + width * (i + 0.5) for x in range(len(labels))]
        ax.bar(xs, heights, width, label=SCENARIO_NAMES[name][1], color=COLOURS[name])
    if not labels:
        ax.text(0.5, 0.5, "No data", transform=ax.transAxes, ha="center", va="center")
    crowded = sum(len(label) for label in labels) > 110  # long labels would overlap: slant them
    slant = {"rotation": 40, "ha": "right", "rotation_mode": "anchor"} if crowded else {}
    ax.set_xticks(range(len(labels)), labels, **slant)
    if crowded:
        ax.tick_params(axis="x", labelsize=9)
    ax.set_title(title, fontsize=13)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if labels:
        ax.legend()
    buf = io.BytesIO()
    # no "Software" text chunk (it names the matplotlib version): same input, same bytes
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


# -- HTML --------------------------------------------------------------------------------------

CSS = """
body { font-family: "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif;
       margin: 0 auto; max-width: 1240px; padding: 16px 24px; color: #222; }
h1 { font-size: 24px; } h2 { margin-top: 36px; border-bottom: 2px solid #4C72B0; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #ccc; padding: 4px 10px; }
th { background: #f0f3f8; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
img { max-width: 100%; height: auto; display: block; }
.note { color: #555; font-size: 14px; }
"""


def _table(head: list[str], rows: list[list[str]], labels: int = 1) -> str:
    """A table of plain texts (escaped here): `labels` label columns, then numeric ones."""
    out = ["<table><thead><tr>", *(f"<th>{html.escape(h)}</th>" for h in head), "</tr></thead>"]
    for row in rows:
        out.append("<tr>")
        out += [f"<th>{html.escape(cell)}</th>" for cell in row[:labels]]
        out += [f'<td class="num">{html.escape(cell)}</td>' for cell in row[labels:]]
        out.append("</tr>")
    return "".join([*out, "</table>"])


def _compare(values: list[int], money: bool) -> list[str]:
    """One value per scenario, then difference and percent change when there are two."""
    cells = [fmt(v) if money else str(v) for v in values]
    if len(values) == 2:
        base, new = values
        cells += [_signed(new - base, money), _percent(base, new)]
    return cells


def _compare_head(first: str, scenarios: list[Scenario]) -> list[str]:
    head = [first, *(_label(SCENARIO_NAMES, s.name) for s in scenarios)]
    if len(scenarios) == 2:
        head += ["差额 Difference (reform − baseline)", "变化 Change %"]
    return head


def _img(name: str, png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" id="{name}">'


def _page(
    region: str,
    visits_file: str,
    visit_count: int,
    scenarios: list[Scenario],
    charts: dict[str, bytes],
) -> str:
    title = f"门诊共济测算报告 Outpatient mutual-aid replay report — {region}"
    parts = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _header(region, visits_file, visit_count, scenarios),
        "<h2>总量 Totals</h2>",
        _totals(scenarios),
        "<h2>统筹基金支出 Fund pay</h2>",
        *(_fund_section(dim, scenarios, charts) for dim in DIMENSIONS),
        "<h2>个人负担 Out-of-pocket</h2>",
        _oop_section(scenarios, charts),
        "</body></html>\n",
    ]
    return "\n".join(parts)


def _header(region: str, visits_file: str, visit_count: int, scenarios: list[Scenario]) -> str:
    rows = [
        ["统筹地区 Region", region],
        ["就诊数据 Visits file", visits_file],
        ["就诊人次 Visits", str(visit_count)],
    ]
    for s in scenarios:
        overrides = [
            f"{key} = {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
            for key, v in s.overrides.items()
        ]
        rows += [
            [f"{_label(SCENARIO_NAMES, s.name)}: 政策版本 Policy", ", ".join(s.policy) or "—"],
            [f"{_label(SCENARIO_NAMES, s.name)}: 参数调整 Overrides", "; ".join(overrides) or "—"],
            [f"{_label(SCENARIO_NAMES, s.name)}: 政策包 Pack file", s.pack_file or "—"],
        ]
    # the header's values are texts, not numbers: a plain two-column table
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _totals(scenarios: list[Scenario]) -> str:
    rows = [
        [_label(FIGURE_NAMES, key), *_compare([s.totals[key] for s in scenarios], key in AMOUNTS)]
        for key in FIGURE_NAMES
    ]
    note = '<p class="note">金额单位：元 Amounts in yuan.</p>'
    return _table(_compare_head("项目 Item", scenarios), rows) + note


def _fund_section(dimension: str, scenarios: list[Scenario], charts: dict[str, bytes]) -> str:
    (zh, en), names = DIMENSIONS[dimension]
    rows = []
    for key in _keys(dimension, scenarios):
        values = [s.by[dimension].get(key, {}).get("fund_pay", 0) for s in scenarios]
        rows.append([_label(names, key), *_compare(values, money=True)])
    name = f"fund_by_{dimension}"
    return "\n".join(
        [
            f"<h3>按{html.escape(zh)} By {html.escape(en.lower())}</h3>",
            _img(name, charts[name], f"Fund pay by {en.lower()}"),
            _table(_compare_head(f"{zh} {en}", scenarios), rows),
        ]
    )


def _oop_section(scenarios: list[Scenario], charts: dict[str, bytes]) -> str:
    note = (
        '<p class="note">每名参保人员全年个人账户支付与个人现金支出之和（元）。'
        "Per member per year: account pay + cash pay (yuan).</p>"
    )
    head = ["人群 Group", "方案 Scenario", *(_label(OOP_NAMES, k) for k in OOP_NAMES)]
    rows = _oop_rows("全部 All", [s.oop for s in scenarios], scenarios)
    names = DIMENSIONS["member_type"][1]
    types = {key for s in scenarios for key in s.oop_by_type}
    for key in [k for k in names if k in types] + sorted(types - names.keys()):
        stats = [s.oop_by_type.get(key, dict.fromkeys(OOP_NAMES, 0)) for s in scenarios]
        rows += _oop_rows(_label(names, key), stats, scenarios)
    return "\n".join(
        [
            note,
            _img("out_of_pocket_histogram", charts["out_of_pocket_histogram"], "Out-of-pocket"),
            _table(head, rows, labels=2),
            _histogram_table(scenarios),
        ]
    )


def _oop_rows(group: str, stats: list[dict[str, int]], scenarios: list[Scenario]) -> list:
    """Rows of one group: each scenario, then the difference (reform − baseline)."""
    rows = [
        [group, _label(SCENARIO_NAMES, s.name), *(_cell(k, st[k]) for k in OOP_NAMES)]
        for s, st in zip(scenarios, stats, strict=True)
    ]
    if len(stats) == 2:
        diff = [_signed(stats[1][k] - stats[0][k], k != "members") for k in OOP_NAMES]
        rows.append([group, "差额 Difference", *diff])
    return rows


def _cell(key: str, value: int) -> str:
    return str(value) if key == "members" else fmt(value)


def _histogram_table(scenarios: list[Scenario]) -> str:
    bins = sorted({b for s in scenarios for b in s.histogram}, key=_bin_order)
    rows = []
    for low, high in bins:
        label = f"≥ {fmt(low)}" if high is None else f"{fmt(low)} – {fmt(high)}"
        rows.append([label, *_compare([s.histogram.get((low, high), 0) for s in scenarios], False)])
    table = _table(_compare_head("区间（元）Range (yuan)", scenarios), rows)
    return f"<details><summary>分布明细 Histogram table</summary>{table}</details>"
