"""Issue 17 at the service, on both stores: client input beyond what the store can hold or
the code can read is a 4xx (or `infcode` -1) naming the field, and changes nothing — never a
5xx, and never a write followed by an error."""

import json
import re
from decimal import Decimal

import pytest

from gongji.ledger import check, views

from .conftest import HOSPITAL, snapshot
from .test_national import call, msgid, ok, registered_visit, settle_input

DEEP = "[" * 1000 + "]" * 1000  # beyond the parser's stack: the body is named
NESTED = "[" * 100 + "]" * 100  # read, then refused where it starts
VISIT = {"id": "V1", "time": "2023-03-01T10:00:00", "institution": HOSPITAL, "total": "80.00"}


def post_raw(client, path: str, text: str):
    return client.post(path, content=text.encode(), headers={"content-type": "application/json"})


def journal(db) -> list:
    return views.account_show(db, "P001")["journal"]


SETTLE = '{"txn_id": "T1", "member_id": "P001", "visit": {"a": '


@pytest.mark.parametrize(
    ("path", "token", "text", "field"),
    [
        ("/v1/settlements", "hospital", DEEP, "(body)"),
        ("/v1/settlements", "hospital", SETTLE + DEEP + "}}", "(body)"),
        ("/v1/settlements", "hospital", SETTLE + NESTED + "}}", "visit.a[0]"),
        ("/v1/members", "bureau", '{"region": "kaifeng", "member": ' + DEEP + "}", "(body)"),
        ("/v1/members", "bureau", '{"region": "kaifeng", "member": ' + NESTED + "}",
         "member[0][0]"),
        ("/v1/settlements", "hospital",
         '{"txn_id": "T1", "member_id": "P001", "visit": {"id": "V1", "total": NaN}}',
         "visit.total"),
        ("/v1/settlements", "hospital",
         '{"txn_id": "T1", "member_id": "P001\\u0000", "visit": {}}', "member_id"),
        ("/v1/settlements", "hospital",
         '{"txn_id": "T\\ud800", "member_id": "P001", "visit": {}}', "txn_id"),
    ],
)  # fmt: skip
def test_a_body_no_store_can_hold_is_a_422_naming_the_field(service, path, token, text, field):
    before = journal(service.db)
    with service.client(getattr(service, token)) as c:
        r = post_raw(c, path, text)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and r.json()["code"] == "E_INPUT"
    assert journal(service.db) == before


def test_a_national_envelope_no_store_can_hold_is_refused_by_field(service):
    with service.client(service.hospital) as c:
        deep = post_raw(c, "/fsi/api", DEEP).json()
        envelope = '{"infno": "1101", "msgid": "M1", "fixmedins_code": "' + HOSPITAL + '", '
        nested = post_raw(c, "/fsi/api", envelope + '"input": {"data": ' + NESTED + "}}").json()
        mdtrt_id = registered_visit(c)
        data = {"psn_no": "P001", "mdtrt_id": mdtrt_id, "medfee_sumamt": "@"}
        text = json.dumps({"infno": "2207", "msgid": msgid(), "fixmedins_code": HOSPITAL,
                           "input": {"data": data}})  # fmt: skip
        nan = post_raw(c, "/fsi/api", text.replace('"@"', "NaN")).json()
    assert deep["infcode"] == -1 and "(body)" in deep["err_msg"]
    assert nested["infcode"] == -1 and "input.data" in nested["err_msg"]
    assert "nested deeper than 32" in nested["err_msg"]
    assert nan["infcode"] == -1 and "input.data.medfee_sumamt" in nan["err_msg"]
    assert journal(service.db)[-1]["kind"] == "opening"
    assert check.problems(service.db) == []


# -- the national transactions: every field read before anything is written -----------------
def national(client, infno: str, input: dict, **envelope) -> dict:
    """A transaction sent as a client could: lone surrogates as \\u escapes (httpx's json=
    cannot encode them), any value "@raw:TEXT" as the raw JSON TEXT (1e400, NaN)."""
    document = {"infno": infno, "msgid": msgid(), "mdtrtarea_admvs": "410200",
                "insuplc_admdvs": "410200", "fixmedins_code": HOSPITAL, "input": input,
                **envelope}  # fmt: skip
    text = json.dumps(document, ensure_ascii=True)
    text = re.sub(r'"@raw:([^"]*)"', r"\1", text)
    r = post_raw(client, "/fsi/api", text)
    assert r.status_code == 200, r.text
    return r.json()


def refused(answer: dict, field: str) -> None:
    assert answer["infcode"] == -1 and answer["output"] is None, answer
    assert answer["err_code"] == "E_INPUT" and field in answer["err_msg"], answer["err_msg"]
    assert "请求内容有误" in answer["err_msg"]


