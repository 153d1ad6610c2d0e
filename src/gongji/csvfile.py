"""CSV files as Chinese offices have them: one reader for every CSV import (the `gongji
import` kinds, the catalogue, the console's upload page).

Excel on a Chinese Windows saves "CSV" in GBK (ANSI, code page 936) and "CSV UTF-8" with a
byte-order mark; other tools write plain UTF-8. The encoding is found from the bytes: a BOM
is UTF-8 (`utf-8-sig`), text that is valid UTF-8 is UTF-8, anything else is read as GB18030
(a superset of GBK and GB2312). What is none of these (a workbook saved as .xlsx, UTF-16
"Unicode text", binary) is refused in one line saying how to save it.

Rows are numbered as lines of a spreadsheet: the header is line 1, the first record line 2.
"""

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gongji.errors import InputError

SAVE_AS = "请另存为 CSV (UTF-8 或 GBK) save it as CSV (UTF-8 or GBK)"


class BadRows(InputError):
    """Rows that cannot be used, every one of them (not the first): nothing was written.
    `errors` lists each as `line N.field: reason`."""

    def __init__(self, name: str, errors: list[str], what: str = "nothing imported"):
        super().__init__(name, f"{len(errors)} 行有误 bad row(s); {what}")
        self.errors = errors


@dataclass(frozen=True)
class Rows:
    """A CSV file read: its name, its header's columns, and its records with their line."""

    name: str
    header: tuple[str, ...]
    records: tuple[tuple[int, dict[str, str | None]], ...]

    def __iter__(self) -> Iterator[tuple[int, dict[str, str | None]]]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)


def decode(data: bytes, name: str) -> str:
    """The file's text: UTF-8 with a BOM, UTF-8, or GB18030 (GBK); or one line refusing it."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
        encoding = "utf-8"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(name, f"UTF-16 文本不是 CSV UTF-16 text, not CSV: {SAVE_AS}")
    elif data.startswith(b"PK\x03\x04"):
        raise InputError(name, f"Excel 工作簿不是 CSV an Excel workbook, not CSV: {SAVE_AS}")
    else:
        encoding = "utf-8" if _is_utf8(data) else "gb18030"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            name, f"无法识别的编码 neither UTF-8 nor GBK (byte {exc.start + 1}): {SAVE_AS}"
        ) from None
    if "\x00" in text:
        raise InputError(name, f"不是文本文件 not a text file: {SAVE_AS}")
    return text


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_rows(source: Path | bytes, name: str | None = None) -> Rows:
    """A CSV file (a path, or the bytes of an upload) as its header and records.

    Cells are text as written (a record shorter than the header has None for the columns it
    lacks; one longer has its extra cells under the key None). What Excel leaves behind is
    not data: records whose every cell is blank, and columns with neither a name nor a
    value. `name` is what errors call the file (default: the path's name)."""
    if isinstance(source, Path):
        name = name or source.name
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise InputError(name, f"无法读取 cannot read: {exc.strerror}") from None
    else:
        name = name or "(upload)"
        data = source
    # strict: a quote left open must not swallow the rest of the file into one cell
    reader = csv.reader(io.StringIO(decode(data, name), newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader, [])]  # " region" is the column region
        lines = []
        for cells in reader:
            line = reader.line_num - sum(c.count("\n") for c in cells)  # where it starts
            if any(c.strip() for c in cells):
                lines.append((line, cells))
    except csv.Error as exc:
        raise InputError(
            name, f"CSV 格式有误 not valid CSV (line {reader.line_num}): {exc}"
        ) from None
    if not any(header):
        raise InputError(f"{name}: header", "空文件，缺少表头 empty: no header line")
    unnamed = [i for i, h in enumerate(header) if not h]
    for i in unnamed:
        if any(i < len(cells) and cells[i].strip() for _, cells in lines):
            raise InputError(
                f"{name}: header", f"第 {i + 1} 列有数据但没有列名 column {i + 1} has no name"
            )
    records = tuple((line, _record(header, cells, unnamed)) for line, cells in lines)
    return Rows(name, tuple(h for h in header if h), records)


def _record(header: list[str], cells: list[str], unnamed: list[int]) -> dict[str | None, object]:
    """A record as csv.DictReader makes it, less the unnamed (empty) columns."""
    record: dict = {h: cells[i] if i < len(cells) else None for i, h in enumerate(header) if h}
    extra = cells[len(header) :]
    if any(c.strip() for c in extra):
        record[None] = extra
    return record


def check_header(rows: Rows, known: Iterable[str], required: Iterable[str] = ()) -> None:
    """The header as a header error: which columns are unknown, missing or repeated (so a
    misspelt column is named once, not as a bad field on every row)."""
    known = list(known)
    header = list(rows.header)
    problems = []  # (Chinese, English): the Chinese all first, so it reads as one sentence
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        problems.append(("重复的列", "repeated column(s)", repeated))
    unknown = [c for c in header if c not in known]
    if unknown:
        problems.append(("未知的列", "unknown column(s)", unknown))
    missing = [c for c in required if c not in header]
    if missing:
        problems.append(("缺少的列", "missing column(s)", missing))
    if problems:
        problems.append(("可用的列", "the columns are", known))
        zh = "；".join(f"{z}：{'、'.join(cols)}" for z, _, cols in problems)
        en = "; ".join(f"{e}: {', '.join(cols)}" for _, e, cols in problems)
        raise InputError(f"{rows.name}: header", f"{zh}。 {en}")
