"""The insurance catalogue and pricing a visit from its line items (NY-18, NY-19).

A catalogue row gives an item's national code, its class (A 甲类 fully in scope, B 乙类 with a
class-B self-pay share 先行自付, C 丙类 out of scope) and, where one is set, the payment
standard per unit (e.g. a centrally procured drug's winning bid, NY-18). Pricing a visit
splits each line into: out of scope (class C or not in the catalogue, NY-19), above the
payment standard, the class-B self-pay share, and the in-scope rest.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from gongji.csvfile import BadRows, check_header, read_rows
from gongji.errors import InputError
from gongji.money import MoneyError, apply_ratio, percent_to_bp, times, to_fen

SAMPLE = Path(__file__).parent / "data" / "catalogue-sample.csv"
COLUMNS = ("code", "name", "class", "self_pay_share", "payment_standard")


@dataclass(frozen=True, slots=True)
class Item:
    code: str
    name: str
    item_class: str  # A | B | C
    self_pay_share: int  # basis points, class B only
    payment_standard: int | None  # fen per unit


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a visit: an item bought or a service given."""

    code: str
    quantity: Decimal
    unit_price: int | Decimal  # fen; a Decimal where a price has fractions of a fen


@dataclass(frozen=True, slots=True)
class Priced:
    total: int
    in_scope: int
    out_of_scope: int  # class C and items not in the catalogue
    above_standard: int  # unit price above the payment standard, times quantity
    class_b_self_pay: int  # 先行自付


def load_csv(source: Path | bytes, name: str | None = None) -> dict[str, Item]:
    """All rows or nothing (csvfile.read_rows: UTF-8, or GBK as Excel saves it): a wrong
    header is one header error; bad rows are csvfile.BadRows, every one by its number and
    field."""
    rows = read_rows(source, name)
    check_header(rows, COLUMNS, COLUMNS)
    items: dict[str, Item] = {}
    errors: list[str] = []
    for row_number, row in rows:
        try:
            if None in row:
                raise _bad(rows.name, row_number, "", "more cells than the header has columns")
            item = _item(rows.name, row_number, row)
            if item.code in items:
                raise _bad(rows.name, row_number, "code", f"duplicate {item.code}")
            items[item.code] = item
        except InputError as exc:
            errors.append(str(exc))
    if errors:
        raise BadRows(rows.name, errors, "no item loaded")
    return items


def _bad(name: str, row_number: int, field: str, reason: str) -> InputError:
    return InputError(f"{name}: row {row_number}" + (f": {field}" if field else ""), reason)


@cache
def sample() -> dict[str, Item]:
    """The shipped sample catalogue (line-item visits are priced with it unless told)."""
    return load_csv(SAMPLE)


def _item(name: str, row_number: int, row: dict[str, str]) -> Item:
    def bad(field: str, reason: str) -> InputError:
        return _bad(name, row_number, field, reason)

    code = (row.get("code") or "").strip()
    if not code.isalnum() or not code.isascii() or len(code) > 30:
        raise bad("code", f"not a national code: {code!r}")
    item_class = (row.get("class") or "").strip()
    if item_class not in ("A", "B", "C"):
        raise bad("class", f"must be A, B or C, not {item_class!r}")
    share_text = (row.get("self_pay_share") or "").strip() or "0%"
    try:
        share = percent_to_bp(share_text)
    except MoneyError as exc:
        raise bad("self_pay_share", str(exc)) from None
    if not 0 <= share <= 10_000 or (share and item_class != "B"):
        raise bad("self_pay_share", "a share between 0% and 100%, for class B items only")
    standard_text = (row.get("payment_standard") or "").strip()
    try:
        standard = to_fen(standard_text) if standard_text else None
    except MoneyError as exc:
        raise bad("payment_standard", str(exc)) from None
    if standard is not None and standard < 0:
        raise bad("payment_standard", "must not be negative")
    return Item(code, (row.get("name") or "").strip(), item_class, share, standard)


def price(lines: list[Line], catalogue: dict[str, Item]) -> Priced:
    total = in_scope = out = above = class_b = 0
    for line in lines:
        amount = times(line.unit_price, line.quantity)
        total += amount
        item = catalogue.get(line.code)
        if item is None or item.item_class == "C":
            out += amount
            continue
        allowed = amount
        standard = item.payment_standard
        if standard is not None and line.unit_price > standard:
            over = times(line.unit_price - standard, line.quantity)
            above += over
            allowed -= over
        if item.item_class == "B":
            share = apply_ratio(allowed, item.self_pay_share)
            class_b += share
            allowed -= share
        in_scope += allowed
    return Priced(total, in_scope, out, above, class_b)


def quantity(value: object) -> Decimal:
    """A positive quantity with at most four decimals (e.g. 0.5 of a box; the national
    platform's cnt is N(16,4))."""
    if isinstance(value, bool | float):
        raise ValueError("must be an exact decimal number")
    try:
        q = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r:.40}") from None
    if not q.is_finite() or q <= 0:
        raise ValueError("must be positive, with at most four decimals")
    # bounded before quantize, which cannot hold "1e30" to four decimals
    if q.adjusted() >= MAX_QUANTITY_DIGITS:
        raise ValueError(f"at most {10**MAX_QUANTITY_DIGITS - 1} of an item")
    if q != q.quantize(Decimal("0.0001")):
        raise ValueError("must be positive, with at most four decimals")
    return q


MAX_QUANTITY_DIGITS = 6  # digits before the point: a visit bills under a million of a thing
