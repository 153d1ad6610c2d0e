"""Money: integer fen inside, Decimal yuan at the edges.

This is the only module that converts between yuan and fen or rounds. A ratio is held as
basis points (1% = 100 bp) so that every product is integer arithmetic, rounded half-up
once per product, as the rules inventory fixes.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

FEN_PER_YUAN = 100
BP_PER_UNIT = 10_000  # basis points in 100%


class MoneyError(ValueError):
    """A value that is not an amount of yuan with at most two decimals."""


def to_fen(value: object) -> int:
    """Yuan (Decimal, int or numeric string) -> fen. Floats are refused: they are not exact;
    so are NaN, Infinity and amounts beyond any this system holds (e.g. "1e400")."""
    if type(value) is str:  # amounts arrive as text: every visit's total and in_scope
        fen = _plain_fen(value)
        if fen is not None:
            return fen
    return _exact_fen(value)


def _plain_fen(text: str) -> int | None:
    """The fen of yuan written plainly ('12', '12.3', '12.34': ASCII digits, at most 16
    before the point), else None. The common form, read without a Decimal (a fifth of the
    time): anything else, a sign, an exponent, a space, goes the Decimal way (`_exact_fen`),
    whose answer for these is the same."""
    whole, dot, cents = text.partition(".")
    if not (whole.isascii() and whole.isdigit() and len(whole) <= MAX_DIGITS + 1):
        return None
    if not dot:
        return int(whole) * FEN_PER_YUAN
    if not (0 < len(cents) <= 2 and cents.isascii() and cents.isdigit()):
        return None
    return int(whole) * FEN_PER_YUAN + int(cents) * (10 if len(cents) == 1 else 1)


def _exact_fen(value: object) -> int:
    """`to_fen` of any value, through a Decimal."""
    if isinstance(value, (bool, float)):
        raise MoneyError(f"must be an exact decimal amount, not {type(value).__name__}")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise MoneyError(f"not an amount: {value!r:.40}") from None
    if not amount.is_finite():
        raise MoneyError(f"not an amount: {value!r:.40}")
    # bounded before any arithmetic: "1e999999999" would overflow the decimal context
    if amount and amount.adjusted() > MAX_DIGITS:
        raise MoneyError(f"too large an amount: {value!r:.40}")
    cents = amount.quantize(CENT)  # exact, and "1e-400" is 0.00: not the amount given
    if cents != amount:
        raise MoneyError(f"at most two decimals allowed: {value!s:.40}")
    return int(cents * FEN_PER_YUAN)


CENT = Decimal("0.01")
MAX_DIGITS = 15  # an amount's largest exponent: 16 digits before the point (MAX_FEN 11)
MAX_FEN = 10**12  # ten billion yuan: no amount of this system comes near it


def amount(value: object) -> int:
    """A non-negative amount of yuan -> fen. MoneyError is a ValueError: pydantic validators
    use this as it is, and the reason reaches the person."""
    fen = to_fen(value)
    if fen < 0:
        raise MoneyError("must not be negative")
    if fen > MAX_FEN:
        raise MoneyError(f"at most {MAX_FEN // FEN_PER_YUAN} yuan")
    return fen


PRICE_PLACES = 6  # a unit price's decimals of a yuan (the national platform's pric N(16,6))


def unit_price(value: object) -> Decimal:
    """A unit price in yuan with at most six decimals -> fen, exactly, as a Decimal (up to four
    decimals of a fen). A price is a rate, not an amount: what it prices is rounded once,
    half-up, to the fen (`times`), and that amount is integer fen from then on. Floats,
    negatives and prices beyond MAX_FEN a unit are refused as `amount` refuses them."""
    if isinstance(value, (bool, float)):
        raise MoneyError(f"must be an exact decimal price, not {type(value).__name__}")
    try:
        price = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise MoneyError(f"not a price: {value!r:.40}") from None
    if not price.is_finite():
        raise MoneyError(f"not a price: {value!r:.40}")
    if price and price.adjusted() > MAX_DIGITS:
        raise MoneyError(f"too large a price: {value!r:.40}")
    exact = price.quantize(PRICE_STEP)
    if exact != price:
        raise MoneyError(f"at most {PRICE_PLACES} decimals allowed: {value!s:.40}")
    if exact < 0:
        raise MoneyError("must not be negative")
    fen = exact * FEN_PER_YUAN
    if fen > MAX_FEN:
        raise MoneyError(f"at most {MAX_FEN // FEN_PER_YUAN} yuan a unit")
    return Decimal(int(fen)) if fen == fen.to_integral_value() else fen.normalize()


PRICE_STEP = Decimal(1).scaleb(-PRICE_PLACES)


def fmt_price(fen: Decimal | int) -> str:
    """A unit price (fen, possibly with fractions of a fen) -> yuan text with two decimals,
    or more where the price has them ('200.00', '0.123456')."""
    yuan = (Decimal(fen) / FEN_PER_YUAN).quantize(PRICE_STEP)
    text = f"{yuan:f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def to_yuan(fen: int) -> Decimal:
    """Fen -> Decimal yuan with exactly two decimals."""
    return Decimal(fen).scaleb(-2).quantize(Decimal("0.01"))


def fmt(fen: int) -> str:
    """Fen -> '1234.50' (no thousands separators: the text is read back by machines too).
    Integer arithmetic and a table of the cents: this runs for every amount of every
    settlement's answer, and for several of every step of a trace rendered in words."""
    if fen >= 0:
        return f"{fen // FEN_PER_YUAN}{_CENTS[fen % FEN_PER_YUAN]}"
    return "-" + fmt(-fen)


