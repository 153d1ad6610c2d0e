"""Group commit: settlements from concurrent requests wait in a queue, and one task settles
whatever has gathered in one transaction, answering each request only once that transaction
is committed. Under load one fsync carries many settlements; with a single request in flight
it is one settlement per commit.

On PostgreSQL the task runs on the event loop and talks to the store over an asyncio
connection of its own (`settle_many_async`): while a batch waits on the store the loop goes
on reading requests, and nothing competes for the GIL. (A writer thread beside the loop,
measured: ~15 ms of waiting per batch against ~4 ms of work, the two threads handing the GIL
back and forth.) On SQLite, an embedded file, the batch runs in a thread (`settle_many`).
"""

import asyncio
import contextlib
import logging
import time
import traceback

import psycopg
from sqlalchemy import Engine

from gongji.errors import InputError, ServiceError
from gongji.ledger import store
from gongji.ledger.answer import Settled
from gongji.ledger.settlement import LateClaim, Request, settle_many, settle_many_async

log = logging.getLogger("gongji.writer")

LINGER = 0.002  # seconds a batch may wait to fill under load

Waiting = tuple[Request, asyncio.Future]


class Writer:
    """`deadline`: seconds a batch may wait for the store before its clients are answered
    E_UNAVAILABLE (None: as long as it takes)."""

    def __init__(self, db: Engine, batch: int, deadline: float | None = None):
        self.db, self.batch, self.deadline = db, batch, deadline
        self._queue: asyncio.Queue[Waiting] | None = None  # made on the serving loop
        self._task: asyncio.Task | None = None
        self._conn: psycopg.AsyncConnection | None = None
        self._closing: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Start the writer on the serving loop (and, on PostgreSQL, connect)."""
        if self._task is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._run())
            if self.db.dialect.name == "postgresql":
                await self._connection()

    async def stop(self) -> None:
        """Stop the writer (what is queued is left unanswered) and close its connection."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def settle(self, txn_id: str, member_id: str, visit: object) -> Settled:
        """Settle in the next batch; the answer once that batch is committed (raises the
        InputError that refused it)."""
        await self.start()  # already, unless served without the app's lifespan
        done = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(((txn_id, member_id, visit), done))
        # No timer of its own a request: the batch is bounded by the deadline (_settle) and
        # an HTTP request by the service's (app.Guard), which cancels this wait; `done` is
        # then cancelled, and the batch, should it commit later, answers no one (the
        # client's retry, same txn_id, returns what it stored).
        return await done

    async def reimburse(self, txn_id: str, member_id: str, visit: dict) -> Settled:
        """Manual reimbursement (XSBN-28): care that could not be settled online, entered by
        bureau staff from the invoices; settled as any visit, marked manual."""
        return await self.settle(txn_id, member_id, {**visit, "manual": True})

    async def _run(self) -> None:
        usual = 1.0  # batch size, a moving mean
        while True:
            work = await self._gather(usual)
            usual = 0.9 * usual + 0.1 * len(work)
            try:
                answers = await self._settle([request for request, _ in work])
                _log_refused(answers)
            except Exception as exc:
                # the store failed (a request it rejects is refused alone, by settle_many):
                # nothing of the batch was written, or, where it was being settled one by
                # one, what was settled stands and a retry returns it
                log.error("E_UNAVAILABLE: a batch of %d failed: %s", len(work), _described(exc))
                answers = [_unavailable("the store failed; retry")] * len(work)
            for (_, done), answer in zip(work, answers, strict=True):
                if done.done():  # the client went away: the settlement stands, unanswered
                    continue
                if isinstance(answer, Exception):
                    done.set_exception(answer)
                else:
                    done.set_result(answer)

    async def _gather(self, usual: float) -> list[Waiting]:
        """The next batch: what has queued up, and under load (`usual`: the recent batches'
        mean size) up to LINGER seconds more, until half the usual size. The clients just
        answered are about to send again: without waiting, a big batch is followed by a run
        of batches of one (measured: 3 in 4 batches were of one at 32 clients), each a
        transaction of its own."""
        work = [await self._queue.get()]
        deadline = time.monotonic() + LINGER
        while len(work) < self.batch:
            if not self._queue.empty():
                work.append(self._queue.get_nowait())
                continue
            wait = deadline - time.monotonic()
            if len(work) >= usual / 2 or wait <= 0:
                break
            try:
                work.append(await asyncio.wait_for(self._queue.get(), wait))
            except TimeoutError:
                break
        return work

    async def _settle(self, requests: list[Request]) -> list[Settled | InputError]:
        if self.db.dialect.name != "postgresql":
            return await asyncio.to_thread(settle_many, self.db, requests)
        conn = await self._connection()
        # The batch runs as a task of its own, waited for up to the deadline and then left
        # to finish on its connection, never cancelled: psycopg, cancelled mid-query, asks the
        # server to cancel and waits for it (seconds more, on a store that does not answer).
        # Left behind, it commits or not; either way its clients retry with their txn_ids,
        # on a new connection, and a settlement committed meanwhile is found, not repeated.
        batch = asyncio.ensure_future(settle_many_async(conn, requests))
        if not (await asyncio.wait({batch}, timeout=self.deadline))[0]:
            self._abandon(conn, batch)
            raise TimeoutError(f"the batch took over {self.deadline} s")
        answers = batch.result()
        # a late claim reads its member's year, which the async batch does not: on its own
        for i, answer in enumerate(answers):
            if isinstance(answer, LateClaim):
                alone = asyncio.to_thread(settle_many, self.db, [requests[i]])
                (answers[i],) = await asyncio.wait_for(alone, self.deadline)
        return answers

    def _abandon(self, conn: psycopg.AsyncConnection, batch: asyncio.Future) -> None:
        """Leave `batch` to finish on `conn`, then close it; the next batch connects anew."""
        if self._conn is conn:
            self._conn = None

        def finished(_: asyncio.Future) -> None:
            failed = batch.exception()  # retrieved: an abandoned batch's failure is expected
            outcome = f"failed: {_described(failed)}" if failed else "finished"
            log.warning("E_UNAVAILABLE: a batch left at the deadline %s", outcome)
            closing = asyncio.ensure_future(_closed(conn))
            self._closing.add(closing)  # kept until done: the loop holds tasks weakly
            closing.add_done_callback(self._closing.discard)

        batch.add_done_callback(finished)

    async def _connection(self) -> psycopg.AsyncConnection:
        """The writer's own connection; a new one if the store dropped it."""
        if self._conn is None or self._conn.closed:
            url = self.db.url.set(drivername="postgresql")
            timeouts = store.pg_options(self.deadline) if self.deadline else {}
            self._conn = await asyncio.wait_for(
                psycopg.AsyncConnection.connect(
                    url.render_as_string(hide_password=False), **timeouts
                ),
                self.deadline,
            )
        return self._conn


