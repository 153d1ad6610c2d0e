"""A batch of settlements' own statements, on the database driver's cursor.

Settling is the ledger's hot path. Per statement, SQLAlchemy's execution machinery cost
about as much as the rest of a settlement together (profile: 55% of its CPU), and on
PostgreSQL every statement is a round trip; so a batch of settlements talks to the driver
directly, inside the transaction SQLAlchemy opened:

- one `prefetch` reads, for the whole batch, the members (locked, in id order, so two
  batches never deadlock on each other), the settlements already made under the batch's
  transaction ids, the registry's institutions and the withdrawn transaction ids;
- the settlements' writes (journal entries, legs, settlements, members) are then, on
  PostgreSQL, one statement for the whole batch (data-modifying CTEs over arrays, sent when
  the batch ends or before a statement made outside the driver), and on SQLite four cheap
  statements a settlement (in-process, no round trips).

Everything else uses SQLAlchemy Core. SQL is written with `?` markers (turned into `%s` for
psycopg); JSON and timestamps are sent as text, which both stores accept.
"""

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import NamedTuple

import orjson
from orjson import Fragment
from sqlalchemy import Connection

from gongji import engine
from gongji.engine import layout as L
from gongji.engine.use import Use
from gongji.ledger.answer import Settled
from gongji.ledger.journal import balanced
from gongji.ledger.members import check_balance

_MEMBERS = """
SELECT id, region, status, last_visit, CAST(profile AS TEXT), state, account_balance
FROM members WHERE id IN ({marks}) ORDER BY id"""
_DONE = "SELECT txn_id, payload_hash, result FROM settlements WHERE txn_id IN ({marks})"
_INSTITUTIONS = """
SELECT code, level, designated, kind, region, agreement FROM institutions
WHERE code IN ({marks})"""
_WITHDRAWN = "SELECT txn_id FROM withdrawn_txns WHERE txn_id IN ({marks})"
# the active settlements of the batch's visits, by their institutions and visit ids (a row
# of another pair of the two lists is a visit's active settlement all the same)
_VISITS = """
SELECT institution, visit_id, txn_id, payload_hash, result FROM settlements
WHERE cancel_entry_id IS NULL AND institution IN ({institutions}) AND visit_id IN ({ids})"""
_BINDINGS = """
SELECT user_id, holder_id, valid_from, valid_to FROM family_bindings
WHERE user_id IN ({marks}) ORDER BY id"""

# Every lookup by key is `= ANY(ARRAY(...))`: the planner guesses 100 rows for a set from
# JSON and then scans a whole table (the members, in a city hundreds of thousands) rather
# than its index; an array of keys it looks up by index. A visit, keyed by two columns, is
# looked up pair by pair (LATERAL): with an array for each column the planner, on its
# guesses (a table not yet analyzed), used the index for the institution alone and read
# every settlement the institution ever made (19 ms a batch after 20,000, growing with its
# history; test_visit_paid_once). `LIMIT 1` (a visit has one active settlement:
# uq_settlements_active_visit) keeps the planner from making the pairs a hash join over the
# institution's settlements.
# PostgreSQL: the reads in one statement, the keys and the rows as JSON; the members and
# their family account holders locked together in id order — by code point (COLLATE "C"),
# as Python sorts the ids where a cancel or a binding locks several members — so no two
# transactions ever deadlock on each other, whatever the database's collation.
PREFETCH_PG = """
WITH k AS (SELECT %s::json AS j),
u AS (SELECT json_array_elements_text(j->'members') AS id FROM k),
b AS (SELECT id, user_id, holder_id, valid_from, valid_to FROM family_bindings
  WHERE user_id = ANY(ARRAY(SELECT id FROM u))),
m AS (
  SELECT id, region, status, last_visit, profile::text AS profile, state, account_balance
  FROM members WHERE id = ANY(ARRAY(SELECT id FROM u UNION SELECT holder_id FROM b))
  ORDER BY id COLLATE "C" FOR UPDATE
), t AS (SELECT json_array_elements_text(j->'txns') AS txn_id FROM k)
SELECT json_build_object(
  'bindings', (SELECT json_agg(json_build_array(user_id, holder_id, valid_from, valid_to)
    ORDER BY id) FROM b),
  'members', (SELECT json_agg(json_build_array(id, region, status, last_visit, profile, state,
    account_balance) ORDER BY id) FROM m),
  'done', (SELECT json_agg(json_build_array(txn_id, payload_hash, result)) FROM settlements
    WHERE txn_id = ANY(ARRAY(SELECT txn_id FROM t))),
  'institutions', (SELECT json_agg(json_build_array(code, level, designated, kind, region,
    agreement))
    FROM institutions
    WHERE code = ANY(ARRAY(SELECT json_array_elements_text(j->'institutions') FROM k))),
  'withdrawn', (SELECT json_agg(json_build_array(txn_id)) FROM withdrawn_txns
    WHERE txn_id = ANY(ARRAY(SELECT txn_id FROM t))),
  'visits', (SELECT json_agg(json_build_array(s.institution, s.visit_id, s.txn_id,
    s.payload_hash, s.result)) FROM k, json_array_elements(k.j->'visits') x,
    LATERAL (SELECT * FROM settlements WHERE cancel_entry_id IS NULL
      AND institution = x->>0 AND visit_id = x->>1 LIMIT 1) s)
)::text"""

