"""Visits registered through the national transactions before they are settled: 2201
registers (a visit id, 就诊ID) and 2202 cancels the registration; 2203 adds the visit's type
and diagnosis; 2204 uploads fee details and 2205 withdraws them; 2206/2207 settle the lines
as items priced from the catalogue. A visit settled (and not cancelled) takes no more
changes, and a cancelled registration none at all; a retry of what was done is answered as
the first time."""

import hashlib
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, Engine, insert, select, update

from gongji import catalogue
from gongji.errors import InputError, ServiceError
from gongji.ledger import views
from gongji.ledger.schema import members, visits
from gongji.money import MoneyError, fmt, fmt_price, json_number, times, unit_price
from gongji.service import fields
from gongji.service.auth import Caller

# the national tables' lengths: C(30) for the hospital's serials and codes; med_type C(6)
SERIAL_MAX, CODE_MAX, MED_TYPE_MAX = 30, 30, 6
# insutype 310, employees' basic medical insurance (national-interface §7.3): the only one
# gongji settles
INSUTYPE = "310"
ALL_BATCHES = "0000"  # 2205's chrg_bchno for every unsettled line of the visit (§5.8)


def insurance_type(data: dict, where: str) -> str:
    """The visit's insutype: 310, as given or where none is given; another is refused, not
    settled as 310."""
    given = fields.text(data, "insutype", where, MED_TYPE_MAX, required=False)
    if given is not None and given != INSUTYPE:
        raise InputError(
            f"{where}.insutype",
            f"{given}: gongji settles employees' basic medical insurance ({INSUTYPE}) only",
            "E_UNSUPPORTED",
        )
    return INSUTYPE


def register(db: Engine, caller_institution: str, msgid: str, data: dict, where: str) -> dict:
    """2201: every field read and checked before the visit is written; the answer (the
    hospital's serial echoed as text) is what was checked."""
    member_id = fields.text(data, "psn_no", where, fields.ID_MAX)
    begntime = fields.moment(data, "begntime", where)
    serial = fields.text(data, "ipt_otp_no", where, SERIAL_MAX, required=False)
    med_type = fields.text(data, "med_type", where, MED_TYPE_MAX, required=False) or "11"
    insurance_type(data, where)
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
                ipt_otp_no=serial,
            )
        )
    return answer


def cancel_registration(db: Engine, caller: Caller, data: dict, where: str) -> None:
    """2202: the registration cancelled, unless the visit is settled (its settlement is
    cancelled first, 2208). The serial, where both sides have one, must be the visit's. A
    retry finds it cancelled and changes nothing."""
    member_id = fields.text(data, "psn_no", where, fields.ID_MAX)
    mdtrt_id = fields.text(data, "mdtrt_id", where, fields.ID_MAX)
    serial = fields.text(data, "ipt_otp_no", where, SERIAL_MAX, required=False)
    settled = _settlements(db, {mdtrt_id})
    with db.begin() as conn:
        visit = _own(conn, caller, mdtrt_id, f"{where}.mdtrt_id", cancelled=True)
        _of_member(visit, member_id, f"{where}.psn_no")
        if serial is not None and visit.ipt_otp_no not in (None, serial):
            raise InputError(
                f"{where}.ipt_otp_no",
                f"visit {mdtrt_id} was registered as {visit.ipt_otp_no}, not {serial}",
            )
        if visit.cancelled_at is not None:
            return
        _not_settled(settled, visit, f"{where}.mdtrt_id", "cancel its settlement (2208) first")
        conn.execute(
            update(visits)
            .where(visits.c.mdtrt_id == visit.mdtrt_id)
            .values(cancelled_at=datetime.now())
        )


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
    """2204: fee details, each priced against the catalogue (the care region's: 就医地目录).
    A line sent again under its feedetl_sn is a retry if identical in what is kept of it
    (code, count, price, amount, batch, prescription), refused if not; a settled visit takes
    no new line."""
    lines = fields.objects(lines, where)
    if not lines:
        raise InputError(where, "give the fee detail lines")
    fees = [_fee(line, f"{where}[{i}]") for i, line in enumerate(lines)]  # all, before writing
    items = catalogue.sample()
    settled = _settlements(db, {fee["mdtrt_id"] for fee in fees})
    out = []
    with db.begin() as conn:
        fees_by_visit: dict[str, dict] = {}
        members_of: dict[str, str] = {}
        for i, fee in enumerate(fees):
            at = f"{where}[{i}]"
            mdtrt_id, sn, record = fee["mdtrt_id"], fee["sn"], fee["record"]
            if mdtrt_id not in fees_by_visit:
                found = _own(conn, caller, mdtrt_id, f"{at}.mdtrt_id")
                fees_by_visit[mdtrt_id] = dict(found.fees)
                members_of[mdtrt_id] = found.member_id
            if fee["member_id"] not in (None, members_of[mdtrt_id]):
                raise InputError(f"{at}.psn_no", f"visit {mdtrt_id} is not {fee['member_id']}'s")
            kept = fees_by_visit[mdtrt_id].get(sn)
            if kept is not None and kept != record:
                raise InputError(
                    f"{at}.feedetl_sn",
                    f"{sn} was uploaded for visit {mdtrt_id} with other content; withdraw it"
                    " (2205) to upload it again",
                    "E_FEE_CONFLICT",
                )
            if kept is None and settled[mdtrt_id] is not None:
                raise InputError(
                    f"{at}.mdtrt_id",
                    f"visit {mdtrt_id} is settled; cancel the settlement (2208) first",
                    "E_VISIT_SETTLED",
                )
            fees_by_visit[mdtrt_id][sn] = record
            out.append(_priced_line(fee, items))
        for mdtrt_id, fees in fees_by_visit.items():
            conn.execute(update(visits).where(visits.c.mdtrt_id == mdtrt_id).values(fees=fees))
    return out


