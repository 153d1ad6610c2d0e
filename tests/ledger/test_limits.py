"""The store's shared counters (ledger/limits.py), on SQLite and PostgreSQL: a window and
its count per key, each hit counted once however many connections hit at once."""

import threading

from sqlalchemy import func, select

from gongji.ledger import limits
from gongji.ledger.schema import limits as table


def hit(db, name: str, n: int, now: float, window: float = 60) -> tuple[int, float]:
    with db.begin() as conn:
        return limits.hit(conn, name, n, now, window)


def test_a_window_counts_from_its_first_hit_until_it_ends(db):
    assert hit(db, "k", 1, 1000) == (1, 1060)
    assert hit(db, "k", 2, 1030) == (3, 1060)
    assert hit(db, "other", 1, 1030) == (1, 1090)  # each key its own window
    assert hit(db, "k", 1, 1060) == (1, 1120)  # the window is over: a new one starts
    # a hit from a clock behind the window's start counts in the window the store has
    assert hit(db, "k", 1, 1050) == (2, 1120)


def test_concurrent_hits_are_each_counted_once(db):
    seen: list[int] = []

    def many() -> None:
        for _ in range(20):
            seen.append(hit(db, "k", 1, 1000)[0])

    threads = [threading.Thread(target=many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(1, 161))  # no count seen twice, none lost


def test_give_back_and_prune(db):
    hit(db, "a", 3, 1000)
    hit(db, "b", 1, 1000, window=10)
    with db.begin() as conn:
        limits.give_back(conn, "a", 1010)
        limits.give_back(conn, "b", 1010)  # its window is over: nothing to give back
        limits.prune(conn, 1030)  # b's window ended at 1010, a's runs until 1060
    with db.connect() as conn:
        rows = conn.execute(select(table.c.name, table.c.hits)).all()
        assert [tuple(r) for r in rows] == [("a", 2)]
    with db.begin() as conn:
        limits.prune(conn, 2000)
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar() == 0
