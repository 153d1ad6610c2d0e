"""Personal-account movements outside a visit: monthly crediting and back-credits (X-4),
premiums paid from an account for whom the pack allows (X-4, KF-17) with their freeze where
the pack freezes them (XSBN-26), and closing an account by transfer, refund or pay-out
(JMS-12, KF-18, NY-12, XSBN-22).

Every movement is one journal entry under an operation id; repeating an operation with the
same id changes nothing (crediting a month twice credits it once). What the rules make of
the pack's values (a month's credit, a back-credit, a freeze's transfer day) is computed by
engine.accounts; this module reads the records and posts the entries.
"""

from collections.abc import Callable, Iterator
from datetime import date

from sqlalchemy import Connection, Engine, func, insert, select, update

from gongji import policy
from gongji.engine import accounts as account_rules
from gongji.errors import InputError
from gongji.ledger import members as M
from gongji.ledger.chart import Chart
from gongji.ledger.family import end_member_bindings
from gongji.ledger.journal import post
from gongji.ledger.schema import contributions, credits, entries, freezes, members, premiums
from gongji.model import MemberIn, has_account, retirement_start
from gongji.money import to_yuan
from gongji.policy.schema import Credit, Pack, PremiumFreeze, PremiumUse, Version
from gongji.terms import AccountPurpose, Beneficiary, CloseReason

BATCH = 200  # members per transaction in a crediting run
Progress = Callable[[int], None]


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def credit_due(
    pack: Pack, m: MemberIn, month: date, base: int | None, own: int | None = None
) -> tuple[int, Credit, str] | None:
    """What `month`'s credit is for member `m` under `pack`: (amount, rule node, the account
    it comes from), or None. Employees and flexible workers are credited a share of the
    month's contribution base from their own contribution (only once it is paid); retirees a
    standard amount from the pooling fund (engine.accounts computes it)."""
    version = account_rules.crediting_version(pack, month)
    if version is None:
        return None
    if not has_account(version, m):
        return None
    switch = account_rules.credit_switch(
        version.crediting,
        version.retirement.takes_effect,
        m.retirement_processed,
        retirement_start(pack, m),
    )
    klass = account_rules.credit_class(m.type, switch, month)
    credit = account_rules.credit_for(version.crediting, klass)
    if credit is None:
        return None
    amount = account_rules.monthly_credit(credit, base, own)
    if amount is None:
        return None
    source = Chart.premium if account_rules.from_contribution(credit) else Chart.fund
    return amount, credit, source.of(pack.region)


def credit_month(db: Engine, region: str, month: date, progress: Progress | None = None) -> dict:
    """Credit every active member of `region` for `month`; members already credited for it
    are left alone, so a run that stopped half-way is finished by running it again."""
    month = first_of_month(month)
    pack = policy.load_region(region)
    if account_rules.crediting_version(pack, month) is None:
        raise InputError("month", f"no {region} policy in force in {month:%Y-%m}")
    done = {"credited": 0, "amount": 0}
    for ids in _member_batches(db, region):
        with db.begin() as conn:
            for member_id in ids:
                amount = _credit_one(conn, pack, member_id, month)
                done["credited"] += amount > 0
                done["amount"] += amount
        if progress:
            progress(len(ids))
    return {
        "month": f"{month:%Y-%m}",
        "credited": done["credited"],
        "amount": to_yuan(done["amount"]),
    }


def _paid(conn: Connection, member_id: str, month: date) -> tuple[int | None, int | None]:
    """The month's contribution as recorded: its base and the member's own part (None, None
    while it is not paid)."""
    row = conn.execute(
        select(contributions.c.base, contributions.c.own).where(
            contributions.c.member_id == member_id, contributions.c.month == month
        )
    ).first()
    return (None, None) if row is None else (row.base, row.own)


