"""How amounts, times and charts are shown to people (issue 21): thousands separated, times
without a T or an offset, charts titled in Chinese with a y axis and bars on their labels."""

import re
from datetime import datetime
from decimal import Decimal

import pytest

from gongji.console import charts
from gongji.money import fmt, fmt_grouped, fmt_time


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1_580_000, "15,800.00"),  # fen
        (5, "0.05"),
        (-123_456_789, "-1,234,567.89"),
        (Decimal("15800"), "15,800.00"),  # yuan
        ("1234567.5", "1,234,567.50"),  # yuan text as fmt writes it
        (fmt(99_999_999), "999,999.99"),
    ],
)
def test_amounts_for_people_are_grouped(value, shown):
    assert fmt_grouped(value) == shown


def test_machines_keep_plain_digits():
    assert fmt(1_580_000) == "15800.00"


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(2026, 11, 29, 20, 9, 21, 123456), "2026-11-29 20:09:21"),
        ("2026-11-29T20:09:21", "2026-11-29 20:09:21"),
        ("2026-11-29T20:09:21.5+08:00", "2026-11-29 20:09:21"),
        ("2026-11-29", "2026-11-29"),
    ],
)
def test_times_for_people(moment, shown):
    assert fmt_time(moment) == shown


def test_a_console_chart_has_a_y_axis_and_its_bars_centred_on_their_labels():
    svg = str(
        charts.bars(
            "统筹基金月度收支", ["01月", "02月"], {"收入": [150_000, 0], "支出": [50_000, 100_000]}
        )
    )
    assert "统筹基金月度收支（最高 1,500.00 元）" in svg
    assert re.search(r"rotate\(-90[^>]*>金额（元）</text>", svg)  # the y axis says what it counts
    assert ">1,500.00</text>" in svg and ">0.00</text>" in svg  # gridline amounts, grouped
    # a month's label sits under the middle of its group of bars
    bars = [
        (float(x), float(w))
        for x, w in re.findall(r'<rect x="([\d.]+)" y="\d+" width="([\d.]+)" height', svg)
    ]
    first_group = bars[0][0], bars[1][0] + bars[1][1]
    label_x = float(
        re.search(r'<text x="([\d.]+)" y="\d+" text-anchor="middle">01月', svg).group(1)
    )
    assert label_x == pytest.approx(sum(first_group) / 2, abs=0.2)
