"""The console's office pages over HTTP (both stores): the home page's region, the Chinese
404, statements before a month is chosen, the settlement search with its detail and slips,
CSV imports (all or nothing, bad rows by line), family bindings, credentials and the Excel
downloads. Each write: its role, the session's CSRF token, the audit log."""

import re
import time
from decimal import Decimal
from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import func, select

from gongji.console.schema import audit_log
from gongji.ledger import members
from gongji.ledger.schema import credentials, family_bindings
from gongji.ledger.schema import members as members_table
from gongji.ledger.settlement import settle

from .conftest import HOSPITAL, PASSWORD
from .test_pages import audit, login

CLINIC = "H41020000002"  # the service fixture's level-1 institution


def settled(db) -> None:
    """P001 at the hospital in March (fund 125.00), P002 at the clinic in April."""
    settle(db, "T-MAR", "P001", {"id": "V1", "time": "2023-03-01T09:00:00",
                                 "institution": HOSPITAL, "total": "300.00"})  # fmt: skip
    settle(db, "T-APR", "P002", {"id": "V2", "time": "2023-04-02T10:00:00",
                                 "institution": CLINIC, "total": "80.00"})  # fmt: skip


def count(db, table) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_the_home_page_opens_on_the_region_that_has_data(console):
    # a member in Jiamusi (first by name) and none of its visits: the page opens on Kaifeng
    members.add_member(console.db, "jiamusi", {"id": "J1", "type": "employee"})
    settled(console.db)
    client, _ = login(console, "viewer1")
    page = client.get("/console/").text
    assert re.search(r'<option value="kaifeng"\s+selected>', page)
    assert 'value="2023"' in page  # the year of the latest visit
    assert re.search(r"<td>2023-03</td>(<td[^>]*>[^<]*</td>){3}<td class=\"num\">125.00<", page)
    jiamusi = client.get("/console/?region=jiamusi").text
    assert 'id="empty"' in jiamusi and "数据导入" in jiamusi  # says what to do


def test_a_staff_members_home_page_opens_on_their_region(console):
    settled(console.db)  # Kaifeng has the data; the new member of staff works for Nanyang
    admin, csrf = login(console, "admin1")
    new = {"csrf": csrf, "username": "ny1", "name": "南阳 李", "role": "viewer",
           "password": PASSWORD}  # fmt: skip
    bad = admin.post("/console/staff", data={**new, "region": "atlantis"})
    assert bad.status_code == 400 and "region" in bad.text
    assert admin.post("/console/staff", data={**new, "region": "nanyang"}).status_code == 303
    assert re.search(r"<td>ny1</td><td>南阳 李</td><td>[^<]+</td><td>南阳市</td>",
                     admin.get("/console/staff").text)  # fmt: skip
    client, _ = login(console, "ny1")
    assert re.search(r'<option value="nanyang"\s+selected>', client.get("/console/").text)
    viewer, _ = login(console, "viewer1")  # no region of their own: the data's
    assert re.search(r'<option value="kaifeng"\s+selected>', viewer.get("/console/").text)


def test_a_path_that_is_no_page_is_a_chinese_404_and_the_api_keeps_its_json(console):
    client, _ = login(console, "viewer1")
    r = client.get("/console/no/such/page")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "页面不存在" in r.text and "返回首页" in r.text
    anonymous = console.client(None).get("/console/nothing")
    assert anonymous.status_code == 404 and "页面不存在" in anonymous.text
    api = console.client(console.bureau).get("/v1/nothing")
    assert api.status_code == 404 and api.json()["code"] == "E_NOT_FOUND"


def test_statements_open_on_the_latest_month_or_say_what_to_choose(console):
    client, _ = login(console, "viewer1")
    empty = client.get("/console/statements").text
    assert 'id="choose"' in empty and "输入月份" in empty
    settled(console.db)
    page = client.get("/console/statements").text
    assert 'value="2023-04"' in page  # the latest month with a settlement
    row = next(r for r in page.split("<tr>") if CLINIC in r)
    assert "80.00" in row