def cancel_fees(db: Engine, caller: Caller, data: dict, where: str) -> None:
    """2205: a batch's fee lines withdrawn (chrg_bchno; "0000" or none: every line), unless
    the visit is settled. A retry finds nothing left to withdraw."""
    mdtrt_id = fields.text(data, "mdtrt_id", where, fields.ID_MAX)
    member_id = fields.text(data, "psn_no", where, fields.ID_MAX)
    batch = fields.text(data, "chrg_bchno", where, SERIAL_MAX, required=False) or ALL_BATCHES
    settled = _settlements(db, {mdtrt_id})
    with db.begin() as conn:
        visit = _own(conn, caller, mdtrt_id, f"{where}.mdtrt_id")
        _of_member(visit, member_id, f"{where}.psn_no")
        _not_settled(settled, visit, f"{where}.mdtrt_id", "cancel the settlement (2208) first")
        kept = {
            sn: line
            for sn, line in visit.fees.items()
            if batch != ALL_BATCHES and line.get("chrg_bchno") != batch
        }
        if kept != visit.fees:
            conn.execute(
                update(visits).where(visits.c.mdtrt_id == visit.mdtrt_id).values(fees=kept)
            )


def visit_document(db: Engine, caller: Caller, mdtrt_id: str, where: str) -> tuple[dict, object]:
    """The ledger's visit for a registered visit: its fee lines as catalogue items."""
    with db.connect() as conn:
        visit = _own(conn, caller, mdtrt_id, where, lock=False)
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


def priced_fees(visit) -> catalogue.Priced:
    """The uploaded fee lines priced as the ledger prices the visit's items (the same lines,
    the same catalogue): its total and how it splits, in fen, before anything settles."""
    lines = [
        catalogue.Line(f["code"], Decimal(f["quantity"]), unit_price(f["unit_price"]))
        for f in visit.fees.values()
    ]
    return catalogue.price(lines, catalogue.sample())


def _own(
    conn: Connection,
    caller: Caller,
    mdtrt_id: str,
    field: str,
    cancelled: bool = False,
    lock: bool = True,
):
    """The registered visit (with its member's region), if the caller may see it, locked for
    the transaction unless only read (a change to it waits for another's); its registration
    not cancelled unless `cancelled`."""
    query = (
        select(visits, members.c.region)
        .join(members, members.c.id == visits.c.member_id)
        .where(visits.c.mdtrt_id == mdtrt_id)
    )
    visit = conn.execute(query.with_for_update(of=visits) if lock else query).first()
    if visit is None:
        raise InputError(field, f"no visit {mdtrt_id}", "E_NOT_FOUND")
    if not caller.may_see(visit.institution):
        raise ServiceError("E_FORBIDDEN", field, f"visit {mdtrt_id} is another institution's")
    if visit.cancelled_at is not None and not cancelled:
        raise InputError(
            field, f"the registration of visit {mdtrt_id} was cancelled (2202)", "E_VISIT_CANCELLED"
        )
    return visit


def _of_member(visit, member_id: str, field: str) -> None:
    if visit.member_id != member_id:
        raise InputError(field, f"visit {visit.mdtrt_id} is not {member_id}'s")


def _settlements(db: Engine, mdtrt_ids: set[str]) -> dict[str, str | None]:
    """Each visit's active settlement (the ledger's transaction id; None: not settled), read
    before the transaction that changes the visits: SQLite takes its write lock at BEGIN, so
    a read on a second connection inside it would wait for that lock. (The ledger settles
    without the service's visits: a settlement may come in between either way.)"""
    with db.connect() as conn:
        where = dict(
            conn.execute(
                select(visits.c.mdtrt_id, visits.c.institution).where(
                    visits.c.mdtrt_id.in_(sorted(mdtrt_ids))
                )
            ).all()
        )
    return {i: views.active_settlement(db, where[i], i) if i in where else None for i in mdtrt_ids}


