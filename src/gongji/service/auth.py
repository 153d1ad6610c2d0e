"""Credentials: each designated institution has its own; a bureau credential reads all.

A token is shown once when issued; the store keeps its SHA-256. A checked token is trusted
for `credential_ttl` seconds (a revocation takes effect within that). Requests are limited
per credential, counted in the store (service/limits.py).

Each credential also has a paasid and a secret, for HIS clients that sign their requests
with the gateway's x-tif-* headers instead (service/signed.py). The secret is stored as
issued, not hashed: the signature is a SHA-256 over the timestamp, the secret and the nonce,
which the service must recompute, so it must hold the secret (as the platform's gateway
does). Whoever reads the credentials table can sign as any institution: the store is guarded
as the holder of those secrets, and a leaked one is replaced by issuing a new credential and
revoking the old.
"""

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from gongji.errors import InputError, ServiceError
from gongji.ledger.schema import credentials, institutions
from gongji.service.limits import RateLimit
from gongji.service.signed import Nonces, Signed, check_signature, check_time


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


@dataclass(frozen=True)
class Issued:
    token: str  # Authorization: Bearer <token>
    paasid: str  # x-tif-paasid
    secret: str  # what x-tif-signature is computed with
    id: int = 0  # what `gongji credential revoke` takes


def issue(db: Engine, institution: str | None, label: str) -> str:
    """A new credential for a registered institution (or the bureau); the token, once."""
    return issue_credential(db, institution, label).token


def issue_credential(
    db: Engine,
    institution: str | None,
    label: str,
    paasid: str | None = None,
    secret: str | None = None,
) -> Issued:
    """A new credential: its token, paasid and secret, shown once. `paasid` and `secret`
    may be given, for a client that has them written in (OH keeps both as constants)."""
    paasid = _account_text("paasid", paasid, 64) or "gj" + secrets.token_hex(8)
    secret = _account_text("secret", secret, 128) or secrets.token_hex(16)
    token = secrets.token_urlsafe(32)
    with db.begin() as conn:
        if institution is not None:
            known = conn.execute(
                select(institutions.c.code).where(institutions.c.code == institution)
            ).first()
            if known is None:
                raise InputError("institution", f"institution {institution} is not registered")
        taken = conn.execute(select(credentials.c.id).where(credentials.c.paasid == paasid))
        if taken.first() is not None:
            raise InputError("paasid", f"{paasid} is another credential's", "E_EXISTS")
        added = conn.execute(
            insert(credentials).values(
                token_hash=_hash(token),
                institution=institution,
                label=label,
                created_at=datetime.now(),
                paasid=paasid,
                secret=secret,
            )
        )
    return Issued(token, paasid, secret, added.inserted_primary_key[0])


def _account_text(field: str, value: str | None, most: int) -> str | None:
    """A paasid or secret as given: printable ASCII (it travels in a header, and is hashed
    as the client's UTF-8 bytes), 8 characters at least for a secret."""
    if value is None:
        return None
    if not value or len(value) > most or not all("!" <= c <= "~" for c in value):
        raise InputError(field, f"1 to {most} printable ASCII characters, no spaces")
    if field == "secret" and len(value) < 8:
        raise InputError(field, "at least 8 characters")
    return value


def revoke(db: Engine, credential_id: int) -> None:
    with db.begin() as conn:
        done = conn.execute(
            update(credentials)
            .where(credentials.c.id == credential_id, credentials.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now())
        ).rowcount
    if not done:
        raise InputError("credential", f"no active credential {credential_id}", "E_NOT_FOUND")


def list_credentials(db: Engine, institution: str | None = None) -> list[dict]:
    """Every credential (or an institution's), oldest first: its id (what `revoke` takes),
    institution (None: the bureau), label, paasid, when issued and revoked. Never its token
    (kept only as a hash) nor its secret."""
    c = credentials.c
    query = select(c.id, c.institution, c.label, c.paasid, c.created_at, c.revoked_at)
    if institution is not None:
        query = query.where(c.institution == institution)
    with db.connect() as conn:
        rows = conn.execute(query.order_by(c.id)).all()
    return [
        {"id": r.id, "institution": r.institution, "label": r.label, "paasid": r.paasid,
         "issued": r.created_at, "revoked": r.revoked_at}
        for r in rows
    ]  # fmt: skip


