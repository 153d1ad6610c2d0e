"""The rate limit per credential: at most `limit` requests a window of `window` seconds,
counted in the store (ledger/limits.py), so that every worker process and every machine
behind a load balancer counts against the one limit.

A store round trip on every request would cost the settling path as much as its commit, so
a worker takes permits from the store in leases and serves requests from its lease with no
round trip. Each lease is twice the last, up to a sixteenth of the limit (the first is 1; a
new window starts at half the last window's, so steady traffic needs a few round trips a
window, not one a request). The store grants only what is left of the limit: all workers
together never accept more than `limit` in a window. The price is that a worker may refuse
while another still holds unused permits (at most a lease each, a sixteenth of the limit);
once the store says the window is spent, the worker refuses without asking until it ends."""

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from gongji.errors import ServiceError
from gongji.ledger import limits


@dataclass
class _Lease:
    until: float  # the end of the store's window
    left: int  # permits leased and not yet used
    size: int  # this lease's size: the next is twice it
    spent: bool  # the store had no more for this window


class RateLimit:
    def __init__(
        self, db: Engine, limit: int, window: float, clock: Callable[[], float] = time.time
    ):
        self.db, self.limit, self.window, self.clock = db, limit, window, clock
        self.most = max(1, limit // 16)
        self._leases: dict[int, _Lease] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def take(self, credential: int) -> None:
        """One request of `credential`, or E_RATE_LIMIT (429)."""
        if self._served(credential):
            return
        # one lease at a time a credential: the requests waiting meanwhile share it
        async with self._locks.setdefault(credential, asyncio.Lock()):
            if self._served(credential):
                return
            await self._lease(credential)
            if not self._served(credential) and not await self._next_window(credential):
                raise self._refusal(credential)

    async def _next_window(self, credential: int) -> bool:
        """Served from the next window, where the store's window ended while the lease was
        being taken (a round trip at its last moment); False when this window is spent."""
        if self.clock() < self._leases[credential].until:
            return False
        await self._lease(credential)
        return self._served(credential)

    def _served(self, credential: int) -> bool:
        """Served from this worker's lease; False when a new lease is needed."""
        lease = self._leases.get(credential)
        if lease is None or self.clock() >= lease.until:
            return False
        if lease.left:
            lease.left -= 1
            return True
        if lease.spent:
            raise self._refusal(credential)
        return False

    async def _lease(self, credential: int) -> None:
        now = self.clock()
        lease = self._leases.get(credential)
        if lease is None:
            size = 1
        elif now >= lease.until:  # a new window
            size = max(1, lease.size // 2)
        else:
            size = min(2 * lease.size, self.most)
        hits, until = await asyncio.to_thread(self._hit, f"rate:{credential}", size, now)
        granted = max(0, min(size, self.limit - (hits - size)))  # what was left, at most size
        self._leases[credential] = _Lease(until, granted, size, hits >= self.limit)

    def _hit(self, name: str, size: int, now: float) -> tuple[int, float]:
        try:
            with self.db.begin() as conn:
                return limits.hit(conn, name, size, now, self.window)
        except SQLAlchemyError as exc:
            raise ServiceError("E_UNAVAILABLE", "", "the store failed; retry") from exc

    def _refusal(self, credential: int) -> ServiceError:
        """429, with the whole seconds until the store's window ends (Retry-After)."""
        left = self._leases[credential].until - self.clock()
        return ServiceError(
            "E_RATE_LIMIT",
            "",
            f"more than {self.limit} in {self.window:g} s",
            retry_after=max(1, math.ceil(left)),
        )