def fees(mdtrt_id: str, **changes) -> dict:
    line = {"feedetl_sn": "9", "mdtrt_id": mdtrt_id, "med_list_codg": "001101000010000",
            "cnt": 1, "pric": 10.00, "det_item_fee_sumamt": 10.00, **changes}  # fmt: skip
    return {"feedetail": [line]}


def test_nothing_is_written_before_an_answer_that_cannot_be_sent(service):
    """Item 2: a lone surrogate in the envelope, a serial of 10^30: refused before any
    write (they were written, then answered 500 on every retry)."""
    bad = {"insuplc_admdvs": "\ud800"}
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
        before = snapshot(service.db)
        answers = {
            "2207": national(c, "2207", settle_input(mdtrt_id), **bad),
            "2201": national(c, "2201", {"data": {"psn_no": "P001", "begntime": "2023-03-01",
                                                  "ipt_otp_no": "@raw:" + "1" + "0" * 30}}),
            "2201 text": national(c, "2201", {"data": {"psn_no": "P001", "begntime": "2023-03-01",
                                                       "ipt_otp_no": "S" * 31}}),
            "2204": national(c, "2204", fees(mdtrt_id, feedetl_sn="@raw:1" + "0" * 30)),
        }  # fmt: skip
        assert snapshot(service.db) == before
        mid = msgid()
        ok(call(c, "2207", settle_input(mdtrt_id), mid=mid))  # the good request settles
        settled = snapshot(service.db)
        cancel = {"setl_id": mid, "mdtrt_id": mdtrt_id, "psn_no": "P001"}
        answers["2208"] = national(c, "2208", {"data": cancel}, **bad)
        answers["2601"] = national(
            c, "2601", {"data": {"psn_no": "P001", "omsgid": mid, "oinfno": "2207"}}, **bad
        )
        assert snapshot(service.db) == settled  # neither cancelled nor reversed
        serial = national(c, "2201", {"data": {"psn_no": "P001", "begntime": "2023-03-02",
                                               "ipt_otp_no": 12345}})  # fmt: skip
    for infno, field in (("2207", "insuplc_admdvs"), ("2208", "insuplc_admdvs"),
                         ("2601", "insuplc_admdvs"), ("2201", "input.data.ipt_otp_no"),
                         ("2201 text", "input.data.ipt_otp_no"),
                         ("2204", "input.feedetail[0].feedetl_sn")):  # fmt: skip
        refused(answers[infno], field)
    assert serial["output"]["data"]["ipt_otp_no"] == "12345"  # C(30): a number sent is read as text
    assert views.member_show(service.db, "P001")["account_balance"] == Decimal("175.00")
    assert check.problems(service.db) == []


PERIOD = {"stmt_begndate": "2023-03-01", "stmt_enddate": "2023-03-31", "setl_optins": "410200"}
TOTALS = {"medfee_sumamt": 0, "fund_pay_sumamt": 0, "acct_pay": 0, "fixmedins_setl_cnt": 0}
ROW = {"setl_id": "S1", "medfee_sumamt": 1, "fund_pay_sumamt": 0, "acct_pay": 0}


@pytest.mark.parametrize(
    ("infno", "data", "field"),
    [
        ("2207", {"medfee_sumamt": True}, "input.data.medfee_sumamt"),
        ("2207", {"medfee_sumamt": {}}, "input.data.medfee_sumamt"),
        ("2207", {"medfee_sumamt": "1e400"}, "input.data.medfee_sumamt"),
        ("2207", {"medfee_sumamt": "@raw:Infinity"}, "input.data.medfee_sumamt"),
        ("2207", {"med_type": "1" * 7}, "input.data.med_type"),
        ("2207", {"psn_no": "P" * 41}, "input.data.psn_no"),
        ("2207", {"acct_used_flag": "\x07"}, "input.data.acct_used_flag"),
        ("2204", {"cnt": "1e30"}, "input.feedetail[0].cnt"),
        ("2204", {"pric": "@raw:1e400"}, "input.feedetail[0].pric"),
        ("2204", {"rxno": "R" * 101}, "input.feedetail[0].rxno"),
        ("2203", {"dise_codg": "@raw:1e400"}, "input.mdtrtinfo.dise_codg"),
        ("2203", {"med_type": "x" * 20}, "input.mdtrtinfo.med_type"),
        ("2203", {"diseinfo": "@raw:1e999999"}, "input.diseinfo"),
        ("2201", {"med_type": "x" * 20_000}, "input.data.med_type"),
        ("2201", {"begntime": "9999-12-31 23:59:59"}, "input.data.begntime"),
        ("1101", {"psn_no": "L\x00"}, "input.data.psn_no"),
        ("3201", {"fixmedins_setl_cnt": "NaN"}, "input.data.fixmedins_setl_cnt"),
        ("3201", {"fixmedins_setl_cnt": "1e30"}, "input.data.fixmedins_setl_cnt"),
        ("3201", {"stmt_enddate": "9999-12-31"}, "input.data.stmt_enddate"),
        ("3202", {"stmt_enddate": "9999-12-31"}, "input.data.stmt_enddate"),
        ("3202", {"detail": [{**ROW, "medfee_sumamt": None}]}, "detail[0].medfee_sumamt"),
        ("3202", {"detail": [{**ROW, "acct_pay": True}]}, "detail[0].acct_pay"),
        ("3202", {"detail": [{**ROW, "fund_pay_sumamt": "abc"}]}, "detail[0].fund_pay_sumamt"),
    ],
)
def test_a_national_field_beyond_reason_is_refused_by_name(service, infno, data, field):
    """Item 1: each was a 500 (or on PostgreSQL a 503)."""
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
        before = snapshot(service.db)
        if infno == "2207":
            input = {"data": {**settle_input(mdtrt_id)["data"], **data}}
        elif infno == "2204":
            input = fees(mdtrt_id, **data)
        elif infno == "2203":
            info = {"mdtrt_id": mdtrt_id, "med_type": "11", **data}
            input = {"mdtrtinfo": info, "diseinfo": info.pop("diseinfo", [])}
        elif infno == "2201":
            input = {"data": {"psn_no": "P001", "begntime": "2023-03-02 10:00:00", **data}}
        elif infno == "1101":
            input = {"data": {"mdtrt_cert_type": "01", **data}}
        else:
            input = {"data": {**PERIOD, **(TOTALS if infno == "3201" else {}), **data}}
        answer = national(c, infno, input)
    refused(answer, field)
    assert snapshot(service.db) == before


