"""1101 人员信息获取 over real HTTP, on SQLite and PostgreSQL: the member found by the
credential presented — an ID number (02), a social security card (03), an electronic
voucher through a configured resolver (01), gongji's psn_no — and answered in §5.3's shapes;
members registered with their identity over REST (POST /v1/members).

The requests are shaped as OH `Models/Input/Input_1101.cs` fills them (OH-App
`CardecInfo_1101`: `certno` and `psn_name` sent empty, `begntime` the current time) and as
MD `JBXX/RY1101.cs` declares them (`card_sn` with type 03)."""

import logging
from datetime import date, datetime

import pytest

from gongji.ledger import members, views
from gongji.ledger.settlement import LOCAL_TIME
from gongji.service.member_info import age_on, load_resolver
from gongji.service.settings import Settings
from gongji.web import create_app

from .conftest import snapshot, start
from .test_national import call, ok

CERTNO = "410202198801150014"  # made up, valid form: born 1988-01-15, a man (odd 17th digit)
ZHANG = {
    "id": "M1",
    "type": "employee",
    "account_balance": "300.00",
    "certno": CERTNO,
    "psn_cert_type": "01",
    "name": "张三",
    "nationality": "01",
    "card_no": "DEMOCARD0001",
}
LI_CERTNO = "53280119850912034X"  # born 1985-09-12, a woman; the check character is X
TOKENS = {"EC-ZHANG": CERTNO, "EC-P001": "P001"}  # the voucher issuer's, for `voucher`


def voucher(token: str) -> str | None:
    """The resolver the tests configure (GONGJI_VOUCHER_RESOLVER): a token to a certno or a
    member id; one token breaks, as a voucher service that is down would."""
    if token == "EC-BROKEN":
        raise ConnectionError(f"voucher service down for {token}")
    return TOKENS.get(token)


def by(kind: str, number: str, **more) -> dict:
    """1101's input as OH sends it (Input_1101.cs)."""
    data = {"mdtrt_cert_type": kind, "mdtrt_cert_no": number, "card_sn": "",
            "begntime": "2023-03-01 10:00:00", "psn_cert_type": "01", "certno": "",
            "psn_name": ""}  # fmt: skip
    return {"data": {**data, **more}}


def refused(answer: dict, code: str) -> str:
    assert answer["infcode"] == -1 and answer["output"] is None, answer
    assert answer["err_code"] == code, answer["err_msg"]
    return answer["err_msg"]


@pytest.fixture
def zhang(service):
    members.add_member(service.db, "kaifeng", ZHANG)
    return service


@pytest.fixture
def vouchers(db):
    """The service with `voucher` configured as the electronic vouchers' resolver."""
    svc, server, thread = start(db, voucher_resolver=f"{__name__}:voucher")
    members.add_member(svc.db, "kaifeng", ZHANG)
    yield svc
    server.should_exit = True
    thread.join(timeout=10)


def test_an_id_number_finds_the_member_and_1101_answers_in_the_platforms_shapes(zhang):
    with zhang.client(zhang.hospital) as c:
        out = ok(call(c, "1101", by("02", CERTNO)))
    assert out == {
        "baseinfo": {
            "psn_no": "M1",
            "psn_cert_type": "01",
            "certno": CERTNO,
            "psn_name": "张三",
            "gend": "1",  # from the ID number's 17th digit (odd): not given, not guessed
            "naty": "01",
            "brdy": "1988-01-15",  # from the ID number
            "age": 35.1,  # on begntime 2023-03-01: see test_age_on_the_visit_day
            "exp_content": None,
        },
        "insuinfo": [
            {
                "balc": 300.0,
                "insutype": "310",
                "psn_type": "1101",
                "psn_insu_stas": "1",
                "cvlserv_flag": "0",
                "insuplc_admdvs": "410200",
                "emp_name": None,
            }
        ],
        "idetinfo": [],
    }


def test_a_social_security_card_finds_the_member(zhang):
    with zhang.client(zhang.hospital) as c:
        out = ok(call(c, "1101", by("03", "DEMOCARD0001", card_sn="A1B2C3")))
        assert out["baseinfo"]["psn_no"] == "M1"
        # a card number is not looked up as an ID number, nor the other way round
        refused(call(c, "1101", by("03", CERTNO)), "E_NOT_FOUND")
        refused(call(c, "1101", by("02", "DEMOCARD0001")), "E_NOT_FOUND")


def test_psn_no_still_finds_the_member_and_a_member_without_identity_answers_nulls(zhang):
    with zhang.client(zhang.hospital) as c:
        assert ok(call(c, "1101", {"data": {"psn_no": "M1"}}))["baseinfo"]["certno"] == CERTNO
        out = ok(call(c, "1101", {"data": {"psn_no": "P001"}}))
    # P001 was registered without an identity: strings null; the birth date and the age,
    # which typed clients cannot read as null (OH Output_1101.age is a decimal), left out
    assert out["baseinfo"] == {
        "psn_no": "P001",
        "psn_cert_type": None,
        "certno": None,
        "psn_name": None,
        "gend": None,
        "naty": None,
        "exp_content": None,
    }
    assert out["insuinfo"][0]["balc"] == 300.0 and out["idetinfo"] == []


