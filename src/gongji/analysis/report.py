"""`gongji report DIR`: aggregates.json (written by `gongji replay`) -> report.html + charts.

The report compares a reform scenario (optional) with the baseline for policy analysts: totals,
fund pay (统筹基金支出) by member type, level, category and month, and the distribution of
members' out-of-pocket payments (个人账户 + 个人现金, per member per year), and who gains or
loses under the reform (members paying more, less or the same out of pocket, by type). A
replay of a sample weighted to its population says so at the top.

report.html is one self-contained file (inline CSS, charts as base64 PNG data URIs), laid out
by templates/report.html; the same charts are written to DIR/charts/*.png. Charts carry
English text only (no CJK font can be assumed); the Chinese labels are in the HTML around
them. Amounts are integer fen throughout; floats appear only as values handed to matplotlib
for drawing.
"""

import base64
import io
import json
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NamedTuple

from pydantic import PlainValidator

from gongji.analysis.aggregates_file import (
    AggregatesFile,
    Keyed,
    OutOfPocketStats,
    ScenarioAggregates,
)
from gongji.errors import InputError
from gongji.labels import label as term
from gongji.labels import version
from gongji.money import fmt_grouped, to_yuan

if TYPE_CHECKING:  # imported where a report is written (see _template)
    import jinja2

SCENARIOS = ("baseline", "reform")  # display order; the difference is reform − baseline
COUNTS = ("visits", "refused")  # the other figures are amounts
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
            "employee": (term("employee"), "Employee"),
            "retiree": (term("retiree"), "Retiree"),
            "flexible": (term("flexible"), "Flexible worker"),
            "single_pool": (term("single_pool"), "Single-pool"),
        },
    ),
    "level": (
        ("医疗机构级别", "Level"),
        {
            "primary": (term("primary"), "Primary"),
            "level1": (term("level1"), "Level 1"),
            "level2": (term("level2"), "Level 2"),
            "level3": (term("level3"), "Level 3"),
            "pharmacy": (term("pharmacy"), "Pharmacy"),
        },
    ),
    "category": (
        ("门诊类别", "Category"),
        {
            "general": (term("general"), "General"),
            "chronic": (term("chronic"), "Chronic"),
            "special": (term("special"), "Special"),
            "two_diseases": (term("two_diseases"), "Two diseases"),
            "emergency": (term("emergency"), "Emergency"),
            "negotiated_drug": (term("negotiated_drug"), "Negotiated drug"),
            "day_surgery": (term("day_surgery"), "Day surgery"),
        },
    ),
    "month": (("月份", "Month"), {}),  # months are sorted, shown as they are
}
SCENARIO_NAMES = {"baseline": ("基线", "Baseline"), "reform": ("改革方案", "Reform")}
COLOURS = {"baseline": "#4C72B0", "reform": "#DD8452"}


def write_report(directory: Path) -> Path:
    """Read directory/aggregates.json; write directory/report.html and directory/charts/*.png.
    Returns the path of report.html. Bad input raises InputError naming the field."""
    directory = Path(directory)
    aggregates, scenarios = _read(directory)
    charts = _draw_charts(scenarios)
    chart_dir = directory / "charts"
    chart_dir.mkdir(exist_ok=True)
    for name, png in charts.items():
        (chart_dir / f"{name}.png").write_bytes(png)
    page = _page(aggregates, scenarios, charts)
    out = directory / "report.html"
    out.write_text(page, encoding="utf-8")
    return out


# -- reading aggregates.json (described in aggregates_file) ------------------------------------


def _scenario_name(value: str) -> str:
    if value not in SCENARIOS:
        raise ValueError(f"unknown scenario (expected {SCENARIOS})")
    return value


class BaselineAndReform(AggregatesFile):
    """aggregates.json as the report reads it: the baseline, and a reform to compare with it
    (optional); no other scenario."""

    scenarios: Keyed[Annotated[str, PlainValidator(_scenario_name)], ScenarioAggregates]


# scenario name -> its aggregates, in display order (SCENARIOS)
Scenarios = dict[str, ScenarioAggregates]


