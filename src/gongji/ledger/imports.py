"""`gongji import KIND FILE.csv`: bulk records from CSV, all or nothing.

Every row is checked (and written inside one transaction); if any row is bad, nothing is
kept and the report lists each bad row by its line number in the file (the header is line
1) with the field and the reason.
"""

import csv
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, Engine

from gongji.errors import InputError
from gongji.ledger import family, registry
from gongji.ledger import members as M

PERIOD_KINDS = {"filings": "remote_filing", "stays": "inpatient_stays", "arrears": "arrears"}
LIST_FIELDS = ("chronic_diseases",)
FLAG_FIELDS = ("designated", "agreement", "dual_channel", "has_account", "contribution_raised")


class ImportFailed(Exception):
    def __init__(self, errors: list[str]):
        super().__init__(f"{len(errors)} bad row(s); nothing imported")
        self.errors = errors


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


def import_csv(
    db: Engine, kind: str, path: Path, progress: Callable[[int], None] | None = None
) -> int:
    if kind not in KINDS:
        raise InputError("kind", f"one of {', '.join(KINDS)}")
    add = KINDS[kind]
    errors: list[str] = []
    count = 0
    with path.open(newline="", encoding="utf-8-sig") as f, db.begin() as conn:
        for line, raw in enumerate(csv.DictReader(f), start=2):
            if None in raw:
                errors.append(f"line {line}: more cells than the header has columns")
                continue
            row = _cells(raw)
            try:
                with conn.begin_nested():
                    add(conn, row, f"line {line}")
                count += 1
            except InputError as exc:
                errors.append(str(exc))
            if progress:
                progress(1)
        if errors:
            raise ImportFailed(errors)
    return count


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
