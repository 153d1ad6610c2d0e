"""A settlement's own statements, on the database driver's cursor.

Settling is the ledger's hot path: per statement, SQLAlchemy's execution machinery cost
about as much as the rest of a settlement together (profile: 55% of its CPU), so the five
statements of a settlement go to the driver directly, inside the transaction SQLAlchemy
opened. Everything else uses SQLAlchemy Core. The SQL is written once with `?` markers and
works on SQLite and PostgreSQL alike; JSON and timestamps are sent as text, which both
accept for their JSON and timestamp columns.
"""

from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import Connection

from gongji import engine

_LOCK = """
SELECT m.id, m.region, m.status, m.last_visit, {profile}, m.state, m.account_balance,
       s.payload_hash, s.result, i.level, i.designated, i.kind, w.txn_id
FROM members m
LEFT JOIN settlements s ON s.txn_id = ?
LEFT JOIN institutions i ON i.code = ?
LEFT JOIN withdrawn_txns w ON w.txn_id = ?
WHERE m.id = ?"""
_ENTRY = "INSERT INTO journal_entries (kind, txn_id, created_at) VALUES (?, ?, ?)"
_LEGS = "INSERT INTO journal_legs (entry_id, account, amount) VALUES (?, ?, ?)"
_SETTLEMENT = """
INSERT INTO settlements (txn_id, member_id, institution, visit_time, payload_hash, request,
  result, state_before, entry_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_SAVE = "UPDATE members SET state = ?, account_balance = ?, last_visit = ? WHERE id = ?"


@dataclass(frozen=True, slots=True)
class MemberRow:
    id: str
    region: str
    status: str
    last_visit: datetime | None
    profile: str  # JSON text: parsed once per distinct record (settlement.member_record)
    state: list[int]
    account_balance: int


@dataclass(frozen=True, slots=True)
class Done:
    payload_hash: str
    result: dict


@dataclass(frozen=True, slots=True)
class Institution:
    level: str
    designated: bool
    kind: str


class Driver:
    def __init__(self, conn: Connection):
        self.pg = conn.dialect.name == "postgresql"
        self.cur = conn.connection.dbapi_connection.cursor()

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.pg else text

    def lock(
        self, member_id: str, txn_id: str, institution: str | None
    ) -> tuple[MemberRow, Done | None, Institution | None, bool] | None:
        """The member's row, locked (on SQLite the transaction holds the write lock), with
        the settlement already made under `txn_id`, the registry's institution, if any, and
        whether `txn_id` was withdrawn (reversed before it arrived)."""
        sql = _LOCK.format(profile="m.profile::text" if self.pg else "m.profile")
        sql += " FOR UPDATE OF m" if self.pg else ""
        self.cur.execute(self._sql(sql), (txn_id, institution, txn_id, member_id))
        r = self.cur.fetchone()
        if r is None:
            return None
        row = MemberRow(r[0], r[1], r[2], _time(r[3]), r[4], _json(r[5]), r[6])
        done = None if r[7] is None else Done(r[7], _json(r[8]))
        known = None if r[9] is None else Institution(r[9], bool(r[10]), r[11])
        return row, done, known, r[12] is not None

    def post(self, kind: str, txn_id: str, moves: list[tuple[str, int]]) -> int:
        """One balanced journal entry (as journal.post, which holds the rule)."""
        from gongji.ledger.journal import LedgerError

        moves = [(account, amount) for account, amount in moves if amount]
        if sum(amount for _, amount in moves) != 0:
            raise LedgerError(f"unbalanced entry {kind} {txn_id}: {moves}")
        values = (kind, txn_id, _text_time(datetime.now()))
        if self.pg:
            self.cur.execute(self._sql(_ENTRY + " RETURNING id"), values)
            entry_id = self.cur.fetchone()[0]
        else:
            self.cur.execute(_ENTRY, values)
            entry_id = self.cur.lastrowid
        if moves:
            self.cur.executemany(self._sql(_LEGS), [(entry_id, a, m) for a, m in moves])
        return entry_id

    def record(
        self,
        txn_id: str,
        member_id: str,
        institution: str,
        visit_time: datetime,
        digest: str,
        request: str,
        result: dict,
        state_before: engine.YearState,
        entry_id: int,
    ) -> None:
        self.cur.execute(
            self._sql(_SETTLEMENT),
            (
                txn_id,
                member_id,
                institution,
                _text_time(visit_time),
                digest,
                request,
                _dump(result),
                _dump(list(state_before.slots)),
                entry_id,
            ),
        )

    def save(self, member_id: str, state: engine.YearState, last_visit: datetime) -> None:
        from gongji.ledger.journal import LedgerError

        if state.account_balance < 0:
            raise LedgerError(f"account:{member_id} would go below zero")
        self.cur.execute(
            self._sql(_SAVE),
            (
                _dump(list(state.slots)),
                state.account_balance,
                _text_time(last_visit),
                member_id,
            ),
        )


def _dump(value: object) -> str:
    return orjson.dumps(value).decode()


def _json(value: object) -> object:
    return orjson.loads(value) if isinstance(value, str) else value


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _text_time(value: datetime) -> str:
    """The text SQLAlchemy's SQLite dialect stores a DateTime as (PostgreSQL parses it too)."""
    return value.isoformat(" ", "microseconds")
