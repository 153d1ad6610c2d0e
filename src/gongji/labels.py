"""The one Chinese term table (from shared/spec/glossary.md): what people read for each name
the code uses — levels, member types, regions, journal entry kinds, audit actions, roles,
policy values, form fields. The console, the CLI's tables, the report and the error banners
all call `label`, so a term is translated once and read the same everywhere.

English stays the code's language: `label(key, "en")` gives the key back, readable.
"""

import json
import re
from decimal import Decimal
from functools import cache

from gongji.errors import CATALOGUE
from gongji.money import fmt_grouped, fmt_time
from gongji.terms import (
    AccountPurpose,
    Beneficiary,
    Category,
    CloseReason,
    Condition,
    DeductibleWindow,
    Level,
    MemberClass,
    MemberType,
    RetirementTiming,
)

LANGS = ("zh", "en")

LEVELS = {
    Level.primary: "基层医疗机构",
    Level.level1: "一级",
    Level.level2: "二级",
    Level.level3: "三级",
    Level.pharmacy: "定点零售药店",
}
MEMBER_TYPES = {
    MemberType.employee: "在职职工",
    MemberType.retiree: "退休人员",
    MemberType.flexible: "灵活就业人员",
    MemberType.single_pool: "单建统筹",
}
MEMBER_CLASSES = {MemberClass.employee: "在职职工", MemberClass.retiree: "退休人员"}
CATEGORIES = {
    Category.general: "普通门诊统筹",
    Category.chronic: "门诊慢性病",
    Category.special: "门诊特殊病",
    Category.two_diseases: "两病",
    Category.emergency: "门诊急诊抢救",
    Category.negotiated_drug: "国家谈判药品",
    Category.day_surgery: "日间手术",
}
# the engine's payment lines (engine.layout.LINE_NAMES) beyond the categories
LINES = {
    "general_overflow": "普通门诊超限额部分",
    "special_exception": "门诊特殊病（单列病种）",
    "inpatient": "住院",
}
CONDITIONS = {
    Condition.designated: "定点医疗机构",
    Condition.benefit_period: "待遇享受期",
    Condition.not_inpatient: "非住院期间",
    Condition.not_in_arrears: "无欠费",
    Condition.has_account: "有个人账户",
    Condition.raised_contribution: "提高缴费费率",
    Condition.remote_filing: "异地就医备案",
    Condition.remote_direct_settlement: "异地直接结算",
    Condition.no_third_party: "无第三方责任",
}
WINDOWS = {
    DeductibleWindow.none: "每次就诊均计起付线",
    DeductibleWindow.same_institution_day: "同一机构同一天只计一次",
    DeductibleWindow.hours_from_charged: "同一机构计起付线后若干小时内只计一次",
}
RETIREMENT = {
    RetirementTiming.on_date: "自退休之日起",
    RetirementTiming.next_month: "自办理次月起",
}
PURPOSES = {
    AccountPurpose.family_care: "家庭成员就医",
    AccountPurpose.family_resident_premium: "家庭成员居民医保缴费",
    AccountPurpose.supplementary_premium: "大额医疗补助缴费",
    AccountPurpose.long_term_care_premium: "长期护理保险缴费",
    AccountPurpose.critical_illness_premium: "大病保险缴费",
    AccountPurpose.commercial_health_premium: "商业健康保险缴费",
    AccountPurpose.public_health: "公共卫生费用",
    AccountPurpose.fitness: "健身",
    AccountPurpose.wellness: "养生保健",
}
BENEFICIARIES = {
    Beneficiary.member: "本人",
    Beneficiary.spouse: "配偶",
    Beneficiary.parent: "父母",
    Beneficiary.child: "子女",
}
CLOSE_REASONS = {
    CloseReason.transfer: "转移",
    CloseReason.refund: "一次性退还",
    CloseReason.death: "死亡（继承）",
    CloseReason.emigration: "出国（境）定居",
    CloseReason.withdrawal: "退出职工医保",
}
# the five rulebooks' regions (shared/seeds/README.md)
REGIONS = {
    "jiamusi": "佳木斯市",
    "kaifeng": "开封市",
    "panzhihua": "攀枝花市",
    "nanyang": "南阳市",
    "xishuangbanna": "西双版纳州",
}
# the kinds of journal entry the ledger posts (ledger.journal.post's `kind`)
ENTRY_KINDS = {
    "opening": "期初余额",
    "settle": "结算",
    "cancel": "结算撤销",
    "monthly": "按月划入",
    "back_credit": "补划",
    "contribution": "缴费",
    "premium": "代缴保费",
    "released": "解除封存",
    "transferred": "封存划转",
    "close": "账户注销",
}
# the audit log's actions (console.auth.record's `action`)
AUDIT_ACTIONS = {
    "login": "登录",
    "login.refused": "登录被拒绝",
    "logout": "退出",
    "staff.add": "新增工作人员",
    "staff.disable": "停用工作人员",
    "member.viewed": "查看参保人",
    "binding.added": "绑定共济",
    "binding.ended": "解除共济绑定",
    "monitor": "运行监控规则",
    "reimbursement": "手工报销",
    "reimbursement.replayed": "手工报销（重复提交）",
    "settlements.searched": "查询结算",
    "settlement.viewed": "查看结算",
    "slip.printed": "打印结算单",
    "import": "导入",
    "export": "导出",
    "credential.issued": "签发机构凭证",
    "credential.revoked": "吊销机构凭证",
}
# the monitoring rules (supervision/monitoring.yaml)
MONITORING_RULES = {
    "inpatient_overlap": "住院期间门诊统筹支付",
    "shifted_inpatient": "住院前后检查费用转移至门诊",
    "split_visits": "分解就诊",
    "frequent_visits": "频繁就诊",
    "large_prescription": "超量开药",
    "account_cash_out": "个人账户套现",
    "prescription_circulation": "外配处方流转",
    "institution_indicators": "机构指标异常",
}
# the rule names of institution_indicators' alerts (`institution_<indicator>`)
INDICATOR_RULES = {
    "institution_cost_per_visit": "机构次均费用偏高",
    "institution_self_pay_ratio": "机构个人现金支付占比偏高",
    "institution_examination_share": "机构检查费用占比偏高",
    "institution_out_of_catalogue_share": "机构政策范围外费用占比偏高",
    "institution_cost_growth": "机构费用月增长过快",
}
# what a CSV import holds (`gongji import KIND`, the console's import page)
IMPORT_KINDS = {
    "members": "参保人",
    "institutions": "定点医药机构",
    "contributions": "缴费记录",
    "bindings": "家庭共济绑定",
    "filings": "异地就医备案",
    "stays": "住院期间",
    "arrears": "欠费期间",
}
# the things an export or a credential names in the audit log's target
AUDIT_TARGETS = {
    "statements": "机构结算单",
    "alerts": "监控预警",
    "fund": "基金收支",
    "bureau": "医保局",
}
ROLES = {"viewer": "查询员", "operator": "经办员", "admin": "管理员"}
PAYMENT_METHODS = {"fee_for_service": "按项目（总额预算）", "capitation": "按人头"}
OTHER = {
    "holder": "授权人",
    "user": "使用人",
    "account": "个人账户",
    "frozen": "封存",
    "active": "正常",
    "closed": "已终止",
    "hospital": "医疗机构",
    "internet": "互联网医院",
    "pharmacy": "定点零售药店",
    "prescriber": "开方机构",
    "bureau": "医保局",
    "other": "其他",
    # diseases a pack names (policy packs' `diseases`)
    "chronic_renal_failure": "慢性肾功能衰竭",
    "severe_mental_illness": "严重精神障碍",
    "hypertension": "高血压",
    "diabetes": "糖尿病",
}
# the amounts of a settlement (calculate.md, the answers' glossary names)
AMOUNTS = {
    "total": "医疗费总额",
    "in_scope": "政策范围内费用",
    "deductible": "起付线",
    "fund_pay": "统筹基金支付",
    "account_pay": "个人账户支付",
    "mutual_aid_pay": "共济账户支付",
    "cash_pay": "个人现金支付",
    "account_balance": "个人账户余额",
    "out_of_scope": "全自费",
    "above_standard": "超限价自费",
    "class_b_self_pay": "先行自付",
}
# form and document fields, for the error banners (an InputError's `field`)
FIELDS = {
    **AMOUNTS,
    "member_id": "个人编号",
    "member": "参保人",
    "valid_from": "生效日期",
    "valid_to": "终止日期",
    "header": "表头",
    "code": "编码",
    "self_pay_share": "先行自付比例",
    "payment_standard": "支付标准",
    "username": "用户名",
    "password": "密码",
    "name": "姓名",
    "role": "角色",
    "region": "统筹地区",
    "year": "年度",
    "month": "月份",
    "begin": "开始日期",
    "end": "结束日期",
    "time": "就诊时间",
    "institution": "机构编码",
    "level": "机构级别",
    "category": "待遇类别",
    "total": "医疗费总额",
    "in_scope": "政策范围内费用",
    "account_balance": "个人账户余额",
    "retired_from": "退休日期",
    "type": "人员类别",
    "invoice": "发票号",
    "txn": "流水号",
    "txn_id": "流水号",
    "holder": "授权人",
    "user": "使用人",
    "relationship": "关系",
    "from": "起始日期",
    "to": "终止日期",
    "on": "日期",
    "visits": "就诊",
    "visit": "就诊",
    "id": "编号",
    "csrf": "表单",
    "rule": "规则",
    "items": "明细",
    "binding": "家庭共济绑定",
    "(document)": "文件",
    "file": "文件",
    "kind": "数据类别",
    "rows": "导入记录数",
    "label": "名称",
    "paasid": "接入标识（paasid）",
    "config": "配置文件",
    "class": "甲乙类别",
    "invoice_id": "发票号",
    # the facts a monitoring alert's evidence names (supervision/monitoring.py)
    "visit_id": "就诊编号",
    "examination": "检查费用",
    "limit": "限额",
    "amount": "金额",
    "start": "开始",
    "day": "日期",
    "since": "自",
    "until": "至",
    "issued": "开具时间",
    "rxno": "处方号",
    "writer": "开方机构",
    "purchases": "购药次数",
    "pharmacies": "药店数",
    "reason": "原因",
    "before": "上月医疗费总额",
    "peer_median": "同级机构中位数",
    "detail": "内容",
    "done": "结果",
    "alerts": "预警条数",
}
# keys whose values are integer fen where the code writes them (alert evidence, audit details):
# shown as yuan with two decimals wherever a person reads them
MONEY_KEYS = frozenset(
    ("total", "in_scope", "fund_pay", "account_pay", "cash_pay", "amount", "limit", "examination",
     "cost_per_visit", "before")
)  # fmt: skip
# keys whose values are basis points (an institution's shares): shown as percentages
SHARE_KEYS = frozenset(("self_pay_ratio", "examination_share", "out_of_catalogue_share"))
# the names of a monitoring alert's evidence (supervision/monitoring.py: each rule's `_alerts`
# columns), where they differ from the form fields' (tests/test_labels.py reads the rules)
EVIDENCE = {
    "time": "就诊时间",
    "start": "入院日期",
    "end": "出院日期",
    "visits": "就诊次数",
    "kind": "机构类型",
    "level": "机构级别",
    "pharmacies": "药店",
    "issued": "处方开具日期",
    "cost_per_visit": "次均费用",
    "self_pay_ratio": "个人现金支付占比",
    "examination_share": "检查费用占比",
    "out_of_catalogue_share": "政策范围外费用占比",
}
# why a pharmacy's pooled sale was flagged (monitoring.prescription_circulation's reasons)
CIRCULATION_REASONS = {
    "no prescription": "无处方",
    "unknown prescription": "处方未上传（无此处方）",
    "prescriber not designated": "开方机构非定点医疗机构",
    "written for another member": "处方开给其他参保人",
    "expired or dated after the sale": "处方已过有效期或开具日期晚于购药",
    "used again": "处方重复使用",
}

