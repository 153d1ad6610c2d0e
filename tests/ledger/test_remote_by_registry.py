"""Issue 16, defect 7: care at an institution the registry places in another region is
remote care whatever the request says (before, it was settled as local): KF-22 then applies
(no filing, nothing from the fund), and the trace says why."""

import yaml

from gongji.ledger import check, registry
from gongji.ledger.answer import Step
from gongji.ledger.members import add_member
from gongji.ledger.settlement import explain_answer, settle
from gongji.policy.loader import PACKS_DIR, PACKS_ENV


def visit(vid: str, **extra) -> dict:
    return {"id": vid, "time": "2023-03-01T10:00:00", "institution": "NY1", "total": "100.00",
            **extra}  # fmt: skip


def test_care_at_another_regions_institution_is_remote(db):
    with db.begin() as conn:
        registry.add_institution(
            conn, {"code": "NY1", "name": "南阳医院", "region": "nanyang", "level": "level2"}
        )
    add_member(db, "kaifeng", {"id": "R1", "type": "employee"})
    add_member(
        db,
        "kaifeng",
        {"id": "R2", "type": "employee",
         "remote_filing": {"from": "2023-01-01", "to": "2023-12-31"}},
    )  # fmt: skip
    # no filing: KF-22 pays nothing, though the request said nothing of remote care
    unfiled = settle(db, "T1", "R1", visit("V1"))
    assert (unfiled["fund_pay"], unfiled["cash_pay"]) == ("0.00", "100.00")
    assert unfiled["remote_region"] == "nanyang"
    assert unfiled.trace[0].rule == "KF-22"
    assert explain_answer(unfiled)[0] == {
        "rule": "KF-22",
        "text": "异地就医：机构 NY1 登记在南阳市，不在开封市",
        "amount": "0.00",
    }
    assert explain_answer(unfiled, "en")[0] == {
        "rule": "KF-22",
        "text": "remote care: institution NY1 is registered in nanyang, not in kaifeng",
        "amount": "0.00",
    }
    # the request saying "local" changes nothing
    said_local = settle(db, "T2", "R1", visit("V2", remote=False))
    assert said_local["fund_pay"] == "0.00" and said_local["remote_region"] == "nanyang"
    # a filed member: level 2, deductible 40; 55% x 60 = 33
    filed = settle(db, "T3", "R2", visit("V3"))
    assert (filed["deductible"], filed["fund_pay"]) == ("40.00", "33.00")
    assert filed.trace[0] == Step("KF-22", 0)  # the registry made it remote: KF-22 cited
    assert check.problems(db) == []


def test_care_at_an_own_regions_institution_is_not_marked(db):
    with db.begin() as conn:
        registry.add_institution(
            conn, {"code": "NY1", "name": "南阳医院", "region": "nanyang", "level": "level2"}
        )
    add_member(db, "kaifeng", {"id": "R3", "type": "employee"})
    answer = settle(db, "T1", "R3", {**visit("V1"), "institution": "H2"})
    assert "remote_region" not in answer and answer["fund_pay"] == "33.00"


def test_a_pack_without_a_remote_rule_cites_none(db, tmp_path, monkeypatch):
    """A bureau's pack (GONGJI_PACKS) whose general outpatient names no remote condition:
    care the registry places in another region is still marked remote, and its trace starts
    with the engine's own steps (no rule to cite for it)."""
    pack = yaml.safe_load((PACKS_DIR / "kaifeng.yaml").read_text(encoding="utf-8"))
    for version in pack["versions"]:
        general = version.get("general") or {}
        general["eligibility"] = [
            e for e in general.get("eligibility", []) if not e["condition"].startswith("remote")
        ]
    (tmp_path / "kaifeng.yaml").write_text(yaml.safe_dump(pack, allow_unicode=True))
    monkeypatch.setenv(PACKS_ENV, str(tmp_path))
    with db.begin() as conn:
        registry.add_institution(
            conn, {"code": "NY1", "name": "南阳医院", "region": "nanyang", "level": "level2"}
        )
    add_member(db, "kaifeng", {"id": "R3", "type": "employee"})
    got = settle(db, "T1", "R3", visit("V1"))
    assert got["remote_region"] == "nanyang"
    assert "KF-22" not in [s.rule for s in got.trace]
    assert all(s.rule for s in got.trace)  # every step cites a rule: none made up for it
