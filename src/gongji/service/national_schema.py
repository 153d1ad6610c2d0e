"""The national endpoint's `input` in the OpenAPI document, typed per transaction.

The service reads `input` by hand (fields.py, by each transaction's handler), so FastAPI
sees only an object; this describes what each `infno` reads there, for Swagger UI and for
clients generated from the document: one envelope schema per transaction (`National2207`,
...: the envelope's fields and that transaction's `input`), chosen by `infno` (a
discriminated `oneOf`; the A variants are their base's). Only the description: requests
are read as before, and a field not listed here is still ignored.

The field kinds are fields.py's, the lengths the handlers' own constants: C(n) text (a whole
number sent for it is read as its text), N(16,2) amounts in yuan (a number or a numeric
string), N(10) counts, D dates, DT date-times.
"""

from gongji.model import ID_MAX, TEXT_MAX
from gongji.service import files, member_info, national, registered, signin

# the platform's names of the transactions (national-interface §5)
NAMES = {
    "9001": "签到 sign in",
    "9002": "签退 sign out",
    "1101": "人员信息获取 member information",
    "2201": "门诊挂号 registration",
    "2202": "门诊挂号撤销 registration cancelled",
    "2203": "门诊就诊信息上传 visit information",
    "2204": "门诊费用明细信息上传 fee details",
    "2205": "门诊费用明细信息撤销 fee details withdrawn",
    "2206": "门诊预结算 pre-settlement",
    "2207": "门诊结算 settlement",
    "2208": "门诊结算撤销 settlement cancelled",
    "2601": "冲正交易 reversal",
    "3201": "医药机构费用结算对总账 reconciliation of totals",
    "3202": "医药机构费用结算对明细账 reconciliation of settlements",
    "9101": "文件上传 file upload",
    "9102": "文件下载 file download",
}


def text(most: int, description: str = "") -> dict:
    """C(n): text of at most `most` characters, or a whole number read as its text."""
    kind = {"anyOf": [{"type": "string", "maxLength": most}, {"type": "integer"}]}
    return {**kind, "description": f"C({most}) {description}".strip()}


def amount(description: str = "") -> dict:
    return {
        "type": ["number", "string"],
        "description": f"N(16,2) 元 yuan, at most two decimals {description}".strip(),
    }


def count() -> dict:
    return {"type": ["integer", "string"], "description": "N(10) a whole number, 0 or more"}


def day() -> dict:
    return {"type": "string", "description": "D yyyy-MM-dd", "examples": ["2023-03-01"]}


def moment() -> dict:
    return {
        "type": "string",
        "description": "DT yyyy-MM-dd HH:mm:ss (or the ISO form with T; a zone offset is "
        "converted to China Standard Time)",
        "examples": ["2023-03-01 09:30:00"],
    }


def node(properties: dict, required: tuple[str, ...] = (), description: str = "") -> dict:
    shown: dict = {"type": "object", "properties": properties}
    if required:
        shown["required"] = list(required)
    if description:
        shown["description"] = description
    return shown


def rows(row: dict) -> dict:
    """A list of objects; a single object is read as a list of one (fields.objects)."""
    return {"anyOf": [{"type": "array", "items": row}, row]}


MEMBER = text(ID_MAX, "psn_no: the member's id")
VISIT = text(ID_MAX, "mdtrt_id: the visit's id, as 2201 answered it")
MED_TYPE = text(registered.MED_TYPE_MAX, "med_type (e.g. 11 普通门诊; default: the visit's)")
INSUTYPE = text(registered.MED_TYPE_MAX, f"insutype: {registered.INSUTYPE} only (the default)")
CERT_TYPE = text(
    3, "mdtrt_cert_type: " + ", ".join(f"{k} {v}" for k, v in member_info.CERT_TYPES.items())
)


def _settlement(split: bool) -> dict:
    """2206 and 2207's input.data; 2207 may repeat its pre-settlement's split, checked."""
    data = {
        "psn_no": MEMBER,
        "mdtrt_id": VISIT,
        "med_type": MED_TYPE,
        "mdtrt_cert_type": CERT_TYPE,
        "insutype": INSUTYPE,
        "psn_setlway": text(6, "01 按项目 by item (the default; 02 fixed quota is refused)"),
        "acct_used_flag": text(2, "0 no, 1 yes (the default; 01 is 1)"),
        "medfee_sumamt": amount("the fee details' total, where given: must equal it"),
    }
    if split:
        for key, _ in national.SPLIT:
            data[key] = amount("as 2206 answered it, where given: must still be the split")
    return {"data": node(data, ("psn_no", "mdtrt_id"))}


