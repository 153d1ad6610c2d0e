"""The one Chinese term table (gongji.labels): every value of the glossary's enums, every
region, journal entry kind and audit action has its Chinese, so a value added without one
fails here rather than showing as a code on a page."""

import ast
import re
from pathlib import Path

import pytest

from gongji import labels, policy
from gongji.engine import layout as L
from gongji.labels import error_text, field, label, lang_of, phrase
from gongji.supervision import monitoring
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

SRC = Path(__file__).resolve().parents[1] / "src" / "gongji"
CJK = re.compile(r"[\u4e00-\u9fff]")

ENUMS = [
    Level,
    MemberType,
    MemberClass,
    Category,
    Condition,
    RetirementTiming,
    AccountPurpose,
    Beneficiary,
    CloseReason,
]


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_every_enum_value_has_a_chinese_label(enum):
    missing = [v.value for v in enum if not CJK.search(label(v))]
    assert not missing, f"{enum.__name__}: no Chinese for {missing}"


def test_deductible_windows_and_lines_and_regions_have_chinese():
    assert all(CJK.search(labels.WINDOWS[w]) for w in DeductibleWindow)
    assert all(CJK.search(label(line)) for line in L.LINE_NAMES)
    assert [label(r) for r in policy.known_regions()] == [
        labels.REGIONS[r] for r in policy.known_regions()
    ]
    assert label("kaifeng") == "开封市" and label("xishuangbanna") == "西双版纳州"


def posted_kinds() -> set[str]:
    """The journal entry kinds the source posts (`post(conn, "kind", ...)` and the driver's
    'settle'), read from the code so a new kind is seen."""
    found = set()
    for path in (SRC / "ledger").glob("*.py"):
        text = path.read_text("utf-8")
        found |= set(re.findall(r'post\(\s*conn,\s*"([a-z_]+)"', text))
        found |= set(re.findall(r'_credit\([^)]*?"([a-z_]+)"', text))
        found |= set(re.findall(r'_end_freeze\([^)]*?"([a-z_]+)"', text))
        found |= set(re.findall(r'balanced\("([a-z_]+)"', text))
    return found


def test_every_journal_entry_kind_posted_has_a_label():
    kinds = posted_kinds()
    assert {"opening", "settle", "cancel", "premium", "contribution"} <= kinds
    assert kinds <= labels.ENTRY_KINDS.keys(), kinds - labels.ENTRY_KINDS.keys()


def test_every_audit_action_recorded_has_a_label():
    actions = set()
    for path in (SRC / "console").glob("*.py"):
        actions |= set(re.findall(r'record\(\s*conn,[^,]+,\s*"([a-z_.]+)"', path.read_text()))
    assert {"staff.add", "login", "member.viewed"} <= actions
    assert actions <= labels.AUDIT_ACTIONS.keys(), actions - labels.AUDIT_ACTIONS.keys()


def test_english_is_the_name_itself():
    assert label("same_institution_day", "en") == "same institution day"
    assert label("level3") == "三级" and label("staff.add") == "新增工作人员"
    assert label("no such key") == "no such key"  # unknown: shown as it is


def test_policy_phrases():
    assert phrase("not pooled") == "不予统筹支付"
    assert phrase("ratio retiree, level3") == "支付比例 退休人员, 三级"
    assert phrase("deductible per visit, primary") == "每次就诊起付线, 基层医疗机构"
    assert phrase("deductible window") == "起付线计算方式"
    assert phrase("not pooled", "en") == "not pooled"


def test_fields_and_error_banners():
    assert field("member_id") == "个人编号"
    assert field("visits[2].in_scope") == "第3次就诊·政策范围内费用"
    assert error_text("member_id", "unknown member NOSUCH", "E_NOT_FOUND") == (
        "个人编号：没有这个参保人（NOSUCH）"
    )
    assert error_text("", "用户名或密码不正确 wrong username or password") == "用户名或密码不正确"
    # a reason without Chinese wording: the code's words, and the reason itself kept
    assert error_text("x", "something new", "E_NOT_FOUND") == "x：未找到（something new）"
    assert error_text("visits[0].in_scope", "beyond the moon (3 > 2)") == (
        "第1次就诊·政策范围内费用：请求内容有误（beyond the moon (3 > 2)）"
    )


