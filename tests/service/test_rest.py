"""REST, credentials, tenancy, limits and faults over real HTTP, on SQLite and PostgreSQL."""

import asyncio
import json
import logging
import socket
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import text

from gongji.ledger import check, views
from gongji.service import auth
from gongji.service.app import Guard, access

from .conftest import CLINIC, HOSPITAL, start

VISIT = {
    "id": "V1",
    "time": "2023-03-01T10:00:00",
    "institution": HOSPITAL,
    "total": "250.00",
    "in_scope": "200.00",
}


def test_settle_read_cancel_through_rest(service):
    with service.client(service.hospital) as c:
        pre = c.post("/v1/settlements/pre", json={"member_id": "P001", "visit": VISIT})
        assert pre.status_code == 200 and pre.json()["fund_pay"] == "75.00"
        first = c.post(
            "/v1/settlements", json={"txn_id": "T1", "member_id": "P001", "visit": VISIT}
        )
        again = c.post(
            "/v1/settlements", json={"txn_id": "T1", "member_id": "P001", "visit": VISIT}
        )
        assert first.status_code == 200 and first.json() == again.json()
        assert (first.json()["fund_pay"], first.json()["account_pay"]) == ("75.00", "125.00")
        shown = c.get("/v1/settlements/T1").json()
        assert shown["trace"][0]["article"] == "第九条"
        assert shown["trace"][0]["text"] == "三级每次就诊起付线 50.00"  # Chinese by default
        english = c.get("/v1/settlements/T1", headers={"Accept-Language": "en-US,en;q=0.9"})
        assert english.json()["trace"][0]["text"] == "level3 per-visit deductible 50.00"
        chinese = c.get("/v1/settlements/T1", headers={"Accept-Language": "zh-CN,en;q=0.5"})
        assert chinese.json()["trace"] == shown["trace"]
        assert [v["txn_id"] for v in c.get("/v1/visits").json()] == ["T1"]
        conflict = c.post(
            "/v1/settlements",
            json={"txn_id": "T1", "member_id": "P001", "visit": {**VISIT, "total": "251.00"}},
        )
        assert conflict.status_code == 409 and conflict.json()["code"] == "E_TXN_CONFLICT"
        cancelled = c.post("/v1/settlements/T1/cancel").json()
        assert (cancelled["txn_id"], cancelled["cancelled"]) == ("T1", True)
        assert cancelled["returned"]["fund_pay"] == "75.00"  # what T1 consumed, given back
    assert views.member_show(service.db, "P001")["account_balance"] == Decimal("300.00")
    assert check.problems(service.db) == []


def test_credentials_and_tenancy(service):
    with service.client(None) as anonymous:
        missing = anonymous.get("/v1/visits")
        assert missing.status_code == 401 and missing.json()["code"] == "E_UNAUTHORIZED"
        assert "凭证" in missing.json()["message_zh"]
    with service.client("not-a-token") as c:
        assert c.get("/v1/visits").status_code == 401
    with service.client(service.hospital) as c:
        c.post("/v1/settlements", json={"txn_id": "T1", "member_id": "P001", "visit": VISIT})
        assert c.get("/v1/accounts/P001").status_code == 403  # the bureau's
        other = c.post(
            "/v1/settlements",
            json={"txn_id": "T2", "member_id": "P001", "visit": {**VISIT, "institution": CLINIC}},
        )
        assert other.status_code == 403
    with service.client(service.clinic) as c:
        assert c.get("/v1/settlements/T1").status_code == 404  # not the clinic's
        assert c.get("/v1/visits").json() == []
    with service.client(service.bureau) as c:  # the ledger's id: the institution's, scoped
        assert c.get(f"/v1/settlements/{HOSPITAL}:T1").status_code == 200
        assert c.get("/v1/accounts/P001").json()["account_balance"] == "175.00"
    with service.db.connect() as conn:
        from sqlalchemy import select

        from gongji.ledger.schema import credentials

        clinic_id = conn.execute(
            select(credentials.c.id).where(credentials.c.institution == CLINIC)
        ).scalar()
    auth.revoke(service.db, clinic_id)
    time.sleep(1.1)  # a checked credential is trusted for a second
    with service.client(service.clinic) as c:
        assert c.get("/v1/visits").status_code == 401


