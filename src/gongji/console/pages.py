"""The bureau's console (经办控制台): server-rendered Chinese pages in the service's app.

Every page needs a logged-in staff member (a session cookie); every form posts its session's
CSRF token back; pages that name a member are reached by POST, so no member's id is ever in
a URL (nor in the access log); every change goes into the audit log. Reads call the same
functions as the CLI and the REST API (ledger.views, calculate, policy.present, supervision).
"""

import hmac
import os
import re
import secrets
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated

from anyio import from_thread
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from gongji import calculate as calc
from gongji import labels, policy
from gongji.console import auth, charts, records
from gongji.console.schema import audit_log, staff
from gongji.errors import InputError, ServiceError
from gongji.ledger import family, store, views
from gongji.money import fmt, fmt_grouped, fmt_time
from gongji.policy import present
from gongji.terms import Category, Level, MemberType

HERE = Path(__file__).parent
COOKIE = "gongji_console"
# behind a proxy that ends TLS the app sees http: GONGJI_SECURE_COOKIE=1 marks the cookie Secure
SECURE_COOKIE = os.environ.get("GONGJI_SECURE_COOKIE") == "1"
PREFIX = "/console"
templates = Jinja2Templates(directory=HERE / "templates")
# one way to show an amount (15,800.00) and a time (2026-11-29 20:09:21) on every page; the
# names people read from the one term table (gongji.labels), which other pages call too
templates.env.filters["yuan"] = lambda fen: fmt_grouped(int(fen))  # fen
templates.env.filters["money"] = lambda yuan: "" if yuan in (None, "") else fmt_grouped(yuan)
templates.env.filters["when"] = lambda moment: "" if moment is None else fmt_time(moment)
templates.env.filters["pairs"] = lambda d: pairs(d)
templates.env.filters["phrase"] = lambda text: labels.phrase(str(text))
templates.env.filters["keys"] = lambda text: _pack_keys(str(text))
router = APIRouter(prefix=PREFIX, include_in_schema=False)
templates.env.globals["label"] = labels.label
templates.env.globals["field_name"] = labels.field
templates.env.globals["banner"] = lambda error: _names_as_code(
    labels.error_text(error.field, error.reason, error.code)
)
templates.env.globals["region_name"] = lambda region: _region_names().get(region, region)
templates.env.globals["version_name"] = lambda vid: labels.version(vid)
templates.env.globals["error_line"] = labels.error_line
templates.env.globals["audit_target"] = labels.audit_target
templates.env.filters["txn"] = labels.txn
templates.env.globals["rule_names"] = list(labels.MONITORING_RULES)  # the alerts' filter


def pairs(detail: object) -> Markup:
    """A dict (or its JSON text: an alert's evidence, an audit line's detail) as label：value
    items in yuan and Chinese (labels.facts), never a raw dict on a page."""
    items = (
        Markup('<span class="pair">{}：{}</span>').format(name, value) if name else value
        for name, value in labels.facts(detail)
    )
    return Markup("；").join(items)


@cache
def _region_names() -> dict[str, str]:
    return {r: policy.load_region(r).name for r in policy.known_regions()}


class _Redirect(Exception):
    """Not logged in (or the session expired): to the login page."""


class _Forbidden(Exception):
    """Logged in, but the page needs a higher role."""

    def __init__(self, who: auth.Staff, role: str):
        self.who, self.role = who, role


def install(app: FastAPI) -> None:
    # done now, not on a staff member's time: the templates compiled, the packs' names read
    for name in templates.env.list_templates():
        templates.env.get_template(name)
    _region_names()
    # their pages join this router (they import this module: imported here, once it is whole)
    from gongji.console import exports, office  # noqa: F401

    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    _not_found_in_chinese(app)

    @app.exception_handler(_Redirect)
    async def _to_login(_request: Request, _exc: _Redirect) -> Response:
        return RedirectResponse(f"{PREFIX}/login", status_code=303)

    @app.exception_handler(_Forbidden)
    async def _forbidden(request: Request, exc: _Forbidden) -> Response:
        role = labels.label(exc.role)
        error = InputError("role", f"此页面需要{role}权限 needs the {exc.role} role")
        return _page(request, exc.who, "error.html", status=403, error=error)


