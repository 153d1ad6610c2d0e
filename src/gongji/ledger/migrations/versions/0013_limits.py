"""Counters the service's worker processes share (ledger/limits.py): the rate limit per
credential and the console's login throttle per username and per client, each a window and
its count, so that workers and machines behind a load balancer agree and a restart forgets
nothing.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.create_table(
        "limits",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("until", sa.Float, nullable=False),
        sa.Column("hits", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_limits_until", "limits", ["until"])


def downgrade() -> None:
    op.drop_index("ix_limits_until", "limits")
    op.drop_table("limits")