def test_bad_input_names_the_field_and_is_never_a_server_error(service):
    with service.client(service.hospital) as c:
        cases = [
            (
                {"txn_id": "T1", "member_id": "P001", "visit": {**VISIT, "total": "-1"}},
                "visit.total",
            ),
            (
                {"txn_id": "T1", "member_id": "P001", "visit": {**VISIT, "in_scope": "300"}},
                "visit.in_scope",
            ),
            ({"txn_id": "T1", "member_id": "NOBODY", "visit": VISIT}, "member_id"),
            ({"txn_id": "", "member_id": "P001", "visit": VISIT}, "txn_id"),
            ({"member_id": "P001", "visit": VISIT}, "txn_id"),
        ]
        for document, field in cases:
            r = c.post("/v1/settlements", json=document)
            assert 400 <= r.status_code < 500, r.text
            assert r.json()["field"] == field, r.json()
            assert field in r.json()["message_zh"] and field in r.json()["message_en"]
        assert (
            c.post(
                "/v1/settlements",
                content=b"{not json",
                headers={"content-type": "application/json"},
            ).status_code
            == 422
        )
    assert views.account_show(service.db, "P001")["journal"][-1]["kind"] == "opening"


def test_bureau_adds_members_and_reimburses_manually(service):
    with service.client(service.bureau) as c:
        added = c.post(
            "/v1/members", json={"region": "kaifeng", "member": {"id": "P009", "type": "employee"}}
        )
        assert added.status_code == 201
        manual = c.post(
            "/v1/reimbursements",
            json={"txn_id": "M1", "member_id": "P009", "visit": {**VISIT, "id": "INV-1"}},
        )
        assert manual.status_code == 200, manual.text
        assert manual.json()["fund_pay"] == "75.00"  # KF: the same rules, entered from invoices
        assert manual.json()["manual"] is True
        stored = c.get("/v1/settlements/M1").json()
        assert stored["fund_pay"] == "75.00" and not stored["cancelled"]
    with service.client(service.hospital) as c:
        assert (
            c.post(
                "/v1/members",
                json={"region": "kaifeng", "member": {"id": "P010", "type": "employee"}},
            ).status_code
            == 403
        )


def test_family_bindings_over_rest(service):
    """The bureau binds a relative to a member's account and ends the binding; the
    relative's visit at the hospital draws on it in between (开封 第十七条)."""
    with service.client(service.bureau) as c:
        for member_id, balance in (("P009", "500.00"), ("P010", "0")):
            member = {"id": member_id, "type": "employee", "account_balance": balance}
            assert (
                c.post("/v1/members", json={"region": "kaifeng", "member": member}).status_code
                == 201
            )
        binding = {"holder": "P009", "user": "P010", "relationship": "parent", "from": "2023-02-01"}
        bad = c.post("/v1/bindings", json={**binding, "relationship": "cousin"})
        assert bad.status_code == 422 and bad.json()["field"] == "relationship"
        made = c.post("/v1/bindings", json=binding)
        assert made.status_code == 201, made.text
        again = c.post("/v1/bindings", json=binding)
        assert again.status_code == 409 and again.json()["code"] == "E_EXISTS"
    with service.client(service.hospital) as c:
        assert c.post("/v1/bindings", json=binding).status_code == 403
        got = c.post("/v1/settlements", json={"txn_id": "F1", "member_id": "P010", "visit": VISIT})
        # the fund 75 (as above); the in-scope rest 200 - 75 = 125 from P009's account; the 50
        # out of scope in cash
        assert (got.json()["mutual_aid_pay"], got.json()["holder"], got.json()["cash_pay"]) == (
            "125.00", "P009", "50.00"
        )  # fmt: skip
    with service.client(service.bureau) as c:
        ended = c.post(
            "/v1/bindings/end", json={"holder": "P009", "user": "P010", "on": "2023-03-02"}
        )
        assert ended.status_code == 200 and ended.json()["valid_to"] == "2023-03-01"
    with service.client(service.hospital) as c:
        visit = {**VISIT, "id": "V2", "time": "2023-03-02T10:00:00"}
        got = c.post("/v1/settlements", json={"txn_id": "F2", "member_id": "P010", "visit": visit})
        assert "holder" not in got.json() and got.json()["cash_pay"] == "175.00"


