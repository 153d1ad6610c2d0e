"""Members and visits as every front end receives them, and their translation to the engine's.

One input schema for `gongji calculate`, the ledger, the service and supervision: field types
(amounts read as exact yuan into fen, ids as text, local times), the checks a visit must pass
beyond its types (`check_visit`), and the engine's `Member` and `Visit` made from them. Any
problem is an `InputError` naming the field.
"""

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
)

from gongji import catalogue, engine
from gongji.errors import InputError, validated
from gongji.money import amount, fmt, fmt_price, to_yuan, unit_price
from gongji.policy.schema import Pack, Version
from gongji.terms import Category, Level, MemberType

# -- the limits of what is stored: one place for every front end ---------------------------
# Ids the store keys on hold at most ID_MAX characters (members.id, institutions.code are
# VARCHAR(40)); other ids (visits, items, diseases, transactions) at most TEXT_MAX. No id
# holds a control character (PostgreSQL text cannot hold NUL) or an unpaired surrogate (not
# Unicode: no store and no JSON answer can encode it). Days the code counts from lie between
# FIRST_DAY and LAST_DAY: the day after "9999-12-31" does not exist. The last day of a
# period (`EndDay`) may be 9999-12-31, the open end some systems write: nothing counts on
# from it.
ID_MAX = 40
TEXT_MAX = 64
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def unprintable(value: str) -> str | None:
    """What in `value` no id may hold, in words; None if nothing."""
    if value.isascii() and value.isprintable():  # U+0020-U+007E only: the common case, at
        return None  # a fraction of the pattern's cost (every id of every visit is read)
    found = _UNPRINTABLE.search(value)
    if found is None:
        return None
    char = found.group()
    kind = "an unpaired surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
    return f"contains {kind} (U+{ord(char):04X})"


def _refusal(text: str, most: int) -> str | None:
    if not text.strip():
        return "must not be blank"
    if len(text) > most:
        return f"at most {most} characters"
    return unprintable(text)


def printable(most: int) -> AfterValidator:
    """A pydantic check: the text is not blank and has at most `most` characters, none of
    them a control character or an unpaired surrogate."""

    def check(value: str) -> str:
        bad = _refusal(value, most)
        if bad:
            raise ValueError(bad)
        return value

    return AfterValidator(check)


def _clean(value: str) -> str:
    bad = unprintable(value)
    if bad:
        raise ValueError(bad)
    return value


Clean = AfterValidator(_clean)  # free text: whatever length its field allows, nothing unprintable


def check_text(value: object, field: str, most: int = TEXT_MAX) -> str:
    """An id given as text (or a whole number, as HIS clients send some) as text, or an
    InputError naming `field`: the checks of `Id` for fields read by hand."""
    text = _text(value)
    if text is None or text == "":
        raise InputError(field, "required")
    if not isinstance(text, str):
        raise InputError(field, f"must be text, not {json_kind(text)}")
    bad = _refusal(text, most)
    if bad:
        raise InputError(field, bad)
    return text


def json_kind(value: object) -> str:
    """A JSON value's kind, in words."""
    if isinstance(value, bool):
        return "true/false"
    kinds = {dict: "an object", list: "a list", str: "text"}
    return next((w for t, w in kinds.items() if isinstance(value, t)), "a number")


def _in_range(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"not a day between {FIRST_DAY} and {LAST_DAY}")
    return day


def check_day(day: date, field: str) -> date:
    """`Day`'s check for a day read by hand."""
    try:
        return _in_range(day)
    except ValueError as exc:
        raise InputError(field, str(exc)) from None


def _not_before_first(day: date) -> date:
    if day < FIRST_DAY:
        raise ValueError(f"not a day from {FIRST_DAY} on")
    return day


def _text(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _moment(value: object) -> object:
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time())
    return value


# Read as yuan into fen; written back as yuan text, so a stored record reads back the same
# (written as fen, each update of a member's record multiplied its money by 100).
Fen = Annotated[int, BeforeValidator(amount), PlainSerializer(fmt, when_used="json")]
# a unit price: yuan with up to six decimals, held as Decimal fen; what it prices is rounded
# once to the fen (money.unit_price)
Price = Annotated[
    Decimal, BeforeValidator(unit_price), PlainSerializer(fmt_price, when_used="json")
]
Id = Annotated[str, BeforeValidator(_text), printable(TEXT_MAX)]
Code = Annotated[str, BeforeValidator(_text), printable(ID_MAX)]  # a member's, an institution's
Day = Annotated[date, AfterValidator(_in_range)]
EndDay = Annotated[date, AfterValidator(_not_before_first)]  # a period's last day
# a visit's time needs no range of its own: one later than now is refused as such
# (E_VISIT_FUTURE), one before its region's first policy as having none in force
LocalTime = Annotated[datetime, BeforeValidator(_moment)]


