"""Credentials: each designated institution has its own; a bureau credential reads all.

A token is shown once when issued; the store keeps its SHA-256. A checked token is trusted
for `credential_ttl` seconds (a revocation takes effect within that). Requests are limited
per credential, counted in the store (service/limits.py).
"""

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from gongji.errors import InputError, ServiceError
from gongji.ledger.schema import credentials, institutions
from gongji.service.limits import RateLimit


@dataclass(frozen=True)
class Caller:
    credential: int
    institution: str | None  # None: the bureau

    @property
    def bureau(self) -> bool:
        return self.institution is None

    def may_see(self, institution: str | None) -> bool:
        return self.bureau or institution == self.institution


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(db: Engine, institution: str | None, label: str) -> str:
    """A new credential for a registered institution (or the bureau); the token, once."""
    token = secrets.token_urlsafe(32)
    with db.begin() as conn:
        if institution is not None:
            known = conn.execute(
                select(institutions.c.code).where(institutions.c.code == institution)
            ).first()
            if known is None:
                raise InputError("institution", f"institution {institution} is not registered")
        conn.execute(
            insert(credentials).values(
                token_hash=_hash(token),
                institution=institution,
                label=label,
                created_at=datetime.now(),
            )
        )
    return token


def revoke(db: Engine, credential_id: int) -> None:
    with db.begin() as conn:
        done = conn.execute(
            update(credentials)
            .where(credentials.c.id == credential_id, credentials.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now())
        ).rowcount
    if not done:
        raise InputError("credential", f"no active credential {credential_id}", "E_NOT_FOUND")


KNOWN_MAX = 10_000  # tokens remembered at once


class Gate:
    """Who is calling (401 if nobody we know) and whether they may call now (429)."""

    def __init__(self, db: Engine, ttl: float, rate: RateLimit):
        self.db, self.ttl, self.rate = db, ttl, rate
        self._known: dict[str, tuple[float, Caller | None]] = {}
        self._looking: dict[str, asyncio.Future] = {}  # lookups under way, shared

    async def caller(self, authorization: str | None) -> Caller:
        if not authorization or not authorization.startswith("Bearer "):
            raise ServiceError("E_UNAUTHORIZED", "Authorization", "give 'Bearer <token>'")
        digest = _hash(authorization[7:].strip())
        seen = self._known.get(digest)
        if seen is None or time.monotonic() - seen[0] > self.ttl:
            # one lookup a token at a time: when a checked token expires, every request in
            # flight with it would otherwise ask the store at once
            looking = self._looking.get(digest)
            if looking is None:
                looking = asyncio.ensure_future(asyncio.to_thread(self._lookup, digest))
                self._looking[digest] = looking
                looking.add_done_callback(lambda _: self._looking.pop(digest, None))
            seen = (time.monotonic(), await asyncio.shield(looking))
            if len(self._known) >= KNOWN_MAX:  # random tokens must not grow it without end
                self._known.clear()
            self._known[digest] = seen
        if seen[1] is None:
            raise ServiceError("E_UNAUTHORIZED", "Authorization", "unknown or revoked token")
        await self.rate.take(seen[1].credential)
        return seen[1]

    def _lookup(self, digest: str) -> Caller | None:
        try:
            with self.db.connect() as conn:
                row = conn.execute(
                    select(credentials.c.id, credentials.c.institution).where(
                        credentials.c.token_hash == digest, credentials.c.revoked_at.is_(None)
                    )
                ).first()
        except SQLAlchemyError as exc:
            raise ServiceError("E_UNAVAILABLE", "", "the store failed; retry") from exc
        return None if row is None else Caller(row.id, row.institution)
