"""Issue 16 at the service, on both stores (PostgreSQL's batches run over an asyncio
connection, which hands a late claim to a batch of its own): a hospital settles a visit
dated before the member's last settlement, and cancels an earlier settlement while a later
one stands. Kaifeng level 3 (the hospital): the day's deductible 50, then 50%."""

from decimal import Decimal

from gongji.ledger import check, views

from .conftest import HOSPITAL


def visit(vid: str, day: str, total: str) -> dict:
    return {"id": vid, "time": f"2023-03-{day}T10:00:00", "institution": HOSPITAL, "total": total}


def test_a_late_claim_and_a_cancellation_out_of_order(service):
    with service.client(service.hospital) as c:
        later = c.post(
            "/v1/settlements",
            json={"txn_id": "A1", "member_id": "P001", "visit": visit("V1", "10", "150.00")},
        )
        assert later.status_code == 200 and later.json()["fund_pay"] == "50.00"
        late = c.post(
            "/v1/settlements",
            json={"txn_id": "A2", "member_id": "P001", "visit": visit("V2", "01", "250.00")},
        )
        assert late.status_code == 200, late.text
        # 1 March: its own deductible 50; 50% x 200 = 100; March's fund pay is 50 + 100
        assert (late.json()["fund_pay"], late.json()["late"]) == ("100.00", True)
        cancelled = c.post("/v1/settlements/A1/cancel")  # the earlier-processed one
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["returned"]["fund_pay"] == "50.00"
        assert c.get("/v1/settlements/A2").json()["fund_pay"] == "100.00"  # stands as paid
    shown = views.member_show(service.db, "P001")
    assert shown["accumulators"]["general"]["fund_paid"] == Decimal("100.00")
    assert check.problems(service.db) == []
