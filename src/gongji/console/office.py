"""The console's office pages: settlements found and shown with their trace, printable
slips (结算单), CSV imports, family bindings and the service's credentials.

Each write reuses the function the CLI calls (imports.import_csv, family.bind/unbind through
pages.change_binding, service.auth.issue_credential/revoke), needs its role and the
session's CSRF token, and leaves a line in the audit log. Searches that name a member are
POSTed, as the member page is: no member's id in a URL.
"""

import re
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gongji import labels, policy
from gongji.console import auth, records
from gongji.console.pages import (
    PREFIX,
    Posted,
    _checked,
    _date,
    _db,
    _error,
    _page,
    _staff,
    _text,
    change_binding,
    router,
)
from gongji.errors import InputError
from gongji.ledger import imports, store, views
from gongji.ledger.settlement import explain_answer
from gongji.policy import present
from gongji.service import auth as credentials

LISTED = 50  # settlements the search page lists before a search


# -- settlements: search, detail, slips ---------------------------------------------------------
@router.get("/settlements", response_class=HTMLResponse)
def settlements_page(request: Request):
    who = _staff(request)
    found = records.search(_db(request), records.Search())[:LISTED]
    return _page(request, who, "settlements.html", found=found, form={}, searched=False)


@router.post("/settlements", response_class=HTMLResponse)
def settlements_search(request: Request, form: Posted):
    who = _staff(request)
    try:
        given = _search(_checked(form, who))
        found = records.search(_db(request), given)
        if given.member_id:  # who looked at whose settlements
            with _db(request).begin() as conn:
                auth.record(conn, who.username, "settlements.searched", given.member_id, {})
    except InputError as exc:
        return _error(request, who, exc, "settlements.html", found=[], form=form, searched=True)
    return _page(request, who, "settlements.html", found=found, form=form, searched=True)


def _search(form: dict) -> records.Search:
    """The search's conditions from its form: any of them, each checked."""
    begin, end = form.get("begin", "").strip(), form.get("end", "").strip()
    first = _date(begin, "begin") if begin else None
    last = _date(end, "end") if end else None
    if first and last and last < first:
        raise InputError("end", "结束日期早于开始日期 the end is before the beginning")
    return records.Search(
        first,
        last,
        _text(form, "institution", required=False),
        _text(form, "member_id", required=False),
        _text(form, "txn_id", limit=64, required=False),
    )


def _settlement(request: Request, who: auth.Staff, txn_id: str, action: str):
    """The settlement under `txn_id` and its trace, its reading audited; None: no such."""
    found = records.one(_db(request), txn_id[:64])
    if found is None:
        return None
    with _db(request).begin() as conn:
        auth.record(conn, who.username, action, found.txn_id, {"member": found.member_id})
    return found


def _not_found(request: Request, who: auth.Staff, txn_id: str):
    error = InputError("txn_id", f"没有流水号为 {txn_id[:64]} 的结算 no settlement", "E_NOT_FOUND")
    return _error(request, who, error, "missing.html")


@router.get("/settlements/{txn_id}", response_class=HTMLResponse)
def settlement_detail(request: Request, txn_id: str):
    who = _staff(request)
    found = _settlement(request, who, txn_id, "settlement.viewed")
    if found is None:
        return _not_found(request, who, txn_id)
    trace = explain_answer(found.answer)
    return _page(request, who, "settlement.html", s=found, trace=trace, words=_words(found))


@router.get("/settlements/{txn_id}/slip", response_class=HTMLResponse)
def settlement_slip(request: Request, txn_id: str):
    """The settlement's slip (结算单) as a page to print: a manual reimbursement's says so
    and names its invoice."""
    who = _staff(request)
    found = _settlement(request, who, txn_id, "slip.printed")
    if found is None:
        return _not_found(request, who, txn_id)
    with store.snapshot(_db(request)) as conn:
        person = views.member_identity(conn, found.member_id)
    trace = explain_answer(found.answer)
    return _page(request, who, "slip.html", s=found, trace=trace, person=person, today=date.today())


def _words(found: records.Found) -> dict[str, str]:
    """The article words each (rule, article) of the settlement's trace cites."""
    region, _, _ = found.answer.policy_version.partition("@")
    pack = policy.load_region(region)
    version = next(
        (v for v in pack.versions if pack.version_id(v) == found.answer.policy_version), None
    )
    if version is None:
        return {}
    return {f"{r}|{a}": t for (r, a), t in present.quotes(version).items()}


# -- CSV imports --------------------------------------------------------------------------------
KIND_NAMES = labels.IMPORT_KINDS  # what a file holds, as the form names it


