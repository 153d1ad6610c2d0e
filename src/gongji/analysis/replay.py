"""Replay: a file of visits settled under a policy — the engine's rules, compiled, in batches.

    replay(visits.parquet, members, scenarios, out) -> per-visit results and aggregates

The visits may be CSV, amounts in yuan or fen, member ids text or whole numbers (inputs.py
says how a file says which); a weight per member (or one for all) makes a sample stand for
its population: every aggregate counts a member's visits and money that many times.

Visits are read as Arrow record batches in (member_id, time) order and turned into the
kernel's integer arguments (the same functions the online engine uses for facts, levels and
lines); `analysis/kernel.py` folds the engine's `settle_visit` over them, carrying each
member's state across batch boundaries. Every scenario (the baseline and a reform) is
settled from the same decoded batch. Memory is bounded by the batch size plus the members
table; nothing holds the whole file. Every visit settled is checked against the engine's
invariants of a visit's figures (engine/invariants.py); one broken raises InvariantError.

What it does not model: it settles visits only. A member's personal account starts at the
members file's `account_balance` and is only drawn down by visits: not credited monthly
(X-4), topped up by back-credits, reduced by premiums or closed; family mutual aid (XSBN-24)
is not modelled either (what a user's own account cannot pay of the in-scope share is cash
in the results, where the ledger draws it from the holder's account).

On two cores the stages overlap as a pipeline of threads: batches are read ahead, the next
one is decoded and the last one's results written while one is settled (the kernel's own
loop runs on both cores), and the compiled kernel loads while the members are read. What it
took to reach the throughput target (benchmarks/replay.py) is said where it is done: results
delta-encoded and uncompressed, batch buffers reused, OpenMP's idle workers not spinning.

results.parquet per scenario, one row per visit in the visits file's order:
    visit_id, member_id (both as the files give them), policy_version, status ("" settled,
    else the engine's error code: E_NO_POLICY, E_CATEGORY; never for the state's size),
    member_class, deductible, fund_pay, account_pay, cash_pay, account_balance (after the
    visit; fen)
"""

import sys
import time
from collections import deque, namedtuple
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gongji import engine
from gongji.analysis import columns as cols
from gongji.analysis import inputs, schema
from gongji.analysis import kernel as K
from gongji.analysis.aggregate import Aggregates, reform_effect
from gongji.analysis.aggregates_file import AggregatesFile
from gongji.engine import jit
from gongji.engine import layout as L
from gongji.engine.facts import (
    NO_DAY,
    PERIOD_FACTS,
    PERIOD_STRIDE,
    day_number,
    day_of,
    institution_key,
    item_key,
    member_bits,
)
from gongji.engine.invariants import INVARIANTS, InvariantError
from gongji.engine.settle import settled_level
from gongji.engine.state import grown, kept
from gongji.errors import InputError
from gongji.policy.schema import Pack
from gongji.terms import Category, Level, MemberType

Visits = namedtuple(
    "Visits",
    "member when inst item bits total in_scope level prescription category disease",
)
# A member's recognised diseases: ids (into MemberTable.disease_names) at
# disease_ids[disease_lo[m]:disease_hi[m]].
Members = namedtuple(
    "Members",
    "bits retiree retired_from limited lo hi periods type disease_lo disease_hi disease_ids"
    " balance weight",
)
# A batch's lookup tables, by day (days since 1970 minus first_day) and by code; `counted`
# (the member's recognised diseases a growing cap counts) at [counting[version], member],
# `disease_id` the member diseases' id of each disease code of the batch (-1: none's).
Lookups = namedtuple(
    "Lookups",
    "first_day version month year_start line level exception counting counted disease_id",
)
Results = namedtuple("Results", "version status klass deductible fund account cash balance")
# Every column is filled for every visit (not nullable: no definition levels to write).
RESULTS = pa.schema(
    [
        pa.field(name, kind, nullable=False)
        for name, kind in (
            ("visit_id", pa.int64()),
            ("member_id", pa.int64()),
            ("policy_version", pa.dictionary(pa.int32(), pa.string())),
            ("status", pa.dictionary(pa.int32(), pa.string())),
            ("member_class", pa.dictionary(pa.int32(), pa.string())),
            ("deductible", pa.int64()),
            ("fund_pay", pa.int64()),
            ("account_pay", pa.int64()),
            ("cash_pay", pa.int64()),
            ("account_balance", pa.int64()),
        )
    ]
)
# The same, where the members' ids are text: the visits' ids as they were given.
RESULTS_TEXT_IDS = RESULTS.set(1, pa.field("member_id", pa.string(), nullable=False))


def results_schema(visit_ids: pa.DataType, text_members: bool) -> pa.Schema:
    """results.parquet's columns, visit and member ids as the files give them (whole
    numbers or text: the kernel never reads a visit id, it is written back as it came)."""
    kind = RESULTS_TEXT_IDS if text_members else RESULTS
    return kind.set(0, pa.field("visit_id", visit_ids, nullable=False))


