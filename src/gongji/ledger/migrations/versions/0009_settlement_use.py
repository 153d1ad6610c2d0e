"""Settlements keep what they consumed of the member's year (the accumulators' growth and
the deductible window: engine/use.py), so that a cancellation gives back exactly that in any
order, and a late claim settles against its own year's and month's accumulators.

Settlements made before carry none; it is read off a re-run of the engine from their
starting state when needed (ledger/uses.py).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.add_column("settlements", sa.Column("consumed", sa.JSON))


def downgrade() -> None:
    op.drop_column("settlements", "consumed")
