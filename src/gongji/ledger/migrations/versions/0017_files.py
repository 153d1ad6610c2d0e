"""Files exchanged through the national transactions (issue 18): the detail file an
institution uploads (9101) for its detail reconciliation (3202), and the result file 3202
writes for it to download (9102), kept in the store so any worker serves them.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("file_qury_no", sa.String(30), primary_key=True),
        sa.Column("institution", sa.String(40), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_files_institution_filename", "files", ["institution", "filename"])


def downgrade() -> None:
    op.drop_index("ix_files_institution_filename", "files")
    op.drop_table("files")