BATCH_ROWS = 1 << 18  # rows a batch: big enough to amortise; a quarter million lets a
# million-visit file flow through the pipeline (read, decode, settle, write overlap) rather
# than go through it as one batch, stage after stage
READ_AHEAD = 4  # batches read ahead of the one decoded
WRITE_BEHIND = 3  # batches settled and not yet written (the writer is one thread)
CHUNKS = 8  # chunks a batch is cut into for the threads (cut at member boundaries)
DICTIONARY_COLUMNS = ("institution", "level", "category", "disease", "drug", "prescription_level")
BIT_FLAGS = ("designated", "remote", "manual", "third_party", "use_account")  # facts.visit_bits
_LEVEL = {lv.value: i for i, lv in enumerate(L.LEVELS)}
_CATEGORY = {c.value: i for i, c in enumerate(L.CATEGORIES)}
# Coded columns, in decode_rows' order: what a dictionary value becomes (-1: unknown).
CODED = {
    "institution": lambda name: institution_key(name) if name is not None else -1,
    "drug": item_key,
    "level": lambda name: _LEVEL.get(name, -1),
    "category": lambda name: _CATEGORY.get(name, -1),
    "prescription_level": lambda name: L.N_LEVELS if name is None else _LEVEL.get(name, -1),
}
Decoding = namedtuple("Decoding", "member codes bits disease")
# What the rules read of a member (not the descriptive columns).
MEMBER_COLUMNS = pa.schema([f for f in schema.MEMBERS if f.name not in schema.DESCRIPTIVE])
REQUIRED = tuple(f.name for f in schema.VISITS if not f.nullable)
_BEFORE_ALL = -(1 << 62)
# The dictionaries of the results' status and member_class columns (indexed by the codes).
STATUS_VALUES = cols.texts([L.STATUS_CODES[s] for s in range(len(L.STATUS_CODES))])
CLASS_VALUES = cols.texts([c.value for c in L.CLASSES])


class Buffers:
    """Sets of int64 arrays for a batch's rows, reused once given back: fresh memory costs a
    page fault per 4 KB on first touch (a tenth of a replay's time). Taken by one thread,
    given back by any."""

    def __init__(self, width: int):
        self.width = width
        self._free: list[list[np.ndarray]] = []

    def take(self, n: int) -> list[np.ndarray]:
        arrays = self._free.pop() if self._free else None
        if arrays is None or len(arrays[0]) < n:
            arrays = [np.empty(max(n, BATCH_ROWS), np.int64) for _ in range(self.width)]
        return [a[:n] for a in arrays]

    def give(self, arrays: Iterable[np.ndarray]) -> None:
        """Arrays from `take`, no longer read: their memory serves a later batch."""
        self._free.append([a if a.base is None else a.base for a in arrays])


@dataclass
class ReplayPolicy:
    """A scenario of the replay: the policy to replay under (the region's pack, or a reform
    of it) by name, and its versions compiled to the kernel's arrays."""

    name: str
    pack: Pack
    overrides: dict[str, str] = field(default_factory=dict)
    pack_file: str | None = None

    def __post_init__(self) -> None:
        tables = engine.compile_pack(self.pack)
        self.tables = tables
        self.params = np.array([t.params for t in tables], dtype=np.int64)
        self.version_ids = [t.version_id for t in tables]
        self._days: dict[int, int] = {}
        # line of (version, category, special-exception disease?, the disease among the
        # member's recognised ones?), -1 where not paid
        self.lines = np.array(
            [
                [
                    [[_line(t, c, flag, known) for known in (0, 1)] for flag in (0, 1)]
                    for c in L.CATEGORIES
                ]
                for t in tables
            ],
            dtype=np.int64,
        )
        # the versions' sets of diseases a growing cap does not count, and each version's
        self.not_counted = list(dict.fromkeys(t.not_counted for t in tables))
        self.counting = np.array(
            [self.not_counted.index(t.not_counted) for t in tables], dtype=np.int64
        )
        # level a visit settles at, by (version, level, prescribing level or none)
        self.levels = np.array(
            [[[_level(t, lv, pl) for pl in (*L.LEVELS, None)] for lv in L.LEVELS] for t in tables],
            dtype=np.int64,
        )

    def versions(self, first: int, last: int) -> np.ndarray:
        """The version in force on each day first..last (days since 1970), -1 outside all."""
        return np.array([self._version(d) for d in range(first, last + 1)], dtype=np.int64)

    def _version(self, day: int) -> int:
        if day not in self._days:
            i = self.pack.version_index_on(day_of(day))
            self._days[day] = -1 if i is None else i
        return self._days[day]

    def exception_flags(self, diseases: list[str | None]) -> np.ndarray:
        """(version, disease code) -> the disease is paid on the special-exception line."""
        return np.array(
            [[d in t.exception_diseases for d in diseases] for t in self.tables], dtype=np.int64
        ).reshape(len(self.tables), len(diseases))

    def counted(self, members: "MemberTable") -> np.ndarray:
        """Per set of not-counted diseases (`counting`), how many of each member's recognised
        diseases a growing cap counts (engine.Tables.counted)."""
        out = np.empty((len(self.not_counted), len(members.ids)), np.int64)
        m = members.arrays
        owner = np.repeat(np.arange(len(members.ids)), m.disease_hi - m.disease_lo)
        for k, names in enumerate(self.not_counted):
            # (and a last False for a null code, -1)
            skipped = np.array([n in names for n in [*members.disease_names, None]], dtype=bool)
            uncounted = np.bincount(owner[skipped[m.disease_ids]], minlength=len(members.ids))
            out[k] = m.disease_hi - m.disease_lo - uncounted
        return out


def _level(tables: engine.Tables, level: Level, prescription_level: Level | None) -> int:
    return L.LEVELS.index(settled_level(tables, level, prescription_level))


def _line(tables: engine.Tables, category: Category, exception: int, recognised: int) -> int:
    disease = next(iter(tables.exception_diseases), None) if exception else None
    if exception and disease is None:
        return -1  # no exception diseases: never asked for
    line = tables.line_for(category, disease)
    return -1 if line is None else tables.routes[line][recognised]


