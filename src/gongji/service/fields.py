"""The national platform's input fields, read by hand as its tables give them
(shared/spec/national-interface.md §0.1, §3.3): text C(n), a number sent for it read as its
text; amounts N(16,2), numbers or numeric strings, into fen; counts N(n); dates D and
date-times DT in the forms clients send. "" and null are absent. A field that cannot be read
is an InputError naming it, so nothing a store cannot hold gets as far as a write (the
limits are model.py's)."""

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from gongji.errors import InputError
from gongji.ledger.settlement import LOCAL_TIME
from gongji.model import ID_MAX, check_day, check_text, json_kind
from gongji.money import MoneyError
from gongji.money import amount as to_amount

__all__ = ["ID_MAX", "amount", "count", "day", "moment", "objects", "text"]


def _absent(value: object) -> bool:
    return value is None or value == ""


def text(data: dict, key: str, where: str, most: int, required: bool = True) -> str | None:
    """A text field of at most `most` characters (None when absent and not required)."""
    value = data.get(key)
    if _absent(value) and not required:
        return None
    return check_text(value, f"{where}.{key}", most)


def amount(data: dict, key: str, where: str, required: bool = True) -> int | None:
    """An amount of yuan as fen: not negative, at most two decimals, within MAX_FEN (None
    when absent and not required)."""
    value = data.get(key)
    if _absent(value):
        if required:
            raise InputError(f"{where}.{key}", "required")
        return None
    try:
        return to_amount(value)
    except MoneyError as exc:
        raise InputError(f"{where}.{key}", f"an amount in yuan: {exc}") from None


MAX_COUNT = 10**10  # N(10)


def count(data: dict, key: str, where: str) -> int:
    """A count N(10): a whole number, not negative, as a number or as digits."""
    value = data.get(key)
    field = f"{where}.{key}"
    if _absent(value):
        raise InputError(field, "required")
    if isinstance(value, bool | dict | list):
        raise InputError(field, f"a whole number, not {json_kind(value)}")
    try:
        n = Decimal(str(value).strip())
    except InvalidOperation:
        raise InputError(field, f"a whole number, not {value!r:.40}") from None
    if not n.is_finite() or n != n.to_integral_value() or not 0 <= n < MAX_COUNT:
        raise InputError(field, f"a whole number from 0 to {MAX_COUNT - 1}")
    return int(n)


def day(data: dict, key: str, where: str) -> date:
    """A date D (yyyy-MM-dd; the date of a DT is read as its day)."""
    value = data.get(key)
    field = f"{where}.{key}"
    if not isinstance(value, str):
        raise InputError(field, "required: a date yyyy-MM-dd")
    try:
        return check_day(date.fromisoformat(value[:10]), field)
    except ValueError:
        raise InputError(field, "a date yyyy-MM-dd") from None


def moment(data: dict, key: str, where: str) -> datetime:
    """A date-time DT: yyyy-MM-dd HH:mm:ss, the ISO form with T (a zone offset is converted
    to China Standard Time, the visits' local time), or a date alone (its midnight)."""
    value = data.get(key)
    field = f"{where}.{key}"
    if not isinstance(value, str):
        raise InputError(field, "required: a time yyyy-MM-dd HH:mm:ss")
    try:
        when = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise InputError(field, "a time: yyyy-MM-dd HH:mm:ss") from None
    if when.tzinfo is not None:
        when = when.astimezone(LOCAL_TIME).replace(tzinfo=None)
    check_day(when.date(), field)
    return when


def objects(value: object, where: str) -> list[dict]:
    """A list of objects; a single object is a list of one (as one client sends it)."""
    if _absent(value):
        return []
    rows = [value] if isinstance(value, dict) else value
    if not isinstance(rows, list):
        raise InputError(where, f"a list of objects, not {json_kind(value)}")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InputError(f"{where}[{i}]", f"an object, not {json_kind(row)}")
    return rows