TERMS: dict[str, str] = {
    **{
        str(k): v
        for table in (LEVELS, MEMBER_TYPES, CATEGORIES, CONDITIONS)
        for k, v in table.items()
    },
    **LINES,
    **{str(k): v for k, v in WINDOWS.items() if k != DeductibleWindow.none},
    **{str(k): v for k, v in RETIREMENT.items()},
    **{str(k): v for k, v in PURPOSES.items()},
    **{str(k): v for k, v in BENEFICIARIES.items()},
    **{str(k): v for k, v in CLOSE_REASONS.items()},
    **REGIONS,
    **ENTRY_KINDS,
    **AUDIT_ACTIONS,
    **ROLES,
    **MONITORING_RULES,
    **INDICATOR_RULES,
    **PAYMENT_METHODS,
    **OTHER,
    **AMOUNTS,
}


def label(key: object, lang: str = "zh") -> str:
    """The Chinese for a name the code uses (the name itself if the table has none); in
    English the name, with its underscores as spaces."""
    text = str(key)
    if lang == "en":
        return text.replace("_", " ")
    return TERMS.get(text) or FIELDS.get(text, text)


def lang_of(accept_language: str | None) -> str:
    """The language an HTTP Accept-Language header asks for first, of LANGS: "en" when it
    starts with English (`en`, `en-US,en;q=0.9`), else Chinese."""
    first = (accept_language or "").split(",")[0].strip().lower()
    return "en" if first == "en" or first.startswith("en-") or first.startswith("en;") else "zh"


