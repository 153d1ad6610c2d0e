"""Visits registered through the national transactions before they are settled: 2201
registers (a visit id, 就诊ID), 2203 adds the visit's type and diagnosis, 2204 uploads fee
details, which 2206/2207 settle as line items priced from the catalogue."""

import hashlib
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, insert, select, update

from gongji import catalogue
from gongji.errors import InputError, ServiceError
from gongji.ledger.schema import members, visits
from gongji.money import MoneyError, fmt, times, to_fen
from gongji.service.auth import Caller


def register(db: Engine, caller_institution: str, msgid: str, data: dict, where: str) -> dict:
    member_id = _text(data, "psn_no", where)
    begntime = _time(data, "begntime", where)
    mdtrt_id = "V" + hashlib.sha256(msgid.encode()).hexdigest()[:23]  # a retry: the same id
    with db.begin() as conn:
        if conn.execute(select(members.c.id).where(members.c.id == member_id)).first() is None:
            raise InputError(f"{where}.psn_no", f"unknown member {member_id}", "E_NOT_FOUND")
        if conn.execute(select(visits.c.mdtrt_id).where(visits.c.mdtrt_id == mdtrt_id)).first():
            return {"mdtrt_id": mdtrt_id, "psn_no": member_id, "ipt_otp_no": data.get("ipt_otp_no")}
        conn.execute(
            insert(visits).values(
                mdtrt_id=mdtrt_id,
                member_id=member_id,
                institution=caller_institution,
                begntime=begntime,
                med_type=str(data.get("med_type") or "11"),
                fees={},
            )
        )
    return {"mdtrt_id": mdtrt_id, "psn_no": member_id, "ipt_otp_no": data.get("ipt_otp_no")}


def add_visit_information(
    db: Engine, caller: Caller, info: dict, diagnoses: list, where: str
) -> None:
    mdtrt_id = _text(info, "mdtrt_id", where)
    with db.begin() as conn:
        visit = _own(conn, caller, mdtrt_id, f"{where}.mdtrt_id")
        disease = info.get("dise_codg") or next(
            (d.get("diag_code") for d in diagnoses if isinstance(d, dict) and d.get("diag_code")),
            None,
        )
        conn.execute(
            update(visits)
            .where(visits.c.mdtrt_id == visit.mdtrt_id)
            .values(med_type=str(info.get("med_type") or visit.med_type), disease=disease)
        )


def upload_fees(db: Engine, caller: Caller, lines: list, where: str) -> list[dict]:
    """Fee details, each priced against the catalogue (the care region's: 就医地目录)."""
    if not isinstance(lines, list) or not lines:
        raise InputError(where, "give the fee detail lines")
    items = catalogue.sample()
    out = []
    with db.begin() as conn:
        fees_by_visit: dict[str, dict] = {}
        for i, line in enumerate(lines):
            at = f"{where}[{i}]"
            if not isinstance(line, dict):
                raise InputError(at, "a fee detail line is an object")
            mdtrt_id = _text(line, "mdtrt_id", at)
            if mdtrt_id not in fees_by_visit:
                fees_by_visit[mdtrt_id] = dict(_own(conn, caller, mdtrt_id, f"{at}.mdtrt_id").fees)
            fee = _fee(line, at)
            priced = catalogue.price(
                [catalogue.Line(fee["code"], fee["quantity"], fee["unit_price"])], items
            )
            fees_by_visit[mdtrt_id][fee["sn"]] = {
                "code": fee["code"],
                "quantity": str(fee["quantity"]),
                "unit_price": fmt(fee["unit_price"]),
                **{k: fee[k] for k in ("rxno", "rx_circ_flag") if k in fee},
            }
            known = items.get(fee["code"])
            out.append(
                {
                    "feedetl_sn": fee["sn"],
                    "det_item_fee_sumamt": _num(priced.total),
                    "fulamt_ownpay_amt": _num(priced.out_of_scope),
                    "overlmt_amt": _num(priced.above_standard),
                    "preselfpay_amt": _num(priced.class_b_self_pay),
                    "inscp_scp_amt": _num(priced.in_scope),
                    "chrgitm_lv": {"A": "01", "B": "02", "C": "03"}.get(
                        known.item_class if known else "C"
                    ),
                }
            )
        for mdtrt_id, fees in fees_by_visit.items():
            conn.execute(update(visits).where(visits.c.mdtrt_id == mdtrt_id).values(fees=fees))
    return out


