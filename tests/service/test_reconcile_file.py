"""3202 by file (national-interface §5.14): a detail file uploaded with 9101, reconciled by
3202 under the file query number it got, the result file downloaded with 9102 — over real
HTTP, on SQLite and PostgreSQL.

The detail file is built as X2 (`yb_interfaces.Frm_ybdzXN`) writes it: the columns setl_id,
mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt, acct_pay, refd_setl_flag, each value
followed by CR TAB, CRLF at the line's end; zipped as OH's `FsUploadIn_9101` zips it
(`ZipFile.CreateFromDirectory` of a folder holding `<name>.txt`) and sent as its Base64 text
(`Convert.ToBase64String`) in `fsUploadIn` {in, filename, fixmedins_code} (OH
`Input_9101.cs`; OH puts the clearing type in fixmedins_code). 3202's `data` as OH
`Input_3202.cs` / MD `JGDZ3202.In3202`; 9102's `fsDownloadIn` as MD `Down9102.cs` ("plc"
for fixmedins_code); the result file read as OH `ClassHelper.ReadToFile` reads it (result.txt,
TABs)."""

import base64
import io
import os
import zipfile
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text, update

from gongji.errors import InputError
from gongji.ledger.schema import files as files_table
from gongji.service import files

from .conftest import CLINIC, HOSPITAL, snapshot, start
from .test_national import call, msgid, ok, registered_visit, settle_input

PERIOD = {"setl_optins": "410200", "stmt_begndate": "2023-03-01", "stmt_enddate": "2023-03-31"}


def x2_text(rows: list[tuple]) -> str:
    """X2's detail text: every value followed by CR TAB, CRLF after each row."""
    return "".join("".join(f"{v}\r\t" for v in row) + "\r\n" for row in rows)


def oh_zip(text: str, name: str = "scmxdz") -> bytes:
    """OH's zip: the folder `name` holding `name.txt`, compressed (entries without the
    folder's own name)."""
    out = io.BytesIO()
    # a fixed time: zip headers carry the clock (2 s steps), so two zips of one text made a
    # second apart differ, and a test comparing them failed in CI
    entry = zipfile.ZipInfo(f"{name}.txt", date_time=(2026, 1, 1, 0, 0, 0))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(entry, text.encode("utf-8"), zipfile.ZIP_DEFLATED)
    return out.getvalue()


def upload_input(content: bytes, filename: str = "scmxdz") -> dict:
    encoded = base64.b64encode(content).decode()
    return {"fsUploadIn": {"in": encoded, "filename": filename, "fixmedins_code": "11"}}


def reconcile_input(number: str) -> dict:
    # OH sends the totals wrong (medfee_sumamt overwritten, the others 0): read, not compared
    totals = {"medfee_sumamt": 2, "fund_pay_sumamt": 0, "cash_payamt": 0, "fixmedins_setl_cnt": 0}
    return {"data": {**PERIOD, "file_qury_no": number, **totals}}


def download(client, number: str, code: str = HOSPITAL):
    """9102 answers the file itself, not an envelope: the raw response."""
    envelope = {
        "infno": "9102",
        "msgid": msgid(code),
        "mdtrtarea_admvs": "410200",
        "insuplc_admdvs": "",  # OH sends "" for 9102
        "opter": "001",
        "opter_type": "1",
        "fixmedins_code": code,
        "input": {"fsDownloadIn": {"file_qury_no": number, "filename": "plc",
                                   "fixmedins_code": "plc"}},
    }  # fmt: skip
    response = client.post("/fsi/api", json=envelope)
    assert response.status_code == 200, response.text
    return response