def test_settlements_are_found_by_member_date_institution_and_transaction(console):
    settled(console.db)
    client, csrf = login(console, "viewer1")
    listed = client.get("/console/settlements").text
    assert "T-MAR" in listed and "T-APR" in listed

    def found(**conditions) -> list[str]:
        r = client.post("/console/settlements", data={"csrf": csrf, **conditions})
        assert r.status_code == 200, r.text[:300]
        table = r.text.split('id="settlements"')[1]
        return re.findall(r"<td>(T-[A-Z]+)</td>", table)

    assert found(member_id="P001") == ["T-MAR"]
    assert found(begin="2023-04-01", end="2023-04-30") == ["T-APR"]
    assert found(end="2023-03-01") == ["T-MAR"]  # the last day is included
    assert found(institution=CLINIC) == ["T-APR"]
    assert found(txn_id="T-APR") == ["T-APR"]
    assert found(member_id="P002", institution=HOSPITAL) == []
    assert ("viewer1", "settlements.searched", "P001") in audit(console.db)
    bad = client.post("/console/settlements", data={"csrf": csrf, "begin": "2023-02-30"})
    assert bad.status_code == 400 and "begin" in bad.text
    backwards = {"csrf": csrf, "begin": "2023-04-01", "end": "2023-03-01"}
    assert client.post("/console/settlements", data=backwards).status_code == 400
    forged = client.post("/console/settlements", data={"csrf": "x", "member_id": "P001"})
    assert forged.status_code == 403 and "T-MAR" not in forged.text


def test_a_settlements_detail_shows_its_split_and_its_trace(console):
    settled(console.db)
    client, _ = login(console, "viewer1")
    r = client.get("/console/settlements/T-MAR")
    assert r.status_code == 200
    assert re.search(r'id="total">300.00<', r.text)
    assert re.search(r'id="fund">125.00<', r.text)  # (300 - 50) x 50%
    assert re.search(r'id="cash">', r.text)
    trace = r.text.split('id="trace"')[1]
    assert "KF-9a" in trace and "第九条" in trace  # the rule and its article
    assert ("viewer1", "settlement.viewed", "T-MAR") in audit(console.db)
    missing = client.get("/console/settlements/NO-SUCH")
    assert missing.status_code == 404 and "没有流水号为 NO-SUCH 的结算" in missing.text


def test_a_settlement_slip_and_a_reimbursement_slip_print(console):
    person = {"id": "M9", "type": "employee", "name": "王五", "certno": "410202198801150014"}
    members.add_member(console.db, "kaifeng", person)
    settle(console.db, "T-SLIP", "M9", {"id": "V9", "time": "2023-03-01T09:00:00",
                                        "institution": HOSPITAL, "total": "300.00"})  # fmt: skip
    client, csrf = login(console, "operator1")
    slip = client.get("/console/settlements/T-SLIP/slip").text
    assert "门诊费用结算单" in slip and "王五" in slip and "410202198801150014" in slip
    assert re.search(r'id="slip-fund">125.00<', slip)
    assert "@media print" in client.get("/console/static/console.css").text
    # a manual reimbursement: its slip is a reimbursement slip naming the invoice
    page = client.get("/console/reimbursement").text
    txn = re.search(r'name="txn" value="([^"]+)"', page)[1]
    form = {"csrf": csrf, "txn": txn, "member_id": "P001", "invoice": "INV-77",
            "time": "2023-03-02T09:00:00", "institution": HOSPITAL, "total": "300.00"}  # fmt: skip
    done = client.post("/console/reimbursement", data=form).text
    assert f"/console/settlements/{txn}/slip" in done  # the result links to its slip
    reimbursed = client.get(f"/console/settlements/{txn}/slip").text
    assert "手工报销结算单" in reimbursed and "INV-77" in reimbursed
    assert ("operator1", "slip.printed", txn) in audit(console.db)


MEMBERS_CSV = "id,region,type,account_balance\nC1,kaifeng,employee,10.00\nC2,kaifeng,{kind},0\n"


