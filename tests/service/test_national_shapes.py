"""Issue 18 items 4-7 and 9: the national transactions in the shapes HIS clients read, on
SQLite and PostgreSQL, with hand-computed Kaifeng figures (KF-9a/9d, level 3: a deductible of
50 a visit, then 50% for an employee). Sources of the shapes, per the spec's source list
(shared/spec/national-interface.md §0.2): OH Output_2201.cs / MD GH2201.Out2201data (2201),
OH Input_2202.cs / MD GH2202.cs (2202), OH Input_2204.cs, Output_2204.cs (2204), OH
Input_2205.cs / MD ZJ2205.cs (2205), OH Output_2207.cs and the Hebei 2207 sample in
ClassHelper.cs (2207), OH Output_2208.cs / MD ZJCX2208.cs (2208), OH Input_2601.cs (2601)."""

import re
from datetime import date
from decimal import Decimal

import httpx
from sqlalchemy import select, update

from gongji import policy
from gongji.ledger import check, views
from gongji.ledger.schema import entries, members, settlements
from gongji.service.setlinfo import age

from .conftest import HOSPITAL, snapshot
from .test_national import call, msgid, ok, registered_visit, settle_input

# setlinfo's fields, as the spec's 2207 table lists them (§5.10, OH Output_2207.cs)
SETLINFO = [
    "mdtrt_id", "setl_id", "psn_no", "psn_name", "psn_cert_type", "certno", "gend", "naty",
    "brdy", "age", "insutype", "psn_type", "cvlserv_flag", "setl_time", "mdtrt_cert_type",
    "med_type", "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt",
    "inscp_scp_amt", "act_pay_dedc", "hifp_pay", "pool_prop_selfpay", "cvlserv_pay",
    "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay", "fund_pay_sumamt",
    "psn_part_amt", "acct_pay", "psn_cash_pay", "hosp_part_amt", "balc", "acct_mulaid_pay",
    "medins_setl_id", "clr_optins", "clr_way", "clr_type",
]  # fmt: skip
SETLDETAIL = ["fund_pay_type", "inscp_scp_amt", "crt_payb_lmt_amt", "fund_payamt",
              "fund_pay_type_name", "setl_proc_info"]  # fmt: skip


def with_identity(db, member: str = "P001") -> None:
    """The member's identity as migration 0014 keeps it (born 1986-10-04, as in the Hebei
    2207 sample)."""
    with db.begin() as conn:
        conn.execute(
            update(members)
            .where(members.c.id == member)
            .values(
                psn_cert_type="01",
                certno="410203198610040011",
                name="张三",
                gender="1",
                birth_date=date(1986, 10, 4),
                nationality="01",
            )
        )


def refused(answer: dict, code: str, field: str) -> None:
    assert answer["infcode"] == -1 and answer["output"] is None, answer
    assert answer["err_code"] == code and field in answer["err_msg"], answer["err_msg"]


