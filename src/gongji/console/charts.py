"""Charts drawn on the server as SVG (no scripts on the pages): bars of integer fen."""

from markupsafe import Markup, escape

from gongji.money import fmt_grouped

WIDTH, HEIGHT, LEFT, BOTTOM = 1200, 220, 110, 24
TICKS = 4  # the y axis's gridlines above zero


def bars(
    title: str, labels: list[str], series: dict[str, list[int]], unit: str = "金额（元）"
) -> Markup:
    """Grouped bars, one group per label and centred on it, one bar per series (amounts in
    fen); a y axis named `unit` with its gridlines' amounts."""
    top = max((v for values in series.values() for v in values), default=0)
    if top <= 0:
        return Markup(f'<p class="muted">{escape(title)}：暂无数据</p>')
    group = (WIDTH - LEFT) / max(len(labels), 1)
    bar = group * 0.8 / max(len(series), 1)
    colours = ("#0b4f8a", "#e07b39", "#3aa676", "#9b59b6")
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT + BOTTOM + 20}"'
        f' width="100%" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{LEFT}" y="12">{escape(title)}（最高 {fmt_grouped(top)} 元）</text>',
        f'<text x="14" y="{20 + HEIGHT // 2}" transform="rotate(-90 14 {20 + HEIGHT // 2})"'
        f' text-anchor="middle">{escape(unit)}</text>',
    ]
    for k in range(TICKS + 1):  # gridlines at equal fractions of the highest bar
        y = 20 + HEIGHT - HEIGHT * k // TICKS
        parts.append(
            f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH}" y2="{y}" stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end" font-size="11">'
            f"{fmt_grouped(top * k // TICKS)}</text>"
        )
    for i, label in enumerate(labels):
        x0 = LEFT + i * group + group * 0.1
        for j, (name, values) in enumerate(series.items()):
            h = values[i] * HEIGHT // top if values[i] > 0 else 0
            x, y = x0 + j * bar, 20 + HEIGHT - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{bar:.1f}" height="{h}" fill="{colours[j % 4]}">'
                f"<title>{escape(name)} {escape(label)}：{fmt_grouped(values[i])} 元</title></rect>"
            )
        centre = x0 + bar * len(series) / 2  # the label under the middle of its bars
        parts.append(
            f'<text x="{centre:.1f}" y="{HEIGHT + 36}" text-anchor="middle">{escape(label)}</text>'
        )
    for j, name in enumerate(series):
        x = WIDTH - 260 + j * 130
        parts.append(
            f'<rect x="{x}" y="2" width="10" height="10" fill="{colours[j % 4]}"/>'
            f'<text x="{x + 14}" y="12">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def fund_months(stats: dict) -> Markup:
    months = stats["months"]
    return bars(
        "统筹基金月度收支",
        [m["month"][5:] + "月" for m in months],
        {
            "收入（统筹）": [m["income"]["to_fund"] for m in months],
            "支出（统筹支付）": [m["expenditure"]["fund_pay"] for m in months],
        },
    )
