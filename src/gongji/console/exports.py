"""Excel downloads of the statements, the alerts and the fund statistics: headers in
Chinese, amounts in yuan with two decimals (the store's integer fen divided once, here).
Each download is a line in the audit log."""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from io import BytesIO
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from gongji import labels, policy
from gongji.console import auth, records
from gongji.console.pages import _db, _error, _month, _staff, router, templates
from gongji.errors import InputError

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YUAN = "#,##0.00"


class Money(int):
    """An amount in fen, to be written as yuan."""


def sheet(title: str, headers: list[str], rows: Iterable[list]) -> bytes:
    """One worksheet: the header row, then the rows; a Money cell is yuan to two decimals."""
    book = Workbook()
    ws = book.active
    ws.title = title
    ws.append(headers)
    for row in rows:
        ws.append([Decimal(v) / 100 if isinstance(v, Money) else v for v in row])
        for cell, value in zip(ws[ws.max_row], row, strict=True):
            if isinstance(value, Money):
                cell.number_format = YUAN
    for i, header in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(12, 2 * len(header) + 4)
    ws.freeze_panes = "A2"
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _download(request: Request, who, content: bytes, name: str, what: str, zh: str) -> Response:
    """`name`: the file's ASCII name (any browser); `zh`: its Chinese name, which browsers
    that read RFC 6266's filename* (all current ones) save it as."""
    with _db(request).begin() as conn:
        auth.record(conn, who.username, "export", what, {"file": zh})
    headers = {
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(zh)}",
        "Cache-Control": "no-store",
    }
    return Response(content, media_type=XLSX, headers=headers)


def _label(key) -> str:
    """A code as the pages name it (their term table)."""
    return str(templates.env.globals["label"](key)) if key else ""


def evidence(text: str) -> str:
    """An alert's evidence (JSON, in fen) as one line of "名称：值" pairs in yuan."""
    return labels.facts_text(text)


# -- statements ---------------------------------------------------------------------------------
STATEMENT_HEADERS = ["机构编码", "机构名称", "级别", "结算笔数", "撤销笔数", "总费用（元）",
                     "统筹支付（元）", "个人账户（元）", "共济（元）", "现金（元）", "应付（元）",
                     "支付方式", "调整（元）", "实付（元）"]  # fmt: skip


@router.get("/statements.xlsx")
def statements_xlsx(request: Request, month: str = ""):
    from gongji.supervision.statements import statements

    who = _staff(request)
    try:
        month = month or records.latest_month(_db(request))
        if not month:
            raise InputError("month", "尚无结算，请先选择月份 choose a month")
        rows = statements(_db(request), _month(month))
    except InputError as exc:
        return _error(request, who, exc, "statements.html", rows=None, month=month)
    body = [
        [s["institution"], s.get("name") or "", _label(s.get("level")), s["settlements"],
         s["cancelled"], Money(s["total"]), Money(s["fund_pay"]), Money(s["account_pay"]),
         Money(s["mutual_aid_pay"]), Money(s["cash_pay"]), Money(s["owed"]),
         _label(s["payment"]["method"]), Money(s["payment"]["adjustment"]), Money(s["payable"])]
        for s in rows
    ]  # fmt: skip
    content = sheet(f"{month} 机构结算", STATEMENT_HEADERS, body)
    return _download(request, who, content, f"statements-{month}.xlsx", f"statements {month}",
                     f"机构结算-{month}.xlsx")  # fmt: skip


# -- alerts -------------------------------------------------------------------------------------
@router.get("/alerts.xlsx")
def alerts_xlsx(request: Request, rule: str = ""):
    from gongji.supervision import runs

    who = _staff(request)
    last, rows = runs.latest(_db(request), rule[:40] or None, limit=100_000)
    if last is None:
        error = InputError("run", "尚未运行监控规则，无预警可导出 no monitoring run yet")
        return _error(request, who, error, "alerts.html", run=None, alerts=[], rule=rule)
    headers = ["规则", "依据", "对象", "涉及金额（元）", "证据"]
    body = [[_label(a.rule), a.rules, a.subject, Money(a.amount), evidence(a.evidence)]
            for a in rows]  # fmt: skip
    content = sheet(f"第{last.id}次监控预警", headers, body)
    return _download(request, who, content, f"alerts-run{last.id}.xlsx", f"alerts {last.id}",
                     f"监控预警-第{last.id}次.xlsx")  # fmt: skip


# -- fund statistics ----------------------------------------------------------------------------
FUND_HEADERS = ["月份", "缴费收入（元）", "划入统筹（元）", "划入个人账户（元）", "统筹支付（元）",
                "退休人员账户划拨（元）", "账户支付（元）", "统筹基金余额（元）",
                "个人账户合计（元）", "封存（元）"]  # fmt: skip


@router.get("/fund.xlsx")
def fund_xlsx(request: Request, region: str = "", year: str = ""):
    from gongji.supervision.fund import fund_statistics

    who = _staff(request)
    region = region or records.home_region(_db(request))
    try:
        if region not in policy.known_regions():
            raise InputError("region", f"没有这个统筹地区 no region {region[:40]!r}")
        if not (year.isdigit() and 2000 <= int(year) <= 2100):
            year = str((records.latest_month(_db(request)) or str(date.today().year))[:4])
        stats = fund_statistics(_db(request), region, int(year))
    except InputError as exc:
        context = {"regions": policy.known_regions(), "region": region, "year": year}
        return _error(request, who, exc, "fund.html", stats=None, chart=None, **context)
    body = [
        [m["month"], Money(m["income"]["contributions"]), Money(m["income"]["to_fund"]),
         Money(m["income"]["to_accounts"]), Money(m["expenditure"]["fund_pay"]),
         Money(m["expenditure"]["retiree_credits"]), Money(m["accounts"]["visits"]),
         Money(m["balances"]["fund"]), Money(m["balances"]["accounts"]),
         Money(m["balances"]["frozen"])]
        for m in stats["months"]
    ]  # fmt: skip
    name = policy.load_region(region).name
    content = sheet(f"{name}{year}年基金收支"[:31], FUND_HEADERS, body)
    return _download(request, who, content, f"fund-{region}-{year}.xlsx", f"fund {region} {year}",
                     f"基金收支-{labels.label(region)}-{year}.xlsx")  # fmt: skip
