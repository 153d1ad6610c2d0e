"""1101 人员信息获取: the member found by the credential the patient presents, answered as
the platform's `baseinfo`, `insuinfo[]` and `idetinfo[]` (shared/spec/national-interface.md
§5.3; credential types §7.1).

Finding the member, first match wins:
- `psn_no` given: gongji's member id (clients that know it already).
- `mdtrt_cert_type` 02 (resident ID card): `mdtrt_cert_no` is an ID number, looked up in the
  members' `certno`; 03 (social security card): a card number, in their `card_no` (`card_sn`,
  the card's identification code, is the card reader's business: gongji keeps none).
- 01 (electronic voucher): `mdtrt_cert_no` is a token that only the voucher's issuer can
  read; the resolver configured as GONGJI_VOUCHER_RESOLVER (`module:function`, called with
  the token, returning the member's certno or member id, or None) reads it, and what it
  returns is looked up as an 02 number. Without a resolver, 01 is refused (E_CERT_TYPE).
- Fallback, for the clients written when gongji read every `mdtrt_cert_no` as its member id:
  an 02/03 number (or a resolved token) that matches no member's certno/card_no is tried as
  a member id. A certno always wins over a member id.
Two members under one number is an error (E_AMBIGUOUS: send psn_no), never a guess. Messages
never repeat the number sent (it is an identity number).
"""

import asyncio
import importlib
import logging
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Engine

from gongji import policy
from gongji.errors import InputError
from gongji.ledger import views
from gongji.ledger.settlement import LOCAL_TIME
from gongji.model import ID_MAX
from gongji.service import fields

log = logging.getLogger("gongji.service")

Resolver = Callable[[str], str | None]

DATA = "input.data"
PSN_TYPE = {"employee": "1101", "flexible": "1103", "retiree": "1201", "single_pool": "1101"}
CERT_TYPES = {"01": "electronic voucher", "02": "resident ID card", "03": "social security card"}
NUMBER_MAX = 50  # mdtrt_cert_no C(50); a voucher token may be longer
TOKEN_MAX = 1000


def load_resolver(spec: str) -> Resolver | None:
    """The voucher resolver a `module:function` setting names (None for ""); one that cannot
    be loaded stops the service, named."""
    if not spec:
        return None
    module, _, name = spec.partition(":")
    try:
        resolver = getattr(importlib.import_module(module), name) if module and name else None
    except (ImportError, AttributeError) as exc:
        raise SystemExit(f"GONGJI_VOUCHER_RESOLVER: cannot load {spec!r}: {exc}") from None
    if not callable(resolver):
        raise SystemExit(f"GONGJI_VOUCHER_RESOLVER: module:function please, not {spec!r}")
    return resolver


async def member_information(db: Engine, data: dict, resolver: Resolver | None) -> dict:
    """1101's output for the member `data` (the request's input.data) presents."""
    member_id = fields.text(data, "psn_no", DATA, ID_MAX, required=False)
    # every field is read before the store (or the resolver) is asked
    visit_day = (
        fields.moment(data, "begntime", DATA).date()
        if data.get("begntime") not in (None, "")
        else datetime.now(LOCAL_TIME).date()
    )
    if member_id is None:
        member_id = await _presented(db, data, resolver)
    shown = await asyncio.to_thread(views.member_show, db, member_id)
    return answer(shown, visit_day)


async def _presented(db: Engine, data: dict, resolver: Resolver | None) -> str:
    """The member id of the credential presented (mdtrt_cert_type, mdtrt_cert_no)."""
    kind = fields.text(data, "mdtrt_cert_type", DATA, 3).zfill(2)  # "2" as sent for "02"
    field = f"{DATA}.mdtrt_cert_no"
    if kind not in CERT_TYPES:
        raise InputError(
            f"{DATA}.mdtrt_cert_type",
            f"{kind} is not one of " + ", ".join(f"{k} ({v})" for k, v in CERT_TYPES.items()),
            "E_CERT_TYPE",
        )
    number = fields.text(data, "mdtrt_cert_no", DATA, TOKEN_MAX if kind == "01" else NUMBER_MAX)
    if kind == "01":
        number = await _resolved(resolver, number, field)
    key = "card_no" if kind == "03" else "certno"
    return await asyncio.to_thread(find, db, key, number, field)


