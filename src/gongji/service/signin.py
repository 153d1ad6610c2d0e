"""9001 sign-in and 9002 sign-out (national-interface §5.1, §5.2), kept in the store
(`sign_ins`) so that every worker knows them.

An institution's operator signs in and is given a `sign_no` (the row's id), which the client
puts in the envelope of its later transactions; a sign-out closes it. With
GONGJI_REQUIRE_SIGN_IN on, an institution's transaction other than 9001/9002 needs the
`sign_no` of one of its sign-ins not signed out (E_SIGN_IN otherwise), as the platform asks;
off by default. A sign-in does not lapse by itself (OH keeps its sign_no as long as it runs;
the sources name no lapse). The bureau does not sign in: institutions do (its credential is
refused 9001/9002 as any transaction not a read, and its reads need no sign_no).

Shapes, as clients send them:
- 9001 `input.signIn` {opter_no, mac, ip} (OH Input_9001.cs, MD QD9001.cs, HN SignInReq.cs),
  or the three flat in `input` (X1 YBINIT); `opter_no` may be missing (MD's normal path
  drops it): the envelope's `opter` stands in. Answered as `signinoutb` {sign_no, sign_time}
  and, for X1, `sign_no` directly under output (§8 item 13).
- 9002 `input.signOut` {sign_no, opter_no} (MD QT9002.cs, MD-JS) or flat (OH Input_9002.cs,
  HN SignOutReq.cs); X1's has no sign_no: the envelope's `sign_no` stands in. Answered as
  `signoutoutb` {sign_time} (MD) and `sign_time` flat (OH Output_9002, HN). A sign-out
  already made answers its time again (a retried 9002)."""

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, insert, select, update

from gongji.errors import InputError
from gongji.ledger.schema import sign_ins
from gongji.model import check_text
from gongji.service import fields
from gongji.service.auth import Caller

if TYPE_CHECKING:
    from gongji.service.national import Context

FIELD_MAX = 50  # opter_no C(20), mac C(20), ip C(20) in the sources; an IPv6 address is longer
SIGN_NO_MAX = 30  # C(30)
NUMBER_MAX = 2**31 - 1  # the id column's range: a sign_no beyond it is nobody's


def _node(ctx: "Context", name: str) -> tuple[dict, str]:
    """The transaction's node (`signIn`, `signOut`), or `input` itself where it is flat."""
    given = ctx.envelope.input.get(name)
    if given is None:
        return ctx.envelope.input, "input"
    if not isinstance(given, dict):
        raise InputError(f"input.{name}", "an object")
    return given, f"input.{name}"


async def sign_in(ctx: "Context") -> dict:
    data, at = _node(ctx, "signIn")
    opter_no = fields.text(data, "opter_no", at, FIELD_MAX, required=False)
    if opter_no is None and ctx.envelope.opter is not None:
        opter_no = check_text(ctx.envelope.opter, "opter", FIELD_MAX)
    mac = fields.text(data, "mac", at, FIELD_MAX, required=False)
    ip = fields.text(data, "ip", at, FIELD_MAX, required=False)
    sign_no, when = await asyncio.to_thread(record, ctx.db, ctx.caller, opter_no, mac, ip)
    return {"signinoutb": {"sign_no": sign_no, "sign_time": when}, "sign_no": sign_no}


async def sign_out(ctx: "Context") -> dict:
    data, at = _node(ctx, "signOut")
    sign_no = fields.text(data, "sign_no", at, SIGN_NO_MAX, required=False)
    where = f"{at}.sign_no"
    if sign_no is None:
        sign_no, where = ctx.envelope.sign_no, "sign_no"
    if sign_no is None:
        raise InputError(f"{at}.sign_no", "required: the sign_no 9001 answered")
    when = await asyncio.to_thread(close, ctx.db, ctx.caller, sign_no, where)
    return {"signoutoutb": {"sign_time": when}, "sign_time": when}


async def check(db: Engine, caller: Caller, sign_no: str | None) -> None:
    """E_SIGN_IN unless `sign_no` is a sign-in of the caller's institution still open."""
    if not sign_no:
        raise InputError("sign_no", "required: sign in (9001) and send its sign_no", "E_SIGN_IN")
    if not await asyncio.to_thread(is_open, db, caller, sign_no):
        raise InputError(
            "sign_no",
            f"{sign_no:.40} is not a sign-in of yours still open: sign in (9001)",
            "E_SIGN_IN",
        )


# -- the store ------------------------------------------------------------------------------
def record(
    db: Engine, caller: Caller, opter_no: str | None, mac: str | None, ip: str | None
) -> tuple[str, str]:
    """A new sign-in of the caller's institution: (its sign_no, its time)."""
    now = datetime.now().replace(microsecond=0)
    with db.begin() as conn:
        number = conn.execute(
            insert(sign_ins)
            .values(
                institution=caller.institution,
                credential=caller.credential,
                opter_no=opter_no,
                mac=mac,
                ip=ip,
                signed_in_at=now,
            )
            .returning(sign_ins.c.id)
        ).scalar_one()
    return str(number), _shown(now)


def close(db: Engine, caller: Caller, sign_no: str, field: str) -> str:
    """The sign-in signed out (once): the time it was."""
    number = _number(sign_no)
    ours = (sign_ins.c.id == number, sign_ins.c.institution == caller.institution)
    with db.begin() as conn:
        if number is not None:
            conn.execute(
                update(sign_ins)
                .where(*ours, sign_ins.c.signed_out_at.is_(None))
                .values(signed_out_at=datetime.now().replace(microsecond=0))
            )
            found = conn.execute(select(sign_ins.c.signed_out_at).where(*ours)).first()
        if number is None or found is None:
            raise InputError(field, f"no sign-in {sign_no:.40} of yours", "E_NOT_FOUND")
    return _shown(found.signed_out_at)


def is_open(db: Engine, caller: Caller, sign_no: str) -> bool:
    number = _number(sign_no)
    if number is None:
        return False
    with db.connect() as conn:
        found = conn.execute(
            select(sign_ins.c.id).where(
                sign_ins.c.id == number,
                sign_ins.c.institution == caller.institution,
                sign_ins.c.signed_out_at.is_(None),
            )
        ).first()
    return found is not None


def _number(sign_no: str) -> int | None:
    """The row a sign_no names; None for one no row can have (not digits, beyond the id's
    range: asking the store would be an error, not an answer)."""
    if not (sign_no.isascii() and sign_no.isdigit()) or len(sign_no) > 10:
        return None
    number = int(sign_no)
    return number if 0 < number <= NUMBER_MAX else None


def _shown(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")
