"""The console over HTTP (both stores): login and roles, CSRF, no member id in a URL, the
audit log, and manual reimbursement paying exactly once."""

import json
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import delete, func, select

from gongji.console.schema import audit_log
from gongji.ledger import members
from gongji.ledger.schema import limits, settlements

from ..service.conftest import start
from .conftest import HOSPITAL, PASSWORD


def login(svc, username: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=svc.url, timeout=30)
    r = client.post("/console/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/console/", r.text
    page = client.get("/console/members")
    return client, re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def audit(db) -> list[tuple[str, str, str | None]]:
    with db.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
    return [(r.actor, r.action, r.target) for r in rows]


def banner(page: str) -> str:
    """The text of a page's error banner (what a person sees: its title keeps the field's
    path for whoever reads the source)."""
    return re.search(r'<div class="error" role="alert"[^>]*>(.*?)</div>', page).group(1)


def visible(page: str) -> str:
    """A page's text as shown: no tags, no attributes."""
    return re.sub(r"<[^>]+>", " ", page)


def test_pages_need_a_login_and_a_wrong_password_is_refused_and_audited(console):
    anonymous = httpx.Client(base_url=console.url, timeout=30)
    for path in ("/console/", "/console/members", "/console/audit"):
        r = anonymous.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/console/login"
    r = anonymous.post("/console/login", data={"username": "viewer1", "password": "wrong!"})
    assert r.status_code == 401 and banner(r.text) == "用户名或密码不正确"  # once, in Chinese
    assert "wrong username" not in visible(r.text) and "password：" not in r.text
    assert ("viewer1", "login.refused", None) in audit(console.db)


def test_member_lookup_is_a_post_and_shows_balance_and_accumulators(console):
    client, csrf = login(console, "viewer1")
    r = client.post("/console/members", data={"csrf": csrf, "member_id": "P001"})
    assert r.status_code == 200
    assert re.search(r'id="balance">300.00<', r.text)
    assert "在职职工" in r.text
    assert "P001" not in str(r.url)  # never in a URL
    unknown = client.post("/console/members", data={"csrf": csrf, "member_id": "NOPE"})
    assert unknown.status_code == 404
    assert banner(unknown.text) == "个人编号：没有这个参保人（NOPE）"


def test_the_member_page_shows_the_identity(console):
    identity = {"certno": "410202198801150014", "name": "张三", "nationality": "01"}
    members.add_member(console.db, "kaifeng", {"id": "M1", "type": "employee", **identity})
    client, csrf = login(console, "viewer1")
    r = client.post("/console/members", data={"csrf": csrf, "member_id": "M1"})
    assert r.status_code == 200
    assert re.search(r'id="name">张三<', r.text)
    assert re.search(r'id="certno">410202198801150014<', r.text)
    assert re.search(r'id="birth-date">1988-01-15<', r.text)  # from the ID number
    bare = client.post("/console/members", data={"csrf": csrf, "member_id": "P001"})
    assert re.search(r'id="certno">—<', bare.text)  # registered without one


def test_a_form_without_the_sessions_csrf_token_is_refused(console):
    client, _csrf = login(console, "operator1")
    form = {"txn": "MR1", "member_id": "P001", "invoice": "INV-1", "time": "2023-03-01T09:00:00",
            "institution": "H11010000001", "level": "level3", "total": "300.00"}  # fmt: skip
    for bad in ({}, {"csrf": "forged"}):
        r = client.post("/console/reimbursement", data={**form, **bad})
        assert r.status_code == 403 and "csrf" in r.text
    with console.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(settlements)).scalar() == 0
    # another session's token does not do either
    _other, other_csrf = login(console, "admin1")
    r = client.post("/console/reimbursement", data={**form, "csrf": other_csrf})
    assert r.status_code == 403