@pytest.mark.parametrize(
    ("header", "lang"),
    [(None, "zh"), ("", "zh"), ("en", "en"), ("en-US,en;q=0.9", "en"), ("zh-CN,en;q=0.8", "zh")],
)
def test_accept_language(header, lang):
    assert lang_of(header) == lang


@pytest.mark.parametrize(
    ("path", "reason", "shown"),
    [
        (
            "visits[0].in_scope",
            "must not exceed total (300.00 > 250.00)",
            "第1次就诊·政策范围内费用：不能超过医疗费总额（300.00 > 250.00）",
        ),
        ("txn_id", "no settlement NOPE", "流水号：没有这笔结算（NOPE）"),
        (
            "binding.user",
            "a member cannot be bound to themselves",
            "家庭共济绑定·使用人：不能与本人绑定",
        ),
        (
            "visit.institution",
            "institution H9 is not registered",
            "就诊·机构编码：机构 H9 未登记为定点医药机构",
        ),
        (
            "class",
            "must be A, B or C, not 'D'",
            "甲乙类别：须为 A（甲类）、B（乙类）或 C（丙类），不能是 'D'",
        ),
        ("total", "not an amount: 'abc'", "医疗费总额：不是有效的金额：'abc'"),
        ("line 3", "more cells than the header has columns", "line 3：本行的单元格多于表头的列数"),
        ("member_id", "member P1 is closed", "个人编号：参保人 P1 的账户状态为已终止"),
        (
            "on",
            "no kaifeng policy in force on 2019-01-01",
            "日期：开封市在 2019-01-01 没有施行中的政策",
        ),
        # 2023-02-30 is well written: the day does not exist, the format is right
        (
            "visits[0].time",
            "input should be a valid datetime or date, day value is outside expected range",
            "第1次就诊·就诊时间：日期不存在（该月没有这一天）",
        ),
        (
            "on",
            "input should be a valid date or datetime, input is too short",
            "日期：日期格式有误（YYYY-MM-DD）",
        ),
        (
            "type",
            "unknown value 'employe' (expected 'employee' or 'retiree')",
            "人员类别：不认识的取值 'employe'（可选：在职职工、退休人员）",
        ),
        ("file", "2 行有误，未导入任何记录 nothing was imported", "文件：2 行有误，未导入任何记录"),
    ],
)
def test_reasons_raised_in_the_code_read_in_chinese(path, reason, shown):
    assert error_text(path, reason) == shown


# -- monitoring evidence ------------------------------------------------------------------------
def _alert_columns(tree: ast.AST) -> tuple[set[str], set[str]]:
    """The evidence keys each rule's `_alerts(frame, subject, amount, [...])` call writes, and
    the names it reads from a variable (an indicator's `name`)."""
    keys, variables = set(), set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_alerts"):
            continue
        columns = node.args[3]
        assert isinstance(columns, ast.List), ast.unparse(columns)
        for column in columns.elts:
            if isinstance(column, ast.Constant):
                keys.add(column.value)
            elif isinstance(column, ast.Name):
                variables.add(column.id)
            elif isinstance(column, ast.Call) and column.func.attr == "alias":
                keys.add(column.args[0].value)
            elif isinstance(column, ast.Call) and column.func.attr == "strftime":
                keys.add(column.func.value.value.args[0].value)  # pl.col("month").dt.strftime
            else:  # a new way of naming a column: teach this test to read it
                raise AssertionError(f"cannot read the evidence key of {ast.unparse(column)}")
    return keys, variables


