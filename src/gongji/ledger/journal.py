"""Posting balanced entries. History is never edited: a correction is a new entry."""

from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from gongji.ledger.schema import balances, entries, legs

# Accounts whose balance is kept in step (and locked with the member): personal accounts.
# Others (fund, institution, cash) are read as sums of their legs; no hot rows to lock.
KEPT = ("account:",)


class LedgerError(RuntimeError):
    """A broken invariant: a bug, never bad input."""


def post(
    conn: Connection,
    kind: str,
    txn_id: str,
    moves: list[tuple[str, int]],
    reverses: int | None = None,
) -> int:
    """Write one entry whose legs sum to zero; return its id."""
    moves = [(account, amount) for account, amount in moves if amount]
    if sum(amount for _, amount in moves) != 0:
        raise LedgerError(f"unbalanced entry {kind} {txn_id}: {moves}")
    entry_id = conn.execute(
        insert(entries)
        .values(kind=kind, txn_id=txn_id, reverses=reverses, created_at=datetime.now())
        .returning(entries.c.id)
    ).scalar_one()
    if moves:
        conn.execute(
            insert(legs), [{"entry_id": entry_id, "account": a, "amount": m} for a, m in moves]
        )
    for account, amount in moves:
        if account.startswith(KEPT):
            _add_to_balance(conn, account, amount)
    return entry_id


def _add_to_balance(conn: Connection, account: str, amount: int) -> None:
    done = conn.execute(
        update(balances)
        .where(balances.c.account == account)
        .values(balance=balances.c.balance + amount)
    ).rowcount
    if not done:
        conn.execute(insert(balances).values(account=account, balance=amount))
    balance = conn.execute(
        select(balances.c.balance).where(balances.c.account == account)
    ).scalar_one()
    if balance < 0:
        raise LedgerError(f"{account} would go below zero ({balance})")


def legs_of(conn: Connection, entry_id: int) -> list[tuple[str, int]]:
    rows = conn.execute(select(legs.c.account, legs.c.amount).where(legs.c.entry_id == entry_id))
    return [(r.account, r.amount) for r in rows]