async def _upload(request: Request) -> tuple[dict, bytes | None]:
    """The posted form's text fields and the uploaded file's bytes (None: no file); the
    file's name as the operator's computer gave it under "file"."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    upload = form.get("file")
    content = None if upload is None or isinstance(upload, str) else await upload.read()
    if content is not None:
        fields["file"] = Path(upload.filename or "").name
    return fields, content


Upload = Annotated[tuple, Depends(_upload)]


@router.get("/imports", response_class=HTMLResponse)
def imports_page(request: Request):
    who = _staff(request, "operator")
    return _page(request, who, "imports.html", kinds=KIND_NAMES, kind="", bad=None, count=None)


@router.post("/imports", response_class=HTMLResponse)
def import_file(request: Request, posted: Upload):
    """A CSV file imported as `gongji import KIND FILE` does: all rows or none, each bad
    row named by its line in the file."""
    who = _staff(request, "operator")
    form, content = posted
    kind = form.get("kind", "")
    context = {"kinds": KIND_NAMES, "kind": kind, "bad": None, "count": None}
    try:
        _checked(form, who)
        if kind not in KIND_NAMES:
            raise InputError("kind", "请选择导入的数据类别 choose what the file holds")
        if not content:
            raise InputError("file", "请选择要导入的 CSV 文件 choose a CSV file")
        count = _imported(_db(request), kind, content, form["file"])
    except imports.ImportFailed as exc:
        bad = [_bad_row(e) for e in exc.errors]
        error = InputError("file", f"{len(bad)} 行有误，未导入任何记录 nothing was imported")
        return _error(request, who, error, "imports.html", **{**context, "bad": bad})
    except InputError as exc:
        return _error(request, who, exc, "imports.html", **context)
    with _db(request).begin() as conn:
        auth.record(conn, who.username, "import", kind, {"rows": count})
    return _page(request, who, "imports.html", **{**context, "count": count})


def _imported(db, kind: str, content: bytes, name: str) -> int:
    """The file through the CLI's own import (its reading of the file's encoding too), under
    its own name, which the errors name it by."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (name if name.lower().endswith(".csv") else f"{kind}.csv")
        path.write_bytes(content)
        try:
            return imports.import_csv(db, kind, path)
        except UnicodeDecodeError:
            raise InputError(
                "file", "无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV cannot read the file"
            ) from None


LINE = re.compile(r"^(?:line|row|第)\s*(\d+)\s*(?:行)?[.:：]?\s*(.*)$", re.S)


def _bad_row(error: str) -> tuple[str, str]:
    """An import error as (line in the file, what is wrong)."""
    match = LINE.match(error)
    return (match[1], match[2]) if match else ("", error)


# -- family bindings ----------------------------------------------------------------------------
@router.get("/family", response_class=HTMLResponse)
def family_page(request: Request):
    who = _staff(request)
    return _page(request, who, "family.html", rows=records.bindings(_db(request)), done=None)


@router.post("/family", response_class=HTMLResponse)
def family_change(request: Request, form: Posted):
    """A binding added or ended (action "end") as on a member's page: the family functions'
    checks (the holder's pack, the relationship, overlaps, visits paid), audited."""
    who = _staff(request, "operator")
    try:
        done = change_binding(_db(request), who, _checked(form, who))
    except InputError as exc:
        rows = records.bindings(_db(request))
        return _error(request, who, exc, "family.html", rows=rows, done=None, form=form)
    return _page(request, who, "family.html", rows=records.bindings(_db(request)), done=done)


# -- the service's credentials (admin) ----------------------------------------------------------
@router.get("/credentials", response_class=HTMLResponse)
def credentials_page(request: Request):
    who = _staff(request, "admin")
    rows = records.credentials_issued(_db(request))
    return _page(request, who, "credentials.html", rows=rows, issued=None)


@router.post("/credentials", response_class=HTMLResponse)
def credential_issue(request: Request, form: Posted):
    """A new credential for an institution (or the bureau): its token, paasid and secret are
    on this page once, never again (the store keeps the token's hash)."""
    who = _staff(request, "admin")
    db = _db(request)
    try:
        _checked(form, who)
        bureau = form.get("bureau") == "on"
        institution = None if bureau else _text(form, "institution")
        label = _text(form, "label", limit=80, required=False) or institution or "bureau"
        issued = credentials.issue_credential(db, institution, label)
    except InputError as exc:
        rows = records.credentials_issued(db)
        return _error(request, who, exc, "credentials.html", rows=rows, issued=None)
    with db.begin() as conn:  # what was issued to whom; never the token or the secret
        detail = {"institution": institution, "label": label, "paasid": issued.paasid}
        auth.record(conn, who.username, "credential.issued", institution or "bureau", detail)
    rows = records.credentials_issued(db)
    shown = {"token": issued.token, "paasid": issued.paasid, "secret": issued.secret,
             "institution": institution}  # fmt: skip
    return _page(request, who, "credentials.html", rows=rows, issued=shown)


@router.post("/credentials/revoke", response_class=HTMLResponse)
def credential_revoke(request: Request, form: Posted):
    who = _staff(request, "admin")
    db = _db(request)
    try:
        _checked(form, who)
        given = form.get("id", "")
        if not given.isdigit() or len(given) > 12:
            raise InputError("id", "凭证编号应为数字 a credential's number")
        credentials.revoke(db, int(given))
    except InputError as exc:
        rows = records.credentials_issued(db)
        return _error(request, who, exc, "credentials.html", rows=rows, issued=None)
    with db.begin() as conn:
        auth.record(conn, who.username, "credential.revoked", given, {})
    return RedirectResponse(f"{PREFIX}/credentials", status_code=303)
