"""Issue 17 items 5-7, as an attacker would try them, on SQLite and PostgreSQL: institution
B (the clinic) against institution A's (the hospital's) settlements, and the bureau's
credential settling on /fsi/api. Transaction ids are scoped to their institution: what B
cannot see is 404 exactly as an unknown id, and B's own id is B's whatever A has used."""

from gongji.ledger import views

from .conftest import CLINIC, HOSPITAL, snapshot
from .test_national import call, ok, registered_visit, settle_input
from .test_rest import VISIT


def _settled_at_hospital(service, mid: str) -> dict:
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
        return ok(call(c, "2207", settle_input(mdtrt_id), mid=mid))["setlinfo"]


def _active(service, institution: str, txn_id: str) -> bool:
    found = views.find_settlement(service.db, f"{institution}:{txn_id}")
    return found is not None and not found.cancelled


# -- item 5: 2601 always looks ownership up ------------------------------------------------
def test_b_cannot_reverse_as_settlement_whose_id_begins_with_bs_code(service):
    mid = f"{CLINIC}20230301100000XREV"  # A's transaction id, beginning with B's code
    assert _settled_at_hospital(service, mid)["setl_id"] == mid
    balance = views.member_show(service.db, "P001")["account_balance"]
    with service.client(service.clinic) as c:
        reverse = {"data": {"psn_no": "P001", "omsgid": mid, "oinfno": "2207"}}
        ok(call(c, "2601", reverse, CLINIC))  # B's own id withdrawn: nothing of A's
        assert _active(service, HOSPITAL, mid)
        assert views.member_show(service.db, "P001")["account_balance"] == balance
        # B's own 2207 under that id is the one refused, as reversed before it arrived
        mdtrt_id = registered_visit(c, code=CLINIC)
        late = call(c, "2207", settle_input(mdtrt_id), CLINIC, mid=mid)
        assert late["infcode"] == -1 and late["err_code"] == "E_TXN_REVERSED"
    with service.client(service.hospital) as c:  # A's own reversal still works
        reverse = {"data": {"psn_no": "P001", "omsgid": mid, "oinfno": "2207"}}
        ok(call(c, "2601", reverse))
    assert not _active(service, HOSPITAL, mid)


# -- item 6: the bureau reads and administers; it does not settle --------------------------
def test_the_bureaus_credential_cannot_settle_on_the_national_interface(service):
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
    before = snapshot(service.db)
    settling = [
        ("2201", {"data": {"psn_no": "P001", "begntime": "2023-03-01 10:00:00"}}),
        ("2207", settle_input(mdtrt_id)),
        ("2206", settle_input(mdtrt_id)),
        ("2208", {"data": {"setl_id": "X1", "mdtrt_id": mdtrt_id, "psn_no": "P001"}}),
        ("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": "P001", "ipt_otp_no": "MZ001"}}),
        ("2205", {"data": {"mdtrt_id": mdtrt_id, "psn_no": "P001", "chrg_bchno": "0000"}}),
        ("2601", {"data": {"psn_no": "P001", "omsgid": "X2", "oinfno": "2207"}}),
    ]
    with service.client(service.bureau) as c:
        for infno, data in settling:
            envelope = {"infno": infno, "msgid": f"B{infno}", "fixmedins_code": HOSPITAL,
                        "input": data}  # fmt: skip
            refused = c.post("/fsi/api", json=envelope)  # in the envelope (spec §4.2)
            assert refused.status_code == 200 and refused.json()["infcode"] == -1, infno
            assert refused.json()["err_code"] == "E_FORBIDDEN"
            assert "infno: institutions settle" in refused.json()["err_msg"]
        read = call(c, "1101", {"data": {"psn_no": "P001"}})  # reading is the bureau's
        assert read["infcode"] == 0
    assert snapshot(service.db) == before


# -- item 7: ids are scoped; what one cannot see is 404 as for an unknown id ----------------
def _without(body: dict, txn_id: str) -> dict:
    return {k: (v.replace(txn_id, "<id>") if isinstance(v, str) else v) for k, v in body.items()}


