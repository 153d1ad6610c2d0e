"""The national platform's transactions on one endpoint (shared/spec/national-interface.md).

A request is an envelope (`infno`, `msgid`, `fixmedins_code`, `insuplc_admdvs`, ...,
`input`); the answer is (`infcode`, `err_msg`, `inf_refmsgid`, `output`). A client mistake
is `infcode` -1 with the error's code and messages in `err_msg`; only authentication (401),
tenancy (403), size (413) and rate (429) answer with an HTTP error, before the envelope.

Readings (the public specification is not reproduced here):
- `psn_no` is the member's id in the ledger, and so is a `mdtrt_cert_no` of 1101.
- `setl_id` is the 2207's `msgid`: the settlement's transaction id (a retry returns it).
- A visit is remote when the insured region (`insuplc_admdvs`) differs from the care region
  (`mdtrtarea_admvs`); its items are priced with the care region's catalogue, its benefits
  are the insured region's pack ("就医地目录、参保地待遇").
- Reversal (2601) covers 2207 (the settlement is cancelled once, or refused if it arrives
  later) and 2201/2203/2204 (nothing to undo in money: acknowledged).
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine

from gongji import policy
from gongji.errors import CATALOGUE, InputError, ServiceError, first_error
from gongji.ledger import views
from gongji.ledger.answer import Settled
from gongji.ledger.settlement import cancel, presettle, reverse
from gongji.money import fmt, json_number, to_yuan
from gongji.service import registered
from gongji.service.auth import Caller
from gongji.service.writer import Writer
from gongji.supervision import statements

PSN_TYPE = {"employee": "1101", "flexible": "1103", "retiree": "1201", "single_pool": "1101"}
FUND_NAME = {"310100": "职工基本医疗保险统筹基金", "310200": "职工基本医疗保险个人账户基金"}


class Envelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    infno: str = Field(min_length=4, max_length=4)
    msgid: str = Field(min_length=1, max_length=64)
    fixmedins_code: str = Field(min_length=1, max_length=40)
    mdtrtarea_admvs: str | None = None
    insuplc_admdvs: str | None = None
    recer_sys_code: str | None = None
    infver: str | None = None
    opter_type: str | None = None
    opter: str | None = None
    opter_name: str | None = None
    inf_time: str | None = None
    fixmedins_name: str | None = None
    sign_no: str | None = None
    input: dict = {}


@dataclass
class Context:
    db: Engine
    writer: Writer
    caller: Caller
    envelope: Envelope


Handler = Callable[[Context], Awaitable[dict | None]]


async def answer(ctx_db: Engine, writer: Writer, caller: Caller, document: object) -> dict:
    """One transaction: the envelope checked, the handler run, the answer enveloped."""
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as exc:
        field, reason = first_error(exc)
        return _failed(None, InputError(field, reason))
    if not caller.may_see(envelope.fixmedins_code):
        raise ServiceError("E_FORBIDDEN", "fixmedins_code", "not this credential's institution")
    handler = HANDLERS.get(envelope.infno)
    try:
        if handler is None:
            raise InputError("infno", f"unknown transaction {envelope.infno}", "E_INFNO")
        output = await handler(Context(ctx_db, writer, caller, envelope))
    except InputError as exc:
        return _failed(envelope, exc)
    return {
        "infcode": 0,
        "inf_refmsgid": _refmsgid(envelope),
        "refmsg_time": _now(),
        "respond_time": _now(),
        "err_msg": None,
        "warn_msg": None,
        "output": output,
    }


def _failed(envelope: Envelope | None, exc: InputError) -> dict:
    _, zh, en = CATALOGUE.get(exc.code, CATALOGUE["E_INPUT"])
    return {
        "infcode": -1,
        "inf_refmsgid": _refmsgid(envelope) if envelope else None,
        "refmsg_time": _now(),
        "respond_time": _now(),
        "err_msg": f"[{exc.code}] {zh}（{exc.field}）/ {en} — {exc.field}: {exc.reason}",
        "err_code": exc.code,
        "warn_msg": None,
        "output": None,
    }


def _now() -> str:
    return datetime.now().strftime("%Y%m%d%H%M%S%f")[:17]


def _refmsgid(envelope: Envelope) -> str:
    return f"{envelope.insuplc_admdvs or '000000'}{_now()}"


def _data(ctx: Context, key: str = "data") -> dict:
    value = ctx.envelope.input.get(key)
    if not isinstance(value, dict):
        raise InputError(f"input.{key}", "required: an object")
    return value


# -- 1101 member information ---------------------------------------------------------------
async def member_information(ctx: Context) -> dict:
    data = _data(ctx)
    member_id = str(data.get("psn_no") or data.get("mdtrt_cert_no") or "")
    if not member_id:
        raise InputError("input.data.mdtrt_cert_no", "required (or psn_no)")
    shown = await asyncio.to_thread(views.member_show, ctx.db, member_id)
    pack = policy.load_region(shown["region"])
    mtype = shown["record"]["type"]
    return {
        "baseinfo": {"psn_no": member_id, "psn_name": None, "certno": None},
        "insuinfo": [
            {
                "insutype": "310",
                "psn_type": PSN_TYPE.get(mtype, "1101"),
                "psn_insu_stas": "1" if shown["status"] == "active" else "4",
                "balc": float(shown["account_balance"]),
                "insuplc_admdvs": pack.admdvs,
            }
        ],
    }


# -- 2201 / 2203 / 2204 registration, visit information, fee details -----------------------
async def registration(ctx: Context) -> dict:
    e = ctx.envelope
    return await asyncio.to_thread(
        registered.register, ctx.db, e.fixmedins_code, e.msgid, _data(ctx), "input.data"
    )


async def visit_information(ctx: Context) -> None:
    info = _data(ctx, "mdtrtinfo")
    diagnoses = ctx.envelope.input.get("diseinfo") or []
    await asyncio.to_thread(
        registered.add_visit_information, ctx.db, ctx.caller, info, diagnoses, "input.mdtrtinfo"
    )
    return None


async def fee_details(ctx: Context) -> dict:
    lines = ctx.envelope.input.get("feedetail")
    result = await asyncio.to_thread(
        registered.upload_fees, ctx.db, ctx.caller, lines, "input.feedetail"
    )
    return {"result": result}


# -- 2206 / 2207 pre-settle and settle ------------------------------------------------------
async def _settlement_input(ctx: Context) -> tuple[str, dict, object, str]:
    data = _data(ctx)
    member_id = str(data.get("psn_no") or "")
    if not member_id:
        raise InputError("input.data.psn_no", "required")
    mdtrt_id = str(data.get("mdtrt_id") or "")
    if not mdtrt_id:
        raise InputError("input.data.mdtrt_id", "required")
    document, visit = await asyncio.to_thread(
        registered.visit_document, ctx.db, ctx.caller, mdtrt_id, "input.data.mdtrt_id"
    )
    if visit.member_id != member_id:
        raise InputError("input.data.psn_no", f"visit {mdtrt_id} is not {member_id}'s")
    med_type = str(data.get("med_type") or visit.med_type)
    region = visit.region
    pack = policy.load_region(region)
    category = pack.med_types.get(med_type)
    if category is None:
        known = ", ".join(pack.med_types)
        raise InputError("input.data.med_type", f"{med_type} is not one of {region}'s ({known})")
    document["category"] = category.value
    flag = str(data.get("acct_used_flag", "1"))
    if flag not in ("0", "1"):
        raise InputError("input.data.acct_used_flag", "0 or 1")
    document["use_account"] = flag == "1"
    e = ctx.envelope
    if e.mdtrtarea_admvs and e.insuplc_admdvs and e.mdtrtarea_admvs != e.insuplc_admdvs:
        document["remote"] = True
    return member_id, document, visit, med_type


def _check_total(ctx: Context, visit) -> None:
    """The HIS's total must be the total of the fee details it uploaded."""
    given = _data(ctx).get("medfee_sumamt")
    total = to_yuan(registered.fees_total(visit))
    if given is not None and Decimal(str(given)) != total:
        raise InputError(
            "input.data.medfee_sumamt", f"{given} is not the uploaded fee details' total ({total})"
        )


