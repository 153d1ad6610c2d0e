"""The replay's input files as it reads them: Parquet or CSV, amounts in fen or in yuan,
member and visit ids as whole numbers or as text. Every batch of visits comes out in one
shape (schema.VISITS' columns, amounts int64 fen; member_id and visit_id int64 or string: a
CSV's visit ids are whole numbers where its first block's all are), and a members CSV as
the columns of members.parquet, so the rest of the replay sees one kind of file. Columns
missing are named all in one error.

Which unit an amount is in is said by the column, not guessed from its values:

    total_fen, in_scope_fen   whole fen (分), in either format
    total, in_scope           CSV: yuan (元) as written, "1234.5", "1234.50", "80" (at most
                              two decimals); Parquet: int64 is fen (what `gongji generate`
                              writes), a string or decimal column is yuan
    (a members CSV's account_balance / account_balance_fen the same way)

A file holds one of the two names of each amount. CSV is text with a header row, in UTF-8
(with or without the BOM Excel writes) or GB18030/GBK (Excel's on Chinese Windows); times
as "2023-03-01 08:30:00" (or with a T), flags as true/false or 1/0, an empty cell is a
missing value (in visits allowed in disease, drug and prescription_level only, columns a
CSV may leave out; a members CSV's columns: below). A bad value is an InputError naming
the row (counted from 0, the header not counted) and the column.

Read through pyarrow's CSV and Parquet readers, no pandas and no pyarrow.dataset (each a
third of a second to import: the replay keeps its start-up quick).
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gongji.analysis import columns as cols
from gongji.analysis import schema
from gongji.errors import InputError
from gongji.money import MoneyError, to_fen

AMOUNTS = ("total", "in_scope")
FEN = "_fen"  # the suffix of an amount's column in fen
CSV_BLOCK = 16 << 20  # bytes of CSV parsed at once (about 150,000 visits)
_YUAN = pa.decimal128(18, 2)
_TEXT = (pa.string(), pa.large_string())
IDS = ("visit_id", "member_id")  # whole numbers or text, as the file has them


def is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def check_columns(names: list[str], kinds: dict[str, pa.DataType], what: str = "visits") -> None:
    """The file's columns are the ones the replay reads: each required one present (an
    amount under one of its two names; every one missing named in one error), of a type it
    takes (`kinds`: name -> type)."""
    missing = []
    for name in schema.VISITS.names:
        if name in AMOUNTS and not any(n in names for n in (name, name + FEN)):
            missing.append(f"{name} ({name}{FEN} in fen)")
        elif name in AMOUNTS:
            _amount_column(name, names, what)
        elif name not in names and name not in schema.OPTIONAL:
            missing.append(name)
    if missing:
        raise missing_columns(what, missing)
    for name, kind in kinds.items():
        if name in IDS and not (pa.types.is_integer(kind) or kind in _TEXT):
            raise InputError(f"{what}.{name}", f"must be whole numbers or text, not {kind}")


def missing_columns(what: str, names: list[str]) -> InputError:
    """One error naming every column a file lacks (Chinese first, as reason_zh reads it)."""
    return InputError(what, f"缺少的列：{'、'.join(n.split()[0] for n in names)}"
                      f" missing column(s): {', '.join(names)}")  # fmt: skip


def _amount_column(name: str, names: list[str], what: str) -> str:
    """The column an amount is read from: `name` or `name_fen`, exactly one of them."""
    both = [n for n in (name, name + FEN) if n in names]
    if not both:
        raise missing_columns(what, [f"{name} ({name}{FEN} in fen)"])
    if len(both) == 2:
        raise InputError(f"{what}.{name}", f"give {name} (yuan) or {name}{FEN} (fen), not both")
    return both[0]


def source_columns(names: list[str], wanted: list[str]) -> list[str]:
    """The file's names of the `wanted` canonical columns that it has."""
    out = []
    for name in wanted:
        if name in AMOUNTS:
            out.append(_amount_column(name, names, "visits"))
        elif name in names:
            out.append(name)
    return out