KNOWN_MAX = 10_000  # tokens remembered at once


class Gate:
    """Who is calling (401 if nobody we know) and whether they may call now (429): by a
    Bearer token, or by a request signed with a paasid's secret (401 if the signature, its
    timestamp or its nonce is not right: service/signed.py)."""

    def __init__(
        self,
        db: Engine,
        ttl: float,
        rate: RateLimit,
        window: float = 300.0,
        clock: Callable[[], float] = time.time,
    ):
        self.db, self.ttl, self.rate = db, ttl, rate
        self.window, self.clock = window, clock
        self.nonces = Nonces(db, window)
        # token digests and "paasid:<paasid>" -> (checked at, what the store said)
        self._known: dict[str, tuple[float, object]] = {}
        self._looking: dict[str, asyncio.Future] = {}  # lookups under way, shared

    async def caller(self, authorization: str | None) -> Caller:
        if not authorization or not authorization.startswith("Bearer "):
            raise ServiceError("E_UNAUTHORIZED", "Authorization", "give 'Bearer <token>'")
        digest = _hash(authorization[7:].strip())
        found = await self._remembered(digest, lambda: self._lookup(digest))
        if found is None:
            raise ServiceError("E_UNAUTHORIZED", "Authorization", "unknown or revoked token")
        await self.rate.take(found.credential)
        return found

    async def signed(self, given: Signed) -> Caller:
        """The caller of a signed request: its timestamp within the window (before the store
        is asked), its paasid known, its signature right, then the rate limit, then its
        nonce claimed (last: a request refused for anything else claims none)."""
        now = self.clock()
        check_time(given, now, self.window)
        key = f"paasid:{given.paasid}"
        found = await self._remembered(key, lambda: self._account(given.paasid))
        if found is None:
            raise ServiceError("E_UNAUTHORIZED", "x-tif-paasid", "unknown or revoked paasid")
        caller, secret = found
        check_signature(given, secret)
        await self.rate.take(caller.credential)
        await self.nonces.claim(caller.credential, given, now)
        return caller

    async def _remembered(self, key: str, lookup: Callable[[], object]) -> object:
        """What the store says of `key`, as checked within `ttl` seconds."""
        seen = self._known.get(key)
        if seen is None or time.monotonic() - seen[0] > self.ttl:
            # one lookup a key at a time: when a checked credential expires, every request
            # in flight with it would otherwise ask the store at once
            looking = self._looking.get(key)
            if looking is None:
                looking = asyncio.ensure_future(asyncio.to_thread(lookup))
                self._looking[key] = looking
                looking.add_done_callback(lambda _: self._looking.pop(key, None))
            seen = (time.monotonic(), await asyncio.shield(looking))
            if len(self._known) >= KNOWN_MAX:  # random tokens must not grow it without end
                self._known.clear()
            self._known[key] = seen
        return seen[1]

    def _lookup(self, digest: str) -> Caller | None:
        row = self._row(credentials.c.token_hash == digest)
        return None if row is None else Caller(row.id, row.institution)

    def _account(self, paasid: str) -> tuple[Caller, str] | None:
        row = self._row(credentials.c.paasid == paasid)
        if row is None or not row.secret:
            return None
        return Caller(row.id, row.institution), row.secret

    def _row(self, which):
        c = credentials.c
        try:
            with self.db.connect() as conn:
                return conn.execute(
                    select(c.id, c.institution, c.secret).where(which, c.revoked_at.is_(None))
                ).first()
        except SQLAlchemyError as exc:
            raise ServiceError("E_UNAVAILABLE", "", "the store failed; retry") from exc