async def presettle_transaction(ctx: Context) -> dict:
    member_id, document, visit, med_type = await _settlement_input(ctx)
    _check_total(ctx, visit)
    result = await asyncio.to_thread(presettle, ctx.db, member_id, document)
    return setlinfo(result, member_id, med_type, ctx.envelope.msgid)


async def settle_transaction(ctx: Context) -> dict:
    member_id, document, visit, med_type = await _settlement_input(ctx)
    _check_total(ctx, visit)
    result = await ctx.writer.settle(ctx.envelope.msgid, member_id, document)
    return setlinfo(result, member_id, med_type, ctx.envelope.msgid)


# -- 2208 cancel, 2601 reverse ---------------------------------------------------------------
async def cancel_settlement(ctx: Context) -> dict:
    data = _data(ctx)
    setl_id = str(data.get("setl_id") or "")
    if not setl_id:
        raise InputError("input.data.setl_id", "required")
    original = await asyncio.to_thread(_own_settlement, ctx, setl_id, "input.data.setl_id")
    await asyncio.to_thread(cancel, ctx.db, setl_id)
    return setlinfo(original.answer, original.member_id, "", setl_id, sign=-1)


async def reverse_transaction(ctx: Context) -> dict | None:
    data = _data(ctx)
    omsgid = str(data.get("omsgid") or "")
    oinfno = str(data.get("oinfno") or "")
    member_id = str(data.get("psn_no") or "")
    for key, value in (("omsgid", omsgid), ("oinfno", oinfno), ("psn_no", member_id)):
        if not value:
            raise InputError(f"input.data.{key}", "required")
    if oinfno in ("2201", "2203", "2204"):
        return None  # no money moved: nothing to undo
    if oinfno != "2207":
        raise InputError("input.data.oinfno", "2207, 2201, 2203 or 2204 can be reversed")
    if not omsgid.startswith(ctx.envelope.fixmedins_code) and not ctx.caller.bureau:
        found = await asyncio.to_thread(views.find_settlement, ctx.db, omsgid)
        if found is None or not ctx.caller.may_see(found.institution):
            raise ServiceError("E_FORBIDDEN", "input.data.omsgid", "not this institution's")
    await asyncio.to_thread(reverse, ctx.db, omsgid, member_id)
    return None


