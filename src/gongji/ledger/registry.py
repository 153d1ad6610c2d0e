"""What the ledger is told about the world: institutions, family bindings, contributions.

Each `add_*` takes one record as a document (a mapping, e.g. a CSV row or JSON), checks it
field by field, and writes it inside the caller's transaction; `where` prefixes the field
names in errors (a CSV import passes "row 7").
"""

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool
from sqlalchemy import Connection, insert, or_, select

from gongji import policy
from gongji.errors import InputError, validated
from gongji.ledger import members as M
from gongji.ledger.accounts import credit_due
from gongji.ledger.chart import Chart
from gongji.ledger.journal import post
from gongji.ledger.schema import contributions, family_bindings, institutions
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
    designated: StrictBool = True
    kind: Literal["hospital", "pharmacy", "internet"] = "hospital"
    physical: Id | None = None  # an internet hospital's physical institution
    dual_channel: StrictBool = False


class BindingIn(_Record):
    holder: Id
    user: Id
    relationship: Literal["spouse", "parent", "child"]
    valid_from: date = Field(alias="from")
    valid_to: date = Field(alias="to")


class ContributionIn(_Record):
    member: Id
    month: Month
    base: Fen
    paid_on: date
    amount: Fen | None = None  # the whole contribution paid (employer + member)


def parse(model: type[_Record], document: object, where: str):
    return validated(model, document, where)


def add_institution(conn: Connection, document: object, where: str = "institution") -> str:
    i = parse(InstitutionIn, document, where)
    policy.load_region(i.region)
    if (i.kind == "internet") != (i.physical is not None):
        raise InputError(f"{where}.physical", "give it for an internet hospital, and only then")
    if i.kind == "pharmacy" and i.level is not Level.pharmacy:
        raise InputError(f"{where}.level", "a pharmacy's level is pharmacy")
    if conn.execute(select(institutions.c.code).where(institutions.c.code == i.code)).first():
        raise InputError(f"{where}.code", f"institution {i.code} exists already", "E_EXISTS")
    conn.execute(insert(institutions).values(**i.model_dump()))
    return i.code


def bind_family(conn: Connection, document: object, where: str = "binding") -> int:
    """XSBN-24: a holder lets a spouse, parent or child (the user) draw on their account.
    A member is a holder or a user, never both, so locks are always taken user first."""
    b = parse(BindingIn, document, where)
    if b.valid_to < b.valid_from:
        raise InputError(f"{where}.to", f"ends before it starts ({b.valid_to} < {b.valid_from})")
    if b.holder == b.user:
        raise InputError(f"{where}.user", "a member cannot be bound to themselves")
    holder = M.lock(conn, b.holder, f"{where}.holder")
    user = M.lock(conn, b.user, f"{where}.user")
    version = policy.load_region(holder.region).version_on(b.valid_from)
    if version is None or version.mutual_aid is None:
        raise InputError(
            f"{where}.holder", f"{holder.region} has no account mutual aid", "E_NOT_IN_POLICY"
        )
    if user.region != holder.region:
        raise InputError(f"{where}.user", "holder and user must be insured in the same region")
    roles = family_bindings.c
    clash = conn.execute(
        select(roles.id).where(
            or_(roles.user_id == b.holder, roles.holder_id == b.user),
        )
    ).first()
    if clash:
        raise InputError(f"{where}.user", "a member is a holder or a user, not both")
    overlap = conn.execute(
        select(roles.id).where(
            roles.user_id == b.user, roles.valid_from <= b.valid_to, roles.valid_to >= b.valid_from
        )
    ).first()
    if overlap:
        raise InputError(f"{where}.user", f"{b.user} already has a holder in that period")
    return conn.execute(
        insert(family_bindings)
        .values(
            holder_id=b.holder,
            user_id=b.user,
            relationship=b.relationship,
            valid_from=b.valid_from,
            valid_to=b.valid_to,
        )
        .returning(roles.id)
    ).scalar_one()


def add_contribution(conn: Connection, document: object, where: str = "contribution") -> None:
    """A month's contribution, paid: the base the month's account credit is 2% of (X-4).
    With its `amount`, the money comes in too: the share the month's credit will take
    goes to the accounts' clearing (premium:<region>), the rest to the pooling fund."""
    c = parse(ContributionIn, document, where)
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
    due = credit_due(pack, MemberIn.model_validate(member.profile), c.month, c.base)
    if due is None or due[2] != Chart.premium.of(member.region):
        return 0
    return due[0]