def _credit_one(conn: Connection, pack: Pack, member_id: str, month: date) -> int:
    row = M.lock(conn, member_id)
    already = conn.execute(
        select(credits.c.id).where(
            credits.c.member_id == member_id, credits.c.month == month, credits.c.kind == "monthly"
        )
    ).first()
    if already:
        return 0
    due = credit_due(pack, MemberIn.model_validate(row.profile), month, *_paid(conn, row.id, month))
    if due is None or due[0] == 0:
        return 0
    amount, credit, source = due
    _credit(conn, row.id, month, "monthly", amount, credit, source)
    M.move_balance(conn, row, amount)
    return amount


def _credit(
    conn: Connection,
    member_id: str,
    month: date,
    kind: str,
    amount: int,
    credit: Credit,
    source: str,
) -> None:
    """The credit's journal entry and record; the caller moves the member's balance."""
    entry_id = post(
        conn,
        kind,
        f"{kind}:{member_id}:{month:%Y-%m}",
        [(Chart.account.of(member_id), amount), (source, -amount)],
    )
    conn.execute(
        insert(credits).values(
            member_id=member_id,
            month=month,
            kind=kind,
            amount=amount,
            rule=credit.rule_for(),
            entry_id=entry_id,
        )
    )


def back_credit(db: Engine, region: str, progress: Progress | None = None) -> dict:
    """Credit the difference wherever the standard in force for a month already credited
    is now higher than what was credited (JMS-10a: the provisional 62 yuan a month, topped
    up once the 2022 standard is set in the pack). Credits are never taken back; running it
    again credits nothing more."""
    pack = policy.load_region(region)
    done = {"members": 0, "amount": 0}
    for ids in _member_batches(db, region):
        with db.begin() as conn:
            for member_id in ids:
                amount = _back_credit_one(conn, pack, member_id)
                done["members"] += amount > 0
                done["amount"] += amount
        if progress:
            progress(len(ids))
    return {"members": done["members"], "amount": to_yuan(done["amount"])}


def _back_credit_one(conn: Connection, pack: Pack, member_id: str) -> int:
    row = M.lock(conn, member_id)
    m = MemberIn.model_validate(row.profile)
    credited = conn.execute(
        select(credits.c.month, func.sum(credits.c.amount))
        .where(credits.c.member_id == member_id)
        .group_by(credits.c.month)
        .order_by(credits.c.month)
    ).all()
    total = 0
    for month, paid_sum in credited:
        paid = int(paid_sum)  # PostgreSQL sums bigints as numeric
        due = credit_due(pack, m, month, *_paid(conn, member_id, month))
        top_up = 0 if due is None else account_rules.back_credit(due[0], paid)
        if top_up:
            _credit(conn, member_id, month, "back_credit", top_up, due[1], due[2])
            total += top_up
    if total:
        M.move_balance(conn, row, total)
    return total


def _member_batches(db: Engine, region: str) -> Iterator[list[str]]:
    with db.connect() as conn:
        ids = (
            conn.execute(
                select(members.c.id)
                .where(members.c.region == region, members.c.status == "active")
                .order_by(members.c.id)
            )
            .scalars()
            .all()
        )
    for i in range(0, len(ids), BATCH):
        yield ids[i : i + BATCH]


