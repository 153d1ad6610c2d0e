"""The national transactions over real HTTP on loopback, on SQLite and PostgreSQL: a visit
registered, described, its fees uploaded, pre-settled, settled (and retried), cancelled,
reversed and reconciled — with hand-computed Kaifeng figures (KF-9a/9d, level 3)."""

from decimal import Decimal

from gongji.ledger import check, views

from .conftest import CLINIC, HOSPITAL

N = 0


def msgid(code: str = HOSPITAL) -> str:
    global N
    N += 1
    return f"{code}20230301100000{N:04d}"


def call(client, infno: str, input: dict, code: str = HOSPITAL, mid: str | None = None) -> dict:
    envelope = {
        "infno": infno,
        "msgid": mid or msgid(code),
        "mdtrtarea_admvs": "410200",
        "insuplc_admdvs": "410200",
        "recer_sys_code": "YBXT",
        "opter": "001",
        "opter_type": "1",
        "fixmedins_code": code,
        "input": input,
    }
    response = client.post("/fsi/api", json=envelope)
    assert response.status_code == 200, response.text
    return response.json()


def ok(answer: dict) -> dict:
    assert answer["infcode"] == 0, answer["err_msg"]
    return answer["output"]


def registered_visit(client, member: str = "P001", code: str = HOSPITAL) -> str:
    """2201 + 2203 + 2204: a level-3 visit with two fee lines (one class C, out of scope).
    2201 answers the visit under output.data (OH Output_2201.cs, MD GH2201.Out2201data)."""
    out = ok(
        call(
            client,
            "2201",
            {
                "data": {
                    "psn_no": member,
                    "insutype": "310",
                    "begntime": "2023-03-01 10:00:00",
                    "ipt_otp_no": "MZ001",
                }
            },
            code,
        )
    )
    mdtrt_id = out["data"]["mdtrt_id"]
    ok(
        call(
            client,
            "2203",
            {
                "mdtrtinfo": {
                    "mdtrt_id": mdtrt_id,
                    "psn_no": member,
                    "med_type": "11",
                    "begntime": "2023-03-01 10:00:00",
                },
                "diseinfo": [{"diag_code": "J06.900"}],
            },
            code,
        )
    )
    fees = ok(
        call(
            client,
            "2204",
            {
                "feedetail": [
                    {
                        "feedetl_sn": "1",
                        "mdtrt_id": mdtrt_id,
                        "med_list_codg": "001101000010000",
                        "cnt": 1,
                        "pric": 200.00,
                        "det_item_fee_sumamt": 200.00,
                        "fee_ocur_time": "2023-03-01 10:05:00",
                    },
                    {
                        "feedetl_sn": "2",
                        "mdtrt_id": mdtrt_id,
                        "med_list_codg": "UNLISTED-0001",
                        "cnt": 2,
                        "pric": 25.00,
                        "det_item_fee_sumamt": 50.00,
                        "fee_ocur_time": "2023-03-01 10:06:00",
                    },
                ]
            },
            code,
        )
    )
    assert [r["fulamt_ownpay_amt"] for r in fees["result"]] == [0.0, 50.0]
    return mdtrt_id


def settle_input(mdtrt_id: str, member: str = "P001", total: float = 250.0) -> dict:
    return {
        "data": {
            "psn_no": member,
            "mdtrt_id": mdtrt_id,
            "med_type": "11",
            "medfee_sumamt": total,
            "insutype": "310",
            "acct_used_flag": "1",
            "mdtrt_cert_type": "01",
            "mdtrt_cert_no": member,
        }
    }