def _own_settlement(ctx: Context, txn_id: str, field: str) -> views.SettlementRecord:
    found = views.settlement(ctx.db, txn_id, field)
    if not ctx.caller.may_see(found.institution):
        raise ServiceError("E_FORBIDDEN", field, "another institution's settlement")
    return found


# -- 3201 / 3202 reconciliation ---------------------------------------------------------------
async def reconcile_totals(ctx: Context) -> dict:
    data = _data(ctx)
    totals = await asyncio.to_thread(
        statements.reconciliation_totals, ctx.db, ctx.envelope.fixmedins_code, *_period(data)
    )
    theirs = {
        "medfee_sumamt": _dec(data, "medfee_sumamt"),
        "fund_pay_sumamt": _dec(data, "fund_pay_sumamt"),
        "acct_pay": _dec(data, "acct_pay"),
        "fixmedins_setl_cnt": int(_dec(data, "fixmedins_setl_cnt")),
    }
    differs = [k for k in theirs if theirs[k] != totals[k]]
    return {
        "stmtinfo": {
            "setl_optins": data.get("setl_optins"),
            "stmt_rslt": "1" if differs else "0",
            "stmt_rslt_dscr": (
                "; ".join(f"{k}: ours {totals[k]}, yours {theirs[k]}" for k in differs)
                if differs
                else "平 balanced"
            ),
        }
    }