def pay_premium(
    db: Engine,
    op_id: str,
    member_id: str,
    amount: int,
    purpose: str,
    on: date,
    beneficiary: str | None = None,
    relative: str | None = None,
) -> dict:
    """Pay a premium from the account, for a purpose the region allows and someone it may be
    for (X-4; KF-17: residents' insurance for spouse, parents, children, the large-amount
    supplement for the member). `beneficiary` defaults to the member where the premium may
    be the member's, and is required otherwise; `relative` is the relative's id or name.
    Where the region freezes that premium (XSBN-26) the amount is frozen until it is
    transferred; otherwise it is paid at once."""
    with db.begin() as conn:
        if _done(conn, "premium", op_id):
            return {"op_id": op_id, "done": True}
        row = M.lock(conn, member_id)
        version = policy.load_region(row.region).version_on(on)
        if version is None:
            raise InputError("on", f"no {row.region} policy in force on {on}")
        wanted, use = _premium_use(version, row.region, purpose)
        who = _beneficiary(use, row.region, purpose, beneficiary)
        named = _relative(who, relative)
        _check_premium_amount(row, amount)
        frozen = account_rules.is_frozen(version.premium_freeze, wanted)
        target = Chart.frozen.of(member_id) if frozen else Chart.payable.of(purpose)
        moves = [(Chart.account.of(member_id), -amount), (target, amount)]
        entry_id = post(conn, "premium", op_id, moves, on=on)
        M.move_balance(conn, row, -amount)
        conn.execute(
            insert(premiums).values(
                member_id=member_id,
                op_id=op_id,
                purpose=purpose,
                beneficiary=who.value,
                relative=named,
                amount=amount,
                paid_on=on,
                rule=use.rule_for(),
                entry_id=entry_id,
            )
        )
        done = {"op_id": op_id, "purpose": purpose, "beneficiary": who.value}
        done |= {"relative": named} if named else {}
        if not frozen:
            return {**done, "paid": to_yuan(amount), "rule": use.rule_for()}
        return {
            **done,
            **_freeze(conn, version.premium_freeze, row.id, amount, purpose, on, entry_id),
        }


def _premium_use(version: Version, region: str, purpose: str) -> tuple[AccountPurpose, PremiumUse]:
    rule = version.account_use
    try:
        wanted = AccountPurpose(purpose)
    except ValueError:
        raise InputError("purpose", f"unknown purpose {purpose!r}") from None
    if not wanted.premium or wanted not in rule.allowed:
        raise InputError(
            "purpose",
            f"a {region} account may not pay for {purpose} ({rule.rule_for()} {rule.article})",
            "E_USE_NOT_ALLOWED",
        )
    return wanted, rule.premiums[wanted]


def _beneficiary(use: PremiumUse, region: str, purpose: str, given: str | None) -> Beneficiary:
    allowed = ", ".join(b.value for b in use.beneficiaries)
    cited = f"{use.rule_for()} {use.article}"
    if given is None:
        chosen = account_rules.default_beneficiary(use)
        if chosen is None:
            raise InputError(
                "beneficiary", f"required: a {region} {purpose} is for {allowed} ({cited})"
            )
        return chosen
    try:
        who = Beneficiary(given)
    except ValueError:
        known = ", ".join(Beneficiary)
        raise InputError("beneficiary", f"unknown beneficiary {given!r} ({known})") from None
    if who not in use.beneficiaries:
        raise InputError(
            "beneficiary",
            f"a {region} account pays {purpose} for {allowed} only, not the {who} ({cited})",
            "E_USE_NOT_ALLOWED",
        )
    return who


def _relative(who: Beneficiary, relative: str | None) -> str | None:
    """The relative's id or name, as given (kept for the record, not checked: a relative
    need not be a member here)."""
    named = (relative or "").strip() or None
    if named is None:
        return None
    if who is Beneficiary.member:
        raise InputError("relative", "only for a premium paid for a spouse, parent or child")
    if len(named) > 100:
        raise InputError("relative", "at most 100 characters")
    return named


def _check_premium_amount(row, amount: int) -> None:
    if amount <= 0:
        raise InputError("amount", "must be more than zero")
    if amount > row.account_balance:
        raise InputError(
            "amount",
            f"more than the balance ({to_yuan(amount)} > {to_yuan(row.account_balance)})",
            "E_INSUFFICIENT",
        )


def _freeze(
    conn: Connection,
    freeze: PremiumFreeze,
    member_id: str,
    amount: int,
    purpose: str,
    on: date,
    entry_id: int,
) -> dict:
    """XSBN-26 (二): the premium's amount is frozen until it is transferred by the pack's day
    of the next month."""
    due = account_rules.freeze_due(freeze, on)
    conn.execute(
        update(members).where(members.c.id == member_id).values(frozen=members.c.frozen + amount)
    )
    conn.execute(
        insert(freezes).values(
            member_id=member_id,
            amount=amount,
            purpose=purpose,
            frozen_on=on,
            due=due,
            entry_id=entry_id,
        )
    )
    return {"frozen": to_yuan(amount), "due": due.isoformat(), "rule": freeze.rule_for()}


