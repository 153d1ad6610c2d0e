"""Premiums name whom they are for (X-4; KF-17, NY-9: residents' insurance for spouse,
parents and children, the large-amount supplement for the member): every premium paid from
an account gets a record of its purpose, beneficiary and amount beside its journal entry.

Premiums paid before this revision have no record: their journal entries and freezes stand.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "premiums",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("op_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("beneficiary", sa.String(12), nullable=False),
        sa.Column("relative", sa.String(100)),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("paid_on", sa.Date, nullable=False),
        sa.Column("rule", sa.String(20), nullable=False),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("journal_entries.id"), nullable=False),
        sa.UniqueConstraint("op_id", name="uq_premiums_op"),
    )
    op.create_index("ix_premiums_member_id", "premiums", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_premiums_member_id", "premiums")
    op.drop_table("premiums")
