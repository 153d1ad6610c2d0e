"""A contribution may record the member's own part (个人缴费): a pack that credits the
member's whole own contribution to the account (PZH-4a: 在职职工个人缴费全部计入本人个人账户)
credits that amount, where it is given, rather than its configured rate of the base.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.add_column("contributions", sa.Column("own", sa.BigInteger))


def downgrade() -> None:
    op.drop_column("contributions", "own")
