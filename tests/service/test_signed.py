"""Issue 18 items 1, 2 and 10 over real HTTP, on SQLite and PostgreSQL: HIS clients signing
with the gateway's x-tif-* headers (national-interface §2.1: OH `ClassHelper.YBHttpRequest`,
MD-Proxy `SYBController.HttpPost`), their refusals in the envelope, the platform's paths,
9001/9002 sign-in and sign-out (§5.1, §5.2), the 30-character `inf_refmsgid` (§4.1), GBK
bodies (§1.1) and the envelope as clients fill it (§3.1, §3.3)."""

import asyncio
import hashlib
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest
import sqlalchemy.exc
from sqlalchemy import select
from typer.testing import CliRunner

from gongji.cli import app as cli
from gongji.errors import ServiceError
from gongji.ledger import views
from gongji.ledger.schema import sign_ins
from gongji.service import auth
from gongji.service.app import Guard
from gongji.service.settings import Settings
from gongji.service.signed import Nonces, Signed
from gongji.web import create_app

from .conftest import CLINIC, HOSPITAL, serve, snapshot, start
from .test_national import settle_input

N = itertools.count(1)


def envelope(infno: str, input: object, code: str = HOSPITAL, **changes) -> dict:
    """As OH's `ClassHelper.SettingsBase` fills it: "" for what it has not, the operator
    type as text, `inf_time` yyyy-MM-dd HH:mm:ss, msgid = code + time + 4 digits."""
    now = datetime.now()
    return {
        "infno": infno,
        "msgid": f"{code}{now:%Y%m%d%H%M%S}{next(N):04d}",
        "mdtrtarea_admvs": "410200",
        "insuplc_admdvs": "410200",
        "recer_sys_code": "YBXT",
        "dev_no": "",
        "dev_safe_info": "",
        "cainfo": "",
        "signtype": "",
        "infver": "V1.08",
        "opter_type": "1",
        "opter": "001",
        "opter_name": "收费员",
        "inf_time": f"{now:%Y-%m-%d %H:%M:%S}",
        "fixmedins_code": code,
        "fixmedins_name": "医院",
        "sign_no": "",
        "input": input,
        **changes,
    }


def signed(paasid: str, secret: str, ts: object = None, nonce: str | None = None) -> dict:
    """The x-tif-* headers as OH's YBHttpRequest sends them: seconds, a GUID nonce, the
    lowercase hex SHA-256 of timestamp + secret + nonce + timestamp."""
    ts = str(int(time.time())) if ts is None else str(ts)
    nonce = str(uuid.uuid4()) if nonce is None else nonce
    digest = hashlib.sha256((ts + secret + nonce + ts).encode()).hexdigest()
    return {
        "x-tif-paasid": paasid,
        "x-tif-timestamp": ts,
        "x-tif-nonce": nonce,
        "x-tif-signature": digest,
    }


def post(client, body: dict, headers: dict | None = None, path: str = "/fsi/api"):
    return client.post(path, json=body, headers=headers or {})


def answered(response) -> dict:
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["infcode"] == 0, answer["err_msg"]
    return answer["output"]


def refused(response, code: str, field: str = "", status: int = 200) -> dict:
    """A refusal in the envelope (infcode -1, its code, no output) with HTTP 200, or 503
    for the store (national.refusal); its inf_refmsgid in the platform's 30 characters."""
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["infcode"] == -1 and answer["output"] is None, answer
    assert answer["err_code"] == code, answer["err_msg"]
    assert field in answer["err_msg"]
    assert len(answer["inf_refmsgid"]) == 30 and answer["inf_refmsgid"].isdigit()
    return answer


# OH Input_1101.cs; an ID number (02) matching no certno on record is read as the member id
MEMBER = {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "P001"}}


def issued(service) -> auth.Issued:
    return auth.issue_credential(service.db, HOSPITAL, "his")


