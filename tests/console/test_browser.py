"""The console's main flows in a real browser: Playwright driving Debian's Chromium
(/usr/bin/chromium, installed by .ci/run) on a 1366x768 screen, over both stores.
Screenshots of each step are kept in artifacts/console/ (CI keeps them as artifacts)."""

import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from gongji.console.schema import audit_log
from gongji.ledger.schema import settlements

from .conftest import HOSPITAL, PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("GONGJI_ARTIFACTS", Path(__file__).parents[2] / "artifacts"))
SCREEN = {"width": 1366, "height": 768}
# the browser's own language (date inputs as 年/月/日): a context's locale sets the page's
# language, but Chromium draws its form controls in the process's (needs chromium-l10n),
# which LANGUAGE names; LANG a UTF-8 locale every machine has (where zh_CN.UTF-8 is not
# generated, a download's Chinese file name would be saved as "download")
CHINESE = {**os.environ, "LANG": "C.UTF-8", "LANGUAGE": "zh_CN:zh"}


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: .ci/run installs Debian's chromium")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], env=CHINESE)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, console, request):
    """A new browser page logged in as a staff member; screenshots named by the test."""
    folder = ARTIFACTS / "console" / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    contexts = []

    def login(username: str):
        context = browser.new_context(viewport=SCREEN, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{console.url}/console/")
        assert page.url.endswith("/console/login")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(f"{console.url}/console/")
        page.shot = lambda name: page.screenshot(path=folder / f"{name}.png", full_page=True)
        return page

    yield login
    for context in contexts:
        context.close()


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= SCREEN["width"]


def test_member_lookup_and_trial_calculation(open_page, console):
    page = open_page("viewer1")
    page.shot("01-fund")
    assert page.get_by_role("heading", name="基金概况").is_visible()

    page.get_by_role("link", name="参保人查询").click()
    page.get_by_label("个人编号").fill("P001")
    page.get_by_role("button", name="查询").click()
    assert page.locator("#balance").inner_text() == "300.00"
    assert "P001" not in page.url  # looked up by POST: no member id in a URL
    assert fits_the_screen(page)
    page.shot("02-member")

    page.get_by_role("link", name="待遇测算").click()
    page.select_option("select[name=region]", "kaifeng")
    page.fill("input[name=account_balance]", "100.00")
    page.fill("input[name=time0]", "2023-03-01T09:00:00")
    page.fill("input[name=institution0]", "H1")
    page.select_option("select[name=level0]", "level3")
    page.fill("input[name=total0]", "250.00")
    page.get_by_role("button", name="测算").click()
    # KF-9a deductible 50 at level 3, KF-9d 50% for an employee: (250 - 50) x 50% = 100
    assert page.locator("#result td.fund").first.inner_text() == "100.00"
    trace = page.locator("table.trace").first.inner_text()
    assert "KF-9a" in trace and "KF-9d" in trace
    assert "一天（一个自然日）内在同一机构多次就诊的，只记一次起付标准" in trace  # the article
    assert fits_the_screen(page)
    page.shot("03-calculate")

    page.get_by_role("link", name="政策").click()
    page.select_option("select[name=region]", "kaifeng")
    page.select_option("select[name=other]", "nanyang")
    page.get_by_role("button", name="查看").click()
    assert "NY-5a" in page.locator("#compare").inner_text()
    page.shot("04-policy")

    assert page.get_by_role("link", name="手工报销").count() == 0  # a viewer enters nothing
    page.goto(f"{console.url}/console/reimbursement")
    assert page.get_by_role("heading", name="无权访问").is_visible()


def test_manual_reimbursement_then_the_audit_log(open_page, console):
    page = open_page("operator1")
    page.get_by_role("link", name="手工报销").click()
    page.fill("input[name=member_id]", "P001")
    page.fill("input[name=invoice]", "INV-2023-0001")
    page.fill("input[name=time]", "2023-03-01T09:00:00")
    page.fill("input[name=institution]", HOSPITAL)
    page.fill("input[name=total]", "300.00")
    page.fill("input[name=in_scope]", "300.00")
    page.get_by_role("button", name="提交报销").click()
    done = page.locator("#reimbursed").inner_text()
    assert "统筹支付 125.00 元" in done, done  # (300 - 50) x 50%
    page.shot("01-reimbursed")
    with console.db.connect() as conn:
        assert len(conn.execute(select(settlements.c.txn_id)).all()) == 1

    admin = open_page("admin1")  # opens on the fund: the year of the latest visit
    march = admin.locator("#months tr", has_text="2023-03").inner_text()
    assert "125.00" in march  # the fund's pay for the reimbursed visit, in its month
    assert admin.locator("svg rect").count() > 2  # the monthly chart has its bars
    admin.shot("02-fund")
    admin.get_by_role("link", name="审计日志").click()
    log = admin.locator("#audit").inner_text()
    assert "operator1" in log and "手工报销" in log  # the action in words (issue 21)
    admin.shot("03-audit")
    admin.get_by_role("link", name="机构结算").click()
    admin.fill("input[name=month]", "2023-03")
    admin.get_by_role("button", name="生成").click()
    row = admin.locator("#statements tr", has_text=HOSPITAL).inner_text()
    assert "300.00" in row and "125.00" in row
    admin.shot("04-statements")
    admin.get_by_role("button", name="退出").click()
    admin.wait_for_url(f"{console.url}/console/login")
    with console.db.connect() as conn:
        actions = [r.action for r in conn.execute(select(audit_log.c.action))]
    assert actions.count("login") == 2 and "logout" in actions
