"""Family mutual aid in every region (issue 23): a binding may be open-ended (valid_to NULL
until it is ended by `unbind`, or by the holder's death or closing), and an institution is
designated (定点, under a service agreement: the personal account may pay there) apart from
designated for outpatient pooling (the existing `designated`, KF-19).

Every institution registered before is taken as under agreement, which is what the ledger
assumed of it.

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
    op.add_column(
        "institutions",
        sa.Column("agreement", sa.Boolean, nullable=False, server_default=sa.true()),
    )


def downgrade() -> None:
    op.drop_column("institutions", "agreement")
    with op.batch_alter_table("family_bindings") as batch:
        batch.alter_column("valid_to", existing_type=sa.Date, nullable=False)