def test_roles_viewer_operator_admin(console):
    viewer, _ = login(console, "viewer1")
    for path in ("/console/reimbursement", "/console/staff", "/console/audit"):
        r = viewer.get(path)
        assert r.status_code == 403 and "权限" in r.text
    operator, _ = login(console, "operator1")
    assert operator.get("/console/reimbursement").status_code == 200
    assert operator.get("/console/staff").status_code == 403
    admin, csrf = login(console, "admin1")
    assert admin.get("/console/audit").status_code == 200
    r = admin.post("/console/staff", data={"csrf": csrf, "username": "new_one", "name": "李",
                                           "role": "operator", "password": "short"})  # fmt: skip
    assert r.status_code == 400 and "password" in r.text
    r = admin.post("/console/staff", data={"csrf": csrf, "username": "new_one", "name": "李",
                                           "role": "operator", "password": PASSWORD})  # fmt: skip
    assert r.status_code == 303
    assert ("admin1", "staff.add", "new_one") in audit(console.db)


def test_manual_reimbursement_pays_once_and_is_audited(console):
    client, csrf = login(console, "operator1")
    page = client.get("/console/reimbursement").text
    txn = re.search(r'name="txn" value="([^"]+)"', page).group(1)
    form = {"csrf": csrf, "txn": txn, "member_id": "P001", "invoice": "INV-9",
            "time": "2023-03-01T09:00:00", "institution": HOSPITAL, "level": "",
            "total": "300.00", "in_scope": "300.00"}  # fmt: skip
    first = client.post("/console/reimbursement", data=form)
    assert first.status_code == 200, first.text
    # Kaifeng level 3, employee: (300 - 50 deductible) x 50% = 125.00 from the fund
    assert re.search(r"统筹支付 <b>125.00</b>", first.text)
    again = client.post("/console/reimbursement", data=form)  # the same form posted twice
    assert again.status_code == 200
    with console.db.connect() as conn:
        rows = conn.execute(select(settlements.c.txn_id, settlements.c.request)).all()
    assert [r.txn_id for r in rows] == [txn]
    request = rows[0].request
    request = json.loads(request) if isinstance(request, str) else request
    assert request["visit"]["manual"] is True
    actions = [a for a in audit(console.db) if a[1] == "reimbursement"]
    assert actions[0] == ("operator1", "reimbursement", txn)


def test_logout_ends_the_session(console):
    client, csrf = login(console, "viewer1")
    r = client.post("/console/logout", data={"csrf": csrf})
    assert r.status_code == 303
    assert client.get("/console/members").status_code == 303  # back to the login page
    assert ("viewer1", "logout", None) in audit(console.db)


def test_pages_render_with_data(console):
    client, _csrf = login(console, "admin1")
    pages = {
        "/console/?region=kaifeng&year=2023": "统筹基金月度收支",
        "/console/calculate": "待遇测算",
        "/console/policy?region=kaifeng&other=nanyang": "KF-9a",
        "/console/alerts": "尚未运行监控规则",
        "/console/statements?month=2023-03": "本月无结算",
        "/console/audit": "登录",
    }
    for path, expected in pages.items():
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert expected in r.text, path
        assert r.headers["cache-control"] == "no-store"
    bad = client.get("/console/statements?month=2023-13")
    assert bad.status_code == 400 and "month" in bad.text