_INDEXED = re.compile(r"^([a-z_()]+)\[(\d+)\]$")


def field(path: str, lang: str = "zh") -> str:
    """An InputError's field path as a reader names it: `visits[0].time` -> 第1次就诊·就诊时间,
    `member_id` -> 个人编号. A part the table lacks is kept as it is."""
    if lang == "en":
        return path
    parts = []
    for part in path.split("."):
        indexed = _INDEXED.match(part)
        if indexed:
            name, i = indexed.groups()
            parts.append(f"第{int(i) + 1}次{FIELDS.get(name, name)}" if name == "visits"
                         else f"{FIELDS.get(name, name)}第{int(i) + 1}项")  # fmt: skip
        else:
            parts.append(FIELDS.get(part, part))
    return "·".join(parts)


# The words of the policy rows (policy.present), longest first: a row's topic and value are
# composed from these, so translating the parts translates every row.
PHRASES = {
    "deductible window at the year's end": "年末起付线计算周期",
    "runs on into the new year": "延续至新年度",
    "closes": "年末结束",
    "deductible per visit": "每次就诊起付线",
    "deductible window": "起付线计算方式",
    "deductible, annual": "年度起付线",
    "annual cap's diseases": "年度限额所含病种",
    "annual cap": "年度最高支付限额",
    "monthly cap": "月度最高支付限额",
    "cap pool": "限额归集",
    "general outpatient, separate": "普通门诊单独计算",
    "general above its cap": "普通门诊超限额部分",
    "paid at the inpatient ratio": "按住院比例支付",
    "not pooled": "不予统筹支付",
    "not applied": "不适用",
    "required": "须满足",
    "condition": "条件",
    "inpatient deductible x": "住院起付线 ×",
    "inpatient deductible": "住院起付线",
    "inpatient annual cap": "住院年度限额",
    "inpatient ratio": "住院支付比例",
    "the institution's inpatient ratio": "该机构住院支付比例",
    "shared with the inpatient cap": "与住院共用限额",
    "per further disease up to": "每增加一种病种，最高",
    "per item per year": "每项每年",
    "per visit": "每次",
    "no deductible": "不设起付线",
    "exceptions": "单列病种",
    "exempt": "不受限制",
    "not limited by": "不受以下条件限制：",
    "above its cap": "超限额部分",
    "continues into general outpatient": "转入普通门诊统筹",
    "unrecognised disease": "未认定病种",
    "recognised disease": "已认定病种",
    "a disease the member is not recognised for: paid by": "未认定的病种，由以下待遇支付：",
    "a disease the member is recognised for: paid by": "已认定的病种，由以下待遇支付：",
    "not raised by": "以下病种不提高限额：",
    "no personal account": "不设个人账户",
    "retiree switch takes effect": "退休待遇生效",
    "personal account pays": "个人账户支付范围",
    "the in-scope share": "政策范围内个人负担部分",
    "the member's whole share": "个人负担的全部费用",
    "premium frozen, transferred": "代缴保费封存、划转",
    "by day": "于次月第",
    "of the next month": "日前",
    "paying institutions": "机构支付方式",
    "internet visit settles at": "互联网诊疗结算按",
    "its physical institution's level": "其实体机构级别",
    "prescription filled at a pharmacy": "药店外配处方",
    "the prescriber's level; deductible window: the": "按开方机构级别；起付线计算按",
    "pharmacy's": "药店",
    "prescriber's": "开方机构",
    "deductible": "起付线",
    "ratio": "支付比例",
    "levels": "级别",
    "annual": "年度",
    "retiree": "退休人员",
    "none": "无",
    "at": "于",
}
_PHRASE_KEYS = sorted({**PHRASES, **TERMS}, key=len, reverse=True)