def test_member_information(service):
    """P001 has no certno: its id sent as the ID number is the fallback (member_info.py);
    the full answer is tests/service/test_member_information.py's."""
    with service.client(service.hospital) as c:
        info = ok(call(c, "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "P001"}}))
    assert info["insuinfo"][0] == {
        "balc": 300.0,
        "insutype": "310",
        "psn_type": "1101",
        "psn_insu_stas": "1",
        "cvlserv_flag": "0",
        "insuplc_admdvs": "410200",
        "emp_name": None,
    }
    assert info["baseinfo"]["psn_name"] is None  # registered without a name
    assert info["idetinfo"] == []


def test_register_upload_presettle_settle_retry_cancel(service):
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
        before = views.member_show(service.db, "P001")
        pre = ok(call(c, "2206", settle_input(mdtrt_id)))
        assert views.member_show(service.db, "P001") == before  # nothing written
        mid = msgid()
        first = ok(call(c, "2207", settle_input(mdtrt_id), mid=mid))
        again = ok(call(c, "2207", settle_input(mdtrt_id), mid=mid))  # the answer was lost
    info = first["setlinfo"]
    # 250 total, 50 out of scope; 200 in scope: deductible 50 (level 3), 50% of 150 = 75;
    # the account pays the in-scope share 125; the out-of-scope 50 is cash
    figures = {
        k: info[k]
        for k in (
            "medfee_sumamt",
            "fulamt_ownpay_amt",
            "inscp_scp_amt",
            "act_pay_dedc",
            "hifp_pay",
            "fund_pay_sumamt",
            "acct_pay",
            "psn_cash_pay",
            "balc",
        )
    }
    assert figures == {
        "medfee_sumamt": 250.0,
        "fulamt_ownpay_amt": 50.0,
        "inscp_scp_amt": 200.0,
        "act_pay_dedc": 50.0,
        "hifp_pay": 75.0,
        "fund_pay_sumamt": 75.0,
        "acct_pay": 125.0,
        "psn_cash_pay": 50.0,
        "balc": 175.0,
    }
    assert info["setl_id"] == mid and pre["setlinfo"]["hifp_pay"] == 75.0
    proc = first["setldetail"][0]["setl_proc_info"]
    assert proc.startswith("KF-9a 50.00 三级每次就诊起付线 50.00; KF-9d")  # rule, amount, words
    assert again["setlinfo"] == info  # paid once
    assert views.member_show(service.db, "P001")["account_balance"] == Decimal("175.00")
    with service.client(service.hospital) as c:
        cancel_mid = msgid()
        cancelled = ok(
            call(
                c,
                "2208",
                {"data": {"setl_id": mid, "mdtrt_id": mdtrt_id, "psn_no": "P001"}},
                mid=cancel_mid,
            )
        )
    assert cancelled["setlinfo"]["hifp_pay"] == -75.0
    assert cancelled["setlinfo"]["setl_id"] == cancel_mid  # the cancellation's own id
    assert views.member_show(service.db, "P001")["account_balance"] == Decimal("300.00")
    assert check.problems(service.db) == []


def test_a_wrong_total_or_field_is_refused_by_name_in_both_languages(service):
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
        wrong = call(c, "2207", settle_input(mdtrt_id, total=249.99))
        unknown = call(c, "9999", {})
        bad_fee = call(
            c,
            "2204",
            {
                "feedetail": [
                    {
                        "feedetl_sn": "3",
                        "mdtrt_id": mdtrt_id,
                        "med_list_codg": "X",
                        "cnt": 2,
                        "pric": 1.00,
                        "det_item_fee_sumamt": 3.00,
                    }
                ]
            },
        )
    assert wrong["infcode"] == -1 and wrong["err_code"] == "E_INPUT"
    assert "input.data.medfee_sumamt" in wrong["err_msg"] and "请求内容有误" in wrong["err_msg"]
    assert unknown["err_code"] == "E_INFNO"
    assert "input.feedetail[0].det_item_fee_sumamt" in bad_fee["err_msg"]
    assert views.account_show(service.db, "P001")["journal"][-1]["kind"] == "opening"


def test_reverse_a_lost_answer_once_and_refuse_a_late_original(service):
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
        mid = msgid()
        ok(call(c, "2207", settle_input(mdtrt_id), mid=mid))
        ok(call(c, "2601", {"data": {"psn_no": "P001", "omsgid": mid, "oinfno": "2207"}}))
        ok(call(c, "2601", {"data": {"psn_no": "P001", "omsgid": mid, "oinfno": "2207"}}))
        assert views.member_show(service.db, "P001")["account_balance"] == Decimal("300.00")
        lost = msgid()  # reversed before it arrived, then it arrives
        ok(call(c, "2601", {"data": {"psn_no": "P001", "omsgid": lost, "oinfno": "2207"}}))
        late = call(c, "2207", settle_input(mdtrt_id), mid=lost)
    assert late["err_code"] == "E_TXN_REVERSED"
    assert check.problems(service.db) == []


def test_reconcile_totals_and_details(service):
    with service.client(service.hospital) as c:
        first, second = msgid(), msgid()
        ok(call(c, "2207", settle_input(registered_visit(c)), mid=first))
        ok(call(c, "2207", settle_input(registered_visit(c, "P002"), "P002"), mid=second))
        period = {
            "stmt_begndate": "2023-03-01",
            "stmt_enddate": "2023-03-31",
            "insutype": "310",
            "clr_type": "11",
            "setl_optins": "410200",
        }
        # P001 as above (fund 75, account 125); P002 retiree level 3: 60% of 150 = 90,
        # the account's 50 pays part of the share 110
        agree = ok(
            call(
                c,
                "3201",
                {
                    "data": {
                        **period,
                        "medfee_sumamt": 500.00,
                        "fund_pay_sumamt": 165.00,
                        "acct_pay": 175.00,
                        "fixmedins_setl_cnt": 2,
                    }
                },
            )
        )
        differ = ok(
            call(
                c,
                "3201",
                {
                    "data": {
                        **period,
                        "medfee_sumamt": 500.00,
                        "fund_pay_sumamt": 165.00,
                        "acct_pay": 175.00,
                        "fixmedins_setl_cnt": 3,
                    }
                },
            )
        )
        details = ok(
            call(
                c,
                "3202",
                {
                    "data": {
                        **period,
                        "detail": [
                            {
                                "setl_id": first,
                                "medfee_sumamt": 250.00,
                                "fund_pay_sumamt": 75.00,
                                "acct_pay": 125.00,
                                "refd_setl_flag": "0",
                            },
                            {
                                "setl_id": second,
                                "medfee_sumamt": 250.00,
                                "fund_pay_sumamt": 80.00,
                                "acct_pay": 50.00,
                                "refd_setl_flag": "0",
                            },
                            {
                                "setl_id": "NOT-OURS",
                                "medfee_sumamt": 1.00,
                                "fund_pay_sumamt": 0,
                                "acct_pay": 0,
                                "refd_setl_flag": "0",
                            },
                        ],
                    }
                },
            )
        )
    assert agree["stmtinfo"]["stmt_rslt"] == "0"
    assert agree["stmtinfo"]["stmt_rslt_dscr"] == "平账"
    assert differ["stmtinfo"]["stmt_rslt"] == "1"
    assert differ["stmtinfo"]["stmt_rslt_dscr"] == "结算笔数(fixmedins_setl_cnt)：中心 2，机构 3"
    assert [(d["setl_id"], d["stmt_rslt_dscr"]) for d in details["detail"]] == [
        (second, "不一致：基金支付总额(fund_pay_sumamt)"),
        ("NOT-OURS", "中心无此结算（仅机构有）"),
    ]


def test_another_institutions_visit_is_forbidden(service):
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
    with service.client(service.clinic) as c:
        envelope = {
            "infno": "2207",
            "msgid": msgid(CLINIC),
            "fixmedins_code": CLINIC,
            "input": settle_input(mdtrt_id),
        }
        # refused in the envelope, HTTP 200: clients read only infcode (spec §4.2)
        for code in (CLINIC, HOSPITAL):  # its own code, then pretending to be the hospital
            envelope["fixmedins_code"] = code
            refused = c.post("/fsi/api", json=envelope)
            assert refused.status_code == 200 and refused.json()["infcode"] == -1
            assert refused.json()["err_code"] == "E_FORBIDDEN", refused.text