class Strict(BaseModel):
    """Unknown fields are refused (a misspelt field must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PeriodIn(Strict):
    start: Day = Field(alias="from")
    end: EndDay = Field(alias="to")


class MemberIn(Strict):
    id: Code
    type: MemberType
    # the retirement switch: the day retiree benefits start (KF-12/16: 享受退休人员医疗
    # 保障待遇之日), and the day it was processed (办理之日); either or both may be recorded.
    # Where only the processing day is, the pack's switch rule gives the start from it.
    retired_from: Day | None = None
    retirement_processed: Day | None = None
    contribution_base: Fen | None = None
    account_balance: Fen | None = None
    has_account: StrictBool | None = None  # default: by member type and tier, from the pack
    # the contribution tier a flexible worker pays at (PZH-4a: 一档 is credited, other tiers
    # have no account); required where the pack's flexible credit is tiered
    contribution_tier: Annotated[int, Field(ge=1, le=9)] | None = None
    contribution_raised: StrictBool = False
    chronic_diseases: list[Id] = []
    benefit_periods: list[PeriodIn] | None = None
    inpatient_stays: list[PeriodIn] = []
    arrears: list[PeriodIn] = []
    remote_filing: PeriodIn | list[PeriodIn] | None = None


# -- a member's identity as the national platform knows it (1101's baseinfo) ---------------
# Kept beside the member's record, not in it: the engine needs none of it, and the store
# holds it in columns of its own (1101 finds a member by certno or card_no).
IDENTITY_FIELDS = ("psn_cert_type", "certno", "card_no", "name", "gender", "birth_date",
                   "nationality")  # fmt: skip
RESIDENT_ID = "01"  # psn_cert_type of the 18-character resident ID number (national §7.2)
DOCUMENT_MAX = 50  # certno, card_no, psn_name: C(50) (national §5.3)


def _digits(least: int, most: int, what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not (value.isascii() and value.isdigit() and least <= len(value) <= most):
            raise ValueError(what)
        return value

    return AfterValidator(check)


DocumentNo = Annotated[str, BeforeValidator(_text), printable(DOCUMENT_MAX)]
NationCode = Annotated[
    str, BeforeValidator(_text), _digits(2, 2, "a 2-digit code (GB 3304: 01 汉族)")
]


class IdentityIn(Strict):
    # a code of digits; one digit (as MD-JS sends "1") is read as its two-digit form
    psn_cert_type: (
        Annotated[
            str,
            BeforeValidator(_text),
            _digits(1, 6, "a document type code of 1 to 6 digits (01: resident ID card)"),
            AfterValidator(lambda code: code.zfill(2)),
        ]
        | None
    ) = None
    certno: DocumentNo | None = None
    card_no: DocumentNo | None = None  # the social security card's number
    name: Annotated[str, printable(DOCUMENT_MAX)] | None = None
    gender: Annotated[Literal["1", "2"], BeforeValidator(_text)] | None = None  # 1 male, 2 female
    birth_date: Day | None = None
    nationality: NationCode | None = None  # 民族 (naty)


# GB 11643-1999: the digit in position i (1 to 17) weighs 2^(18-i) mod 11
_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CHECK = "10X98765432"  # the check character for each remainder of the weighted sum mod 11


def resident_id(certno: str) -> tuple[date, str]:
    """The birth date and sex (1 male, 2 female) a resident ID number carries (GB 11643: six
    digits of region, eight of birth date, three of sequence — odd for a man, even for a
    woman — and a check character), or a ValueError saying what is wrong with it."""
    if len(certno) != 18:
        raise ValueError("a resident ID number has 18 characters (GB 11643)")
    body, check = certno[:17], certno[17]
    if not (body.isascii() and body.isdigit()):
        raise ValueError("a resident ID number's first 17 characters are digits")
    if check != _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]:
        raise ValueError("the check digit does not match (GB 11643)")
    try:
        born = _in_range(date(int(body[6:10]), int(body[10:12]), int(body[12:14])))
    except ValueError:
        raise ValueError("characters 7 to 14 are not a birth date (yyyyMMdd)") from None
    return born, "1" if int(body[16]) % 2 else "2"


def parse_identity(document: object, where: str = "member") -> dict:
    """The identity fields of a member document (IDENTITY_FIELDS), checked, as the store's
    columns (absent ones None). A certno without a type is a resident ID number (01), whose
    birth date and sex it carries: taken from it where not given, and where given, they must
    agree with it."""
    if not isinstance(document, dict):
        document = {}
    given = {k: v for k, v in document.items() if k in IDENTITY_FIELDS and v not in (None, "")}
    i = validated(IdentityIn, given, where)
    if i.psn_cert_type is not None and i.certno is None:
        raise InputError(f"{where}.psn_cert_type", "give the certno it is the type of")
    kind = i.psn_cert_type or (RESIDENT_ID if i.certno else None)
    certno, born, gender = i.certno, i.birth_date, i.gender
    if kind == RESIDENT_ID:
        certno = certno.upper()  # the check character X, whichever case it was written in
        try:
            carried, sex = resident_id(certno)
        except ValueError as exc:
            other = "" if i.psn_cert_type else " (another document: give its psn_cert_type)"
            raise InputError(f"{where}.certno", f"{exc}{other}") from None
        if born is not None and born != carried:
            raise InputError(f"{where}.birth_date", f"{born} is not the birth date in certno")
        if gender is not None and gender != sex:
            raise InputError(f"{where}.gender", f"{gender} is not the sex certno carries")
        born, gender = carried, sex
    # a day's grace: the machine's clock may keep another time zone than the bureau's
    if born is not None and born > date.today() + timedelta(days=1):
        raise InputError(f"{where}.birth_date", f"{born} is after today")
    return {
        "psn_cert_type": kind,
        "certno": certno,
        "card_no": i.card_no,
        "name": i.name,
        "gender": gender,
        "birth_date": born,
        "nationality": i.nationality,
    }


def without_identity(document: object) -> object:
    """A member document without its identity fields: the record the engine reads."""
    if not isinstance(document, dict):
        return document
    return {k: v for k, v in document.items() if k not in IDENTITY_FIELDS}


class ItemIn(Strict):
    code: Id
    quantity: Annotated[Decimal, BeforeValidator(catalogue.quantity)]
    unit_price: Price


class VisitIn(Strict):
    id: Id
    time: LocalTime
    institution: Code
    level: Level
    category: Category = Category.general
    total: Fen | None = None  # required unless the visit lists items
    in_scope: Fen | None = None
    items: list[ItemIn] | None = Field(default=None, min_length=1)
    remote: StrictBool = False
    designated: StrictBool = True  # for outpatient pooling: the fund pays there (KF-19)
    agreement: StrictBool = True  # designated (定点): the personal account pays there
    manual: StrictBool = False
    third_party: StrictBool = False
    disease: Id | None = None
    drug: Id | None = None
    internet: StrictBool = False  # an internet hospital: `level` is its physical institution's
    prescription_level: Level | None = None  # pharmacy sale: the prescribing institution's level
    prescribed_at: Code | None = None  # pharmacy sale: the prescribing institution
    use_account: StrictBool = True  # false: the in-scope share in cash, the account untouched


def check_visit(pack: Pack, where: str, v: VisitIn) -> engine.Tables:
    """What a visit must satisfy beyond its field types; `where` prefixes the field names.
    The compiled policy version in force on the visit's day, which it has to look up."""
    if v.time.tzinfo is not None:
        raise InputError(f"{where}.time", "give local time without a time zone")
    if v.items is not None and (v.total is not None or v.in_scope is not None):
        raise InputError(f"{where}.items", "give total/in_scope or items, not both")
    if v.items is None and v.total is None:
        raise InputError(f"{where}.total", "required (or list the visit's items)")
    if v.in_scope is not None and v.in_scope > v.total:
        raise InputError(
            f"{where}.in_scope",
            f"must not exceed total ({to_yuan(v.in_scope)} > {to_yuan(v.total)})",
        )
    if v.prescription_level is not None and (
        v.level is not Level.pharmacy or v.prescription_level is Level.pharmacy
    ):
        raise InputError(
            f"{where}.prescription_level", "only for a pharmacy sale, naming a medical level"
        )
    if v.prescribed_at is not None and v.prescription_level is None:
        raise InputError(f"{where}.prescribed_at", "only with prescription_level (its level)")
    if v.internet and v.level is Level.pharmacy:
        raise InputError(f"{where}.internet", "give the physical institution's medical level")
    if v.designated and not v.agreement:
        raise InputError(f"{where}.agreement", "an institution designated for pooling has one")
    if v.category is Category.negotiated_drug and v.drug is None:
        raise InputError(f"{where}.drug", "required for a negotiated_drug visit")
    tables = engine.tables_on(pack, v.time.date())
    if tables is None:
        starts = ", ".join(ver.valid_from.isoformat() for ver in pack.versions)
        raise InputError(
            f"{where}.time",
            f"no {pack.region} policy in force on {v.time.date()} (versions from {starts})",
        )
    if tables.line_for(v.category, v.disease) is None:
        raise InputError(
            f"{where}.category", f"{tables.version_id} has no {v.category.value} policy"
        )
    return tables


