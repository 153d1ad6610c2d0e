"""The platform's files (shared/spec/national-interface.md §5.14): 9101 uploads a file and
answers its file query number (`file_qury_no`), 3202 reconciles the settlement rows of an
uploaded detail file and writes a result file, 9102 downloads a file.

Readings (the sources are named in the spec's §0.2):
- `fsUploadIn.in` is the file's bytes as Base64 text (OH `Convert.ToBase64String`; Newtonsoft
  writes a byte[] so) or as a JSON array of byte values; whitespace in the Base64 is ignored.
- The detail file is a zip holding one text file (OH, X2), or that text itself: a settlement
  a line, in seven columns, `setl_id mdtrt_id psn_no medfee_sumamt fund_pay_sumamt acct_pay
  refd_setl_flag` (X2), separated by TABs (X2 writes CR TAB after every value, X5 TABs) or,
  in a line without a TAB, by runs of spaces (OH); `null` or nothing is absent; UTF-8 (OH,
  X5), else GB18030 (X2 writes GB2312). A first line naming the columns is a header. OH's
  five-column file, laid out by a stored procedure no source shows, is refused, named.
- An upload is read as a detail file before it is stored: this service has no other use for
  files, and a file 3202 would refuse is refused now, with its line, and not kept.
- The result file is a zip holding `result.txt` (OH, X2): a settlement a line, TABs between
  `psn_no mdtrt_id setl_id msgid stmt_rslt refd_setl_flag memo medfee_sumamt fund_pay_sumamt
  acct_pay` (OH's reading of columns 8-10: X2 reads them otherwise), UTF-8 (X2 reads
  GB2312: the same bytes for ASCII ids; the memo is ASCII).
- The institution is the envelope's `fixmedins_code`, the credential's own: the nodes'
  `fixmedins_code` is not matched (OH sends the clearing type in 9101's, MD and OH send
  "plc" in 9102's), nor 9102's `filename` (OH sends the uploaded file's name there).
- Another institution's file is answered as one that does not exist (E_NOT_FOUND), as its
  settlements are (scope.py). A file is kept for download until its `dld_endtime`.
"""

import asyncio
import base64
import codecs
import io
import secrets
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, insert, select

from gongji.errors import InputError
from gongji.ledger.schema import files
from gongji.model import ID_MAX, TEXT_MAX, json_kind
from gongji.money import to_yuan
from gongji.service import fields

if TYPE_CHECKING:
    from gongji.service.national import Context

FILE_MAX = 2 * 1024 * 1024  # bytes a file may have as sent (the body limit applies first)
UNZIPPED_MAX = 8 * 1024 * 1024  # bytes its text may have: a zip bomb stops expanding here
NAME_MAX = 200  # filename C(200); 3202 may name an upload by it
KEEP = timedelta(days=7)  # from upload to dld_endtime
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first bytes (an empty zip: the second)

COLUMNS = (
    "setl_id", "mdtrt_id", "psn_no", "medfee_sumamt", "fund_pay_sumamt", "acct_pay",
    "refd_setl_flag",
)  # fmt: skip
AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")
RESULT_COLUMNS = (
    "psn_no", "mdtrt_id", "setl_id", "msgid", "stmt_rslt", "refd_setl_flag", "memo",
    "medfee_sumamt", "fund_pay_sumamt", "acct_pay",
)  # fmt: skip


@dataclass(frozen=True)
class Download:
    """9102's answer: the file itself, not an envelope (app.transaction sends it as it is)."""

    content: bytes

    @property
    def media_type(self) -> str:
        zipped = self.content.startswith(ZIP_MAGIC)
        return "application/zip" if zipped else "application/octet-stream"


# -- 9101 upload, 9102 download --------------------------------------------------------------
async def upload(ctx: "Context") -> dict:
    where = "input.fsUploadIn"
    node = _node(ctx, "fsUploadIn")
    filename = fields.text(node, "filename", where, NAME_MAX)
    fields.text(node, "fixmedins_code", where, ID_MAX, required=False)  # read, not matched
    content = _bytes(node.get("in"), f"{where}.in")
    settlement_rows(detail_lines(content, filename, f"{where}.in"))  # readable, or refused
    institution = ctx.envelope.fixmedins_code
    stored = await asyncio.to_thread(_store, ctx.db, institution, filename, "upload", content)
    return {**stored, "fixmedins_code": institution}