# -- signing: accepted, refused, and Bearer beside it ---------------------------------------
def test_a_signed_request_is_answered_as_a_bearer_one_is(service):
    his = issued(service)
    with service.client(None) as c:
        info = answered(post(c, envelope("1101", MEMBER), signed(his.paasid, his.secret)))
        assert info["baseinfo"]["psn_no"] == "P001"
        # the hex in capitals (a client that does not lowercase): compared ignoring case
        upper = signed(his.paasid, his.secret)
        upper["x-tif-signature"] = upper["x-tif-signature"].upper()
        answered(post(c, envelope("1101", MEMBER), upper))
        # MD-Proxy's nonce: 1 to 10 random digits; X3 spells the header x-tif-paasId
        md = signed(his.paasid, his.secret, nonce="7")
        md["x-tif-paasId"] = md.pop("x-tif-paasid")
        answered(post(c, envelope("1101", MEMBER), md))
        # a timestamp in milliseconds (as the _api_* clients send theirs) is read too
        ms = signed(his.paasid, his.secret, ts=int(time.time() * 1000))
        answered(post(c, envelope("1101", MEMBER), ms))
        # signed headers are for the national paths; REST still asks for a Bearer token
        rest = c.get("/v1/visits", headers=signed(his.paasid, his.secret))
        assert rest.status_code == 401 and rest.json()["code"] == "E_UNAUTHORIZED"
    with service.client(service.hospital) as c:  # the Bearer token goes on everywhere
        answered(post(c, envelope("1101", MEMBER)))
        assert c.get("/v1/visits").status_code == 200
    with service.client(his.token) as c:  # the signed credential's own token too
        answered(post(c, envelope("1101", MEMBER)))


def test_each_bad_signature_is_refused_in_the_envelope_and_writes_nothing(service):
    his = issued(service)
    registration = {
        "data": {
            "psn_no": "P001",
            "insutype": "310",
            "begntime": "2023-03-01 10:00:00",
            "ipt_otp_no": "MZ1",
        }
    }
    before = snapshot(service.db)
    once = signed(his.paasid, his.secret)
    with service.client(None) as c:

        def attempt(headers: dict):
            return post(c, envelope("2201", registration), headers)

        refused(attempt(signed(his.paasid, "not-the-secret")), "E_SIGNATURE", "x-tif-signature")
        # each timestamp read from the clock when it is sent: on a slow machine the
        # requests before it take seconds, and "now + 301" from the test's start is then
        # inside the window
        refused(
            attempt(signed(his.paasid, his.secret, ts=int(time.time()) - 310)),
            "E_SIGNATURE_TIME",
            "x-tif-timestamp",
        )
        refused(
            attempt(signed(his.paasid, his.secret, ts=int(time.time()) + 310)), "E_SIGNATURE_TIME"
        )
        refused(attempt(signed("gj-nobody", his.secret)), "E_UNAUTHORIZED", "x-tif-paasid")
        partial = signed(his.paasid, his.secret)
        del partial["x-tif-nonce"]
        refused(attempt(partial), "E_UNAUTHORIZED", "x-tif-nonce")
        refused(attempt({}), "E_UNAUTHORIZED", "Bearer")  # no credential at all
        refused(attempt({"Authorization": "Bearer wrong"}), "E_UNAUTHORIZED", "Authorization")
        assert snapshot(service.db) == before
        # the same headers twice: the first is served, the replay refused
        first = answered(attempt(once))
        refused(attempt(once), "E_REPLAYED", "x-tif-nonce")
        assert first["data"]["mdtrt_id"]  # 2201: output.data
    revoked = auth.issue_credential(service.db, HOSPITAL, "old")
    with service.db.begin() as conn:
        id_ = conn.execute(
            select(auth.credentials.c.id).where(auth.credentials.c.paasid == revoked.paasid)
        ).scalar_one()
    auth.revoke(service.db, id_)
    with service.client(None) as c:
        refused(
            post(c, envelope("1101", MEMBER), signed(revoked.paasid, revoked.secret)),
            "E_UNAUTHORIZED",
            "x-tif-paasid",
        )


def test_two_workers_on_one_store_refuse_a_replay_whichever_gets_it(db):
    service, server, thread = start(db)
    url = db.url.render_as_string(hide_password=False)
    other_url, other, other_thread = serve(create_app(Settings(database_url=url, access_log=False)))
    his = issued(service)
    try:
        body = envelope("1101", MEMBER)
        headers = signed(his.paasid, his.secret)
        with service.client(None) as a, httpx.Client(base_url=other_url, timeout=30) as b:
            answered(post(a, body, headers))
            refused(post(b, body, headers), "E_REPLAYED")
            # the same request at once, to both workers, eight times: one is served
            again = signed(his.paasid, his.secret)
            start_line = threading.Barrier(8)

            def send(client):
                start_line.wait()
                return post(client, body, again).json()["infcode"]

            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(send, [a, b] * 4))
        assert sorted(codes) == [-1] * 7 + [0]
    finally:
        for s, t in ((server, thread), (other, other_thread)):
            s.should_exit = True
            t.join(timeout=10)