def csv_batches(path: Path, columns: list[str], block: int = CSV_BLOCK) -> Iterator[pa.RecordBatch]:
    """The CSV's rows as record batches of the canonical columns (see `shaped`)."""
    import pyarrow.csv as csv

    header, encoding = _header(path)
    check_columns(header, {})
    read = source_columns(header, columns)
    kinds = {n: _csv_type(n) for n in read}
    first, whole = 0, None  # whole: the visit ids are whole numbers (the first block says)
    try:  # opening reads the first block
        reader = csv.open_csv(
            path,
            read_options=csv.ReadOptions(block_size=block, encoding=encoding),
            convert_options=csv.ConvertOptions(
                column_types=kinds, include_columns=read, strings_can_be_null=True
            ),
        )
    except pa.ArrowInvalid as exc:
        raise _csv_error(exc, path, header, kinds) from None
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise _csv_error(exc, path, header, kinds) from None
        if "visit_id" in batch.schema.names:
            batch, whole = _visit_ids(batch, first, whole)
        yield shaped(batch, first)
        first += batch.num_rows


def _visit_ids(batch: pa.RecordBatch, first: int, whole: bool | None):
    """A CSV batch with its visit ids as whole numbers where the file's first block's all
    are (as `gongji generate` writes them), else as text (a HIS's "V1"); and which."""
    i = batch.schema.get_field_index("visit_id")
    ids = batch.column(i)
    if whole is None:
        whole = _converts(ids, pa.int64())
    if not whole:
        return batch, whole
    if not _converts(ids, pa.int64()):
        row = _first_bad_row(ids, pa.int64())
        raise InputError(f"visits[{first + row}].visit_id", f"{ids[row].as_py()!r}: the"
                         " file's first ids are whole numbers: give all as text or all as"
                         " numbers")  # fmt: skip
    return batch.set_column(i, "visit_id", ids.cast(pa.int64())), whole


def _header(path: Path, what: str = "visits") -> tuple[list[str], str]:
    """The header's column names, and the file's encoding: UTF-8 unless its first 64 KB
    are not (then GB18030, which GBK is part of)."""
    if not path.is_file():
        raise InputError(what, f"no such file: {path}")
    with path.open("rb") as f:
        start = f.read(1 << 16)
    try:
        start.decode("utf-8")
        encoding = "utf8"
    except UnicodeDecodeError as exc:
        encoding = "utf8" if exc.start > len(start) - 4 else "gb18030"  # a cut character
    line = start.split(b"\n", 1)[0].decode(
        "utf-8-sig" if encoding == "utf8" else encoding, "replace"
    )
    return [name.strip().strip('"') for name in line.rstrip("\r").split(",")], encoding


def _csv_type(name: str) -> pa.DataType:
    """What a CSV column is read as: text for ids, codes and yuan; the rest typed."""
    if name in (*AMOUNTS, *IDS):
        return pa.string()  # yuan are converted exactly here; ids are kept as given
    if name.endswith(FEN):
        return pa.int64()
    if name == "time":  # "08:30:00.000" too; a fraction of a second is refused later
        return pa.timestamp("ms")
    return schema.VISITS.field(name).type


def _csv_error(
    exc: pa.ArrowInvalid, path: Path, header: list[str], kinds: dict, what: str = "visits"
) -> InputError:
    """A value Arrow could not convert, named by row and column. Arrow's message names the
    column by its number ("In CSV column #2: ..."); the column is read again as text and the
    first value that does not convert found by halving (a few casts, not one per row)."""
    import re

    import pyarrow.csv as csv

    found = re.search(r"CSV column #(\d+)", str(exc))
    if not found or int(found[1]) >= len(header) or header[int(found[1])] not in kinds:
        return InputError(what, f"not a CSV file the replay reads: {exc}")
    name = header[int(found[1])]
    text = csv.read_csv(
        path,
        read_options=csv.ReadOptions(encoding=_header(path)[1]),
        convert_options=csv.ConvertOptions(
            column_types={name: pa.string()}, include_columns=[name], strings_can_be_null=True
        ),
    ).column(name)
    return _not_a(cols.combined(text), kinds[name], f"{what}[{{}}].{name}")


def _check_converts(column: pa.Array, kind: pa.DataType, where: str) -> None:
    """`column` casts to `kind`, else InputError at `where` (with {} for the row)."""
    if not _converts(column, kind):
        raise _not_a(column, kind, where)


def _not_a(column: pa.Array, kind: pa.DataType, where: str) -> InputError:
    row = _first_bad_row(column, kind)
    return InputError(where.format(row), f"{column[row].as_py()!r} is not a {_WHAT[kind.id]}")


