"""`gongji db check` (ledger/check.py `problems`): seconds a settlement as members' histories
grow, beside reading the same rows.

    python benchmarks/check.py [--members 20] [--sizes 50,100,200,400] [--repeat 3]

For each size n: a fresh SQLite store (kaifeng) with --members employees, each settled n
visits of 2023 in time order (`settle_many`, 100 a commit), one in ten cancelled as it goes.
Timed, each --repeat times, medians printed:
- the check: `check.problems(db)`, which must find nothing;
- the baseline: the rows the check reads (members, settlements, their legs), read with a
  plain SELECT each — the floor.
A check that re-sums each member's earlier settlements for every settlement costs more a
settlement as n grows (the square of a member's settlements); a linear one costs the same.
"""

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from gongji.ledger import check, registry, store
from gongji.ledger.members import add_member
from gongji.ledger.schema import legs, members, settlements
from gongji.ledger.settlement import cancel, settle_many

START = datetime(2023, 1, 2, 9)


def build(db, n_members: int, n: int) -> int:
    """The store: each member settled n visits in time order, one in ten cancelled."""
    store.upgrade(db)
    with db.begin() as conn:
        registry.add_institution(
            conn, {"code": "H0", "name": "H0", "region": "kaifeng", "level": "level2"}
        )
    for m in range(n_members):
        add_member(db, "kaifeng", {"id": f"M{m}", "type": "employee", "account_balance": "800.00"})
    step = timedelta(days=360) / n  # all in 2023: a cancellation after a year closes is refused
    requests = [
        (f"T{m}-{i}", f"M{m}", visit(m, i, START + i * step))
        for i in range(n)
        for m in range(n_members)
    ]
    for b in range(0, len(requests), 100):
        settle_many(db, requests[b : b + 100])
        for txn, _, _ in requests[b : b + 100 : 10]:
            cancel(db, txn)
    return len(requests)


def visit(m: int, i: int, when: datetime) -> dict:
    total = 20 + (m * 7 + i * 13) % 180
    return {"id": f"V{m}-{i}", "time": when.isoformat(), "institution": "H0",
            "level": "level2", "total": f"{total}.00"}  # fmt: skip


def read_rows(db) -> int:
    """What the check reads, read: every member, settlement and settlement's leg, a query each."""
    with db.connect() as conn:
        joined = legs.join(settlements, legs.c.entry_id == settlements.c.entry_id)
        return sum(
            len(conn.execute(query).all())
            for query in (select(members), select(settlements), select(legs).select_from(joined))
        )


def timed(fn, *args) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=20)
    ap.add_argument("--sizes", default="50,100,200,400")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"{'settlements a member':>21} {'in all':>7} {'check s':>8} {'µs a settlement':>16}"
          f" {'read s':>7} {'check / read':>13}")  # fmt: skip
    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            db = store.connect(f"sqlite:///{Path(tmp) / 'check.db'}")
            total = build(db, args.members, n)
            checks, reads = [], []
            for _ in range(args.repeat):
                seconds, found = timed(check.problems, db)
                if found:
                    raise SystemExit(f"the check found problems: {found[:3]}")
                checks.append(seconds)
                reads.append(timed(read_rows, db)[0])
            db.dispose()
        c, r = statistics.median(checks), statistics.median(reads)
        print(f"{n:>21,} {total:>7,} {c:>8.2f} {c / total * 1e6:>16,.0f} {r:>7.3f} {c / r:>13.1f}")


if __name__ == "__main__":
    main()