async def reconcile_details(ctx: Context) -> dict:
    data = _data(ctx)
    settled = await asyncio.to_thread(
        statements.reconciliation_rows, ctx.db, ctx.envelope.fixmedins_code, *_period(data)
    )
    ours = {r["setl_id"]: r for r in settled}
    rows = data.get("detail") or ctx.envelope.input.get("detail") or []
    if not isinstance(rows, list):
        raise InputError("input.data.detail", "a list of settlement rows")
    theirs = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not row.get("setl_id"):
            raise InputError(f"input.data.detail[{i}].setl_id", "required")
        theirs[str(row["setl_id"])] = row
    out = []
    for setl_id in sorted(set(ours) | set(theirs)):
        mine, yours = ours.get(setl_id), theirs.get(setl_id)
        if mine is None or yours is None:
            out.append(
                {
                    "setl_id": setl_id,
                    "stmt_rslt": "1",
                    "stmt_rslt_dscr": "only in " + ("yours" if mine is None else "ours"),
                }
            )
            continue
        differs = [
            k
            for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")
            if Decimal(str(yours.get(k, "0"))) != mine[k]
        ]
        if str(yours.get("refd_setl_flag", "0")) != mine["refd_setl_flag"]:
            differs.append("refd_setl_flag")
        if differs:
            out.append({"setl_id": setl_id, "stmt_rslt": "1", "stmt_rslt_dscr": ", ".join(differs)})
    return {"stmtinfo": {"stmt_rslt": "1" if out else "0"}, "detail": out}


def _dec(data: dict, key: str) -> Decimal:
    try:
        return Decimal(str(data.get(key)))
    except Exception:
        raise InputError(f"input.data.{key}", "a number") from None


def _period(data: dict) -> tuple[date, date]:
    try:
        begin = date.fromisoformat(str(data.get("stmt_begndate"))[:10])
        end = date.fromisoformat(str(data.get("stmt_enddate"))[:10])
    except ValueError:
        raise InputError(
            "input.data.stmt_begndate", "give stmt_begndate and stmt_enddate as yyyy-MM-dd"
        ) from None
    return begin, end


# -- the settlement in the platform's names --------------------------------------------------
def setlinfo(a: Settled, member_id: str, med_type: str, msgid: str, sign: int = 1) -> dict:
    """The answer as the platform's setlinfo and setldetail: money as JSON numbers, negative
    for a cancellation (`sign` -1)."""

    def n(key: str) -> float:
        return json_number(sign * getattr(a, key))

    fund_trace = "; ".join(f"{s.rule} {fmt(s.amount)}" for s in a.trace)
    info = {
        "setl_id": a.txn_id or None,
        "mdtrt_id": a.visit_id,
        "psn_no": member_id,
        "psn_name": None,
        "insutype": "310",
        "med_type": med_type or None,
        "setl_time": a.time,
        "medfee_sumamt": n("total"),
        "fulamt_ownpay_amt": n("out_of_scope"),
        "overlmt_selfpay": n("above_standard"),
        "preselfpay_amt": n("class_b_self_pay"),
        "inscp_scp_amt": n("in_scope"),
        "act_pay_dedc": n("deductible"),
        "hifp_pay": n("fund_pay"),
        "cvlserv_pay": 0.0,
        "hifob_pay": 0.0,
        "maf_pay": 0.0,
        "oth_pay": 0.0,
        "fund_pay_sumamt": n("fund_pay"),
        "psn_part_amt": json_number(sign * (a.total - a.fund_pay)),
        "acct_pay": n("account_pay"),
        "acct_mulaid_pay": n("mutual_aid_pay"),
        "psn_cash_pay": n("cash_pay"),
        "hosp_part_amt": 0.0,
        "balc": json_number(a.account_balance),
        "medins_setl_id": msgid,
        "clr_type": "11",
    }
    detail = [
        {
            "fund_pay_type": "310100",
            "fund_pay_type_name": FUND_NAME["310100"],
            "inscp_scp_amt": n("in_scope"),
            "fund_payamt": n("fund_pay"),
            "setl_proc_info": fund_trace,
        },
        {
            "fund_pay_type": "310200",
            "fund_pay_type_name": FUND_NAME["310200"],
            "inscp_scp_amt": n("in_scope"),
            "fund_payamt": n("account_pay"),
            "setl_proc_info": None,
        },
    ]
    return {"setlinfo": info, "setldetail": detail}


HANDLERS: dict[str, Handler] = {
    "1101": member_information,
    "2201": registration,
    "2203": visit_information,
    "2204": fee_details,
    "2206": presettle_transaction,
    "2207": settle_transaction,
    "2208": cancel_settlement,
    "2601": reverse_transaction,
    "3201": reconcile_totals,
    "3202": reconcile_details,
}
