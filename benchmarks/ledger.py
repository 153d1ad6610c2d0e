"""Durable settlements/s on SQLite and PostgreSQL, beside each database's raw baselines.

    python benchmarks/ledger.py [--settlements 3000] [--batch 100] [--clients 2] [--repeat 3]

Each round measures, in the same run, on fresh databases and with the same count of
--settlements (or transactions) on every side:
- baseline, one per commit: the database's own loop of one small write transaction per
  settlement; gongji settling one visit per transaction is set beside it;
- baseline, batched: the same rows written --batch to a commit (one INSERT + one UPDATE a
  row, sent together), beside gongji with group commit (`settle_many`, --batch settlements
  per durable commit, as a service does under load).
Medians over the rounds are printed with their ratio to the baseline of the same shape;
ledger invariants (`db check`) are verified on every store afterwards.

SQLite (WAL, synchronous=FULL) from one process: the baselines are plain sqlite3 loops of
one INSERT + one UPDATE a row under the same settings. PostgreSQL: --clients processes each
settle (or write) for their own members; the one-per-commit baseline is pgbench's built-in
TPC-B-like script with as many clients, --settlements transactions in all (`-t`, not a
duration); the batched baseline is SQLAlchemy over psycopg, as the ledger is.
"""

import argparse
import multiprocessing
import os
import re
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from gongji.errors import InputError
from gongji.ledger import check, registry, store
from gongji.ledger.members import add_member
from gongji.ledger.settlement import settle_many

PG_ADMIN = os.environ.get("GONGJI_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MEMBERS = 200


def visit(i: int) -> dict:
    minute = i // MEMBERS
    return {
        "id": f"B{i}",
        "time": f"2023-03-{1 + minute // 1440:02d}T{minute // 60 % 24:02d}:{minute % 60:02d}:00",
        "institution": f"H{i % 7}",
        "total": f"{40 + i % 9 * 15}.00",
    }


def prepare(db) -> None:
    store.upgrade(db)
    with db.begin() as conn:
        for h in range(7):
            registry.add_institution(
                conn, {"code": f"H{h}", "name": f"H{h}", "region": "kaifeng", "level": "level2"}
            )
    for m in range(MEMBERS):
        add_member(db, "kaifeng", {"id": f"M{m}", "type": "employee", "account_balance": "800.00"})


def settle_range(url: str, batch: int, start: int, count: int, step: int) -> None:
    """Settle visits start, start+step, ... in transactions of `batch` settlements each."""
    db = store.connect(url)
    numbers = list(range(start, start + count * step, step))
    for b in range(0, len(numbers), batch):
        chunk = numbers[b : b + batch]
        answers = settle_many(db, [(f"T{i}", f"M{i % MEMBERS}", visit(i)) for i in chunk])
        refused = [a for a in answers if isinstance(a, InputError)]
        if refused:
            raise SystemExit(f"refused: {refused[0]}")
    db.dispose()


def timed(target, args: tuple, n: int, clients: int) -> float:
    """Rows (or settlements) a second: `clients` processes run target(*args, client, count,
    step), each its share of n, the time from the first start to the last exit."""
    per_client = n // clients
    procs = [
        multiprocessing.Process(target=target, args=(*args, c, per_client, clients))
        for c in range(clients)
    ]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode for p in procs):
        raise SystemExit("a settling process failed")
    return per_client * clients / (time.perf_counter() - t0)