def engine_member(pack: Pack, m: MemberIn, first_day: date) -> engine.Member:
    for name in ("benefit_periods", "inpatient_stays", "arrears"):
        _check_periods(f"member.{name}", getattr(m, name) or [])
    filings = (
        m.remote_filing
        if isinstance(m.remote_filing, list)
        else [m.remote_filing]
        if m.remote_filing
        else []
    )
    _check_periods("member.remote_filing", filings)
    retired_from = retirement_start(pack, m)
    version = pack.version_on(first_day)
    _check_tier(pack.region, version, m)
    account = has_account(version, m)
    if not account and m.account_balance:
        raise InputError(
            "member.account_balance", f"a {m.type.value} member here has no personal account"
        )
    return engine.Member(
        type=m.type,
        has_account=account,
        retired_from=retired_from,
        contribution_raised=m.contribution_raised,
        benefit_periods=None if m.benefit_periods is None else _periods(m.benefit_periods),
        inpatient_stays=_periods(m.inpatient_stays),
        arrears=_periods(m.arrears),
        remote_filings=_periods(filings),
        chronic_diseases=tuple(m.chronic_diseases),
    )


def has_account(version: Version, m: MemberIn) -> bool:
    """Whether the member has a personal account: as recorded, else by type (JMS-9, KF-16,
    XSBN-18 name the types without one) and, where the pack credits only some contribution
    tiers of the type, by the member's tier (PZH-4a: flexible workers at 一档)."""
    if m.has_account is not None:
        return m.has_account
    if m.type in version.accounts.without_account:
        return False
    tiers = _tiers(version, m.type)
    return tiers is None or m.contribution_tier is None or m.contribution_tier in tiers


