"""Members, journal, balances, settlements.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("region", sa.String(40), nullable=False),
        sa.Column("opening_balance", sa.BigInteger, nullable=False),
        sa.Column("profile", sa.JSON, nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("txn_id", sa.String(64), nullable=False),
        sa.Column("reverses", sa.Integer, sa.ForeignKey("journal_entries.id")),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "journal_legs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("journal_entries.id"), nullable=False),
        sa.Column("account", sa.String(80), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_journal_legs_entry_id", "journal_legs", ["entry_id"])
    op.create_index("ix_journal_legs_account", "journal_legs", ["account"])
    op.create_table(
        "balances",
        sa.Column("account", sa.String(80), primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "settlements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("txn_id", sa.String(64), nullable=False),
        sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("visit_time", sa.DateTime, nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("state_before", sa.JSON, nullable=False),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("journal_entries.id"), nullable=False),
        sa.Column("cancel_entry_id", sa.Integer, sa.ForeignKey("journal_entries.id")),
        sa.UniqueConstraint("txn_id", name="uq_settlements_txn"),
    )
    op.create_index("ix_settlements_member_id", "settlements", ["member_id"])
