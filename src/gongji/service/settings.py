"""The service's configuration, from environment variables (all optional)."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    database_url: str | None  # GONGJI_DATABASE_URL (the ledger's default: sqlite:///gongji.db)
    host: str = "127.0.0.1"  # GONGJI_HOST
    port: int = 8000  # GONGJI_PORT
    max_body: int = 1_000_000  # GONGJI_MAX_BODY: bytes a request body may have
    rate: float = 2000.0  # GONGJI_RATE: requests a second per credential (burst: twice that)
    batch: int = 64  # GONGJI_BATCH: settlements per group commit at the most
    access_log: bool = True  # GONGJI_ACCESS_LOG=0 turns the access log off
    credential_ttl: float = 1.0  # seconds a checked credential is trusted before rechecking


def from_env() -> Settings:
    env = os.environ
    return Settings(
        database_url=env.get("GONGJI_DATABASE_URL"),
        host=env.get("GONGJI_HOST", "127.0.0.1"),
        port=int(env.get("GONGJI_PORT", "8000")),
        max_body=int(env.get("GONGJI_MAX_BODY", "1000000")),
        rate=float(env.get("GONGJI_RATE", "2000")),
        batch=int(env.get("GONGJI_BATCH", "64")),
        access_log=env.get("GONGJI_ACCESS_LOG", "1") != "0",
    )
