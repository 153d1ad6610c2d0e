"""Visits registered through the national transactions before they are settled: 2201
registers (a visit id, 就诊ID), 2203 adds the visit's type and diagnosis, 2204 uploads fee
details, which 2206/2207 settle as line items priced from the catalogue."""

import hashlib
from decimal import Decimal

from sqlalchemy import Engine, insert, select, update

from gongji import catalogue
from gongji.errors import InputError, ServiceError
from gongji.ledger.schema import members, visits
from gongji.money import fmt, times, to_fen
from gongji.service import fields
from gongji.service.auth import Caller

# the national tables' lengths: C(30) for the hospital's serials and codes; med_type C(6)
SERIAL_MAX, CODE_MAX, MED_TYPE_MAX = 30, 30, 6


def register(db: Engine, caller_institution: str, msgid: str, data: dict, where: str) -> dict:
    """2201: every field read and checked before the visit is written; the answer (the
    hospital's serial echoed as text) is what was checked."""
    member_id = fields.text(data, "psn_no", where, fields.ID_MAX)
    begntime = fields.moment(data, "begntime", where)
    serial = fields.text(data, "ipt_otp_no", where, SERIAL_MAX, required=False)
    med_type = fields.text(data, "med_type", where, MED_TYPE_MAX, required=False) or "11"
    # a retry: the same id; another institution's msgid: another visit (ids are scoped)
    scoped = f"{caller_institution}\x00{msgid}".encode()
    mdtrt_id = "V" + hashlib.sha256(scoped).hexdigest()[:23]
    answer = {"mdtrt_id": mdtrt_id, "psn_no": member_id, "ipt_otp_no": serial}
    with db.begin() as conn:
        if conn.execute(select(members.c.id).where(members.c.id == member_id)).first() is None:
            raise InputError(f"{where}.psn_no", f"unknown member {member_id}", "E_NOT_FOUND")
        if conn.execute(select(visits.c.mdtrt_id).where(visits.c.mdtrt_id == mdtrt_id)).first():
            return answer
        conn.execute(
            insert(visits).values(
                mdtrt_id=mdtrt_id,
                member_id=member_id,
                institution=caller_institution,
                begntime=begntime,
                med_type=med_type,
                fees={},
            )
        )
    return answer


def add_visit_information(
    db: Engine, caller: Caller, info: dict, diagnoses: list, where: str, dwhere: str
) -> None:
    """2203: the visit's type and disease (its own code, else the first diagnosis's)."""
    mdtrt_id = fields.text(info, "mdtrt_id", where, fields.ID_MAX)
    med_type = fields.text(info, "med_type", where, MED_TYPE_MAX, required=False)
    disease = fields.text(info, "dise_codg", where, CODE_MAX, required=False)
    for i, d in enumerate(fields.objects(diagnoses, dwhere)):
        code = fields.text(d, "diag_code", f"{dwhere}[{i}]", CODE_MAX, required=False)
        disease = disease or code
    with db.begin() as conn:
        visit = _own(conn, caller, mdtrt_id, f"{where}.mdtrt_id")
        conn.execute(
            update(visits)
            .where(visits.c.mdtrt_id == visit.mdtrt_id)
            .values(med_type=med_type or visit.med_type, disease=disease)
        )


def upload_fees(db: Engine, caller: Caller, lines: list, where: str) -> list[dict]:
    """Fee details, each priced against the catalogue (the care region's: 就医地目录)."""
    lines = fields.objects(lines, where)
    if not lines:
        raise InputError(where, "give the fee detail lines")
    fees = [_fee(line, f"{where}[{i}]") for i, line in enumerate(lines)]  # all, before writing
    items = catalogue.sample()
    out = []
    with db.begin() as conn:
        fees_by_visit: dict[str, dict] = {}
        for i, fee in enumerate(fees):
            mdtrt_id = fee["mdtrt_id"]
            if mdtrt_id not in fees_by_visit:
                found = _own(conn, caller, mdtrt_id, f"{where}[{i}].mdtrt_id")
                fees_by_visit[mdtrt_id] = dict(found.fees)
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
    """A fee detail line read and checked: its serial and code as text, the quantity and
    the price within bounds, the line total cnt x pric."""
    sn = fields.text(line, "feedetl_sn", at, SERIAL_MAX)
    code = fields.text(line, "med_list_codg", at, LIST_CODE_MAX)
    try:
        quantity = catalogue.quantity(line.get("cnt"))
    except (ValueError, TypeError) as exc:
        raise InputError(f"{at}.cnt", str(exc)) from None
    price = fields.amount(line, "pric", at)
    total = fields.amount(line, "det_item_fee_sumamt", at)
    if times(price, quantity) != total:
        raise InputError(
            f"{at}.det_item_fee_sumamt",
            f"{fmt(total)} is not cnt x pric ({fmt(times(price, quantity))})",
        )
    fee = {"mdtrt_id": fields.text(line, "mdtrt_id", at, fields.ID_MAX), "sn": sn,
           "code": code, "quantity": quantity, "unit_price": price}  # fmt: skip
    # the prescription (rxno) and whether it circulates to a pharmacy (rx_circ_flag 1): the
    # prescription-circulation monitoring (KF-23, PZH-14, XSBN-32) reads them; rxno runs
    # over its C(30) in one client
    for key, most in (("rxno", RXNO_MAX), ("rx_circ_flag", MED_TYPE_MAX)):
        value = fields.text(line, key, at, most, required=False)
        if value is not None:
            fee[key] = value
    return fee


LIST_CODE_MAX, RXNO_MAX = 50, 100  # med_list_codg C(50); rxno C(30), longer in one client


def _num(fen: int) -> float:
    """Fen as the platform's JSON number (yuan); the float exists only in the JSON text."""
    return float(Decimal(fen) / 100)