def _not_found_in_chinese(app: FastAPI) -> None:
    """A path under the console that is no page: a Chinese page saying so (the API's own
    paths keep their JSON answers, from the handler the service installed)."""
    theirs = app.exception_handlers[StarletteHTTPException]

    @app.exception_handler(StarletteHTTPException)
    async def _not_found(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code != 404 or not request.url.path.startswith(PREFIX + "/"):
            return await theirs(request, exc)
        token = request.cookies.get(COOKIE)
        who = await run_in_threadpool(auth.session, _db(request), token)
        return _page(request, who, "missing.html", status=404)


def _db(request: Request):
    return request.app.state.db


def _staff(request: Request, role: str = "viewer") -> auth.Staff:
    who = auth.session(_db(request), request.cookies.get(COOKIE))
    if who is None:
        raise _Redirect()
    if not who.may(role):
        raise _Forbidden(who, role)
    return who


async def _posted(request: Request) -> dict:
    """The posted form's fields as text. Read on the event loop; the handlers that take it
    are plain functions, run in the thread pool: their database work and password hashing
    never hold up the settlements the service's writer runs on the loop."""
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


Posted = Annotated[dict, Depends(_posted)]


def _checked(form: dict, who: auth.Staff) -> dict:
    """The form, once its CSRF token is the session's (a page of ours drew it)."""
    given = form.pop("csrf", "").encode()
    if not hmac.compare_digest(given, who.csrf.encode()):
        raise InputError(
            "csrf", "表单已过期或来源不明，请刷新页面 the form is stale or not ours", "E_CSRF"
        )
    return form


def _text(form: dict, key: str, limit: int = 40, required: bool = True) -> str:
    """A field of a form: trimmed, printable, at most `limit` characters."""
    value = form.get(key, "").strip()
    if required and not value:
        raise InputError(key, "必填 required")
    if len(value) > limit:
        raise InputError(key, f"至多 {limit} 个字符 at most {limit} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InputError(key, "含有控制字符 control characters are not allowed")
    return value


def _page(request: Request, who: auth.Staff | None, name: str, status: int = 200, **context):
    response = templates.TemplateResponse(
        request, name, {"who": who, "prefix": PREFIX, **context}, status_code=status
    )
    # pages show personal data: not cached, not framed, no scripts or styles from elsewhere
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _error(request: Request, who: auth.Staff | None, exc: InputError, page: str, **context):
    status = 403 if exc.code in ("E_FORBIDDEN", "E_CSRF") else 400
    if exc.code == "E_NOT_FOUND":
        status = 404
    return _page(request, who, page, status=status, error=exc, **context)


# -- login ---------------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request):
    return _page(request, None, "login.html")


@router.post("/login")
def login(request: Request, form: Posted):
    client = request.client.host if request.client else "-"
    try:
        username = _text(form, "username")
        token = auth.login(_db(request), username, form.get("password", "")[:200], client)
    except InputError as exc:
        status = 429 if exc.code == "E_THROTTLED" else 400
        return _page(request, None, "login.html", status=status, error=exc)
    if token is None:
        # no field: the banner says it once, not which of the two was wrong
        error = InputError("", "用户名或密码不正确 wrong username or password")
        return _page(request, None, "login.html", status=401, error=error)
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https" or SECURE_COOKIE,
        max_age=auth.SESSION_HOURS * 3600,
        path=PREFIX,
    )
    return response


@router.post("/logout")
def logout(request: Request, form: Posted):
    who = _staff(request)
    try:
        _checked(form, who)
    except InputError as exc:
        return _page(request, who, "error.html", status=403, error=exc)
    auth.logout(_db(request), who, request.cookies[COOKIE])
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


# -- home: the fund ------------------------------------------------------------------------------
def _latest_year(db) -> int:
    """The year of the latest visit settled (a store of past years opens on its last)."""
    latest = views.latest_visit_time(db)
    return latest.year if latest else date.today().year


def warm(db) -> None:
    """Sum the journal for the fund and statements pages once, at startup (later views only
    add the entries posted since)."""
    from gongji.supervision.fund import fund_statistics
    from gongji.supervision.statements import statements

    for region in views.regions(db):
        fund_statistics(db, region, date.today().year)
    statements(db, date.today())


@router.get("/", response_class=HTMLResponse)
def home(request: Request, region: str = "", year: str = ""):
    from gongji.supervision.fund import fund_statistics

    who = _staff(request)
    region = region or who.region or records.home_region(_db(request))
    context = {"regions": policy.known_regions(), "region": region, "year": year[:4]}
    try:
        if region not in policy.known_regions():
            raise InputError("region", f"没有这个统筹地区 no region {region[:40]!r}")
        if year and not (year.isdigit() and 2000 <= int(year) <= 2100):
            raise InputError("year", "年度应为 2000–2100 a year from 2000 to 2100")
        context["year"] = int(year) if year else _latest_year(_db(request))
        stats = fund_statistics(_db(request), region, context["year"])
    except InputError as exc:
        return _error(request, who, exc, "fund.html", stats=None, chart=None, **context)
    chart = charts.fund_months(stats)
    return _page(request, who, "fund.html", stats=stats, chart=chart, **context)


# -- members -------------------------------------------------------------------------------------
@router.get("/members", response_class=HTMLResponse)
def member_form(request: Request):
    return _page(request, _staff(request), "member.html", member=None, account=None)


@router.post("/members", response_class=HTMLResponse)
def member_lookup(request: Request, form: Posted):
    who = _staff(request)
    try:
        member_id = _text(_checked(form, who), "member_id")
        member = views.member_show(_db(request), member_id)
        with _db(request).begin() as conn:  # who looked at whose personal data
            auth.record(conn, who.username, "member.viewed", member_id, {})
        account = views.account_show(_db(request), member_id)
    except InputError as exc:
        return _error(request, who, exc, "member.html", member=None, account=None)
    return _page(request, who, "member.html", member=member, account=account)


@router.post("/members/bindings", response_class=HTMLResponse)
def member_binding(request: Request, form: Posted):
    """Bind a relative to the member's account (family mutual aid), or end a binding: the
    member's page again, with the change, and a line in the audit log."""
    who = _staff(request, "operator")
    db = _db(request)
    try:
        action = change_binding(db, who, _checked(form, who))
        holder = form["holder"].strip()
        member, account = views.member_show(db, holder), views.account_show(db, holder)
    except InputError as exc:
        member = _quietly(views.member_show, db, form.get("holder", ""))
        account = member and views.account_show(db, member["id"])
        return _error(request, who, exc, "member.html", member=member, account=account)
    return _page(request, who, "member.html", member=member, account=account, done=action)


def change_binding(db, who: auth.Staff, form: dict) -> str:
    """A binding added (or ended, action "end") from a checked form, with its audit line in
    the same transaction; the audit action. The family functions check the rest."""
    holder = _text(form, "holder")
    user = _text(form, "user")
    if form.get("action") == "end":
        doc = {"holder": holder, "user": user, "on": _text(form, "on")}
        change, action = family.unbind, "binding.ended"
    else:
        doc = {"holder": holder, "user": user, "relationship": _text(form, "relationship"),
               "from": _text(form, "from")}  # fmt: skip
        end = _text(form, "to", required=False)
        doc = {**doc, "to": end} if end else doc
        change, action = family.bind, "binding.added"
    with db.begin() as conn:  # the change and its audit line, together or not at all
        done = change(conn, doc)
        auth.record(conn, who.username, action, holder, {**doc, "done": done})
    return action


def _quietly(show, db, member_id: str):
    """A page's member when it exists (a refused form keeps showing it), else None."""
    try:
        return show(db, member_id)
    except InputError:
        return None


# -- trial calculation ---------------------------------------------------------------------------
VISIT_ROWS = 3


@router.get("/calculate", response_class=HTMLResponse)
def calculate_form(request: Request):
    return _page(request, _staff(request), "calculate.html", **_calc_context({}, None))


@router.post("/calculate", response_class=HTMLResponse)
def calculate(request: Request, form: Posted):
    who = _staff(request)
    try:
        result = calc.calculate(_scenario(_checked(form, who)))
    except InputError as exc:
        return _error(request, who, exc, "calculate.html", **_calc_context(form, None))
    return _page(
        request, who, "calculate.html", quotes=_quotes(result), **_calc_context(form, result)
    )


def _quotes(result: dict) -> dict[str, dict]:
    """For each visit: the article words each (rule, article) of its trace cites."""
    pack = policy.load_region(result["region"])
    by_id = {pack.version_id(v): v for v in pack.versions}
    words = {
        vid: {f"{r}|{a}": t for (r, a), t in present.quotes(by_id[vid]).items()}
        for vid in {v["policy_version"] for v in result["visits"]}
    }
    return {v["id"]: words[v["policy_version"]] for v in result["visits"]}


def _calc_context(form: dict, result: dict | None) -> dict:
    return {
        "form": form,
        "result": result,
        "regions": policy.known_regions(),
        "types": [t.value for t in MemberType],
        "levels": [lv.value for lv in Level],
        "categories": [c.value for c in Category],
        "rows": range(VISIT_ROWS),
    }


def _scenario(form: dict) -> dict:
    """The calculate document (calculate.md) from the form's fields."""
    member = {"id": "TRIAL", "type": form.get("type", "employee")}
    for key in ("account_balance", "retired_from"):
        if form.get(key):
            member[key] = form[key]
    visits = []
    for i in range(VISIT_ROWS):
        if not form.get(f"total{i}"):
            continue
        visit = {
            "id": f"V{i + 1}",
            "time": form.get(f"time{i}") or "",
            "institution": form.get(f"institution{i}") or "H",
            "level": form.get(f"level{i}") or "",
            "category": form.get(f"category{i}") or "general",
            "total": form[f"total{i}"],
        }
        if form.get(f"in_scope{i}"):
            visit["in_scope"] = form[f"in_scope{i}"]
        visits.append(visit)
    if not visits:
        raise InputError("visits[0].total", "至少填写一次就诊 enter at least one visit")
    return {"region": form.get("region", ""), "member": member, "visits": visits}


# -- policy --------------------------------------------------------------------------------------
@router.get("/policy", response_class=HTMLResponse)
def policy_page(request: Request, region: str = "kaifeng", other: str = ""):
    who = _staff(request)
    context = {"regions": policy.known_regions(), "region": region, "other": other}
    try:
        pack = policy.load_region(region)
        second = policy.load_region(other) if other else None
    except InputError as exc:
        return _error(
            request, who, exc, "policy.html", pack=None, versions=[], compare=None, **context
        )
    versions = [(pack.version_id(v), v, present.rows(v)) for v in pack.versions]
    compare = _compare(pack, second) if second else None
    return _page(
        request, who, "policy.html", pack=pack, versions=versions, compare=compare, **context
    )


def _compare(first, second) -> dict:
    rows = present.side_by_side(first.versions[-1], second.versions[-1])
    return {"names": (first.name, second.name), "rows": rows}


# -- monitoring and statements -------------------------------------------------------------------
@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, rule: str = ""):
    """The last monitoring run's alerts (a run is started here or by `gongji monitor`)."""
    from gongji.supervision import runs

    who = _staff(request)
    last, rows = runs.latest(_db(request), rule or None)
    return _page(request, who, "alerts.html", run=last, alerts=rows, rule=rule)


