"""The receiver's message id on every national answer (`inf_refmsgid`, national-interface
§4.1), in the platform's 30 characters: a division (6 digits), the time yyyyMMddHHmmss (14),
a serial (10), as in its samples `500000202107141108170000514555`. Clients keep it (CMW
stores it; some send it back as a 2601's `omsgid`), so no two answers may share one.

Unique across requests, worker processes and machines on one store: the serial is the
worker's number (4 digits) and a count of the worker's answers (6 digits). Each worker takes
its number from a counter in the store as it starts (`start`, from create_app: every worker
of `gongji serve` builds its own app), so two workers share a number only when 10,000
others started between them while both still run; one worker's answers differ in the count
unless it answers a million in one second. A process that never started a worker (a tool
calling national.answer directly) numbers itself by its process id."""

import itertools
import os
import time
from datetime import datetime

from sqlalchemy import Engine

from gongji.ledger import limits

WORKERS = "refmsgid:workers"  # the store's counter of workers started (table `limits`)
FOREVER = 1e12  # seconds: the counter's window never ends
_worker: int | None = None
_count = itertools.count()  # next() is atomic: the event loop and threads may share it


def start(db: Engine) -> None:
    """This process's worker number, from the store (once a process)."""
    global _worker
    if _worker is None:
        with db.begin() as conn:
            started, _ = limits.hit(conn, WORKERS, 1, time.time(), FOREVER)
        _worker = started % 10_000


def new(division: str | None) -> str:
    """A new id under `division` (a 6-digit division code; 000000 when there is none)."""
    worker = _worker if _worker is not None else os.getpid() % 10_000
    region = division if division and len(division) == 6 and division.isdigit() else "000000"
    serial = f"{worker:04d}{next(_count) % 1_000_000:06d}"
    return f"{region}{datetime.now():%Y%m%d%H%M%S}{serial}"
