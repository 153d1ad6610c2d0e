"""Durable settlements/s over HTTP: a load process against `gongji serve`, on SQLite and
PostgreSQL, then the ledger's invariants.

    python benchmarks/service.py [--store sqlite|postgresql|both] [--workers 2]
                                 [--seconds 10] [--connections 64] [--rate 500] [--runs 3]
    python benchmarks/service.py --signing   # what x-tif signing costs: 1101s signed beside
                                             # Bearer on the national endpoint (PostgreSQL)

For each store: a fresh database with 5,000 members and one registered hospital; the service
runs as its own process(es) (`gongji serve --workers N`, access log on, to /dev/null); the
load is another process (asyncio, HTTP/1.1 keep-alive connections, one settlement per request
to POST /v1/settlements). Two measurements:
- peak: `--connections` connections (a city's hospital and pharmacy systems: many at once),
  each sending its next settlement as soon as the last is answered, for `--seconds`:
  settlements/s answered 200;
- fixed rate: `--rate` settlements/s scheduled on a clock for `--seconds`: p50 and p99
  latency from the scheduled send time (so a stall counts against every request it delays).
Each connection (and, at a fixed rate, each member) has its own members, so a member's
visits arrive in time order. Also printed: the CPU time the service's processes and
PostgreSQL's backends serving the run's database spend per settlement during the fixed-rate
run (from /proc) — on a noisy machine a steadier figure than the peak. Afterwards `gongji db
check` must find nothing.

Each store is measured --runs times (3), each run on a fresh database with a fresh service:
every run's line is printed, then the median of each figure over the runs.
"""

import argparse
import asyncio
import gc
import hashlib
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from gongji.ledger import check, registry, store
from gongji.ledger.members import insert_member
from gongji.service import auth