def visit_document(db: Engine, caller: Caller, mdtrt_id: str, where: str) -> tuple[dict, object]:
    """The ledger's visit for a registered visit: its fee lines as catalogue items."""
    with db.connect() as conn:
        visit = _own(conn, caller, mdtrt_id, where)
    if not visit.fees:
        raise InputError(where, f"visit {mdtrt_id} has no fee details (2204) yet")
    document = {
        "id": visit.mdtrt_id,
        "time": visit.begntime.isoformat(),
        "institution": visit.institution,
        "items": [
            {"code": f["code"], "quantity": f["quantity"], "unit_price": f["unit_price"]}
            for _, f in sorted(visit.fees.items())
        ],
    }
    if visit.disease:
        document["disease"] = visit.disease
    return document, visit


def fees_total(visit) -> int:
    """The uploaded fee lines' total, in fen."""
    return sum(times(to_fen(f["unit_price"]), Decimal(f["quantity"])) for f in visit.fees.values())


def _own(conn, caller: Caller, mdtrt_id: str, field: str):
    """The registered visit (with its member's region), if the caller may see it."""
    visit = conn.execute(
        select(visits, members.c.region)
        .join(members, members.c.id == visits.c.member_id)
        .where(visits.c.mdtrt_id == mdtrt_id)
    ).first()
    if visit is None:
        raise InputError(field, f"no visit {mdtrt_id}", "E_NOT_FOUND")
    if not caller.may_see(visit.institution):
        raise ServiceError("E_FORBIDDEN", field, f"visit {mdtrt_id} is another institution's")
    return visit


def _fee(line: dict, at: str) -> dict:
    sn = _text(line, "feedetl_sn", at)
    code = _text(line, "med_list_codg", at)
    try:
        quantity = catalogue.quantity(line.get("cnt"))
    except (ValueError, TypeError) as exc:
        raise InputError(f"{at}.cnt", str(exc)) from None
    price = _fen(line, "pric", at)
    total = _fen(line, "det_item_fee_sumamt", at)
    if times(price, quantity) != total:
        raise InputError(
            f"{at}.det_item_fee_sumamt",
            f"{fmt(total)} is not cnt x pric ({fmt(times(price, quantity))})",
        )
    fee = {"sn": sn, "code": code, "quantity": quantity, "unit_price": price}
    # the prescription (rxno) and whether it circulates to a pharmacy (rx_circ_flag 1): the
    # prescription-circulation monitoring (KF-23, PZH-14, XSBN-32) reads them
    for key in ("rxno", "rx_circ_flag"):
        if line.get(key) not in (None, ""):
            fee[key] = str(line[key])
    return fee


def _fen(data: dict, key: str, where: str) -> int:
    try:
        fen = to_fen(data.get(key))
    except MoneyError:
        raise InputError(f"{where}.{key}", "an amount in yuan, at most two decimals") from None
    if fen < 0:
        raise InputError(f"{where}.{key}", "must not be negative")
    return fen


def _text(data: dict, key: str, where: str) -> str:
    value = data.get(key)
    if value is None or str(value).strip() == "":
        raise InputError(f"{where}.{key}", "required")
    return str(value)


def _time(data: dict, key: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(str(data.get(key)).replace(" ", "T"))
    except ValueError:
        raise InputError(f"{where}.{key}", "a time: yyyy-MM-dd HH:mm:ss") from None


def _num(fen: int) -> float:
    """Fen as the platform's JSON number (yuan); the float exists only in the JSON text."""
    return float(Decimal(fen) / 100)