@cache
def _phrases() -> re.Pattern:
    """Every part, as a word: compiled at the first phrase, not on import (its 180-odd
    alternatives take longer to compile than the rest of this module to load; only the
    policy tables, in the CLI and the console, compose phrases)."""
    return re.compile("|".join(rf"(?<![A-Za-z_]){re.escape(k)}(?![A-Za-z_])" for k in _PHRASE_KEYS))


def phrase(text: str, lang: str = "zh") -> str:
    """A composed English phrase (a policy row's topic or value) in Chinese: each known
    part replaced, numbers and rule IDs kept."""
    if lang == "en":
        return text
    return _phrases().sub(lambda m: PHRASES.get(m.group(0)) or TERMS[m.group(0)], text)


# English reasons (an InputError raised below the console, for programs and the CLI) as a
# person reads them in Chinese: the first pattern the reason matches, with what it names (an
# id, the amounts) kept (`\1`); a function where a part needs its own label. A reason none
# matches keeps its English after the code's Chinese, so no banner loses its reason.
REASONS = (
    # pydantic's words for a date that is well written but not in the calendar (2023-02-30)
    (r"day value is outside expected range", "日期不存在（该月没有这一天）"),
    (r"(?:hour|minute|second) value is outside expected range", "时间不存在"),
    (r"unknown member (\S+)", r"没有这个参保人（\1）"),
    (r"no settlement (\S+)", r"没有这笔结算（\1）"),
    (r"no freeze (\S+)", r"没有这笔封存（\1）"),
    (r"no active staff", "没有这名在岗工作人员"),
    (r"member (\S+) exists already", r"参保人 \1 已存在"),
    (r"institution (\S+) exists already", r"机构 \1 已存在"),
    (r"exists already", "已存在"),
    (r"institution (\S+) is not registered", r"机构 \1 未登记为定点医药机构"),
    (r"is not registered", "未登记"),
    (r"member (\S+) is already retired", r"参保人 \1 已退休"),
    (r"member (\S+) is (\w+)", lambda m: f"参保人 {m[1]} 的账户状态为{label(m[2])}"),
    (
        r"no (\w+) policy in force (?:on|in) ([\d-]+)",
        lambda m: f"{label(m[1])}在 {m[2]} 没有施行中的政策",
    ),
    (r"must not exceed total \((.+)\)", r"不能超过医疗费总额（\1）"),
    (r"more than the balance \((.+)\)", r"超过个人账户余额（\1）"),
    (r"is paid already \(transaction (\S+)\)", r"已结算过（流水号 \1）"),
    (r"was reversed before it arrived", "已在到达前撤销"),
    (r"(\S+) is not (\S+)'s", r"\1 不是参保人 \2 的结算"),
    (r"more cells than the header has columns", "本行的单元格多于表头的列数"),
    (r"empty: no header line", "空文件，缺少表头"),
    (r"unknown field", "不认识的字段"),
    (r"must be A, B or C, not (.+)", r"须为 A（甲类）、B（乙类）或 C（丙类），不能是 \1"),
    (r"unknown (?:beneficiary|purpose|reason) (\S+)", r"不认识的取值 \1"),
    (r"unknown value", "取值不在可选范围内"),
    (r"one of (.+)", r"须为以下之一：\1"),
    (r"not an amount: (.+)", r"不是有效的金额：\1"),
    (r"too large an amount", "金额过大"),
    (r"at most two decimals", "金额至多两位小数"),
    (r"must not be negative", "不能为负数"),
    (r"must be more than zero", "须大于零"),
    (r"must be an exact decimal", "金额须为精确的小数"),
    (r"letters, digits and _ only", "只能包含字母、数字和下划线，至多 40 个字符"),
    (r"ends before it starts \((.+)\)", r"终止日期早于起始日期（\1）"),
    (r"cannot be bound to themselves", "不能与本人绑定"),
    (r"(\S+) is not bound to (\S+)", r"\1 未与授权人 \2 绑定"),
    (r"is not bound to", "未与该授权人绑定"),
    (r"not a day between (\S+) and (\S+)", r"日期须在 \1 至 \2 之间"),
    (r"not a day from (\S+) on", r"日期不能早于 \1"),
    (r"is after today", "晚于今天"),
    (r"is not the birth date in certno", "与身份证号中的出生日期不符"),
    (r"is not the sex certno carries", "与身份证号中的性别不符"),
    (r"a pharmacy's level is pharmacy", "定点零售药店的级别须为 pharmacy"),
    (r"required for a negotiated_drug visit", "国家谈判药品就诊须填写"),
    (r"give total/in_scope or items, not both", "医疗费总额与明细只能填写其一"),
    (r"required \(or list the visit's items\)", "必填（或列出就诊明细）"),
    (r"give local time", "请填写本地时间（不带时区）"),
    (r"not valid JSON", "不是有效的 JSON"),
    (r"not valid YAML", "不是有效的 YAML"),
    (r"not UTF-8 text", "不是 UTF-8 编码的文本"),
    (r"valid date\b", "日期格式有误（YYYY-MM-DD）"),
    (r"valid datetime", "时间格式有误（2023-03-01T09:00:00）"),
    (r"^required$", "必填"),
    (r"^required \(or a --pack file", "必填（或给出 --pack 方案文件，读其统筹地区）"),
)


