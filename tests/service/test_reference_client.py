"""A hospital's whole day through the reference HIS client (his_client.py), unchanged: every
request shaped as public HIS client code builds it, signed with x-tif headers, on the
platform's dispatcher path, sign-in required as on the platform; on SQLite and PostgreSQL.

9001 → 1101 → 2201 → 2203A → 2204 → 2206A → 2207A → 2208; a second visit settled and
reversed (2601); a third registered, its fees cancelled (2205) and its registration
cancelled (2202); a fourth settled and left standing; 3201 and the 3202 file flow (9101 →
3202 → 9102) over the month; 9002.

Amounts (Kaifeng, level 3 hospital, an employee with 300.00 in the account): 200.00 in scope
+ 50.00 out of the catalogue = 250.00; deductible 50.00 (KF-9a), then 50% of 150.00 = 75.00
from the fund; the account pays the in-scope share left, 200.00 - 75.00 = 125.00; the 50.00
out of scope is cash (the account pays in-scope costs only, X-5). Balance 300.00 - 125.00.
"""

import io
import json
import re
import subprocess
import zipfile
from datetime import datetime
from decimal import Decimal

import pytest

from gongji import demo
from gongji.ledger import check, members, views
from gongji.service import auth
from tests.service.conftest import HOSPITAL, start
from tests.service.his_client import His

CERTNO = "410202198801150014"  # synthetic; GB 11643 check digit 4; born 1988-01-15, male
VISIT = datetime(2023, 3, 1, 9, 30)
LINES = [("F1", "001101000010000", 1, 200.0, 200.0), ("F2", "UNLISTED-0001", 2, 25.0, 50.0)]
PERIOD = ("2023-03-01", "2023-03-31")


@pytest.fixture
def his(db):
    svc, server, thread = start(db, require_sign_in=True)
    members.add_member(
        db,
        "kaifeng",
        {"id": "P101", "type": "employee", "account_balance": "300.00", "certno": CERTNO,
         "name": "张三", "nationality": "01"},
    )  # fmt: skip
    issued = auth.issue_credential(db, HOSPITAL, "HIS")
    client = His(svc.url, issued.paasid, issued.secret, HOSPITAL, "开封市某医院", "410200")
    yield client, svc
    server.should_exit = True
    thread.join(timeout=10)


def ok(answer: dict) -> dict:
    assert answer["infcode"] == 0, answer["err_msg"]
    assert re.fullmatch(r"\d{30}", answer["inf_refmsgid"])  # region 6 + time 14 + serial 10
    return answer.get("output")


def visit(his: His, psn_no: str, serial: str, when: datetime = VISIT) -> tuple[str, dict]:
    """2201, 2203A and 2204 for one visit; its mdtrt_id and 2206's data."""
    registered = ok(his.register(psn_no, CERTNO, when, serial))["data"]
    assert registered["psn_no"] == psn_no and registered["ipt_otp_no"] == serial
    mdtrt_id = registered["mdtrt_id"]
    assert ok(his.visit_information(psn_no, mdtrt_id, when, "11", "J06.900")) in (None, {})
    lines = [(f"{serial}-{sn}", *rest) for sn, *rest in LINES]
    result = ok(his.fees(psn_no, mdtrt_id, serial, when, lines))["result"]
    # OH deserialises these into decimals: numbers, never null (spec §4.3)
    assert [r["det_item_fee_sumamt"] for r in result] == [200.0, 50.0]
    assert [r["fulamt_ownpay_amt"] for r in result] == [0, 50.0]
    return mdtrt_id, his.settlement_data(psn_no, CERTNO, mdtrt_id, serial, 250.0)


def settled(his: His, psn_no: str, serial: str) -> tuple[str, dict, str]:
    mdtrt_id, data = visit(his, psn_no, serial)
    pre = ok(his.presettle(data))["setlinfo"]
    assert pre["setl_id"] is None and pre["hifp_pay"] == 75.0
    out = ok(his.settle(data, pre))
    return mdtrt_id, out, his.sent[-1]["msgid"]