def test_an_id_number_that_is_a_member_id_is_the_fallback_a_certno_wins(zhang):
    members.add_member(zhang.db, "kaifeng", {"id": CERTNO, "type": "retiree"})
    with zhang.client(zhang.hospital) as c:
        # the old reading (mdtrt_cert_no = gongji's member id), when no certno matches
        assert ok(call(c, "1101", by("02", "P002")))["baseinfo"]["psn_no"] == "P002"
        # CERTNO is both M1's certno and another member's id: the certno wins
        assert ok(call(c, "1101", by("02", CERTNO)))["baseinfo"]["psn_no"] == "M1"


def test_an_unknown_number_is_not_found_and_not_repeated(zhang):
    unknown = "11010519491231002X"
    with zhang.client(zhang.hospital) as c:
        message = refused(call(c, "1101", by("02", unknown)), "E_NOT_FOUND")
        assert "input.data.mdtrt_cert_no" in message and unknown not in message
        refused(call(c, "1101", {"data": {"psn_no": "NOBODY"}}), "E_NOT_FOUND")
        bad_type = refused(call(c, "1101", by("04", CERTNO)), "E_CERT_TYPE")
        assert "02 (resident ID card)" in bad_type
        missing = refused(call(c, "1101", {"data": {"mdtrt_cert_no": CERTNO}}), "E_INPUT")
        assert "input.data.mdtrt_cert_type: required" in missing


def test_two_members_with_one_certno_is_an_error_not_a_guess(zhang):
    members.add_member(zhang.db, "kaifeng", {**ZHANG, "id": "M2", "card_no": "DEMOCARD0001"})
    with zhang.client(zhang.hospital) as c:
        message = refused(call(c, "1101", by("02", CERTNO)), "E_AMBIGUOUS")
        assert "2 members (M1, M2)" in message and "psn_no" in message
        refused(call(c, "1101", by("03", "DEMOCARD0001")), "E_AMBIGUOUS")
        assert ok(call(c, "1101", {"data": {"psn_no": "M2"}}))["baseinfo"]["certno"] == CERTNO


def test_a_lower_case_check_character_finds_the_member(zhang):
    li = {"id": "L1", "type": "employee", "certno": LI_CERTNO.lower(), "name": "李四"}
    members.add_member(zhang.db, "kaifeng", li)
    with zhang.client(zhang.hospital) as c:
        for sent in (LI_CERTNO, LI_CERTNO.lower()):
            base = ok(call(c, "1101", by("2", sent)))["baseinfo"]  # "2": as MD-JS sends types
            assert (base["psn_no"], base["certno"], base["gend"]) == ("L1", LI_CERTNO, "2")


def test_an_electronic_voucher_without_a_resolver_is_refused_saying_so(zhang):
    with zhang.client(zhang.hospital) as c:
        message = refused(call(c, "1101", by("01", "EC-ZHANG")), "E_CERT_TYPE")
    assert "none is configured" in message and "GONGJI_VOUCHER_RESOLVER" in message


def test_an_electronic_voucher_is_read_by_the_configured_resolver(vouchers, caplog):
    caplog.set_level(logging.WARNING, logger="gongji")
    with vouchers.client(vouchers.hospital) as c:
        assert ok(call(c, "1101", by("01", "EC-ZHANG")))["baseinfo"]["psn_no"] == "M1"
        assert ok(call(c, "1101", by("01", "EC-P001")))["baseinfo"]["psn_no"] == "P001"
        refused(call(c, "1101", by("01", "EC-UNKNOWN")), "E_NOT_FOUND")
        broken = refused(call(c, "1101", by("01", "EC-BROKEN")), "E_UNAVAILABLE")
        assert "resolver failed" in broken and "EC-BROKEN" not in broken
        assert ok(call(c, "1101", by("02", CERTNO)))["baseinfo"]["psn_no"] == "M1"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ConnectionError" in logged and "EC-BROKEN" not in logged  # what, never with what


def test_a_resolver_that_cannot_be_loaded_stops_the_service(db):
    for spec in ("gongji.nothing_here:voucher", f"{__name__}:nothing", "no_colon", "logging:"):
        with pytest.raises(SystemExit, match="GONGJI_VOUCHER_RESOLVER"):
            load_resolver(spec)
    url = db.url.render_as_string(hide_password=False)
    with pytest.raises(SystemExit, match="GONGJI_VOUCHER_RESOLVER"):
        create_app(Settings(database_url=url, access_log=False, voucher_resolver="no_colon"))
    assert load_resolver(f"{__name__}:voucher") is voucher and load_resolver("") is None