def _read(directory: Path) -> tuple[BaselineAndReform, Scenarios]:
    aggregates = BaselineAndReform.read(directory)
    if "baseline" not in aggregates.scenarios:  # a reform is optional
        raise InputError("scenarios.baseline", "required")
    scenarios = {n: aggregates.scenarios[n] for n in SCENARIOS if n in aggregates.scenarios}
    for name, s in scenarios.items():
        where = f"scenarios.{name}.out_of_pocket"
        _shown(s.out_of_pocket, where)
        for key, stats in s.out_of_pocket.by_member_type.items():
            _shown(stats, f"{where}.by_member_type.{key}")
    return aggregates, scenarios


def _shown(stats: OutOfPocketStats, where: str) -> None:
    """The report shows every amount of a group: one without them (a group of no members,
    whose amounts the file leaves out) is refused."""
    for key in OOP_AMOUNTS:
        if getattr(stats, key) is None:
            raise InputError(f"{where}.{key}", "required")


def _fund_pay(s: ScenarioAggregates, dimension: str, key: str) -> int:
    """Fund pay of one key of a breakdown; a key the scenario lacks had no visits: zero."""
    figures = getattr(s.by, dimension).get(key)
    return 0 if figures is None else figures.fund_pay


def _histogram(s: ScenarioAggregates) -> dict[tuple[int, int | None], int]:
    """(from, to) fen, to None = open -> members."""
    return {(b.low, b.high): b.members for b in s.out_of_pocket.histogram}


# -- numbers as text ---------------------------------------------------------------------------


def _signed(value: int, money: bool) -> str:
    text = _number(value, money)
    return f"+{text}" if value > 0 else text


def _number(value: int, money: bool) -> str:
    """An amount (fen) or a count as a person reads it: 15,800.00 and 1,234."""
    return fmt_grouped(value) if money else f"{value:,}"


