"""The service's configuration, from environment variables (all optional)."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    database_url: str | None  # GONGJI_DATABASE_URL (the ledger's default: sqlite:///gongji.db)
    host: str = "127.0.0.1"  # GONGJI_HOST
    port: int = 8000  # GONGJI_PORT
    max_body: int = 1_000_000  # GONGJI_MAX_BODY: bytes a request body may have
    rate: int = 2000  # GONGJI_RATE: requests per credential in a window (counted in the store)
    rate_window: float = 1.0  # GONGJI_RATE_WINDOW: the window's seconds
    batch: int = 64  # GONGJI_BATCH: settlements per group commit at the most
    access_log: bool = True  # GONGJI_ACCESS_LOG=0 turns the access log off
    # GONGJI_STORE_DEADLINE: seconds the store may take to answer a request's work (connect,
    # a statement, a lock, a batch's commit) before the client is answered 503 E_UNAVAILABLE
    store_deadline: float = 5.0
    credential_ttl: float = 1.0  # seconds a checked credential is trusted before rechecking
    # GONGJI_TRUSTED_PROXIES: addresses or networks (comma-separated; "*" any) whose
    # X-Forwarded-For / X-Forwarded-Proto are believed; by default nobody's, so a client
    # cannot choose the address the login throttle counts it under
    trusted_proxies: str = ""
    # GONGJI_VOUCHER_RESOLVER: `module:function` reading an electronic voucher's token (1101
    # mdtrt_cert_type 01) into the member's certno or member id (None: unknown); without
    # one, 01 is refused (service/member_info.py)
    voucher_resolver: str = ""
    # GONGJI_SIGNATURE_WINDOW: seconds an x-tif-timestamp may be from the service's clock,
    # either way (the sources name no window: national-interface §10); a nonce is kept twice
    # as long, so a replay is refused until its timestamp is out of the window
    signature_window: float = 300.0
    # GONGJI_REQUIRE_SIGN_IN=1: an institution's transactions other than 9001/9002 need the
    # envelope's sign_no of a sign-in (9001) of the institution not yet signed out (9002), as
    # on the platform; off by default, for clients that never sign in
    require_sign_in: bool = False

    def proxy_options(self) -> dict:
        """uvicorn's options for forwarded headers (it would trust them from 127.0.0.1)."""
        if not self.trusted_proxies:
            return {"proxy_headers": False}
        return {"proxy_headers": True, "forwarded_allow_ips": self.trusted_proxies}


def from_env() -> Settings:
    env = os.environ
    return Settings(
        database_url=env.get("GONGJI_DATABASE_URL"),
        host=env.get("GONGJI_HOST", "127.0.0.1"),
        port=_number(int, "GONGJI_PORT", 8000),
        max_body=_number(int, "GONGJI_MAX_BODY", 1_000_000),
        rate=_number(int, "GONGJI_RATE", 2000),
        rate_window=_number(float, "GONGJI_RATE_WINDOW", 1.0),
        batch=_number(int, "GONGJI_BATCH", 64),
        access_log=env.get("GONGJI_ACCESS_LOG", "1") != "0",
        store_deadline=_number(float, "GONGJI_STORE_DEADLINE", 5.0),
        trusted_proxies=env.get("GONGJI_TRUSTED_PROXIES", "").strip(),
        voucher_resolver=env.get("GONGJI_VOUCHER_RESOLVER", "").strip(),
        signature_window=_number(float, "GONGJI_SIGNATURE_WINDOW", 300.0),
        require_sign_in=env.get("GONGJI_REQUIRE_SIGN_IN", "0") not in ("", "0"),
    )


def _number(kind: type, name: str, default: int | float) -> int | float:
    """A positive number from the environment; a bad one stops the service, named."""
    given = os.environ.get(name)
    if given is None:
        return default
    try:
        value = kind(given)
    except ValueError:
        value = 0
    if not value > 0:
        raise SystemExit(f"{name}: a positive {kind.__name__} please, not {given!r}")
    return value