def test_concurrent_claims_share_a_commit_and_copies_in_one_batch_get_one(db, monkeypatch):
    """Nonces are group-committed: claims arriving together (or while a batch is in the
    store) go in one batch; of two copies of one nonce in one batch, one is taken."""
    nonces = Nonces(db, window=300)
    batches = []
    claim = nonces._claim
    monkeypatch.setattr(
        nonces, "_claim", lambda keys, now: batches.append(keys) or claim(keys, now)
    )
    now = time.time()
    requests = [Signed("p", str(int(now)), f"n{i % 10}", "s") for i in range(20)]

    async def all_at_once():
        return await asyncio.gather(
            *(nonces.claim(7, r, now) for r in requests), return_exceptions=True
        )

    outcomes = asyncio.run(all_at_once())
    refused = [o for o in outcomes if isinstance(o, ServiceError)]
    assert len(refused) == 10 and {e.code for e in refused} == {"E_REPLAYED"}
    assert [len(b) for b in batches] == [20]  # one transaction for all twenty
    # in a later batch each of them is a replay too; a new nonce passes
    again = asyncio.run(all_at_once())
    assert all(isinstance(o, ServiceError) for o in again)
    asyncio.run(nonces.claim(7, Signed("p", str(int(now)), "n10", "s"), now))


def test_a_store_failure_in_a_nonce_batch_is_unavailable_for_each_claim(db, monkeypatch):
    nonces = Nonces(db, window=300)

    def broken(keys, now):
        raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("gone"))

    monkeypatch.setattr(nonces, "_claim", broken)
    now = time.time()

    async def two():
        return await asyncio.gather(
            *(nonces.claim(7, Signed("p", str(int(now)), n, "s"), now) for n in "ab"),
            return_exceptions=True,
        )

    assert [o.code for o in asyncio.run(two())] == ["E_UNAVAILABLE"] * 2
    monkeypatch.undo()
    asyncio.run(nonces.claim(7, Signed("p", str(int(now)), "a", "s"), now))  # nothing was kept


def test_the_credential_command_prints_paasid_and_secret(db, monkeypatch):
    service, server, thread = start(db)
    try:
        monkeypatch.setenv("GONGJI_DATABASE_URL", db.url.render_as_string(hide_password=False))
        run = CliRunner().invoke(cli, ["credential", "issue", "--institution", CLINIC, "--json"])
        assert run.exit_code == 0, run.output
        shown = json.loads(run.stdout)
        assert set(shown) == {"institution", "token", "paasid", "secret"}
        assert shown["institution"] == CLINIC
        plain = CliRunner().invoke(cli, ["credential", "issue", "--institution", CLINIC])
        assert plain.exit_code == 0 and len(plain.stdout.split()) == 1  # the token, as before
        assert "secret:" in plain.stderr
        # an HIS with its paasid and secret written in (OH keeps both as constants)
        oh = ("99999999404", "dec15f850fc54c77a91d245663122cb3")
        fixed = f"credential issue --institution {HOSPITAL} --paasid {oh[0]} --secret {oh[1]}"
        assert CliRunner().invoke(cli, fixed.split()).exit_code == 0
        assert CliRunner().invoke(cli, fixed.split()).exit_code == 2  # the paasid is taken
        with service.client(None) as c:
            clinic = envelope("1101", MEMBER, CLINIC)
            answered(post(c, clinic, signed(shown["paasid"], shown["secret"])))
            answered(post(c, envelope("1101", MEMBER), signed(*oh)))
            # the clinic's signature does not make it the hospital
            other = post(c, envelope("1101", MEMBER), signed(shown["paasid"], shown["secret"]))
            refused(other, "E_FORBIDDEN", "fixmedins_code")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# -- the front door's refusals on the national endpoint --------------------------------------
