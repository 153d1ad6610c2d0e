"""A member's identity as the national platform knows it (issue 18): the document type and
number (身份证号), the social security card number, name, sex (GB/T 2261.1: 1 male, 2 female),
birth date and ethnicity (GB 3304 codes). 1101 finds a member by the document or the card,
and answers these in `baseinfo`. All optional: a store loaded before this migration, or a
member registered without them, still settles by its member id.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"

COLUMNS = [
    ("psn_cert_type", sa.String(6)),
    ("certno", sa.String(50)),
    ("card_no", sa.String(50)),
    ("name", sa.String(50)),
    ("gender", sa.String(6)),
    ("birth_date", sa.Date),
    ("nationality", sa.String(3)),
]


def upgrade() -> None:
    for name, kind in COLUMNS:
        op.add_column("members", sa.Column(name, kind))
    op.create_index("ix_members_certno", "members", ["certno"])
    op.create_index("ix_members_card_no", "members", ["card_no"])


def downgrade() -> None:
    op.drop_index("ix_members_card_no", "members")
    op.drop_index("ix_members_certno", "members")
    for name, _ in reversed(COLUMNS):
        op.drop_column("members", name)
