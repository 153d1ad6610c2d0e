"""A real `gongji serve` app under uvicorn on a loopback port, over each store of the `db`
fixture, with a registered institution, a second one, members and credentials."""

import socket
import threading
import time
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from gongji.ledger import members, registry
from gongji.service import auth
from gongji.service.settings import Settings
from gongji.web import create_app

HOSPITAL = "H41020000001"  # level 3, Kaifeng
CLINIC = "H41020000002"  # level 1, another institution


# what the store holds, to compare before and after a refused request: it must not change
SNAPSHOT = [
    "SELECT id, status, account_balance, frozen, CAST(state AS TEXT), last_visit,"
    " CAST(profile AS TEXT), closed_to, psn_cert_type, certno, card_no, name, gender,"
    " birth_date, nationality FROM members ORDER BY id",
    "SELECT count(*), coalesce(sum(amount), 0), coalesce(max(id), 0) FROM journal_legs",
    "SELECT count(*), coalesce(max(id), 0) FROM journal_entries",
    "SELECT count(*), coalesce(max(id), 0), count(cancel_entry_id) FROM settlements",
    "SELECT mdtrt_id, med_type, disease, CAST(fees AS TEXT), txn_id FROM visits ORDER BY mdtrt_id",
    "SELECT count(*) FROM withdrawn_txns",
    "SELECT id, valid_from, valid_to FROM family_bindings ORDER BY id",
    "SELECT count(*), coalesce(sum(amount), 0) FROM premiums",
    "SELECT count(*) FROM institutions",
]


def snapshot(db) -> list:
    with db.connect() as conn:
        return [conn.execute(text(q)).all() for q in SNAPSHOT]


@dataclass
class Service:
    url: str
    db: object
    hospital: str  # tokens
    clinic: str
    bureau: str

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app, **options) -> tuple[str, uvicorn.Server, threading.Thread]:
    """`options`: uvicorn's, as `gongji serve` gives them (Settings.proxy_options)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False, **options
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the service did not start"
    return f"http://127.0.0.1:{port}", server, thread


def prepare(db) -> tuple[str, str, str]:
    """Two institutions, two members; the tokens of each institution and of the bureau."""
    with db.begin() as conn:
        for code, level in ((HOSPITAL, "level3"), (CLINIC, "level1")):
            registry.add_institution(
                conn, {"code": code, "name": f"医院 {code}", "region": "kaifeng", "level": level}
            )
    members.add_member(
        db, "kaifeng", {"id": "P001", "type": "employee", "account_balance": "300.00"}
    )
    members.add_member(db, "kaifeng", {"id": "P002", "type": "retiree", "account_balance": "50.00"})
    tokens = [auth.issue(db, code, code) for code in (HOSPITAL, CLINIC)]
    return tokens[0], tokens[1], auth.issue(db, None, "bureau")


def start(db, **settings) -> tuple[Service, uvicorn.Server, threading.Thread]:
    hospital, clinic, bureau = prepare(db)
    url = db.url.render_as_string(hide_password=False)
    chosen = Settings(database_url=url, **{"access_log": False, **settings})
    base, server, thread = serve(create_app(chosen), **chosen.proxy_options())
    return Service(base, db, hospital, clinic, bureau), server, thread


@pytest.fixture
def service(db):
    svc, server, thread = start(db)
    yield svc
    server.should_exit = True
    thread.join(timeout=10)