def test_size_and_rate_refusals_are_envelopes(db):
    service, server, thread = start(db, rate=3, rate_window=3600, max_body=4000)
    his = issued(service)
    try:
        with service.client(None) as c:
            big = envelope("1101", {"data": {"psn_no": "P001", "memo": "x" * 5000}})
            refused(post(c, big, signed(his.paasid, his.secret)), "E_TOO_LARGE")
            # chunked, no Content-Length: refused as it is counted
            chunks = (json.dumps(big)[i : i + 1000].encode() for i in range(0, 6000, 1000))
            streamed = c.post(
                "/fsi/api", content=chunks, headers={"Authorization": f"Bearer {service.hospital}"}
            )
            refused(streamed, "E_TOO_LARGE")
            for _ in range(3):  # the signed credential's own limit
                answered(post(c, envelope("1101", MEMBER), signed(his.paasid, his.secret)))
            refused(
                post(c, envelope("1101", MEMBER), signed(his.paasid, his.secret)), "E_RATE_LIMIT"
            )
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Down:
    """A gate whose store fails, or does not answer (`hang` seconds)."""

    def __init__(self, hang: float = 0.0):
        self.hang = hang

    async def caller(self, authorization):
        await asyncio.sleep(self.hang)
        raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("down"))


@pytest.mark.parametrize("hang", [0.0, 2.0])
def test_the_guards_503_on_the_national_paths_is_an_envelope(hang):
    async def never(scope, receive, send):  # the app: never reached
        raise AssertionError("served")

    guard = Guard(never, max_body=1000, log=False, gate=Down(hang), deadline=0.3)

    async def run():
        transport = httpx.ASGITransport(app=guard)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            headers = {"Authorization": "Bearer x"}
            national = await c.post("/fsi/api", json={}, headers=headers)
            rest = await c.get("/v1/visits", headers=headers)
        return national, rest

    national, rest = asyncio.run(run())
    refused(national, "E_UNAVAILABLE", status=503)
    assert rest.status_code == 503 and rest.json()["code"] == "E_UNAVAILABLE"


# -- the platform's paths ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/fsi/api/rsfComIfsService/callService",  # X1, the platform's dispatcher
        "/fsi/api/fsiPsnInfoService/queryPsnInfo",  # OH ClassHelper.GetPubWay (Hebei), 1101
        "/fsi/api/1101",  # MD-Proxy's base + infno
    ],
)
def test_the_platforms_paths_answer_by_the_bodys_infno(service, path):
    his = issued(service)
    with service.client(None) as c:
        assert answered(post(c, envelope("1101", MEMBER), signed(his.paasid, his.secret), path))
        refused(post(c, envelope("1101", MEMBER), {}, path), "E_UNAUTHORIZED")
    with service.client(service.hospital) as c:
        assert answered(post(c, envelope("1101", MEMBER), path=path))
    description = httpx.get(f"{service.url}/openapi.json").json()
    assert "/fsi/api/rsfComIfsService/callService" in description["paths"]


# -- 9001 / 9002 --------------------------------------------------------------------------------
OH_SIGN_IN = {"signIn": {"opter_no": "001", "mac": "00:E0:70:64:C3:D2", "ip": "10.1.2.3"}}