def test_a_monitoring_run_from_the_console_is_kept_and_audited(console):
    from gongji.ledger.settlement import settle

    for n in range(3):  # three settlements at one institution in one day: split visits
        visit = {"id": f"V{n}", "time": f"2023-03-01T0{n + 1}:00:00", "institution": HOSPITAL,
                 "total": "80.00"}  # fmt: skip
        settle(console.db, f"T{n}", "P001", visit)
    viewer, viewer_csrf = login(console, "viewer1")
    form = {"csrf": viewer_csrf, "begin": "2023-03-01", "end": "2023-03-31"}
    assert viewer.post("/console/alerts", data=form).status_code == 403  # viewers only read
    client, csrf = login(console, "operator1")
    bad = client.post("/console/alerts", data={**form, "csrf": csrf, "begin": "2023-03-32"})
    assert bad.status_code == 400 and "begin" in bad.text
    r = client.post("/console/alerts", data={**form, "csrf": csrf})
    assert r.status_code == 303
    page = viewer.get("/console/alerts").text
    assert re.search(r"第 1 次监控：就诊日期 2023-03-01 至 2023-03-31，1 条预警", page)
    assert f"P001@{HOSPITAL}@2023-03-01" in page
    # the evidence in yuan and Chinese: three visits of 80.00 (24000 fen)
    assert "医疗费总额：240.00" in page and "就诊次数：3" in page and "24000" not in page
    assert ("operator1", "monitor", "1") in audit(console.db)


def test_refused_logins_are_throttled_without_being_heard(console):
    client = httpx.Client(base_url=console.url, timeout=30)
    for _ in range(5):
        r = client.post("/console/login", data={"username": "admin1", "password": "wrong!"})
        assert r.status_code == 401
    r = client.post("/console/login", data={"username": "admin1", "password": PASSWORD})
    assert r.status_code == 429 and "登录失败次数过多" in r.text  # even the right password
    refused = [a for a in audit(console.db) if a[1] == "login.refused"]
    assert len(refused) == 5  # the throttled attempt is not heard, so not written
    # a name that is not a username is not recorded as typed (it may be a password)
    with console.db.begin() as conn:
        conn.execute(delete(limits))  # this client (127.0.0.1) is throttled too: start again
    r = client.post("/console/login", data={"username": "my secret", "password": "x"})
    assert r.status_code == 401
    assert ("(unknown)", "login.refused", None) in audit(console.db)
    with console.db.connect() as conn:  # nor kept in the throttle's counters
        names = conn.execute(select(limits.c.name)).scalars().all()
    assert len(names) == 2 and not any("my secret" in n for n in names)


def test_many_wrong_passwords_at_once_are_heard_five_times(console):
    """Counted before the password is checked: of 40 attempts at once, 5 are checked."""

    def attempt(i: int) -> int:
        with httpx.Client(base_url=console.url, timeout=60) as c:
            data = {"username": "admin1", "password": f"guess {i}"}
            return c.post("/console/login", data=data).status_code

    with ThreadPoolExecutor(40) as pool:
        codes = list(pool.map(attempt, range(40)))
    assert sorted(codes) == [401] * 5 + [429] * 35
    assert len([a for a in audit(console.db) if a[1] == "login.refused"]) == 5


def test_a_successful_login_does_not_count_as_refused(console):
    client = httpx.Client(base_url=console.url, timeout=30)
    for _ in range(4):
        assert client.post("/console/login", data={"username": "admin1"}).status_code == 401
    for _ in range(3):  # were these counted, the fifth refusal would be throttled
        login(console, "admin1")
    assert client.post("/console/login", data={"username": "admin1"}).status_code == 401
    assert client.post("/console/login", data={"username": "admin1"}).status_code == 429


def refused_from(url: str, addresses: list[str]) -> list[int]:
    """A wrong password for a new username each time, claiming to be forwarded for each
    address in turn: the statuses."""
    codes = []
    with httpx.Client(base_url=url, timeout=30) as c:
        for i, address in enumerate(addresses):
            data = {"username": f"nobody{i}", "password": "x"}
            headers = {"X-Forwarded-For": address}
            codes.append(c.post("/console/login", data=data, headers=headers).status_code)
    return codes


def test_a_forwarded_address_is_not_believed_by_default(console):
    """uvicorn would believe X-Forwarded-For from 127.0.0.1: a client rotating it would
    never be throttled. By default nobody's is believed: the client is its connection."""
    addresses = [f"10.0.0.{i}" for i in range(8)]
    assert refused_from(console.url, addresses) == [401] * 5 + [429] * 3


