"""Issue 17 at the service, on both stores: client input beyond what the store can hold or
the code can read is a 4xx (or `infcode` -1) naming the field, and changes nothing — never a
5xx, and never a write followed by an error."""

import pytest

from gongji.ledger import check, views

from .conftest import HOSPITAL
from .test_national import call, msgid, ok, registered_visit, settle_input

DEEP = "[" * 1000 + "]" * 1000  # beyond the parser's stack: the body is named
NESTED = "[" * 100 + "]" * 100  # read, then refused where it starts
VISIT = {"id": "V1", "time": "2023-03-01T10:00:00", "institution": HOSPITAL, "total": "80.00"}


def post_raw(client, path: str, text: str):
    return client.post(path, content=text.encode(), headers={"content-type": "application/json"})


def journal(db) -> list:
    return views.account_show(db, "P001")["journal"]


@pytest.mark.parametrize(
    ("path", "token", "text", "field"),
    [
        ("/v1/settlements", "hospital", DEEP, "(body)"),
        ("/v1/settlements", "hospital",
         '{"txn_id": "T1", "member_id": "P001", "visit": {"a": %s}}' % DEEP, "(body)"),
        ("/v1/settlements", "hospital",
         '{"txn_id": "T1", "member_id": "P001", "visit": {"a": %s}}' % NESTED, "visit.a[0]"),
        ("/v1/members", "bureau", '{"region": "kaifeng", "member": %s}' % DEEP, "(body)"),
        ("/v1/members", "bureau", '{"region": "kaifeng", "member": %s}' % NESTED, "member[0][0]"),
        ("/v1/settlements", "hospital",
         '{"txn_id": "T1", "member_id": "P001", "visit": {"id": "V1", "total": NaN}}',
         "visit.total"),
        ("/v1/settlements", "hospital",
         '{"txn_id": "T1", "member_id": "P001\\u0000", "visit": {}}', "member_id"),
        ("/v1/settlements", "hospital",
         '{"txn_id": "T\\ud800", "member_id": "P001", "visit": {}}', "txn_id"),
    ],
)  # fmt: skip
def test_a_body_no_store_can_hold_is_a_422_naming_the_field(service, path, token, text, field):
    before = journal(service.db)
    with service.client(getattr(service, token)) as c:
        r = post_raw(c, path, text)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and r.json()["code"] == "E_INPUT"
    assert journal(service.db) == before


def test_a_national_envelope_no_store_can_hold_is_refused_by_field(service):
    with service.client(service.hospital) as c:
        deep = post_raw(c, "/fsi/api", DEEP).json()
        nested = post_raw(
            c, "/fsi/api", '{"infno": "1101", "msgid": "M1", "fixmedins_code": "%s",'
            ' "input": {"data": %s}}' % (HOSPITAL, NESTED)
        ).json()  # fmt: skip
        mdtrt_id = registered_visit(c)
        nan = post_raw(
            c, "/fsi/api", '{"infno": "2207", "msgid": "%s", "fixmedins_code": "%s",'
            ' "input": {"data": {"psn_no": "P001", "mdtrt_id": "%s", "medfee_sumamt": NaN}}}'
            % (msgid(), HOSPITAL, mdtrt_id)
        ).json()  # fmt: skip
    assert deep["infcode"] == -1 and "(body)" in deep["err_msg"]
    assert nested["infcode"] == -1 and "input.data" in nested["err_msg"]
    assert "nested deeper than 32" in nested["err_msg"]
    assert nan["infcode"] == -1 and "input.data.medfee_sumamt" in nan["err_msg"]
    assert journal(service.db)[-1]["kind"] == "opening"
    assert check.problems(service.db) == []
