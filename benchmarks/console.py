"""Console pages: server time of each page with 100,000 members in the store.

    python benchmarks/console.py [--store sqlite|postgresql] [--members 100000]
                                 [--settlements 100000] [--repeat 7]

Fills a new store (SQLite file, or a new PostgreSQL database on the local server) with the
members, registered institutions and a month of settlements, starts `gongji serve`'s app
under uvicorn on a loopback port, logs in as an administrator and requests every page
--repeat times (the member page looks up a different member, drawn at random, each time:
no one member's rows stay warm in the caches). Printed per page: the median and the largest
of the server's own time
(the access log's `ms`, measured around the app: no network, no client), and the median
round trip seen by the client. Target: every page under 300 ms. Baseline in the same run:
GET /health (one SELECT 1) — the floor of a request. Also printed: the startup summing of
the journal that the fund and statements pages then keep up to date (supervision/kept.py).
"""

import argparse
import json
import logging
import random
import re
import statistics
import tempfile
import threading
import time
import uuid
from datetime import date
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import create_engine, text

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PASSWORD = "benchmark password"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--members", type=int, default=100_000)
    # a month of visits for 100,000 members (about 13 a year each, as `gongji generate` has)
    ap.add_argument("--settlements", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    url, drop = _store(args.store)
    try:
        t = time.perf_counter()
        member_ids = fill(url, args.members, args.settlements)
        print(f"{args.store}: {args.members:,} members, {args.settlements:,} settlements "
              f"loaded in {time.perf_counter() - t:.0f} s")  # fmt: skip
        measure(url, random.Random(1).sample(member_ids, args.repeat), args.repeat)
    finally:
        drop()


def _store(kind: str):
    from gongji.ledger import store

    if kind == "sqlite":
        folder = tempfile.TemporaryDirectory()
        url = f"sqlite:///{Path(folder.name) / 'bench.db'}"
        store.upgrade(store.connect(url))
        return url, folder.cleanup
    name = f"gongji_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    store.upgrade(store.connect(url))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))

    return url, drop


def fill(url: str, n_members: int, n_settlements: int) -> list[str]:
    """Members added as the ledger's import adds them (5,000 a transaction), then
    settlements through the ledger's own batch settle (group commit)."""
    from gongji.console import auth
    from gongji.ledger import registry, store
    from gongji.ledger.members import insert_member
    from gongji.ledger.settlement import settle_many
    from gongji.supervision import runs

    db = store.connect(url)
    rng = random.Random(1)
    institutions = [
        (f"H4102{i:07d}", rng.choice(["level1", "level2", "level3"])) for i in range(40)
    ]
    with db.begin() as conn:
        for code, level in institutions:
            registry.add_institution(
                conn, {"code": code, "name": f"医院{code}", "region": "kaifeng", "level": level}
            )
    ids = [f"KF{i:08d}" for i in range(n_members)]
    for i in range(0, n_members, 5_000):
        with db.begin() as conn:
            for member_id in ids[i : i + 5_000]:
                kind = "retiree" if rng.random() < 0.3 else "employee"
                record = {"id": member_id, "type": kind, "account_balance": "300.00"}
                insert_member(conn, "kaifeng", record)
    visits = []
    for n in range(n_settlements):
        day = 1 + n * 28 // n_settlements
        visit = {
            "id": f"V{n}",
            "time": f"2023-03-{day:02d}T09:{n % 60:02d}:00",
            "institution": rng.choice(institutions)[0],
            "total": f"{rng.randint(30, 900)}.00",
        }
        visits.append((f"T{n}", rng.choice(ids), visit))
    visits.sort(key=lambda v: v[2]["time"])
    for i in range(0, len(visits), 500):
        settle_many(db, visits[i : i + 500])
    auth.add_staff(db, "bench", "基准", "admin", PASSWORD, "benchmark")
    runs.run(db, date(2023, 3, 1), date(2023, 3, 31), "benchmark")  # the alerts page lists it
    # a store in use has its statistics gathered (PostgreSQL's autovacuum); one just loaded
    # has not, and its planner would scan where an index serves
    with db.begin() as conn:
        conn.execute(text("ANALYZE"))
    db.dispose()
    return ids


def measure(url: str, member_ids: list[str], repeat: int) -> None:
    """Each page `repeat` times; the member page looks up member_ids[0], [1], ... in turn."""
    from gongji.console.pages import warm
    from gongji.ledger import store
    from gongji.service.settings import Settings
    from gongji.supervision import kept
    from gongji.web import create_app

    # a bureau's store is mostly history: wait until the entries just loaded are older than
    # kept.SETTLED (newer ones are summed on every view, as a live store's last moments are)
    time.sleep(kept.SETTLED.total_seconds())
    db = store.connect(url)
    t = time.perf_counter()
    warm(db)  # what the app does at startup, in the background
    print(f"startup: the journal summed for the fund and statements pages in "
          f"{time.perf_counter() - t:.2f} s (once a process; then only new entries)")  # fmt: skip
    db.dispose()
    timings: dict[str, list[float]] = {}
    handler = _Collect(timings)
    access = logging.getLogger("gongji.access")
    app = create_app(Settings(database_url=url, access_log=True))
    access.handlers = [handler]
    base, server, thread = _serve(app)
    client = httpx.Client(base_url=base, timeout=60)
    client.post("/console/login", data={"username": "bench", "password": PASSWORD})
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/members").text)[1]
    calc = {"csrf": csrf, "region": "kaifeng", "type": "employee", "account_balance": "100",
            "time0": "2023-03-01T09:00:00", "institution0": "H1", "level0": "level3",
            "category0": "general", "total0": "250.00"}  # fmt: skip
    pages = [
        ("GET", "/health", None),
        ("GET", "/console/?region=kaifeng&year=2023", None),
        ("POST", "/console/members", {"csrf": csrf, "member_id": None}),  # one each time
        ("GET", "/console/calculate", None),
        ("POST", "/console/calculate", calc),
        ("GET", "/console/policy?region=kaifeng&other=nanyang", None),
        ("GET", "/console/alerts", None),
        ("GET", "/console/statements?month=2023-03", None),
        ("GET", "/console/reimbursement", None),
        ("GET", "/console/staff", None),
        ("GET", "/console/audit", None),
    ]
    trips: dict[str, list[float]] = {}
    for i in range(repeat):
        for method, path, form in pages:
            if form and "member_id" in form:
                form = {**form, "member_id": member_ids[i]}
            t = time.perf_counter()
            r = client.request(method, path, data=form)
            trips.setdefault(f"{method} {path}", []).append(time.perf_counter() - t)
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
            if form and "member_id" in form:
                assert form["member_id"] in r.text, "the member page shows the member asked for"
    server.should_exit = True
    thread.join(timeout=10)
    print(f"{'page':58s} {'server median':>14s} {'server max':>11s} {'round trip':>11s}")
    for (method, path, _), key in zip(pages, trips, strict=True):
        route = path.split("?")[0]
        server_ms = timings.get(f"{method} {route}", [])[-repeat:]
        print(f"{key:58s} {statistics.median(server_ms):11.1f} ms {max(server_ms):8.1f} ms "
              f"{statistics.median(trips[key]) * 1000:8.1f} ms")  # fmt: skip


class _Collect(logging.Handler):
    """The access log's lines: server time per (method, route)."""

    def __init__(self, into: dict):
        super().__init__()
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(record.getMessage())
        self.into.setdefault(f"{line['method']} {line['route']}", []).append(line["ms"])


def _serve(app):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, thread


if __name__ == "__main__":
    main()