def test_a_trusted_proxys_forwarded_address_is_the_client(db):
    svc, server, thread = start(db, trusted_proxies="127.0.0.1")
    try:
        codes = refused_from(svc.url, ["10.0.0.1"] * 6 + ["10.0.0.2"])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert codes == [401] * 5 + [429, 401]  # 10.0.0.1 is throttled, 10.0.0.2 is not


def test_bad_input_is_a_page_naming_the_field_never_a_500(console):
    client, csrf = login(console, "admin1")
    cases = [
        ("POST", "/console/members", {"csrf": "令牌", "member_id": "P001"}, 403, "csrf"),
        ("POST", "/console/members", {"csrf": csrf, "member_id": "P0\x0001"}, 400, "member_id"),
        ("POST", "/console/members", {"csrf": csrf, "member_id": "P" * 41}, 400, "member_id"),
        ("GET", "/console/statements?month=9999-12", None, 400, "month"),
        ("GET", "/console/?year=abc", None, 400, "year"),
        ("GET", "/console/?region=nowhere", None, 400, "region"),
        ("POST", "/console/staff", {"csrf": csrf, "username": "x1", "name": "名" * 81,
                                    "role": "viewer", "password": PASSWORD}, 400, "name"),
        ("POST", "/console/calculate", {"csrf": csrf, "region": "kaifeng", "type": "employee",
                                        "time0": "2023-03-01T09:00:00", "level0": "level3",
                                        "total0": "1e30"}, 400, "total"),
        ("POST", "/console/logout", {}, 403, "csrf"),
    ]  # fmt: skip
    for method, path, form, status, field in cases:
        r = client.request(method, path, data=form)
        assert r.status_code == status, (path, form, r.status_code, r.text[:200])
        assert "text/html" in r.headers["content-type"] and field in r.text, (path, r.text[:300])


def test_a_reimbursement_form_checks_its_fields_before_anything_is_settled(console):
    client, csrf = login(console, "operator1")
    page = client.get("/console/reimbursement").text
    txn = re.search(r'name="txn" value="([^"]+)"', page).group(1)
    good = {"csrf": csrf, "txn": txn, "member_id": "P001", "invoice": "INV-1",
            "time": "2023-03-01T09:00:00", "institution": HOSPITAL, "total": "300.00"}  # fmt: skip
    for change, field in (
        ({"txn": "MR" + "9" * 70}, "txn"),
        ({"time": "2032-03-01T09:00:00"}, "time"),  # a typo for 2023 would block the member
        ({"institution": "H" * 41}, "institution"),
        ({"invoice": "INV\x00"}, "invoice"),
    ):
        r = client.post("/console/reimbursement", data={**good, **change})
        assert r.status_code == 400 and field in r.text, (change, r.text[:300])
    with console.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(settlements)).scalar() == 0
    assert client.post("/console/reimbursement", data=good).status_code == 200
    assert client.post("/console/reimbursement", data=good).status_code == 200  # posted again
    actions = [a[1] for a in audit(console.db) if a[2] == txn]
    assert actions == ["reimbursement", "reimbursement.replayed"]


def test_only_the_console_itself_skips_the_api_credentials(console):
    anonymous = httpx.Client(base_url=console.url, timeout=30)
    assert anonymous.get("/consolefoo").status_code == 401
    assert anonymous.get("/console").status_code in (303, 307, 404)  # not an API route either


