"""The amount of a month's contribution (employer and member together) and the journal
entry that brings it into the pool and the accounts' clearing (M-1 fund statistics).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    # both nullable: contributions recorded before this revision give only the base
    with op.batch_alter_table("contributions") as b:
        b.add_column(sa.Column("amount", sa.BigInteger))
        b.add_column(
            sa.Column(
                "entry_id",
                sa.Integer,
                sa.ForeignKey("journal_entries.id", name="fk_contributions_entry"),
            )
        )
