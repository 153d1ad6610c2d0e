"""The one Chinese term table (gongji.labels): every value of the glossary's enums, every
region, journal entry kind and audit action has its Chinese, so a value added without one
fails here rather than showing as a code on a page."""

import re
from pathlib import Path

import pytest

from gongji import labels, policy
from gongji.engine import layout as L
from gongji.labels import error_text, field, label, lang_of, phrase
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
        "个人编号：没有这个参保人"
    )
    assert error_text("", "用户名或密码不正确 wrong username or password") == "用户名或密码不正确"
    assert error_text("x", "something new", "E_NOT_FOUND") == "x：未找到"  # the code's words


@pytest.mark.parametrize(
    ("header", "lang"),
    [(None, "zh"), ("", "zh"), ("en", "en"), ("en-US,en;q=0.9", "en"), ("zh-CN,en;q=0.8", "zh")],
)
def test_accept_language(header, lang):
    assert lang_of(header) == lang