PG_ADMIN = os.environ.get("GONGJI_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MEMBERS = 5000
HOSPITAL = "H41020000001"
START = datetime(2023, 3, 1, 8, 0)
REFUSALS: list[str] = []  # the first few refused answers, to print


def prepare(url: str) -> str:
    db = store.connect(url)
    store.upgrade(db)
    with db.begin() as conn:
        registry.add_institution(
            conn, {"code": HOSPITAL, "name": "开封市某医院", "region": "kaifeng", "level": "level2"}
        )
        for m in range(MEMBERS):
            insert_member(
                conn, "kaifeng", {"id": f"M{m}", "type": "employee", "account_balance": "500.00"}
            )
    token = auth.issue(db, HOSPITAL, "load")
    db.dispose()
    return token


def body(n: int, member: int, k: int, run: str) -> bytes:
    when = (START + timedelta(minutes=10 * k)).isoformat()
    return (
        f'{{"txn_id":"{run}-{n}","member_id":"M{member}","visit":{{"id":"{run}-{n}",'
        f'"time":"{when}","institution":"{HOSPITAL}","total":"{40 + n % 9 * 15}.00"}}}}'
    ).encode()


class Connection:
    """A minimal HTTP/1.1 keep-alive client: the load process must cost little CPU."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, payload: bytes, path: str = "/v1/settlements", auth: str = "") -> int:
        """`auth`: the credential's header lines (default: its Bearer token)."""
        auth = auth or f"Authorization: Bearer {self.token}\r\n"
        head = (
            f"POST {path} HTTP/1.1\r\nHost: load\r\n{auth}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode()
        self.writer.write(head + payload)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        payload = await self.reader.readexactly(length)
        status = int(status_line.split()[1])
        if status != 200 and len(REFUSALS) < 3:
            REFUSALS.append(payload.decode(errors="replace")[:300])
        return status


async def peak(
    port: int, token: str, connections: int, seconds: float, run: str
) -> tuple[int, int]:
    ok = bad = 0
    deadline = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal ok, bad
        c = Connection(port, token)
        await c.open()
        mine = list(range(w, MEMBERS, connections))
        n = 0
        while time.perf_counter() < deadline:
            member = mine[n % len(mine)]
            status = await c.post(body(w * 1_000_000 + n, member, n // len(mine), run))
            ok, bad = (ok + 1, bad) if status == 200 else (ok, bad + 1)
            n += 1

    await asyncio.gather(*(worker(w) for w in range(connections)))
    return ok, bad


async def fixed_rate(
    port: int, token: str, rate: float, seconds: float, run: str
) -> tuple[list[float], int]:
    """Open loop: request i is due at start + i/rate; its latency counts from then."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(64):
        c = Connection(port, token)
        await c.open()
        pool.put_nowait(c)
    latencies: list[float] = []
    bad = 0
    start = time.perf_counter() + 0.1
    total = int(rate * seconds)

    async def one(i: int) -> None:
        nonlocal bad
        due = start + i / rate
        c = await pool.get()
        status = await c.post(body(i, i % MEMBERS, 100 + i // MEMBERS, run))
        latencies.append(time.perf_counter() - due)
        bad += status != 200
        pool.put_nowait(c)

    tasks = []
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return latencies, bad


def cpu_seconds(match) -> float:
    """CPU seconds used so far by the processes `match(pid, parent, cmdline)` accepts."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if match(int(pid), int(fields[1]), cmdline):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def load(port: int, token: str, args, out, server: int, database: str | None) -> None:
    # The load process is apparatus: its garbage collector, sweeping thousands of live
    # request tasks, paused every request's clock at once (~150 ms, 4 s into a run) and
    # was most of the measured p99. Its memory is bounded by the run.
    gc.disable()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    ok, bad = asyncio.run(peak(port, token, args.connections, args.seconds, "P"))

    def service(pid: int, parent: int, _cmdline: bytes) -> bool:  # gongji serve and its workers
        return server in (pid, parent)

    def backends(_pid: int, _parent: int, cmdline: bytes) -> bool:
        # PostgreSQL's backends serving this run's database ("postgres: [cluster: ]user
        # database host state"): the service's pooled connections, open throughout; not
        # other databases' on a shared server, whose backends come and go between readings
        return (
            database is not None
            and cmdline.startswith(b"postgres: ")
            and f" {database} ".encode() in cmdline
        )

    used = cpu_seconds(service), cpu_seconds(backends)
    latencies, bad_fixed = asyncio.run(fixed_rate(port, token, args.rate, args.seconds, "F"))
    n = len(latencies)
    cpu = [
        (after - before) / n
        for before, after in zip(used, (cpu_seconds(service), cpu_seconds(backends)), strict=True)
    ]
    out.put((ok / args.seconds, bad, latencies, bad_fixed, cpu))
    for refusal in REFUSALS:
        print("  refused:", refusal)


def serve(url: str, port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "GONGJI_DATABASE_URL": url,
        "GONGJI_PORT": str(port),
        "GONGJI_RATE": "100000",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gongji", "serve", "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the service did not start")


def bench(name: str, url: str, args) -> dict:
    """One run: the figures, printed on one line and returned."""
    token = prepare(url)
    port = 18000 + os.getpid() % 1000
    proc = serve(url, port, args.workers)
    try:
        out: multiprocessing.Queue = multiprocessing.Queue()
        database = url.rsplit("/", 1)[1] if url.startswith("postgresql") else None
        loader = multiprocessing.Process(
            target=load, args=(port, token, args, out, proc.pid, database)
        )
        loader.start()
        rate, bad, latencies, bad_fixed, cpu = out.get()
        loader.join()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    db = store.connect(url)
    problems = check.problems(db)
    db.dispose()
    latencies.sort()
    run = {
        "peak": rate,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "service_ms": cpu[0] * 1000,
        "postgres_ms": cpu[1] * 1000,
        "refused": bad + bad_fixed,
        "problems": problems,
    }
    figures = line(run, args, name.startswith("postgresql"))
    print(
        f"{name:<18} {figures}   refused {bad} at peak, {bad_fixed} at a fixed rate   "
        + ("invariants hold" if not problems else f"PROBLEMS: {problems[:3]}")
    )
    return run


def line(run: dict, args, postgres: bool) -> str:
    return (
        f"peak {run['peak']:7.0f} settlements/s ({args.connections} connections)   "
        f"at {args.rate:g}/s: p50 {run['p50']:6.1f} ms  p99 {run['p99']:6.1f} ms   "
        f"CPU a settlement: service {run['service_ms']:.2f} ms"
        + (f", PostgreSQL {run['postgres_ms']:.2f} ms" if postgres else "")
    )


def median_of(name: str, runs: list[dict], args) -> bool:
    """The median of each figure over the runs; True when no run's store had a problem."""
    mid = {k: statistics.median(r[k] for r in runs) for k in ("peak", "p50", "p99")}
    mid |= {k: statistics.median(r[k] for r in runs) for k in ("service_ms", "postgres_ms")}
    print(f"{name + ' median':<18} {line(mid, args, name == 'postgresql')}   ({len(runs)} runs)")
    return all(not r["problems"] for r in runs)


def postgres_database():
    """A new database on the local server: (url, drop)."""
    name = f"gongji_svc_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


# -- what signing costs: 1101 on the national endpoint, Bearer beside x-tif-* ---------------
NATIONAL = "/fsi/api/rsfComIfsService/callService"


def signed_headers(paasid: str, secret: str) -> str:
    """x-tif-* as HIS clients compute them (national-interface §2.1), a new nonce each."""
    ts, nonce = str(int(time.time())), uuid.uuid4().hex
    sig = hashlib.sha256(f"{ts}{secret}{nonce}{ts}".encode()).hexdigest()
    return (
        f"x-tif-paasid: {paasid}\r\nx-tif-timestamp: {ts}\r\nx-tif-nonce: {nonce}\r\n"
        f"x-tif-signature: {sig}\r\n"
    )


def member_query(n: int) -> bytes:
    return (
        f'{{"infno":"1101","msgid":"Q{n}","fixmedins_code":"{HOSPITAL}",'
        f'"input":{{"data":{{"psn_no":"M{n % MEMBERS}"}}}}}}'
    ).encode()


async def queries(port: int, token: str, signing: tuple[str, str] | None, seconds: float) -> float:
    """1101s a second over 64 connections for `seconds`, signed when `signing` is given."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        c = Connection(port, token)
        await c.open()
        n = w
        while time.perf_counter() < deadline:
            auth = signed_headers(*signing) if signing else ""
            assert await c.post(member_query(n), NATIONAL, auth) == 200
            done, n = done + 1, n + 64

    await asyncio.gather(*(worker(w) for w in range(64)))
    return done / seconds


def signing_cost(args) -> None:
    """Bearer and signed 1101s alternated, `--runs` rounds each, on PostgreSQL: the medians
    and their ratio (the signature's SHA-256 and the nonce claimed in the store)."""
    url, drop = postgres_database()
    try:
        prepare(url)
        db = store.connect(url)
        issued = auth.issue_credential(db, HOSPITAL, "signing")
        db.dispose()
        port = 18000 + os.getpid() % 1000
        proc = serve(url, port, args.workers)
        try:
            bearer, signed = [], []
            for _ in range(args.runs):
                bearer.append(asyncio.run(queries(port, issued.token, None, args.seconds)))
                pair = (issued.paasid, issued.secret)
                signed.append(asyncio.run(queries(port, issued.token, pair, args.seconds)))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        drop()
    b, s = statistics.median(bearer), statistics.median(signed)
    print(
        f"1101 on {NATIONAL}: Bearer {b:.0f}/s, x-tif signed {s:.0f}/s ({s / b:.2f}x; "
        f"median of {args.runs} alternated rounds)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--runs", type=int, default=3, help="runs a store; medians are reported")
    ap.add_argument(
        "--signing", action="store_true", help="only: 1101s signed beside Bearer (PostgreSQL)"
    )
    args = ap.parse_args()
    if args.signing:
        return signing_cost(args)
    cores = os.cpu_count()
    print(f"gongji serve --workers {args.workers}; the load process on the same {cores} cores")
    clean = True
    if args.store in ("sqlite", "both"):
        runs = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                label = f"sqlite {len(runs) + 1}/{args.runs}"
                runs.append(bench(label, f"sqlite:///{Path(tmp) / 'service.db'}", args))
        clean &= median_of("sqlite", runs, args)
    if args.store in ("postgresql", "both"):
        runs = []
        for _ in range(args.runs):
            url, drop = postgres_database()
            try:
                runs.append(bench(f"postgresql {len(runs) + 1}/{args.runs}", url, args))
            finally:
                drop()
        clean &= median_of("postgresql", runs, args)
    if not clean:
        raise SystemExit("a run's store has problems: see above")


if __name__ == "__main__":
    main()
