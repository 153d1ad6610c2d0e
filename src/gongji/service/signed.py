"""Signed requests as the provincial gateways take them (national-interface §2.1, scheme A),
so that an HIS configured with a paasid and a secret signs in unchanged:

    x-tif-paasid     the account (a credential's `paasid`)
    x-tif-timestamp  Unix time in seconds, as text (milliseconds, 13 digits, read too)
    x-tif-nonce      random text: OH a GUID, MD-Proxy 1 to 10 random digits, X3 hex-hex
    x-tif-signature  lowercase hex of SHA-256(timestamp + secret + nonce + timestamp), the
                     UTF-8 bytes of the four concatenated as sent; compared ignoring case

(sources: OH `ClassHelper.YBHttpRequest`, `DigestUtils.Sha256Hex`; MD-Proxy
`SYBController.HttpPost`, `Sha256` .ToLower(); X3 `HeaderUtil`). The signature does not
cover the body: what makes a captured request useless is the timestamp's window and the
nonce, which each worker claims in the store (ledger/nonces.py), so a replay is refused
whichever worker or machine it reaches.

A nonce is claimed with its credential and timestamp (`<credential>:<timestamp>:<nonce>`):
MD-Proxy's nonces are as short as one digit, so a nonce alone would repeat within minutes
among honest requests; with its timestamp, two honest ones collide only within one second
(MD-Proxy: about one pair in a thousand of its requests in the same second), and that one
is refused as a replay, a clear 401 E_REPLAYED the client's retry (a new nonce) passes.
A claim is kept twice the window: a replay within the window finds it; a later one has a
timestamp out of the window (the first was accepted at most `window` from its timestamp).
"""

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from gongji.errors import ServiceError
from gongji.ledger import nonces

PAASID = b"x-tif-paasid"
HEADERS = (PAASID, b"x-tif-timestamp", b"x-tif-nonce", b"x-tif-signature")
MOST = {b"x-tif-paasid": 64, b"x-tif-timestamp": 13, b"x-tif-nonce": 64, b"x-tif-signature": 64}
MILLISECONDS = 10**11  # a timestamp above this is in milliseconds (seconds pass it in 5138)
PRUNE_EVERY = 1.0  # seconds between a worker's prunes of expired nonces


@dataclass(frozen=True)
class Signed:
    paasid: str
    timestamp: str  # as sent: the signature covers the text
    nonce: str
    signature: str


def given(headers: dict[bytes, bytes]) -> Signed | None:
    """The request's x-tif-* headers (names lowercased, as servers give them: X3 writes
    `x-tif-paasId`); None when it has none of them (it may carry a Bearer token)."""
    if not any(h in headers for h in HEADERS):
        return None
    values = []
    for header in HEADERS:
        name = header.decode()
        raw = (headers.get(header) or b"").strip()
        if not raw:
            raise ServiceError("E_UNAUTHORIZED", name, "required with the other x-tif-* headers")
        if len(raw) > MOST[header] or not all(0x21 <= b <= 0x7E for b in raw):
            raise ServiceError(
                "E_UNAUTHORIZED", name, f"at most {MOST[header]} printable ASCII characters"
            )
        values.append(raw.decode("ascii"))
    return Signed(*values)


def seconds(signed: Signed) -> float:
    """The timestamp as Unix seconds (every x-tif client sends seconds; milliseconds, as the
    `_api_*` clients send theirs, are read too)."""
    text = signed.timestamp
    if not text.isdigit():
        raise ServiceError("E_SIGNATURE_TIME", "x-tif-timestamp", "Unix time in seconds, digits")
    value = int(text)
    return value / 1000 if value > MILLISECONDS else float(value)


def check_time(signed: Signed, now: float, window: float) -> None:
    skew = now - seconds(signed)
    if abs(skew) > window:
        raise ServiceError(
            "E_SIGNATURE_TIME",
            "x-tif-timestamp",
            f"{-skew:+.0f} s from the service's clock; at most {window:g} s either way",
        )


def signature(timestamp: str, secret: str, nonce: str) -> str:
    """What a client sends in x-tif-signature (and what the tests sign with)."""
    return hashlib.sha256(f"{timestamp}{secret}{nonce}{timestamp}".encode()).hexdigest()


def check_signature(signed: Signed, secret: str) -> None:
    expected = signature(signed.timestamp, secret, signed.nonce)
    if not hmac.compare_digest(expected, signed.signature.lower()):
        raise ServiceError(
            "E_SIGNATURE",
            "x-tif-signature",
            "not SHA-256 (lowercase hex) of timestamp + secret + nonce + timestamp",
        )


class Nonces:
    """Each credential's timestamp and nonce accepted once, counted in the store.

    Claims are group-committed: while one batch is in the store, the claims that arrive
    gather and go together in the next, one statement and one commit (a commit a request
    cost signed 1101s 43% of Bearer's throughput, measured with `benchmarks/service.py
    --signing`). With one request in flight it is one claim a commit, as before."""

    def __init__(self, db: Engine, window: float):
        self.db, self.keep = db, 2 * window
        self._pruned = 0.0
        self._waiting: list[tuple[str, asyncio.Future]] = []
        self._draining: asyncio.Task | None = None

    async def claim(self, credential: int, signed: Signed, now: float) -> None:
        """The nonce claimed, or E_REPLAYED (E_UNAVAILABLE if the store failed)."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((f"{credential}:{signed.timestamp}:{signed.nonce}", done))
        if self._draining is None:
            self._draining = asyncio.ensure_future(self._drain(now))
        if not await done:
            raise ServiceError(
                "E_REPLAYED", "x-tif-nonce", "used already with this timestamp: a new one a request"
            )

    async def _drain(self, now: float) -> None:
        """Batches until no claim waits; a batch's time is its first claim's `now` plus the
        time it waited (a claim's time only decides whether an old row's time is over,
        which a millisecond either way cannot change: rows are kept twice the window)."""
        started = time.monotonic()
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                at = now + (time.monotonic() - started)
                try:
                    fresh = await asyncio.to_thread(self._claim, [k for k, _ in batch], at)
                except SQLAlchemyError:
                    failed = ServiceError("E_UNAVAILABLE", "", "the store failed; retry")
                    answers = [failed] * len(batch)
                else:
                    answers = [_first(key, fresh) for key, _ in batch]
                for (_, done), answer in zip(batch, answers, strict=True):
                    if done.done():  # its request was cancelled (the service's deadline)
                        continue
                    if isinstance(answer, Exception):
                        done.set_exception(answer)
                    else:
                        done.set_result(answer)
        finally:
            self._draining = None

    def _claim(self, keys: list[str], now: float) -> set[str]:
        """In a thread: the keys claimed now; at most once a second the expired ones
        forgotten (up to nonces.PRUNED at a time), in the same transaction."""
        with self.db.begin() as conn:
            fresh = nonces.claim(conn, list(dict.fromkeys(keys)), now, self.keep)
            if now - self._pruned >= PRUNE_EVERY:
                self._pruned = now
                nonces.prune(conn, now)
        return fresh


def _first(key: str, fresh: set[str]) -> bool:
    """Whether the claim of `key` is the one that took it: of copies of one key in one
    batch, the first (the set forgets a key once it has answered it)."""
    if key in fresh:
        fresh.discard(key)
        return True
    return False
