"""The ledger's tables (SQLAlchemy Core). Migrations in migrations/ create them."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

members = Table(
    "members",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("region", String(40), nullable=False),
    Column("opening_balance", BigInteger, nullable=False),
    Column("profile", JSON, nullable=False),  # the member record as entered (calculate.MemberIn)
    # the member's year-to-date engine state (YearState.slots); locked per settlement
    Column("state", JSON, nullable=False),
)

# Double-entry: an entry's legs sum to zero. Accounts are named by kind and owner, e.g.
# "account:P001" (personal account), "fund:kaifeng" (pooling fund), "institution:H001"
# (owed to the institution), "cash:P001" (paid by the member), "opening:P001".
entries = Table(
    "journal_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),  # opening | settle | cancel
    Column("txn_id", String(64), nullable=False),
    Column("reverses", Integer, ForeignKey("journal_entries.id")),
    Column("created_at", DateTime, nullable=False),
)

legs = Table(
    "journal_legs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", Integer, ForeignKey("journal_entries.id"), nullable=False, index=True),
    Column("account", String(80), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),  # fen; debits positive
)

balances = Table(
    "balances",
    metadata,
    Column("account", String(80), primary_key=True),
    Column("balance", BigInteger, nullable=False),  # sum of the account's legs, kept in step
)

settlements = Table(
    "settlements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("txn_id", String(64), nullable=False),
    Column("member_id", String(40), ForeignKey("members.id"), nullable=False, index=True),
    Column("visit_time", DateTime, nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("request", JSON, nullable=False),
    Column("result", JSON, nullable=False),
    Column("state_before", JSON, nullable=False),  # restored exactly by a cancellation
    Column("entry_id", Integer, ForeignKey("journal_entries.id"), nullable=False),
    Column("cancel_entry_id", Integer, ForeignKey("journal_entries.id")),
    UniqueConstraint("txn_id", name="uq_settlements_txn"),
)
