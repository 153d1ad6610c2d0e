"""The console's tables: staff and their roles, login sessions, and the audit log (every
change made through the console or to staff, never edited)."""

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Integer, String, Table

from gongji.ledger.schema import metadata

staff = Table(
    "staff",
    metadata,
    Column("username", String(40), primary_key=True),
    Column("name", String(80), nullable=False),
    Column("role", String(12), nullable=False),  # viewer | operator | admin
    Column("password_hash", String(200), nullable=False),  # scrypt, salted
    Column("created_at", DateTime, nullable=False),
    Column("disabled_at", DateTime),
    Column("region", String(40)),  # the region they work for: their home page's (0018)
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie's token
    Column("username", String(40), ForeignKey("staff.username"), nullable=False),
    Column("csrf", String(64), nullable=False),  # the token every form of the session carries
    Column("expires_at", DateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(40), nullable=False),  # a staff username, or "cli"
    Column("action", String(40), nullable=False),
    Column("target", String(80)),
    Column("detail", JSON, nullable=False),
)
