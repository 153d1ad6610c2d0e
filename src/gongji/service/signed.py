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

import hashlib
import hmac
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
    """Each credential's timestamp and nonce accepted once, counted in the store."""

    def __init__(self, db: Engine, window: float):
        self.db, self.keep = db, 2 * window
        self._pruned = 0.0

    def claim(self, credential: int, signed: Signed, now: float) -> None:
        """In a thread: the nonce claimed, or E_REPLAYED; now and then the expired ones
        forgotten (at most once a second a worker, up to nonces.PRUNED at a time)."""
        key = f"{credential}:{signed.timestamp}:{signed.nonce}"
        try:
            with self.db.begin() as conn:
                fresh = nonces.claim(conn, key, now, self.keep)
            if fresh and now - self._pruned >= PRUNE_EVERY:
                self._pruned = now
                with self.db.begin() as conn:
                    nonces.prune(conn, now)
        except SQLAlchemyError as exc:
            raise ServiceError("E_UNAVAILABLE", "", "the store failed; retry") from exc
        if not fresh:
            raise ServiceError(
                "E_REPLAYED", "x-tif-nonce", "used already with this timestamp: a new one a request"
            )