def cancel_input(setl_id: str, mdtrt_id: str, member: str = "P001") -> dict:
    return {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": member}}


def balance(service, member: str = "P001") -> Decimal:
    return views.member_show(service.db, member)["account_balance"]


# -- item 4: 2201's output.data; insutype, psn_setlway, acct_used_flag honoured or refused ---
def test_2201_answers_under_output_data_and_refuses_another_insurance(service):
    data = {"psn_no": "P001", "insutype": "310", "begntime": "2023-03-01 10:00:00",
            "ipt_otp_no": "MZ001", "mdtrt_cert_type": "02", "mdtrt_cert_no": "P001"}  # fmt: skip
    with service.client(service.hospital) as c:
        out = ok(call(c, "2201", {"data": data}))
        before = snapshot(service.db)
        residents = call(c, "2201", {"data": {**data, "insutype": "390"}})
    assert list(out) == ["data"]
    assert out["data"] == {"mdtrt_id": out["data"]["mdtrt_id"], "psn_no": "P001",
                           "ipt_otp_no": "MZ001"}  # fmt: skip
    refused(residents, "E_UNSUPPORTED", "input.data.insutype")
    assert snapshot(service.db) == before


def test_settlement_way_insurance_and_account_flag_are_honoured_or_refused(service):
    """2206 (writes nothing) with the flags clients send. 250 total, 50 out of scope; 200 in
    scope: deductible 50, 50% of 150 = 75 from the fund. acct_used_flag 1 or 01: the account
    pays the share 125, cash 50; 0: the account pays nothing, cash 175."""
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
        base = settle_input(mdtrt_id)["data"] | {"psn_setlway": "01"}
        before = snapshot(service.db)

        def presettle(**changes) -> dict:
            return call(c, "2206", {"data": base | changes})

        answers = {flag: presettle(acct_used_flag=flag) for flag in ("1", "01", "0", "00", "2")} | {
            "quota": presettle(psn_setlway="02"),
            "unknown way": presettle(psn_setlway="03"),
            "residents": presettle(insutype="390"),
        }
    paid = {
        flag: tuple(ok(answers[flag])["setlinfo"][k] for k in ("hifp_pay", "acct_pay",
                                                                "psn_cash_pay", "balc"))
        for flag in ("1", "01", "0")
    }  # fmt: skip
    assert paid == {
        "1": (75.0, 125.0, 50.0, 175.0),
        "01": (75.0, 125.0, 50.0, 175.0),
        "0": (75.0, 0.0, 175.0, 300.0),
    }
    refused(answers["00"], "E_INPUT", "input.data.acct_used_flag")
    refused(answers["2"], "E_INPUT", "input.data.acct_used_flag")
    refused(answers["quota"], "E_UNSUPPORTED", "input.data.psn_setlway")
    assert "按定额结算" in answers["quota"]["err_msg"]
    refused(answers["unknown way"], "E_INPUT", "input.data.psn_setlway")
    refused(answers["residents"], "E_UNSUPPORTED", "input.data.insutype")
    assert snapshot(service.db) == before


def test_med_types_map_through_the_pack_with_their_article(service):
    """41 (a pharmacy purchase) is general outpatient care in Kaifeng (KF-23): the same
    figures as 11; 13 (emergency) has no Kaifeng policy and is refused, naming the codes."""
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
        data = settle_input(mdtrt_id)["data"]
        pharmacy = ok(call(c, "2206", {"data": data | {"med_type": "41"}}))
        emergency = call(c, "2206", {"data": data | {"med_type": "13"}})
    info = pharmacy["setlinfo"]
    assert (info["med_type"], info["hifp_pay"], info["acct_pay"]) == ("41", 75.0, 125.0)
    refused(emergency, "E_INPUT", "input.data.med_type")
    assert "(11, 41)" in emergency["err_msg"]
    kaifeng = policy.load_region("kaifeng")
    assert (
        kaifeng.med_types["41"].rule == "KF-23" and kaifeng.med_types["41"].article == "第二十三条"
    )


def test_every_med_type_maps_to_a_category_the_region_has():
    """The packs' codes (§7.5: 11 general, 13 emergency, 14 chronic/special, 41 pharmacy)."""
    found = {
        region: {code: policy.load_region(region).category_of(code).value
                 for code in policy.load_region(region).med_types}
        for region in ("kaifeng", "panzhihua", "xishuangbanna", "jiamusi", "nanyang")
    }  # fmt: skip
    assert found["kaifeng"] == {"11": "general", "41": "general"}
    assert found["panzhihua"]["41"] == "general" and found["panzhihua"]["14"] == "chronic"
    assert found["xishuangbanna"]["13"] == "emergency" and found["xishuangbanna"]["41"] == "general"
    assert found["jiamusi"] == {"11": "general", "14": "chronic"}  # no pharmacy pooling text
    # 第十三条 brings pharmacies in (the prescription channel's reading, M-3)
    assert found["nanyang"] == {"11": "general", "41": "general"}


# -- item 4: 2207's setlinfo and setldetail carry the spec's fields ------------------------------
def test_2207_carries_every_setlinfo_field_with_the_members_identity(service):
    with_identity(service.db)
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
        mid = msgid()
        out = ok(call(c, "2207", settle_input(mdtrt_id), mid=mid))
        again = ok(call(c, "2207", settle_input(mdtrt_id), mid=mid))
        theirs = ok(call(c, "2207", settle_input(registered_visit(c, "P002"), "P002")))
    info = out["setlinfo"]
    assert list(info) == SETLINFO
    assert [list(row) for row in out["setldetail"]] == [SETLDETAIL, SETLDETAIL]
    with service.db.connect() as conn:
        recorded = conn.execute(
            select(entries.c.created_at)
            .join(settlements, settlements.c.entry_id == entries.c.id)
            .where(settlements.c.txn_id == f"{HOSPITAL}:{mid}")
        ).scalar_one()
    # the settlement's own time, as yyyy-MM-dd HH:mm:ss (not the visit's 2023-03-01 10:00)
    assert info["setl_time"] == recorded.strftime("%Y-%m-%d %H:%M:%S")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", info["setl_time"])
    born = date(1986, 10, 4)
    assert {
        k: info[k] for k in ("psn_name", "psn_cert_type", "certno", "gend", "naty", "brdy", "age")
    } == {
        "psn_name": "张三",
        "psn_cert_type": "01",
        "certno": "410203198610040011",
        "gend": "1",
        "naty": "01",
        "brdy": "1986-10-04",
        "age": age(born, recorded.date()),
    }
    assert {k: info[k] for k in ("insutype", "psn_type", "cvlserv_flag", "mdtrt_cert_type",
                                 "med_type", "clr_optins", "clr_way", "clr_type")} == {
        "insutype": "310", "psn_type": "1101", "cvlserv_flag": "0", "mdtrt_cert_type": "01",
        "med_type": "11", "clr_optins": "410200", "clr_way": "1", "clr_type": "11",
    }  # fmt: skip
    # 75 paid of the 150 above the deductible: 0.5; no fund gongji lacks pays anything
    assert info["pool_prop_selfpay"] == 0.5
    assert all(info[k] == 0 for k in ("cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay",
                                      "maf_pay", "oth_pay", "hosp_part_amt"))  # fmt: skip
    # fund 75 + the member's 175 (account 125, cash 50) = 250
    assert (info["fund_pay_sumamt"], info["psn_part_amt"], info["balc"]) == (75.0, 175.0, 175.0)
    assert [(r["fund_pay_type"], r["fund_payamt"], r["crt_payb_lmt_amt"])
            for r in out["setldetail"]] == [("310100", 75.0, 0), ("310200", 125.0, 0)]  # fmt: skip
    assert again == out  # a retry: the same answer, the settlement's time included
    # a member whose identity was never recorded: null, not invented
    other = theirs["setlinfo"]
    assert [other[k] for k in ("psn_name", "certno", "gend", "brdy", "age")] == [None] * 5
    assert other["psn_type"] == "1201"  # a retiree


def test_age_is_in_tenths_on_the_settlement_day():
    # 1986-10-04 to 2021-11-29: 35 years and 56 days of 365: 35.15..., truncated: 35.1
    assert age(date(1986, 10, 4), date(2021, 11, 29)) == 35.1
    # born on 29 February: the birthday is 28 February in a common year
    assert age(date(2000, 2, 29), date(2023, 2, 28)) == 23.0
    # 364 days of the 365 from 2022-02-28: 22.99..., truncated: 22.9
    assert age(date(2000, 2, 29), date(2023, 2, 27)) == 22.9


def post(client: httpx.Client, infno: str, input: dict, mid: str | None = None) -> str:
    envelope = {"infno": infno, "msgid": mid or msgid(), "fixmedins_code": HOSPITAL,
                "insuplc_admdvs": "410200", "input": input}  # fmt: skip
    response = client.post("/fsi/api", json=envelope)
    assert response.status_code == 200
    return response.text


NEGATIVE_ZERO = re.compile(r"-0(\.0*)?(?![.\d])")


def test_a_cancellation_answers_no_negative_zero(service):
    """2208 negates the amounts: 250 → -250, but what was 0 stays 0, never -0.0."""
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
        mid = msgid()
        ok(call(c, "2207", settle_input(mdtrt_id), mid=mid))
        body = post(c, "2208", cancel_input(mid, mdtrt_id))
    assert '"medfee_sumamt":-250.0' in body and '"hifes_pay":0.0' in body
    assert NEGATIVE_ZERO.search(body) is None, NEGATIVE_ZERO.search(body)


# -- item 5: 2204's precision, its one rounding, and re-uploaded lines ------------------------
def fee(mdtrt_id: str, sn: str, code: str, cnt, pric, total, batch: str = "B1") -> dict:
    return {"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": "P001", "chrg_bchno": batch,
            "med_list_codg": code, "medins_list_codg": f"M{sn}", "cnt": cnt, "pric": pric,
            "det_item_fee_sumamt": total, "fee_ocur_time": "2023-03-01 10:05:00",
            "rx_circ_flag": "0", "hosp_appr_flag": "1"}  # fmt: skip


def registered_only(c, member: str = "P001") -> str:
    data = {"psn_no": member, "insutype": "310", "begntime": "2023-03-01 10:00:00",
            "ipt_otp_no": "MZ002", "med_type": "11"}  # fmt: skip
    return ok(call(c, "2201", {"data": data}))["data"]["mdtrt_id"]


EXAMINATION, METFORMIN, ATORVASTATIN = (
    "001101000010000",  # class A
    "XA10BAA001A001010100003",  # class A, payment standard 0.12 a tablet (NY-18)
    "XC10AAA017A001010100004",  # class B, 10% self-pay first, standard 0.18 a tablet
)


def test_2204_keeps_six_decimal_prices_and_four_decimal_counts_rounding_once(service):
    """Worked lines (OH Input_2204.cs: cnt N(16,4), pric N(16,6)):
    1. 1 x 0.125 = 0.125 -> 0.13 (half-up; half-even would give 0.12);
    2. 100 x 0.1234 = 12.34, above the standard 0.12 by 0.0034 a tablet: 0.34 over, 12.00 in
       scope;
    3. 3.3333 x 0.123456 = 0.4115158848 -> 0.41, under its standard 0.18: class B's 10%
       of 41 fen = 4.1 -> 4 fen first, 0.37 in scope.
    Total 0.13 + 12.34 + 0.41 = 12.88; above 0.34, class-B share 0.04, in scope 12.50. All of
    12.50 is under the 50 deductible: the fund pays 0, the account the in-scope 12.50, cash
    0.38; the balance 300 - 12.50 = 287.50."""
    with service.client(service.hospital) as c:
        mdtrt_id = registered_only(c)
        lines = [fee(mdtrt_id, "1", EXAMINATION, 1, "0.125", "0.13"),
                 fee(mdtrt_id, "2", METFORMIN, 100, 0.1234, 12.34),
                 fee(mdtrt_id, "3", ATORVASTATIN, "3.3333", "0.123456", 0.41)]  # fmt: skip
        result = ok(call(c, "2204", {"feedetail": lines}))["result"]
        before = snapshot(service.db)
        wrong = {
            "half-even": call(c, "2204", {"feedetail": [
                fee(mdtrt_id, "4", EXAMINATION, 1, "0.125", "0.12")]}),
            "7 decimals": call(c, "2204", {"feedetail": [
                fee(mdtrt_id, "4", EXAMINATION, 1, "0.1234567", "0.12")]}),
            "5 decimals": call(c, "2204", {"feedetail": [
                fee(mdtrt_id, "4", EXAMINATION, "1.00001", "1", "1.00")]}),
            "member": call(c, "2204", {"feedetail": [
                fee(mdtrt_id, "4", EXAMINATION, 1, 1, 1) | {"psn_no": "P002"}]}),
        }  # fmt: skip
        assert snapshot(service.db) == before
        amounts = {"fulamt_ownpay_amt": 0, "overlmt_selfpay": 0.34, "preselfpay_amt": 0.04,
                   "inscp_scp_amt": 12.50}  # fmt: skip
        data = settle_input(mdtrt_id, total=12.88)["data"] | amounts
        settled = ok(call(c, "2207", {"data": data}))["setlinfo"]
    assert [(r["feedetl_sn"], r["cnt"], r["pric"], r["det_item_fee_sumamt"]) for r in result] == [
        ("1", 1.0, 0.125, 0.13),
        ("2", 100.0, 0.1234, 12.34),
        ("3", 3.3333, 0.123456, 0.41),
    ]
    assert [(r["overlmt_amt"], r["preselfpay_amt"], r["inscp_scp_amt"]) for r in result] == [
        (0.0, 0.0, 0.13),
        (0.34, 0.0, 12.0),
        (0.0, 0.04, 0.37),
    ]
    assert [(r["pric_uplmt_amt"], r["selfpay_prop"]) for r in result] == [
        (999999.0, 0.0), (0.12, 0.0), (0.18, 0.1)]  # fmt: skip
    refused(wrong["half-even"], "E_INPUT", "input.feedetail[0].det_item_fee_sumamt")
    assert "0.13" in wrong["half-even"]["err_msg"]
    refused(wrong["7 decimals"], "E_INPUT", "input.feedetail[0].pric")
    refused(wrong["5 decimals"], "E_INPUT", "input.feedetail[0].cnt")
    refused(wrong["member"], "E_INPUT", "input.feedetail[0].psn_no")  # P001's visit
    figures = [settled[k] for k in ("medfee_sumamt", "overlmt_selfpay", "preselfpay_amt",
                                    "inscp_scp_amt", "hifp_pay", "acct_pay", "psn_cash_pay",
                                    "balc")]  # fmt: skip
    assert figures == [12.88, 0.34, 0.04, 12.5, 0.0, 12.5, 0.38, 287.5]
    assert balance(service) == Decimal("287.50")
    assert check.problems(service.db) == []


def test_a_fee_line_sent_again_is_a_retry_if_identical_else_refused(service):
    with service.client(service.hospital) as c:
        mdtrt_id = registered_only(c)
        line = fee(mdtrt_id, "1", EXAMINATION, 2, "25.5", "51.00")
        first = ok(call(c, "2204", {"feedetail": [line]}))
        before = snapshot(service.db)
        # the same line, its numbers written otherwise (2 as 2.0, 25.5 as "25.50"): a retry
        again = ok(call(c, "2204", {"feedetail": [line | {"cnt": "2.0", "pric": "25.50"}]}))
        assert snapshot(service.db) == before
        other = call(c, "2204", {"feedetail": [line | {"cnt": 3, "det_item_fee_sumamt": 76.5}]})
        assert snapshot(service.db) == before
        # withdrawn (2205, its batch), the serial takes other content
        ok(call(c, "2205", {"data": {"mdtrt_id": mdtrt_id, "psn_no": "P001",
                                     "chrg_bchno": "B1"}}))  # fmt: skip
        ok(call(c, "2204", {"feedetail": [line | {"cnt": 3, "det_item_fee_sumamt": 76.5}]}))
        pre = ok(call(c, "2206", settle_input(mdtrt_id, total=76.5)))
    assert again == first
    refused(other, "E_FEE_CONFLICT", "input.feedetail[0].feedetl_sn")
    assert pre["setlinfo"]["medfee_sumamt"] == 76.5  # 3 x 25.50


# -- item 6: 2202 and 2205, refused on a settled visit; 2601 of a 2208 -------------------------
def test_2205_withdraws_a_batch_or_all_and_never_a_settled_visits(service):
    """Batches B1 (200 + 50) and B2 (30): withdrawing B2 leaves 250; "0000" (or no batch, as
    MD's normal path sends it) leaves none."""
    with service.client(service.hospital) as c:
        mdtrt_id = registered_only(c)
        lines = [fee(mdtrt_id, "1", EXAMINATION, 1, 200, 200),
                 fee(mdtrt_id, "2", "UNLISTED-0001", 2, 25, 50),
                 fee(mdtrt_id, "3", EXAMINATION, 1, 30, 30, batch="B2")]  # fmt: skip
        ok(call(c, "2204", {"feedetail": lines}))
        withdraw = {"mdtrt_id": mdtrt_id, "psn_no": "P001", "chrg_bchno": "B2"}
        assert ok(call(c, "2205", {"data": withdraw})) is None
        assert ok(call(c, "2205", {"data": withdraw})) is None  # a retry
        pre = ok(call(c, "2206", settle_input(mdtrt_id)))["setlinfo"]
        mid = msgid()
        ok(call(c, "2207", settle_input(mdtrt_id), mid=mid))
        before = snapshot(service.db)
        settled = {
            "2205": call(c, "2205", {"data": withdraw | {"chrg_bchno": "0000"}}),
            "2204 new": call(c, "2204", {"feedetail": [fee(mdtrt_id, "9", EXAMINATION, 1, 1, 1)]}),
            "2202": call(c, "2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": "P001",
                                              "ipt_otp_no": "MZ002"}}),
        }  # fmt: skip
        assert snapshot(service.db) == before
        assert ok(call(c, "2204", {"feedetail": lines[:2]}))  # identical: a retry, accepted
        assert snapshot(service.db) == before
        ok(call(c, "2208", cancel_input(mid, mdtrt_id)))
        ok(call(c, "2205", {"data": {"mdtrt_id": mdtrt_id, "psn_no": "P001"}}))  # every line
        empty = call(c, "2206", settle_input(mdtrt_id))
    assert pre["medfee_sumamt"] == 250.0
    for infno, answer in settled.items():
        refused(answer, "E_VISIT_SETTLED", "mdtrt_id")
        assert "2208" in answer["err_msg"], infno
    refused(empty, "E_INPUT", "input.data.mdtrt_id")
    assert "no fee details" in empty["err_msg"]


