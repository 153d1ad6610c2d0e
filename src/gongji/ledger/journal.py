"""Posting balanced entries. History is never edited: a correction is a new entry that
points at the one it reverses."""

from datetime import date, datetime

from sqlalchemy import Connection, insert, select

from gongji.ledger.schema import entries, legs

_INSERT_ENTRY = insert(entries).returning(entries.c.id)
_INSERT_LEGS = insert(legs)


class LedgerError(RuntimeError):
    """A broken invariant: a bug, never bad input. The transaction is rolled back."""


def post(
    conn: Connection,
    kind: str,
    txn_id: str,
    moves: list[tuple[str, int]],
    reverses: int | None = None,
    on: date | None = None,
) -> int:
    """Write one entry whose legs sum to zero; return its id. Zero legs are left out.
    `on` is the operation's business date, kept beside the time it is recorded.

    The members' balance columns are the caller's to keep in step (in the same
    transaction); `gongji db check` recomputes them from the legs."""
    moves = balanced(kind, txn_id, moves)
    entry_id = conn.execute(
        _INSERT_ENTRY,
        {
            "kind": kind,
            "txn_id": txn_id,
            "reverses": reverses,
            "created_at": datetime.now(),
            "business_date": on,
        },
    ).scalar_one()
    if moves:
        conn.execute(
            _INSERT_LEGS, [{"entry_id": entry_id, "account": a, "amount": m} for a, m in moves]
        )
    return entry_id


def balanced(kind: str, txn_id: str, moves: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The entry's non-zero legs, which must sum to zero."""
    moves = [(account, amount) for account, amount in moves if amount]
    if sum(amount for _, amount in moves) != 0:
        raise LedgerError(f"unbalanced entry {kind} {txn_id}: {moves}")
    return moves


def legs_of(conn: Connection, entry_id: int) -> list[tuple[str, int]]:
    rows = conn.execute(select(legs.c.account, legs.c.amount).where(legs.c.entry_id == entry_id))
    return [(r.account, r.amount) for r in rows]