class MemberTable:
    """The members file as the kernel's arrays, indexed by row (sorted by member_id)."""

    @classmethod
    def read(
        cls, path: Path, weight: "int | str | None" = None, pack: Pack | None = None
    ) -> "MemberTable":
        """`weight`: the members a member stands for, all alike (a whole number) or each
        its own (the name of a column of the file); None: each stands for itself. `pack`:
        whose rule says which members have an account where the file does not."""
        extra = [weight] if isinstance(weight, str) else []
        if inputs.is_csv(path):
            return cls(inputs.members_csv(path, extra), weight, pack)
        return cls(_read_checked(path, MEMBER_COLUMNS, "members", extra), weight, pack)

    def __init__(
        self, table: pa.Table, weight: "int | str | None" = None, pack: Pack | None = None
    ):
        # ids given as text are kept (`names`, sorted) and the kernel compares their rows
        self.names: pa.Array | None = None
        if pa.types.is_string(table.schema.field("member_id").type):
            table = _by_text_id(table)
            self.names = cols.combined(table.column("member_id"))
            self.ids = np.arange(table.num_rows, dtype=np.int64)
        else:
            if (np.diff(cols.values(table.column("member_id"))) < 0).any():
                table = table.sort_by("member_id")  # generated files are sorted already
            self.ids = _owned(table.column("member_id"))
        if len(self.ids) and (np.diff(self.ids) == 0).any():
            dup = self.ids[np.flatnonzero(np.diff(self.ids) == 0)[0]]
            raise InputError("members.member_id", f"member {dup} appears twice")
        self.weight = weight
        self.weights = _weights(table, weight)
        self.types = _codes(table.column("type"), L.MEMBER_TYPES, "members.type")
        self.accounts = _accounts(table, self.types, pack)
        diseases = table.column("chronic_diseases").combine_chunks()
        encoded = pc.dictionary_encode(diseases.flatten())
        self.disease_names: list[str] = encoded.dictionary.to_pylist()
        self.disease_index = {name: i for i, name in enumerate(self.disease_names)}
        self._disease_ids = cols.filled(encoded.indices, -1)  # (fill_null loads pandas)
        self._disease_counts = _lengths(diseases)
        self.arrays = self._arrays(table)

    def _arrays(self, table: pa.Table) -> Members:
        lo, hi, flat = _periods(table)
        retired = table.column("retired_from").cast(pa.int32())  # days since 1970
        # the engine's member_bits of each of the four (has account, raised) pairs
        pairs = np.array([member_bits(a, r) for a in (False, True) for r in (False, True)])
        pair = 2 * self.accounts + _bools(table.column("contribution_raised"))
        return Members(
            bits=pairs[pair],
            retiree=(self.types == L.MEMBER_TYPES.index(MemberType.retiree)).astype(np.int64),
            retired_from=cols.filled(retired, NO_DAY),
            limited=cols.valid(table.column("benefit_periods")).astype(np.int64),
            lo=lo,
            hi=hi,
            periods=flat,
            type=self.types,
            disease_lo=np.cumsum(self._disease_counts) - self._disease_counts,
            disease_hi=np.cumsum(self._disease_counts),
            disease_ids=np.array(self._disease_ids, dtype=np.int64),
            balance=_balances(table),
            weight=self.weights,
        )

    def id_column(self, rows: np.ndarray) -> pa.Array:
        """The ids of members (by id, or by row where the ids are text) as the files give
        them: int64 or text."""
        ids = cols.numbers(rows, pa.int64())
        return ids if self.names is None else self.names.take(ids)

    def weighted(self) -> bool:
        return self.weight is not None


def _by_text_id(table: pa.Table) -> pa.Table:
    """Members with text ids, sorted by them (as text: the order visits must be in), the
    same id twice refused."""
    table = table.sort_by("member_id")
    ids = cols.combined(table.column("member_id"))
    if ids.null_count:
        raise InputError("members.member_id", f"missing in row {cols.first_null(ids)}")
    if len(ids) > 1:
        same = cols.values(pc.equal(ids[1:], ids[:-1]))
        if same.any():
            dup = ids[int(np.flatnonzero(same)[0])].as_py()
            raise InputError("members.member_id", f"member {dup!r} appears twice")
    return table


def _accounts(table: pa.Table, types: np.ndarray, pack: Pack | None) -> np.ndarray:
    """Whether each member has a personal account (1/0): as the file says, else (the
    column left out or a cell empty) by the member's type, the rule the ledger and
    `gongji calculate` apply (model.has_account): no account for the pack's
    without_account types."""
    given = cols.combined(table.column("has_account"))
    if not given.null_count:
        return _bools(given)
    by_type = _account_by_type(pack)[types]
    accounts = np.where(cols.valid(given), _bools(given), by_type)
    if (accounts < 0).any():
        member = table.column("member_id")[int(np.flatnonzero(accounts < 0)[0])].as_py()
        kind = L.MEMBER_TYPES[types[np.flatnonzero(accounts < 0)[0]]].value
        region = pack.region if pack else "the region"
        raise InputError(
            "members.has_account",
            f"必填 required for member {member!r}: whether a {kind} member has an account"
            f" in {region} depends on the contribution tier (give has_account)",
        )
    return accounts


def _account_by_type(pack: Pack | None) -> np.ndarray:
    """Per member type (L.MEMBER_TYPES' order): 1 has an account, 0 has none (the pack's
    without_account), -1 the type alone does not say (the pack credits only some tiers of
    it, PZH-4a, or its versions differ): the file must."""
    out = np.full(len(L.MEMBER_TYPES), -1, np.int64)
    if pack is None:
        return out
    for i, kind in enumerate(L.MEMBER_TYPES):
        said = set()
        for version in pack.versions:
            credit = getattr(version.crediting, kind.value, None)
            if kind in version.accounts.without_account:
                said.add(0)
            else:  # a tiered credit: the member's tier decides (model.has_account)
                said.add(-1 if credit is not None and credit.tiers is not None else 1)
        out[i] = said.pop() if len(said) == 1 else -1
    return out


