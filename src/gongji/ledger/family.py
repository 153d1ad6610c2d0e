"""Family mutual aid (个人账户家庭共济): who may draw on whose personal account.

A holder (授权人) binds a spouse, parent or child (the user, 使用人) to their account where
the holder's pack allows it (`family`: XSBN-24, KF-17, ...); the settlement of the user's
visit then draws on it for what the user's own account could not pay (settlement.py).
Families bind as they are: spouses each other, a child both parents. A binding is ended by
`unbind`, or from the day the holder's or the user's account closes (death, transfer,
refund). Each function writes inside the caller's transaction; `where` prefixes the field
names in errors (a CSV import passes "row 7").
"""

from datetime import date, datetime, time, timedelta

from pydantic import Field
from sqlalchemy import Connection, Engine, insert, or_, select, update

from gongji import policy
from gongji.errors import InputError, validated
from gongji.ledger import members as M
from gongji.ledger.driver import as_time, from_json
from gongji.ledger.schema import family_bindings, settlements
from gongji.model import Code, Day, EndDay, MemberIn, Strict, has_account
from gongji.policy.schema import Relationship


class BindingIn(Strict):
    holder: Code  # whose account pays (授权人)
    user: Code  # the relative whose care it pays (使用人)
    relationship: Relationship  # what the user is to the holder
    valid_from: Day = Field(alias="from")
    valid_to: EndDay | None = Field(default=None, alias="to")  # the last day; None: open-ended


def bind(conn: Connection, document: object, where: str = "binding") -> int:
    """A holder lets a spouse, parent or child (the user) draw on their account, where the
    holder's pack allows it (family: XSBN-24, KF-17, ...). Families bind as they are: two
    spouses each other, a child both parents; the same pair twice in one period is refused.
    Open-ended unless `to` is given; ended by `unbind`, or the holder's death or closing."""
    b = validated(BindingIn, document, where)
    if b.valid_to is not None and b.valid_to < b.valid_from:
        raise InputError(f"{where}.to", f"ends before it starts ({b.valid_to} < {b.valid_from})")
    if b.holder == b.user:
        raise InputError(f"{where}.user", "a member cannot be bound to themselves")
    # locked in id order, as settlements lock a user with its holders: never in a cycle
    rows = {m: M.lock(conn, m, f"{where}.{role}") for m, role in sorted(
        ((b.holder, "holder"), (b.user, "user")))}  # fmt: skip
    _allowed(rows[b.holder], rows[b.user], b, where)
    roles = family_bindings.c
    overlap = conn.execute(
        select(roles.id).where(
            roles.holder_id == b.holder,
            roles.user_id == b.user,
            or_(roles.valid_to.is_(None), roles.valid_to >= b.valid_from),
            or_(roles.valid_to.is_(None), roles.valid_to >= roles.valid_from),  # it ever held
            *([] if b.valid_to is None else [roles.valid_from <= b.valid_to]),
        )
    ).first()
    if overlap:
        raise InputError(
            f"{where}.user", f"{b.user} is bound to {b.holder} in that period already", "E_EXISTS"
        )
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


def _allowed(holder, user, b: BindingIn, where: str) -> None:
    """What the holder's pack says of family use on the binding's first day: allowed at
    all, for this relationship, and for a user insured where it must be."""
    pack = policy.load_region(holder.region)
    version = pack.version_on(b.valid_from)
    rule = None if version is None else version.family
    if rule is None:
        raise InputError(
            f"{where}.holder",
            f"a {holder.region} account pays no relative's care on {b.valid_from}",
            "E_NOT_IN_POLICY",
        )
    cite = f"({rule.rule_for()} {rule.article})"
    if not has_account(version, MemberIn.model_validate(holder.profile)):
        raise InputError(
            f"{where}.holder", f"{b.holder} has no personal account to share {cite}",
            "E_NOT_IN_POLICY",
        )  # fmt: skip
    if b.relationship not in rule.relationships:
        raise InputError(
            f"{where}.relationship", f"{b.relationship} is not a relative {cite}", "E_NOT_IN_POLICY"
        )
    scope = rule.within  # the pack's value, citing the article that sets it (XSBN-20)
    same = (
        user.region == holder.region
        if scope.scope == "region"
        else policy.load_region(user.region).province == pack.province
    )
    if not same:
        raise InputError(
            f"{where}.user",
            f"{b.user} is insured in {user.region}, outside the holder's {scope.scope}"
            f" ({scope.rule_for()} {scope.article})",
            "E_NOT_IN_POLICY",
        )