async def _closed(conn: psycopg.AsyncConnection) -> None:
    with contextlib.suppress(Exception):  # an abandoned connection: whatever became of it
        await conn.close()


def _unavailable(reason: str) -> ServiceError:
    return ServiceError("E_UNAVAILABLE", "", reason)


# The log says what failed, never with what: an exception's text quotes its data (SQLAlchemy
# appends the statement's parameters, PostgreSQL its CONTEXT lines: member ids, a batch's
# JSON), which the README promises the logs never hold.
def _described(exc: BaseException) -> str:
    """An exception as its class, the driver's class and SQLSTATE, and where it was raised."""
    orig = getattr(exc, "orig", None)
    names = [type(exc).__name__] + ([type(orig).__name__] if orig is not None else [])
    state = getattr(orig or exc, "sqlstate", None)
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return "/".join(names) + (f" SQLSTATE {state}" if state else "") + at


def _log_refused(answers: list) -> None:
    """Requests the store rejected after every check passed (settle_many refused them
    alone): counted, with the reasons' codes."""
    refused = [a for a in answers if isinstance(a, InputError) and a.field == "(request)"]
    if refused:
        reasons = sorted({a.reason for a in refused})
        log.warning("%s: %d of %d refused by the store: %s", refused[0].code, len(refused),
                    len(answers), "; ".join(reasons))  # fmt: skip