def _not_settled(settled: dict[str, str | None], visit, field: str, then: str) -> None:
    if settled.get(visit.mdtrt_id) is not None:
        raise InputError(field, f"visit {visit.mdtrt_id} is settled; {then}", "E_VISIT_SETTLED")


def _fee(line: dict, at: str) -> dict:
    """A fee detail line read and checked: its serial and code as text; the count (at most
    four decimals) and the unit price (at most six: N(16,4), N(16,6)) exact; its amount
    det_item_fee_sumamt the count times the price rounded once, half-up, to the fen — the
    line's money from then on, so one that disagrees is refused."""
    sn = fields.text(line, "feedetl_sn", at, SERIAL_MAX)
    code = fields.text(line, "med_list_codg", at, LIST_CODE_MAX)
    try:
        quantity = catalogue.quantity(line.get("cnt"))
    except (ValueError, TypeError) as exc:
        raise InputError(f"{at}.cnt", str(exc)) from None
    price = _price(line, at)
    total = fields.amount(line, "det_item_fee_sumamt", at)
    if times(price, quantity) != total:
        raise InputError(
            f"{at}.det_item_fee_sumamt",
            f"{fmt(total)} is not cnt x pric ({fmt(times(price, quantity))}:"
            f" {quantity} x {fmt_price(price)}, rounded half-up to the fen)",
        )
    record = {"code": code, "quantity": f"{quantity.normalize():f}",
              "unit_price": fmt_price(price), "amount": fmt(total)}  # fmt: skip
    # the batch (chrg_bchno, which 2205 withdraws); the prescription (rxno) and whether it
    # circulates to a pharmacy (rx_circ_flag 1): the prescription-circulation monitoring
    # (KF-23, PZH-14, XSBN-32) reads them; rxno runs over its C(30) in one client
    for key, most in (("chrg_bchno", SERIAL_MAX), ("rxno", RXNO_MAX), ("rx_circ_flag", 6)):
        value = fields.text(line, key, at, most, required=False)
        if value is not None:
            record[key] = value
    mdtrt_id = fields.text(line, "mdtrt_id", at, fields.ID_MAX)
    member_id = fields.text(line, "psn_no", at, fields.ID_MAX, required=False)
    return {"mdtrt_id": mdtrt_id, "member_id": member_id, "sn": sn, "record": record,
            "quantity": quantity, "price": price, "total": total}  # fmt: skip


def _price(line: dict, at: str) -> Decimal:
    value = line.get("pric")
    if value is None or value == "":
        raise InputError(f"{at}.pric", "required")
    try:
        return unit_price(value)
    except MoneyError as exc:
        raise InputError(f"{at}.pric", f"a unit price in yuan: {exc}") from None


# what 2204 answers for an item not in the catalogue's price ceiling: the value the platform
# gives for no ceiling (pric_uplmt_amt 999999 in the recorded Hebei answer, §5.7)
NO_CEILING = Decimal(999999)


def _priced_line(fee: dict, items: dict[str, catalogue.Item]) -> dict:
    """2204's result[] row: the line priced; every numeric column a number, never null
    (OH reads them into non-nullable decimals, national-interface §4.3)."""
    line = catalogue.Line(fee["record"]["code"], fee["quantity"], fee["price"])
    p = catalogue.price([line], items)
    known = items.get(line.code)
    item_class = known.item_class if known else "C"  # not in the catalogue: out of scope
    # the share the member pays first: class B's (先行自付), all of class C, none of class A
    share = {"A": Decimal(0), "C": Decimal(1)}.get(item_class)
    if share is None:
        share = Decimal(known.self_pay_share).scaleb(-4)
    ceiling = known.payment_standard if known else None
    return {
        "feedetl_sn": fee["sn"],
        "det_item_fee_sumamt": json_number(p.total),
        "cnt": float(fee["quantity"]),
        "pric": float(fee["price"].scaleb(-2)),
        "pric_uplmt_amt": float(NO_CEILING) if ceiling is None else json_number(ceiling),
        "selfpay_prop": float(share),
        "fulamt_ownpay_amt": json_number(p.out_of_scope),
        "overlmt_amt": json_number(p.above_standard),
        "preselfpay_amt": json_number(p.class_b_self_pay),
        "inscp_scp_amt": json_number(p.in_scope),
        "chrgitm_lv": {"A": "01", "B": "02", "C": "03"}[item_class],
    }


LIST_CODE_MAX, RXNO_MAX = 50, 100  # med_list_codg C(50); rxno C(30), longer in one client