class UnbindIn(Strict):
    holder: Code
    user: Code
    on: Day  # the first day the binding no longer holds


def unbind(conn: Connection, document: object, where: str = "unbind") -> dict:
    """End the pair's bindings from `on`: the one in force that day ends the day before, one
    that was to start later ends before it starts (it never holds). Visits before `on` (a
    late claim included) still draw on the holder; `on` may not come after a visit that
    drew on the holder already — cancel that first. Ending it again changes nothing."""
    u = validated(UnbindIn, document, where)
    M.lock_all(conn, {u.holder, u.user})  # as settlements lock them: never in a cycle
    M.lock(conn, u.holder, f"{where}.holder")
    roles = family_bindings.c
    pair = (roles.holder_id == u.holder, roles.user_id == u.user)
    if conn.execute(select(roles.id).where(*pair)).first() is None:
        raise InputError(f"{where}.user", f"{u.user} is not bound to {u.holder}", "E_NOT_FOUND")
    drawn = _drawn_since(conn, u)
    if drawn:
        raise InputError(
            f"{where}.on",
            f"{u.holder}'s account paid {u.user}'s visit of {drawn[1]:%Y-%m-%d} already"
            f" (transaction {drawn[0]}): cancel it first, or end the binding later",
            "E_AID_PAID",
        )
    last = u.on - timedelta(days=1)
    in_force = _end(conn, (*pair, roles.valid_from <= u.on), last)
    later = conn.execute(
        select(roles.id, roles.valid_from).where(
            *pair,
            roles.valid_from > u.on,
            or_(roles.valid_to.is_(None), roles.valid_to >= roles.valid_from),
        )
    ).all()
    for r in later:  # ends before it starts: it never holds, and stays on record as such
        _end(conn, (roles.id == r.id,), r.valid_from - timedelta(days=1))
    return {"holder": u.holder, "user": u.user, "valid_to": last.isoformat(),
            "ended": in_force + len(later)}  # fmt: skip


def _drawn_since(conn: Connection, u: UnbindIn) -> tuple[str, datetime] | None:
    """An active settlement of the user on or after `on` that drew on the holder's account:
    (transaction, visit time), or None."""
    rows = conn.execute(
        select(settlements.c.txn_id, settlements.c.visit_time, settlements.c.result)
        .where(
            settlements.c.member_id == u.user,
            settlements.c.cancel_entry_id.is_(None),
            settlements.c.visit_time >= datetime.combine(u.on, time()),
        )
        .order_by(settlements.c.visit_time)
    ).all()
    return next(
        (
            (r.txn_id, as_time(r.visit_time))
            for r in rows
            if from_json(r.result).get("holder") == u.holder
        ),
        None,
    )


def end_member_bindings(conn: Connection, member_id: str, on: date) -> None:
    """A member who dies or whose account closes on `on`: their bindings, as holder and as
    user, hold no longer from that day (the user's own settlement goes on without them). A
    binding that was to start later ends before it starts: it never held, and stays on
    record as such."""
    roles = family_bindings.c
    who = or_(roles.holder_id == member_id, roles.user_id == member_id)
    _end(conn, (who,), on - timedelta(days=1))


def _end(conn: Connection, where: tuple, last: date) -> int:
    """Bindings that hold beyond `last` end on it; how many did."""
    roles = family_bindings.c
    return conn.execute(
        update(family_bindings)
        .where(*where, or_(roles.valid_to.is_(None), roles.valid_to > last))
        .values(valid_to=last)
    ).rowcount


def add_binding(db: Engine, document: object) -> dict:
    """`bind` in a transaction of its own (the CLI's and the REST API's)."""
    with db.begin() as conn:
        return {"binding": bind(conn, document)}


def end_binding(db: Engine, document: object) -> dict:
    """`unbind` in a transaction of its own (the CLI's and the REST API's)."""
    with db.begin() as conn:
        return unbind(conn, document)
