"""The service's records: credentials, registered visits; withdrawn transaction ids; the
institution of each settlement (for reconciliation).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "withdrawn_txns",
        sa.Column("txn_id", sa.String(64), primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("institution", sa.String(40)),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime),
    )
    op.create_table(
        "visits",
        sa.Column("mdtrt_id", sa.String(40), primary_key=True),
        sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("institution", sa.String(40), nullable=False),
        sa.Column("begntime", sa.DateTime, nullable=False),
        sa.Column("med_type", sa.String(8), nullable=False),
        sa.Column("disease", sa.String(40)),
        sa.Column("fees", sa.JSON, nullable=False),
        sa.Column("txn_id", sa.String(64)),
    )
    op.create_index("ix_visits_institution", "visits", ["institution"])
    with op.batch_alter_table("settlements") as b:
        b.add_column(sa.Column("institution", sa.String(40)))
    op.create_index("ix_settlements_institution", "settlements", ["institution"])
