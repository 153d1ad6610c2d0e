"""The region a console staff member works for (issue 21): their home page opens on it.
NULL: none given (the home page opens on the region of the latest settled visit).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"


def upgrade() -> None:
    op.add_column("staff", sa.Column("region", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("staff") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("region")
