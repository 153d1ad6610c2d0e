"""What the ledger is told about the world: institutions and contributions (family bindings:
family.py).

Each `add_*` takes one record as a document (a mapping, e.g. a CSV row or JSON), checks it
field by field, and writes it inside the caller's transaction; `where` prefixes the field
names in errors (a CSV import passes "row 7").
"""

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool
from sqlalchemy import Connection, insert, select

from gongji import policy
from gongji.errors import InputError, validated
from gongji.ledger import members as M
from gongji.ledger.accounts import credit_due
from gongji.ledger.chart import Chart
from gongji.ledger.journal import post
from gongji.ledger.schema import contributions, institutions
from gongji.model import Fen, Id, MemberIn
from gongji.money import fmt
from gongji.terms import Level


def _month(value: object) -> object:
    """'2023-03' or any day of the month -> the month's first day."""
    if isinstance(value, str) and len(value) == 7:
        value = f"{value}-01"
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return value.replace(day=1) if isinstance(value, date) else value


Month = Annotated[date, BeforeValidator(_month)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class InstitutionIn(_Record):
    code: Id
    name: str = Field(min_length=1)
    region: Id
    level: Level  # an internet hospital: its physical institution's level (XSBN-31)
    designated: StrictBool = True  # for outpatient pooling (KF-19: the fund pays there)
    agreement: StrictBool = True  # designated (定点): the personal account may pay there
    kind: Literal["hospital", "pharmacy", "internet"] = "hospital"
    physical: Id | None = None  # an internet hospital's physical institution
    dual_channel: StrictBool = False


class ContributionIn(_Record):
    member: Id
    month: Month
    base: Fen
    paid_on: date
    amount: Fen | None = None  # the whole contribution paid (employer + member)
    own: Fen | None = None  # the member's own part of it (个人缴费)


def parse(model: type[_Record], document: object, where: str):
    return validated(model, document, where)


def add_institution(conn: Connection, document: object, where: str = "institution") -> str:
    i = parse(InstitutionIn, document, where)
    policy.load_region(i.region)
    if (i.kind == "internet") != (i.physical is not None):
        raise InputError(f"{where}.physical", "give it for an internet hospital, and only then")
    if i.designated and not i.agreement:
        raise InputError(f"{where}.agreement", "an institution designated for pooling has one")
    if i.kind == "pharmacy" and i.level is not Level.pharmacy:
        raise InputError(f"{where}.level", "a pharmacy's level is pharmacy")
    if conn.execute(select(institutions.c.code).where(institutions.c.code == i.code)).first():
        raise InputError(f"{where}.code", f"institution {i.code} exists already", "E_EXISTS")
    conn.execute(insert(institutions).values(**i.model_dump()))
    return i.code


def add_contribution(conn: Connection, document: object, where: str = "contribution") -> None:
    """A month's contribution, paid: the base the month's account credit is 2% of (X-4).
    With its `amount`, the money comes in too: the share the month's credit will take
    goes to the accounts' clearing (premium:<region>), the rest to the pooling fund."""
    c = parse(ContributionIn, document, where)
    if c.own is not None and c.amount is not None and c.own > c.amount:
        raise InputError(
            f"{where}.own", f"more than the whole contribution ({fmt(c.own)} > {fmt(c.amount)})"
        )
    member = M.lock(conn, c.member, f"{where}.member")
    found = conn.execute(
        select(contributions.c.id).where(
            contributions.c.member_id == c.member, contributions.c.month == c.month
        )
    ).first()
    if found:
        raise InputError(
            f"{where}.month",
            f"{c.member} has a contribution for {c.month:%Y-%m} already",
            "E_EXISTS",
        )
    entry_id = None if c.amount is None else _post_contribution(conn, member, c, where)
    conn.execute(
        insert(contributions).values(
            member_id=c.member,
            month=c.month,
            base=c.base,
            paid_on=c.paid_on,
            amount=c.amount,
            own=c.own,
            entry_id=entry_id,
        )
    )


def _post_contribution(conn: Connection, member, c: ContributionIn, where: str) -> int:
    region = member.region
    share = _account_share(member, c)
    if c.amount < share:
        raise InputError(
            f"{where}.amount",
            f"{fmt(c.amount)} is less than the account credit it pays for ({fmt(share)})",
        )
    moves = [
        (Chart.contributions.of(region), -c.amount),
        (Chart.premium.of(region), share),
        (Chart.fund.of(region), c.amount - share),
    ]
    return post(conn, "contribution", f"contribution:{c.member}:{c.month:%Y-%m}", moves)


def _account_share(member, c: ContributionIn) -> int:
    """What the month's credit will take from premium:<region> (none when the credit comes
    from the fund, as a retiree's does, or no credit is due)."""
    pack = policy.load_region(member.region)
    due = credit_due(pack, MemberIn.model_validate(member.profile), c.month, c.base, c.own)
    if due is None or due[2] != Chart.premium.of(member.region):
        return 0
    return due[0]