def _tiers(version: Version, member_type: MemberType) -> list[int] | None:
    credit = getattr(version.crediting, member_type.value, None)
    return None if credit is None else credit.tiers


def _check_tier(region: str, version: Version, m: MemberIn) -> None:
    """A flexible worker's tier decides the account where the pack's credit is tiered: it
    must be recorded (or the account given as has_account), never guessed."""
    credit = version.crediting.flexible
    if m.type is not MemberType.flexible or credit is None or credit.tiers is None:
        return
    if m.contribution_tier is None and m.has_account is None:
        credited = ", ".join(str(t) for t in credit.tiers)
        raise InputError(
            "member.contribution_tier",
            f"required: {region} credits flexible workers at tier {credited} only"
            f" ({credit.rule_for()} {credit.article})",
        )


def retirement_start(pack: Pack, m: MemberIn) -> date | None:
    """The day retiree benefits start (X-2): as recorded (`retired_from`: KF-12 counts from
    it, and it need not be the day the switch was processed), else from the processing day
    by the switch rule of the version in force that day (NY-6: the next month's first day)."""
    given = [n for n in ("retired_from", "retirement_processed") if getattr(m, n) is not None]
    if given and m.type is MemberType.retiree:
        raise InputError(
            f"member.{given[0]}", "a retiree has no retirement switch (type is retiree)"
        )
    if m.retired_from is not None or m.retirement_processed is None:
        return m.retired_from
    timing = pack.version_on(m.retirement_processed) or pack.versions[-1]
    return engine.retirement_effective(m.retirement_processed, timing.retirement.takes_effect)


def _check_periods(field: str, periods: list[PeriodIn]) -> None:
    for i, p in enumerate(periods):
        if p.end < p.start:
            raise InputError(f"{field}[{i}].to", f"ends before it starts ({p.end} < {p.start})")


def _periods(periods: list[PeriodIn]) -> tuple[engine.Period, ...]:
    return tuple(engine.Period(p.start, p.end) for p in periods)


def engine_visit(v: VisitIn, items: dict[str, catalogue.Item] | None) -> engine.Visit:
    if v.items is not None:
        lines = [catalogue.Line(i.code, i.quantity, i.unit_price) for i in v.items]
        priced = catalogue.price(lines, items)
        total, in_scope = priced.total, priced.in_scope
        split = {
            "out_of_scope": priced.out_of_scope,
            "above_standard": priced.above_standard,
            "class_b_self_pay": priced.class_b_self_pay,
        }
    else:
        total, in_scope = v.total, v.total if v.in_scope is None else v.in_scope
        split = {}
    return engine.Visit(
        time=v.time,
        institution=v.institution,
        level=v.level,
        total=total,
        in_scope=in_scope,
        **split,
        category=v.category,
        remote=v.remote,
        designated=v.designated,
        manual=v.manual,
        third_party=v.third_party,
        disease=v.disease,
        drug=v.drug,
        internet=v.internet,
        prescription_level=v.prescription_level,
        prescribed_at=v.prescribed_at,
        use_account=v.use_account,
        agreement=v.agreement,
    )
