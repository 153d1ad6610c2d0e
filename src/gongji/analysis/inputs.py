"""The visits file as the replay reads it: Parquet or CSV, amounts in fen or in yuan, member
ids as whole numbers or as text. Every batch comes out in one shape (schema.VISITS' columns,
amounts int64 fen; member_id int64 or string), so the rest of the replay sees one file.

Which unit an amount is in is said by the column, not guessed from its values:

    total_fen, in_scope_fen   whole fen (分), in either format
    total, in_scope           CSV: yuan (元) as written, "1234.5", "1234.50", "80" (at most
                              two decimals); Parquet: int64 is fen (what `gongji generate`
                              writes), a string or decimal column is yuan

A file holds one of the two names of each amount. CSV is text with a header row, in UTF-8
(with or without the BOM Excel writes) or GB18030/GBK (Excel's on Chinese Windows); times
as "2023-03-01 08:30:00" (or with a T), flags as true/false or 1/0, an empty cell is a
missing value (allowed in disease, drug and prescription_level only, columns a CSV may
leave out). A bad value is an
InputError naming the row (counted from 0, the header not counted) and the column.

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


def is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def check_columns(names: list[str], kinds: dict[str, pa.DataType], what: str = "visits") -> None:
    """The file's columns are the ones the replay reads: each required one present (an
    amount under one of its two names), of a type it takes (`kinds`: name -> type)."""
    for name in schema.VISITS.names:
        if name in AMOUNTS:
            _amount_column(name, names, what)
        elif name not in names and name not in schema.OPTIONAL:
            raise InputError(f"{what}.{name}", "missing column")
    for name, kind in kinds.items():
        if name == "member_id" and not (pa.types.is_integer(kind) or kind in _TEXT):
            raise InputError(f"{what}.member_id", f"must be whole numbers or text, not {kind}")


def _amount_column(name: str, names: list[str], what: str) -> str:
    """The column an amount is read from: `name` or `name_fen`, exactly one of them."""
    both = [n for n in (name, name + FEN) if n in names]
    if not both:
        raise InputError(f"{what}.{name}", f"missing column (in yuan, or {name}{FEN} in fen)")
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
    first = 0
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
        yield shaped(batch, first)
        first += batch.num_rows


def _header(path: Path) -> tuple[list[str], str]:
    """The header's column names, and the file's encoding: UTF-8 unless its first 64 KB
    are not (then GB18030, which GBK is part of)."""
    if not path.is_file():
        raise InputError("visits", f"no such file: {path}")
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
    if name in (*AMOUNTS, "member_id"):
        return pa.string()  # yuan are converted exactly here; ids are compared as given
    if name.endswith(FEN):
        return pa.int64()
    if name == "time":  # "08:30:00.000" too; a fraction of a second is refused later
        return pa.timestamp("ms")
    return schema.VISITS.field(name).type


def _csv_error(exc: pa.ArrowInvalid, path: Path, header: list[str], kinds: dict) -> InputError:
    """A value Arrow could not convert, named by row and column. Arrow's message names the
    column by its number ("In CSV column #2: ..."); the column is read again as text and the
    first value that does not convert found by halving (a few casts, not one per row)."""
    import re

    import pyarrow.csv as csv

    found = re.search(r"CSV column #(\d+)", str(exc))
    if not found or int(found[1]) >= len(header) or header[int(found[1])] not in kinds:
        return InputError("visits", f"not a CSV file the replay reads: {exc}")
    name = header[int(found[1])]
    text = csv.read_csv(
        path,
        read_options=csv.ReadOptions(encoding=_header(path)[1]),
        convert_options=csv.ConvertOptions(
            column_types={name: pa.string()}, include_columns=[name], strings_can_be_null=True
        ),
    ).column(name)
    kind = kinds[name]
    lo, hi = 0, len(text)  # the first bad value is in [lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _converts(text[lo:mid], kind):
            lo = mid
        else:
            hi = mid
    return InputError(f"visits[{lo}].{name}", f"{text[lo].as_py()!r} is not a {_WHAT[kind.id]}")


def _converts(column: pa.ChunkedArray, kind: pa.DataType) -> bool:
    try:
        column.cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


_WHAT = {
    pa.timestamp("ms").id: "time (2023-03-01 08:30:00)",
    pa.bool_().id: "flag (true/false, 1/0)",
    pa.int64().id: "whole number",
}


def shaped(batch: pa.RecordBatch, first: int) -> pa.RecordBatch:
    """A batch with the canonical names and amounts in int64 fen; member_id left as it is
    (the members file says what its ids are: `member_ids`). `first`: its first row."""
    names, arrays = [], []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if name.endswith(FEN) and name[: -len(FEN)] in AMOUNTS:
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


def yuan_to_fen(column: pa.Array, name: str, first: int) -> pa.Array:
    """Yuan (text or decimal) as int64 fen, exactly; a value that is not an amount of at most
    two decimals is named by its row."""
    try:
        exact = column.cast(_YUAN)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _bad_yuan(column, name, first) from None
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
        raise InputError(f"visits[{first + row}].{name}", "too large an amount")
    fen = pa.py_buffer(np.ascontiguousarray(low))
    return pa.Array.from_buffers(pa.int64(), n, [exact.buffers()[0], fen], exact.null_count, at)


def _bad_yuan(column: pa.Array, name: str, first: int) -> InputError:
    for row, value in enumerate(column.to_pylist()):  # the slow way, only to name the row
        if value is None:
            continue
        try:
            to_fen(str(value).strip())
        except MoneyError as exc:
            return InputError(f"visits[{first + row}].{name}", f"{value!r}: {exc} (yuan)")
        if str(value) != str(value).strip():
            return InputError(f"visits[{first + row}].{name}", f"{value!r}: spaces around it")
    return InputError(f"visits.{name}", f"not an amount in yuan ({column.type})")


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
