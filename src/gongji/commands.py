"""What every `gongji` command shares: bad input as one line on stderr and exit 2, JSON
output for programs, the configured store, dates and amounts read from options, and a
progress bar for long work. The commands themselves live beside their packages
(`ledger/cli.py`, `service/cli.py`, ...); `cli.py` gathers them.

Every command module is imported to build `gongji --help` and to run any one command, so
module level here and in the command modules imports only Typer and the standard library:
what a command needs (Rich's tables, the engine, the store, Polars, ...) it imports itself.
"""

import json
import re
import sys
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from gongji.errors import InputError
from gongji.money import MoneyError, to_fen

if TYPE_CHECKING:
    from gongji.csvfile import BadRows


def fail(exc: InputError) -> NoReturn:
    """Bad input: one line on stderr, exit 2 (every `gongji` command). Chinese first, the
    field as people name it and the reason (个人编号：没有这个参保人), then the English
    `field: reason` in brackets, for a log, a script or an integrator searching the code."""
    from gongji.labels import reason_zh

    english = str(exc).replace("\n", " ")
    where = _where(exc.field)
    reason = reason_zh(exc.reason, exc.code)
    said = f"{where}：{reason}" if where else reason
    typer.echo(f"{said} ({english})", err=True)
    raise typer.Exit(2)


FILE = re.compile(r"\.(csv|ya?ml|json|xlsx|parquet|db)\b|[/\\]", re.IGNORECASE)


def _where(path: str) -> str:
    """An error's field as people name it (labels.field); a file keeps its name, and a part
    of it is named after it (`m.csv: header` -> m.csv·表头)."""
    from gongji.labels import field

    file, sep, part = path.partition(": ")
    if not FILE.search(file):
        return field(path)
    return f"{file}·{field(part)}" if sep else file


def bad_rows(exc: "BadRows") -> NoReturn:
    """A file's bad rows, each on a line of stderr (Chinese, then the English), then what
    was done (nothing); exit 2."""
    for error in exc.errors:
        typer.echo(row_error(error.replace("\n", " ")), err=True)
    fail(exc)


# a bad row as the readers write it: `line 3.type: reason` (csvfile), `cat.csv: row 2: class:
# reason` (the catalogue), `line 6: reason` (the row as a whole)
ROW = re.compile(
    r"(?:(?P<file>\S+): )?(?:line|row) (?P<n>\d+)"
    r"(?:(?:\.|: )(?P<field>[\w.\[\]]+))?: (?P<reason>.*)"
)


def row_error(text: str) -> str:
    """A bad row's `line 3.type: reason` as 第3行·人员类别：<the reason in Chinese>, with the
    English after it in brackets."""
    from gongji.labels import field, reason_zh

    row = ROW.fullmatch(text)
    if row is None:
        return text
    name = row["field"]
    where = f"{row['file'] or ''} 第{row['n']}行".lstrip()
    where += f"·{field(name)}" if name else ""
    return f"{where}：{reason_zh(row['reason'])} ({text})"


def emit(result: object) -> None:
    """A command's answer as JSON on stdout (money as yuan strings, dates as ISO text)."""
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2, default=_text))


def _text(value: object) -> str:
    if isinstance(value, Decimal | date):
        return str(value)
    raise TypeError(type(value))


def store():
    """The configured store (GONGJI_DATABASE_URL), refused in one line if not initialised."""
    from gongji.ledger import store as stores

    db = stores.connect()
    if not stores.is_initialised(db):
        fail(
            InputError("database", f"not initialised: run gongji db init ({stores.database_url()})")
        )
    return db


@cache
def console(stderr: bool = False):
    """Rich's console on stdout (or stderr); it writes to whatever sys.stdout is then."""
    from rich.console import Console

    # no :name: emoji codes: what we print has none, and an id that happens to hold one is
    # printed as written; Rich would otherwise load its table of 3,600 codes and search
    # every cell of every table for them (1.5% of `gongji calculate` of one example)
    return Console(stderr=stderr, emoji=False)


def document(source: str) -> object:
    """A YAML/JSON document from a file, or from stdin for `-`."""
    from gongji import documents

    try:
        if source == "-":
            return documents.parse(sys.stdin.read(), "stdin")
        return documents.read(Path(source))
    except InputError as exc:
        fail(exc)


def run(action, *args, **kwargs) -> None:
    """Run an operation on the configured store and print its answer."""
    try:
        emit(action(store(), *args, **kwargs))
    except InputError as exc:
        fail(exc)


def fen(value: str, field: str) -> int:
    """An amount of yuan given as an option -> fen."""
    try:
        return to_fen(value)
    except MoneyError as exc:
        fail(InputError(field, str(exc)))


# the insurance years a command may name: from the first year of employees' basic medical
# insurance (国发〔1998〕44号: set up during 1999, so 2000 is the first whole year a fund
# could have run) to the last a store's dates hold (model.LAST_DAY)
FIRST_YEAR, LAST_YEAR = 2000, 2199
MONTH = re.compile(r"\d{4}-\d{2}")


def checked_year(value: int, field: str = "year") -> int:
    """An insurance year given as an argument, within FIRST_YEAR..LAST_YEAR."""
    if not FIRST_YEAR <= value <= LAST_YEAR:
        fail(
            InputError(
                field,
                f"年度超出范围 out of range: {value} (a year from {FIRST_YEAR} to {LAST_YEAR},"
                " e.g. 2023)",
            )
        )
    return value


def first_of_month(value: str, field: str = "month") -> date:
    """A month given as YYYY-MM (e.g. 2023-03) -> its first day."""
    try:
        if MONTH.fullmatch(value.strip()):
            first = date.fromisoformat(f"{value.strip()}-01")
            checked_year(first.year, field)
            return first
    except ValueError:
        pass
    fail(InputError(field, f"月份应写作 YYYY-MM a month as YYYY-MM (e.g. 2023-03), not {value!r}"))


def day(value: str, field: str) -> date:
    """A date (YYYY-MM-DD, or YYYY-MM for the month's first day) given as an option."""
    try:
        return date.fromisoformat(value if len(value) > 7 else f"{value}-01")
    except ValueError:
        fail(InputError(field, f"not a date (YYYY-MM-DD): {value!r}"))


def progress():
    """A progress bar on stderr, for people at a terminal only (logs and pipes stay clean)."""
    from rich.console import Console
    from rich.progress import Progress

    err = Console(stderr=True)
    return Progress(console=err, transient=True, disable=not err.is_terminal)


def batch(what: str, action) -> None:
    """A long operation over the store, with a progress bar; its answer printed as JSON."""
    db = store()
    try:
        with progress() as bar:
            task = bar.add_task(what, total=None)
            emit(action(db, lambda n: bar.advance(task, n)))
    except InputError as exc:
        fail(exc)