def _first_bad_row(column: pa.Array, kind: pa.DataType) -> int:
    """The first value that does not cast to `kind`, found by halving (a few casts, not
    one per row); the column must hold one."""
    lo, hi = 0, len(column)  # the first bad value is in [lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _converts(column[lo:mid], kind):
            lo = mid
        else:
            hi = mid
    return lo


def _converts(column: pa.Array | pa.ChunkedArray, kind: pa.DataType) -> bool:
    try:
        column.cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


_WHAT = {
    pa.timestamp("ms").id: "time (2023-03-01 08:30:00)",
    pa.bool_().id: "flag (true/false, 1/0)",
    pa.int64().id: "whole number",
    pa.date32().id: "date (2023-03-01)",
}


def shaped(batch: pa.RecordBatch, first: int) -> pa.RecordBatch:
    """A batch with the canonical names and amounts in int64 fen; member_id left as it is
    (the members file says what its ids are: `member_ids`). `first`: its first row."""
    names, arrays = [], []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if name == "visit_id" and column.type != pa.int64():
            column = column.cast(pa.int64() if pa.types.is_integer(column.type) else pa.string())
        elif name.endswith(FEN) and name[: -len(FEN)] in AMOUNTS:
            name, column = name[: -len(FEN)], _fen(column, name, first)
        elif name in AMOUNTS and not pa.types.is_integer(column.type):
            column = yuan_to_fen(column, name, first)
        names.append(name)
        arrays.append(column)
    for name in schema.OPTIONAL:  # a CSV may leave them out: none has a value
        if name not in names:
            names.append(name)
            arrays.append(pa.nulls(batch.num_rows, pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _fen(column: pa.Array, name: str, first: int) -> pa.Array:
    if not pa.types.is_integer(column.type):
        raise InputError(f"visits.{name}", f"must be whole fen, not {column.type}")
    return column if column.type == pa.int64() else column.cast(pa.int64())


def yuan_to_fen(column: pa.Array, name: str, first: int, what: str = "visits") -> pa.Array:
    """Yuan (text or decimal) as int64 fen, exactly; a value that is not an amount of at most
    two decimals is named by its row. Floating point is refused: it holds no amount exactly."""
    if pa.types.is_floating(column.type):
        raise InputError(f"{what}.{name}", f"{column.type} is not exact: give yuan as text or"
                         f" decimal, or whole fen in {name}{FEN}")  # fmt: skip
    try:
        exact = column.cast(_YUAN)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _bad_yuan(column, name, first, what) from None
    # a decimal128's 16 bytes hold the amount in hundredths (fen), two's complement, low
    # word first: its low word is the fen as int64 for any amount int64 can hold
    n, at = len(exact), exact.offset
    words = np.frombuffer(exact.buffers()[1], np.int64, count=2 * (at + n))
    low, high = words[0::2], words[1::2]
    too_large = ((high != 0) & (high != -1)) | ((high == -1) != (low < 0))
    too_large[:at] = False
    too_large[at:] &= cols.valid(exact)  # a null slot holds anything
    if too_large.any():
        row = int(np.flatnonzero(too_large)[0]) - at
        raise InputError(f"{what}[{first + row}].{name}", "too large an amount")
    fen = pa.py_buffer(np.ascontiguousarray(low))
    return pa.Array.from_buffers(pa.int64(), n, [exact.buffers()[0], fen], exact.null_count, at)


def _bad_yuan(column: pa.Array, name: str, first: int, what: str) -> InputError:
    for row, value in enumerate(column.to_pylist()):  # the slow way, only to name the row
        if value is None:
            continue
        try:
            to_fen(str(value).strip())
        except MoneyError as exc:
            return InputError(f"{what}[{first + row}].{name}", f"{value!r}: {exc} (yuan)")
        if str(value) != str(value).strip():
            return InputError(f"{what}[{first + row}].{name}", f"{value!r}: spaces around it")
    return InputError(f"{what}.{name}", f"not an amount in yuan ({column.type})")


def member_ids(column: pa.Array, names: pa.Array | None, first: int) -> np.ndarray:
    """A batch's member_id column as the int64 the kernel compares (read-only, as every
    column it reads): the ids as they are where the members' ids are whole numbers, else
    each id's row among the members' sorted text ids `names` (so the order is kept)."""
    if names is None:
        if column.type in _TEXT:
            column = _as_integers(column, first)
        return cols.values(column.cast(pa.int64()) if column.type != pa.int64() else column)
    if column.type != pa.string():
        column = column.cast(pa.string())
    rows = pc.index_in(column, value_set=names)
    if rows.null_count > column.null_count:
        row = int(np.flatnonzero(~cols.valid(rows) & cols.valid(column))[0])
        member = column[row].as_py()
        raise InputError(f"visits[{first + row}].member_id", f"member {member!r} not in members")
    return cols.values(rows.cast(pa.int64()))


def _as_integers(column: pa.Array, first: int) -> pa.Array:
    try:
        return column.cast(pa.int64())
    except pa.ArrowInvalid:
        for row, value in enumerate(column.to_pylist()):
            if value is not None and not value.strip().lstrip("-").isdigit():
                raise InputError(
                    f"visits[{first + row}].member_id", f"member {value!r} not in members"
                ) from None
        raise


def csv_rows(path: Path) -> int:
    """Rows of a CSV file (its lines after the header; a last line without a newline
    counts): for the progress bar only."""
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return max(lines - 1 + (last != b"\n"), 0)


# -- the members file as CSV -------------------------------------------------------------------
#
# One row per member, the columns of schema.MEMBERS (the descriptive ones are not read):
#     member_id, type                        required
#     has_account                            true/false, 1/0 (empty or left out: by the
#                                            member's type, from the pack, as the ledger)
#     contribution_raised                    true/false, 1/0 (empty or left out: false)
#     retired_from                           a date, 2023-07-01 (empty: none)
#     account_balance | account_balance_fen  yuan | fen (empty or left out: 0)
#     chronic_diseases                       codes separated by ";" (empty: none)
#     benefit_periods, inpatient_stays,      periods separated by ";", each
#     arrears, remote_filings                2023-01-01..2023-06-30 (empty: none; an empty
#                                            benefit_periods: entitled throughout)
# Built without a Python value given to Arrow (each would load pandas: see columns.py).

PERIOD_SEPARATOR = ".."
BALANCE = "account_balance"
PERIOD_COLUMNS = ("benefit_periods", "inpatient_stays", "arrears", "remote_filings")
MEMBER_CSV = ("member_id", "type", "has_account", "contribution_raised", "retired_from",
              BALANCE, BALANCE + FEN, "chronic_diseases", *PERIOD_COLUMNS)  # fmt: skip


def members_csv(path: Path, extra: list[str]) -> pa.Table:
    """The members CSV as a table of the replay's members columns (member_id int64 where
    every id is a whole number, else text), with the `extra` columns (a weight) as whole
    numbers."""
    import pyarrow.csv as csv

    header, encoding = _header(path, "members")
    missing = [name for name in ("member_id", "type", *extra) if name not in header]
    if missing:
        raise missing_columns("members", missing)
    if BALANCE in header and BALANCE + FEN in header:
        raise InputError(f"members.{BALANCE}", f"give {BALANCE} (yuan) or {BALANCE}{FEN} (fen)")
    names = [n for n in header if n in MEMBER_CSV or n in extra]
    kinds = {n: pa.int64() if n in extra or n.endswith(FEN) else pa.string() for n in names}
    options = csv.ConvertOptions(column_types=kinds, include_columns=names,
                                 strings_can_be_null=True)  # fmt: skip
    try:
        table = csv.read_csv(path, csv.ReadOptions(encoding=encoding), convert_options=options)
    except pa.ArrowInvalid as exc:
        raise _csv_error(exc, path, header, kinds, "members") from None
    n = table.num_rows
    got = {name: cols.combined(table.column(name)) for name in table.column_names}
    columns = {"member_id": _text_or_integer_ids(got["member_id"]), "type": got["type"]}
    columns["has_account"] = _flags(got.get("has_account"), "has_account", n, unknown=True)
    raised = "contribution_raised"
    columns[raised] = _flags(got.get(raised), raised, n)
    columns["retired_from"] = _dates(got.get("retired_from"), "retired_from", n)
    columns[BALANCE] = _balance(got, n)
    columns["chronic_diseases"] = _split(got.get("chronic_diseases"), n)[0]
    for name in PERIOD_COLUMNS:
        columns[name] = _periods(got.get(name), name, n)
    for name in extra:
        columns[name] = got[name]
    return pa.table(columns)


def _text_or_integer_ids(column: pa.Array) -> pa.Array:
    """Ids that are all whole numbers are read as such (to match a visits file's int64
    ids), else kept as text."""
    try:
        return column.cast(pa.int64())
    except pa.ArrowInvalid:
        return column


def _flags(column: pa.Array | None, name: str, n: int, unknown: bool = False) -> pa.Array:
    """true/false or 1/0; empty or left out: false, or where `unknown` null (has_account:
    the replay decides by the member's type, as the ledger does: MemberTable)."""
    if column is None:
        return pa.nulls(n, pa.bool_()) if unknown else _bools(np.zeros(n, bool))
    _check_converts(column, pa.bool_(), f"members[{{}}].{name}")
    if unknown:
        return column.cast(pa.bool_())
    return _bools(cols.filled(column.cast(pa.bool_()), 0).astype(bool))


def _bools(values: np.ndarray) -> pa.Array:
    bits = np.packbits(values, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def _dates(column: pa.Array | None, name: str, n: int) -> pa.Array:
    if column is None:
        return pa.nulls(n, pa.date32())
    _check_converts(column, pa.date32(), f"members[{{}}].{name}")
    return column.cast(pa.date32())


def _balance(got: dict, n: int) -> pa.Array:
    """The opening balance in fen (empty or left out: 0)."""
    if BALANCE + FEN in got:
        fen = cols.filled(got[BALANCE + FEN], 0)
    elif BALANCE in got:
        fen = cols.filled(yuan_to_fen(got[BALANCE], BALANCE, 0, "members"), 0)
    else:
        fen = np.zeros(n, np.int64)
    return cols.numbers(fen, pa.int64())


def _split(column: pa.Array | None, n: int) -> tuple[pa.ListArray, np.ndarray]:
    """Items separated by ";" (blanks around them dropped, empty ones skipped) as a list a
    row; and each item's row."""
    if column is None:
        none = np.zeros(0, np.int64)
        return _lists(cols.texts([]), none, n), none
    parts = pc.split_pattern(column, ";")  # an empty cell (null): no list, no items
    items = pc.utf8_trim_whitespace(parts.flatten())
    owner = np.repeat(np.arange(n), cols.filled(pc.list_value_length(parts), 0))
    kept = np.flatnonzero(cols.values(pc.utf8_length(items)) > 0)
    return _lists(items.take(cols.numbers(kept, pa.int64())), owner[kept], n), owner[kept]


def _periods(column: pa.Array | None, name: str, n: int) -> pa.Array:
    """Periods "first..last" separated by ";" as list<struct<start, end>>; none listed:
    an empty list (benefit_periods: null, entitled throughout)."""
    lists, owner = _split(column, n)
    items = lists.values
    ends = pc.split_pattern(items, PERIOD_SEPARATOR)
    parts = cols.filled(pc.list_value_length(ends), 0)
    if (parts != 2).any():
        k = int(np.flatnonzero(parts != 2)[0])
        raise _bad_period(name, int(owner[k]), items[k].as_py())
    flat = ends.flatten()
    days = []
    for k in (0, 1):  # the first days, then the last days
        text = flat.take(cols.numbers(np.arange(k, 2 * len(items), 2), pa.int64()))
        if not _converts(text, pa.date32()):
            bad = _first_bad_row(text, pa.date32())
            raise _bad_period(name, int(owner[bad]), items[bad].as_py())
        days.append(text.cast(pa.date32()))
    spans = pa.StructArray.from_arrays(days, fields=list(schema.PERIOD.value_type))
    listed = pa.ListArray.from_arrays(lists.offsets, spans)
    if name != "benefit_periods":
        return listed
    none = _bools(np.bincount(owner, minlength=n) == 0)
    return pa.ListArray.from_arrays(lists.offsets, spans, mask=none)


def _bad_period(name: str, row: int, text: str) -> InputError:
    return InputError(f"members[{row}].{name}", f"{text!r}: a period is its first and last"
                      f" day, 2023-01-01{PERIOD_SEPARATOR}2023-06-30")  # fmt: skip


def _lists(values: pa.Array, owner: np.ndarray, n: int) -> pa.ListArray:
    """`values` (their owners' rows ascending) as one list per row 0..n-1."""
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(np.bincount(owner, minlength=n), out=offsets[1:])
    return pa.ListArray.from_arrays(cols.numbers(offsets, pa.int32()), values)