# -- age: N(4,1) on the visit's day -----------------------------------------------------------
def test_age_on_the_visit_day(zhang):
    born = date(1988, 1, 15)
    # 2023-01-15 was the 35th birthday; 45 of the 365 days to the next: 0.12 of a year -> .1
    assert str(age_on(born, date(2023, 3, 1))) == "35.1"
    assert str(age_on(born, date(2024, 1, 14))) == "35.9"  # the day before: cut, not rounded
    assert str(age_on(born, date(2024, 1, 15))) == "36.0"
    assert str(age_on(date(2000, 2, 29), date(2023, 2, 28))) == "23.0"  # 28 Feb, a common year
    assert str(age_on(date(2000, 2, 29), date(2023, 2, 27))) == "22.9"
    with zhang.client(zhang.hospital) as c:
        on = ok(call(c, "1101", by("02", CERTNO, begntime="2024-01-14T09:00:00")))
        assert on["baseinfo"]["age"] == 35.9  # begntime in OH's ISO form
        today = ok(call(c, "1101", by("02", CERTNO, begntime="")))  # none: today
        assert today["baseinfo"]["age"] == float(age_on(born, datetime.now(LOCAL_TIME).date()))
        early = refused(call(c, "1101", by("02", CERTNO, begntime="1987-01-01")), "E_INPUT")
        assert "input.data.begntime" in early


def test_chronic_disease_recognitions_are_not_identities(service):
    """idetinfo lists the platform's identity categories (psn_idet_type), of which gongji
    records none and the sources give no code table (spec §10); a recognised chronic
    disease is the member's record, not an identity: idetinfo stays [] rather than carry a
    made-up code."""
    members.add_member(service.db, "kaifeng", {**ZHANG, "chronic_diseases": ["E11"]})
    assert views.member_show(service.db, "M1")["record"]["chronic_diseases"] == ["E11"]
    with service.client(service.hospital) as c:
        assert ok(call(c, "1101", by("02", CERTNO)))["idetinfo"] == []


# -- POST /v1/members with an identity --------------------------------------------------------
def test_the_bureau_registers_a_member_with_an_identity_and_reads_it_back(service):
    member = {"id": "M5", "type": "employee", "certno": LI_CERTNO, "name": "李四",
              "gender": 2, "birth_date": "1985-09-12", "nationality": "18"}  # fmt: skip
    with service.client(service.bureau) as c:
        added = c.post("/v1/members", json={"region": "kaifeng", "member": member})
        assert added.status_code == 201, added.text
        shown = c.get("/v1/members/M5").json()
    assert shown["identity"] == {
        "psn_cert_type": "01",  # a certno without a type is a resident ID number
        "certno": LI_CERTNO,
        "card_no": None,
        "name": "李四",
        "gender": "2",
        "birth_date": "1985-09-12",
        "nationality": "18",
    }
    assert "certno" not in shown["record"]  # the engine's record holds none of it
    with service.client(service.hospital) as c:  # an institution sees no identity over REST
        assert "identity" not in c.get("/v1/members/M5").json()


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"certno": CERTNO[:-1] + "5"}, "member.certno", "check digit"),
        ({"certno": CERTNO[:-1]}, "member.certno", "18 characters"),
        ({"certno": "410202198813010019"}, "member.certno", "not a birth date"),  # month 13
        ({"birth_date": "1988-01-16"}, "member.birth_date", "not the birth date in certno"),
        ({"birth_date": "1988-02-30"}, "member.birth_date", "valid date"),
        ({"gender": "2"}, "member.gender", "not the sex certno carries"),
        ({"gender": "3"}, "member.gender", "expected '1' or '2'"),
        ({"nationality": "1"}, "member.nationality", "2-digit"),
        ({"nationality": "汉族"}, "member.nationality", "2-digit"),
        ({"certno": None, "psn_cert_type": "01"}, "member.psn_cert_type", "give the certno"),
        ({"psn_cert_type": "ID"}, "member.psn_cert_type", "digits"),
        ({"name": "张" * 51}, "member.name", "at most 50"),
        ({"card_no": "C\x07"}, "member.card_no", "control character"),
    ],
)
def test_a_bad_identity_is_refused_naming_the_field_and_changes_nothing(
    service, changes, field, reason
):
    member = {**ZHANG, **changes}
    before = snapshot(service.db)
    with service.client(service.bureau) as c:
        r = c.post("/v1/members", json={"region": "kaifeng", "member": member})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and reason in r.json()["message_en"], r.json()
    assert snapshot(service.db) == before


def test_another_document_type_is_kept_as_given(service):
    passport = {"id": "M6", "type": "employee", "psn_cert_type": "08", "certno": "E12345678",
                "name": "王五", "gender": "1", "birth_date": "1990-03-08"}  # fmt: skip
    with service.client(service.bureau) as c:
        assert (
            c.post("/v1/members", json={"region": "kaifeng", "member": passport}).status_code == 201
        )
        wrong = c.post("/v1/members", json={"region": "kaifeng", "member": {
            **passport, "id": "M7", "psn_cert_type": None}})  # fmt: skip
        assert wrong.status_code == 422 and "give its psn_cert_type" in wrong.json()["message_en"]
    with service.client(service.hospital) as c:
        base = ok(call(c, "1101", by("02", "E12345678")))["baseinfo"]
    assert (base["psn_no"], base["psn_cert_type"], base["brdy"], base["age"]) == (
        "M6",
        "08",
        "1990-03-08",
        32.9,
    )