def test_b_reusing_as_id_settles_bs_own_visit_over_rest(service):
    with service.client(service.hospital) as c:
        a = c.post("/v1/settlements", json={"txn_id": "T7", "member_id": "P001", "visit": VISIT})
        assert a.status_code == 200 and a.json()["txn_id"] == "T7"
    before = views.find_settlement(service.db, f"{HOSPITAL}:T7")
    with service.client(service.clinic) as c:
        mine = {**VISIT, "id": "C1", "institution": CLINIC}
        b = c.post("/v1/settlements", json={"txn_id": "T7", "member_id": "P002", "visit": mine})
        assert b.status_code == 200, b.text
        assert b.json()["txn_id"] == "T7" and b.json()["institution"] == CLINIC
        assert b.json()["visit_id"] == "C1"
        assert c.get("/v1/settlements/T7").json()["visit_id"] == "C1"
        assert [r["txn_id"] for r in c.get("/v1/visits").json()] == ["T7"]
    assert views.find_settlement(service.db, f"{HOSPITAL}:T7") == before
    with service.client(service.hospital) as c:
        assert c.get("/v1/settlements/T7").json()["visit_id"] == "V1"


def test_b_reading_or_cancelling_as_settlement_is_404_as_unknown(service):
    with service.client(service.hospital) as c:
        c.post("/v1/settlements", json={"txn_id": "TA", "member_id": "P001", "visit": VISIT})
    before = snapshot(service.db)
    with service.client(service.clinic) as c:
        for path in ("/v1/settlements/{}", "/v1/settlements/{}/cancel"):
            method = c.get if path.endswith("}") else c.post
            theirs, unknown = method(path.format("TA")), method(path.format("TZ"))
            assert theirs.status_code == unknown.status_code == 404
            assert _without(theirs.json(), "TA") == _without(unknown.json(), "TZ")
            assert theirs.json()["code"] == "E_NOT_FOUND"
            assert theirs.json()["field"] == "txn_id"
    assert snapshot(service.db) == before
    assert _active(service, HOSPITAL, "TA")


def test_b_on_as_msgid_over_the_national_interface(service):
    mid = f"{HOSPITAL}20230301100000XDUP"
    a = _settled_at_hospital(service, mid)
    before = snapshot(service.db)
    with service.client(service.clinic) as c:
        cancel = {"data": {"setl_id": mid, "mdtrt_id": a["mdtrt_id"], "psn_no": "P001"}}
        theirs = call(c, "2208", cancel, CLINIC)
        nope = {"data": {"setl_id": "NOPE", "mdtrt_id": a["mdtrt_id"], "psn_no": "P001"}}
        unknown = call(c, "2208", nope, CLINIC)
        assert theirs["err_code"] == unknown["err_code"] == "E_NOT_FOUND"
        assert theirs["err_msg"].replace(mid, "<id>") == unknown["err_msg"].replace("NOPE", "<id>")
        assert snapshot(service.db) == before
        mdtrt_id = registered_visit(c, member="P002", code=CLINIC)
        b = ok(call(c, "2207", settle_input(mdtrt_id, "P002"), CLINIC, mid=mid))["setlinfo"]
        assert b["setl_id"] == mid and b["mdtrt_id"] == mdtrt_id != a["mdtrt_id"]
        mine = {"data": {"setl_id": mid, "mdtrt_id": mdtrt_id, "psn_no": "P002"}}
        ok(call(c, "2208", mine, CLINIC))
    assert _active(service, HOSPITAL, mid)
    assert not _active(service, CLINIC, mid)


def test_b_registering_under_as_msgid_gets_a_visit_of_its_own(service):
    data = {"data": {"psn_no": "P001", "begntime": "2023-03-01 10:00:00"}}
    with service.client(service.hospital) as c:
        a = ok(call(c, "2201", data, mid="REG1"))["data"]["mdtrt_id"]
    with service.client(service.clinic) as c:
        b = ok(call(c, "2201", data, CLINIC, mid="REG1"))["data"]["mdtrt_id"]
        assert b != a
        info = {"mdtrtinfo": {"mdtrt_id": b, "psn_no": "P001", "med_type": "11"}}
        ok(call(c, "2203", info, CLINIC))
