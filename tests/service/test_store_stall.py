"""A store that resets its connections, then stops answering (no reset) for longer than the
deadline: clients are answered 503 E_UNAVAILABLE within it (a generous bound: this is a
correctness test, not a benchmark), and once the store answers again, every request retried
with its txn_id settles exactly once — batches committed after their clients gave up
included."""

import logging
import statistics
import threading
import time

import pytest
from sqlalchemy import text

from gongji.ledger import check, members
from gongji.service.scope import unscoped
from gongji.service.settings import Settings
from gongji.web import create_app

from .conftest import HOSPITAL, Service, prepare, serve
from .stall_proxy import StallProxy

DEADLINE = 2.0  # GONGJI_STORE_DEADLINE for the service under test
BOUND = 3 * DEADLINE  # a 503 must come within this (deadline + a generous margin)
CLIENTS = 6


@pytest.fixture
def stalled(db):
    """The service over a StallProxy in front of the test's PostgreSQL database."""
    if db.dialect.name != "postgresql":
        pytest.skip("an embedded SQLite file has no connection to stall")
    hospital, clinic, bureau = prepare(db)
    for m in range(CLIENTS):
        members.add_member(
            db, "kaifeng", {"id": f"S{m}", "type": "employee", "account_balance": "5000.00"}
        )
    proxy = StallProxy(db.url.host or "127.0.0.1", db.url.port or 5432)
    url = db.url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    chosen = Settings(database_url=url, access_log=False, store_deadline=DEADLINE)
    base, server, thread = serve(create_app(chosen))
    yield Service(base, db, hospital, clinic, bureau), proxy
    proxy.resume()
    server.should_exit = True
    thread.join(timeout=10)
    proxy.close()


class Client(threading.Thread):
    """Settles visits of its own member one after another; a 503 is retried, same txn_id,
    until it settles. Records every answer's status and how long it took."""

    def __init__(self, service: Service, n: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.service, self.n, self.stop = service, n, stop
        self.acknowledged: list[str] = []
        self.unavailable: list[float] = []  # seconds each 503 took
        self.other: list[tuple[int, str]] = []

    def run(self) -> None:
        with self.service.client(self.service.hospital) as c:
            k = 0
            while not self.stop.is_set():
                self._settle(c, f"ST{self.n}-{k}", k)
                k += 1

    def _settle(self, c, txn_id: str, k: int) -> None:
        visit = {"id": txn_id, "time": f"2023-03-01T{8 + k // 60:02d}:{k % 60:02d}:00",
                 "institution": HOSPITAL, "total": "20.00"}  # fmt: skip
        body = {"txn_id": txn_id, "member_id": f"S{self.n}", "visit": visit}
        while True:  # retried until settled, whatever stop says: every request settles
            started = time.monotonic()
            answer = c.post("/v1/settlements", json=body)
            took = time.monotonic() - started
            if answer.status_code == 200:
                self.acknowledged.append(txn_id)
                return
            if answer.status_code == 503 and answer.json()["code"] == "E_UNAVAILABLE":
                self.unavailable.append(took)
                time.sleep(0.1)
                continue
            self.other.append((answer.status_code, answer.text))
            return


def probe_health(service: Service, each: list[tuple[int, float]]) -> None:
    with service.client(None) as c:
        started = time.monotonic()
        status = c.get("/health").status_code
        each.append((status, time.monotonic() - started))


def test_a_reset_then_a_silent_store_gets_503s_within_the_deadline_and_settles_once(stalled):
    service, proxy = stalled
    stop = threading.Event()
    clients = [Client(service, n, stop) for n in range(CLIENTS)]
    for client in clients:
        client.start()
    health: list[tuple[int, float]] = []
    time.sleep(1.0)
    proxy.reset()  # every connection dropped
    time.sleep(1.0)
    proxy.stall()  # then nothing answers, nothing is closed
    time.sleep(0.5)
    probe_health(service, health)
    time.sleep(2.0 * DEADLINE)
    proxy.resume()
    time.sleep(1.0)
    probe_health(service, health)
    stop.set()
    for client in clients:
        client.join(timeout=120)
        assert not client.is_alive(), "a client never settled"

    unavailable = [t for c in clients for t in c.unavailable]
    acknowledged = [t for c in clients for t in c.acknowledged]
    print(  # the figures the report quotes
        f"\n503s: {len(unavailable)}, median {statistics.median(unavailable):.2f} s,"
        f" max {max(unavailable):.2f} s; settled {len(acknowledged)}; health {health}"
    )
    assert [o for c in clients for o in c.other] == []
    assert unavailable, "the stall was never noticed"
    assert max(unavailable) < BOUND
    assert health[0][0] == 503 and health[0][1] < BOUND  # during the stall
    assert health[-1][0] == 200  # after it
    assert len(set(acknowledged)) == len(acknowledged)
    with service.db.connect() as conn:  # straight to the store, not through the proxy
        stored = [
            unscoped(HOSPITAL, t)  # the ledger keeps the institution's ids under its code
            for t in conn.execute(text("SELECT txn_id FROM settlements")).scalars()
        ]
    assert sorted(stored) == sorted(acknowledged)  # none lost, none paid twice
    assert check.problems(service.db) == []


def test_a_store_down_during_a_read_is_a_503_without_the_statement(stalled, caplog):
    service, proxy = stalled
    with service.client(service.bureau) as c:
        assert c.get("/v1/visits").status_code == 200  # the credential is checked and cached
        proxy.refusing = True
        proxy.reset()  # the pooled connections die; new ones are refused
        with caplog.at_level(logging.INFO):
            down = c.get("/v1/visits")
            health = c.get("/health")
        proxy.refusing = False
        time.sleep(1.1)  # the credential is checked again
        up = c.get("/v1/visits")
    assert down.status_code == 503 and down.json()["code"] == "E_UNAVAILABLE"
    assert down.json()["message_zh"] == "服务暂不可用，请稍后重试"
    assert health.status_code == 503 and health.json()["code"] == "E_UNAVAILABLE"
    assert "SELECT" not in down.text and "SELECT" not in caplog.text
    assert up.status_code == 200


def test_a_transaction_the_server_ended_is_an_outage():
    """A read whose thread stalls between statements past the store's deadline (a loaded
    machine: seen in CI) finds its transaction ended by the server
    (idle_in_transaction_session_timeout): that is the store failing, answered 503
    E_UNAVAILABLE as any outage — not a 500."""
    from sqlalchemy import create_engine

    from gongji.ledger import store
    from gongji.service.app import OUTAGES

    from ..conftest import PG_ADMIN

    engine = create_engine(PG_ADMIN, connect_args=store.pg_options(0.2), hide_parameters=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))  # the transaction begins
            time.sleep(1.0)  # idle in it past the deadline: the server ends the session
            with pytest.raises(OUTAGES):
                conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
