"""A reference HIS client: every request built exactly as public HIS client code builds it
(../shared/spec/national-interface.md names the sources; each builder below names the ones
its shape was taken from). The tests run hospitals' flows with it, unchanged, against gongji.

What it copies from the clients, on purpose:
- the envelope of OH `InputPost.cs` / `ClassHelper.SettingsBase`: every field present, empty
  strings for what a client leaves blank, `insuplc_admdvs` "" on 9001 and 1101, `infver`
  "V1.08", `opter_type` "1", `inf_time` as `yyyy-MM-dd HH:mm:ss`, `sign_no` from 9001;
- `msgid` = institution code + `yyyyMMddHHmmss` + a 4-digit serial (OH, MD, NYB, HN);
- `x-tif-*` signing headers as MD-Proxy `HttpPost` and OH `YBHttpRequest` compute them:
  signature = lowercase hex SHA-256 of timestamp + secret + nonce + timestamp, timestamp in
  Unix seconds, nonce a GUID (OH) or a few random digits (MD-Proxy);
- numbers as JSON numbers (OH, MD: `decimal`/`double`), optional values as "" or null,
  `begntime` of 2201 in the ISO form with a `T` (OH `Input_2201.cs`, a C# DateTime through
  Newtonsoft), `diag_srt_no` as a string (OH `diseinfo.cs`, MD `ZJ2203.cs`);
- 9101's file as a Base64 string of a zip holding one `.txt` (OH-App `FsUploadIn_9101`),
  its rows tab-separated in X2's columns.
"""

import base64
import hashlib
import io
import itertools
import uuid
import zipfile
from datetime import datetime

import httpx

SERIALS = itertools.count(1)


