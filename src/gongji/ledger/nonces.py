"""Nonces the service has seen, in the store that every worker process shares, so that a
signed request (service/signed.py) replayed to another worker, another machine behind the
load balancer, or after a restart is refused as on the worker that took it first.

Claims are made in batches, one statement a batch, atomic on both stores (INSERT ... VALUES
... ON CONFLICT DO UPDATE ... WHERE ... RETURNING: PostgreSQL, SQLite 3.35 and later): of any
number of concurrent claims of one key, exactly one gets its row back. A key is kept `keep`
seconds; one claimed again after that is taken afresh (its request's timestamp is out of the
window by then: the caller keeps keys long enough for that)."""

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from gongji.ledger.schema import nonces

PRUNED = 10_000  # expired keys removed at most by one prune


def claim(conn: Connection, keys: list[str], now: float, keep: float) -> set[str]:
    """Of `keys` (distinct: one statement may not touch a row twice), those that are new
    or whose time was over; the others were claimed already."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    new = dialect.insert(nonces).values([{"key": key, "until": now + keep} for key in keys])
    statement = new.on_conflict_do_update(
        index_elements=[nonces.c.key],
        set_={"until": new.excluded.until},
        where=nonces.c.until <= now,  # kept still: nothing updated, no row returned
    ).returning(nonces.c.key)
    return set(conn.execute(statement).scalars())


def prune(conn: Connection, now: float) -> int:
    """Forget up to PRUNED keys whose time is over; rows another transaction holds are
    skipped, not waited for (concurrent prunes and claims never deadlock on PostgreSQL)."""
    stale = (
        select(nonces.c.key)
        .where(nonces.c.until <= now)
        .limit(PRUNED)
        .with_for_update(skip_locked=True)
    )
    return conn.execute(delete(nonces).where(nonces.c.key.in_(stale))).rowcount
