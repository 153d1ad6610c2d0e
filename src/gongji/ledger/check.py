"""`gongji db check`: recompute what the ledger keeps from what it recorded.

- every journal entry's legs sum to zero;
- each kept balance equals the sum of its account's legs, and none is below zero;
- each member's state equals the engine replaying the member's active settlements in order
  from the opening state, and every stored result equals the replayed one.
"""

from sqlalchemy import Engine, func, select

from gongji import engine, policy
from gongji.calculate import MemberIn, VisitIn, engine_member, engine_visit, sample_catalogue
from gongji.ledger.schema import balances, legs, members, settlements
from gongji.money import to_yuan


def problems(db: Engine) -> list[str]:
    found: list[str] = []
    with db.connect() as conn:
        unbalanced = conn.execute(
            select(legs.c.entry_id, func.sum(legs.c.amount))
            .group_by(legs.c.entry_id)
            .having(func.sum(legs.c.amount) != 0)
        ).all()
        found += [f"entry {e}: legs sum to {s}, not 0" for e, s in unbalanced]
        sums = dict(
            conn.execute(
                select(legs.c.account, func.sum(legs.c.amount))
                .where(legs.c.account.like("account:%"))
                .group_by(legs.c.account)
            ).all()
        )
        for account, balance in conn.execute(select(balances.c.account, balances.c.balance)):
            if sums.get(account, 0) != balance:
                found.append(f"{account}: balance {balance}, legs sum to {sums.get(account, 0)}")
            if balance < 0:
                found.append(f"{account}: below zero ({balance})")
        for member in conn.execute(select(members)).all():
            active = conn.execute(
                select(settlements)
                .where(
                    settlements.c.member_id == member.id, settlements.c.cancel_entry_id.is_(None)
                )
                .order_by(settlements.c.id)
            ).all()
            found += _replay(member, active)
    return found


def _replay(member, active) -> list[str]:
    pack = policy.load_region(member.region)
    profile = MemberIn.model_validate(member.profile)
    state = engine.YearState.new(member.opening_balance)
    for s in active:
        if list(state.slots) != list(s.state_before):
            return [f"settlement {s.txn_id}: state before differs from the replay"]
        v = VisitIn.model_validate(s.request["visit"])
        em = engine_member(pack, profile, v.time.date())
        visit = engine_visit(v, sample_catalogue() if v.items else None)
        result, state = engine.settle(engine.tables_on(pack, v.time.date()), em, state, visit)
        for key in ("fund_pay", "account_pay", "cash_pay"):
            if str(to_yuan(getattr(result, key))) != s.result[key]:
                return [
                    f"settlement {s.txn_id}: {key} {s.result[key]} but replay gives "
                    f"{to_yuan(getattr(result, key))}"
                ]
    if list(state.slots) != list(member.state):
        return [f"member {member.id}: stored state differs from the replay of its settlements"]
    return []