_ENTRY = "INSERT INTO journal_entries (kind, txn_id, created_at) VALUES (?, ?, ?)"
_LEGS = "INSERT INTO journal_legs (entry_id, account, amount) VALUES (?, ?, ?)"
_SETTLEMENT = """
INSERT INTO settlements (txn_id, member_id, institution, visit_id, visit_time, payload_hash,
  request, result, state_before, consumed, entry_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
# a late claim in a year the rollover closed adds what it consumed to the year's kept
# accumulators (a year the member's own visits rolled past keeps none)
_YEAR_USE = """
INSERT INTO year_accumulators (member_id, year, pool, fund_paid, deductible_met)
SELECT ?, ?, ?, ?, ? WHERE EXISTS (
  SELECT 1 FROM year_accumulators WHERE member_id = ? AND year = ?)
ON CONFLICT (member_id, year, pool) DO UPDATE SET
  fund_paid = year_accumulators.fund_paid + excluded.fund_paid,
  deductible_met = year_accumulators.deductible_met + excluded.deductible_met"""
# a member's settlements of a year, for a late claim's starting state (in processing order)
_YEAR_SETTLEMENTS = """
SELECT id, txn_id, institution, visit_time, request, state_before, consumed, entry_id,
  cancel_entry_id
FROM settlements WHERE member_id = ? AND visit_time >= ? AND visit_time < ? ORDER BY id"""
_SAVE = "UPDATE members SET state = ?, account_balance = ?, last_visit = ? WHERE id = ?"

# PostgreSQL: the batch's writes in one statement (one round trip, one parse), from JSON
# documents (the server reads them in C; arrays of JSON text cost psycopg a regex an element):
# one a table, each read once — the type json is text, and each `->` on it parses the whole
# (one document for all, read five times, was a third of the statement's time); `n` keeps the
# ids in the order the settlements were made.
WRITE_PG = """
WITH v AS (
  SELECT * FROM json_to_recordset(%(settlements)s::json) AS v(n int, txn_id text, member_id text,
    institution text, visit_id text, visit_time timestamp, payload_hash text, request json,
    result json, state_before json, consumed json)
), e AS (
  INSERT INTO journal_entries (kind, txn_id, created_at)
  SELECT 'settle', txn_id, %(now)s::timestamp FROM v ORDER BY n
  RETURNING id, txn_id
), l AS (
  INSERT INTO journal_legs (entry_id, account, amount)
  SELECT e.id, g.account, g.amount
  FROM json_to_recordset(%(legs)s::json) AS g(n int, txn_id text, account text, amount bigint)
  JOIN e USING (txn_id) ORDER BY g.n
), s AS (
  INSERT INTO settlements (txn_id, member_id, institution, visit_id, visit_time, payload_hash,
    request, result, state_before, consumed, entry_id)
  SELECT v.txn_id, v.member_id, v.institution, v.visit_id, v.visit_time, v.payload_hash,
    v.request, v.result, v.state_before, v.consumed, e.id
  FROM v JOIN e USING (txn_id) ORDER BY v.n
), u AS (
  SELECT * FROM json_to_recordset(%(members)s::json) AS u(id text, state json, balance bigint,
    at timestamp)
)
UPDATE members m SET state = u.state, account_balance = u.balance, last_visit = u.at
FROM u WHERE m.id = u.id AND m.id = ANY(ARRAY(SELECT id FROM u))"""


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
    result: Settled


class StoredSettlement(NamedTuple):
    """A settlement as a late claim reads it (JSON and times as the store returns them)."""

    id: int
    txn_id: str
    institution: str
    visit_time: object
    request: object
    state_before: object
    consumed: object
    entry_id: int
    cancel_entry_id: int | None


@dataclass(frozen=True, slots=True)
class Paid:
    """A visit's active settlement: a visit (institution, visit id) is paid once."""

    txn_id: str
    payload_hash: str
    result: Settled


