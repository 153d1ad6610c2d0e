"""Hypothesis over sequences of ledger operations (settle, cancel, credit, premium, release)
for a family bound by XSBN-24: after any sequence, `db check` finds nothing, no balance is
below zero, every answer adds up (fund + account + mutual aid + cash = total), and the
general fund never pays above the annual cap (XSBN-11).

On both stores (the `db` fixture). Hypothesis runs every example inside the one test, so
each starts from the store emptied: every table but Alembic's, with its id counters back at
the start (PostgreSQL's sequences restarted, SQLite's AUTOINCREMENT counters removed), as a
new database would be. DELETE, not TRUNCATE: 50 ms against 300 ms on PostgreSQL, where a new
database from the migrations would take longer still."""

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, select, text

from gongji.errors import InputError
from gongji.ledger import accounts, check, members, registry
from gongji.ledger.family import bind
from gongji.ledger.schema import freezes
from gongji.ledger.schema import members as member_rows
from gongji.ledger.settlement import cancel, settle

from ..conftest import examples

WHO = ("H", "U", "F")
START = datetime(2023, 2, 1, 9, 0)
op = st.one_of(
    st.tuples(
        st.just("settle"),
        st.sampled_from(WHO),
        st.sampled_from(("X1", "X3")),
        st.integers(1, 300_000),
    ),
    st.tuples(st.just("cancel"), st.sampled_from(WHO)),
    st.tuples(st.just("credit")),
    st.tuples(st.just("premium"), st.sampled_from(("H", "U")), st.integers(1, 20_000)),
    st.tuples(st.just("release")),
)


_TABLES: dict[str, list] = {}  # by store URL: its tables, children first


def emptied(db) -> None:
    """Every table but Alembic's emptied, with its id counters back at the start."""
    tables = _TABLES.get(str(db.url))
    if tables is None:
        meta = MetaData()
        meta.reflect(db)
        tables = [t for t in reversed(meta.sorted_tables) if t.name != "alembic_version"]
        _TABLES[str(db.url)] = tables
    with db.begin() as conn:
        for t in tables:  # children first (foreign keys are checked)
            conn.execute(t.delete())
        if db.dialect.name == "postgresql":
            for (seq,) in conn.execute(text("SELECT sequencename FROM pg_sequences")):
                conn.execute(text(f'ALTER SEQUENCE "{seq}" RESTART'))
        elif conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
        ).first():
            conn.execute(text("DELETE FROM sqlite_sequence"))


def family(db) -> None:
    emptied(db)
    with db.begin() as conn:
        for code, level in (("X1", "level1"), ("X3", "level3")):
            registry.add_institution(
                conn, {"code": code, "name": code, "region": "xishuangbanna", "level": level}
            )
    for member_id, mtype, balance in (
        ("H", "employee", "80.00"),
        ("U", "employee", "5.00"),
        ("F", "flexible", "0"),
    ):
        members.add_member(
            db, "xishuangbanna", {"id": member_id, "type": mtype, "account_balance": balance}
        )
    with db.begin() as conn:
        for user in ("U", "F"):
            bind(
                conn,
                {
                    "holder": "H",
                    "user": user,
                    "relationship": "child",
                    "from": "2023-01-10",
                    "to": "2023-12-31",
                },
            )
        for member_id in ("H", "U"):
            for month in range(2, 13):
                registry.add_contribution(
                    conn,
                    {
                        "member": member_id,
                        "month": f"2023-{month:02d}",
                        "base": "3000.00",
                        "paid_on": f"2023-{month:02d}-01",
                    },
                )


def run(db, ops) -> tuple[list[dict], dict[str, list[str]]]:
    answers, active = [], {w: [] for w in WHO}
    for n, o in enumerate(ops):
        when = START + timedelta(days=n)
        try:
            if o[0] == "settle":
                txn = f"T{n}"
                visit = {
                    "id": txn,
                    "time": when.isoformat(),
                    "institution": o[2],
                    "total": str(Decimal(o[3]) / 100),
                }
                answers.append(settle(db, txn, o[1], visit))
                active[o[1]].append(txn)
            elif o[0] == "cancel" and active[o[1]]:
                cancel(db, active[o[1]].pop())
            elif o[0] == "credit":
                accounts.credit_month(db, "xishuangbanna", when.date())
            elif o[0] == "premium":
                accounts.pay_premium(
                    db, f"OP{n}", o[1], o[2], "long_term_care_premium", when.date()
                )
            elif o[0] == "release":
                with db.connect() as conn:
                    pending = conn.execute(
                        select(freezes.c.id).where(freezes.c.outcome.is_(None))
                    ).scalar()
                if pending:
                    accounts.release_freeze(db, pending)
        except InputError as exc:
            assert exc.code in ("E_INSUFFICIENT",), exc
    return answers, active


@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(op, max_size=30))
def test_any_sequence_of_operations_keeps_the_ledger_whole(db, ops):
    family(db)  # the store emptied, then the family afresh
    answers, _ = run(db, ops)
    for a in answers:
        paid = sum(
            Decimal(a.get(k, "0"))
            for k in ("fund_pay", "account_pay", "mutual_aid_pay", "cash_pay")
        )
        assert paid == Decimal(a["total"]), a
    assert check.problems(db) == []
    with db.connect() as conn:
        rows = conn.execute(
            select(member_rows.c.account_balance, member_rows.c.frozen, member_rows.c.state)
        ).all()
    for balance, frozen, state in rows:
        assert balance >= 0 and frozen >= 0
        assert state[3] <= 500_000  # general pool's annual fund use under the 5000 cap (XSBN-11)
