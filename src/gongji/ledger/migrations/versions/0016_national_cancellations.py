"""The national transactions' cancellations (issue 18): a settlement cancelled by 2208 keeps
the cancellation's own transaction id (the 2208's msgid, scoped to its institution as
settlements are), so a retry gets the same cancellation back and a reversal (2601) of a
2208 finds what it would undo; a registered visit keeps the hospital's outpatient serial
(ipt_otp_no, which 2202 names) and when its registration was cancelled (2202).

All optional: settlements cancelled before, or over REST, have no cancellation id; visits
registered before have no serial.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"


def upgrade() -> None:
    op.add_column("settlements", sa.Column("cancel_txn_id", sa.String(64)))
    op.create_index("uq_settlements_cancel_txn", "settlements", ["cancel_txn_id"], unique=True)
    op.add_column("visits", sa.Column("ipt_otp_no", sa.String(30)))
    op.add_column("visits", sa.Column("cancelled_at", sa.DateTime))


def downgrade() -> None:
    op.drop_column("visits", "cancelled_at")
    op.drop_column("visits", "ipt_otp_no")
    op.drop_index("uq_settlements_cancel_txn", "settlements")
    op.drop_column("settlements", "cancel_txn_id")
