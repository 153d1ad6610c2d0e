"""Arrow columns as numpy arrays, and numpy arrays as Arrow columns, through their buffers.

pyarrow imports pandas (a third of a second) the first time it converts anything between
Python or numpy and Arrow: `Array.to_numpy`, `pa.array`, a Python value given to a compute
function (`fill_null(0)`). The replay's columns are fixed-width numbers, booleans and
dictionaries, whose buffers numpy reads as they are, so the replay reads them here, and
builds its results over numpy's buffers the same way; nothing it does needs pandas.

A column's values are read in place (read-only, as Arrow hands out a column's memory);
what a null slot holds is left to `filled`.
"""

import numpy as np
import pyarrow as pa


def combined(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as one array (`combine_chunks` makes one of no chunks by conversion)."""
    if not isinstance(column, pa.ChunkedArray):
        return column
    if column.num_chunks == 1:
        return column.chunk(0)
    return pa.concat_arrays(column.chunks) if column.num_chunks else pa.nulls(0, column.type)


def values(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A fixed-width column's values (integers, dates, timestamps: their integer; booleans:
    0/1 as uint8), read-only. Null slots hold whatever the buffer does there."""
    array = combined(column)
    n, data = len(array), array.buffers()[1]
    if pa.types.is_boolean(array.type):
        return _read_only(_bits(data, array.offset, n))
    kind = np.dtype(f"i{array.type.bit_width // 8}")
    if data is None or n == 0:  # one type, whatever the column: numba compiles per type
        return _read_only(np.zeros(n, kind))
    return _read_only(np.frombuffer(data, kind, count=n, offset=array.offset * kind.itemsize))


def valid(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which slots hold a value (bool)."""
    array = combined(column)
    if array.null_count == 0:
        return np.ones(len(array), bool)
    return _bits(array.buffers()[0], array.offset, len(array)).astype(bool)


def validity(array: pa.Array) -> tuple[np.ndarray, int]:
    """Which slots hold a value, as `packed` gives bits; no bytes where every slot does."""
    if array.null_count == 0:
        return _NO_BYTES, 0
    return _packed(array.buffers()[0]), array.offset


def packed(array: pa.BooleanArray) -> tuple[np.ndarray, int]:
    """A boolean array's values as Arrow packs the bits (least significant first), read in
    place (no array of bools), and the array's bit offset."""
    return _packed(array.buffers()[1]), array.offset


def _packed(bitmap: pa.Buffer | None) -> np.ndarray:
    """Read-only whatever the buffer (an Arrow buffer may be writable or not), and no bytes
    for none: one type, as numba compiles per type."""
    return _NO_BYTES if bitmap is None else _read_only(np.frombuffer(bitmap, np.uint8))


def filled(column: pa.Array | pa.ChunkedArray, fill: int) -> np.ndarray:
    """The values as int64 (a writable copy of their own), `fill` where a value is null."""
    numbers = values(column).astype(np.int64)
    if column.null_count:
        numbers[~valid(column)] = fill
    return numbers


def first_null(column: pa.Array | pa.ChunkedArray) -> int:
    return int(np.flatnonzero(~valid(column))[0])


def _bits(bitmap: pa.Buffer | None, offset: int, n: int) -> np.ndarray:
    """Arrow's packed bits (least significant first) from `offset`, as 0/1 bytes."""
    if bitmap is None or n == 0:
        return np.zeros(n, np.uint8)
    bits = np.unpackbits(np.frombuffer(bitmap, np.uint8), count=offset + n, bitorder="little")
    return bits[offset : offset + n]


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


_NO_BYTES = _read_only(np.zeros(0, np.uint8))


def numbers(array: np.ndarray, kind: pa.DataType) -> pa.Array:
    """A numpy array of integers as an Arrow column of `kind` (of their width), over the
    same memory: the array must outlive the column's use."""
    array = np.ascontiguousarray(array)
    return pa.Array.from_buffers(kind, len(array), [None, pa.py_buffer(array)])


def texts(strings: list[str]) -> pa.Array:
    """Strings as an Arrow string column."""
    encoded = [s.encode() for s in strings]
    offsets = np.array([0, *(len(e) for e in encoded)], np.int64).cumsum().astype(np.int32)
    data = pa.py_buffer(b"".join(encoded))
    return pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(offsets), data])
