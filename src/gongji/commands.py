"""What every `gongji` command shares: bad input as one line on stderr and exit 2, JSON
output for programs, the configured store, dates and amounts read from options, and a
progress bar for long work. The commands themselves live beside their packages
(`ledger/cli.py`, `service/cli.py`, ...); `cli.py` gathers them.

Every command module is imported to build `gongji --help` and to run any one command, so
module level here and in the command modules imports only Typer and the standard library:
what a command needs (Rich's tables, the engine, the store, Polars, ...) it imports itself.
"""

import json
import sys
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

import typer

from gongji.errors import InputError
from gongji.money import MoneyError, to_fen


def fail(exc: InputError) -> None:
    """Bad input: one line on stderr naming the field, exit 2 (every `gongji` command)."""
    typer.echo(str(exc).replace("\n", " "), err=True)
    raise typer.Exit(2)


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

    return Console(stderr=stderr)


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
