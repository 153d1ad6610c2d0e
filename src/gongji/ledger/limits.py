"""Counters in the store that every worker process shares: the requests a credential made in
its current window (the service's rate limit), the logins tried for a username or from a
client in theirs (the console's throttle). In the store, not in a process, so that workers
and machines behind a load balancer count together and a restart forgets nothing.

A key's window starts with its first hit after the previous window ended and lasts `window`
seconds. A hit is one statement, atomic on both stores (INSERT ... ON CONFLICT DO UPDATE ...
RETURNING: PostgreSQL, SQLite 3.35 and later): concurrent hits from any number of processes
are each counted once and each sees its own count, so no check-then-act race is possible.

`now` is the caller's clock (Unix seconds): machines sharing a store keep their clocks
synchronised (NTP). A hit from a clock behind the store's window counts in that window."""

from sqlalchemy import Connection, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gongji.ledger.schema import limits

PRUNED = 100  # expired keys removed at most by one prune


def hit(conn: Connection, name: str, n: int, now: float, window: float) -> tuple[int, float]:
    """Count `n` hits of `name` at `now`: (the window's count with them, when it ends)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    new = dialect.insert(limits).values(name=name, until=now + window, hits=n)
    ended = limits.c.until <= now  # the stored row's window: over, so this hit starts one
    statement = new.on_conflict_do_update(
        index_elements=[limits.c.name],
        set_={
            "hits": case((ended, new.excluded.hits), else_=limits.c.hits + n),
            "until": case((ended, new.excluded.until), else_=limits.c.until),
        },
    ).returning(limits.c.hits, limits.c.until)
    row = conn.execute(statement).one()
    return row.hits, row.until


def give_back(conn: Connection, name: str, now: float) -> None:
    """Take back one hit of `name`'s window still running (a login that succeeded)."""
    conn.execute(
        update(limits)
        .where(limits.c.name == name, limits.c.until > now, limits.c.hits > 0)
        .values(hits=limits.c.hits - 1)
    )


def prune(conn: Connection, now: float) -> None:
    """Forget some keys whose window is over (a key per username or client tried must not
    pile up). Rows another transaction holds are skipped, not waited for: concurrent prunes
    and hits never deadlock on PostgreSQL (SQLite has one writer at a time anyway)."""
    stale = (
        select(limits.c.name)
        .where(limits.c.until <= now)
        .limit(PRUNED)
        .with_for_update(skip_locked=True)
    )
    conn.execute(delete(limits).where(limits.c.name.in_(stale)))