@router.post("/alerts", response_class=HTMLResponse)
def alerts_run(request: Request, form: Posted):
    """An operator runs the monitoring rules over a period (at most a year); the run and its
    audit line are written in one transaction."""
    from gongji.supervision import runs

    who = _staff(request, "operator")
    try:
        _checked(form, who)
        first, last = _date(form.get("begin", ""), "begin"), _date(form.get("end", ""), "end")
        if (last - first).days > 366:
            raise InputError("end", "一次至多监控一年 at most a year at a time")

        def audited(conn, run_id: int, found) -> None:
            detail = {"begin": str(first), "end": str(last), "alerts": found.height}
            auth.record(conn, who.username, "monitor", str(run_id), detail)

        runs.run(_db(request), first, last, who.username, also=audited)
    except InputError as exc:
        last_run, rows = runs.latest(_db(request))
        return _error(request, who, exc, "alerts.html", run=last_run, alerts=rows, rule="")
    return RedirectResponse(f"{PREFIX}/alerts", status_code=303)


@router.get("/statements", response_class=HTMLResponse)
def statements_page(request: Request, month: str = ""):
    from gongji.supervision.statements import statements

    who = _staff(request)
    rows = None
    # before a month is chosen: the latest month with a settlement (none yet: the page says
    # what to choose)
    month = month or records.latest_month(_db(request))
    try:
        if month:
            rows = statements(_db(request), _month(month))
    except InputError as exc:
        return _error(request, who, exc, "statements.html", rows=None, month=month)
    return _page(request, who, "statements.html", rows=rows, month=month)