async def download(ctx: "Context") -> Download:
    where = "input.fsDownloadIn"
    node = _node(ctx, "fsDownloadIn")
    number = fields.text(node, "file_qury_no", where, NAME_MAX)
    for key in ("filename", "fixmedins_code"):  # read, not matched ("plc", another name)
        fields.text(node, key, where, NAME_MAX, required=False)
    found = await asyncio.to_thread(
        _find, ctx.db, ctx.envelope.fixmedins_code, number, f"{where}.file_qury_no"
    )
    return Download(found.content)


def _node(ctx: "Context", key: str) -> dict:
    value = ctx.envelope.input.get(key)
    if not isinstance(value, dict):
        raise InputError(f"input.{key}", "required: an object")
    return value


def _bytes(value: object, field: str) -> bytes:
    """The file's bytes from Base64 text or an array of byte values, at most FILE_MAX."""
    if value is None or value == "":
        raise InputError(field, "required: the file's bytes, as Base64 text")
    if isinstance(value, str):
        compact = "".join(value.split())
        if len(compact) // 4 * 3 > FILE_MAX + 2:  # refused before it is decoded
            raise InputError(field, f"over the {FILE_MAX} bytes a file may have")
        try:
            content = base64.b64decode(compact, validate=True)
        except ValueError:  # binascii.Error; non-ASCII text
            raise InputError(field, "not Base64 text (the file's bytes, encoded)") from None
    elif isinstance(value, list):
        if len(value) > FILE_MAX:
            raise InputError(field, f"over the {FILE_MAX} bytes a file may have")
        for i, b in enumerate(value):
            if type(b) is not int or not 0 <= b <= 255:
                raise InputError(f"{field}[{i}]", "a byte: a whole number from 0 to 255")
        content = bytes(value)
    else:
        raise InputError(field, f"Base64 text or a list of bytes, not {json_kind(value)}")
    if not content:
        raise InputError(field, "an empty file")
    if len(content) > FILE_MAX:
        raise InputError(field, f"over the {FILE_MAX} bytes a file may have ({len(content)})")
    return content


# -- the detail file (client -> service) -----------------------------------------------------
def detail_lines(content: bytes, filename: str, field: str) -> list[tuple[str, dict]]:
    """The detail file's rows, each labelled with its line (`field[line 3]`) and its values
    by column (None where absent); a line with another number of columns is refused."""
    text = _text(_unzipped(content, filename, field), field)
    rows: list[tuple[str, dict]] = []
    first = True
    for n, line in enumerate(text.split("\n"), 1):  # not splitlines(): X2 writes CR TAB
        values = _values(line)
        if not values:
            continue
        header, first = first and [v.lower() for v in values] == list(COLUMNS), False
        if header:
            continue
        at = f"{field}[line {n}]"
        if len(values) != len(COLUMNS):
            raise InputError(at, f"{len(COLUMNS)} columns ({' '.join(COLUMNS)}), not {len(values)}")
        rows.append((at, {c: _value(v) for c, v in zip(COLUMNS, values, strict=True)}))
    return rows


def _values(line: str) -> list[str]:
    line = line.replace("\r", "")
    if not line.strip():
        return []
    if "\t" in line:
        values = line.split("\t")
        if len(values) == len(COLUMNS) + 1 and not values[-1].strip():
            values.pop()  # a TAB after the last value too (X2)
    else:
        values = line.split()  # OH: one space between values, and one after the last
    return [v.strip() for v in values]


def _value(text: str) -> str | None:
    return None if text == "" or text.lower() == "null" else text


def _unzipped(content: bytes, filename: str, field: str) -> bytes:
    """The text of a zip holding one file (at most UNZIPPED_MAX bytes of it are read,
    whatever the zip claims), or the content itself when it is not a zip."""
    if not (content.startswith(ZIP_MAGIC) or filename.lower().endswith(".zip")):
        return content
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            inside = [i for i in archive.infolist() if not i.is_dir()]
            if len(inside) != 1:
                raise InputError(field, f"a zip holding one text file, not {len(inside)} files")
            if inside[0].file_size > UNZIPPED_MAX:
                raise InputError(field, f"its text is over the {UNZIPPED_MAX} bytes allowed")
            with archive.open(inside[0]) as f:
                text = f.read(UNZIPPED_MAX + 1)
    except InputError:
        raise
    except Exception as exc:  # a damaged zip raises any of a dozen classes
        raise InputError(field, f"not a readable zip: {str(exc)[:120]}") from None
    if len(text) > UNZIPPED_MAX:
        raise InputError(field, f"its text is over the {UNZIPPED_MAX} bytes allowed")
    return text


