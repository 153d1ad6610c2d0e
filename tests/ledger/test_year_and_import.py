"""Year rollover (X-1) and CSV import (all or nothing, bad rows by line), on SQLite and
PostgreSQL."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from gongji.errors import InputError
from gongji.ledger import check, imports, members, views, year
from gongji.ledger.schema import institutions
from gongji.ledger.schema import members as member_rows
from gongji.ledger.settlement import cancel, settle

MEMBER = {"id": "P1", "type": "employee", "account_balance": "300.00"}


def visit(vid: str, time: str, total: str = "100.00") -> dict:
    return {"id": vid, "time": time, "institution": "H001", "total": total}


def test_rollover_keeps_the_year_and_starts_the_next(db):
    members.add_member(db, "kaifeng", MEMBER)
    # KF-9a/9d level 3: deductible 50, employee 50% -> 25 from the fund
    assert settle(db, "T1", "P1", visit("V1", "2023-12-30T09:00:00"))["fund_pay"] == "25.00"
    assert year.rollover(db, 2024) == {"year": 2024, "rolled": 1}
    assert year.rollover(db, 2024) == {"year": 2024, "rolled": 0}  # once
    shown = views.member_show(db, "P1")
    assert shown["year"] == 2024 and shown["accumulators"] == {}
    assert shown["earlier_years"] == [
        {
            "year": 2023,
            "pool": "general",
            "fund_paid": Decimal("25.00"),
            "deductible_met": Decimal("0.00"),
        }
    ]
    assert shown["account_balance"] == Decimal("225.00")  # carried over
    with pytest.raises(InputError) as err:
        cancel(db, "T1")
    assert err.value.code == "E_YEAR_CLOSED"
    got = settle(db, "T2", "P1", visit("V2", "2024-01-02T09:00:00"))
    assert (got["deductible"], got["fund_pay"]) == ("50.00", "25.00")
    assert check.problems(db) == []


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def count(db, table) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_import_is_all_or_nothing_with_every_bad_row_by_line(db, tmp_path):
    path = write(
        tmp_path,
        "members.csv",
        "region,id,type,account_balance,chronic_diseases\n"
        "kaifeng,A1,employee,100.00,\n"
        "kaifeng,A2,boss,0,\n"  # line 3: unknown type
        "kaifeng,A3,retiree,12.345,\n"  # line 4: three decimals
        "kaifeng,A1,retiree,0,\n"  # line 5: A1 again
        "xishuangbanna,A6,employee,0,M01;M02\n",
    )
    with pytest.raises(imports.ImportFailed) as failed:
        imports.import_csv(db, "members", path)
    assert [e.split(":")[0] for e in failed.value.errors] == [
        "line 3.type",
        "line 4.account_balance",
        "line 5.id",
    ]
    assert count(db, member_rows) == 0  # nothing half-imported

    fixed = write(
        tmp_path,
        "members.csv",
        "region,id,type,account_balance,chronic_diseases\n"
        "kaifeng,A1,employee,100.00,\n"
        "xishuangbanna,A6,employee,0,M01;M02\n",
    )
    assert imports.import_csv(db, "members", fixed) == 2
    assert views.member_show(db, "A6")["record"]["chronic_diseases"] == ["M01", "M02"]
    assert check.problems(db) == []


def test_import_institutions_stays_and_contributions(db, tmp_path):
    before = count(db, institutions)
    imports.import_csv(
        db,
        "institutions",
        write(
            tmp_path,
            "i.csv",
            "code,name,region,level,designated,kind,physical\n"
            "K3,开封市中心医院,kaifeng,level3,true,hospital,\n"
            "K9,某门诊部,kaifeng,level1,false,hospital,\n"
            "KI,开封互联网医院,kaifeng,level3,true,internet,K3\n",
        ),
    )
    assert count(db, institutions) == before + 3
    members.add_member(db, "kaifeng", MEMBER)
    imports.import_csv(
        db, "stays", write(tmp_path, "s.csv", "member,from,to\nP1,2023-03-05,2023-03-12\n")
    )
    imports.import_csv(
        db,
        "contributions",
        write(tmp_path, "c.csv", "member,month,base,paid_on\nP1,2023-03,5000.00,2023-03-10\n"),
    )
    # KF-10: nothing from the fund during the stay; KF-19: nothing at a non-designated one
    during = settle(
        db,
        "T1",
        "P1",
        {"id": "V1", "time": "2023-03-06T09:00:00", "institution": "K3", "total": "100"},
    )
    assert during["fund_pay"] == "0.00"
    elsewhere = settle(
        db,
        "T2",
        "P1",
        {"id": "V2", "time": "2023-03-20T09:00:00", "institution": "K9", "total": "100"},
    )
    assert elsewhere["fund_pay"] == "0.00"
    internet = settle(
        db,
        "T3",
        "P1",
        {"id": "V3", "time": "2023-03-21T09:00:00", "institution": "KI", "total": "100"},
    )
    assert internet["fund_pay"] == "25.00" and any(s["rule"] == "KF-23" for s in internet["trace"])
    assert check.problems(db) == []


def test_a_bad_row_in_a_period_file_names_its_line(db, tmp_path):
    members.add_member(db, "kaifeng", MEMBER)
    path = write(
        tmp_path,
        "f.csv",
        "member,from,to\nP1,2023-01-01,2023-06-30\nP2,2023-01-01,2023-02-01\nP1,2023-05-01,2023-04-01\n",
    )
    with pytest.raises(imports.ImportFailed) as failed:
        imports.import_csv(db, "filings", path)
    assert [e.split(":")[0] for e in failed.value.errors] == [
        "line 3.member",
        "line 4.remote_filing[1].to",
    ]
    assert "remote_filing" not in views.member_show(db, "P1")["record"]


def test_a_visit_that_contradicts_the_registry_is_refused(db):
    members.add_member(db, "kaifeng", MEMBER)
    with pytest.raises(InputError) as err:
        settle(db, "T1", "P1", {**visit("V1", "2023-03-01T09:00:00"), "level": "level1"})
    assert (err.value.field, err.value.code) == ("visit.level", "E_INSTITUTION_MISMATCH")
    with pytest.raises(InputError) as err:
        settle(db, "T1", "P1", {**visit("V1", "2023-03-01T09:00:00"), "institution": "NOWHERE"})
    assert (err.value.field, err.value.code) == ("visit.institution", "E_NOT_FOUND")
    # a remote visit names an institution of another region, with its level
    remote = settle(
        db,
        "T1",
        "P1",
        {
            **visit("V1", "2023-03-01T09:00:00"),
            "institution": "NOWHERE",
            "level": "level2",
            "remote": True,
        },
    )
    assert remote["fund_pay"] == "0.00"  # KF: no filing, no remote benefit