def evidence_keys() -> set[str]:
    """Every key a monitoring rule can write into an alert's evidence, read from the code."""
    keys, variables = _alert_columns(ast.parse((SRC / "supervision/monitoring.py").read_text()))
    assert variables == {"name"}  # institution_indicators: one alert kind per indicator
    return keys | set(monitoring.INDICATORS)


def test_every_evidence_key_a_monitoring_rule_writes_has_a_chinese_name():
    keys = evidence_keys()
    assert {"member_id", "kind", "writer", "peer_median", "before", "cost_per_visit"} <= keys
    missing = sorted(k for k in keys if not CJK.search(labels.fact_name(k)))
    assert not missing, f"evidence keys without a Chinese name: {missing}"
    assert labels.fact_name("writer") == "开方机构"  # the prescribing institution's code


def test_every_prescription_reason_and_rule_name_has_chinese():
    source = (SRC / "supervision/monitoring.py").read_text()
    body = source.split("def prescription_circulation")[1].split("\ndef ")[0]
    reasons = set(re.findall(r'pl\.lit\("([a-z ]+)"\)', body))
    assert "used again" in reasons and len(reasons) == 6
    assert reasons <= labels.CIRCULATION_REASONS.keys(), reasons - labels.CIRCULATION_REASONS.keys()
    rules = set(monitoring.RULES) | {f"institution_{n}" for n in monitoring.INDICATORS}
    rules |= set(re.findall(r'pl\.lit\("(institution_[a-z_]+)"\)', source))
    assert "institution_cost_growth" in rules
    assert not [r for r in rules if not CJK.search(label(r))]


def test_evidence_reads_in_yuan_percent_and_chinese():
    split = '{"member_id":"P1","institution":"H1","day":"2023-03-01","visits":3,"total":24000,' \
        '"visit_id":["V0","V1","V2"]}'  # fmt: skip
    assert labels.facts_text(split) == (
        "个人编号：P1；机构编码：H1；日期：2023-03-01；就诊次数：3；医疗费总额：240.00；"
        "就诊编号：V0、V1、V2"
    )
    sale = {"kind": "pharmacy", "reason": "used again", "writer": "H1",
            "time": "2023-05-10 09:00:00", "fund_pay": 1_580_000}  # fmt: skip
    assert labels.facts_text(sale) == (
        "机构类型：定点零售药店；原因：处方重复使用；开方机构：H1；就诊时间：2023-05-10 09:00:00；"
        "统筹基金支付：15,800.00"
    )
    # an indicator's peer median is in the indicator's unit: fen, or basis points
    cost = {"level": "level2", "visits": 200, "cost_per_visit": 12345, "peer_median": 6000}
    assert labels.facts(cost)[2:] == [("次均费用", "123.45"), ("同级机构中位数", "60.00")]
    share = {"examination_share": 2050, "peer_median": 1000}
    assert labels.facts(share) == [("检查费用占比", "20.50%"), ("同级机构中位数", "10.00%")]
    growth = {"institution": "H1", "month": "2023-04", "total": 5_000_000, "before": 2_000_000}
    assert labels.facts_text(growth) == (
        "机构编码：H1；月份：2023-04；医疗费总额：50,000.00；上月医疗费总额：20,000.00"
    )
    assert labels.facts_text("not json") == "not json"


def test_audit_targets_read_in_chinese():
    assert labels.audit_target("export", "fund kaifeng 2023") == "基金收支 开封市 2023"
    assert labels.audit_target("export", "statements 2023-03") == "机构结算单 2023-03"
    assert labels.audit_target("export", "alerts 5") == "第5次监控预警"
    assert labels.audit_target("import", "members") == "参保人"
    assert labels.audit_target("credential.issued", "bureau") == "医保局"
    assert labels.audit_target("monitor", "3") == "第3次监控"
    assert labels.audit_target("staff.add", "admin") == "admin"  # a username stays itself
    assert labels.facts_text({"rows": 1, "file": "fund-kaifeng-2023.xlsx"}) == (
        "导入记录数：1；文件：fund-kaifeng-2023.xlsx"
    )