async def _resolved(resolver: Resolver | None, token: str, field: str) -> str:
    """The certno (or member id) an electronic voucher's token stands for."""
    if resolver is None:
        raise InputError(
            f"{DATA}.mdtrt_cert_type",
            "01 (electronic voucher) needs a voucher resolver, and none is configured"
            " (GONGJI_VOUCHER_RESOLVER): present the ID card (02) or the social security"
            " card (03)",
            "E_CERT_TYPE",
        )
    try:
        found = await asyncio.to_thread(resolver, token)
    except Exception as exc:  # someone else's code: any failure of it is an outage
        # logged by class only: its text may quote the token
        log.warning("E_UNAVAILABLE: the voucher resolver raised %s", type(exc).__name__)
        raise InputError(field, "the voucher resolver failed; retry", "E_UNAVAILABLE") from None
    if found is None or found == "":
        raise InputError(field, "the electronic voucher names no member", "E_NOT_FOUND")
    if not isinstance(found, str):
        log.warning("E_UNAVAILABLE: the voucher resolver answered %s", type(found).__name__)
        raise InputError(field, "the voucher resolver failed; retry", "E_UNAVAILABLE")
    return found


def find(db: Engine, key: str, number: str, field: str) -> str:
    """The one member whose `key` (certno, card_no) is `number`; else the member whose id it
    is (the fallback the module's docstring gives)."""
    number = number.strip()
    if key == "certno" and len(number) == 18:
        number = number.upper()  # a resident ID number's check character X, stored upper
    ids = views.members_with(db, key, number)
    if len(ids) > 1:
        raise InputError(
            field,
            f"{len(ids)} members ({', '.join(ids)}) have this {key}: send psn_no",
            "E_AMBIGUOUS",
        )
    if ids:
        return ids[0]
    if len(number) <= ID_MAX and views.member_exists(db, number):
        return number
    raise InputError(field, f"no member has this {key}", "E_NOT_FOUND")


def answer(shown: dict, visit_day: date) -> dict:
    """views.member_show's member in §5.3's shapes. Strings gongji does not hold are null;
    dates and numbers it does not hold are left out: typed clients read a null into a
    non-nullable DateTime or decimal as an error (§4.3: OH `Output_1101.age` decimal, MD
    `RY1101` `brdy`/`psn_insu_date` DateTime) and a missing key as its default."""
    ident = shown["identity"]
    base = {
        "psn_no": shown["id"],
        "psn_cert_type": ident["psn_cert_type"],
        "certno": ident["certno"],
        "psn_name": ident["name"],
        "gend": ident["gender"],
        "naty": ident["nationality"],
    }
    if ident["birth_date"] is not None:
        born = date.fromisoformat(ident["birth_date"])
        if visit_day < born:
            raise InputError(f"{DATA}.begntime", "before the member's birth date")
        base["brdy"] = ident["birth_date"]
        base["age"] = float(age_on(born, visit_day))  # N(4,1): a JSON number, e.g. 35.1
    base["exp_content"] = None
    insured = {
        "balc": float(shown["account_balance"]),
        "insutype": "310",
        "psn_type": PSN_TYPE.get(shown["record"]["type"], "1101"),
        "psn_insu_stas": "1" if shown["status"] == "active" else "4",
        "cvlserv_flag": "0",
        "insuplc_admdvs": policy.load_region(shown["region"]).admdvs,
        "emp_name": None,
    }
    # idetinfo lists the platform's person identity categories (psn_idet_type: assistance,
    # disability, ... with their levels). gongji records none of them, and the code table is
    # not in the sources (§10): an empty list, never a code made up. A member's chronic or
    # special disease recognitions are not identities: the platform answers them in 5301.
    return {"baseinfo": base, "insuinfo": [insured], "idetinfo": []}


def age_on(born: date, day: date) -> Decimal:
    """Age on `day` in years, to one decimal: the whole years since birth, and the tenths of
    the year since the last birthday — the days since it over the days from it to the next,
    cut to tenths (never rounded up: 35.96 is 35.9, the age reaches 36.0 on the birthday).
    Born on 29 February: the birthday is 28 February in a common year."""
    years = day.year - born.year - (day < _birthday(born, day.year))
    last, following = _birthday(born, born.year + years), _birthday(born, born.year + years + 1)
    tenths = 10 * (day - last).days // (following - last).days
    return Decimal(10 * years + tenths).scaleb(-1)


def _birthday(born: date, year: int) -> date:
    if born.month == 2 and born.day == 29 and not _leap(year):
        return date(year, 2, 28)
    return born.replace(year=year)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