SIGN = text(signin.FIELD_MAX)
FILE_BYTES = {
    "anyOf": [
        {"type": "string", "contentEncoding": "base64"},
        {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}},
    ],
    "description": f"the file's bytes: Base64 text or a list of bytes (at most {files.FILE_MAX})",
}
STATEMENT = {"stmt_begndate": day(), "stmt_enddate": day()}
SETTLEMENT_ROW = node(
    {
        "setl_id": text(TEXT_MAX),
        **{key: amount() for key in files.AMOUNTS},
        "refd_setl_flag": text(6, "1: a refund (default 0)"),
        "mdtrt_id": text(TEXT_MAX),
        "psn_no": text(TEXT_MAX),
    },
    ("setl_id", *files.AMOUNTS),
)

# each transaction's `input`: its nodes, as the handlers read them
INPUTS: dict[str, dict] = {
    "9001": node(
        {
            "signIn": node({"opter_no": SIGN, "mac": SIGN, "ip": SIGN}),
            "opter_no": SIGN,
            "mac": SIGN,
            "ip": SIGN,
        },
        description="signIn {opter_no, mac, ip}, or the three flat in input",
    ),
    "9002": node(
        {
            "signOut": node({"sign_no": text(signin.SIGN_NO_MAX), "opter_no": SIGN}),
            "sign_no": text(signin.SIGN_NO_MAX),
            "opter_no": SIGN,
        },
        description="signOut {sign_no, opter_no}, or flat; no sign_no: the envelope's",
    ),
    "1101": node(
        {
            "data": node(
                {
                    "mdtrt_cert_type": CERT_TYPE,
                    "mdtrt_cert_no": text(
                        member_info.NUMBER_MAX,
                        f"the ID or card number (a voucher's token: up to {member_info.TOKEN_MAX})",
                    ),
                    "psn_no": MEMBER,
                    "begntime": moment(),
                },
                description="psn_no, or the credential presented (mdtrt_cert_type, mdtrt_cert_no)",
            )
        },
        ("data",),
    ),
    "2201": node(
        {
            "data": node(
                {
                    "psn_no": MEMBER,
                    "begntime": moment(),
                    "ipt_otp_no": text(registered.SERIAL_MAX, "the hospital's serial"),
                    "med_type": MED_TYPE,
                    "insutype": INSUTYPE,
                },
                ("psn_no", "begntime"),
            )
        },
        ("data",),
    ),
    "2202": node(
        {
            "data": node(
                {"psn_no": MEMBER, "mdtrt_id": VISIT, "ipt_otp_no": text(registered.SERIAL_MAX)},
                ("psn_no", "mdtrt_id"),
            )
        },
        ("data",),
    ),
    "2203": node(
        {
            "mdtrtinfo": node(
                {
                    "mdtrt_id": VISIT,
                    "med_type": MED_TYPE,
                    "dise_codg": text(registered.CODE_MAX, "the disease's code"),
                },
                ("mdtrt_id",),
            ),
            "diseinfo": rows(node({"diag_code": text(registered.CODE_MAX)})),
        },
        ("mdtrtinfo",),
    ),
    "2204": node(
        {
            "feedetail": rows(
                node(
                    {
                        "feedetl_sn": text(registered.SERIAL_MAX, "the line's serial"),
                        "mdtrt_id": VISIT,
                        "psn_no": MEMBER,
                        "med_list_codg": text(registered.LIST_CODE_MAX, "the national code"),
                        "cnt": {
                            "type": ["number", "string"],
                            "description": "N(16,4) the quantity",
                        },
                        "pric": {
                            "type": ["number", "string"],
                            "description": "N(16,6) 元 unit price",
                        },
                        "det_item_fee_sumamt": amount("cnt x pric, rounded half-up to the fen"),
                        "chrg_bchno": text(registered.SERIAL_MAX, "the batch (2205 withdraws it)"),
                        "rxno": text(registered.RXNO_MAX, "the prescription"),
                        "rx_circ_flag": text(6, "1: the prescription circulates to a pharmacy"),
                    },
                    (
                        "feedetl_sn",
                        "mdtrt_id",
                        "med_list_codg",
                        "cnt",
                        "pric",
                        "det_item_fee_sumamt",
                    ),
                )
            )
        },
        ("feedetail",),
    ),
    "2205": node(
        {
            "data": node(
                {
                    "mdtrt_id": VISIT,
                    "psn_no": MEMBER,
                    "chrg_bchno": text(
                        registered.SERIAL_MAX,
                        f"the batch ({registered.ALL_BATCHES}: every unsettled line)",
                    ),
                },
                ("mdtrt_id", "psn_no"),
            )
        },
        ("data",),
    ),
    "2206": node(_settlement(split=False), ("data",)),
    "2207": node(_settlement(split=True), ("data",)),
    "2208": node(
        {
            "data": node(
                {
                    "setl_id": text(TEXT_MAX, "the settlement's id (2207's msgid)"),
                    "mdtrt_id": text(TEXT_MAX),
                    "psn_no": MEMBER,
                },
                ("setl_id", "mdtrt_id", "psn_no"),
            )
        },
        ("data",),
    ),
    "2601": node(
        {
            "data": node(
                {
                    "omsgid": text(TEXT_MAX, "the msgid of the transaction reversed"),
                    "oinfno": text(6, "its infno: " + ", ".join(national.REVERSIBLE)),
                    "psn_no": MEMBER,
                },
                ("omsgid", "oinfno", "psn_no"),
            )
        },
        ("data",),
    ),
    "3201": node(
        {
            "data": node(
                {
                    **STATEMENT,
                    **{key: amount() for key in national.MONEY_TOTALS},
                    "fixmedins_setl_cnt": count(),
                    "setl_optins": text(TEXT_MAX, "echoed"),
                },
                ("stmt_begndate", "stmt_enddate", *national.MONEY_TOTALS, "fixmedins_setl_cnt"),
            )
        },
        ("data",),
    ),
    "3202": node(
        {
            "data": node(
                {
                    **STATEMENT,
                    **{
                        key: amount("read, not compared")
                        for key in ("medfee_sumamt", "fund_pay_sumamt", "cash_payamt")
                    },
                    "fixmedins_setl_cnt": count(),
                    "file_qury_no": text(
                        files.NAME_MAX, "the detail file uploaded (9101), where no detail is given"
                    ),
                    "detail": rows(SETTLEMENT_ROW),
                },
                ("stmt_begndate", "stmt_enddate"),
            ),
            "detail": rows(SETTLEMENT_ROW),
        },
        ("data",),
    ),
    "9101": node(
        {
            "fsUploadIn": node(
                {
                    "filename": text(files.NAME_MAX),
                    "fixmedins_code": text(ID_MAX),
                    "in": FILE_BYTES,
                },
                ("filename", "in"),
            )
        },
        ("fsUploadIn",),
    ),
    "9102": node(
        {
            "fsDownloadIn": node(
                {
                    "file_qury_no": text(files.NAME_MAX),
                    "filename": text(files.NAME_MAX),
                    "fixmedins_code": text(files.NAME_MAX),
                },
                ("file_qury_no",),
            )
        },
        ("fsDownloadIn",),
    ),
}


