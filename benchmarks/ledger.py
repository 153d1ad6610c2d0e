"""Durable settlements/s on SQLite and PostgreSQL, beside each database's raw baseline.

    python benchmarks/ledger.py [--settlements 3000] [--batch 100] [--clients 2] [--repeat 3]

Each round measures, in the same run and on fresh databases: the raw baseline, gongji
settling one visit per transaction, and gongji with group commit (`settle_many`, `--batch`
settlements per durable commit, as a service does under load). Medians over the rounds are
printed with their ratio to the baseline; ledger invariants (`db check`) are verified on every
store afterwards.

SQLite (WAL, synchronous=FULL) from one process; the baseline is a plain sqlite3 loop of one
INSERT + one UPDATE per committed transaction under the same settings. PostgreSQL:
`--clients` processes settle for their own members; the baseline is pgbench's built-in
TPC-B-like script with the same number of clients.
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


def settle_range(url: str, start: int, count: int, step: int, batch: int) -> None:
    """Settle visits start, start+step, ... in transactions of `batch` settlements each."""
    db = store.connect(url)
    numbers = list(range(start, start + count * step, step))
    for b in range(0, len(numbers), batch):
        chunk = numbers[b : b + batch]
        answers = settle_many(db, [(f"T{i}", f"M{i % MEMBERS}", visit(i)) for i in chunk])
        refused = [a for a in answers if not isinstance(a, dict)]
        if refused:
            raise SystemExit(f"refused: {refused[0]}")
    db.dispose()


def timed(url: str, n: int, clients: int, batch: int) -> float:
    per_client = n // clients
    procs = [
        multiprocessing.Process(target=settle_range, args=(url, c, per_client, clients, batch))
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


def sqlite_round(n: int, batch: int, problems: list[str]) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        base = sqlite_baseline(Path(tmp) / "raw.db", n)
        rates = []
        for mode, size in (("single", 1), ("group", batch)):
            url = f"sqlite:///{Path(tmp) / f'{mode}.db'}"
            db = store.connect(url)
            prepare(db)
            rates.append(timed(url, n, 1, size))
            problems += check.problems(db)
            db.dispose()
    return base, *rates


def postgres_round(n: int, seconds: int, clients: int, batch: int, problems: list[str]):
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    rates = []
    for mode, size in (("baseline", 0), ("single", 1), ("group", batch)):
        name = f"gongji_bench_{mode}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            if size == 0:
                rates.append(pgbench(name, seconds, clients))
                continue
            url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
            db = store.connect(url)
            prepare(db)
            rates.append(timed(url, n, clients, size))
            problems += check.problems(db)
            db.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()
    return tuple(rates)


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


def report(name: str, rounds: list[tuple[float, float, float]], what: str, batch: int) -> None:
    base, single, group = (statistics.median(r[i] for r in rounds) for i in range(3))
    ratios = [statistics.median(r[i] / r[0] for r in rounds) for i in (1, 2)]
    print(f"{name:<11} baseline {base:7.0f} tx/s ({what})")
    print(f"{'':<11} gongji   {single:7.0f} settlements/s, one per commit   ratio {ratios[0]:.2f}")
    print(
        f"{'':<11} gongji   {group:7.0f} settlements/s, {batch} per commit   ratio {ratios[1]:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settlements", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=100, help="settlements per group commit")
    ap.add_argument("--seconds", type=int, default=8, help="pgbench duration")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported")
    args = ap.parse_args()
    problems: list[str] = []
    lite = [sqlite_round(args.settlements, args.batch, problems) for _ in range(args.repeat)]
    report("sqlite", lite, "sqlite3 insert+update loop", args.batch)
    pg = [
        postgres_round(args.settlements, args.seconds, args.clients, args.batch, problems)
        for _ in range(args.repeat)
    ]
    report("postgresql", pg, f"pgbench TPC-B, {args.clients} clients", args.batch)
    print("invariants hold on every store" if not problems else f"PROBLEMS: {problems[:5]}")


if __name__ == "__main__":
    main()