def test_2202_cancels_a_registration_once_and_nothing_follows_it(service):
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
        cancel = {"psn_no": "P001", "mdtrt_id": mdtrt_id, "ipt_otp_no": "MZ001"}
        before = snapshot(service.db)
        wrong = {
            "serial": call(c, "2202", {"data": cancel | {"ipt_otp_no": "MZ999"}}),
            "member": call(c, "2202", {"data": cancel | {"psn_no": "P002"}}),
        }
        assert snapshot(service.db) == before
        assert ok(call(c, "2202", {"data": cancel})) is None
        assert ok(call(c, "2202", {"data": cancel})) is None  # a retry
        after = snapshot(service.db)
        following = {
            "2203": call(c, "2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "med_type": "11"}}),
            "2204": call(c, "2204", {"feedetail": [fee(mdtrt_id, "5", EXAMINATION, 1, 1, 1)]}),
            "2207": call(c, "2207", settle_input(mdtrt_id)),
        }
        assert snapshot(service.db) == after
    refused(wrong["serial"], "E_INPUT", "input.data.ipt_otp_no")
    refused(wrong["member"], "E_INPUT", "input.data.psn_no")
    for answer in following.values():
        assert answer["err_code"] == "E_VISIT_CANCELLED", answer["err_msg"]
    assert balance(service) == Decimal("300.00")


# -- item 7: 2208's own ids, its balance after, and the visit and member it names -----------------
def test_2208_answers_its_own_ids_and_the_balance_after_and_checks_what_it_names(service):
    """Settled: 250, fund 75, account 125 (balance 175), cash 50. Cancelled: all negated; the
    account gets 125 back: balance 300."""
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
        mid = msgid()
        settled = ok(call(c, "2207", settle_input(mdtrt_id), mid=mid))["setlinfo"]
        another = registered_visit(c, "P002")
        before = snapshot(service.db)
        wrong = {
            "visit": call(c, "2208", cancel_input(mid, another)),
            "member": call(c, "2208", cancel_input(mid, mdtrt_id, "P002")),
        }
        assert snapshot(service.db) == before
        first_id, retry_id = msgid(), msgid()
        first = ok(call(c, "2208", cancel_input(mid, mdtrt_id), mid=first_id))["setlinfo"]
        again = ok(call(c, "2208", cancel_input(mid, mdtrt_id), mid=retry_id))["setlinfo"]
    refused(wrong["visit"], "E_INPUT", "input.data.mdtrt_id")
    refused(wrong["member"], "E_INPUT", "input.data.psn_no")
    assert (first["setl_id"], first["medins_setl_id"]) == (first_id, first_id)
    # a retry under a new msgid: the same cancellation, answered to this message
    assert (again["setl_id"], again["medins_setl_id"]) == (first_id, retry_id)
    assert first["setl_id"] != settled["setl_id"] == mid
    assert (first["medfee_sumamt"], first["hifp_pay"], first["acct_pay"]) == (-250.0, -75.0, -125.0)
    assert first["psn_cash_pay"] == first["pdn_cash_pay"] == -50.0
    assert first["balc"] == again["balc"] == 300.0
    assert first["setl_time"] == settled["setl_time"]  # the settlement's (Hebei 2208 sample)
    assert first["mdtrt_id"] == mdtrt_id and first["psn_no"] == "P001"
    assert balance(service) == Decimal("300.00")
    assert check.problems(service.db) == []


def test_a_2208_reversed_stands_if_made_and_is_refused_if_it_arrives_late(service):
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
        mid, cancel_mid, lost = msgid(), msgid(), msgid()
        ok(call(c, "2207", settle_input(mdtrt_id), mid=mid))
        ok(call(c, "2208", cancel_input(mid, mdtrt_id), mid=cancel_mid))
        before = snapshot(service.db)
        made = call(c, "2601", {"data": {"psn_no": "P001", "omsgid": cancel_mid, "oinfno": "2208"}})
        assert snapshot(service.db) == before
        # settled again (a new 2207), then a 2208 is lost: reversed before it arrives
        again = msgid()
        ok(call(c, "2207", settle_input(mdtrt_id), mid=again))
        ok(call(c, "2601", {"data": {"psn_no": "P001", "omsgid": lost, "oinfno": "2208"}}))
        ok(call(c, "2601", {"data": {"psn_no": "P001", "omsgid": lost, "oinfno": "2208"}}))
        late = call(c, "2208", cancel_input(again, mdtrt_id), mid=lost)
    refused(made, "E_CANCEL_FINAL", "input.data.omsgid")
    assert "settle the visit again" in made["err_msg"]
    refused(late, "E_TXN_REVERSED", "msgid")
    assert not views.find_settlement(service.db, f"{HOSPITAL}:{again}").cancelled
    assert balance(service) == Decimal("175.00")
    assert check.problems(service.db) == []


# -- item 9: 2207's pre-settlement amounts checked before anything is written ---------------------
def test_2207_refuses_amounts_the_fee_details_no_longer_give(service):
    """Pre-settled: out of scope 50 (the unlisted line), in scope 200. Then the 50 line is
    withdrawn and a 60 class-A line uploaded: total 260, in scope 260, out of scope 0. A 2207
    with the pre-settlement's amounts is refused, and nothing is written."""
    with service.client(service.hospital) as c:
        mdtrt_id = registered_only(c)
        ok(call(c, "2204", {"feedetail": [fee(mdtrt_id, "1", EXAMINATION, 1, 200, 200),
                                          fee(mdtrt_id, "2", "UNLISTED-0001", 2, 25, 50,
                                              batch="B2")]}))  # fmt: skip
        pre = ok(call(c, "2206", settle_input(mdtrt_id)))["setlinfo"]
        copied = {k: pre[k] for k in ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay",
                                      "preselfpay_amt", "inscp_scp_amt")}  # fmt: skip
        ok(call(c, "2205", {"data": {"mdtrt_id": mdtrt_id, "psn_no": "P001", "chrg_bchno": "B2"}}))
        ok(call(c, "2204", {"feedetail": [fee(mdtrt_id, "3", EXAMINATION, 2, 30, 60)]}))
        before = snapshot(service.db)
        changed = call(c, "2207", {"data": {**settle_input(mdtrt_id)["data"], **copied,
                                            "medfee_sumamt": 260.00}})  # fmt: skip
        assert snapshot(service.db) == before
        now = {"medfee_sumamt": 260.00, "fulamt_ownpay_amt": 0, "overlmt_selfpay": 0,
               "preselfpay_amt": 0, "inscp_scp_amt": 260.00}  # fmt: skip
        settled = ok(call(c, "2207", {"data": {**settle_input(mdtrt_id)["data"], **now}}))
    assert copied["fulamt_ownpay_amt"] == 50.0 and copied["inscp_scp_amt"] == 200.0
    refused(changed, "E_FEES_CHANGED", "input.data.fulamt_ownpay_amt")
    assert "inscp_scp_amt 200.00, the fee details' 260.00" in changed["err_msg"]
    # 260 in scope: deductible 50, 50% of 210 = 105; the account pays 155 of 300
    info = settled["setlinfo"]
    assert (info["hifp_pay"], info["acct_pay"], info["balc"]) == (105.0, 155.0, 145.0)