def test_an_import_writes_every_row_or_none_and_names_the_bad_rows(console):
    client, csrf = login(console, "operator1")
    before = count(console.db, members_table)

    def upload(text: str, kind: str = "members", token: str = csrf):
        files = {"file": ("members.csv", text.encode(), "text/csv")}
        return client.post("/console/imports", data={"csrf": token, "kind": kind}, files=files)

    bad = upload(MEMBERS_CSV.format(kind="astronaut"))
    assert bad.status_code == 400
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]*)</td></tr>', bad.text)
    assert [line for line, _ in rows] == ["3"]  # line 3: the header is 1
    assert "文件：1 行有误，未导入任何记录" in bad.text  # the banner names the file in Chinese
    assert rows[0][1].startswith("人员类别：不认识的取值")  # the field and reason in Chinese
    assert count(console.db, members_table) == before  # line 2 was good: not written either
    assert upload(MEMBERS_CSV.format(kind="retiree"), token="forged").status_code == 403
    assert count(console.db, members_table) == before
    viewer, viewer_csrf = login(console, "viewer1")
    files = {"file": ("m.csv", MEMBERS_CSV.format(kind="retiree").encode(), "text/csv")}
    refused = viewer.post("/console/imports", data={"csrf": viewer_csrf, "kind": "members"},
                          files=files)  # fmt: skip
    assert refused.status_code == 403 and count(console.db, members_table) == before
    assert upload(MEMBERS_CSV, kind="planets").status_code == 400

    unreadable = b"id,region,type,name\nC1,kaifeng,employee,\x80\xff\n"  # no encoding reads it
    files = {"file": ("m.csv", unreadable, "text/csv")}
    r = client.post("/console/imports", data={"csrf": csrf, "kind": "members"}, files=files)
    assert r.status_code == 400 and "text/html" in r.headers["content-type"]
    assert count(console.db, members_table) == before

    good = upload(MEMBERS_CSV.format(kind="retiree"))
    assert good.status_code == 200 and "已导入 2 条参保人记录" in good.text
    assert count(console.db, members_table) == before + 2
    assert ("operator1", "import", "members") in audit(console.db)
    admin, _ = login(console, "admin1")
    logged = admin.get("/console/audit").text.split('id="audit"')[1]
    assert "<td>参保人</td>" in logged and "导入记录数：2" in logged and ">members<" not in logged


def test_family_bindings_are_listed_added_and_ended(console):
    viewer, viewer_csrf = login(console, "viewer1")
    assert "尚无家庭共济绑定" in viewer.get("/console/family").text
    form = {"holder": "P001", "user": "P002", "relationship": "spouse", "from": "2023-02-01"}
    assert viewer.post("/console/family", data={**form, "csrf": viewer_csrf}).status_code == 403
    client, csrf = login(console, "operator1")
    assert client.post("/console/family", data={**form, "csrf": "forged"}).status_code == 403
    wrong = client.post("/console/family", data={**form, "relationship": "cousin", "csrf": csrf})
    assert wrong.status_code == 400 and "binding.relationship" in wrong.text
    assert count(console.db, family_bindings) == 0
    made = client.post("/console/family", data={**form, "csrf": csrf})
    assert made.status_code == 200 and 'id="done">已绑定<' in made.text
    assert re.search(r"<td>P001</td><td>P002</td><td>配偶</td><td>2023-02-01</td><td>长期</td>",
                     made.text)  # fmt: skip
    twice = client.post("/console/family", data={**form, "csrf": csrf})
    assert twice.status_code == 400 and "already" in twice.text  # the ledger's own check
    end = {"holder": "P001", "user": "P002", "action": "end", "on": "2023-04-01", "csrf": csrf}
    ended = client.post("/console/family", data=end)
    assert ended.status_code == 200 and "<td>2023-03-31</td>" in ended.text
    actions = [a[1] for a in audit(console.db) if a[1].startswith("binding")]
    assert actions == ["binding.added", "binding.ended"]


