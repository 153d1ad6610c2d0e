"""The national platform's transactions on one endpoint (shared/spec/national-interface.md).

A request is an envelope (`infno`, `msgid`, `fixmedins_code`, `insuplc_admdvs`, ...,
`input`); the answer is (`infcode`, `err_msg`, `inf_refmsgid`, `output`). A client mistake
is `infcode` -1 with the error's code and messages in `err_msg` (and `err_code`). So is a
refusal before the transaction (credential, signature, tenancy, size, rate: `refusal`),
with HTTP 200 as the spec's §1.1/§4.2 ask: OH and MD-Proxy take any other status for a
failed transport and never read its body, so the reason would be lost, and a 2207 refused
would look like one whose outcome is unknown. Only a store that failed or did not answer
(E_UNAVAILABLE) keeps its 503: there the outcome may indeed be unknown (a batch still
unanswered at the deadline is left to finish), and a transport failure is what makes those
clients reverse (2601) or retry, as they should; its body is the envelope too.

Readings (the public specification is not reproduced here):
- `psn_no` is the member's id in the ledger; 1101 finds it from the credential presented
  (service/member_info.py).
- `setl_id` is the 2207's `msgid`: the settlement's transaction id (a retry returns it).
- A visit is remote when the insured region (`insuplc_admdvs`) differs from the care region
  (`mdtrtarea_admvs`); its items are priced with the care region's catalogue, its benefits
  are the insured region's pack ("就医地目录、参保地待遇").
- Reversal (2601) covers 2207 (the settlement is cancelled once, or refused if it arrives
  later), 2208 (one that has not arrived is refused if it arrives later; one that was made
  stands, refused E_CANCEL_FINAL: the ledger cannot restore a cancelled settlement, whose
  year's accumulators and account have moved on since — the visit is settled again) and
  2201/2203/2204 (nothing to undo in money: acknowledged).
- A 2208 is a transaction of its own: its `setl_id` is its `msgid` (scoped as settlements'
  ids are), kept with the settlement; a retry, under any msgid, gets the first back.
- insutype 310 (employees' basic medical insurance) is the only one settled, psn_setlway 01
  (itemised, 按项目) the only way (02, a fixed quota, needs quotas no pack sets);
  acct_used_flag 0 or 1 (01, sent by one client, is 1, §7.9). Each absent is 310, 01, 1;
  another value is refused, never replaced.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from sqlalchemy import Engine

from gongji import policy
from gongji.documents import read_json
from gongji.errors import CATALOGUE, InputError, ServiceError, first_error
from gongji.ledger.settlement import cancel, presettle, reverse, withdraw_cancellation
from gongji.model import ID_MAX, TEXT_MAX, printable
from gongji.money import fmt, to_fen, to_yuan
from gongji.service import (
    fields,
    files,
    member_info,
    refmsgid,
    registered,
    scope,
    setlinfo,
    signin,
)
from gongji.service.auth import Caller
from gongji.service.writer import Writer
from gongji.supervision import statements


def _blank(value: object) -> object:
    return None if value == "" else value


def _infno(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _input(value: object) -> object:
    """`input` as an object; X1 sends it as a string of JSON (§3.1 row 18); absent is {}."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            return read_json(value, "input")
        except InputError as exc:
            raise ValueError(exc.reason) from None
    return value


# an optional envelope field: "" is absent (OH sends "" for what it has not, §3.3)
Text = Annotated[str | None, BeforeValidator(_blank)]