def _weights(table: pa.Table, weight: "int | str | None") -> np.ndarray:
    """The members each member stands for: one number for all (1 or more), or a column of
    whole numbers, 0 or more (a member of weight 0 counts in no aggregate)."""
    n = table.num_rows
    if weight is None or not isinstance(weight, str):
        factor = 1 if weight is None else weight
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
            raise InputError("weight", f"must be a whole number ≥ 1 or a column, not {factor!r}")
        return np.full(n, factor, np.int64)
    column = table.column(weight)
    if not pa.types.is_integer(column.type):
        raise InputError(f"members.{weight}", f"weights must be whole numbers, not {column.type}")
    if column.null_count:
        raise InputError(f"members.{weight}", f"missing in row {cols.first_null(column)}")
    weights = cols.filled(column, 0)
    if len(weights) and weights.min() < 0:
        member = table.column("member_id")[int(np.flatnonzero(weights < 0)[0])]
        raise InputError(f"members.{weight}", f"member {member}'s must not be negative")
    return weights


def _balances(table: pa.Table) -> np.ndarray:
    """The members' opening account balances (fen; none given: 0), never negative: a
    personal account cannot be overdrawn (the ledger's store refuses it too)."""
    balance = cols.filled(table.column("account_balance"), 0)
    if len(balance) and balance.min() < 0:
        member = table.column("member_id")[int(np.flatnonzero(balance < 0)[0])]
        raise InputError("members.account_balance", f"member {member}'s must not be negative")
    return balance


def _periods(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every member's dated periods as `facts.visit_facts` reads them: rows of (fact bit,
    first day, last day), a member's rows together; (lo, hi, flat) with member i's rows at
    flat[lo[i]:hi[i]] (the encoding of `facts.periods_flat`, built a column at a time)."""
    n = table.num_rows
    owners, rows = [], []
    for name, bit in PERIOD_FACTS:
        column = cols.combined(table.column(name))
        lengths = _lengths(column)
        spans = column.flatten()
        start = cols.values(spans.field("start").cast(pa.int32()))
        end = cols.values(spans.field("end").cast(pa.int32()))
        owners.append(np.repeat(np.arange(n), lengths))
        rows.append(np.column_stack([np.full(len(start), bit), start, end]).astype(np.int64))
    owner = np.concatenate(owners)
    order = np.argsort(owner, kind="stable")
    flat = np.concatenate(rows)[order].ravel()
    count = np.bincount(owner, minlength=n) * PERIOD_STRIDE
    hi = np.cumsum(count)
    return hi - count, hi, flat


def _owned(column) -> np.ndarray:
    """A column as a writable int64 array of its own. Arrow's memory is read-only: to numba
    a read-only and a writable array are two types, and a second type is a second
    compilation; the members' arrays are always writable (`cols.filled`)."""
    return cols.filled(column, 0)


def _lengths(column) -> np.ndarray:
    return cols.filled(pc.list_value_length(column), 0)


def _bools(column) -> np.ndarray:
    return cols.filled(column, 0)  # null: false


def _read_checked(path: Path, expected: pa.Schema, what: str, extra=()) -> pa.Table:
    """The file's columns named in `expected`, which they must match (and the `extra` ones).
    Read by its ParquetFile: `pq.read_table` goes through pyarrow.dataset, a third of a
    second to load."""
    if not path.is_file():
        raise InputError(what, f"no such file: {path}")
    f = pq.ParquetFile(path)
    got = f.schema_arrow
    missing = [name for name in extra if name not in got.names]
    _check_schema(got, expected, what, missing)
    names = [n for n in [*expected.names, *extra] if n in got.names]
    table = f.read(columns=names)
    if pa.types.is_large_string(table.schema.field("member_id").type):
        table = table.set_column(0, "member_id", table.column("member_id").cast(pa.string()))
    for name in UNKNOWN_IF_MISSING:  # left out: decided by the member's type (_accounts)
        if name in expected.names and name not in got.names:
            table = table.append_column(name, pa.nulls(table.num_rows, expected.field(name).type))
    return table


# Columns whose type may differ from the schema's: member ids may be text (the members'
# and the visits' alike), amounts are read by inputs.py
_LOOSE = (*inputs.IDS, *inputs.AMOUNTS)
# A members file may leave these out (a visits file: schema.OPTIONAL)
UNKNOWN_IF_MISSING = ("has_account",)


def _check_schema(got: pa.Schema, expected: pa.Schema, what: str, missing=()) -> None:
    """The columns' types; every required column missing (and the `missing` ones the caller
    found) named in one error."""
    missing = [*missing]
    missing[:0] = [
        f.name
        for f in expected
        if got.get_field_index(f.name) < 0 and f.name not in (*inputs.AMOUNTS, *UNKNOWN_IF_MISSING)
    ]  # an amount may be under its name in fen (inputs.check_columns)
    if missing:
        raise inputs.missing_columns(what, missing)
    for f in expected:
        i = got.get_field_index(f.name)
        if i < 0:
            continue
        kind = got.field(i).type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if f.name in _LOOSE:
            continue
        if pa.types.is_timestamp(kind) and pa.types.is_timestamp(f.type) and kind.tz is None:
            continue  # Parquet keeps seconds as milliseconds; any unit is read as seconds
        if kind != f.type and not (pa.types.is_large_string(kind) and f.type == pa.string()):
            raise InputError(f"{what}.{f.name}", f"must be {f.type}, not {kind}")


def _codes(column, values: list, where: str) -> np.ndarray:
    """Dictionary codes of a string column, as indices into `values`."""
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    encoded = cols.combined(encoded)
    if encoded.null_count:
        raise InputError(f"{where}", f"missing in row {cols.first_null(encoded)}")
    names = encoded.dictionary.to_pylist()
    known = {str(v): i for i, v in enumerate(values)}
    bad = [n for n in names if n not in known]
    if bad:
        raise InputError(where, f"unknown value {bad[0]!r} (known: {', '.join(known)})")
    table = np.array([known[n] for n in names], dtype=np.int64)
    return table[cols.values(encoded.indices)]