def test_bureau_pays_a_premium_for_whom_the_pack_allows(service):
    # KF-17: 可用于配偶、父母、子女参加城乡居民基本医疗保险或本人参加职工大额医疗费用补助:
    # the spouse's resident premium of 120 from P001's 300 leaves 180
    premium = {"op_id": "OP1", "amount": "120.00", "purpose": "family_resident_premium",
               "on": "2023-03-20", "beneficiary": "spouse", "relative": "王芳"}  # fmt: skip
    with service.client(service.hospital) as c:
        assert c.post("/v1/accounts/P001/premiums", json=premium).status_code == 403
    with service.client(service.bureau) as c:
        paid = c.post("/v1/accounts/P001/premiums", json=premium)
        assert paid.status_code == 200, paid.text
        assert paid.json() == {
            "op_id": "OP1",
            "purpose": "family_resident_premium",
            "beneficiary": "spouse",
            "relative": "王芳",
            "paid": "120.00",
            "rule": "KF-17",
        }
        refused = [
            ({**premium, "op_id": "OP2", "purpose": "supplementary_premium"}, "beneficiary"),
            ({**premium, "op_id": "OP3", "beneficiary": "member", "relative": None}, "beneficiary"),
            ({**premium, "op_id": "OP4", "beneficary": "spouse"}, "beneficary"),  # misspelt
            ({**premium, "op_id": "OP5", "amount": "-1"}, "amount"),
        ]
        for body, field in refused:
            r = c.post("/v1/accounts/P001/premiums", json=body)
            assert r.status_code == 422 and r.json()["field"] == field, r.text
        shown = c.get("/v1/accounts/P001").json()
    assert shown["account_balance"] == "180.00"
    assert [(p["purpose"], p["beneficiary"]) for p in shown["premiums"]] == [
        ("family_resident_premium", "spouse")
    ]
    assert check.problems(service.db) == []


def test_body_size_and_rate_limits(db):
    # a window of an hour: the count does not depend on how fast the requests go
    svc, server, thread = start(db, max_body=2_000, rate=5, rate_window=3600)
    try:
        with svc.client(svc.hospital) as c:
            big = c.post(
                "/v1/settlements",
                content=b"x" * 5_000,
                headers={"content-type": "application/json"},
            )
            assert big.status_code == 413 and big.json()["code"] == "E_TOO_LARGE"
            answers = [c.get("/v1/visits") for _ in range(30)]
            assert [a.status_code for a in answers] == [200] * 5 + [429] * 25
            # when to come back: the rest of the hour's window, in whole seconds
            assert 3590 < int(answers[-1].headers["retry-after"]) <= 3600
        with svc.client(svc.clinic) as c:  # each credential its own limit
            assert c.get("/v1/visits").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_many_clients_settling_for_one_member_spend_caps_and_balance_once(service):
    # 16 clients at once, each a 100-yuan level-1 visit for P001 on 10 March: KF-9b's 150
    # monthly cap and the 300 balance may each be spent once
    answers: list = []

    def one(i: int) -> None:
        with service.client(service.clinic) as c:
            visit = {
                "id": f"C{i}",
                "time": "2023-03-10T09:00:00",
                "institution": CLINIC,
                "total": "100.00",
            }
            answers.append(
                c.post(
                    "/v1/settlements", json={"txn_id": f"C{i}", "member_id": "P001", "visit": visit}
                )
            )

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a.status_code == 200 for a in answers), [
        a.text for a in answers if a.status_code != 200
    ]
    assert sum(Decimal(a.json()["fund_pay"]) for a in answers) == Decimal("150.00")
    assert sum(Decimal(a.json()["account_pay"]) for a in answers) == Decimal("300.00")
    assert check.problems(service.db) == []