def settle_freezes(db: Engine, today: date) -> dict:
    """XSBN-26: transfer every amount frozen before this month (the monthly run, by the
    transfer day)."""
    with db.begin() as conn:
        pending = conn.execute(
            select(freezes).where(
                freezes.c.outcome.is_(None), freezes.c.frozen_on < first_of_month(today)
            )
        ).all()
        for f in pending:
            _end_freeze(conn, f, "transferred", Chart.payable.of(f.purpose), on=today)
    return {"transferred": len(pending), "amount": to_yuan(sum(f.amount for f in pending))}


def release_freeze(db: Engine, freeze_id: int) -> dict:
    """The premium was not collected: the frozen amount goes back to the account."""
    with db.begin() as conn:
        f = conn.execute(select(freezes).where(freezes.c.id == freeze_id)).first()
        if f is None:
            raise InputError("freeze_id", f"no freeze {freeze_id}", "E_NOT_FOUND")
        if f.outcome is not None:
            raise InputError("freeze_id", f"freeze {freeze_id} is {f.outcome} already", "E_DONE")
        row = M.lock(conn, f.member_id)
        _end_freeze(conn, f, "released", Chart.account.of(f.member_id))
        M.move_balance(conn, row, f.amount)
    return {"freeze_id": freeze_id, "released": to_yuan(f.amount)}


def _end_freeze(conn: Connection, f, outcome: str, to: str, on: date | None = None) -> None:
    moves = [(Chart.frozen.of(f.member_id), -f.amount), (to, f.amount)]
    entry_id = post(conn, outcome, f"freeze:{f.id}", moves, on=on)
    conn.execute(
        update(members)
        .where(members.c.id == f.member_id)
        .values(frozen=members.c.frozen - f.amount)
    )
    conn.execute(
        update(freezes)
        .where(freezes.c.id == f.id)
        .values(outcome=outcome, outcome_entry_id=entry_id)
    )


def close_account(db: Engine, member_id: str, reason: str, on: date) -> dict:
    """The balance leaves in one sum — moved with the member (transfer) or paid to the
    member or the heirs — and the member is closed: nothing more is settled or credited."""
    with db.begin() as conn:
        row = M.lock(conn, member_id)
        version = (
            policy.load_region(row.region).version_on(on)
            or policy.load_region(row.region).versions[-1]
        )
        rule = version.closing
        try:
            why = CloseReason(reason)
        except ValueError:
            raise InputError("reason", f"unknown reason {reason!r}") from None
        if why not in rule.reasons:
            raise InputError(
                "reason",
                f"{row.region} has no {reason} of an account ({rule.rule_for()} {rule.article})",
                "E_NOT_IN_POLICY",
            )
        if row.frozen:
            raise InputError(
                "member_id",
                f"{to_yuan(row.frozen)} is frozen for a premium; settle it first",
                "E_FROZEN",
            )
        balance = row.account_balance
        target = (
            Chart.transfer.of(member_id)
            if why is CloseReason.transfer
            else Chart.payout.of(member_id)
        )
        post(
            conn,
            "close",
            f"close:{member_id}",
            [(Chart.account.of(member_id), -balance), (target, balance)],
            on=on,
        )
        M.move_balance(conn, row, -balance)
        conn.execute(
            update(members)
            .where(members.c.id == member_id)
            .values(status="closed", closed_to=target)
        )
        end_member_bindings(conn, member_id, on)  # family use of and by the account ends
    return {
        "member_id": member_id,
        "reason": reason,
        "paid": to_yuan(balance),
        "rule": rule.rule_for(),
    }


def _done(conn: Connection, kind: str, op_id: str) -> bool:
    return (
        conn.execute(
            select(entries.c.id).where(entries.c.kind == kind, entries.c.txn_id == op_id)
        ).first()
        is not None
    )
