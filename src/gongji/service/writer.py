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
import logging
import time
import traceback

import psycopg
from sqlalchemy import Engine

from gongji.errors import InputError, ServiceError
from gongji.ledger.answer import Settled
from gongji.ledger.settlement import LateClaim, Request, settle_many, settle_many_async

log = logging.getLogger("gongji.writer")

LINGER = 0.002  # seconds a batch may wait to fill under load

Waiting = tuple[Request, asyncio.Future]


class Writer:
    def __init__(self, db: Engine, batch: int):
        self.db, self.batch = db, batch
        self._queue: asyncio.Queue[Waiting] | None = None  # made on the serving loop
        self._task: asyncio.Task | None = None
        self._conn: psycopg.AsyncConnection | None = None

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
                unavailable = ServiceError("E_UNAVAILABLE", "", "the store failed; retry")
                answers = [unavailable] * len(work)
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
        answers = await settle_many_async(await self._connection(), requests)
        # a late claim reads its member's year, which the async batch does not: on its own
        for i, answer in enumerate(answers):
            if isinstance(answer, LateClaim):
                (answers[i],) = await asyncio.to_thread(settle_many, self.db, [requests[i]])
        return answers

    async def _connection(self) -> psycopg.AsyncConnection:
        """The writer's own connection; a new one if the store dropped it."""
        if self._conn is None or self._conn.closed:
            url = self.db.url.set(drivername="postgresql")
            self._conn = await psycopg.AsyncConnection.connect(
                url.render_as_string(hide_password=False)
            )
        return self._conn


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
