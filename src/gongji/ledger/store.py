"""Opening the store: an embedded SQLite file by default, PostgreSQL by URL.

`GONGJI_DATABASE_URL` chooses (e.g. `postgresql+psycopg://user@host/db`); the default is
`sqlite:///gongji.db` in the working directory. Writes are durable: SQLite runs in WAL mode
with synchronous=FULL and takes its write lock at BEGIN (so two settlements for one member
serialise); PostgreSQL locks the member's row (SELECT ... FOR UPDATE).
"""

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect

DEFAULT_URL = "sqlite:///gongji.db"
MIGRATIONS = Path(__file__).parent / "migrations"


def database_url() -> str:
    return os.environ.get("GONGJI_DATABASE_URL", DEFAULT_URL)


def connect(url: str | None = None) -> Engine:
    # pre-ping: a pooled connection the server dropped (a restart, a failover) is replaced
    # before use instead of failing the request that drew it
    engine = create_engine(url or database_url(), pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        _make_sqlite_durable(engine)
    return engine


def _make_sqlite_durable(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade(engine: Engine) -> None:
    """Create or migrate the schema to the newest revision."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def is_initialised(engine: Engine) -> bool:
    return inspect(engine).has_table("members")
