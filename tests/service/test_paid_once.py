"""Issue 16, defects 2 and 3 at the service: a visit is paid once whatever message ids its
2207 is sent under (before: ten concurrent 2207s with new msgids for one visit paid ten
times), and an invoice is reimbursed once (XSBN-28)."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from gongji.ledger import check, views

from .test_national import call, msgid, registered_visit, settle_input
from .test_rest import VISIT


def test_concurrent_2207s_with_new_msgids_pay_a_visit_once(service):
    with service.client(service.hospital) as c:
        mdtrt_id = registered_visit(c)
    ids = [msgid() for _ in range(10)]

    def send(mid: str) -> dict:
        with service.client(service.hospital) as c:
            return call(c, "2207", settle_input(mdtrt_id), mid=mid)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(send, ids))
    assert [a["infcode"] for a in answers] == [0] * 10
    # every answer is the one settlement's: 75 from the fund, 125 from the account, once
    assert len({a["output"]["setlinfo"]["setl_id"] for a in answers}) == 1
    assert {a["output"]["setlinfo"]["hifp_pay"] for a in answers} == {75.0}
    assert views.member_show(service.db, "P001")["account_balance"] == Decimal("175.00")
    assert len(views.settlements_of(service.db, None, 100, 0)) == 1
    assert check.problems(service.db) == []


def test_an_invoice_is_reimbursed_once(service):
    invoice = {**VISIT, "id": "INV-7"}
    with service.client(service.bureau) as c:
        first = c.post(
            "/v1/reimbursements", json={"txn_id": "M1", "member_id": "P001", "visit": invoice}
        )
        assert first.status_code == 200, first.text
        again = c.post(
            "/v1/reimbursements",
            json={"txn_id": "M2", "member_id": "P001", "visit": {**invoice, "total": "300.00"}},
        )
    assert again.status_code == 409, again.text
    refused = again.json()
    assert (refused["code"], refused["field"]) == ("E_INVOICE_CLAIMED", "visit.id")
    assert "M1" in refused["message_en"]
    assert len(views.settlements_of(service.db, None, 100, 0)) == 1
