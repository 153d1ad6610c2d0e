"""Errors people and programs can act on: a stable code, the field, and the reason.

Bad input never produces a traceback: commands print one line, the field and the reason in
Chinese and then `field: reason` in brackets (commands.fail), and exit 2.
Every code is in `CATALOGUE`, with a Chinese and an English message and the HTTP status it
takes: programs read the code, people read the messages, which name the field. A client
mistake is a 4xx (or, on the national endpoint, `infcode` -1); never a 500.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic is imported where a document is validated, not by every command
    from pydantic import ValidationError


class InputError(ValueError):
    """Input that cannot be used as given. `field` is a path like `visits[2].in_scope`."""

    code = "E_INPUT"

    def __init__(self, field: str, reason: str, code: str | None = None):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        if code:
            self.code = code


class PolicyError(InputError):
    """A policy pack that cannot be loaded: the file, the key and the reason."""

    code = "E_POLICY"

    def __init__(self, file: str, key: str, reason: str):
        super().__init__(f"{file}: {key}" if key else file, reason)
        self.file = file
        self.key = key


def validated(model, document: object, where: str = ""):
    """`document` as the pydantic `model`, or an InputError naming the first bad field
    under `where` (e.g. `visit.total`; the whole document: `where` itself)."""
    from pydantic import ValidationError

    try:
        return model.model_validate(document)
    except ValidationError as exc:
        field, reason = first_error(exc)
        if where:
            field = where if field == "(document)" else f"{where}.{field}"
        raise InputError(field, reason) from None


def field_path(loc: tuple) -> str:
    """('visits', 2, 'in_scope') -> 'visits[2].in_scope'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def first_error(exc: "ValidationError") -> tuple[str, str]:
    """The first validation error as (field path, reason in plain words)."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        return field_path(loc), "unknown field"
    if kind == "missing":
        return field_path(loc), "required"
    if kind == "enum" or kind == "literal_error":
        got = err.get("input")
        return field_path(loc), f"unknown value {got!r} (expected {ctx.get('expected')})"
    if kind == "value_error":
        return field_path(loc), str(ctx.get("error", err["msg"]))
    return field_path(loc), err["msg"][0].lower() + err["msg"][1:]


def _is_union_tag(part: object) -> bool:
    # pydantic names the union member it tried ('constrained-str', 'function-after[...]',
    # 'ClassRules'); our field names are snake_case, so those labels are told apart and dropped
    if not isinstance(part, str) or part == "[key]":
        return False
    return "[" in part or "-" in part or part[:1].isupper()


# code -> (HTTP status, Chinese, English)
CATALOGUE: dict[str, tuple[int, str, str]] = {
    "E_INPUT": (422, "请求内容有误", "the request is not valid"),
    "E_POLICY": (422, "政策参数无法使用", "the policy pack cannot be used"),
    "E_CATEGORY": (422, "本统筹区无此门诊类别的政策", "no policy for this outpatient category"),
    "E_NOT_FOUND": (404, "未找到", "not found"),
    "E_EXISTS": (409, "已存在", "exists already"),
    "E_MEMBER_EXISTS": (409, "参保人已存在", "the member exists already"),
    "E_MEMBER_CLOSED": (409, "参保人已注销", "the member is closed"),
    "E_TXN_CONFLICT": (
        409,
        "交易流水号已用于另一笔不同的请求",
        "the transaction id was used for a different request",
    ),
    "E_TXN_REVERSED": (409, "该交易已冲正", "the transaction was reversed"),
    "E_YEAR_CLOSED": (409, "该年度已结转，不能撤销", "the year is closed"),
    "E_VISIT_SETTLED": (
        409,
        "该次就诊已结算（同一机构的同一就诊只结算一次）",
        "the visit is paid already (a visit at an institution is settled once)",
    ),
    "E_INVOICE_CLAIMED": (
        409,
        "该发票已报销（同一开具机构的发票号只报销一次）",
        "the invoice is reimbursed already (an invoice number is paid once per institution)",
    ),
    "E_VISIT_FUTURE": (
        422,
        "就诊时间晚于当前时间（超出允许的时钟误差）",
        "later than now (beyond the clock difference allowed)",
    ),
    "E_INSTITUTION_MISMATCH": (
        422,
        "与定点机构登记信息不符",
        "does not match the institution's registration",
    ),
    "E_INSUFFICIENT": (409, "个人账户余额不足", "the account balance is not enough"),
    "E_USE_NOT_ALLOWED": (422, "个人账户不得用于该用途", "the account may not pay for this"),
    "E_NOT_IN_POLICY": (422, "本统筹区政策无此项", "the region's policy has no such provision"),
    "E_FROZEN": (409, "有封存金额尚未处理", "an amount is frozen"),
    "E_DONE": (409, "已处理", "done already"),
    "E_RETIRED": (409, "已办理退休", "retired already"),
    "E_WINDOWS_FULL": (422, "同日就诊机构过多", "too many institutions open the same day"),
    "E_ITEMS_FULL": (422, "年度谈判药品过多", "too many negotiated drugs this year"),
    "E_INFNO": (422, "不支持的交易编号", "unknown transaction number"),
    "E_CERT_TYPE": (422, "不支持的就诊凭证类型", "this credential type is not accepted here"),
    "E_AMBIGUOUS": (409, "该凭证对应多名参保人", "the credential matches more than one member"),
    "E_UNSUPPORTED": (
        422,
        "不支持的险种或结算方式",
        "gongji does not settle this (insurance type or settlement method)",
    ),
    "E_FEES_CHANGED": (
        409,
        "金额与费用明细不符（预结算后费用明细已变更）",
        "the amounts differ from the fee details (changed since pre-settlement)",
    ),
    "E_FEE_CONFLICT": (
        409,
        "该费用明细流水号已上传不同的明细",
        "the fee line serial was uploaded with other content",
    ),
    "E_VISIT_CANCELLED": (409, "该次挂号已撤销", "the registration was cancelled"),
    "E_CANCEL_FINAL": (
        409,
        "结算已撤销，撤销不能冲正",
        "a settlement cancellation stands; it cannot be reversed",
    ),
    "E_UNAUTHORIZED": (401, "凭证无效或已吊销", "unknown or revoked credential"),
    "E_SIGNATURE": (401, "签名不正确", "the request's signature does not match"),
    "E_SIGNATURE_TIME": (
        401,
        "请求时间戳超出允许范围，请校准时钟",
        "the request's timestamp is outside the window allowed; check the clock",
    ),
    "E_REPLAYED": (401, "该请求已提交过（nonce 重复）", "the request was sent already (its nonce)"),
    "E_FORBIDDEN": (403, "无权访问其他机构的数据", "not this credential's data"),
    "E_SIGN_IN": (403, "未签到或已签退，请先签到（9001）", "not signed in (9001), or signed out"),
    "E_TOO_LARGE": (413, "请求过大", "the request body is too large"),
    "E_RATE_LIMIT": (429, "请求过于频繁，请稍后再试", "too many requests; retry later"),
    "E_UNAVAILABLE": (503, "服务暂不可用，请稍后重试", "the store is unavailable; retry later"),
}


class ServiceError(Exception):
    """A refusal before or beside the ledger's own checks (credential, tenancy, size, rate,
    an unavailable store): a code of the catalogue, the field, the reason."""

    def __init__(
        self, code: str, field: str = "", reason: str = "", retry_after: int | None = None
    ):
        super().__init__(f"{code} {field}: {reason}")
        self.code, self.field, self.reason = code, field, reason
        self.retry_after = retry_after  # seconds, for a Retry-After header (429)


def from_input(exc: InputError) -> ServiceError:
    return ServiceError(exc.code, exc.field, exc.reason)


def status(code: str) -> int:
    return CATALOGUE.get(code, CATALOGUE["E_INPUT"])[0]


def body(err: ServiceError) -> dict:
    """The error as JSON: the code, the field, and a message in each language."""
    _, zh, en = CATALOGUE.get(err.code, CATALOGUE["E_INPUT"])
    where_zh = f"（字段 {err.field}）" if err.field else ""
    detail = f"{err.field}: {err.reason}" if err.field else err.reason
    return {
        "code": err.code,
        "field": err.field or None,
        "message_zh": f"{zh}{where_zh}",
        "message_en": f"{en} — {detail}" if detail else en,
    }