@cache
def _reading() -> tuple:
    """reason_zh's patterns: pydantic's unknown enum value, a Chinese character, the English
    after the Chinese, and REASONS. Compiled at the first error, not on import: they were
    most of this module's loading time, and a calculation that succeeds reads no reason."""
    return (
        re.compile(r"unknown value (.+?) \(expected (.+)\)"),
        re.compile(r"[\u3000-\u9fff\uff00-\uffef]"),
        re.compile(r"[\s,]+[a-z]"),
        tuple((re.compile(words), zh) for words, zh in REASONS),
    )


def reason_zh(reason: str, code: str = "E_INPUT") -> str:
    """An error's reason in Chinese: its own Chinese words where it has them ("至多 40 个字符
    at most 40 characters" -> "至多 40 个字符"), else the REASONS entry it matches, else the
    catalogue's message for its code with the reason as given (`请求内容有误（…）`)."""
    unknown_value, cjk, english_tail, reasons = _reading()
    unknown = unknown_value.search(reason)
    if unknown:  # pydantic's words for an enum: the choices in Chinese
        given, expected = unknown.groups()
        choices = "、".join(label(c) for c in re.findall(r"'([^']*)'", expected))
        return f"不认识的取值 {given}（可选：{choices}）"
    ends = [m.end() for m in cjk.finditer(reason)]
    if ends:
        tail = english_tail.search(reason, ends[-1])
        return reason[: tail.start() if tail else len(reason)].strip()
    for pattern, zh in reasons:
        found = pattern.search(reason)
        if found:
            return zh(found) if callable(zh) else found.expand(zh)
    generic = CATALOGUE.get(code, CATALOGUE["E_INPUT"])[1]
    return f"{generic}（{reason}）" if reason else generic


