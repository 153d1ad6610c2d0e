"""Journal entries keep the operation's business date beside the time they were recorded:
a premium paid or an account closed "on" a day is reported in that day's month.

Entries made before carry none and are dated as before (by what they link to, else the
time they were recorded).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.add_column("journal_entries", sa.Column("business_date", sa.Date))


def downgrade() -> None:
    op.drop_column("journal_entries", "business_date")