def sqlite_baseline(path: Path, n: int, batch: int) -> float:
    """One INSERT + one UPDATE a row, `batch` rows a committed transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE log(id INTEGER PRIMARY KEY, member TEXT, amount INTEGER)")
    conn.execute("CREATE TABLE acct(id INTEGER PRIMARY KEY, balance INTEGER)")
    conn.executemany("INSERT INTO acct VALUES (?, 0)", [(m,) for m in range(MEMBERS)])
    t0 = time.perf_counter()
    for b in range(0, n, batch):
        rows = range(b, min(b + batch, n))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO log(member, amount) VALUES (?, ?)", [(f"M{i}", i) for i in rows]
        )
        conn.executemany(
            "UPDATE acct SET balance = balance + ? WHERE id = ?", [(i, i % MEMBERS) for i in rows]
        )
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - t0)
    conn.close()
    return rate


def sqlite_round(n: int, batch: int, problems: list[str]) -> tuple[float, ...]:
    """(baseline one per commit, gongji one per commit, baseline batched, gongji batched)."""
    with tempfile.TemporaryDirectory() as tmp:
        rates = []
        for mode, size in (("single", 1), ("group", batch)):
            rates.append(sqlite_baseline(Path(tmp) / f"raw-{mode}.db", n, size))
            url = f"sqlite:///{Path(tmp) / f'{mode}.db'}"
            db = store.connect(url)
            prepare(db)
            rates.append(timed(settle_range, (url, size), n, 1))
            problems += check.problems(db)
            db.dispose()
    return tuple(rates)


def pg_write_range(url: str, batch: int, start: int, count: int, step: int) -> None:
    """The batched baseline's client: rows start, start+step, ... `batch` a transaction."""
    db = create_engine(url)
    numbers = list(range(start, start + count * step, step))
    insert = text("INSERT INTO log(member, amount) VALUES (:member, :amount)")
    update = text("UPDATE acct SET balance = balance + :amount WHERE id = :id")
    for b in range(0, len(numbers), batch):
        chunk = numbers[b : b + batch]
        with db.begin() as conn:
            conn.execute(insert, [{"member": f"M{i}", "amount": i} for i in chunk])
            conn.execute(update, [{"amount": i, "id": i % MEMBERS} for i in chunk])
    db.dispose()


def pg_batched(url: str, n: int, clients: int, batch: int) -> float:
    db = create_engine(url)
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE log(id bigserial PRIMARY KEY, member text, amount bigint)"))
        conn.execute(text("CREATE TABLE acct(id int PRIMARY KEY, balance bigint NOT NULL)"))
        conn.execute(text(f"INSERT INTO acct SELECT g, 0 FROM generate_series(0, {MEMBERS - 1}) g"))
    db.dispose()
    return timed(pg_write_range, (url, batch), n, clients)


def postgres_round(n: int, clients: int, batch: int, problems: list[str]) -> tuple[float, ...]:
    """(pgbench one per commit, gongji one per commit, baseline batched, gongji batched)."""
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    rates = []
    for mode in ("pgbench", "single", "batched", "group"):
        name = f"gongji_bench_{mode}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        try:
            if mode == "pgbench":
                rates.append(pgbench(name, n // clients, clients))
            elif mode == "batched":
                rates.append(pg_batched(url, n, clients, batch))
            else:
                size = 1 if mode == "single" else batch
                db = store.connect(url)
                prepare(db)
                rates.append(timed(settle_range, (url, size), n, clients))
                problems += check.problems(db)
                db.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()
    return tuple(rates)


def pgbench(database: str, per_client: int, clients: int) -> float:
    """pgbench's TPC-B-like script: `per_client` transactions from each of `clients`."""
    conn = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(
        ["pgbench", *conn, "-i", "-q", "-s", "1", database], check=True, capture_output=True
    )
    out = subprocess.run(
        ["pgbench", *conn, "-c", str(clients), "-j", str(clients), "-t", str(per_client), database],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(re.search(r"tps = ([0-9.]+)", out).group(1))


def report(name: str, rounds: list[tuple[float, ...]], single_base: str, batch: int) -> None:
    base, single, batched, group = (statistics.median(r[i] for r in rounds) for i in range(4))
    ratios = [statistics.median(r[i] / r[i - 1] for r in rounds) for i in (1, 3)]
    print(f"{name:<11} baseline {base:7.0f} tx/s, one per commit ({single_base})")
    print(f"{'':<11} gongji   {single:7.0f} settlements/s, one per commit   ratio {ratios[0]:.2f}")
    print(f"{'':<11} baseline {batched:7.0f} rows/s, {batch} per commit (insert + update a row)")
    print(
        f"{'':<11} gongji   {group:7.0f} settlements/s, {batch} per commit   ratio {ratios[1]:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settlements", type=int, default=3000, help="a side, every round")
    ap.add_argument("--batch", type=int, default=100, help="settlements per group commit")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported")
    args = ap.parse_args()
    n = args.settlements // args.clients * args.clients
    print(f"{n} settlements (rows, transactions) a side, median of {args.repeat} rounds")
    problems: list[str] = []
    lite = [sqlite_round(n, args.batch, problems) for _ in range(args.repeat)]
    report("sqlite", lite, "sqlite3 insert + update", args.batch)
    pg = [postgres_round(n, args.clients, args.batch, problems) for _ in range(args.repeat)]
    report("postgresql", pg, f"pgbench TPC-B, {args.clients} clients", args.batch)
    if problems:
        print(f"PROBLEMS: {problems[:5]}")
        raise SystemExit(1)
    print("invariants hold on every store")


if __name__ == "__main__":
    main()
