"""The catalogue CSV: loads whole or not at all, bad rows reported by number and field."""

from decimal import Decimal

import pytest
from typer.testing import CliRunner

from gongji import catalogue
from gongji.cli import app
from gongji.csvfile import BadRows
from gongji.errors import InputError

HEADER = "code,name,class,self_pay_share,payment_standard\n"
runner = CliRunner()


def write(tmp_path, body: str):
    path = tmp_path / "cat.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_sample_catalogue_loads():
    items = catalogue.load_csv(catalogue.SAMPLE)
    assert len(items) == 11
    assert items["XA10BAA001A001010100003"].payment_standard == 12


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ("X1,a,A,0%,\nX2,b,D,0%,\n", "cat.csv: row 3: class", "must be A, B or C"),
        ("X1,a,B,ten,\n", "cat.csv: row 2: self_pay_share", "percent sign"),
        ("X1,a,A,10%,\n", "cat.csv: row 2: self_pay_share", "class B items only"),
        ("X1,a,A,0%,1.234\n", "cat.csv: row 2: payment_standard", "two decimals"),
        ("X-1,a,A,0%,\n", "cat.csv: row 2: code", "not a national code"),
        ("X1,a,A,0%,\nX1,b,A,0%,\n", "cat.csv: row 3: code", "duplicate X1"),
    ],
)
def test_bad_row_is_named(tmp_path, body, field, reason):
    with pytest.raises(BadRows) as err:
        catalogue.load_csv(write(tmp_path, body))
    (error,) = err.value.errors
    assert error.startswith(f"{field}: ") and reason in error


def test_every_bad_row_is_reported_and_nothing_loaded(tmp_path):
    body = "X1,a,Q,0%,\nX2,b,A,0%,\nX-3,c,A,0%,\nX4,d,B,ten,\nX2,e,A,0%,\nX6,f,A,0%,,extra\n"
    with pytest.raises(BadRows) as err:
        catalogue.load_csv(write(tmp_path, body))
    assert [e.split(": ")[1:3] for e in err.value.errors] == [
        ["row 2", "class"],
        ["row 4", "code"],
        ["row 5", "self_pay_share"],
        ["row 6", "code"],
        ["row 7", "more cells than the header has columns"],
    ]
    checked = runner.invoke(app, ["catalogue", "check", str(tmp_path / "cat.csv")])
    lines = checked.output.splitlines()
    assert checked.exit_code == 2 and len(lines) == 6
    assert lines[0].startswith("cat.csv 第2行·甲乙类别：")  # Chinese first, the English kept
    assert lines[0].endswith(" (cat.csv: row 2: class: must be A, B or C, not 'Q')")
    assert lines[-1].startswith("cat.csv：5 行有误 (cat.csv: 5 行有误 bad row(s)")


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("code,name\n", "missing column(s): class, self_pay_share, payment_standard"),
        (
            HEADER.replace("class", "klass"),
            "unknown column(s): klass; missing column(s): class",
        ),
        (HEADER.replace("\n", ",code\n"), "repeated column(s): code"),
    ],
)
def test_a_wrong_header_is_a_header_error(tmp_path, header, problem):
    path = tmp_path / "cat.csv"
    path.write_text(header + "X1,a,A,0%,\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        catalogue.load_csv(path)
    assert err.value.field == "cat.csv: header" and problem in err.value.reason
    checked = runner.invoke(app, ["catalogue", "check", str(path)])
    assert checked.exit_code == 2 and checked.output.startswith("cat.csv·表头：")
    assert "(cat.csv: header: " in checked.output
    assert len(checked.output.splitlines()) == 1


def test_a_catalogue_saved_by_excel_in_gbk_loads(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text(HEADER + "X1,阿莫西林胶囊,A,0%,\n", encoding="gb18030")
    assert catalogue.load_csv(path)["X1"].name == "阿莫西林胶囊"


def test_pricing_splits_each_line():
    items = catalogue.load_csv(catalogue.SAMPLE)
    lines = [
        catalogue.Line("XA10BAA001A001010100003", Decimal("0.5"), 25),  # 12.5 -> 13 fen
        catalogue.Line("UNKNOWN", Decimal(1), 1000),  # not listed: out of scope
    ]
    priced = catalogue.price(lines, items)
    # 0.5 x 0.25 = 0.125 -> 0.13 (half-up); above the 0.12 standard: 0.5 x 0.13 = 0.065 -> 0.07
    assert (priced.total, priced.out_of_scope, priced.above_standard) == (1013, 1000, 7)
    assert priced.in_scope == 6 and priced.class_b_self_pay == 0


def test_cli_check_and_calculate_with_a_catalogue(tmp_path):
    good = runner.invoke(app, ["catalogue", "check", str(catalogue.SAMPLE)])
    assert good.exit_code == 0 and "11 items" in good.output
    bad = runner.invoke(app, ["catalogue", "check", str(write(tmp_path, "X1,a,Q,0%,\n"))])
    assert bad.exit_code == 2 and "row 2: class" in bad.output


def test_items_and_total_together_are_refused():
    from gongji.calculate import calculate

    doc = {
        "region": "nanyang",
        "member": {"id": "P", "type": "employee"},
        "visits": [
            {
                "id": "V",
                "time": "2023-03-01T10:00:00",
                "institution": "H",
                "level": "level2",
                "total": "10",
                "items": [{"code": "X1", "quantity": 1, "unit_price": "10"}],
            }
        ],
    }
    with pytest.raises(InputError) as err:
        calculate(doc)
    assert err.value.field == "visits[0].items"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1e30", "at most 999999 of an item"),  # issue 17: quantize cannot hold it (was a 500)
        ("1e999999999", "at most 999999 of an item"),
        ("NaN", "must be positive"),
        ("-Infinity", "must be positive"),
        ("1e-400", "at most four decimals"),
        ("0", "must be positive"),
        (True, "exact decimal"),
        ({}, "not a number"),
    ],
)
def test_a_quantity_beyond_reason_is_refused(value, reason):
    with pytest.raises(ValueError) as err:
        catalogue.quantity(value)
    assert reason in str(err.value)


def test_a_quantity_within_bounds_stays_exact():
    assert catalogue.quantity("999999.125") == Decimal("999999.125")
    assert catalogue.quantity(2) == Decimal(2)