def _text(raw: bytes, field: str) -> str:
    raw = raw.removeprefix(codecs.BOM_UTF8)
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(field, "text in UTF-8 or GB18030 (GB2312)")


def settlement_rows(labelled: Iterable[tuple[str, dict]]) -> dict[str, dict]:
    """The client's settlement rows by setl_id, from its file or given inline, each read and
    checked where it is (`label`): the amounts are required, the refund flag absent is 0; a
    setl_id twice is refused (one of its rows would go unreconciled)."""
    theirs: dict[str, dict] = {}
    seen: dict[str, str] = {}
    for at, row in labelled:
        setl_id = fields.text(row, "setl_id", at, TEXT_MAX)
        read: dict = {k: to_yuan(fields.amount(row, k, at)) for k in AMOUNTS}
        read["refd_setl_flag"] = fields.text(row, "refd_setl_flag", at, 6, required=False) or "0"
        for key in ("mdtrt_id", "psn_no"):  # shown back in the result file
            read[key] = fields.text(row, key, at, TEXT_MAX, required=False)
        if setl_id in seen:
            raise InputError(f"{at}.setl_id", f"{setl_id} is given twice (also {seen[setl_id]})")
        theirs[setl_id], seen[setl_id] = read, at
    return theirs


# -- 3202 with a file: the upload's rows, the result file ------------------------------------
def uploaded_rows(db: Engine, institution: str, number: str, field: str) -> list[tuple[str, dict]]:
    """The rows of `institution`'s upload `number` (or, as OH sends it, of its latest upload
    by that name), labelled with `field` and their lines."""
    found = _find(db, institution, number, field, upload=True)
    return detail_lines(found.content, found.filename, field)


def save_result(db: Engine, institution: str, rows: list[dict]) -> dict:
    """3202's result file, stored for 9102: its fileinfo."""
    number = _number()
    return _store(db, institution, f"{number[4:]}.txt.zip", "result", result_file(rows), number)


def result_file(rows: list[dict]) -> bytes:
    """A zip holding result.txt: a line each row (§5.14.5), TABs between the values."""
    lines = ("\t".join(_cell(row, c) for c in RESULT_COLUMNS) + "\r\n" for row in rows)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("result.txt", "".join(lines).encode("utf-8"))
    return out.getvalue()


def _cell(row: dict, column: str) -> str:
    # the settlement's msgid is its setl_id (national.py); the memo says what differs
    key = {"msgid": "setl_id", "memo": "stmt_rslt_dscr"}.get(column, column)
    value = row.get(key)
    return "" if value is None else " ".join(str(value).split())  # no TAB nor line break


# -- the store --------------------------------------------------------------------------------
def _number() -> str:
    return "fsi/" + secrets.token_hex(13)  # 30 characters: file_qury_no C(30)


def _store(
    db: Engine, institution: str, filename: str, kind: str, content: bytes, number: str = ""
) -> dict:
    number = number or _number()
    now = datetime.now()
    with db.begin() as conn:
        conn.execute(
            insert(files).values(
                file_qury_no=number,
                institution=institution,
                filename=filename,
                kind=kind,
                content=content,
                created_at=now,
            )
        )
    until = (now + KEEP).strftime("%Y-%m-%d %H:%M:%S")
    return {"file_qury_no": number, "filename": filename, "dld_endtime": until}


def _find(db: Engine, institution: str, number: str, field: str, upload: bool = False):
    """`institution`'s file `number`, kept still; for 3202 (`upload`) an upload, found by its
    name too. None other is seen: another institution's file is not found."""
    mine = [files.c.institution == institution, files.c.created_at > datetime.now() - KEEP]
    if upload:
        mine.append(files.c.kind == "upload")
    with db.connect() as conn:
        found = conn.execute(select(files).where(files.c.file_qury_no == number, *mine)).first()
        if found is None and upload:
            latest = files.c.created_at.desc()
            found = conn.execute(
                select(files).where(files.c.filename == number, *mine).order_by(latest).limit(1)
            ).first()
    if found is None:
        kept = f"files are kept {KEEP.days} days"
        raise InputError(field, f"no file {number} ({kept})", "E_NOT_FOUND")
    return found