def result_lines(content: bytes) -> list[list[str]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.namelist() == ["result.txt"]
        body = archive.read("result.txt").decode("utf-8")
    assert body.endswith("\r\n")
    return [line.split("\t") for line in body.removesuffix("\r\n").split("\r\n")]


def settled_two(c) -> tuple[str, str, str, str]:
    """P001's and P002's visits settled: (setl_id, mdtrt_id) of each. P001: fund 75, account
    125 of 250; P002 (retiree): fund 90, account 50 (test_national's figures)."""
    first, second = msgid(), msgid()
    one, two = registered_visit(c), registered_visit(c, "P002")
    ok(call(c, "2207", settle_input(one), mid=first))
    ok(call(c, "2207", settle_input(two, "P002"), mid=second))
    return first, one, second, two


def stored(db) -> list:
    """What the store holds, its files included: a refusal changes none of it."""
    with db.connect() as conn:
        kept = conn.execute(text("SELECT file_qury_no, kind FROM files ORDER BY 1")).all()
    return [*snapshot(db), kept]


def test_a_balanced_file_reconciles_and_its_result_file_downloads(service):
    with service.client(service.hospital) as c:
        first, one, second, two = settled_two(c)
        detail = x2_text(
            [
                (first, one, "P001", "250.00", "75.00", "125.00", "0"),
                (second, two, "P002", "250.00", "90.00", "50.00", "0"),
            ]
        )
        uploaded = ok(call(c, "9101", upload_input(oh_zip(detail))))
        assert uploaded["filename"] == "scmxdz" and uploaded["fixmedins_code"] == HOSPITAL
        assert len(uploaded["file_qury_no"]) <= 30
        datetime.strptime(uploaded["dld_endtime"], "%Y-%m-%d %H:%M:%S")  # parses (MD)

        out = ok(call(c, "3202", reconcile_input(uploaded["file_qury_no"])))
        assert out["stmtinfo"]["stmt_rslt"] == "0" and out["detail"] == []
        info = out["fileinfo"]
        assert info["filename"].endswith(".txt.zip") and info["file_qury_no"]
        datetime.strptime(info["dld_endtime"], "%Y-%m-%d %H:%M:%S")

        got = download(c, info["file_qury_no"])
        # rows given inline are the rows, whatever file_qury_no says (no result file)
        row = {"setl_id": first, "medfee_sumamt": 250, "fund_pay_sumamt": 75, "acct_pay": 125}
        given = reconcile_input(uploaded["file_qury_no"])
        inline = ok(call(c, "3202", {"data": {**given["data"], "detail": [row]}}))
    assert "fileinfo" not in inline
    assert [(d["setl_id"], d["stmt_rslt_dscr"]) for d in inline["detail"]] == [
        (second, "机构未报此结算（仅中心有）")
    ]
    assert got.headers["content-type"] == "application/zip"
    assert result_lines(got.content) == [
        ["P001", one, first, first, "0", "0", "平账", "250.00", "75.00", "125.00"],
        ["P002", two, second, second, "0", "0", "平账", "250.00", "90.00", "50.00"],
    ]


def test_a_differing_row_is_named_in_the_answer_and_in_the_result_file(service):
    with service.client(service.hospital) as c:
        first, one, second, two = settled_two(c)
        detail = x2_text(
            [
                (first, one, "P001", "250.00", "75.00", "125.00", "0"),
                (second, two, "P002", "250.00", "80.00", "50.00", "0"),  # fund: ours 90
                ("NOT-OURS", "V0", "P009", "1.00", "0", "0", "0"),
            ]
        )
        ok(call(c, "9101", upload_input(oh_zip(detail))))
        # OH's controller sends its file's name for file_qury_no: its latest upload so named
        out = ok(call(c, "3202", reconcile_input("scmxdz")))
        got = download(c, out["fileinfo"]["file_qury_no"])
    assert out["stmtinfo"]["stmt_rslt"] == "1"
    assert [(d["setl_id"], d["stmt_rslt"], d["stmt_rslt_dscr"]) for d in out["detail"]] == [
        (second, "1", "不一致：基金支付总额(fund_pay_sumamt)"),
        ("NOT-OURS", "1", "中心无此结算（仅机构有）"),
    ]
    lines = result_lines(got.content)
    assert ["P002", two, second, second, "1", "0", "不一致：基金支付总额(fund_pay_sumamt)",
            "250.00", "90.00", "50.00"] in lines  # fmt: skip
    assert ["P009", "V0", "NOT-OURS", "NOT-OURS", "1", "0", "中心无此结算（仅机构有）", "1.00",
            "0.00", "0.00"] in lines  # fmt: skip
    assert [line[4] for line in lines] == ["0", "1", "1"]  # by setl_id; the first agrees


def test_another_institution_cannot_use_the_file_query_number(service):
    with service.client(service.hospital) as c:
        first, one, _, _ = settled_two(c)
        detail = x2_text([(first, one, "P001", "250.00", "75.00", "125.00", "0")])
        number = ok(call(c, "9101", upload_input(oh_zip(detail))))["file_qury_no"]
        result = ok(call(c, "3202", reconcile_input(number)))["fileinfo"]["file_qury_no"]
    with service.client(service.clinic) as other:
        used = call(other, "3202", reconcile_input(number), CLINIC)
        fetched = download(other, result, CLINIC).json()
        unknown = download(other, "fsi/000000000000000000000000aa", CLINIC).json()
    assert used["err_code"] == fetched["err_code"] == unknown["err_code"] == "E_NOT_FOUND"
    assert "input.data.file_qury_no" in used["err_msg"]
    # answered as a number that does not exist: nothing tells the file is there
    assert fetched["err_msg"].replace(result, "N") == unknown["err_msg"].replace(
        "fsi/000000000000000000000000aa", "N"
    )
    # the bureau downloads an institution's file; it uploads none (it is no institution)
    with service.client(service.bureau) as bureau:
        assert download(bureau, result).content.startswith(b"PK")
        refused = bureau.post("/fsi/api", json={"infno": "9101", "msgid": "B1",
                                                "fixmedins_code": HOSPITAL,
                                                "input": upload_input(b"x")})  # fmt: skip
    # refused in the envelope, HTTP 200, as every national refusal (national.py)
    assert refused.status_code == 200
    assert refused.json()["err_code"] == "E_FORBIDDEN"


def test_bytes_as_a_list_of_numbers_and_an_expired_file(service):
    with service.client(service.hospital) as c:
        first, one, _, _ = settled_two(c)
        detail = x2_text([(first, one, "P001", "250.00", "75.00", "125.00", "0")])
        sent = oh_zip(detail)
        given = {"in": list(sent), "filename": "by-bytes", "fixmedins_code": "x"}
        number = ok(call(c, "9101", {"fsUploadIn": given}))["file_qury_no"]
        assert download(c, number).content == sent  # an upload downloads as sent
        with service.db.begin() as conn:
            old = datetime.now() - files.KEEP - timedelta(minutes=1)
            conn.execute(update(files_table).values(created_at=old))
        gone = download(c, number).json()
    assert gone["err_code"] == "E_NOT_FOUND" and "kept 7 days" in gone["err_msg"]


def corrupt_zip() -> bytes:
    whole = oh_zip(x2_text([("S1", "V1", "P001", "1.00", "0", "0", "0")]))
    return whole[: len(whole) // 2]


def bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("scmxdz.txt", b"0" * (files.UNZIPPED_MAX + 1))
    return out.getvalue()


BAD_UPLOADS = [
    # (fsUploadIn, the field the refusal names, words of its reason)
    ({"in": "UEsDBA==!!", "filename": "a.zip"}, "input.fsUploadIn.in", "not Base64"),
    ({"in": "", "filename": "a.zip"}, "input.fsUploadIn.in", "required"),
    ({"in": 12, "filename": "a.zip"}, "input.fsUploadIn.in", "not a number"),
    ({"in": [80, 75, 256], "filename": "a.zip"}, "input.fsUploadIn.in[2]", "from 0 to 255"),
    ({"in": base64.b64encode(b"not a zip").decode(), "filename": "scmxdz.zip"},
     "input.fsUploadIn.in", "not a readable zip"),
    ({"in": base64.b64encode(corrupt_zip()).decode(), "filename": "scmxdz"},
     "input.fsUploadIn.in", "not a readable zip"),
    ({"in": base64.b64encode(bomb()).decode(), "filename": "scmxdz"},
     "input.fsUploadIn.in", "over the 8388608 bytes"),
    # OH's five columns (an unseen stored procedure's): the line and the columns wanted
    ({"in": base64.b64encode(oh_zip("S1 250.00 75.00 125.00 0 \r\n")).decode(),
      "filename": "scmxdz"}, "input.fsUploadIn.in[line 1]", "7 columns"),
    ({"in": base64.b64encode(oh_zip(x2_text([("S1", "V1", "P001", "1.00", "0", "0", "0"),
                                             ("S2", "V2", "P001", "x", "0", "0", "0")])))
     .decode(), "filename": "scmxdz"},
     "input.fsUploadIn.in[line 2].medfee_sumamt", "an amount"),
    ({"in": base64.b64encode(oh_zip(x2_text([("S1", "V1", "P001", "1.00", "0", "0", "0")] * 2)))
     .decode(), "filename": "scmxdz"},
     "input.fsUploadIn.in[line 2].setl_id", "twice"),
    ({"filename": "scmxdz", "in": "YQ=="}, "input.fsUploadIn.in[line 1]", "7 columns"),
    ({"in": "YQ=="}, "input.fsUploadIn.filename", "required"),
]  # fmt: skip


def test_malformed_uploads_are_refused_by_field_and_line_and_change_nothing(service):
    before = stored(service.db)
    with service.client(service.hospital) as c:
        for given, field, reason in BAD_UPLOADS:
            answer = call(c, "9101", {"fsUploadIn": given})
            assert answer["infcode"] == -1 and answer["err_code"] == "E_INPUT", (field, answer)
            assert f"{field}: " in answer["err_msg"] and reason in answer["err_msg"], answer
        # 3202 refuses a malformed total, or a number it has no file for, before writing
        bad_total = call(c, "3202", {"data": {**PERIOD, "file_qury_no": "x", "cash_payamt": "y"}})
        nothing = call(c, "3202", reconcile_input("scmxdz"))
        empty = download(c, "").json()
    assert "input.data.cash_payamt" in bad_total["err_msg"]
    assert nothing["err_code"] == "E_NOT_FOUND" and "input.data.file_qury_no" in nothing["err_msg"]
    assert "input.fsDownloadIn.file_qury_no" in empty["err_msg"]
    assert stored(service.db) == before


@pytest.fixture
def roomy(db):
    """A service whose body limit lets a file over FILE_MAX arrive at 9101."""
    svc, server, thread = start(db, max_body=4_000_000)
    yield svc
    server.should_exit = True
    thread.join(timeout=10)


def test_a_file_over_the_limit_is_refused_in_the_envelope(roomy):
    before = stored(roomy.db)
    with roomy.client(roomy.hospital) as c:
        answer = call(c, "9101", upload_input(os.urandom(files.FILE_MAX + 1), "big.zip"))
    assert answer["err_code"] == "E_INPUT" and "input.fsUploadIn.in: " in answer["err_msg"]
    assert f"over the {files.FILE_MAX} bytes" in answer["err_msg"]
    assert stored(roomy.db) == before


# -- the file formats, without a service ------------------------------------------------------
def test_each_clients_row_layout_reads_alike():
    want = {"setl_id": "S1", "mdtrt_id": "V1", "psn_no": "P001", "medfee_sumamt": "250.00",
            "fund_pay_sumamt": "75.00", "acct_pay": "125.00", "refd_setl_flag": "0"}  # fmt: skip
    x2 = x2_text([tuple(want.values())])
    oh = "S1 V1 P001 250.00 75.00 125.00 0 \r\n"  # OH: single spaces, one trailing
    x5 = "\t".join(want) + "\n" + "\t".join(want.values()) + "\n\n"  # X5: TABs, a header
    for content, line in ((oh_zip(x2), 1), (oh.encode(), 1), (x5.encode(), 2),
                          (("\ufeff" + oh).encode(), 1)):  # fmt: skip
        assert files.detail_lines(content, "f", "in") == [(f"in[line {line}]", want)]
    gb = "S1\tV1\t张三\t1\t0\t0\tnull\r\n".encode("gb18030")  # X2's GB2312; null is absent
    [(_, row)] = files.detail_lines(gb, "f.txt", "in")
    assert row["psn_no"] == "张三" and row["refd_setl_flag"] is None


def test_a_zip_that_lies_about_its_size_expands_no_further_than_it_says():
    lying = bytearray(bomb())
    central = lying.index(b"PK\x01\x02")
    # the local header's (offset 22) and the central directory's (24) size: 10 bytes
    for at in (22, central + 24):
        assert int.from_bytes(lying[at : at + 4], "little") == files.UNZIPPED_MAX + 1
        lying[at : at + 4] = (10).to_bytes(4, "little")
    with pytest.raises(InputError) as err:
        files.detail_lines(bytes(lying), "scmxdz", "in")
    assert err.value.field == "in" and "Bad CRC-32" in err.value.reason


def test_the_result_file_is_result_txt_with_ten_tab_separated_columns():
    row = {"setl_id": "S1", "psn_no": "P001", "mdtrt_id": None, "stmt_rslt": "1",
           "stmt_rslt_dscr": "only\tin ours", "refd_setl_flag": "1", "medfee_sumamt": "1.00",
           "fund_pay_sumamt": "0.50", "acct_pay": "0.00"}  # fmt: skip
    assert result_lines(files.result_file([row])) == [
        ["P001", "", "S1", "S1", "1", "1", "only in ours", "1.00", "0.50", "0.00"]
    ]
