"""`gongji serve` killed (SIGKILL) under load, mid-batch, and started again: every request its
clients retry with their txn_ids settles exactly once, every acknowledged settlement is
stored, none is half-written. (tests/ledger/test_crash.py kills the ledger alone.)"""

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
from sqlalchemy import text

from gongji.ledger import check, members
from gongji.service.scope import unscoped

from .conftest import HOSPITAL, free_port, prepare
from .test_two_processes import ready

CLIENTS = 4


def launch(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "GONGJI_DATABASE_URL": url, "GONGJI_PORT": str(port),
           "GONGJI_ACCESS_LOG": "0", "GONGJI_RATE": "1000000"}  # fmt: skip
    command = [sys.executable, "-m", "gongji", "serve"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Client(threading.Thread):
    """Settles its member's visits one after another; whatever fails (no answer, a refused
    connection, a 503) is retried with the same txn_id until it settles."""

    def __init__(self, base: str, token: str, n: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.base, self.token, self.n, self.stop = base, token, n, stop
        self.acknowledged: list[str] = []
        self.refused: list[tuple[int, str]] = []

    def run(self) -> None:
        k = 0
        while not self.stop.is_set():
            self._settle(f"K{self.n}-{k}", k)
            k += 1

    def _settle(self, txn_id: str, k: int) -> None:
        visit = {"id": txn_id, "time": f"2023-03-01T{8 + k // 60:02d}:{k % 60:02d}:00",
                 "institution": HOSPITAL, "total": "20.00"}  # fmt: skip
        body = {"txn_id": txn_id, "member_id": f"K{self.n}", "visit": visit}
        headers = {"Authorization": f"Bearer {self.token}"}
        for _ in range(600):
            try:
                answer = httpx.post(f"{self.base}/v1/settlements", json=body, headers=headers,
                                    timeout=30)  # fmt: skip
            except httpx.HTTPError:  # killed mid-request, or not started again yet
                time.sleep(0.1)
                continue
            if answer.status_code == 200:
                self.acknowledged.append(txn_id)
                return
            if answer.status_code != 503:
                self.refused.append((answer.status_code, answer.text))
                return
            time.sleep(0.1)
        raise AssertionError(f"{txn_id} never settled")


def test_sigkill_under_load_and_a_restart_settle_every_retry_once(db):
    hospital, _clinic, _bureau = prepare(db)
    for m in range(CLIENTS):
        members.add_member(
            db, "kaifeng", {"id": f"K{m}", "type": "employee", "account_balance": "5000.00"}
        )
    url, port = db.url.render_as_string(hide_password=False), free_port()
    proc = launch(url, port)
    try:
        base = ready(proc, port)
        stop = threading.Event()
        clients = [Client(base, hospital, n, stop) for n in range(CLIENTS)]
        for client in clients:
            client.start()
        time.sleep(2.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)
        proc = launch(url, port)
        ready(proc, port)
        time.sleep(1.0)
        stop.set()
        for client in clients:
            client.join(timeout=120)
            assert not client.is_alive(), "a client never settled"
    finally:
        proc.kill()
        proc.wait()
    acknowledged = [t for c in clients for t in c.acknowledged]
    assert [r for c in clients for r in c.refused] == []
    with db.connect() as conn:
        stored = [
            unscoped(HOSPITAL, t)  # the ledger keeps the institution's ids under its code
            for t in conn.execute(text("SELECT txn_id FROM settlements")).scalars()
        ]
    assert sorted(stored) == sorted(acknowledged)  # none lost, none paid twice
    assert check.problems(db) == []
