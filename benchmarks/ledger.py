"""Durable settlements/s on SQLite and PostgreSQL, beside each database's raw baseline.

    python benchmarks/ledger.py [--settlements 2000] [--seconds 10] [--clients 2]

SQLite: gongji settles one visit per transaction (WAL, synchronous=FULL) from one process;
the baseline is a plain sqlite3 loop of one INSERT + one UPDATE per committed transaction
under the same settings. PostgreSQL: `--clients` processes settle for their own members;
the baseline is pgbench's built-in TPC-B-like script with the same number of clients, on a
fresh database in the same run. Ledger invariants (`db check`) are verified afterwards.
"""

import argparse
import multiprocessing
import os
import re
import sqlite3
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from gongji.ledger import check, store
from gongji.ledger.members import add_member
from gongji.ledger.settlement import settle

PG_ADMIN = os.environ.get("GONGJI_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MEMBERS = 200


def visit(i: int) -> dict:
    minute = i // MEMBERS
    return {
        "id": f"B{i}",
        "time": f"2023-03-{1 + minute // 1440:02d}T{minute // 60 % 24:02d}:{minute % 60:02d}:00",
        "institution": f"H{i % 7}",
        "level": "level2",
        "total": f"{40 + i % 9 * 15}.00",
    }


def add_members(db, prefix: str) -> None:
    for m in range(MEMBERS):
        add_member(
            db, "kaifeng", {"id": f"{prefix}{m}", "type": "employee", "account_balance": "800.00"}
        )


def settle_range(url: str, prefix: str, start: int, count: int, step: int) -> None:
    db = store.connect(url)
    for i in range(start, start + count * step, step):
        settle(db, f"{prefix}T{i}", f"{prefix}{i % MEMBERS}", visit(i))


def sqlite_baseline(path: Path, n: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE log(id INTEGER PRIMARY KEY, member TEXT, amount INTEGER)")
    conn.execute("CREATE TABLE acct(id INTEGER PRIMARY KEY, balance INTEGER)")
    conn.executemany("INSERT INTO acct VALUES (?, 0)", [(m,) for m in range(MEMBERS)])
    t0 = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO log(member, amount) VALUES (?, ?)", (f"M{i}", i))
        conn.execute("UPDATE acct SET balance = balance + ? WHERE id = ?", (i, i % MEMBERS))
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - t0)
    conn.close()
    return rate


def bench_sqlite(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = sqlite_baseline(Path(tmp) / "raw.db", n)
        url = f"sqlite:///{Path(tmp) / 'gongji.db'}"
        db = store.connect(url)
        store.upgrade(db)
        add_members(db, "M")
        t0 = time.perf_counter()
        settle_range(url, "M", 0, n, 1)
        rate = n / (time.perf_counter() - t0)
        problems = check.problems(db)
    report("sqlite", rate, base, "sqlite3 insert+update loop", problems)


def bench_postgres(n: int, seconds: int, clients: int) -> None:
    name = f"gongji_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        base = pgbench(name, seconds, clients)
        db = store.connect(url)
        store.upgrade(db)
        add_members(db, "M")
        per_client = n // clients
        procs = [
            multiprocessing.Process(target=settle_range, args=(url, "M", c, per_client, clients))
            for c in range(clients)
        ]
        t0 = time.perf_counter()
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        rate = per_client * clients / (time.perf_counter() - t0)
        problems = check.problems(db)
        db.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    report("postgresql", rate, base, f"pgbench TPC-B, {clients} clients", problems)


def pgbench(database: str, seconds: int, clients: int) -> float:
    conn = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(
        ["pgbench", *conn, "-i", "-q", "-s", "1", database], check=True, capture_output=True
    )
    out = subprocess.run(
        ["pgbench", *conn, "-c", str(clients), "-j", str(clients), "-T", str(seconds), database],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(re.search(r"tps = ([0-9.]+)", out).group(1))


def report(store_name: str, rate: float, base: float, what: str, problems: list[str]) -> None:
    verdict = "invariants hold" if not problems else f"PROBLEMS: {problems[:3]}"
    print(
        f"{store_name:<11} gongji {rate:8.0f} settlements/s   baseline {base:8.0f} tx/s "
        f"({what})   ratio {rate / base:.2f}   {verdict}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settlements", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=10, help="pgbench duration")
    ap.add_argument("--clients", type=int, default=2)
    args = ap.parse_args()
    bench_sqlite(args.settlements)
    bench_postgres(args.settlements, args.seconds, args.clients)


if __name__ == "__main__":
    main()
