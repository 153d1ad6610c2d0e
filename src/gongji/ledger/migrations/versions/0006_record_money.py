"""Members' records keep their money as yuan text.

Until this revision a record was stored with its amounts in fen (integers) and read back as
yuan, so each update of the record (an import of stays, filings or arrears, a retirement)
multiplied them by 100. An integer amount in a stored record is that old form: it is
written `k` updates after the record was added, and stands for `value / 100**k` fen. `k` is
read from the account balance, whose true value the member row keeps (opening_balance);
where the record has no balance to compare, from the member's registered contribution
bases; failing both, k = 0 (the record as first added, never updated).

Revision ID: 0006
Revises: 0005
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

_MONEY = ("contribution_base", "account_balance")
_members = sa.table("members", sa.column("id", sa.String), sa.column("profile", sa.JSON))


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, opening_balance, profile FROM members")).all()
    for member_id, opening, profile in rows:
        record = json.loads(profile) if isinstance(profile, str) else dict(profile)
        if not any(isinstance(record.get(f), int) for f in _MONEY):
            continue
        k = _updates(conn, member_id, opening, record)
        for field in _MONEY:
            value = record.get(field)
            if isinstance(value, int):
                whole, cents = divmod(value // 100**k, 100)
                record[field] = f"{whole}.{cents:02d}"
        conn.execute(_members.update().where(_members.c.id == member_id).values(profile=record))


def _updates(conn, member_id: str, opening: int, record: dict) -> int:
    """How many times the record was rewritten: the power of 100 between a stored amount and
    its true value in fen."""
    pairs = []
    if isinstance(record.get("account_balance"), int) and opening:
        pairs.append((record["account_balance"], opening))
    if isinstance(record.get("contribution_base"), int):
        base = conn.execute(
            sa.text(
                "SELECT base FROM contributions WHERE member_id = :id ORDER BY month DESC LIMIT 1"
            ),
            {"id": member_id},
        ).scalar()
        if base:
            pairs.append((record["contribution_base"], base))
    for stored, true in pairs:
        k = 0
        while stored > true and stored % 100 == 0:
            stored //= 100
            k += 1
        if stored == true:
            return k
    return 0


def downgrade() -> None:
    """The old form cannot be restored meaningfully (it was the defect); records stay as text."""