def test_sign_in_sign_out_and_the_required_mode_across_two_workers(db):
    service, server, thread = start(db, require_sign_in=True)
    url = db.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, access_log=False, require_sign_in=True)
    other_url, other, other_thread = serve(create_app(settings))
    try:
        with (
            service.client(service.hospital) as a,
            httpx.Client(
                base_url=other_url,
                timeout=30,
                headers={"Authorization": f"Bearer {service.hospital}"},
            ) as b,
        ):
            refused(post(a, envelope("1101", MEMBER)), "E_SIGN_IN", "sign_no")
            # OH Input_9001.cs: signIn {opter_no, mac, ip}; the answer as OH Output_9001
            out = answered(post(a, envelope("9001", OH_SIGN_IN)))
            sign_no = out["signinoutb"]["sign_no"]
            assert sign_no and out["sign_no"] == sign_no
            datetime.strptime(out["signinoutb"]["sign_time"], "%Y-%m-%d %H:%M:%S")
            # the other worker knows it (the store holds sign-ins)
            answered(post(b, envelope("1101", MEMBER, sign_no=sign_no)))
            refused(post(b, envelope("1101", MEMBER, sign_no="999999")), "E_SIGN_IN")
            with service.client(service.clinic) as clinic:  # not the clinic's sign-in
                refused(
                    post(clinic, envelope("1101", MEMBER, CLINIC, sign_no=sign_no)), "E_SIGN_IN"
                )
            with service.client(service.bureau) as bureau:  # the bureau reads, unsigned
                answered(post(bureau, envelope("1101", MEMBER)))
                refused(post(bureau, envelope("9001", {"signIn": {}})), "E_FORBIDDEN")
            # MD QT9002.cs: signOut {sign_no, opter_no}, answered signoutoutb.sign_time
            done = answered(
                post(b, envelope("9002", {"signOut": {"sign_no": sign_no, "opter_no": "001"}}))
            )
            when = done["signoutoutb"]["sign_time"]
            assert done["sign_time"] == when  # OH Output_9002 reads it flat
            refused(post(a, envelope("1101", MEMBER, sign_no=sign_no)), "E_SIGN_IN")
            # a retried sign-out answers the same; OH's flat 9002, with the envelope's sign_no
            again = answered(post(a, envelope("9002", {"opter_no": "001"}, sign_no=sign_no)))
            assert again["signoutoutb"]["sign_time"] == when
            refused(
                post(a, envelope("9002", {"signOut": {"sign_no": "12345678901234"}})),
                "E_NOT_FOUND",
                "input.signOut.sign_no",
            )
            # X1 (YBINIT): input a string of JSON, no signIn wrapper; output.sign_no flat
            x1 = envelope(
                "9001",
                json.dumps({"opter_no": "001", "mac": "", "ip": "10.1.2.3"}),
                opter_type=1,
                infver="V1.0",
            )
            answered(post(a, envelope("1101", MEMBER, sign_no=answered(post(a, x1))["sign_no"])))
    finally:
        for s, t in ((server, thread), (other, other_thread)):
            s.should_exit = True
            t.join(timeout=10)


def test_without_the_required_mode_no_sign_in_is_asked(service):
    with service.client(service.hospital) as c:
        answered(post(c, envelope("1101", MEMBER, sign_no="not-a-sign-in")))


# -- inf_refmsgid -------------------------------------------------------------------------------
def test_inf_refmsgid_is_the_platforms_30_characters_and_unique(service):
    started = datetime.now().replace(microsecond=0)
    with service.client(service.hospital) as c:

        def ask(n: int) -> str:
            if n % 10 == 0:  # refusals have one too
                return post(c, envelope("9999", {}))
            return post(c, envelope("1101", MEMBER))

        with ThreadPoolExecutor(8) as pool:
            ids = [r.json()["inf_refmsgid"] for r in pool.map(ask, range(200))]
    assert len(set(ids)) == 200
    for refmsgid in ids:
        assert len(refmsgid) == 30 and refmsgid.isdigit() and refmsgid[:6] == "410200"
        at = datetime.strptime(refmsgid[6:20], "%Y%m%d%H%M%S")
        assert started <= at <= datetime.now()


def test_worker_processes_number_their_refmsgids_apart(db):
    url = db.url.render_as_string(hide_password=False)
    script = (
        "import sys; from gongji.ledger import store; from gongji.service import refmsgid;"
        " refmsgid.start(store.connect(sys.argv[1]));"
        " print(*(refmsgid.new(None) for _ in range(3000)))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url], stdout=subprocess.PIPE, env=env, text=True
        )
        for _ in range(3)
    ]
    ids = [p.communicate(timeout=60)[0].split() for p in procs]
    every = [i for each in ids for i in each]
    assert len(every) == 9000 and len(set(every)) == 9000
    assert len({each[0][20:24] for each in ids}) == 3  # three worker numbers
    assert all(len(i) == 30 and i.startswith("000000") for i in every)


# -- bodies in GBK ------------------------------------------------------------------------------
def _opters(db) -> list:
    with db.connect() as conn:
        return conn.execute(select(sign_ins.c.opter_no).order_by(sign_ins.c.id)).scalars().all()