@dataclass
class Decoded:
    """One batch of visits as the kernel's columns, before any policy is applied."""

    first_row: int
    visit_id: pa.Array | None  # int64 or text, as given; not read for aggregates only
    member_id: np.ndarray
    visits: Visits | None  # None once settled: its arrays serve the next batches
    buffers: list[np.ndarray] | None  # those of its arrays that are the decoder's buffers
    first_day: int
    last_day: int
    disease_names: list[str | None]


class Decoder:
    """Record batches of visits -> `Decoded`; input the engine cannot take (out of order,
    amounts, unknown members or codes) raises InputError naming the row and field."""

    def __init__(self, members: MemberTable):
        self.members = members
        self.rows = 0
        self.last = (_BEFORE_ALL, _BEFORE_ALL)  # (member_id, time) of the previous row
        self.buffers = Buffers(3 + len(CODED))  # Decoding's arrays
        self._days: dict[int, tuple[int, int]] = {}

    def decode(self, batch: pa.RecordBatch) -> Decoded:
        first = self.rows
        self.rows += batch.num_rows
        for name in REQUIRED:
            if name not in batch.schema.names:
                continue  # not read (visit_id, for aggregates only)
            col = batch.column(name)
            if col.null_count:
                raise InputError(f"visits[{first + cols.first_null(col)}].{name}", "missing")
        member_id = inputs.member_ids(
            cols.combined(batch.column("member_id")), self.members.names, first
        )
        when = _seconds(batch.column("time"), first)
        total = cols.values(batch.column("total"))
        in_scope = cols.values(batch.column("in_scope"))
        columns = [_dictionary(batch.column(name)) for name in CODED]
        tables = tuple(
            self._table(name, names) for name, (*_, names) in zip(CODED, columns, strict=True)
        )
        disease_codes, disease_nulls, disease_names = _dictionary(batch.column("disease"))
        n = batch.num_rows
        member, bits, disease, *codes = self.buffers.take(n)
        out = Decoding(member, tuple(codes), bits, disease)
        flags = tuple(cols.packed(batch.column(f)) for f in BIT_FLAGS)
        row, reason = K.compiled()["decode_rows"](
            member_id,
            when,
            total,
            in_scope,
            np.array(self.last, np.int64),
            self.members.ids,
            tuple(codes for codes, _, _ in columns),
            tuple(nulls for _, nulls, _ in columns),
            tables,
            flags,
            (disease_codes, disease_nulls, len(disease_names) - 1),
            out,
        )
        if reason:
            self._refuse(first + row, reason, batch, row)
        if n:
            self.last = (int(member_id[-1]), int(when[-1]))
        inst, item, level, category, prescription = out.codes
        visits = Visits(
            member=out.member,
            when=when,
            inst=inst,
            item=item,
            bits=out.bits,
            total=total,
            in_scope=in_scope,
            level=level,
            prescription=prescription,
            category=category,
            disease=out.disease,
        )
        return Decoded(
            first_row=first,
            visit_id=cols.combined(batch.column("visit_id"))
            if "visit_id" in batch.schema.names
            else None,
            member_id=member_id,
            visits=visits,
            buffers=[member, bits, disease, *codes],
            # (the first and last seconds' days: a day array of the batch is a pass more)
            first_day=int(when.min()) // L.SECONDS_PER_DAY if n else 0,
            last_day=int(when.max()) // L.SECONDS_PER_DAY if n else 0,
            disease_names=disease_names,
        )

    def settled(self, d: Decoded) -> None:
        """The batch is settled: its buffers serve a later batch."""
        self.buffers.give(d.buffers)
        d.visits = d.buffers = None

    def _table(self, column: str, names: list[str | None]) -> np.ndarray:
        """What each dictionary value of a coded column becomes (-1: not a known value)."""
        return np.array([CODED[column](n) for n in names], dtype=np.int64)

    def _refuse(self, at: int, reason: int, batch, row: int) -> None:
        if reason == K.BAD_ORDER:
            raise InputError(
                f"visits[{at}]", "visits must be sorted by member_id, then time (sort the file)"
            )
        if reason == K.BAD_TOTAL:
            raise InputError(f"visits[{at}].total", "must not be negative")
        if reason == K.BAD_IN_SCOPE:
            raise InputError(f"visits[{at}].in_scope", "must be between 0 and total")
        if reason == K.BAD_MEMBER:
            member = batch.column("member_id")[row].as_py()
            raise InputError(f"visits[{at}].member_id", f"member {member} not in members")
        name = list(CODED)[reason - K.BAD_CODE]
        value = batch.column(name)[row].as_py()
        known = ", ".join(v.value for v in (L.CATEGORIES if name == "category" else L.LEVELS))
        raise InputError(f"visits[{at}].{name}", f"unknown value {value!r} (known: {known})")

    def calendar(self, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """(year * 12 + month - 1, 1 January's day) of each day first..last."""
        days = [self._day(d) for d in range(first, last + 1)]
        table = np.array(days, dtype=np.int64).reshape(len(days), 2)
        months = table[:, 0] - K.MONTH_BASE
        if len(months) and (months.min() < 0 or months.max() >= K.N_MONTHS):
            raise InputError("visits.time", "must fall between 2000 and 2099")
        return table[:, 0].copy(), table[:, 1].copy()

    def _day(self, d: int) -> tuple[int, int]:
        if d not in self._days:
            t = day_of(d)
            self._days[d] = (t.year * 12 + t.month - 1, day_number(date(t.year, 1, 1)))
        return self._days[d]


def _seconds(column, first: int) -> np.ndarray:
    try:
        return cols.values(column.cast(pa.timestamp("s")))
    except pa.ArrowInvalid:
        raise InputError(f"visits[{first}:].time", "must be whole seconds") from None


def _dictionary(column) -> tuple[np.ndarray, tuple[np.ndarray, int], list[str | None]]:
    """(codes, nulls, names) of a nullable string column: its dictionary indices and their
    validity bits (`cols.validity`) read in place, and the values with
    None last, the code the kernel gives a null (kernel.code_of). Read in place: int64
    copies with their nulls filled cost a fifth of the decoder's time."""
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    encoded = cols.combined(encoded)
    indices = encoded.indices
    if indices.type != pa.int32():  # one type for the kernel (numba compiles per type)
        indices = indices.cast(pa.int32())
    return cols.values(indices), cols.validity(indices), [*encoded.dictionary.to_pylist(), None]


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Run:
    """One scenario's replay: its member-state carry between batches and its aggregates.
    `say`: where a line for the person waiting goes (the kernel for grown states compiling)."""

    def __init__(
        self, scenario: ReplayPolicy, members: MemberTable, say: Callable[[str], None] = _to_stderr
    ):
        self.scenario = scenario
        self.say = say
        self._grown_ready = False  # the kernel for grown states is loaded, or said to compile
        self.members = members
        self.carry = np.zeros(L.S_SIZE, np.int64)
        self.carry_member = -1
        self.aggregates = Aggregates(len(members.ids))
        self._trace = jit.empty_trace()
        self.buffers = Buffers(len(Results._fields))  # results are given back when read
        self.counted = scenario.counted(members)

    def settle(self, d: Decoded, calendar: tuple[np.ndarray, np.ndarray]) -> Results:
        s = self.scenario
        n = len(d.member_id)
        lookups = Lookups(
            first_day=d.first_day,
            version=s.versions(d.first_day, d.last_day),
            month=calendar[0],
            year_start=calendar[1],
            line=s.lines,
            level=s.levels,
            exception=s.exception_flags(d.disease_names),
            counting=s.counting,
            counted=self.counted,
            disease_id=np.array(
                [self.members.disease_index.get(n, -1) for n in d.disease_names], dtype=np.int64
            ),
        )
        results = Results(*self.buffers.take(n))
        member = d.visits.member
        sums = np.zeros((CHUNKS + 1, K.N_ROWS, K.N_MEASURES), np.int64)
        broken = np.zeros((CHUNKS + 1, 2), np.int64)  # (row, invariant) per chunk
        parts = Parts(s.params, lookups, d.visits, self.members.arrays, results, self)
        start, carry, carry_member = 0, self.carry, self.carry_member
        if len(carry) > L.S_SIZE:  # a grown state carried in: its member's visits first
            start = int(np.searchsorted(member, carry_member, side="right"))
            carry = parts.member(0, start, carry, sums[-1], broken[-1])
            carry_member = -1
        bounds = start + _chunks(member[start:], CHUNKS)
        last = np.zeros((len(bounds) - 1, L.S_SIZE), np.int64)
        stopped = np.full(len(bounds) - 1, -1, np.int64)
        # chunks handed out one at a time: a thread the reader or decoder holds up does not
        # hold the batch up (equal shares per thread waited for the slowest)
        with numba.parallel_chunksize(1):
            K.compiled()["replay_chunks"](
                s.params,
                lookups,
                bounds,
                carry,
                carry_member,
                d.visits,
                self.members.arrays,
                results,
                last,
                sums,
                self.aggregates.out_of_pocket,
                broken,
                stopped,
                self._trace,
            )
        final = carry if len(bounds) == 1 else last[-1]
        for k in np.flatnonzero(stopped >= 0):  # rare: a member the state had no room for
            end = parts.rest(int(stopped[k]), int(bounds[k + 1]), last[k], sums[k], broken[k])
            final = end if k == len(bounds) - 2 else final
        broken = broken[np.argsort(np.where(broken[:, 1] != 0, broken[:, 0], n))]
        if broken[0, 1]:
            row, invariant = broken[0]
            raise InvariantError(f"visits[{d.first_row + row}]: {INVARIANTS[invariant]}")
        if n:
            self.carry = np.array(final, np.int64)
            self.carry_member = int(member[-1])
        self.aggregates.sums += sums.sum(axis=0)
        self.aggregates.rows += n
        return results

    @contextmanager
    def grown_kernel(self):
        """Around a use of the kernel for grown states (Parts): its first use after install
        compiles it, seconds under the progress bar, when a member's state first grows
        (more open windows or items than a state keeps): said, with how long it took."""
        compiling = not (self._grown_ready or K.cached(grown=True))
        self._grown_ready = True
        if compiling:
            self.say(K.COMPILING_GROWN)
        start = time.perf_counter()
        yield
        if compiling:
            self.say(K.compiled_in(time.perf_counter() - start))

    def to_batch(self, d: Decoded, r: Results) -> pa.RecordBatch:
        """A batch's results as rows of results.parquet, over the results' own memory."""
        ids = cols.texts([*self.scenario.version_ids, ""])
        version = np.where(r.version < 0, len(ids) - 1, r.version)
        return pa.record_batch(
            {
                "visit_id": d.visit_id,
                "member_id": self.members.id_column(d.member_id),
                "policy_version": _coded(version, ids),
                "status": _coded(r.status, STATUS_VALUES),
                "member_class": _coded(r.klass, CLASS_VALUES),
                "deductible": cols.numbers(r.deductible, pa.int64()),
                "fund_pay": cols.numbers(r.fund, pa.int64()),
                "account_pay": cols.numbers(r.account, pa.int64()),
                "cash_pay": cols.numbers(r.cash, pa.int64()),
                "account_balance": cols.numbers(r.balance, pa.int64()),
            },
            schema=results_schema(d.visit_id.type, self.members.names is not None),
        )


@dataclass
class Parts:
    """Settles a batch's visits past where a chunk stopped (kernel.settle_chunk): a member
    whose state had no room for a visit, with their state grown (engine/state.py), then the
    chunk's other members, with states of the common size."""

    params: np.ndarray
    lookups: "Lookups"
    visits: "Visits"
    members: tuple
    results: "Results"
    run: "Run"

    def _chunk(self, lo, hi, carry, carried, S, sums, broken) -> int:
        with self.run.grown_kernel():
            return K.compiled(grown=True)["settle_chunk"](
                self.params, self.lookups, lo, hi, carry, carried, self.visits, self.members,
                self.results, S, S.copy(), sums, self.run.aggregates.out_of_pocket, broken,
                self.run._trace,
            )  # fmt: skip

    def member(self, lo: int, hi: int, state: np.ndarray, sums, broken) -> np.ndarray:
        """Visits [lo, hi) of one member, from `state` (before visit lo), growing it as often
        as they need; the member's state after them."""
        S = np.array(state, np.int64)
        while lo < hi:
            lo = self._chunk(lo, hi, S.copy(), int(self.visits.member[lo]), S, sums, broken)
            if lo < 0:
                break
            S = np.array(grown(S, 2 * kept(S)), np.int64)  # S: the state before visit lo
        return S

    def rest(self, at: int, hi: int, state: np.ndarray, sums, broken) -> np.ndarray:
        """A chunk's visits [at, hi) after it stopped at `at` (`state`: the state before it);
        the chunk's final state."""
        member = self.visits.member
        while True:
            end = at + int(np.searchsorted(member[at:hi], member[at], side="right"))
            state = self.member(at, end, state, sums, broken)
            if end == hi:
                return state
            state = np.zeros(L.S_SIZE, np.int64)
            at = self._chunk(end, hi, state, -1, state, sums, broken)
            if at < 0:
                return state


def _coded(codes: np.ndarray, dictionary: pa.Array) -> pa.DictionaryArray:
    indices = cols.numbers(codes.astype(np.int32), pa.int32())
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def _chunks(member: np.ndarray, k: int) -> np.ndarray:
    """Chunk bounds for `k` threads, each cut at a member boundary."""
    n = len(member)
    targets = np.linspace(0, n, k + 1).astype(np.int64)[1:-1]
    cuts = np.searchsorted(member, member[np.minimum(targets, max(n - 1, 0))]) if n else targets
    bounds = np.concatenate(([0], cuts, [n])).astype(np.int64)  # in order: members sorted
    # each once (not np.unique: its first call imports numpy.ma, a tenth of a second)
    return bounds[np.concatenate(([True], bounds[1:] != bounds[:-1]))]


def read_batches(path: Path, rows: int = BATCH_ROWS, ids: bool = True) -> Iterator[pa.RecordBatch]:
    """The visits file's batches (without visit_id unless `ids`: aggregates need none), in
    the shape inputs.py gives every file (amounts in fen, a CSV's too)."""
    columns = [c for c in schema.VISITS.names if ids or c != "visit_id"]
    if inputs.is_csv(path):
        yield from inputs.csv_batches(path, columns)
        return
    f = visits_file(path)
    first = 0
    for batch in f.iter_batches(batch_size=rows, columns=source_columns(f, columns)):
        yield inputs.shaped(batch, first)
        first += batch.num_rows


def source_columns(f: pq.ParquetFile, columns: list[str]) -> list[str]:
    return inputs.source_columns(f.schema_arrow.names, columns)


def visits_file(path: Path) -> pq.ParquetFile:
    if not path.is_file():
        raise InputError("visits", f"no such file: {path}")
    got = pq.read_schema(path)  # (read_dictionary naming a column it lacks: a KeyError)
    inputs.check_columns(got.names, {n: got.field(n).type for n in inputs.IDS if n in got.names})
    _check_schema(got, schema.VISITS, "visits")
    return pq.ParquetFile(path, read_dictionary=DICTIONARY_COLUMNS)


def check_visits(path: Path) -> None:
    """The visits file is there and has the columns the replay reads (else InputError)."""
    if inputs.is_csv(path):
        next(inputs.csv_batches(path, ["member_id"], block=1 << 16), None)
    else:
        visits_file(path)


def replay_batches(
    batches: Iterable[pa.RecordBatch], members: MemberTable, runs: list[Run], ahead: bool = False
) -> Iterator[tuple[Decoded, list[Results]]]:
    """For each batch of visits: the decoded batch and each run's results. Shared by the
    single-process replay and the Spark one (each Spark partition calls it). `ahead`: read
    and decode the next batch in a thread while this one is settled."""
    decoder = Decoder(members)
    decoded = (decoder.decode(batch) for batch in batches)
    for d in Ahead(decoded) if ahead else decoded:
        calendar = decoder.calendar(d.first_day, d.last_day)
        settled = [run.settle(d, calendar) for run in runs]
        decoder.settled(d)
        yield d, settled


def load_kernel(visits: Path, scenario: ReplayPolicy) -> None:
    """Decode and settle no visits: in a new process the compiled kernel's first use loads it
    from numba's cache (half a second), which can go on while the files are read. The empty
    columns have the types of the real ones, so no other version of the kernel is compiled."""
    check_visits(visits)
    # every file's batches come out with these types where the kernel reads them
    columns = schema.VISITS
    empty = pa.RecordBatch.from_arrays([pa.nulls(0, f.type) for f in columns], schema=columns)
    members = MemberTable(pa.table([pa.nulls(0, f.type) for f in MEMBER_COLUMNS], MEMBER_COLUMNS))
    decoder = Decoder(members)
    Run(scenario, members).settle(decoder.decode(empty), decoder.calendar(0, -1))


def visit_count(path: Path) -> int:
    return inputs.csv_rows(path) if inputs.is_csv(path) else pq.ParquetFile(path).metadata.num_rows


def replay(
    visits: Path,
    members: Path,
    scenarios: list[ReplayPolicy],
    out: Path,
    progress: Callable[[int], None] = lambda rows: None,
    batch_rows: int = BATCH_ROWS,
    results: bool = True,
    weight: int | str | None = None,
    say: Callable[[str], None] = _to_stderr,
) -> dict:
    """Settle every visit under each scenario: out/<scenario>/results.parquet (unless
    `results` is False: aggregates only) and out/aggregates.json (returned). The next batch
    is read and decoded and the last one's results are written while a batch is settled (a
    pipeline of threads; the members load while the first batch is read). Results take
    their names only when the whole file has been replayed: bad input midway leaves no
    results that look complete. `say`: where a line for the person waiting goes (Run)."""
    if not visits.is_file():
        raise InputError("visits", f"no such file: {visits}")
    # the first batches are read while the members and the kernel load
    batches = Ahead(read_batches(visits, batch_rows, ids=results), depth=READ_AHEAD)
    with ThreadPoolExecutor(1) as pool:
        loading = pool.submit(load_kernel, visits, scenarios[0])
        try:
            table = MemberTable.read(members, weight, scenarios[0].pack)
            loading.result()
        except BaseException:
            batches.close()
            raise
    runs = [Run(s, table, say) for s in scenarios]
    paths = [out / s.name / "results.parquet" for s in scenarios] if results else []
    out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
    writers: list[pq.ParquetWriter] = []  # opened at the first batch: its ids' types
    finished = False
    try:
        with ThreadPoolExecutor(1) as pool:  # one thread: batches are written in order
            pending: deque = deque()
            for d, settled in replay_batches(batches, table, runs, ahead=True):
                if len(pending) == WRITE_BEHIND:
                    pending.popleft().result()
                if paths and not writers:
                    kind = results_schema(d.visit_id.type, table.names is not None)
                    writers = [results_writer(_partial(p), kind) for p in paths]
                if writers:
                    pending.append(pool.submit(_write, writers, runs, d, settled))
                else:
                    _done(runs, settled)
                progress(len(d.member_id))
            for written in pending:
                written.result()
        finished = True
    finally:
        batches.close()
        if paths and not writers:  # no visits: empty results, ids as a visits file's
            kind = results_schema(pa.int64(), table.names is not None)
            writers = [results_writer(_partial(p), kind) for p in paths]
        for writer, path in zip(writers, paths, strict=True):
            writer.close()
            if finished:
                _partial(path).replace(path)
            else:
                _partial(path).unlink()
    aggregates = summary(visits, table, runs)
    write_aggregates(out, aggregates)
    return aggregates


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def _write(writers: list[pq.ParquetWriter], runs: list[Run], d: Decoded, settled) -> None:
    for writer, run, results in zip(writers, runs, settled, strict=True):
        writer.write_batch(run.to_batch(d, results))
    _done(runs, settled)


def _done(runs: list[Run], settled: list[Results]) -> None:
    for run, results in zip(runs, settled, strict=True):
        run.buffers.give(results)


class Ahead:
    """The items of an iterable, the next `depth` fetched in a thread (from creation on)
    while the caller works on this one. Stages of a pipeline: Ahead(decode(b) for b in
    Ahead(read))."""

    _END = object()

    def __init__(self, items: Iterable, depth: int = 1):
        self._items = iter(items)
        self._pool = ThreadPoolExecutor(1)  # one thread: the items are fetched in order
        self._next = deque(self._fetch() for _ in range(depth))

    def _fetch(self):
        return self._pool.submit(next, self._items, self._END)

    def __iter__(self) -> "Ahead":
        return self

    def __next__(self):
        item = self._next.popleft().result()
        if item is self._END:
            self.close()
            raise StopIteration
        self._next.append(self._fetch())
        return item

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


def write_aggregates(out: Path, aggregates: dict) -> None:
    """out/aggregates.json, as `AggregatesFile` describes it (and `gongji report` reads it)."""
    AggregatesFile.model_validate(aggregates).write(out)


def results_writer(path: Path, kind: pa.Schema = RESULTS) -> pq.ParquetWriter:
    # Dictionaries where values repeat; the integers delta-encoded, which packs ids that
    # climb and amounts of a few digits into a quarter of their bytes about as fast as they
    # are copied, and no compression on top (it cost more than the rules did).
    dictionary = [f.name for f in kind if pa.types.is_dictionary(f.type)]
    numbers = {f.name: "DELTA_BINARY_PACKED" for f in kind if pa.types.is_integer(f.type)}
    return pq.ParquetWriter(
        path,
        kind,
        compression="none",
        use_dictionary=dictionary,
        column_encoding=numbers,
        write_statistics=False,
    )


def summary(visits: Path, members: MemberTable, runs: list[Run]) -> dict:
    """aggregates.json's document. Every scenario after the first (the baseline) says how
    its members' out-of-pocket differs from the baseline's (`reform_effect`)."""
    weights = members.weights if members.weighted() else None
    base = runs[0].aggregates
    out = {
        "region": runs[0].scenario.pack.region,
        "visits_file": str(visits),
        "visit_count": base.rows,
        "scenarios": {
            run.scenario.name: {
                "policy": run.scenario.version_ids,
                "overrides": run.scenario.overrides,
                "pack_file": run.scenario.pack_file,
                **run.aggregates.summary(members.types, weights),
                **(
                    {"versus_baseline": reform_effect(base, run.aggregates, members.types, weights)}
                    if run is not runs[0]
                    else {}
                ),
            }
            for run in runs
        },
    }
    if members.weighted():  # a whole number for all, or the members file's column
        w = members.weight
        out["weight"] = f"members.{w}" if isinstance(w, str) else str(w)
    return out