def _date(text: str, field: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InputError(field, f"日期格式 YYYY-MM-DD, not {text[:20]!r}") from None
    if not 2000 <= day.year <= 2100:
        raise InputError(field, "年份应在 2000–2100 之间 a year from 2000 to 2100")
    return day


def _month(text: str) -> date:
    try:
        return _date(f"{text}-01", "month")
    except InputError:
        raise InputError("month", f"月份格式 YYYY-MM, not {text[:20]!r}") from None


# -- manual reimbursement (XSBN-28) --------------------------------------------------------------
@router.get("/reimbursement", response_class=HTMLResponse)
def reimbursement_form(request: Request):
    who = _staff(request, "operator")
    return _page(
        request,
        who,
        "reimbursement.html",
        form={},
        result=None,
        levels=[lv.value for lv in Level],
        txn=_new_txn(),
    )


@router.post("/reimbursement", response_class=HTMLResponse)
def reimburse(request: Request, form: Posted):
    """Care that could not be settled online, entered from the invoices: the same engine and
    ledger as a settlement (the service's writer), the visit marked manual. The txn id was
    fixed when the form was drawn, so a form posted twice pays once (and is audited once)."""
    who = _staff(request, "operator")
    context = {"levels": [lv.value for lv in Level]}
    try:
        _checked(form, who)
        txn = form.get("txn", "")
        if not TXN.fullmatch(txn):
            raise InputError("txn", "表单流水号有误，请刷新页面 the form's transaction id is wrong")
        member_id = _text(form, "member_id")
        visit = _invoice(form)
        replayed = views.find_settlement(_db(request), txn) is not None
        answer = from_thread.run(request.app.state.writer.reimburse, txn, member_id, visit)
    except (InputError, ServiceError) as exc:
        return _error(request, who, _explained(exc), "reimbursement.html", form=form,
                      result=None, txn=form.get("txn") or _new_txn(), **context)  # fmt: skip
    # the settlement is the writer's transaction: the audit line follows it (a replay of a
    # form already settled is recorded as such, not as a second payment)
    with _db(request).begin() as conn:
        detail = {"member": member_id, "invoice": visit["id"], "total": str(visit["total"]),
                  "fund_pay": fmt(answer.fund_pay)}  # fmt: skip
        action = "reimbursement.replayed" if replayed else "reimbursement"
        auth.record(conn, who.username, action, txn, detail)
    return _page(
        request,
        who,
        "reimbursement.html",
        form={},
        result=answer.document(),
        txn=_new_txn(),
        **context,
    )


def _new_txn() -> str:
    return f"MR{date.today():%Y%m%d}{secrets.token_hex(6).upper()}"


TXN = re.compile(r"MR\d{8}[0-9A-F]{12}")


def _invoice(form: dict) -> dict:
    """The visit an invoice records. Not later than now: a visit dated ahead (a typo for
    another year) would hold every later settlement of the member behind it."""
    when = form.get("time", "")
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        raise InputError("time", f"时间格式 2023-03-01T09:00:00, not {when[:30]!r}") from None
    if moment > datetime.now():
        raise InputError("time", "就诊时间不能晚于现在 the visit cannot be in the future")
    visit = {
        "id": _text(form, "invoice"),
        "time": when,
        "institution": _text(form, "institution"),
        "total": form.get("total", ""),
        "remote": form.get("remote") == "on",  # else a registered institution of ours
    }
    for key in ("level", "in_scope"):  # a registered institution's level is known
        if form.get(key):
            visit[key] = form[key]
    return visit


def _explained(exc: InputError | ServiceError) -> InputError:
    """What stopped a reimbursement, said plainly. A store failure settled nothing: try
    again. (An invoice older than the member's last settlement is settled late, against its
    own month's and year's accumulators: not refused.)"""
    if isinstance(exc, ServiceError):
        return InputError(exc.field or "txn", f"暂时无法结算，请稍后重试 {exc.reason}")
    if exc.code == "E_INVOICE_CLAIMED":
        return InputError("invoice", "该发票已报销，不能重复报销 " + exc.reason)
    return exc


# -- staff and audit (admin) ---------------------------------------------------------------------
@router.get("/staff", response_class=HTMLResponse)
def staff_page(request: Request):
    who = _staff(request, "admin")
    return _page(request, who, "staff.html", people=_people(request), **_staff_context())


def _staff_context() -> dict:
    return {"roles": auth.ROLES, "regions": policy.known_regions()}


@router.post("/staff", response_class=HTMLResponse)
def staff_add(request: Request, form: Posted):
    who = _staff(request, "admin")
    try:
        _checked(form, who)
        auth.add_staff(
            _db(request),
            _text(form, "username"),
            _text(form, "name", limit=80),
            _text(form, "role"),
            form.get("password", "")[:200],
            who.username,
            _text(form, "region", required=False) or None,
        )
    except InputError as exc:
        people = _people(request)
        return _error(request, who, exc, "staff.html", people=people, **_staff_context())
    return RedirectResponse(f"{PREFIX}/staff", status_code=303)


def _people(request: Request) -> list:
    with store.snapshot(_db(request)) as conn:
        return conn.execute(
            select(
                staff.c.username, staff.c.name, staff.c.role, staff.c.region, staff.c.disabled_at
            ).order_by(staff.c.username)
        ).all()


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request):
    who = _staff(request, "admin")
    with store.snapshot(_db(request)) as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(200)).all()
    return _page(request, who, "audit.html", rows=rows)


def _pack_keys(text: str) -> Markup:
    """A reading's `pack keys` (the pack's own words, which a reading names as they are
    written) set as code, the rest escaped."""
    parts = str(escape(text)).split("`")
    return Markup("".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)))


_NAME = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def _names_as_code(text: str) -> Markup:
    """A banner's snake_case names (a file's columns, as its header must spell them) set as
    code, the rest escaped."""
    return Markup(_NAME.sub(lambda m: f"<code>{m.group()}</code>", str(escape(text))))