def _codes(infno: str) -> list[str]:
    return [infno, *(alias for alias, base in national.ALIASES.items() if base == infno)]


def body_schema() -> tuple[dict, dict[str, dict]]:
    """The national request body's schema (a `oneOf` chosen by `infno`) and the component
    schemas it refers to: one envelope a transaction, whole (Swagger UI names a branch by
    its title, which an `allOf` of the envelope and the input would hide)."""
    envelope = national.Envelope.model_json_schema()
    components = {}
    mapping = {}
    for infno, typed in INPUTS.items():
        name = f"National{infno}"
        properties = {
            **envelope["properties"],
            "infno": {"type": "string", "enum": _codes(infno)},
            "input": {**typed, "title": "input"},
        }
        components[name] = {
            **envelope,
            "title": f"{infno} {NAMES[infno]}",
            "description": f"{infno}: the envelope, with this transaction's input. "
            + envelope["description"],
            "properties": properties,
        }
        for code in _codes(infno):
            mapping[code] = f"#/components/schemas/{name}"
    body = {
        "oneOf": [{"$ref": f"#/components/schemas/National{infno}"} for infno in INPUTS],
        "discriminator": {"propertyName": "infno", "mapping": mapping},
    }
    return body, components


def type_inputs(document: dict) -> dict:
    """The OpenAPI document with the national paths' bodies typed per transaction."""
    body, components = body_schema()
    document.setdefault("components", {}).setdefault("schemas", {}).update(components)
    for path in national.PATHS:
        operation = document.get("paths", {}).get(path, {}).get("post")
        if operation is not None:
            content = operation["requestBody"]["content"]["application/json"]
            content["schema"] = body
    return document
