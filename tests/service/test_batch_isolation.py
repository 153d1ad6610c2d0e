"""Issue 17 at the writer (group commit), on both stores: item 3, a request the store
rejects fails alone — the good requests committed with it are answered, not turned into
503s, and it gets a 4xx on every retry; item 10, a failed batch is logged with codes and
counts, never a member's id (SQLAlchemy quoted its parameters, PostgreSQL its CONTEXT)."""

import asyncio
import logging

import sqlalchemy.exc

from gongji.errors import InputError, ServiceError
from gongji.ledger import check
from gongji.ledger.settlement import Settled
from gongji.service import writer as writer_module
from gongji.service.writer import Writer

from ..ledger.test_store_rejects import REFUSED, rejecting, requests  # noqa: F401 (a fixture)


def settle_together(db, batch: list, monkeypatch) -> tuple[list, list[int]]:
    """The requests sent to the writer at once (all queued before its first batch is
    gathered: asyncio runs ready tasks in order); the answers, and each batch's size."""
    sizes: list[int] = []
    for name in ("settle_many", "settle_many_async"):
        real = getattr(writer_module, name)

        def recorded(store, reqs, *args, _real=real):
            sizes.append(len(reqs))
            return _real(store, reqs, *args)

        monkeypatch.setattr(writer_module, name, recorded)
    writer = Writer(db, 64)

    async def run() -> list:
        await writer.start()
        try:
            settling = (writer.settle(*r) for r in batch)
            return await asyncio.gather(*settling, return_exceptions=True)
        finally:
            await writer.stop()

    return asyncio.run(run()), sizes


def test_a_rejected_request_fails_alone_and_again_on_retry(rejecting, monkeypatch):  # noqa: F811
    answers, sizes = settle_together(rejecting, requests(), monkeypatch)
    assert sizes[0] == 13  # one batch: the bad request among the good
    refused = answers.pop(6)
    assert isinstance(refused, InputError) and refused.code == "E_INPUT"
    assert (refused.field, refused.reason) == ("(request)", REFUSED[rejecting.dialect.name])
    assert all(isinstance(a, Settled) for a in answers), answers
    (again,), _ = settle_together(rejecting, [requests()[6]], monkeypatch)
    assert isinstance(again, InputError) and again.code == "E_INPUT"  # never a 503
    assert check.problems(rejecting) == []


def test_a_failed_batch_is_logged_without_member_ids(rejecting, monkeypatch, caplog):  # noqa: F811
    """The store fails the whole batch (an outage): every request gets E_UNAVAILABLE; the
    log names the code, the error's class and the count — not the statement's parameters
    nor the server's CONTEXT, which quote the members."""
    quoted = Exception('CONTEXT:  JSON data, line 1: {"members": ["M03", "M07"]')

    def failing(*_args):
        raise sqlalchemy.exc.OperationalError(
            "UPDATE members SET ... WHERE id = ?", ["M07"], quoted
        )

    async def failing_async(*_args):
        failing()

    monkeypatch.setattr(writer_module, "settle_many", failing)
    monkeypatch.setattr(writer_module, "settle_many_async", failing_async)
    with caplog.at_level(logging.INFO, logger="gongji.writer"):
        answers, _ = settle_together(rejecting, requests(), monkeypatch)
    assert all(isinstance(a, ServiceError) and a.code == "E_UNAVAILABLE" for a in answers)
    logged = caplog.text
    assert "E_UNAVAILABLE" in logged and "batch of 13" in logged and "OperationalError" in logged
    assert not any(f"M{i:02d}" in logged for i in range(12)), logged
    assert "CONTEXT" not in logged and "UPDATE members" not in logged


def test_a_rejection_is_logged_without_member_ids(rejecting, monkeypatch, caplog):  # noqa: F811
    with caplog.at_level(logging.INFO, logger="gongji.writer"):
        settle_together(rejecting, requests(), monkeypatch)
    logged = caplog.text
    # by the error's class and SQLSTATE: the reason the request was given
    refused = f"E_INPUT: 1 of 13 refused by the store: {REFUSED[rejecting.dialect.name]}\n"
    assert refused in logged, logged
    assert not any(f"M{i:02d}" in logged for i in range(12)) and "BAD" not in logged
