"""Charts drawn on the server as SVG (no scripts on the pages): bars of integer fen."""

from markupsafe import Markup, escape

from gongji.money import fmt

WIDTH, HEIGHT, LEFT, BOTTOM = 1200, 220, 70, 24


def bars(title: str, labels: list[str], series: dict[str, list[int]]) -> Markup:
    """Grouped bars, one group per label, one bar per series (amounts in fen)."""
    top = max((v for values in series.values() for v in values), default=0)
    if top <= 0:
        return Markup(f'<p class="muted">{escape(title)}：暂无数据</p>')
    group = (WIDTH - LEFT) / max(len(labels), 1)
    bar = group * 0.8 / max(len(series), 1)
    colours = ("#0b4f8a", "#e07b39", "#3aa676", "#9b59b6")
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT + BOTTOM + 20}"'
        f' width="100%" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{LEFT}" y="12">{escape(title)}（最高 {fmt(top)} 元）</text>',
    ]
    for i, label in enumerate(labels):
        x0 = LEFT + i * group + group * 0.1
        for j, (name, values) in enumerate(series.items()):
            h = values[i] * HEIGHT // top if values[i] > 0 else 0
            x, y = x0 + j * bar, 20 + HEIGHT - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{bar:.1f}" height="{h}" fill="{colours[j % 4]}">'
                f"<title>{escape(name)} {escape(label)}: {fmt(values[i])}</title></rect>"
            )
        parts.append(f'<text x="{x0:.1f}" y="{HEIGHT + 36}">{escape(label)}</text>')
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
