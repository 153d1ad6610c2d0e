"""`gongji import KIND FILE.csv`: bulk records from CSV, all or nothing.

The file is read by `csvfile.read_rows` (UTF-8, UTF-8 with a BOM, or GBK/GB18030), its
header checked against the kind's columns (an unknown or missing column is one header
error, not a bad field on every row). Every row is then checked (and written inside one
transaction); if any row is bad, nothing is kept and the report lists each bad row by its
line number in the file (the header is line 1) with the field and the reason.
"""

from collections.abc import Callable
from functools import cache
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import Connection, Engine

from gongji.csvfile import BadRows, Rows, check_header, read_rows
from gongji.errors import InputError
from gongji.ledger import family, registry
from gongji.ledger import members as M
from gongji.model import IdentityIn, MemberIn, PeriodIn

PERIOD_KINDS = {"filings": "remote_filing", "stays": "inpatient_stays", "arrears": "arrears"}
LIST_FIELDS = ("chronic_diseases",)
FLAG_FIELDS = ("designated", "agreement", "dual_channel", "has_account", "contribution_raised")


class ImportFailed(BadRows):
    """Bad rows of an import, every one (`errors`); nothing was imported."""


def _member(conn: Connection, row: dict, where: str) -> None:
    region = row.pop("region", None)
    if not region:
        raise InputError(f"{where}.region", "required")
    M.insert_member(conn, region, row, where)


def _period(kind: str) -> Callable[[Connection, dict, str], None]:
    field = PERIOD_KINDS[kind]

    def add(conn: Connection, row: dict, where: str) -> None:
        member_id = row.pop("member", None)
        if not member_id:
            raise InputError(f"{where}.member", "required")
        member = M.lock(conn, member_id, f"{where}.member")
        given = member.profile.get(field) or []
        periods = given if isinstance(given, list) else [given]
        M.update_profile(conn, member, {field: [*periods, row]}, where)

    return add


KINDS: dict[str, Callable[[Connection, dict, str], object]] = {
    "members": _member,
    "institutions": registry.add_institution,
    "contributions": registry.add_contribution,
    "bindings": family.bind,
    **{kind: _period(kind) for kind in PERIOD_KINDS},
}


# a member's periods are lists a cell cannot hold: they have files of their own (stays,
# filings, arrears; benefit periods are a scenario's)
NOT_COLUMNS = ("benefit_periods", *PERIOD_KINDS.values())


def _columns(*models: type[BaseModel], also: tuple[str, ...] = ()) -> tuple[list, list]:
    """The columns a kind's file may have, and those it must: the records' fields (by the
    name a CSV writes, `from` rather than `start`), and `also`, required."""
    known, required = list(also), list(also)
    for model in models:
        for name, field in model.model_fields.items():
            column = field.alias or name
            if column in NOT_COLUMNS:
                continue
            known.append(column)
            if field.is_required():
                required.append(column)
    return known, required


@cache
def columns(kind: str) -> tuple[list[str], list[str]]:
    """(known, required) columns of a kind's CSV file."""
    if kind == "members":
        return _columns(MemberIn, IdentityIn, also=("region",))
    if kind in PERIOD_KINDS:
        return _columns(PeriodIn, also=("member",))
    model = {
        "institutions": registry.InstitutionIn,
        "contributions": registry.ContributionIn,
        "bindings": family.BindingIn,
    }[kind]
    return _columns(model)


def read(kind: str, source: Path | bytes | Rows, name: str | None = None) -> Rows:
    """A kind's CSV file read (a path, an upload's bytes), its header checked."""
    if kind not in KINDS:
        raise InputError("kind", f"one of {', '.join(KINDS)}")
    rows = source if isinstance(source, Rows) else read_rows(source, name)
    check_header(rows, *columns(kind))
    return rows


def import_csv(
    db: Engine,
    kind: str,
    source: Path | bytes | Rows,
    progress: Callable[[int], None] | None = None,
    name: str | None = None,
) -> int:
    """Import a kind's records from a CSV file (a path, an upload's bytes, or `read`'s
    rows): every row, or none and ImportFailed listing every bad row."""
    rows = read(kind, source, name)
    add = KINDS[kind]
    errors: list[str] = []
    count = 0
    with db.begin() as conn:
        for line, raw in rows:
            try:
                if None in raw:
                    raise InputError(f"line {line}", "more cells than the header has columns")
                with conn.begin_nested():
                    add(conn, _cells(raw), f"line {line}")
                count += 1
            except InputError as exc:
                errors.append(_on_line(exc, f"line {line}"))
            if progress:
                progress(1)
        if errors:
            raise ImportFailed(rows.name, errors)
    return count


def _on_line(exc: InputError, where: str) -> str:
    """The error on its line: a check outside the row's own (a region's pack: `region`)
    names its field without it."""
    if exc.field == where or exc.field.startswith((f"{where}.", f"{where}:")):
        return str(exc)
    return f"{where}.{exc.field}: {exc.reason}"


def _cells(raw: dict[str, str]) -> dict:
    """Empty cells are absent; lists are ';'-separated; flags are true/false."""
    row: dict = {}
    for key, value in raw.items():
        value = (value or "").strip()
        if not value:
            continue
        if key in LIST_FIELDS:
            row[key] = [v.strip() for v in value.split(";") if v.strip()]
        elif key in FLAG_FIELDS and value.lower() in ("true", "false"):
            row[key] = value.lower() == "true"
        else:
            row[key] = value
    return row
