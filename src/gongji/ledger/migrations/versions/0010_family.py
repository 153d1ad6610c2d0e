"""Family mutual aid in every region (issue 23): a binding may be open-ended (valid_to NULL
until it is ended by `unbind`, or by the holder's death or closing), and an institution is
designated (定点, under a service agreement: the personal account may pay there) apart from
designated for outpatient pooling (the existing `designated`, KF-19).

Every institution registered before is taken as under agreement, which is what the ledger
assumed of it. A closed account records where its balance went (`closed_to`), so that a
cancelled visit's money for it follows (family mutual aid: the holder's heirs).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    with op.batch_alter_table("family_bindings") as batch:
        batch.alter_column("valid_to", existing_type=sa.Date, nullable=True)
    op.create_index("ix_family_bindings_holder_id", "family_bindings", ["holder_id"])
    op.add_column(
        "institutions",
        sa.Column("agreement", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.add_column("members", sa.Column("closed_to", sa.String(60)))
    # accounts closed before: where the closing entry sent the balance (none: paid out)
    op.execute(
        """UPDATE members SET closed_to = COALESCE((
             SELECT l.account FROM journal_entries e JOIN journal_legs l ON l.entry_id = e.id
             WHERE e.kind = 'close' AND e.txn_id = 'close:' || members.id
               AND l.account NOT LIKE 'account:%'), 'payout:' || members.id)
           WHERE status = 'closed'"""
    )


def downgrade() -> None:
    op.drop_column("members", "closed_to")
    op.drop_column("institutions", "agreement")
    op.drop_index("ix_family_bindings_holder_id", "family_bindings")
    # an open-ended binding gets the last day a date can hold
    op.execute("UPDATE family_bindings SET valid_to = '9999-12-31' WHERE valid_to IS NULL")
    with op.batch_alter_table("family_bindings") as batch:
        batch.alter_column("valid_to", existing_type=sa.Date, nullable=False)