def test_an_old_invoice_is_settled_late_and_an_invoice_only_once(console):
    """Issue 16: an invoice dated before the member's last settlement is settled late (it was
    refused), and the same invoice again is refused by name (XSBN-28: once per invoice)."""
    from gongji.ledger.settlement import settle

    settle(console.db, "T-later", "P001", {"id": "V9", "time": "2023-03-10T09:00:00",
                                           "institution": HOSPITAL, "total": "50.00"})  # fmt: skip
    client, csrf = login(console, "operator1")

    def post(invoice: str, total: str):
        page = client.get("/console/reimbursement").text
        txn = re.search(r'name="txn" value="([^"]+)"', page)[1]
        return client.post("/console/reimbursement", data={
            "csrf": csrf, "txn": txn, "member_id": "P001", "invoice": invoice,
            "time": "2023-03-01T09:00:00", "institution": HOSPITAL, "total": total})  # fmt: skip

    r = post("INV-OLD", "80.00")
    assert r.status_code == 200 and "补结算" in r.text
    again = post("INV-OLD", "90.00")
    assert again.status_code == 400 and "该发票已报销" in again.text


def test_looking_a_member_up_is_audited(console):
    client, csrf = login(console, "viewer1")
    client.post("/console/members", data={"csrf": csrf, "member_id": "P002"})
    assert ("viewer1", "member.viewed", "P002") in audit(console.db)


def test_an_operator_binds_a_relative_and_ends_the_binding(console):
    """Family mutual aid from the member's page (开封 第十七条): bound, shown, ended, each
    audited; a viewer may not, and a bad field is named."""
    viewer, csrf = login(console, "viewer1")
    form = {"holder": "P001", "user": "P002", "relationship": "spouse", "from": "2023-02-01"}
    assert viewer.post("/console/members/bindings", data={**form, "csrf": csrf}).status_code == 403
    client, csrf = login(console, "operator1")
    bad = client.post(
        "/console/members/bindings", data={**form, "relationship": "cousin", "csrf": csrf}
    )
    assert bad.status_code == 400 and "binding.relationship" in bad.text
    made = client.post("/console/members/bindings", data={**form, "csrf": csrf})
    assert made.status_code == 200 and 'id="done">已绑定<' in made.text
    assert re.search(
        r"<td>授权人</td><td>P002</td><td>配偶</td><td>2023-02-01</td><td>长期</td>", made.text
    )
    end = {"holder": "P001", "user": "P002", "action": "end", "on": "2023-04-01", "csrf": csrf}
    ended = client.post("/console/members/bindings", data=end)
    assert ended.status_code == 200 and "<td>2023-03-31</td>" in ended.text
    assert [a[1] for a in audit(console.db) if a[1].startswith("binding")] == [
        "binding.added",
        "binding.ended",
    ]


def test_policy_page_shows_readings_as_configured_never_as_the_articles_words(console):
    """Where a text is silent (佳木斯 第七条 on when a new retiree's ratios begin), the page says
    配置 and gives the pack's reading as a reading (解读), apart from the article's words."""
    client, csrf = login(console, "viewer1")
    page = client.get("/console/policy?region=jiamusi").text
    row = next(r for r in page.split("<tr>") if "退休待遇生效" in r)
    assert "X-2" in row and "第七条" in row and "<td>配置" in row and "<td>原文" not in row
    assert "<summary>解读（非原文）</summary>第七条规定退休人员支付比例提高5个百分点" in row
    kf = client.get("/console/policy?region=kaifeng").text
    filing = next(r for r in kf.split("<tr>") if "条件: 异地就医备案" in r)
    assert "KF-22" in filing and "配置" in filing and "第二十二条告诉已备案" in filing
    # a trial calculation: the account's step cites X-5 as the pack's reading of 第十七条
    form = {"csrf": csrf, "region": "kaifeng", "type": "employee", "time0": "2023-05-02T09:00:00",
            "level0": "level2", "total0": "100.00"}  # fmt: skip
    r = client.post("/console/calculate", data=form)
    assert r.status_code == 200
    account = next(t for t in r.text.split("<tr>") if "个人账户支付" in t)
    assert "X-5" in account and "配置值，非原文；解读：第十七条写了两种份额" in account