def test_a_dropped_connection_leaves_a_whole_settlement_or_none(service):
    body = (
        '{"txn_id": "D1", "member_id": "P001", "visit": {"id": "V1", "time": "2023-03-01T10:00:00",'
        f' "institution": "{HOSPITAL}", "total": "250.00", "in_scope": "200.00"}}}}'
    ).encode()
    host, port = service.url.removeprefix("http://").split(":")
    for cut in (len(body) // 2, len(body)):  # mid-body, and right after sending it all
        with socket.create_connection((host, int(port))) as s:
            s.sendall(
                b"POST /v1/settlements HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {service.hospital}\r\n".encode()
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[:cut]
            )
        time.sleep(0.5)
        assert check.problems(service.db) == []
    with service.client(service.hospital) as c:  # the retry settles it, or returns the first
        retry = c.post(
            "/v1/settlements", json={"txn_id": "D1", "member_id": "P001", "visit": VISIT}
        )
    assert retry.json()["fund_pay"] == "75.00"
    assert views.member_show(service.db, "P001")["account_balance"] == Decimal("175.00")
    assert check.problems(service.db) == []


@pytest.mark.parametrize("path", ["/health", "/openapi.json", "/docs"])
def test_health_and_docs_need_no_credential(service, path):
    with service.client(None) as c:
        assert c.get(path).status_code == 200


def test_unknown_routes_and_methods_answer_in_the_error_format(service):
    with service.client(service.hospital) as c:
        missing = c.get("/v1/nothing")
        wrong = c.delete("/v1/visits")
    assert missing.status_code == 404 and missing.json()["code"] == "E_NOT_FOUND"
    assert wrong.status_code == 405 and wrong.json()["message_zh"] == "请求内容有误"
    assert wrong.headers["allow"] == "GET"


def test_a_405_allows_every_method_of_its_path(service):
    with service.client(None) as c:  # the console's login page is a GET and a POST route
        wrong = c.put("/console/login")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, POST"


def test_the_access_log_records_the_status_each_request_was_answered(db):
    lines: list[dict] = []

    class Kept(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(record.getMessage()))

    kept = Kept()
    access.addHandler(kept)
    access.setLevel(logging.INFO)
    svc, server, thread = start(db, access_log=True, max_body=2_000, rate=2, rate_window=3600)
    try:
        with svc.client(svc.hospital) as c:
            c.get("/v1/visits")  # 200
            c.get("/v1/settlements/NOPE")  # 404 from the ledger
            c.get("/v1/visits", headers={"Authorization": "Bearer wrong"})  # 401 at the door
            c.post("/v1/settlements", content=b"x" * 5_000)  # 413 at the door
            c.delete("/v1/visits")  # 405, over the rate: 429 at the door
        with svc.client(svc.clinic) as c:
            c.delete("/v1/visits")  # 405
            c.post("/v1/settlements", content=b"{")  # 422
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        access.removeHandler(kept)
    assert [(line["method"], line["status"]) for line in lines] == [
        ("GET", 200), ("GET", 404), ("GET", 401), ("POST", 413), ("DELETE", 429),
        ("DELETE", 405), ("POST", 422),
    ]  # fmt: skip
    assert lines[1]["route"] == "/v1/settlements/{txn_id}"  # the template, not the id
    assert lines[2]["route"] == "/v1/visits"


def test_a_request_nothing_handles_is_logged_as_the_500_it_was_answered(caplog):
    async def broken(scope, receive, send):
        raise RuntimeError("a bug")

    guard = Guard(broken, max_body=100, log=True, gate=None, own_sessions=())
    scope = {"type": "http", "method": "GET", "path": "/health", "headers": []}
    with caplog.at_level(logging.INFO, logger="gongji.access"), pytest.raises(RuntimeError):
        asyncio.run(guard(scope, None, None))
    assert json.loads(caplog.records[-1].getMessage())["status"] == 500


def test_a_lost_store_connection_is_a_503_and_the_retry_settles(service):
    """The store drops the writer's connection: the batch in flight is refused whole
    (E_UNAVAILABLE, nothing written) and the client's retry, same txn_id, settles."""
    if service.db.dialect.name != "postgresql":
        pytest.skip("an embedded SQLite file has no connection to lose")

    def settle_p001(c, txn_id: str, hour: int):
        visit = {"id": txn_id, "time": f"2023-03-01T{hour:02d}:00:00", "institution": HOSPITAL,
                 "total": "80.00"}  # fmt: skip
        body = {"txn_id": txn_id, "member_id": "P001", "visit": visit}
        return c.post("/v1/settlements", json=body)

    with service.client(service.hospital) as c:
        assert settle_p001(c, "L1", 9).status_code == 200
        with service.db.connect() as conn:  # every other session of this database
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        lost = settle_p001(c, "L2", 10)
        assert lost.status_code == 503 and lost.json()["code"] == "E_UNAVAILABLE"
        retry = settle_p001(c, "L2", 10)
        time.sleep(1.1)  # the credential is checked again, over a pooled connection
        later = settle_p001(c, "L3", 11)
    assert retry.status_code == 200 and retry.json()["txn_id"] == "L2"
    assert later.status_code == 200
    assert check.problems(service.db) == []