Key = tuple[str, str, str | None, str | None]  # (txn_id, member_id, institution, visit id)


@dataclass(frozen=True, slots=True)
class Binding:
    holder: str
    valid_from: date
    valid_to: date | None  # None: until ended

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True, slots=True)
class Institution:
    level: str
    designated: bool  # for outpatient pooling
    kind: str
    region: str
    agreement: bool  # designated (定点): the account may pay there


class Driver:
    """Use as a context manager around the batch, and end a batch to keep with `commit`. On
    PostgreSQL it runs in pipeline mode: the prefetch is one round trip, and the batch's
    writes go out with the COMMIT in another.

    Without a connection (`Driver()`), it is the batch's view alone, for a caller that does
    the PostgreSQL I/O itself (the service, over an asyncio connection): `keys` and `found`
    around PREFETCH_PG, `writes` for WRITE_PG."""

    def __init__(self, conn: Connection | None = None):
        self.pg = conn is None or conn.dialect.name == "postgresql"
        self.raw = None if conn is None else conn.connection.dbapi_connection
        self.cur = None if conn is None else self.raw.cursor()
        self._pipeline = None
        self.members: dict[str, MemberRow] = {}
        self.done: dict[str, Done] = {}
        self.institutions: dict[str, Institution] = {}
        self.withdrawn: set[str] = set()
        self.visits: dict[tuple[str, str], Paid] = {}  # (institution, visit id) -> its settlement
        self.bindings: dict[str, list[Binding]] = {}  # user -> the holders it is bound to
        # PostgreSQL: what `flush` sends — the settlements, their legs, each member's newest
        # state — as the rows of its JSON document
        self._settlements: list[dict] = []
        self._legs: list[dict] = []
        self._members: dict[str, dict] = {}

    def __enter__(self) -> "Driver":
        if self.pg:
            self._pipeline = self.raw.pipeline()
            self._pipeline.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._pipeline is not None:
            pipeline, self._pipeline = self._pipeline, None
            pipeline.__exit__(*exc)

    def commit(self) -> None:
        """Write the batch and commit it (on PostgreSQL, one round trip for both; the
        enclosing SQLAlchemy transaction then finds nothing left to commit)."""
        self.flush()
        self.raw.commit()

    def prefetch(self, requests: list[Key]) -> None:
        """(txn_id, member_id, institution, visit id) of each request: read (and lock) what
        the batch needs, the members' family bindings and holders and the visits' active
        settlements included, so that settling the batch reads nothing more — one statement
        on PostgreSQL, six on SQLite."""
        if self.pg:
            self.cur.execute(PREFETCH_PG, (self.keys(requests),))
            self.found(self.cur.fetchone()[0])
            return
        keys = orjson.loads(self.keys(requests))
        bindings = self._rows(_BINDINGS, keys["members"])
        holders = {r[1] for r in bindings}
        members = self._rows(_MEMBERS, sorted(set(keys["members"]) | holders))
        done = self._rows(_DONE, keys["txns"])
        known = self._rows(_INSTITUTIONS, keys["institutions"])
        withdrawn = self._rows(_WITHDRAWN, keys["txns"])
        visits = self._visit_rows(keys["visits"])
        self._load(bindings, members, done, known, withdrawn, visits)

    @staticmethod
    def keys(requests: list[Key]) -> str:
        """PREFETCH_PG's parameter: the batch's members, transaction ids, institutions and
        visits."""
        keys = {
            "members": sorted({m for _, m, _, _ in requests}),
            "txns": sorted({t for t, _, _, _ in requests}),
            "institutions": sorted({i for _, _, i, _ in requests if i is not None}),
            "visits": sorted({(i, v) for _, _, i, v in requests if i is not None and v}),
        }
        return orjson.dumps(keys).decode()

    def found(self, document: str) -> None:
        """PREFETCH_PG's answer (one JSON text) into the batch's view."""
        found = orjson.loads(document)
        kinds = ("bindings", "members", "done", "institutions", "withdrawn", "visits")
        self._load(*(found[k] or [] for k in kinds))

    def _load(self, bindings, members, done, known, withdrawn, visits) -> None:
        for r in members:
            self._keep(r)
        for r in bindings:
            self.bindings.setdefault(r[0], []).append(Binding(r[1], _day(r[2]), _day(r[3])))
        for r in done:
            self.done[r[0]] = Done(r[1], Settled.from_document(from_json(r[2])))
        for r in known:
            self.institutions[r[0]] = Institution(r[1], bool(r[2]), r[3], r[4], bool(r[5]))
        self.withdrawn |= {r[0] for r in withdrawn}
        for r in visits:
            self.visits[(r[0], r[1])] = Paid(r[2], r[3], Settled.from_document(from_json(r[4])))

    def _rows(self, template: str, keys: list[str]) -> list:
        if not keys:
            return []
        marks = ", ".join("?" * len(keys))
        sql = template.format(marks=marks)
        self.cur.execute(sql.replace("?", "%s") if self.pg else sql, keys)
        return self.cur.fetchall()

    def _visit_rows(self, pairs: list[list[str]]) -> list:
        if not pairs:
            return []
        institutions, ids = sorted({p[0] for p in pairs}), sorted({p[1] for p in pairs})
        sql = _VISITS.format(
            institutions=", ".join("?" * len(institutions)), ids=", ".join("?" * len(ids))
        )
        self.cur.execute(sql, [*institutions, *ids])
        return self.cur.fetchall()

    @property
    def reads(self) -> bool:
        """Whether the batch can read beyond its prefetch (not over the service's async
        connection, whose I/O its caller does)."""
        return self.cur is not None

    def settlements_in(
        self, member_id: str, year: int, before: timedelta = timedelta(0)
    ) -> list[StoredSettlement]:
        """The member's settlements of `year` (and of the time `before` it), cancelled ones
        too, in processing order (what this batch wrote before included: on PostgreSQL it is
        sent first)."""
        self.flush()
        sql = _YEAR_SETTLEMENTS.replace("?", "%s") if self.pg else _YEAR_SETTLEMENTS
        bounds = (datetime(year, 1, 1) - before, datetime(year + 1, 1, 1))
        self.cur.execute(sql, (member_id, *(b if self.pg else _text_time(b) for b in bounds)))
        return [StoredSettlement(*r) for r in self.cur.fetchall()]

    def add_to_year(self, member_id: str, use: Use) -> None:
        """A closed year's accumulators grow by a late claim's use."""
        sql = _YEAR_USE.replace("?", "%s") if self.pg else _YEAR_USE
        for p, pool in enumerate(L.POOL_NAMES):
            annual, _, met = use.pool(p)
            if annual or met:
                self.cur.execute(sql, (member_id, use.year, pool, annual, met, member_id, use.year))

    def holders(self, user_id: str, day: date) -> list[str]:
        """The account holders `user_id` is bound to on `day`, in the order they bound it."""
        return [b.holder for b in self.bindings.get(user_id, ()) if b.covers(day)]

    def move(self, row: MemberRow, amount: int) -> None:
        """Add `amount` (negative: take) to a member's account, in the batch's view and its
        writes (mutual aid: the holder's account)."""
        state = engine.YearState(tuple(row.state))
        state = state.with_balance(state.account_balance + amount)
        check_balance(row.id, state)
        self._save(row, state, row.last_visit)

    def write(
        self,
        row: MemberRow,
        txn_id: str,
        institution: str,
        visit_id: str,
        visit_time: datetime,
        digest: str,
        request: str,
        result: Settled,
        moves: list[tuple[str, int]],
        state_before: engine.YearState,
        state: engine.YearState,
        use: Use,
        last_visit: datetime,
    ) -> None:
        """The settlement's journal entry (balanced), its record with what it consumed, and
        the member's new state; the batch's view of the member and of the transaction id
        follows."""
        moves = balanced("settle", txn_id, moves)
        check_balance(row.id, state)
        now, at = _text_time(datetime.now()), _text_time(visit_time)
        before, answer = _dump(list(state_before.slots)), _dump(result.document())
        consumed = _dump(use.document())
        if self.pg:
            self._settlements.append(
                {"n": len(self._settlements), "txn_id": txn_id, "member_id": row.id,
                 "institution": institution, "visit_id": visit_id, "visit_time": at,
                 "payload_hash": digest,
                 "request": Fragment(request), "result": Fragment(answer),
                 "state_before": Fragment(before), "consumed": Fragment(consumed)}
            )  # fmt: skip
            self._legs += [
                {"n": n, "txn_id": txn_id, "account": a, "amount": m}
                for n, (a, m) in enumerate(moves, len(self._legs))
            ]
        else:
            self.cur.execute(_ENTRY, ("settle", txn_id, now))
            entry_id = self.cur.lastrowid
            self.cur.executemany(_LEGS, [(entry_id, a, m) for a, m in moves])
            self.cur.execute(
                _SETTLEMENT,
                (txn_id, row.id, institution, visit_id, at, digest, request, answer, before,
                 consumed, entry_id),
            )  # fmt: skip
        self._save(row, state, last_visit)
        self.done[txn_id] = Done(digest, result)
        self.visits[(institution, visit_id)] = Paid(txn_id, digest, result)

    def _save(self, row: MemberRow, state: engine.YearState, last_visit: datetime | None):
        """A member's new state: in the batch's view, and written (PostgreSQL: at `flush`,
        the newest state of each member)."""
        after = _dump(list(state.slots))
        at = None if last_visit is None else _text_time(last_visit)
        if self.pg:
            self._members[row.id] = {
                "id": row.id, "state": Fragment(after), "balance": state.account_balance, "at": at
            }  # fmt: skip
        else:
            self.cur.execute(_SAVE, (after, state.account_balance, at, row.id))
        self.members[row.id] = replace(
            row, state=list(state.slots), account_balance=state.account_balance,
            last_visit=last_visit,
        )  # fmt: skip

    def flush(self) -> None:
        """PostgreSQL: send the settlements written so far, as one statement."""
        writes = self.writes()
        if writes is not None:
            self.cur.execute(WRITE_PG, writes)

    def writes(self) -> dict[str, str] | None:
        """PostgreSQL: WRITE_PG's parameters for what was written since the last call."""
        if not self._settlements:
            return None
        writes = {
            "settlements": _dump(self._settlements),
            "now": _text_time(datetime.now()),
            "legs": _dump(self._legs),
            "members": _dump(list(self._members.values())),
        }
        self._settlements, self._legs, self._members = [], [], {}
        return writes

    def _keep(self, r: tuple) -> None:
        self.members[r[0]] = MemberRow(r[0], r[1], r[2], as_time(r[3]), r[4], from_json(r[5]), r[6])


def _dump(value: object) -> str:
    return orjson.dumps(value).decode()


def from_json(value: object) -> object:
    """A JSON column's value as stored (SQLite gives text, PostgreSQL parsed JSON)."""
    return orjson.loads(value) if isinstance(value, str) else value


def _day(value: object) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def as_time(value: object) -> datetime | None:
    """A timestamp column's value (SQLite gives ISO text)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _text_time(value: datetime) -> str:
    """The text SQLAlchemy's SQLite dialect stores a DateTime as (PostgreSQL parses it too)."""
    return value.isoformat(" ", "microseconds")
