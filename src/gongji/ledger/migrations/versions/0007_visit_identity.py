"""A visit is paid once: settlements keep the visit's id, and one visit (its institution and
id) has at most one active settlement, whatever transaction ids it was sent under.

The ids of settlements made before are read from their stored requests. A store that already
holds two active settlements of one visit (the defect this closes) cannot take the index: the
upgrade stops and names them, for the bureau to cancel the one paid twice first.

Revision ID: 0007
Revises: 0006
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"

_settlements = sa.table("settlements", sa.column("id", sa.Integer), sa.column("visit_id", sa.Text))


def upgrade() -> None:
    op.add_column("settlements", sa.Column("visit_id", sa.Text))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, request FROM settlements")).all()
    for settlement_id, request in rows:
        visit = (json.loads(request) if isinstance(request, str) else request).get("visit")
        visit_id = visit.get("id") if isinstance(visit, dict) else None
        if visit_id is not None:
            conn.execute(
                _settlements.update()
                .where(_settlements.c.id == settlement_id)
                .values(visit_id=str(visit_id))
            )
    twice = conn.execute(
        sa.text(
            "SELECT institution, visit_id, COUNT(*) FROM settlements"
            " WHERE cancel_entry_id IS NULL AND visit_id IS NOT NULL"
            " GROUP BY institution, visit_id HAVING COUNT(*) > 1"
        )
    ).all()
    if twice:
        listed = "; ".join(f"{i}/{v} ({n} times)" for i, v, n in twice)
        raise RuntimeError(f"visits settled more than once; cancel the extra ones first: {listed}")
    op.create_index(
        "uq_settlements_active_visit",
        "settlements",
        ["institution", "visit_id"],
        unique=True,
        postgresql_where=sa.text("cancel_entry_id IS NULL"),
        sqlite_where=sa.text("cancel_entry_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_settlements_active_visit", "settlements")
    op.drop_column("settlements", "visit_id")