class His:
    """One hospital's HIS, as configured at a site: the URL, its paasid and secret, its
    institution code and name, and the care region's division code."""

    def __init__(
        self,
        url: str,
        paasid: str,
        secret: str,
        code: str,
        name: str,
        admdvs: str,
        path: str = "/fsi/api/rsfComIfsService/callService",
    ):
        self.http = httpx.Client(base_url=url, timeout=30)
        self.paasid, self.secret, self.code, self.name = paasid, secret, code, name
        self.admdvs, self.path = admdvs, path
        self.sign_no = ""
        self.insuplc = ""  # from 1101's insuinfo, as OH keeps it for later calls
        self.sent: list[dict] = []  # every envelope, for the tests to look back at

    # -- transport ---------------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        """MD-Proxy `HttpPost`: x-tif-paasid, -timestamp (Unix seconds), -nonce, -signature."""
        timestamp = str(int(datetime.now().timestamp()))
        nonce = str(uuid.uuid4())  # OH: Guid.NewGuid().ToString()
        digest = hashlib.sha256(f"{timestamp}{self.secret}{nonce}{timestamp}".encode())
        return {
            "x-tif-paasid": self.paasid,
            "x-tif-timestamp": timestamp,
            "x-tif-nonce": nonce,
            "x-tif-signature": digest.hexdigest(),
            "Content-Type": "application/json",
        }

    def msgid(self) -> str:
        """Institution code + yyyyMMddHHmmss + a 4-digit serial (OH `SettingsBase`)."""
        return f"{self.code}{datetime.now():%Y%m%d%H%M%S}{next(SERIALS) % 10000:04d}"

    def envelope(self, infno: str, input_: dict, insuplc: str | None = None) -> dict:
        """OH `InputPost.cs` as `ClassHelper.SettingsBase` fills it (field order kept)."""
        return {
            "infno": infno,
            "msgid": self.msgid(),
            "mdtrtarea_admvs": self.admdvs,
            "insuplc_admdvs": self.insuplc if insuplc is None else insuplc,
            "recer_sys_code": "YBXT",
            "dev_no": "",
            "dev_safe_info": "",
            "cainfo": "",
            "signtype": "",
            "infver": "V1.08",
            "opter_type": "1",
            "opter": "0001",
            "opter_name": "收费员",
            "inf_time": f"{datetime.now():%Y-%m-%d %H:%M:%S}",
            "fixmedins_code": self.code,
            "fixmedins_name": self.name,
            "sign_no": self.sign_no,
            "input": input_,
        }

    def call(self, infno: str, input_: dict, insuplc: str | None = None) -> dict:
        body = self.envelope(infno, input_, insuplc)
        self.sent.append(body)
        response = self.http.post(self.path, json=body, headers=self.headers())
        # OH and MD-Proxy treat any non-2xx as a transport failure (§1.1)
        assert response.status_code == 200, (infno, response.status_code, response.text)
        return response.json()

    # -- transactions ------------------------------------------------------------------
    def sign_in(self) -> dict:
        """9001, OH `Input_9001.cs` / MD `QD9001.cs`: `signIn{opter_no, mac, ip}`."""
        out = self.call("9001", {"signIn": {"opter_no": "0001", "mac": "00-E0-70-64-C3-D2",
                                            "ip": "10.1.2.3"}}, insuplc="")  # fmt: skip
        if out["infcode"] == 0:
            self.sign_no = out["output"]["signinoutb"]["sign_no"]
        return out

    def sign_out(self) -> dict:
        """9002 as MD `QT9002.cs` sends it: `signOut{sign_no, opter_no}`."""
        return self.call("9002", {"signOut": {"sign_no": self.sign_no, "opter_no": "0001"}})

    def member(self, cert_type: str, cert_no: str) -> dict:
        """1101, OH `Input_1101.cs`: `begntime` the current time, `certno`/`psn_name` ""."""
        out = self.call(
            "1101",
            {
                "data": {
                    "mdtrt_cert_type": cert_type,
                    "mdtrt_cert_no": cert_no,
                    "card_sn": "",
                    "begntime": f"{datetime.now():%Y-%m-%d %H:%M:%S}",
                    "psn_cert_type": "01",
                    "certno": "",
                    "psn_name": "",
                }
            },
            insuplc="",
        )
        if out["infcode"] == 0:
            self.insuplc = out["output"]["insuinfo"][0]["insuplc_admdvs"]
        return out

    def register(self, psn_no: str, cert_no: str, when: datetime, serial: str) -> dict:
        """2201, OH `Input_2201.cs`: `begntime` a C# DateTime through Newtonsoft (ISO, T)."""
        return self.call(
            "2201",
            {
                "data": {
                    "psn_no": psn_no,
                    "insutype": "310",
                    "begntime": when.strftime("%Y-%m-%dT%H:%M:%S"),
                    "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": cert_no,
                    "ipt_otp_no": serial,
                    "atddr_no": "D001",
                    "dr_name": "王医生",
                    "dept_code": "A03",
                    "dept_name": "内科",
                    "caty": "A03",
                }
            },
        )

    def cancel_registration(self, psn_no: str, mdtrt_id: str, serial: str) -> dict:
        """2202, OH `Input_2202.cs`: `data{psn_no, mdtrt_id, ipt_otp_no}`."""
        data = {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "ipt_otp_no": serial}
        return self.call("2202", {"data": data})

    def visit_information(
        self, psn_no: str, mdtrt_id: str, when: datetime, med_type: str, disease: str
    ) -> dict:
        """2203A as OH sends it (`Input_2203A.cs`, `diseinfo.cs`: `diag_srt_no` a string)."""
        at = f"{when:%Y-%m-%d %H:%M:%S}"
        return self.call(
            "2203A",
            {
                "mdtrtinfo": {
                    "mdtrt_id": mdtrt_id,
                    "psn_no": psn_no,
                    "med_type": med_type,
                    "begntime": at,
                    "main_cond_dscr": "",
                    "dise_codg": disease,
                    "dise_name": "",
                    "birctrl_type": "",
                    "birctrl_matn_date": "",
                    "matn_type": "",
                    "geso_val": 0,
                },
                "diseinfo": [
                    {
                        "diag_type": "1",
                        "diag_srt_no": "1",
                        "diag_code": disease,
                        "diag_name": "诊断",
                        "diag_dept": "内科",
                        "dise_dor_no": "D001",
                        "dise_dor_name": "王医生",
                        "diag_time": at,
                        "vali_flag": "1",
                    }
                ],
            },
        )

    def fees(self, psn_no: str, mdtrt_id: str, batch: str, when: datetime, lines) -> dict:
        """2204, OH `Input_2204.cs` (`feedetail2204`): one object per line, numbers as
        numbers; `lines` are (serial, catalogue code, count, price, line total)."""
        rows = [
            {
                "feedetl_sn": sn,
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "chrg_bchno": batch,
                "dise_codg": "",
                "rxno": "",
                "rx_circ_flag": "0",
                "fee_ocur_time": f"{when:%Y-%m-%d %H:%M:%S}",
                "med_list_codg": code,
                "medins_list_codg": f"HIS-{code}",
                "det_item_fee_sumamt": total,
                "cnt": cnt,
                "pric": pric,
                "sin_dos_dscr": "",
                "used_frqu_dscr": "",
                "prd_days": 0,
                "medc_way_dscr": "",
                "bilg_dept_codg": "A03",
                "bilg_dept_name": "内科",
                "bilg_dr_codg": "D001",
                "bilg_dr_name": "王医生",
                "acord_dept_codg": "",
                "acord_dept_name": "",
                "orders_dr_code": "",
                "orders_dr_name": "",
                "hosp_appr_flag": "1",
                "tcmdrug_used_way": "",
                "etip_flag": "",
                "etip_hosp_code": "",
                "dscg_tkdrug_flag": "",
                "matn_fee_flag": "",
            }
            for sn, code, cnt, pric, total in lines
        ]
        return self.call("2204", {"feedetail": rows})

    def cancel_fees(self, psn_no: str, mdtrt_id: str, batch: str = "0000") -> dict:
        """2205, OH `Input_2205.cs`: "0000" cancels every unsettled line of the visit."""
        data = {"mdtrt_id": mdtrt_id, "chrg_bchno": batch, "psn_no": psn_no}
        return self.call("2205", {"data": data})

    def settlement_data(self, psn_no: str, cert_no: str, mdtrt_id: str, batch: str,
                        total: float, med_type: str = "11") -> dict:  # fmt: skip
        """2206's `data`, OH `Input_2206.cs` / OH-App `AccounSettlement_2206`."""
        return {
            "psn_no": psn_no,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": cert_no,
            "med_type": med_type,
            "medfee_sumamt": total,
            "psn_setlway": "01",
            "mdtrt_id": mdtrt_id,
            "chrg_bchno": batch,
            "acct_used_flag": "1",
            "insutype": "310",
        }

    def presettle(self, data: dict) -> dict:
        """2206A as OH sends it."""
        return self.call("2206A", {"data": data})

    def settle(self, data: dict, presettled: dict) -> dict:
        """2207A: 2206's fields plus the four amounts MD-JS copies from 2206's answer."""
        copied = {k: presettled[k] for k in ("fulamt_ownpay_amt", "overlmt_selfpay",
                                             "preselfpay_amt", "inscp_scp_amt")}  # fmt: skip
        return self.call("2207A", {"data": {**data, "invono": "", **copied}})

    def cancel_settlement(self, setl_id: str, mdtrt_id: str, psn_no: str) -> dict:
        """2208, OH `Input_2208.cs`: `data{setl_id, mdtrt_id, psn_no}`."""
        data = {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}
        return self.call("2208", {"data": data})

    def reverse(self, psn_no: str, omsgid: str, oinfno: str) -> dict:
        """2601, OH `Input_2601.cs`: `data{psn_no, omsgid, oinfno}`."""
        return self.call("2601", {"data": {"psn_no": psn_no, "omsgid": omsgid, "oinfno": oinfno}})

    def totals(self, begin: str, end: str, medfee: float, fund: float, acct: float,
               count: int) -> dict:  # fmt: skip
        """3201, OH `Input_3201.cs` (MD-JS values: `clr_type` 11, `setl_optins` the region)."""
        data = {
            "insutype": "310",
            "clr_type": "11",
            "setl_optins": self.admdvs,
            "stmt_begndate": begin,
            "stmt_enddate": end,
            "medfee_sumamt": medfee,
            "fund_pay_sumamt": fund,
            "acct_pay": acct,
            "fixmedins_setl_cnt": count,
        }
        return self.call("3201", {"data": data})

    def upload(self, rows: list[tuple], filename: str) -> dict:
        """9101 as OH-App `FsUploadIn_9101` sends it: the zip's bytes as Base64 in `in`; the
        rows in X2's columns (setl_id, mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt,
        acct_pay, refd_setl_flag), tab-separated, CRLF line ends."""
        text = "".join("\t".join(str(v) for v in row) + "\r\n" for row in rows)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(f"{filename}.txt", text.encode())
        content = base64.b64encode(buffer.getvalue()).decode()
        upload = {"in": content, "filename": f"{filename}.zip", "fixmedins_code": self.code}
        return self.call("9101", {"fsUploadIn": upload}, insuplc="")

    def details(self, file_qury_no: str, begin: str, end: str, medfee: float, fund: float,
                cash: float, count: int) -> dict:  # fmt: skip
        """3202, OH `Input_3202.cs` / MD `JGDZ3202.In3202`."""
        data = {
            "setl_optins": self.admdvs,
            "file_qury_no": file_qury_no,
            "stmt_begndate": begin,
            "stmt_enddate": end,
            "medfee_sumamt": medfee,
            "fund_pay_sumamt": fund,
            "cash_payamt": cash,
            "fixmedins_setl_cnt": count,
        }
        return self.call("3202", {"data": data})

    def download(self, file_qury_no: str, filename: str) -> bytes:
        """9102, MD `Down9102.cs`: `fsDownloadIn{file_qury_no, filename, fixmedins_code}`
        with "plc" as the code; the answer is the zip itself, not JSON."""
        body = self.envelope("9102", {"fsDownloadIn": {"file_qury_no": file_qury_no,
                                                       "filename": filename,
                                                       "fixmedins_code": "plc"}}, "")  # fmt: skip
        self.sent.append(body)
        response = self.http.post(self.path, json=body, headers=self.headers())
        assert response.status_code == 200, response.text
        return response.content
