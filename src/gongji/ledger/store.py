"""Opening the store: an embedded SQLite file by default, PostgreSQL by URL.

`GONGJI_DATABASE_URL` chooses (e.g. `postgresql+psycopg://user@host/db`); the default is
`sqlite:///gongji.db` in the working directory. Writes are durable: SQLite runs in WAL mode
with synchronous=FULL and takes its write lock at BEGIN (so two settlements for one member
serialise); PostgreSQL locks the member's row (SELECT ... FOR UPDATE).
"""

import math
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url

DEFAULT_URL = "sqlite:///gongji.db"
MIGRATIONS = Path(__file__).parent / "migrations"


def database_url() -> str:
    return os.environ.get("GONGJI_DATABASE_URL", DEFAULT_URL)


def connect(url: str | None = None, deadline: float | None = None) -> Engine:
    """The store at `url`. With a `deadline` (seconds; the service's), PostgreSQL gives up on
    a connection attempt, a statement or a lock wait after it (`pg_options`) and the pool on
    a free connection."""
    url = url or database_url()
    timeouts = {}
    if deadline is not None and make_url(url).get_backend_name() == "postgresql":
        timeouts = {"connect_args": pg_options(deadline), "pool_timeout": deadline}
    # pre-ping: a pooled connection the server dropped (a restart, a failover) is replaced
    # before use instead of failing the request that drew it. hide_parameters: an error's
    # text (logged, or shown by whatever catches it) never quotes a statement's data
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=True, **timeouts)
    if engine.dialect.name == "sqlite":
        _make_sqlite_durable(engine)
    return engine


def pg_options(deadline: float) -> dict:
    """libpq parameters bounding how long a PostgreSQL connection waits, in `deadline`
    seconds: to connect; for a statement or a lock (enforced by the server, which then
    answers an error); in a transaction left idle (a client that stalled mid-transaction
    must not hold its members' rows locked). Keepalives and tcp_user_timeout let the kernel
    drop a connection whose server went silent (a partition), which no server-side timeout
    can: a thread waiting on it is freed."""
    ms = max(1, round(deadline * 1000))
    return {
        "connect_timeout": max(2, math.ceil(deadline)),  # libpq counts whole seconds, 2 at least
        "options": f"-c statement_timeout={ms} -c lock_timeout={ms}"
        f" -c idle_in_transaction_session_timeout={ms}",
        "keepalives": 1,
        "keepalives_idle": max(1, math.ceil(deadline)),
        "keepalives_interval": 1,
        "keepalives_count": 3,
        "tcp_user_timeout": ms,
    }


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
        # a snapshot's read transaction takes no write lock (WAL: writers go on beside it)
        read_only = conn.get_execution_options().get("read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def snapshot(engine: Engine) -> Connection:
    """A connection that reads one consistent view of the store, as of its first read, and
    holds up no writer: a check or an export over a live store. PostgreSQL: a read-only
    REPEATABLE READ transaction (READ COMMITTED, the default, would show each query the
    settlements committed since the last). SQLite: a plain BEGIN, a read transaction, not
    the BEGIN IMMEDIATE every other transaction takes (that would stop every settlement for
    as long as the read runs)."""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return conn.execution_options(read_only=True)


def upgrade(engine: Engine) -> None:
    """Create or migrate the schema to the newest revision."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def is_initialised(engine: Engine) -> bool:
    return inspect(engine).has_table("members")