def test_error_banners_name_the_field_in_chinese(console):
    client, csrf = login(console, "admin1")
    long = client.post("/console/members", data={"csrf": csrf, "member_id": "P" * 41})
    assert banner(long.text) == "个人编号：至多 40 个字符"
    month = client.get("/console/statements?month=2023-13")
    assert banner(month.text) == "月份：月份格式 YYYY-MM"
    form = {"csrf": csrf, "region": "kaifeng", "type": "employee", "time0": "2023-03-01T09:00:00",
            "level0": "level3", "total0": "1e30"}  # fmt: skip
    calc = client.post("/console/calculate", data=form)
    assert banner(calc.text).startswith("第1次就诊·医疗费总额：")


def test_the_trial_page_explains_in_chinese_with_grouped_amounts(console):
    client, csrf = login(console, "viewer1")
    form = {"csrf": csrf, "region": "kaifeng", "type": "employee", "time0": "2023-03-01T09:00:00",
            "level0": "level3", "total0": "15800.00", "in_scope0": "15800.00"}  # fmt: skip
    r = client.post("/console/calculate", data=form)
    assert r.status_code == 200
    assert "<td>三级每次就诊起付线 50.00</td>" in r.text  # the step in Chinese, its rule beside
    assert '<td class="num">15,800.00</td>' in r.text  # thousands separated
    assert '<option value="level3" selected>三级</option>' in r.text
    assert "per-visit" not in r.text


# three English words in a row (a sentence, not a rule ID, a number or a `field`)
ENGLISH_RUN = re.compile(r"[A-Za-z]+(?:[\s,;:'’()-]+[A-Za-z]+){2,}")


def test_the_trial_page_gives_the_packs_reading_in_chinese(console):
    """A configured step's reading (X-5: what the account pays, 开封 第十七条) is shown to
    bureau staff in Chinese, with no English sentence on the page (review of issue 21)."""
    client, csrf = login(console, "viewer1")
    form = {"csrf": csrf, "region": "kaifeng", "type": "employee", "time0": "2023-03-01T09:00:00",
            "level0": "level3", "total0": "250.00"}  # fmt: skip
    r = client.post("/console/calculate", data=form)
    assert r.status_code == 200
    account = next(t for t in r.text.split("<tr>") if "个人账户支付" in t)
    assert "解读：第十七条写了两种份额：政策范围内自付费用" in account
    shown = re.sub(r"`[^`]*`", "", visible(re.sub(r"(?s)<(script|style).*?</\1>", "", r.text)))
    assert ENGLISH_RUN.findall(shown) == []


def test_policy_values_are_in_chinese_and_a_comparison_marks_differences(console):
    client, _csrf = login(console, "viewer1")
    page = client.get("/console/policy?region=jiamusi&other=kaifeng").text
    shown = visible(page)
    assert "不予统筹支付" in shown and "not pooled" not in shown
    assert "same_institution_day" not in shown and "同一机构同一天只计一次" in shown
    compare = page.split('id="compare"')[1].split("</table>")[0]
    differs = [row for row in compare.split("<tr") if 'class="differs"' in row]
    assert differs and any("每次就诊起付线" in row for row in differs)


def test_journal_kinds_audit_actions_and_details_are_words_not_codes(console):
    admin, csrf = login(console, "admin1")
    admin.post("/console/members", data={"csrf": csrf, "member_id": "P001"})
    member = admin.post("/console/members", data={"csrf": csrf, "member_id": "P001"}).text
    journal = member.split('id="journal"')[1].split("</table>")[0]
    assert "<td>期初余额</td>" in journal and "<td>opening</td>" not in journal
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td>", journal)  # no T, no offset
    admin.post("/console/staff", data={"csrf": csrf, "username": "new_two", "name": "王",
                                       "role": "viewer", "password": PASSWORD})  # fmt: skip
    audit_page = admin.get("/console/audit").text
    rows = audit_page.split('id="audit"')[1]
    assert "<td>新增工作人员</td>" in rows and "staff.add" not in rows
    assert "{" not in visible(rows) and "姓名：王" in rows and "角色：查询员" in rows