class Envelope(BaseModel):
    """The envelope as clients send it (§3.1, §3.3): numbers where text is meant (X1's
    `opter_type` 1) read as their text, "" as absent, unknown fields (`dev_no`, `cainfo`,
    `signtype`, `fixmedins_soft_fcty`, `app_id`, ...) kept and ignored. `inf_time` is not
    read: its format depends on the client's serialiser (§3.1 row 14), and nothing here
    depends on it."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    # C(6): four digits, five with the A variants (2203A, 2206A, 2207A: ALIASES)
    infno: Annotated[str, BeforeValidator(_infno), Field(min_length=4, max_length=6)]
    # the settlement's transaction id, the institution's code: as the store holds them
    msgid: Annotated[str, Field(min_length=1, max_length=TEXT_MAX), printable(TEXT_MAX)]
    fixmedins_code: Annotated[str, Field(min_length=1, max_length=ID_MAX), printable(ID_MAX)]
    mdtrtarea_admvs: Text = None
    insuplc_admdvs: Text = None
    recer_sys_code: Text = None
    infver: Text = None
    opter_type: Text = None
    opter: Text = None
    opter_name: Text = None
    inf_time: Text = None
    fixmedins_name: Text = None
    sign_no: Text = None
    input: Annotated[dict, BeforeValidator(_input)] = {}


# the A variants OH and CMW send take the same input and answer as the base transaction
# (§5.6, §5.9, §5.10; §8 item 3: "treat A-variants as aliases")
ALIASES = {"2203A": "2203", "2206A": "2206", "2207A": "2207"}

# the paths the transactions are served at (the body's infno decides which, §1.2): the
# platform's own, `/fsi/api/rsfComIfsService/callService` (X1), and under `/fsi/api/` any
# other (the per-service paths of §1.3, `.../{infno}` suffixes) by a route not documented
PATHS = ("/fsi/api", "/fsi/api/rsfComIfsService/callService")
PREFIX = "/fsi/api"


def served(path: str) -> bool:
    """A path the national transactions answer at (their refusals are envelopes)."""
    return path == PREFIX or path.startswith(PREFIX + "/")


@dataclass
class Context:
    db: Engine
    writer: Writer
    caller: Caller
    envelope: Envelope
    resolver: member_info.Resolver | None = None  # 1101's electronic vouchers


Handler = Callable[[Context], Awaitable[dict | None]]


async def answer(
    ctx_db: Engine,
    writer: Writer,
    caller: Caller,
    document: object,
    resolver: member_info.Resolver | None = None,
    sign_in: bool = False,
) -> dict:
    """One transaction: the envelope checked, the handler run, the answer enveloped.
    `sign_in`: an institution's transactions need an open sign-in's sign_no (signin.py)."""
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as exc:
        field, reason = first_error(exc)
        return _failed(None, InputError(field, reason))
    infno = ALIASES.get(envelope.infno, envelope.infno)
    handler = HANDLERS.get(infno)
    try:
        if not caller.may_see(envelope.fixmedins_code):
            raise InputError("fixmedins_code", "not this credential's institution", "E_FORBIDDEN")
        if caller.bureau and infno not in BUREAU_READS:
            raise InputError("infno", "institutions settle; the bureau reads", "E_FORBIDDEN")
        if handler is None:
            raise InputError("infno", f"unknown transaction {envelope.infno}", "E_INFNO")
        if sign_in and not caller.bureau and infno not in ("9001", "9002"):
            await signin.check(ctx_db, caller, envelope.sign_no)
        output = await handler(Context(ctx_db, writer, caller, envelope, resolver))
    except InputError as exc:
        return _failed(envelope, exc)
    except ServiceError as err:  # e.g. another institution's visit (403 on REST)
        if err.code == "E_UNAVAILABLE":
            raise  # its own status (refusal)
        return _failed(envelope, InputError(err.field or "(request)", err.reason, err.code))
    return {
        "infcode": 0,
        "inf_refmsgid": _refmsgid(envelope),
        "refmsg_time": _now(),
        "respond_time": _now(),
        "err_msg": None,
        "warn_msg": None,
        "output": output,
    }


def refusal(err: ServiceError) -> tuple[dict, int]:
    """A refusal before or beside the transaction (credential, signature, tenancy, size,
    rate, an unavailable store) as the envelope, and the HTTP status it goes with: 200, but
    503 for E_UNAVAILABLE (why: this module's docstring)."""
    exc = InputError(err.field or "(request)", err.reason, err.code)
    return _failed(None, exc), 503 if err.code == "E_UNAVAILABLE" else 200


def _failed(envelope: Envelope | None, exc: InputError) -> dict:
    _, zh, en = CATALOGUE.get(exc.code, CATALOGUE["E_INPUT"])
    return {
        "infcode": -1,
        "inf_refmsgid": _refmsgid(envelope),
        "refmsg_time": _now(),
        "respond_time": _now(),
        "err_msg": f"[{exc.code}] {zh}（{exc.field}）/ {en} — {exc.field}: {exc.reason}",
        "err_code": exc.code,
        "warn_msg": None,
        "output": None,
    }


def _now() -> str:
    return datetime.now().strftime("%Y%m%d%H%M%S%f")[:17]


def _refmsgid(envelope: Envelope | None) -> str:
    """The platform's 30 characters (refmsgid.py), under the care region's division: the
    platform a client sends to is its own region's (the insured region's where none)."""
    if envelope is None:
        return refmsgid.new(None)
    return refmsgid.new(envelope.mdtrtarea_admvs or envelope.insuplc_admdvs)


DATA = "input.data"  # where most transactions' fields are


def _data(ctx: Context, key: str = "data") -> dict:
    value = ctx.envelope.input.get(key)
    if not isinstance(value, dict):
        raise InputError(f"input.{key}", "required: an object")
    return value


# -- 1101 member information ---------------------------------------------------------------
async def member_information(ctx: Context) -> dict:
    return await member_info.member_information(ctx.db, _data(ctx), ctx.resolver)


# -- 2201-2205 registration and its cancel, visit information, fee details and their cancel -
async def registration(ctx: Context) -> dict:
    e = ctx.envelope
    data = await asyncio.to_thread(
        registered.register, ctx.db, e.fixmedins_code, e.msgid, _data(ctx), DATA
    )
    return {"data": data}  # output.data, as OH's Output_2201 and MD's Out2201data read it


async def registration_cancel(ctx: Context) -> None:
    data = _data(ctx)
    await asyncio.to_thread(registered.cancel_registration, ctx.db, ctx.caller, data, DATA)


async def visit_information(ctx: Context) -> None:
    info = _data(ctx, "mdtrtinfo")
    diagnoses = ctx.envelope.input.get("diseinfo")
    await asyncio.to_thread(
        registered.add_visit_information,
        ctx.db, ctx.caller, info, diagnoses, "input.mdtrtinfo", "input.diseinfo",
    )  # fmt: skip
    return None


async def fee_details(ctx: Context) -> dict:
    lines = ctx.envelope.input.get("feedetail")
    result = await asyncio.to_thread(
        registered.upload_fees, ctx.db, ctx.caller, lines, "input.feedetail"
    )
    return {"result": result}


async def fee_details_cancel(ctx: Context) -> None:
    data = _data(ctx)
    await asyncio.to_thread(registered.cancel_fees, ctx.db, ctx.caller, data, DATA)


# -- 2206 / 2207 pre-settle and settle ------------------------------------------------------
ACCOUNT_FLAGS = {"0": False, "1": True, "01": True}  # acct_used_flag (§7.9)
ITEMISED, QUOTA = "01", "02"  # psn_setlway (§7.7)


def _use_account(data: dict) -> bool:
    flag = fields.text(data, "acct_used_flag", DATA, 2, required=False) or "1"
    if flag not in ACCOUNT_FLAGS:
        raise InputError("input.data.acct_used_flag", f"{flag}: 0 (no) or 1 (yes; also 01)")
    return ACCOUNT_FLAGS[flag]


def _itemised(data: dict) -> None:
    """psn_setlway: 01, settled by item, is what gongji does; 02, a fixed quota per visit
    (按定额结算), needs quotas that no pack sets: refused, not settled by item instead."""
    way = fields.text(data, "psn_setlway", DATA, 6, required=False) or ITEMISED
    if way == QUOTA:
        raise InputError(
            "input.data.psn_setlway",
            "02 (按定额结算, a fixed quota) is not settled by gongji: no policy pack sets quotas;"
            " send 01 (按项目结算, by item)",
            "E_UNSUPPORTED",
        )
    if way != ITEMISED:
        raise InputError("input.data.psn_setlway", f"{way}: 01 (by item) or 02 (fixed quota)")


async def _settlement_input(ctx: Context) -> tuple[str, dict, object, setlinfo.Shown]:
    """The visit to settle and how the answer shows it; every field read and checked."""
    data = _data(ctx)
    member_id = fields.text(data, "psn_no", DATA, ID_MAX)
    mdtrt_id = fields.text(data, "mdtrt_id", DATA, ID_MAX)
    given_type = fields.text(data, "med_type", DATA, registered.MED_TYPE_MAX, required=False)
    cert_type = fields.text(data, "mdtrt_cert_type", DATA, 3, required=False)
    registered.insurance_type(data, DATA)
    _itemised(data)
    use_account = _use_account(data)
    document, visit = await asyncio.to_thread(
        registered.visit_document, ctx.db, ctx.caller, mdtrt_id, "input.data.mdtrt_id"
    )
    if visit.member_id != member_id:
        raise InputError("input.data.psn_no", f"visit {mdtrt_id} is not {member_id}'s")
    med_type = given_type or visit.med_type
    region = visit.region
    pack = policy.load_region(region)
    category = pack.category_of(med_type)
    if category is None:
        known = ", ".join(pack.med_types)
        raise InputError("input.data.med_type", f"{med_type} is not one of {region}'s ({known})")
    document["category"] = category.value
    document["use_account"] = use_account
    e = ctx.envelope
    if e.mdtrtarea_admvs and e.insuplc_admdvs and e.mdtrtarea_admvs != e.insuplc_admdvs:
        document["remote"] = True
    shown = setlinfo.Shown(None, e.msgid, med_type, cert_type, 0)
    return member_id, document, visit, shown


def _check_total(ctx: Context, visit) -> None:
    """The HIS's total must be the total of the fee details it uploaded."""
    given = fields.amount(_data(ctx), "medfee_sumamt", DATA, required=False)
    total = registered.priced_fees(visit).total
    if given is not None and given != total:
        raise InputError(
            "input.data.medfee_sumamt",
            f"{fmt(given)} is not the uploaded fee details' total ({fmt(total)})",
        )


# 2207's amounts from its pre-settlement (§5.10) and the split of the fee details they are
SPLIT = (
    ("fulamt_ownpay_amt", "out_of_scope"),
    ("overlmt_selfpay", "above_standard"),
    ("preselfpay_amt", "class_b_self_pay"),
    ("inscp_scp_amt", "in_scope"),
)


def _check_split(ctx: Context, visit) -> None:
    """2207's amounts, where given, must be the fee details' as they are now: pricing
    depends on the lines and the catalogue alone, so this is what the settlement will
    answer, known before anything is written. A difference means the fee details changed
    since the pre-settlement the client copied them from."""
    data = _data(ctx)
    given = {key: fields.amount(data, key, DATA, required=False) for key, _ in SPLIT}
    split = registered.priced_fees(visit)
    differs = [
        f"{key} {fmt(given[key])}, the fee details' {fmt(getattr(split, name))}"
        for key, name in SPLIT
        if given[key] is not None and given[key] != getattr(split, name)
    ]
    if differs:
        first = next(key for key, name in SPLIT if given[key] not in (None, getattr(split, name)))
        raise InputError(
            f"input.data.{first}",
            "; ".join(differs) + ": the fee details changed since the pre-settlement (2206);"
            " pre-settle again",
            "E_FEES_CHANGED",
        )


async def presettle_transaction(ctx: Context) -> dict:
    member_id, document, visit, shown = await _settlement_input(ctx)
    _check_total(ctx, visit)
    result = await asyncio.to_thread(presettle, ctx.db, member_id, document)
    # the visit's med_type is in `shown`, read with the visit: facts need not read it again
    f = await asyncio.to_thread(setlinfo.facts, ctx.db, member_id, None, None)
    shown = replace(shown, balance=result.account_balance)
    return setlinfo.output(result, member_id, f, shown)


async def settle_transaction(ctx: Context) -> dict:
    member_id, document, visit, shown = await _settlement_input(ctx)
    _check_total(ctx, visit)
    _check_split(ctx, visit)
    txn_id = scope.key(ctx.caller, ctx.envelope.msgid, "msgid")
    result = await ctx.writer.settle(txn_id, member_id, document)
    f = await asyncio.to_thread(setlinfo.facts, ctx.db, member_id, txn_id, None)
    setl_id = scope.shown(ctx.caller, result.txn_id)
    shown = replace(shown, setl_id=setl_id, balance=result.account_balance)
    return setlinfo.output(result, member_id, f, shown)


# -- 2208 cancel, 2601 reverse ---------------------------------------------------------------
# the ledger's names for what the national transactions call otherwise
_CANCEL_FIELDS = {"cancel_id": "msgid", "txn_id": "input.data.setl_id"}


async def cancel_settlement(ctx: Context) -> dict:
    """2208: the settlement named by setl_id, of the visit and member named, cancelled under
    the 2208's own id; refused, nothing changed, if visit or member are not its."""
    data = _data(ctx)
    setl_id = fields.text(data, "setl_id", DATA, TEXT_MAX)
    mdtrt_id = fields.text(data, "mdtrt_id", DATA, TEXT_MAX)
    member_id = fields.text(data, "psn_no", DATA, ID_MAX)
    cancel_id = scope.key(ctx.caller, ctx.envelope.msgid, "msgid")
    original = await asyncio.to_thread(
        scope.settlement, ctx.db, ctx.caller, setl_id, "input.data.setl_id"
    )
    a = original.answer
    if a.visit_id != mdtrt_id:
        raise InputError("input.data.mdtrt_id", f"settlement {setl_id} is not visit {mdtrt_id}'s")
    if original.member_id != member_id:
        raise InputError("input.data.psn_no", f"settlement {setl_id} is not {member_id}'s")
    try:
        done = await asyncio.to_thread(cancel, ctx.db, original.txn_id, cancel_id)
    except InputError as exc:
        raise InputError(_CANCEL_FIELDS.get(exc.field, exc.field), exc.reason, exc.code) from None
    f = await asyncio.to_thread(setlinfo.facts, ctx.db, member_id, original.txn_id, mdtrt_id)
    shown = setlinfo.Shown(
        setl_id=scope.shown(ctx.caller, done["cancel_id"]),
        medins_setl_id=ctx.envelope.msgid,
        med_type=None,
        mdtrt_cert_type=None,
        balance=to_fen(done["account_balance"]),
        sign=-1,
    )
    return setlinfo.output(a, member_id, f, shown)


REVERSIBLE = ("2207", "2208", "2201", "2203", "2204")


async def reverse_transaction(ctx: Context) -> dict | None:
    data = _data(ctx)
    omsgid = fields.text(data, "omsgid", DATA, TEXT_MAX)
    oinfno = fields.text(data, "oinfno", DATA, 6)
    oinfno = ALIASES.get(oinfno.upper(), oinfno)
    member_id = fields.text(data, "psn_no", DATA, ID_MAX)
    if oinfno in ("2201", "2203", "2204"):
        return None  # no money moved: nothing to undo
    if oinfno not in REVERSIBLE:
        raise InputError("input.data.oinfno", f"{', '.join(REVERSIBLE)} can be reversed")
    if oinfno == "2208":
        key = scope.key(ctx.caller, omsgid, "input.data.omsgid")
        try:
            await asyncio.to_thread(withdraw_cancellation, ctx.db, key, member_id)
        except InputError as exc:
            field = {"cancel_id": "input.data.omsgid", "member_id": "input.data.psn_no"}
            raise InputError(field.get(exc.field, exc.field), exc.reason, exc.code) from None
        return None
    # always the caller's own: its settlement, else its own id withdrawn (another
    # institution's settlement under the same id is neither seen nor touched)
    found = await asyncio.to_thread(scope.find, ctx.db, ctx.caller, omsgid, "input.data.omsgid")
    txn_id = found.txn_id if found else scope.key(ctx.caller, omsgid, "input.data.omsgid")
    await asyncio.to_thread(reverse, ctx.db, txn_id, member_id)
    return None


# -- 3201 / 3202 reconciliation ---------------------------------------------------------------
async def reconcile_totals(ctx: Context) -> dict:
    data = _data(ctx)
    period = _period(data)  # every field read before the store is asked
    theirs = {k: to_yuan(fields.amount(data, k, DATA)) for k in MONEY_TOTALS}
    theirs["fixmedins_setl_cnt"] = fields.count(data, "fixmedins_setl_cnt", DATA)
    totals = await asyncio.to_thread(
        statements.reconciliation_totals, ctx.db, ctx.envelope.fixmedins_code, *period
    )
    differs = [k for k in theirs if theirs[k] != totals[k]]
    return {
        "stmtinfo": {
            "setl_optins": data.get("setl_optins"),
            "stmt_rslt": "1" if differs else "0",
            "stmt_rslt_dscr": (
                "；".join(
                    f"{RECONCILED[k]}({k})：中心 {totals[k]}，机构 {theirs[k]}" for k in differs
                )
                if differs
                else BALANCED
            ),
        }
    }


async def reconcile_details(ctx: Context) -> dict:
    """The client's settlement rows, given inline (`detail`, where given) or in the detail
    file it uploaded (`file_qury_no`, 9101), against the period's settlements; for a file,
    the result is a file too (`fileinfo`, for 9102)."""
    data = _data(ctx)
    period = _period(data)
    # the period's totals are read (a malformed one is refused) but not compared: the rows
    # are what is reconciled, and one client (OH) sends the totals zero or overwritten
    for key in ("medfee_sumamt", "fund_pay_sumamt", "cash_payamt"):
        fields.amount(data, key, DATA, required=False)
    if data.get("fixmedins_setl_cnt") not in (None, ""):
        fields.count(data, "fixmedins_setl_cnt", DATA)
    code = ctx.envelope.fixmedins_code
    number = fields.text(data, "file_qury_no", DATA, files.NAME_MAX, required=False)
    inline = data.get("detail") or ctx.envelope.input.get("detail")
    by_file = inline is None and number is not None  # rows given inline are the rows
    if by_file:
        where = f"{DATA}.file_qury_no"
        lines = await asyncio.to_thread(files.uploaded_rows, ctx.db, code, number, where)
        theirs = files.settlement_rows(lines)
    else:
        theirs = _their_rows(inline)
    settled = await asyncio.to_thread(statements.reconciliation_rows, ctx.db, code, *period)
    ours = {scope.unscoped(code, r["setl_id"]): r for r in settled}
    rows = [_compared(s, ours.get(s), theirs.get(s)) for s in sorted(set(ours) | set(theirs))]
    out = [
        {k: r[k] for k in ("setl_id", "stmt_rslt", "stmt_rslt_dscr")}
        for r in rows
        if r["stmt_rslt"] != "0"
    ]
    answer = {"stmtinfo": {"stmt_rslt": "1" if out else "0"}, "detail": out}
    if by_file:
        answer["fileinfo"] = await asyncio.to_thread(files.save_result, ctx.db, code, rows)
    return answer


MONEY_TOTALS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")
# what the reconciliation answers say, in Chinese (the field's code beside its name): the
# centre's (中心, gongji's) figure against the institution's (机构, the caller's)
RECONCILED = {
    "medfee_sumamt": "医疗费总额",
    "fund_pay_sumamt": "基金支付总额",
    "acct_pay": "个人账户支付金额",
    "fixmedins_setl_cnt": "结算笔数",
    "refd_setl_flag": "退费结算标志",
}
BALANCED = "平账"
ONLY_THEIRS = "中心无此结算（仅机构有）"
ONLY_OURS = "机构未报此结算（仅中心有）"


def _compared(setl_id: str, mine: dict | None, yours: dict | None) -> dict:
    """One settlement's result: 0 if the two agree, else 1 and what differs; with the
    centre's figures where it has the settlement, else the client's."""
    if mine is None or yours is None:
        result, dscr = "1", ONLY_THEIRS if mine is None else ONLY_OURS
    else:
        differs = [k for k in (*MONEY_TOTALS, "refd_setl_flag") if yours[k] != mine[k]]
        named = "、".join(f"{RECONCILED[k]}({k})" for k in differs)
        result, dscr = ("1", f"不一致：{named}") if differs else ("0", BALANCED)
    shown = {k: v for row in (yours, mine) if row for k, v in row.items() if v is not None}
    return {**shown, "setl_id": setl_id, "stmt_rslt": result, "stmt_rslt_dscr": dscr}


def _their_rows(rows: object) -> dict[str, dict]:
    """The client's settlement rows given inline, read as a detail file's are."""
    where = "input.data.detail"
    listed = fields.objects(rows, where)
    return files.settlement_rows((f"{where}[{i}]", row) for i, row in enumerate(listed))


def _period(data: dict) -> tuple[date, date]:
    begin = fields.day(data, "stmt_begndate", DATA)
    end = fields.day(data, "stmt_enddate", DATA)
    if end < begin:
        raise InputError("input.data.stmt_enddate", f"before stmt_begndate ({end} < {begin})")
    return begin, end


# what the bureau's credential may ask: it reads; institutions settle (issue 17 item 6). It
# downloads an institution's files (9102) but uploads none (9101): an upload is an
# institution's own detail file, kept under its code, which the bureau has none of.
BUREAU_READS = frozenset({"1101", "3201", "3202", "9102"})

HANDLERS: dict[str, Handler] = {
    "9001": signin.sign_in,
    "9002": signin.sign_out,
    "1101": member_information,
    "2201": registration,
    "2202": registration_cancel,
    "2203": visit_information,
    "2204": fee_details,
    "2205": fee_details_cancel,
    "2206": presettle_transaction,
    "2207": settle_transaction,
    "2208": cancel_settlement,
    "2601": reverse_transaction,
    "3201": reconcile_totals,
    "3202": reconcile_details,
    "9101": files.upload,
    "9102": files.download,
}