def test_a_hospitals_day_through_an_unchanged_his_client(his):
    his, svc = his
    signed_in = ok(his.sign_in())["signinoutb"]
    assert his.sign_no and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", signed_in["sign_time"])

    # 1101 by the ID card, as a hospital knows its patient
    member = ok(his.member("02", CERTNO))
    base, insured = member["baseinfo"], member["insuinfo"][0]
    psn_no = base["psn_no"]
    assert (psn_no, base["certno"], base["psn_name"], base["gend"]) == ("P101", CERTNO, "张三", "1")
    assert base["brdy"] == "1988-01-15" and isinstance(base["age"], int | float)
    assert insured["insutype"] == "310" and insured["balc"] == 300.0
    assert his.insuplc == insured["insuplc_admdvs"] == "410200"

    # the first visit: pre-settled, settled, cancelled (2208)
    mdtrt_id, out, settle_msgid = settled(his, psn_no, "MZ001")
    info = out["setlinfo"]
    assert {k: info[k] for k in ("medfee_sumamt", "fulamt_ownpay_amt", "inscp_scp_amt",
                                 "act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "acct_pay",
                                 "psn_cash_pay", "psn_part_amt", "balc")} == {
        "medfee_sumamt": 250.0, "fulamt_ownpay_amt": 50.0, "inscp_scp_amt": 200.0,
        "act_pay_dedc": 50.0, "hifp_pay": 75.0, "fund_pay_sumamt": 75.0, "acct_pay": 125.0,
        "psn_cash_pay": 50.0, "psn_part_amt": 175.0, "balc": 175.0,
    }  # fmt: skip
    assert (info["psn_no"], info["mdtrt_id"], info["certno"]) == (psn_no, mdtrt_id, CERTNO)
    assert info["medins_setl_id"] == settle_msgid and info["setl_id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", info["setl_time"])
    assert all(row["crt_payb_lmt_amt"] is not None for row in out["setldetail"])
    cancelled = ok(his.cancel_settlement(info["setl_id"], mdtrt_id, psn_no))["setlinfo"]
    assert cancelled["medfee_sumamt"] == -250.0 and cancelled["hifp_pay"] == -75.0
    assert cancelled["balc"] == 300.0
    assert cancelled["medins_setl_id"] == his.sent[-1]["msgid"]  # the 2208's own

    # the second: its answer lost, the HIS reverses the 2207 (2601)
    _, lost, lost_msgid = settled(his, psn_no, "MZ002")
    assert lost["setlinfo"]["balc"] == 175.0
    assert ok(his.reverse(psn_no, lost_msgid, "2207")) in (None, {})
    assert views.member_show(svc.db, psn_no)["account_balance"] == Decimal("300.00")

    # the third: registered, fees uploaded, then all withdrawn before settling
    third, _ = visit(his, psn_no, "MZ003")
    assert ok(his.cancel_fees(psn_no, third)) in (None, {})
    assert ok(his.cancel_registration(psn_no, third, "MZ003")) in (None, {})

    # the fourth stands
    _, kept, kept_msgid = settled(his, psn_no, "MZ004")
    setl_id = kept["setlinfo"]["setl_id"]

    # the month reconciled: totals (3201), then the detail file (9101 → 3202 → 9102)
    totals = ok(his.totals(*PERIOD, medfee=250.0, fund=75.0, acct=125.0, count=1))
    assert totals["stmtinfo"]["stmt_rslt"] == "0", totals["stmtinfo"]["stmt_rslt_dscr"]
    uploaded = ok(his.upload([(setl_id, kept["setlinfo"]["mdtrt_id"], psn_no, "250.00", "75.00",
                               "125.00", "0")], "MX202303"))  # fmt: skip
    details = ok(his.details(uploaded["file_qury_no"], *PERIOD, 250.0, 75.0, 50.0, 1))
    fileinfo = details["fileinfo"]
    result = his.download(fileinfo["file_qury_no"], fileinfo["filename"])
    with zipfile.ZipFile(io.BytesIO(result)) as z:
        rows = [line.split("\t") for line in z.read("result.txt").decode().splitlines()]
    ours = [row for row in rows if row[2] == setl_id]
    assert len(ours) == 1 and ours[0][4] == "0"  # this settlement: balanced
    assert (ours[0][0], ours[0][3]) == (psn_no, kept_msgid)

    # signed out: the sign_no no longer opens a transaction
    assert ok(his.sign_out())["signoutoutb"]["sign_time"]
    after = his.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": CERTNO}})
    assert after["infcode"] == -1 and after["err_code"] == "E_SIGN_IN"
    assert check.problems(svc.db) == []


def test_the_demos_signed_curl_command_answers_1101(db):
    """The command `gongji demo` prints for an integrator, pasted into a shell as is."""
    svc, server, thread = start(db)
    try:
        members.add_member(db, "kaifeng", {"id": "P101", "type": "employee", "certno": CERTNO})
        issued = auth.issue_credential(db, HOSPITAL, "HIS")
        command = demo.signed_1101(issued, CERTNO, svc.url)
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    answer = json.loads(done.stdout)
    assert answer["infcode"] == 0, answer["err_msg"]
    assert answer["output"]["baseinfo"]["psn_no"] == "P101"