_CENTS = tuple(f".{cents:02d}" for cents in range(100))  # fmt's decimals, by the cents


def fmt_grouped(value: int | Decimal | str) -> str:
    """An amount for a person to read: fen (int) or yuan (Decimal, or yuan text as `fmt`
    writes it) -> '15,800.00', thousands separated. The console and the report show amounts
    this way; files and answers read by machines keep `fmt`'s plain digits."""
    yuan = Decimal(value).scaleb(-2) if isinstance(value, int) else Decimal(str(value))
    return f"{yuan.quantize(CENT):,f}"


def fmt_time(moment: object) -> str:
    """A time for a person to read: '2026-11-29 20:09:21' (no 'T', no fractions of a second,
    no offset), from a datetime or ISO text; anything else as it is."""
    text = moment.isoformat(sep=" ") if hasattr(moment, "isoformat") else str(moment)
    if len(text) >= 19 and text[4] == "-" and text[10] in "T ":
        return f"{text[:10]} {text[11:19]}"
    return text


def json_number(fen: int) -> float:
    """Fen -> yuan as a JSON number, for interfaces that carry money as numbers (the
    national platform's). Serialisation only: `fen / 100` is the double nearest the exact
    amount (integer true division rounds once), which prints as its shortest decimal."""
    return fen / FEN_PER_YUAN


def percent_to_bp(value: object) -> int:
    """'55%' or '62.5%' -> basis points (5500, 6250). Only whole basis points are allowed."""
    text = str(value).strip()
    if not text.endswith("%"):
        raise MoneyError(f"a ratio is written with a percent sign, e.g. '55%': {value!r}")
    try:
        pct = Decimal(text[:-1])
    except InvalidOperation:
        raise MoneyError(f"not a percentage: {value!r}") from None
    bp = pct * 100
    if bp != bp.to_integral_value():
        raise MoneyError(f"at most two decimals in a percentage: {value!r}")
    return int(bp)


@lru_cache(maxsize=256)  # a pack's few ratios, each written in a step of every visit's trace
def fmt_bp(bp: int) -> str:
    """5500 -> '55%', 6250 -> '62.5%'."""
    return f"{Decimal(bp).scaleb(-2).normalize():f}%"


def times(fen: int | Decimal, quantity: Decimal) -> int:
    """A unit price in fen (a Decimal where it has fractions of a fen: `unit_price`) x a
    (possibly fractional) quantity, rounded once, half-up, to the fen."""
    return int((fen * quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def apply_ratio(fen: int, bp: int) -> int:
    """fen x ratio, rounded half-up to the fen (both operands are non-negative)."""
    return (fen * bp + BP_PER_UNIT // 2) // BP_PER_UNIT


KERNEL_FUNCTIONS = ("apply_ratio",)  # compiled for the batch replay (engine/jit.py)


def round_to_yuan(fen: int) -> int:
    """Fen rounded half-up to whole yuan, still in fen (a non-negative amount: 6252 -> 6300)."""
    return (fen + FEN_PER_YUAN // 2) // FEN_PER_YUAN * FEN_PER_YUAN