def test_a_gbk_body_is_read_and_an_undecodable_one_refused_by_name(service):
    his = issued(service)

    def raw(client, content: bytes, content_type: str):
        headers = {**signed(his.paasid, his.secret), "content-type": content_type}
        return client.post("/fsi/api", content=content, headers=headers)

    def sign_in(opter: str) -> dict:
        return envelope("9001", {"signIn": {"opter_no": opter, "ip": "10.1.2.3"}})

    with service.client(None) as c:
        # OH YBHttpRequest: Encoding.Default (GBK on Chinese Windows), bare application/json
        gbk = json.dumps(sign_in("收费员甲"), ensure_ascii=False).encode("gbk")
        answered(raw(c, gbk, "application/json"))
        named = json.dumps(sign_in("收费员乙"), ensure_ascii=False).encode("gbk")
        answered(raw(c, named, "application/json; charset=GBK"))
        utf8 = json.dumps(sign_in("收费员丙"), ensure_ascii=False).encode()
        answered(raw(c, utf8, "application/json;charset=utf-8"))  # X1
        assert _opters(service.db) == ["收费员甲", "收费员乙", "收费员丙"]
        # GBK bytes under a charset that says UTF-8: the client said what it sent
        said = refused(raw(c, gbk, "application/json; charset=utf-8"), "E_INPUT", "(body)")
        assert "utf-8" in said["err_msg"]
        # neither UTF-8 nor GB18030 (0x80 alone is neither)
        refused(
            raw(c, b'{"infno": "9001", "msgid": "\x80"}', "application/json"), "E_INPUT", "(body)"
        )
        refused(raw(c, utf8, "application/json; charset=klingon"), "E_INPUT", "Content-Type")
    assert len(_opters(service.db)) == 3


# -- the envelope as clients fill it ----------------------------------------------------------
def test_a_visit_through_the_a_variants_with_the_envelopes_clients_send(service):
    his = issued(service)

    def call(c, infno: str, input: object, **changes) -> dict:
        return answered(post(c, envelope(infno, input, **changes), signed(his.paasid, his.secret)))

    with service.client(None) as c:
        # X1: opter_type a JSON number, infver V1.0; MD: begntime a date-time in ISO form
        registered = call(
            c,
            "2201",
            {
                "data": {
                    "psn_no": "P001",
                    "insutype": "310",
                    "begntime": "2023-03-01T10:00:00",
                    "ipt_otp_no": "MZ1",
                }
            },
            opter_type=1,
            infver="V1.0",
        )
        mdtrt_id = registered["data"]["mdtrt_id"]
        # OH 2203A, input as X1 sends it (a string of JSON), "" for the insured region
        visit = {
            "mdtrtinfo": {
                "mdtrt_id": mdtrt_id,
                "psn_no": "P001",
                "med_type": "11",
                "begntime": "2023-03-01 10:00:00",
            },
            "diseinfo": [{"diag_code": "J06.900"}],
        }
        call(c, "2203A", json.dumps(visit), insuplc_admdvs="")
        line = {
            "feedetl_sn": "1",
            "mdtrt_id": mdtrt_id,
            "med_list_codg": "001101000010000",
            "cnt": 1,
            "pric": 250.00,
            "det_item_fee_sumamt": 250.00,
            "fee_ocur_time": "2023-03-01 10:05:00",
        }
        call(c, "2204", {"feedetail": [line]})
        # CMW 2206A/2207A; NYB/HN-style inf_time (a serialiser's ISO form with an offset)
        pre = call(c, "2206A", settle_input(mdtrt_id), inf_time="2023-03-01T10:10:00+08:00")
        msgid = f"{HOSPITAL}{datetime.now():%Y%m%d%H%M%S}A207"
        paid = call(c, "2207A", settle_input(mdtrt_id), msgid=msgid, sign_no=None)
        assert paid["setlinfo"]["medfee_sumamt"] == pre["setlinfo"]["medfee_sumamt"] == 250.0
        assert not views.find_settlement(service.db, f"{HOSPITAL}:{msgid}").cancelled
        # 2601 naming the A variant reverses the 2207A
        call(c, "2601", {"data": {"psn_no": "P001", "omsgid": msgid, "oinfno": "2207A"}})
        assert views.find_settlement(service.db, f"{HOSPITAL}:{msgid}").cancelled
        # what is still refused: an infno no client sends, input that is not an object
        bad = post(c, envelope("22O7", {}), signed(his.paasid, his.secret))
        refused(bad, "E_INFNO", "infno")
        bad = post(c, envelope("1101", "[1, 2]"), signed(his.paasid, his.secret))
        refused(bad, "E_INPUT", "input")