def error_line(text: str) -> str:
    """A one-line error as `field: reason` (an import's bad row) in Chinese."""
    path, sep, reason = text.partition(": ")
    return error_text(path, reason) if sep and " " not in path else reason_zh(text)


def version(version_id: str) -> str:
    """A policy version id as people name it: kaifeng@2023-01-01 -> 开封市 2023-01-01 起施行."""
    region, sep, since = version_id.partition("@")
    return f"{label(region)} {since} 起施行" if sep else label(version_id)


def txn(txn_id: str) -> str:
    """A journal entry's transaction id: one the ledger names by its kind ("opening:P001",
    "monthly:P001:2023-03") shows the kind in Chinese (期初余额：P001)."""
    kind, sep, rest = str(txn_id).partition(":")
    return f"{ENTRY_KINDS[kind]}：{rest}" if sep and kind in ENTRY_KINDS else str(txn_id)


def error_text(path: str, reason: str, code: str = "E_INPUT") -> str:
    """An error banner: the field as a person names it and the reason in Chinese, said once
    (`个人编号：没有这个参保人`, not `member_id: unknown member NOSUCH`)."""
    text = reason_zh(reason, code)
    return f"{field(path)}：{text}" if path else text


def facts(found: object) -> list[tuple[str, str]]:
    """An alert's evidence or an audit line's detail (a dict, or its JSON text) as (名称, 值)
    pairs a person reads: amounts in yuan with two decimals (the evidence keeps fen), shares
    as percentages (it keeps basis points), codes in Chinese. The console, the Excel download,
    `gongji monitor` and its CSV all show evidence through this."""
    if isinstance(found, str):
        try:
            found = json.loads(found)
        except ValueError:
            return [("", found)]
    if not isinstance(found, dict):
        return [("", "" if found is None else str(found))]
    # an indicator's peer median is in the indicator's unit: fen for cost per visit
    money = MONEY_KEYS | ({"peer_median"} if "cost_per_visit" in found else set())
    shares = SHARE_KEYS | ({"peer_median"} if SHARE_KEYS & found.keys() else set())
    return [(fact_name(k), _fact(v, k, money, shares)) for k, v in found.items()]