def test_credentials_are_issued_once_listed_and_revoked(console):
    operator, operator_csrf = login(console, "operator1")
    assert operator.get("/console/credentials").status_code == 403
    by_operator = {"csrf": operator_csrf, "institution": HOSPITAL}
    assert operator.post("/console/credentials", data=by_operator).status_code == 403
    first = {"csrf": operator_csrf, "id": "1"}  # the service fixture's hospital credential
    assert operator.post("/console/credentials/revoke", data=first).status_code == 403
    assert console.client(console.hospital).get("/v1/visits").status_code == 200
    client, csrf = login(console, "admin1")
    unknown = client.post("/console/credentials", data={"csrf": csrf, "institution": "H000"})
    assert unknown.status_code == 400 and "institution" in unknown.text
    before = count(console.db, credentials)
    forged = client.post("/console/credentials", data={"csrf": "x", "institution": HOSPITAL})
    assert forged.status_code == 403 and count(console.db, credentials) == before
    r = client.post(
        "/console/credentials", data={"csrf": csrf, "institution": HOSPITAL, "label": "HIS 厂商"}
    )
    assert r.status_code == 200
    token = re.search(r'id="token">([^<]+)<', r.text)[1]
    secret = re.search(r'id="secret">([^<]+)<', r.text)[1]
    assert console.client(token).get("/v1/visits").status_code == 200  # it works
    listed = client.get("/console/credentials").text
    assert token not in listed and secret not in listed  # shown once only
    newest = re.search(r'<td class="num">(\d+)</td><td>医院 ' + HOSPITAL, listed)[1]
    assert "HIS 厂商" in listed
    with console.db.connect() as conn:  # the audit line names the paasid, never the secret
        details = str(conn.execute(select(audit_log.c.detail)).scalars().all())
    assert secret not in details and token not in details
    revoked = client.post("/console/credentials/revoke", data={"csrf": csrf, "id": newest})
    assert revoked.status_code == 303
    assert "已吊销" in client.get("/console/credentials").text
    time.sleep(1.2)  # a checked token is trusted for credential_ttl (1 s in tests)
    assert console.client(token).get("/v1/visits").status_code == 401
    again = client.post("/console/credentials/revoke", data={"csrf": csrf, "id": newest})
    assert again.status_code == 404 and "credential" in again.text
    actions = [a[1] for a in audit(console.db) if a[1].startswith("credential")]
    assert actions == ["credential.issued", "credential.revoked"]


def sheet(response) -> list[tuple]:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(BytesIO(response.content)).active
    return [tuple(c.value for c in row) for row in ws.iter_rows()], ws


def test_statements_alerts_and_the_fund_download_as_excel_in_yuan(console):
    settled(console.db)
    client, csrf = login(console, "operator1")
    rows, ws = sheet(client.get("/console/statements.xlsx?month=2023-03"))
    assert rows[0][:3] == ("机构编码", "机构名称", "级别") and "统筹支付（元）" in rows[0]
    hospital = next(r for r in rows if r[0] == HOSPITAL)
    fund = rows[0].index("统筹支付（元）")
    assert Decimal(str(hospital[fund])) == Decimal("125.00")  # yuan, not 12500 fen
    assert ws.cell(row=rows.index(hospital) + 1, column=fund + 1).number_format == "#,##0.00"

    none = client.get("/console/alerts.xlsx")
    assert none.status_code == 400 and "尚未运行监控规则" in none.text
    for n in range(3):  # three visits at one institution in one day: split visits
        visit = {"id": f"W{n}", "time": f"2023-05-01T0{n + 1}:00:00", "institution": HOSPITAL,
                 "total": "80.00"}  # fmt: skip
        settle(console.db, f"S{n}", "P001", visit)
    run = {"csrf": csrf, "begin": "2023-05-01", "end": "2023-05-31"}
    assert client.post("/console/alerts", data=run).status_code == 303
    rows, _ = sheet(client.get("/console/alerts.xlsx"))
    assert rows[0] == ("规则", "依据", "对象", "涉及金额（元）", "证据")
    assert len(rows) == 2 and rows[1][2] == f"P001@{HOSPITAL}@2023-05-01"
    assert "{" not in rows[1][4]  # the evidence as words, not a raw dict
    # in yuan, as the header says: the day's three visits of 80.00 (24000 fen)
    assert "医疗费总额：240.00" in rows[1][4] and "就诊次数：3" in rows[1][4]
    assert "24000" not in rows[1][4]

    rows, _ = sheet(client.get("/console/fund.xlsx?region=kaifeng&year=2023"))
    assert rows[0][0] == "月份" and len(rows) == 13
    march = next(r for r in rows if r[0] == "2023-03")
    assert Decimal(str(march[rows[0].index("统筹支付（元）")])) == Decimal("125.00")
    assert client.get("/console/fund.xlsx?region=nowhere").status_code == 400
    exported = [a[2] for a in audit(console.db) if a[1] == "export"]
    assert exported == ["statements 2023-03", "alerts 1", "fund kaifeng 2023"]
    admin, _ = login(console, "admin1")
    logged = admin.get("/console/audit").text.split('id="audit"')[1]
    for shown in ("机构结算单 2023-03", "第1次监控预警", "基金收支 开封市 2023", "文件："):
        assert shown in logged
    assert "fund kaifeng" not in logged and "file：" not in logged