# -- REST: ids in paths and bodies as the store holds them ------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "token", "field"),
    [
        ("GET", "/v1/members/L%00", "hospital", "member_id"),
        ("GET", "/v1/members/" + "L" * 41, "bureau", "member_id"),
        ("GET", "/v1/accounts/P001%07", "bureau", "member_id"),
        ("GET", "/v1/settlements/T%00", "hospital", "txn_id"),
        ("POST", "/v1/settlements/T%1b/cancel", "hospital", "txn_id"),
        ("POST", "/v1/accounts/P%00/premiums", "bureau", "member_id"),
    ],
)
def test_an_id_in_a_path_no_store_can_hold_is_a_422(service, method, path, token, field):
    """Item 1: on PostgreSQL a NUL in a path was a 500."""
    before = snapshot(service.db)
    with service.client(getattr(service, token)) as c:
        r = c.request(method, path, json={} if method == "POST" else None)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and field in r.json()["message_zh"]
    assert snapshot(service.db) == before


PREMIUM = {"op_id": "OP1", "amount": "1.00", "purpose": "family_resident_premium",
           "on": "2023-03-20", "beneficiary": "spouse", "relative": "王芳"}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "token", "body", "field"),
    [
        ("/v1/settlements", "hospital",
         {"txn_id": "T1", "member_id": "P" * 41, "visit": VISIT}, "member_id"),
        ("/v1/settlements", "hospital",
         {"txn_id": "T1\x1b", "member_id": "P001", "visit": VISIT}, "txn_id"),
        ("/v1/settlements", "hospital",
         {"txn_id": "T1", "member_id": "P001", "visit": {**VISIT, "id": "V" * 65}}, "visit.id"),
        ("/v1/settlements", "hospital",
         {"txn_id": "T1", "member_id": "P001",
          "visit": {**VISIT, "time": "9999-12-31T00:00:00"}}, "visit.time"),
        ("/v1/settlements/pre", "hospital", {"member_id": "P\x07", "visit": VISIT}, "member_id"),
        ("/v1/reimbursements", "bureau",
         {"txn_id": "M1", "member_id": "P001", "visit": {**VISIT, "total": "1e999999999"}},
         "visit.total"),
        ("/v1/accounts/P001/premiums", "bureau", {**PREMIUM, "on": "9999-12-31"}, "on"),
        ("/v1/accounts/P001/premiums", "bureau", {**PREMIUM, "relative": "王\x1b"}, "relative"),
        ("/v1/members", "bureau",
         {"region": "kaifeng", "member": {"id": "P" * 41, "type": "employee"}}, "member.id"),
        ("/v1/members", "bureau",
         {"region": "x" * 20_000, "member": {"id": "P9", "type": "employee"}}, "region"),
        ("/v1/bindings", "bureau",
         {"holder": "P001", "user": "P002", "relationship": "spouse", "from": "9999-12-31"},
         "from"),
    ],
)  # fmt: skip
def test_a_body_beyond_the_store_is_a_422(service, path, token, body, field):
    before = snapshot(service.db)
    with service.client(getattr(service, token)) as c:
        r = post_raw(c, path, json.dumps(body, ensure_ascii=True))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field, r.json()
    assert snapshot(service.db) == before
