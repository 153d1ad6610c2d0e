"""M-2: the rule and article a region pays its institutions under, and the methods they
allow, are the region's policy pack's (`payment_methods`); the payment config takes them
from there."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gongji import policy
from gongji.errors import InputError, PolicyError
from gongji.policy.loader import PACKS_DIR, PACKS_ENV
from gongji.supervision import payment
from gongji.supervision.payment import payment_config

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CITED = {
    "jiamusi": ("JMS-19", "第十九条"),
    "kaifeng": ("KF-24", "第二十四条"),
    "panzhihua": ("PZH-17", "第十七条"),
    "nanyang": ("NY-17", "第十七条"),
    "xishuangbanna": ("XSBN-30", "第三十条"),
}


@pytest.mark.parametrize("region", sorted(CITED))
def test_each_pack_cites_its_article_on_paying_institutions(region):
    for version in policy.load_region(region).versions:
        cited = version.payment_methods
        assert (cited.rule_for(), cited.article) == CITED[region]
        assert cited.article + "".join(cited.text.split()) in _rulebook(region)
        assert cited.allowed == ["fee_for_service", "capitation"]
    assert payment.articles()[region] == CITED[region]


def _rulebook(region: str) -> str:
    path = SHARED / "seeds" / policy.load_region(region).source
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI runs with shared/ beside the checkout")
        pytest.skip("shared/ is not beside this checkout")
    return "".join(path.read_text(encoding="utf-8").split())


def test_an_entry_takes_the_citation_from_the_pack():
    config = payment_config({"methods": [{"region": "nanyang", "method": "capitation",
                                          "per_member_month": "12.00"}]})  # fmt: skip
    method = config.methods[0]
    assert (method.rule, method.article) == ("NY-17", "第十七条")
    terms = payment.terms(method, 0, 0, 10)
    assert (terms["rule"], terms["article"], terms["fund_payable"]) == ("NY-17", "第十七条", 12000)


@pytest.mark.parametrize(
    ("entry", "field", "reason"),
    [
        (
            {"article": "第十七条"},
            "methods[0].article",
            "kaifeng's article on payment is 第二十四条",
        ),
        ({"region": "atlantis"}, "methods[0].rule", "required"),
        ({"region": "atlantis", "rule": "KF-24"}, "methods[0].rule", "no region"),
    ],
)
def test_an_entry_citing_another_article_is_refused(entry, field, reason):
    with pytest.raises(InputError) as err:
        payment_config({"methods": [{"region": "kaifeng", "method": "fee_for_service", **entry}]})
    assert (err.value.field, err.value.reason) == (f"payment.{field}", reason)


def _own_pack(tmp_path, monkeypatch, mutate) -> None:
    doc = yaml.safe_load((PACKS_DIR / "kaifeng.yaml").read_text(encoding="utf-8"))
    mutate(doc["versions"][0])
    (tmp_path / "kaifeng.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    monkeypatch.setenv(PACKS_ENV, str(tmp_path))


def test_a_method_the_pack_does_not_allow_is_refused(tmp_path, monkeypatch):
    _own_pack(tmp_path, monkeypatch, lambda v: v["payment_methods"].update(
        {"allowed": ["fee_for_service"]}))  # fmt: skip
    entry = {"region": "kaifeng", "method": "capitation", "per_member_month": "15.00"}
    with pytest.raises(InputError) as err:
        payment_config({"methods": [entry]})
    assert err.value.field == "payment.methods[0].method"
    assert err.value.reason == "kaifeng's KF-24 第二十四条 does not allow capitation"
    assert payment_config({"methods": [{**entry, "method": "fee_for_service",
                                        "per_member_month": None}]})  # fmt: skip


def test_a_pack_without_the_article_leaves_the_citation_to_the_entry(tmp_path, monkeypatch):
    _own_pack(tmp_path, monkeypatch, lambda v: v.pop("payment_methods"))
    assert "kaifeng" not in payment.articles()
    with pytest.raises(InputError) as err:
        payment_config({"methods": [{"region": "kaifeng", "method": "fee_for_service"}]})
    assert (err.value.field, err.value.reason) == ("payment.methods[0].rule", "required")
    with pytest.raises(InputError) as err:
        payment_config({"methods": [{"region": "kaifeng", "method": "fee_for_service",
                                     "rule": "KF-24", "article": "第二十四条"}]})  # fmt: skip
    assert err.value.reason == "kaifeng's pack cites no rule on payment"


@pytest.mark.parametrize(
    ("allowed", "key", "reason"),
    [
        (["fee_for_service", "fee_for_service"], "allowed", "listed twice"),
        (["by_points"], "allowed[0]", "unknown value 'by_points'"),
        ([], "allowed", "at least 1 item"),
    ],
)
def test_a_bad_payment_methods_node_is_named(tmp_path, monkeypatch, allowed, key, reason):
    _own_pack(tmp_path, monkeypatch, lambda v: v["payment_methods"].update({"allowed": allowed}))
    with pytest.raises(PolicyError) as err:
        policy.load_file(tmp_path / "kaifeng.yaml")
    assert err.value.key == f"versions[0].payment_methods.{key}"
    assert reason in err.value.reason


def test_policy_show_lists_the_payment_methods_with_rule_and_article():
    show = subprocess.run(
        [sys.executable, "-m", "gongji", "policy", "show", "xishuangbanna"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert show.returncode == 0
    row = next(line for line in show.stdout.splitlines() if "机构支付方式" in line)
    assert "按项目（总额预算）, 按人头" in row and "XSBN-30" in row and "第三十条" in row
