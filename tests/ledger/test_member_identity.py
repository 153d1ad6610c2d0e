"""Members' identities (name, document, card, sex, birth date, ethnicity) from the members
CSV and `add_member`, on SQLite and PostgreSQL: checked before anything is written (a
resident ID number's GB 11643 check digit, the birth date and sex it carries), kept in the
member's own columns, shown with the member."""

from datetime import date

import pytest
from sqlalchemy import func, select

from gongji.errors import InputError
from gongji.ledger import imports, members, views
from gongji.ledger.schema import members as member_rows
from gongji.model import resident_id

HEADER = "region,id,type,account_balance,certno,psn_cert_type,name,gender,birth_date,nationality,card_no\n"  # noqa: E501


def write(tmp_path, text: str):
    path = tmp_path / "members.csv"
    path.write_text(HEADER + text, encoding="utf-8")
    return path


def count(db) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(member_rows)).scalar()


def test_the_standards_example_and_made_up_numbers():
    # GB 11643-1999's own example: born 1949-12-31, a woman (sequence 002), check character X
    assert resident_id("11010519491231002X") == (date(1949, 12, 31), "2")
    assert resident_id("410202198801150014") == (date(1988, 1, 15), "1")
    for bad, reason in (
        ("110105194912310021", "check digit"),
        ("11010519491231002", "18 characters"),
        ("1101051949123100２X", "digits"),  # a full-width digit
        ("110105194913310021", "not a birth date"),  # month 13, its check digit right
    ):
        with pytest.raises(ValueError, match=reason):
            resident_id(bad)


def test_the_members_csv_carries_identities(db, tmp_path):
    path = write(
        tmp_path,
        "kaifeng,A1,employee,100.00,410202198801150014,01,张三,1,1988-01-15,01,CARD-1\n"
        "kaifeng,A2,retiree,0,53280119850912034x,,李四,,,18,\n"  # type, sex and birth: derived
        "kaifeng,A3,employee,0,,,,,,,\n",  # none: a member as before
    )
    assert imports.import_csv(db, "members", path) == 3
    assert views.member_show(db, "A1")["identity"] == {
        "psn_cert_type": "01",
        "certno": "410202198801150014",
        "card_no": "CARD-1",
        "name": "张三",
        "gender": "1",
        "birth_date": "1988-01-15",
        "nationality": "01",
    }
    a2 = views.member_show(db, "A2")["identity"]
    assert (a2["psn_cert_type"], a2["certno"], a2["gender"], a2["birth_date"]) == (
        "01",
        "53280119850912034X",  # the check character stored upper case
        "2",
        "1985-09-12",
    )
    assert set(views.member_show(db, "A3")["identity"].values()) == {None}
    assert "certno" not in views.member_show(db, "A1")["record"]
    assert views.members_with(db, "certno", "53280119850912034X") == ["A2"]
    assert views.members_with(db, "card_no", "CARD-1") == ["A1"]


def test_bad_identities_are_named_by_line_and_field_and_nothing_is_kept(db, tmp_path):
    path = write(
        tmp_path,
        "kaifeng,B1,employee,0,410202198801150015,01,张三,1,,01,\n"  # line 2: check digit
        "kaifeng,B2,employee,0,410202198801150014,01,张三,,1988-01-16,01,\n"  # 3: birth date
        "kaifeng,B3,employee,0,410202198801150014,01,张三,2,,01,\n"  # 4: sex
        "kaifeng,B4,employee,0,,,王五,1,1990-03-08,1,\n"  # 5: ethnicity code
        "kaifeng,B5,employee,0,,01,王五,,,,\n"  # 6: a type without a number
        "kaifeng,B6,employee,0,E1234,,王五,,,,\n"  # 7: not an ID number, no type given
        "kaifeng,B7,employee,0,E1234,08,王五,,31/12/1990,,\n"  # 8: not a date
        "kaifeng,B8,employee,0,410202198801150014,01,张三,1,,01,\n",  # fine alone
    )
    with pytest.raises(imports.ImportFailed) as failed:
        imports.import_csv(db, "members", path)
    assert [e.split(":")[0] for e in failed.value.errors] == [
        "line 2.certno",
        "line 3.birth_date",
        "line 4.gender",
        "line 5.nationality",
        "line 6.psn_cert_type",
        "line 7.certno",
        "line 8.birth_date",
    ]
    assert count(db) == 0


def test_add_member_checks_the_identity_before_writing(db):
    member = {"id": "C1", "type": "employee", "certno": "410202198801150015"}
    with pytest.raises(InputError) as err:
        members.add_member(db, "kaifeng", member)
    assert err.value.field == "member.certno" and "check digit" in err.value.reason
    assert count(db) == 0
    # a record's own mistake is still named first, as before identities
    with pytest.raises(InputError) as err:
        members.add_member(db, "kaifeng", {**member, "type": "boss"})
    assert err.value.field == "member.type"