def _percent(base: int, new: int) -> str:
    """Change from base to new in percent, two decimals half-up; '—' when base is zero."""
    if base == 0:
        return "—"
    pct = (Decimal(new - base) * 100 / Decimal(base)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f"{'+' if pct > 0 else ''}{pct}%"


def _bound(fen: int) -> str:
    """A histogram bound for a chart label: whole yuan with separators, else two decimals."""
    return f"{fen // 100:,}" if fen % 100 == 0 else fmt_grouped(fen)


def _label(names: dict[str, tuple[str, str]], key: str) -> str:
    zh, en = names.get(key, (key, ""))
    return f"{zh} {en}".strip()


def _keys(dimension: str, scenarios: Scenarios) -> list[str]:
    """The union of the scenarios' keys: known ones in vocabulary order, the rest sorted."""
    known = DIMENSIONS[dimension][1]
    present = {key for s in scenarios.values() for key in getattr(s.by, dimension)}
    return [k for k in known if k in present] + sorted(present - known.keys())


# -- charts ------------------------------------------------------------------------------------


def _draw_charts(scenarios: Scenarios) -> dict[str, bytes]:
    """Chart name -> PNG bytes."""
    import matplotlib.style

    charts = {}
    # matplotlib's own defaults, not the user's matplotlibrc: the same input draws the same bytes
    with matplotlib.style.context("default"), matplotlib.rc_context(CHINESE):
        for dimension, ((zh, _), names) in DIMENSIONS.items():
            keys = _keys(dimension, scenarios)
            series = {n: [_fund_pay(s, dimension, k) for k in keys] for n, s in scenarios.items()}
            labels = [names.get(k, (k, k))[0] for k in keys]
            title = f"统筹基金支出（按{zh}）"
            charts[f"fund_by_{dimension}"] = _bar_chart(title, "统筹基金支出（元）", labels, series)
        histograms = {n: _histogram(s) for n, s in scenarios.items()}
        bins = sorted({b for h in histograms.values() for b in h}, key=_bin_order)
        labels = [_bin_label(b) for b in bins]
        series = {n: [h.get(b, 0) for b in bins] for n, h in histograms.items()}
        title = "参保人年度个人负担分布（个人账户 + 现金）"
        charts["out_of_pocket_histogram"] = _bar_chart(
            title, "人数", labels, series, money=False, xlabel="年度个人负担（元）"
        )
    return charts


# the charts' words are Chinese: the first of these fonts the machine has draws them (文泉驿
# on Debian's fonts-wqy-microhei, Noto on most Linux, 黑体/雅黑 on Windows)
CHINESE = {
    "font.family": "sans-serif",
    "font.sans-serif": [
        "WenQuanYi Micro Hei",
        "Noto Sans CJK SC",
        "Source Han Sans SC",
        "SimHei",
        "Microsoft YaHei",
        "PingFang SC",
        "DejaVu Sans",
    ],
    "axes.unicode_minus": False,
}


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
        ax.bar(xs, heights, width, label=SCENARIO_NAMES[name][0], color=COLOURS[name])
    if not labels:
        ax.text(0.5, 0.5, "暂无数据", transform=ax.transAxes, ha="center", va="center")
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


class Table(NamedTuple):
    """Plain texts (the template escapes them): `labels` label columns, then numeric ones."""

    head: list[str]
    rows: list[list[str]]
    labels: int = 1


@cache
def _template() -> "jinja2.Template":
    # imported when a report is written: `gongji replay` prints its totals with this
    # module's names, and jinja2 took a tenth of a second of a replay's start
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gongji.analysis"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template("report.html")


def _page(aggregates: BaselineAndReform, scenarios: Scenarios, charts: dict[str, bytes]) -> str:
    return _template().render(
        title=f"门诊共济测算报告 Outpatient mutual-aid replay report — {term(aggregates.region)}",
        header=_header(aggregates, scenarios),
        totals=_totals(scenarios),
        fund=[_fund_section(dimension, scenarios) for dimension in DIMENSIONS],
        out_of_pocket=_oop_table(scenarios),
        histogram=_histogram_table(scenarios),
        weight=_weight(aggregates.weight, aggregates.visit_count),
        effect=_effect_table(scenarios),
        images={name: base64.b64encode(png).decode("ascii") for name, png in charts.items()},
    )


def _compare(values: list[int], money: bool) -> list[str]:
    """One value per scenario, then difference and percent change when there are two."""
    cells = [_number(v, money) for v in values]
    if len(values) == 2:
        base, new = values
        cells += [_signed(new - base, money), _percent(base, new)]
    return cells


def _compare_head(first: str, scenarios: Scenarios) -> list[str]:
    head = [first, *(_label(SCENARIO_NAMES, name) for name in scenarios)]
    if len(scenarios) == 2:
        head += ["差额 Difference (reform − baseline)", "变化 Change %"]
    return head


def _header(aggregates: BaselineAndReform, scenarios: Scenarios) -> list[tuple[str, str]]:
    """(label, value) rows: the values are texts, not numbers."""
    rows = [
        ("统筹地区 Region", f"{term(aggregates.region)} {aggregates.region}"),
        ("就诊数据 Visits file", aggregates.visits_file),
        ("就诊人次 Visits", str(aggregates.visit_count)),
    ]
    for name, s in scenarios.items():
        overrides = [
            f"{key} = {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
            for key, v in s.overrides.items()
        ]
        label = _label(SCENARIO_NAMES, name)
        rows += [
            (f"{label}: 政策版本 Policy", "，".join(map(_version, s.policy)) or "—"),
            (f"{label}: 参数调整 Overrides", "; ".join(overrides) or "—"),
            (f"{label}: 政策包 Pack file", s.pack_file or "—"),
        ]
    return rows


def _version(version_id: str) -> str:
    """kaifeng@2023-01-01 -> 开封市 2023-01-01 起施行 (kaifeng@2023-01-01): as people name a
    policy version, its id kept for whoever looks it up in the pack."""
    return f"{version(version_id)} ({version_id})"


def _totals(scenarios: Scenarios) -> Table:
    rows = [
        [
            _label(FIGURE_NAMES, key),
            *_compare([getattr(s.totals, key) for s in scenarios.values()], key not in COUNTS),
        ]
        for key in FIGURE_NAMES
    ]
    return Table(_compare_head("项目 Item", scenarios), rows)


class FundSection(NamedTuple):
    zh: str  # the dimension's name
    en: str  # in English, lower case
    chart: str
    table: Table


def _fund_section(dimension: str, scenarios: Scenarios) -> FundSection:
    (zh, en), names = DIMENSIONS[dimension]
    rows = []
    for key in _keys(dimension, scenarios):
        values = [_fund_pay(s, dimension, key) for s in scenarios.values()]
        rows.append([_label(names, key), *_compare(values, money=True)])
    table = Table(_compare_head(f"{zh} {en}", scenarios), rows)
    return FundSection(zh, en.lower(), f"fund_by_{dimension}", table)


def _oop_table(scenarios: Scenarios) -> Table:
    head = ["人群 Group", "方案 Scenario", *(_label(OOP_NAMES, k) for k in OOP_NAMES)]
    rows = _oop_rows("全部 All", {n: s.out_of_pocket for n, s in scenarios.items()})
    names = DIMENSIONS["member_type"][1]
    types = {key for s in scenarios.values() for key in s.out_of_pocket.by_member_type}
    for key in [k for k in names if k in types] + sorted(types - names.keys()):
        stats = {n: s.out_of_pocket.by_member_type.get(key) for n, s in scenarios.items()}
        rows += _oop_rows(_label(names, key), stats)
    return Table(head, rows, labels=2)


def _oop_rows(group: str, stats: dict[str, OutOfPocketStats | None]) -> list[list[str]]:
    """Rows of one group: each scenario (zeros where a scenario lacks the group), then the
    difference (reform − baseline)."""
    values = [{k: 0 if st is None else getattr(st, k) for k in OOP_NAMES} for st in stats.values()]
    rows = [
        [group, _label(SCENARIO_NAMES, name), *(_cell(k, v[k]) for k in OOP_NAMES)]
        for name, v in zip(stats, values, strict=True)
    ]
    if len(values) == 2:
        base, new = values
        diff = [_signed(new[k] - base[k], k != "members") for k in OOP_NAMES]
        rows.append([group, "差额 Difference", *diff])
    return rows


def _cell(key: str, value: int) -> str:
    return _number(value, key != "members")


def _histogram_table(scenarios: Scenarios) -> Table:
    histograms = [_histogram(s) for s in scenarios.values()]
    bins = sorted({b for h in histograms for b in h}, key=_bin_order)
    rows = []
    for low, high in bins:
        name = (
            f"≥ {fmt_grouped(low)}" if high is None else f"{fmt_grouped(low)} – {fmt_grouped(high)}"
        )
        rows.append([name, *_compare([h.get((low, high), 0) for h in histograms], False)])
    return Table(_compare_head("区间（元）Range (yuan)", scenarios), rows)


# -- a reform's winners and losers; a weighted sample ------------------------------------------

EFFECT_NAMES = {
    "paying_more": ("多付人数", "Paying more"),
    "paying_less": ("少付人数", "Paying less"),
    "paying_same": ("不变人数", "Same"),
    "more_paid": ("多付金额", "Paid more"),
    "less_paid": ("少付金额", "Paid less"),
}


def _effect_table(scenarios: Scenarios) -> Table | None:
    """Members paying more / less / the same out of pocket under the reform, all and by
    member type; None without a reform."""
    reform = scenarios.get("reform")
    if reform is None or reform.versus_baseline is None:
        return None
    effect = reform.versus_baseline
    head = ["人群 Group", *(_label(EFFECT_NAMES, k) for k in EFFECT_NAMES)]
    rows = [["全部 All", *_effect_cells(effect)]]
    names = DIMENSIONS["member_type"][1]
    types = effect.by_member_type
    for key in [k for k in names if k in types] + sorted(types.keys() - names.keys()):
        rows.append([_label(names, key), *_effect_cells(types[key])])
    return Table(head, rows)


def _effect_cells(effect) -> list[str]:
    return [_number(v, k.endswith("_paid")) for k, v in _effect_values(effect)]


def _effect_values(effect) -> list[tuple[str, int]]:
    return [(k, getattr(effect, k)) for k in EFFECT_NAMES]


def _weight(weight: str | None, visits: int) -> str | None:
    """How a sample was weighted to its population, in words; None: not weighted."""
    if weight is None:
        return None
    if weight.startswith("members."):
        column = weight.removeprefix("members.")
        zh, en = f"按参保人员文件的 {column} 列加权", f"by the members file's column {column}"
    else:
        zh, en = f"每名样本参保人员代表 {weight} 人", f"each member stands for {weight}"
    return (
        f"样本加权（{zh}）：人数、人次与金额均为推算的总体数；样本本身就诊 {visits} 人次。"
        f" A weighted sample ({en}): counts and amounts are the population's; the sample"
        f" itself holds {visits} visits."
    )
