"""Group commit: settlements from concurrent requests go to one writer thread, which settles
whatever has queued up in one transaction (`settle_many`) and answers each request only once
that transaction is committed. Under load one fsync carries many settlements; with a single
request in flight it is one settlement per commit, as without the writer."""

import logging
import queue
import threading
from concurrent.futures import Future

from sqlalchemy import Engine

from gongji.errors import InputError
from gongji.ledger.settlement import Request, settle_many

log = logging.getLogger("gongji.writer")


class Writer:
    def __init__(self, db: Engine, batch: int):
        self.db, self.batch = db, batch
        self._queue: queue.SimpleQueue[tuple[Request, Future]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="gongji-writer", daemon=True)
        self._thread.start()

    def submit(self, txn_id: str, member_id: str, visit: object) -> Future:
        done: Future = Future()
        self._queue.put(((txn_id, member_id, visit), done))
        return done

    def _run(self) -> None:
        while True:
            work = [self._queue.get()]
            while len(work) < self.batch:
                try:
                    work.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                answers = settle_many(self.db, [request for request, _ in work])
            except Exception as exc:  # the store failed: nothing of this batch was written
                log.exception("settlement batch failed")
                for _, done in work:
                    done.set_exception(exc)
                continue
            for (_, done), answer in zip(work, answers, strict=True):
                if isinstance(answer, InputError):
                    done.set_exception(answer)
                else:
                    done.set_result(answer)
