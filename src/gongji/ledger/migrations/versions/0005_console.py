"""The console: staff with roles, their login sessions, and the audit log; monitoring runs
and their alerts; indexes of settlements by visit time and by entry.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("username", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("role", sa.String(12), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("disabled_at", sa.DateTime),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(40), sa.ForeignKey("staff.username"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(80)),
        sa.Column("detail", sa.JSON, nullable=False),
    )

    op.create_table(
        "monitoring_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("begin", sa.Date, nullable=False),
        sa.Column("end", sa.Date, nullable=False),
        sa.Column("alerts", sa.Integer, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("monitoring_runs.id"), nullable=False),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("rules", sa.String(80), nullable=False),
        sa.Column("subject", sa.String(120), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
    )
    op.create_index("ix_alerts_run_id", "alerts", ["run_id"])
    # statements, reconciliation and monitoring read a period's settlements
    op.create_index("ix_settlements_visit_time", "settlements", ["visit_time"])
    # reports kept over the journal find the settlements of new entries (supervision/kept.py)
    op.create_index("ix_settlements_entry_id", "settlements", ["entry_id"])
    op.create_index(
        "ix_settlements_cancel_entry_id",
        "settlements",
        ["cancel_entry_id"],
        postgresql_where=sa.text("cancel_entry_id IS NOT NULL"),
        sqlite_where=sa.text("cancel_entry_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_settlements_cancel_entry_id", "settlements")
    op.drop_index("ix_settlements_entry_id", "settlements")
    op.drop_index("ix_settlements_visit_time", "settlements")
    op.drop_table("alerts")
    op.drop_table("monitoring_runs")
    op.drop_table("audit_log")
    op.drop_table("staff_sessions")
    op.drop_table("staff")
