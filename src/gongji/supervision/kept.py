"""Sums over the journal, kept between calls and brought up to date with what was posted
since: a report read again and again (the console's fund page, a month's statements) sums
only the new entries, not the whole history each time.

Exact because the journal is append-only: an entry, once posted, never changes, and the key
it is summed under (the month of its visit or credit, its institution, its region) is fixed
when it is posted; a correction is a new entry, summed when it comes. Kept per process; a
store made anew under the same URL (its entry ids start again) is noticed and summed anew.

Entry ids are handed out before commit, so an entry with a smaller id can become visible
after one with a larger id (two PostgreSQL transactions in flight). Only entries posted at
least SETTLED ago, and before the oldest transaction still open that has written began, are
kept; the newer ones are summed afresh on every call. Entry times are the posting process's
clock: the processes that post and the one that reads must agree within CLOCKS.
"""

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, case, func, select, text

from gongji.ledger.schema import entries

# (conn, after, through) -> rows of (*key, *values): the entries with after < id <= through
Summer = Callable[[Connection, int, int], Iterable[tuple]]
SETTLED = timedelta(seconds=30)
CLOCKS = timedelta(seconds=5)  # the service's and the database's clocks may differ this much


class _Kept:
    def __init__(self) -> None:
        self.through, self.posted = 0, None
        self.sums: dict[tuple, list[int]] = {}


_KEPT: dict[tuple, _Kept] = {}
_LOCK = threading.Lock()


def kept_sums(db: Engine, name: tuple, width: int, summer: Summer) -> dict[tuple, list[int]]:
    """The sums `summer` gives over the whole journal, by key (the first `width` columns of
    its rows; the rest are values, added column by column). `name` tells reports apart."""
    key = (db.url.render_as_string(hide_password=False), *name)
    with _LOCK, db.connect() as conn:
        kept = _KEPT.setdefault(key, _Kept())
        if kept.through and _posted(conn, kept.through) != kept.posted:
            kept = _KEPT[key] = _Kept()
        stable, newest = _since(conn, kept.through)
        if stable > kept.through:
            _add(kept.sums, summer(conn, kept.through, stable), width)
            kept.through, kept.posted = stable, _posted(conn, stable)
        sums = {k: list(v) for k, v in kept.sums.items()}
        if newest > stable:  # the last moments: summed now, not kept
            _add(sums, summer(conn, stable, newest), width)
        return sums


def _since(conn: Connection, through: int) -> tuple[int, int]:
    """Of the entries after `through`: the last id of those safe to keep, and the last id of
    all. Safe: posted at least SETTLED ago and, on PostgreSQL, before the oldest transaction
    still open that has written (a long import's entries become visible only at its commit;
    SQLite has one writer at a time, so there its entries are visible in id order)."""
    cutoff = datetime.now() - SETTLED
    oldest = _oldest_writer(conn)
    if oldest is not None:
        cutoff = min(cutoff, oldest - CLOCKS)
    e = entries.c
    stable, newest = conn.execute(
        select(func.max(case((e.created_at < cutoff, e.id))), func.max(e.id)).where(e.id > through)
    ).one()
    return stable or through, newest or through


def _oldest_writer(conn: Connection) -> datetime | None:
    """When the oldest other open transaction that has written began (local time)."""
    if conn.dialect.name != "postgresql":
        return None
    began = conn.execute(
        text(
            "SELECT min(xact_start) FROM pg_stat_activity WHERE backend_xid IS NOT NULL"
            " AND pid <> pg_backend_pid() AND datname = current_database()"
        )
    ).scalar()
    return None if began is None else began.astimezone().replace(tzinfo=None)


def _add(sums: dict, rows: Iterable[tuple], width: int) -> None:
    for row in rows:
        values = [int(v or 0) for v in row[width:]]
        old = sums.get(tuple(row[:width]))
        sums[tuple(row[:width])] = (
            [a + b for a, b in zip(old, values, strict=True)] if old else values
        )


def forget() -> None:
    """Drop every kept sum (tests compare with a summing from scratch)."""
    with _LOCK:
        _KEPT.clear()


def _posted(conn: Connection, entry_id: int):
    return conn.execute(select(entries.c.created_at).where(entries.c.id == entry_id)).scalar()
