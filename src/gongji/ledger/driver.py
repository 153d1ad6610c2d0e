"""A batch of settlements' own statements, on the database driver's cursor.

Settling is the ledger's hot path. Per statement, SQLAlchemy's execution machinery cost
about as much as the rest of a settlement together (profile: 55% of its CPU), and on
PostgreSQL every statement is a round trip; so a batch of settlements talks to the driver
directly, inside the transaction SQLAlchemy opened:

- one `prefetch` reads, for the whole batch, the members (locked, in id order, so two
  batches never deadlock on each other), the settlements already made under the batch's
  transaction ids, the registry's institutions and the withdrawn transaction ids;
- each settlement's writes (journal entry, legs, settlement, member) are then one statement
  on PostgreSQL (data-modifying CTEs) and four cheap ones on SQLite (in-process, no round
  trips).

Everything else uses SQLAlchemy Core. SQL is written with `?` markers (turned into `%s` for
psycopg); JSON and timestamps are sent as text, which both stores accept.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

import orjson
from sqlalchemy import Connection

from gongji import engine
from gongji.ledger.journal import balanced
from gongji.ledger.members import check_balance

_MEMBERS = """
SELECT id, region, status, last_visit, {profile}, state, account_balance
FROM members WHERE id IN ({marks}) ORDER BY id"""
_DONE = "SELECT txn_id, payload_hash, result FROM settlements WHERE txn_id IN ({marks})"
_INSTITUTIONS = "SELECT code, level, designated, kind FROM institutions WHERE code IN ({marks})"
_WITHDRAWN = "SELECT txn_id FROM withdrawn_txns WHERE txn_id IN ({marks})"

_ENTRY = "INSERT INTO journal_entries (kind, txn_id, created_at) VALUES (?, ?, ?)"
_LEGS = "INSERT INTO journal_legs (entry_id, account, amount) VALUES (?, ?, ?)"
_SETTLEMENT = """
INSERT INTO settlements (txn_id, member_id, institution, visit_time, payload_hash, request,
  result, state_before, entry_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_SAVE = "UPDATE members SET state = ?, account_balance = ?, last_visit = ? WHERE id = ?"

# PostgreSQL: the four writes in one statement (one round trip).
_WRITE_PG = """
WITH e AS (
  INSERT INTO journal_entries (kind, txn_id, created_at)
  VALUES ('settle', %s, %s::timestamp) RETURNING id
), l AS (
  INSERT INTO journal_legs (entry_id, account, amount)
  SELECT e.id, v.account, v.amount FROM e, unnest(%s::text[], %s::bigint[]) AS v(account, amount)
), s AS (
  INSERT INTO settlements (txn_id, member_id, institution, visit_time, payload_hash, request,
    result, state_before, entry_id)
  SELECT %s, %s, %s, %s::timestamp, %s, %s::json, %s::json, %s::json, e.id FROM e
)
UPDATE members SET state = %s::json, account_balance = %s, last_visit = %s::timestamp
WHERE id = %s"""


@dataclass(frozen=True, slots=True)
class MemberRow:
    id: str
    region: str
    status: str
    last_visit: datetime | None
    profile: str  # JSON text: parsed once per distinct record
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
    """Use as a context manager around the batch: on PostgreSQL it runs in pipeline mode, so
    the batch's writes go out without waiting for each other's answers; leaving it waits for
    them all (and raises if any failed) before the transaction commits."""

    def __init__(self, conn: Connection):
        self.pg = conn.dialect.name == "postgresql"
        self.raw = conn.connection.dbapi_connection
        self.cur = self.raw.cursor()
        self._pipeline = None
        self._profile = "profile::text" if self.pg else "profile"  # JSON text on both
        self.members: dict[str, MemberRow] = {}
        self.done: dict[str, Done] = {}
        self.institutions: dict[str, Institution] = {}
        self.withdrawn: set[str] = set()

    def __enter__(self) -> "Driver":
        if self.pg:
            self._pipeline = self.raw.pipeline()
            self._pipeline.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._pipeline is not None:
            pipeline, self._pipeline = self._pipeline, None
            pipeline.__exit__(*exc)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Out of pipeline mode for statements made through SQLAlchemy (which reads a
        result's shape as soon as it executes)."""
        if self._pipeline is None:
            yield
            return
        self.__exit__(None, None, None)
        try:
            yield
        finally:
            self.__enter__()

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.pg else text

    def _send(self, template: str, keys: set[str], **fill: str):
        """Send a query over `keys` on a cursor of its own (its rows are read later, so
        in pipeline mode several queries share one round trip)."""
        if not keys:
            return None
        cur = self.raw.cursor()
        marks = ", ".join("?" * len(keys))
        cur.execute(self._sql(template.format(marks=marks, **fill)), sorted(keys))
        return cur

    def prefetch(self, requests: list[tuple[str, str, str | None]]) -> None:
        """(txn_id, member_id, institution) of each request: read (and lock) what the batch
        needs, in four statements (one round trip on PostgreSQL)."""
        txn_ids = {t for t, _, _ in requests}
        lock = " FOR UPDATE" if self.pg else ""
        sent = [
            self._send(_MEMBERS + lock, {m for _, m, _ in requests}, profile=self._profile),
            self._send(_DONE, txn_ids),
            self._send(_INSTITUTIONS, {i for _, _, i in requests if i is not None}),
            self._send(_WITHDRAWN, txn_ids),
        ]
        members, done, known, withdrawn = (c.fetchall() if c else [] for c in sent)
        for r in members:
            self._keep(r)
        for r in done:
            self.done[r[0]] = Done(r[1], _json(r[2]))
        for r in known:
            self.institutions[r[0]] = Institution(r[1], bool(r[2]), r[3])
        self.withdrawn |= {r[0] for r in withdrawn}

    def write(
        self,
        row: MemberRow,
        txn_id: str,
        institution: str,
        visit_time: datetime,
        digest: str,
        request: str,
        result: dict,
        moves: list[tuple[str, int]],
        state_before: engine.YearState,
        state: engine.YearState,
    ) -> None:
        """The settlement's journal entry (balanced), its record, and the member's new state;
        the batch's view of the member and of the transaction id follows."""
        moves = balanced("settle", txn_id, moves)
        check_balance(row.id, state)
        now, at = _text_time(datetime.now()), _text_time(visit_time)
        before, after = _dump(list(state_before.slots)), _dump(list(state.slots))
        answer = _dump(result)
        if self.pg:
            accounts, amounts = [a for a, _ in moves], [m for _, m in moves]
            self.cur.execute(
                _WRITE_PG,
                (txn_id, now, accounts, amounts, txn_id, row.id, institution, at, digest, request,
                 answer, before, after, state.account_balance, at, row.id),
            )  # fmt: skip
        else:
            self.cur.execute(_ENTRY, ("settle", txn_id, now))
            entry_id = self.cur.lastrowid
            self.cur.executemany(_LEGS, [(entry_id, a, m) for a, m in moves])
            self.cur.execute(
                _SETTLEMENT,
                (txn_id, row.id, institution, at, digest, request, answer, before, entry_id),
            )
            self.cur.execute(_SAVE, (after, state.account_balance, at, row.id))
        self.members[row.id] = replace(
            row,
            state=list(state.slots),
            account_balance=state.account_balance,
            last_visit=visit_time,
        )
        self.done[txn_id] = Done(digest, result)

    def reload(self, member_id: str) -> None:
        """Read a member again whose row changed outside the batch's view (mutual aid took
        from the holder's account)."""
        self.members.pop(member_id, None)
        for r in self._send(_MEMBERS, {member_id}, profile=self._profile).fetchall():
            self._keep(r)

    def _keep(self, r: tuple) -> None:
        self.members[r[0]] = MemberRow(r[0], r[1], r[2], _time(r[3]), r[4], _json(r[5]), r[6])


def _dump(value: object) -> str:
    return orjson.dumps(value).decode()


def _json(value: object) -> object:
    return orjson.loads(value) if isinstance(value, str) else value


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _text_time(value: datetime) -> str:
    """The text SQLAlchemy's SQLite dialect stores a DateTime as (PostgreSQL parses it too)."""
    return value.isoformat(" ", "microseconds")