def facts_text(found: object, sep: str = "；") -> str:
    """`facts` as one line: 名称：值；名称：值."""
    return sep.join(f"{k}：{v}" if k else v for k, v in facts(found))


def fact_name(key: str) -> str:
    """The Chinese name of an evidence (or audit detail) key."""
    return EVIDENCE.get(key) or label(key)


def _fact(value: object, key: str, money=MONEY_KEYS, shares=SHARE_KEYS) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int) and key in money:
        return fmt_grouped(value)  # fen
    if isinstance(value, int) and key in shares:
        return f"{Decimal(value).scaleb(-2):.2f}%"  # basis points
    if isinstance(value, list):
        return "、".join(_fact(v, key, money, shares) for v in value)
    if isinstance(value, dict):
        return "，".join(f"{fact_name(k)} {_fact(v, k, money, shares)}" for k, v in value.items())
    if value is None:
        return "无"
    if isinstance(value, str):
        if key == "reason" and value in CIRCULATION_REASONS:
            return CIRCULATION_REASONS[value]
        return fmt_time(value) if _TIME.match(value) else label(value)
    return str(value)


_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def audit_target(action: str, target: str | None) -> str:
    """An audit line's target as people read it: what was imported (`members` -> 参保人),
    exported (`fund kaifeng 2023` -> 基金收支 开封市 2023, `alerts 5` -> 第5次监控预警) or
    issued to (`bureau` -> 医保局); ids and usernames as they are."""
    if not target:
        return ""
    if action == "import":
        return IMPORT_KINDS.get(target, target)
    if action == "monitor" and target.isdigit():
        return f"第{target}次监控"
    if action == "export":
        what, _, rest = target.partition(" ")
        if what == "alerts" and rest.isdigit():
            return f"第{rest}次监控预警"
        return " ".join([AUDIT_TARGETS.get(what, what), *(label(w) for w in rest.split())])
    if action == "credential.issued":
        return AUDIT_TARGETS.get(target, target)
    return target
