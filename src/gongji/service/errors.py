"""Stable error codes with a Chinese and an English message, and the HTTP status each takes.

Programs read `code`; people read `message_zh` / `message_en`, which name the field. A client
mistake is a 4xx (or, on the national endpoint, `infcode` -1); never a 500.
"""

from gongji.errors import InputError

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
    "E_NOT_LATEST": (
        409,
        "请先撤销该参保人之后的结算",
        "cancel the member's later settlements first",
    ),
    "E_YEAR_CLOSED": (409, "该年度已结转，不能撤销", "the year is closed"),
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
    "E_UNAUTHORIZED": (401, "凭证无效或已吊销", "unknown or revoked credential"),
    "E_FORBIDDEN": (403, "无权访问其他机构的数据", "not this credential's data"),
    "E_TOO_LARGE": (413, "请求过大", "the request body is too large"),
    "E_RATE_LIMIT": (429, "请求过于频繁，请稍后再试", "too many requests; retry later"),
    "E_UNAVAILABLE": (503, "服务暂不可用，请稍后重试", "the store is unavailable; retry later"),
}


class ServiceError(Exception):
    def __init__(self, code: str, field: str = "", reason: str = ""):
        super().__init__(f"{code} {field}: {reason}")
        self.code, self.field, self.reason = code, field, reason


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
