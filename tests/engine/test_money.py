"""money.py's conversions and roundings at their edges: what each returns (value and type)
and the words of each refusal, which reach the person (pydantic passes them on)."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongji.money import (
    MAX_FEN,
    MoneyError,
    _exact_fen,
    _plain_fen,
    amount,
    apply_ratio,
    fmt,
    fmt_bp,
    json_number,
    percent_to_bp,
    round_to_yuan,
    times,
    to_fen,
    to_yuan,
)

from ..conftest import examples


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        ("12.34", 1234),
        (" 0.5 ", 50),
        (7, 700),
        (Decimal("-1.10"), -110),
        ("1e2", 10_000),
        ("-0", 0),
        ("1.500", 150),
        (Decimal("1E+14"), 10**16),
        # the largest read: 16 digits before the point (an exponent of MAX_DIGITS, 15)
        ("1e15", 10**17),
        ("9" * 16, int("9" * 16) * 100),
    ],
)
def test_to_fen(value, fen):
    got = to_fen(value)
    assert got == fen and type(got) is int


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "must be an exact decimal amount, not float"),
        (True, "must be an exact decimal amount, not bool"),
        ("abc", "not an amount: 'abc'"),
        ("NaN", "not an amount: 'NaN'"),
        ("Infinity", "not an amount: 'Infinity'"),
        ("1.234", "at most two decimals allowed: 1.234"),
        # issue 17: beyond the decimal context, or so small it rounds to nothing
        ("-Infinity", "not an amount: '-Infinity'"),
        ("1e16", "too large an amount: '1e16'"),
        ("1" + "0" * 16, "too large an amount: '10000000000000000'"),
        ("1e400", "too large an amount: '1e400'"),
        ("1e999999999", "too large an amount: '1e999999999'"),
        (10**30, "too large an amount: 1000000000000000000000000000000"),
        ("1e-400", "at most two decimals allowed: 1e-400"),
        ("1e-999999999", "at most two decimals allowed: 1e-999999999"),
        ({}, "not an amount: {}"),
        (None, "not an amount: None"),
    ],
)
def test_to_fen_refuses(value, message):
    with pytest.raises(MoneyError) as err:
        to_fen(value)
    assert str(err.value) == message


def test_amount_bounds():
    assert amount("0") == 0
    assert amount(MAX_FEN // 100) == MAX_FEN
    with pytest.raises(MoneyError) as err:
        amount("-0.01")
    assert str(err.value) == "must not be negative"
    with pytest.raises(MoneyError) as err:
        amount("10000000000.01")
    assert str(err.value) == "at most 10000000000 yuan"


@pytest.mark.parametrize(
    ("fen", "text"), [(0, "0.00"), (5, "0.05"), (123450, "1234.50"), (-5, "-0.05"), (-100, "-1.00")]
)
def test_fmt_and_to_yuan(fen, text):
    assert fmt(fen) == text
    assert to_yuan(fen) == Decimal(text) and str(to_yuan(fen)) == text


def test_json_number():
    assert json_number(123456) == 1234.56
    assert json_number(5) == 0.05


@pytest.mark.parametrize(("text", "bp"), [("55%", 5500), (" 62.5% ", 6250), ("100%", 10_000)])
def test_percent_to_bp(text, bp):
    got = percent_to_bp(text)
    assert got == bp and type(got) is int


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("55", "a ratio is written with a percent sign, e.g. '55%': '55'"),
        ("x%", "not a percentage: 'x%'"),
        ("62.555%", "at most two decimals in a percentage: '62.555%'"),
    ],
)
def test_percent_to_bp_refuses(value, message):
    with pytest.raises(MoneyError) as err:
        percent_to_bp(value)
    assert str(err.value) == message


def test_fmt_bp():
    assert fmt_bp(5500) == "55%"
    assert fmt_bp(6250) == "62.5%"
    assert fmt_bp(10_000) == "100%"


@pytest.mark.parametrize(
    ("fen", "quantity", "product"),
    [
        # half-up, not banker's rounding: 2.5 fen -> 3 (half-even would give 2)
        (5, "0.5", 3),
        (1, "0.5", 1),
        (3, "0.5", 2),
        (7, "0.333", 2),  # 2.331
        (1000, "2.5", 2500),
    ],
)
def test_times_rounds_half_up_to_the_fen(fen, quantity, product):
    got = times(fen, Decimal(quantity))
    assert got == product and type(got) is int


@pytest.mark.parametrize(
    ("fen", "bp", "product"),
    [(1, 5000, 1), (3, 5000, 2), (10_000, 5500, 5500), (99, 1, 0), (5000, 1, 1), (4999, 1, 0)],
)
def test_apply_ratio_rounds_half_up(fen, bp, product):
    assert apply_ratio(fen, bp) == product


@pytest.mark.parametrize(
    ("fen", "rounded"), [(6252, 6300), (6249, 6200), (6250, 6300), (0, 0), (49, 0), (50, 100)]
)
def test_round_to_yuan(fen, rounded):
    got = round_to_yuan(fen)
    assert got == rounded and type(got) is int


# -- to_fen's plain path ('12.34' read without a Decimal) against the Decimal one -----------
def _outcome(read, value):
    try:
        return read(value)
    except MoneyError as exc:
        return str(exc)


PLAIN_EDGES = ["1e3", "-0", " 1", "1 ", "１", "1_000", "0.005", "1.", ".5", "+1", "0", "00.10",
               "1.0", "12.34", "12.3", "١٢", "²", "9" * 16, "9" * 17, "0" * 17 + "1", "1.2.3",
               "", ".", "-1.00", "1e-2", "NaN", "0x10", "1,000"]  # fmt: skip


@pytest.mark.parametrize("text", PLAIN_EDGES)
def test_plain_path_agrees_on_edges(text):
    fast = _plain_fen(text)
    assert fast is None or fast == _exact_fen(text)
    assert _outcome(to_fen, text) == _outcome(_exact_fen, text)


def test_plain_path_reads_plain_amounts():
    """The plain path is taken for the common forms (not a test that passes by declining)."""
    assert [_plain_fen(t) for t in ("12.34", "12.3", "7", "0.05", "9" * 16)] == [
        1234,
        1230,
        700,
        5,
        int("9" * 16) * 100,
    ]
    assert [_plain_fen(t) for t in ("1e3", "-0", " 1", "１", "1_000", "0.005", "1.")] == [None] * 7


@settings(max_examples=examples(2000))
@given(
    st.one_of(
        st.text(alphabet="0123456789.-+eE _１٣\u00b2x", max_size=22),
        st.from_regex(r"\A[0-9]{1,18}(\.[0-9]{0,4})?\Z"),
        st.text(max_size=8),
    )
)
def test_plain_path_agrees_with_decimal(text):
    fast = _plain_fen(text)
    assert fast is None or fast == _exact_fen(text)
    assert _outcome(to_fen, text) == _outcome(_exact_fen, text)
