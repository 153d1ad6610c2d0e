"""Signed requests and sign-ins on the national interface (issue 18): a credential's x-tif-*
account (`paasid`, unique, and its `secret`, kept as issued: the server recomputes the
signature), the nonces seen (`nonces`, so that every worker refuses a replay), and the
operators' sign-ins (9001) and sign-outs (9002) in `sign_ins`. Credentials issued before
have no paasid and go on with their Bearer token.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    op.add_column("credentials", sa.Column("paasid", sa.String(64)))
    op.add_column("credentials", sa.Column("secret", sa.String(128)))
    op.create_index("uq_credentials_paasid", "credentials", ["paasid"], unique=True)
    op.create_table(
        "nonces",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("until", sa.Float, nullable=False),
    )
    op.create_index("ix_nonces_until", "nonces", ["until"])
    op.create_table(
        "sign_ins",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("institution", sa.String(40), nullable=False),
        sa.Column("credential", sa.Integer, nullable=False),
        sa.Column("opter_no", sa.String(50)),
        sa.Column("mac", sa.String(50)),
        sa.Column("ip", sa.String(50)),
        sa.Column("signed_in_at", sa.DateTime, nullable=False),
        sa.Column("signed_out_at", sa.DateTime),
    )
    op.create_index("ix_sign_ins_institution", "sign_ins", ["institution"])


def downgrade() -> None:
    op.drop_index("ix_sign_ins_institution", "sign_ins")
    op.drop_table("sign_ins")
    op.drop_index("ix_nonces_until", "nonces")
    op.drop_table("nonces")
    op.drop_index("uq_credentials_paasid", "credentials")
    op.drop_column("credentials", "secret")
    op.drop_column("credentials", "paasid")
