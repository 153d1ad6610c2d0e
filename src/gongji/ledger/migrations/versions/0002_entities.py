"""Entities and account operations: institutions, family bindings,
contributions, credits, freezes, year accumulators; balances move onto members.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("members") as b:
        b.add_column(sa.Column("status", sa.String(12), nullable=False, server_default="active"))
        b.add_column(
            sa.Column("account_balance", sa.BigInteger, nullable=False, server_default="0")
        )
        b.add_column(sa.Column("frozen", sa.BigInteger, nullable=False, server_default="0"))
        b.add_column(sa.Column("last_visit", sa.DateTime))
        b.create_check_constraint("ck_members_balance", "account_balance >= 0")
        b.create_check_constraint("ck_members_frozen", "frozen >= 0")
    op.execute(
        "UPDATE members SET account_balance = COALESCE((SELECT balance FROM balances"
        " WHERE balances.account = 'account:' || members.id), 0)"
    )
    op.execute(
        "UPDATE members SET last_visit = (SELECT max(visit_time) FROM settlements"
        " WHERE settlements.member_id = members.id AND settlements.cancel_entry_id IS NULL)"
    )
    op.drop_table("balances")
    op.create_table(
        "institutions",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region", sa.String(40), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("designated", sa.Boolean, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("physical", sa.String(40)),
        sa.Column("dual_channel", sa.Boolean, nullable=False, server_default="0"),
    )
    op.create_table(
        "family_bindings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("holder_id", sa.String(40), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("relationship", sa.String(20), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=False),
    )
    op.create_index("ix_family_bindings_user_id", "family_bindings", ["user_id"])
    op.create_table(
        "contributions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("base", sa.BigInteger, nullable=False),
        sa.Column("paid_on", sa.Date, nullable=False),
        sa.UniqueConstraint("member_id", "month", name="uq_contributions_month"),
    )
    op.create_table(
        "credits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("rule", sa.String(20), nullable=False),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("journal_entries.id"), nullable=False),
    )
    op.create_index("ix_credits_member_month", "credits", ["member_id", "month"])
    op.create_table(
        "freezes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("frozen_on", sa.Date, nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("journal_entries.id"), nullable=False),
        sa.Column("outcome", sa.String(12)),
        sa.Column("outcome_entry_id", sa.Integer, sa.ForeignKey("journal_entries.id")),
    )
    op.create_index("ix_freezes_member_id", "freezes", ["member_id"])
    op.create_table(
        "year_accumulators",
        sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id"), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("pool", sa.String(20), primary_key=True),
        sa.Column("fund_paid", sa.BigInteger, nullable=False),
        sa.Column("deductible_met", sa.BigInteger, nullable=False),
    )
