"""The ledger's commands: db, member, import, settle, cancel, account, year.

Output is JSON for programs (money as yuan strings); bad input is one line on stderr naming
the field, exit 2, and nothing written.
"""

import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress

from gongji import documents
from gongji.errors import InputError
from gongji.money import MoneyError, to_fen

out = Console()
db_app = typer.Typer(no_args_is_help=True, help="The ledger store (GONGJI_DATABASE_URL).")
member_app = typer.Typer(no_args_is_help=True, help="Members of the scheme.")
account_app = typer.Typer(no_args_is_help=True, help="Personal accounts (个人账户).")
year_app = typer.Typer(no_args_is_help=True, help="The insurance year (X-1).")


credential_app = typer.Typer(no_args_is_help=True, help="Credentials for the service.")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.add_typer(credential_app, name="credential")
    app.command()(serve)
    app.command()(demo)
    app.add_typer(member_app, name="member")
    app.add_typer(account_app, name="account")
    app.add_typer(year_app, name="year")
    app.command("import")(import_records)
    app.command()(settle)
    app.command()(cancel)


def fail(exc: InputError) -> None:
    """Bad input: one line on stderr naming the field, exit 2 (every `gongji` command)."""
    typer.echo(str(exc).replace("\n", " "), err=True)
    raise typer.Exit(2)


def emit(result: object) -> None:
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2, default=_text))


def _text(value: object) -> str:
    if isinstance(value, Decimal | date):
        return str(value)
    raise TypeError(type(value))


def _store():
    from gongji.ledger import store

    db = store.connect()
    if not store.is_initialised(db):
        fail(
            InputError("database", f"not initialised: run gongji db init ({store.database_url()})")
        )
    return db


def _document(source: str) -> object:
    try:
        if source == "-":
            return documents.parse(sys.stdin.read(), "stdin")
        return documents.read(Path(source))
    except InputError as exc:
        fail(exc)


def _run(action, *args, **kwargs) -> None:
    """Run a ledger operation on the configured store and print its answer."""
    try:
        emit(action(_store(), *args, **kwargs))
    except InputError as exc:
        fail(exc)


def _fen(value: str, field: str) -> int:
    try:
        return to_fen(value)
    except MoneyError as exc:
        fail(InputError(field, str(exc)))


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value if len(value) > 7 else f"{value}-01")
    except ValueError:
        fail(InputError(field, f"not a date (YYYY-MM-DD): {value!r}"))


@db_app.command("init")
def db_init() -> None:
    """Create the ledger's tables (the newest schema) in the configured store."""
    from gongji.ledger import store

    store.upgrade(store.connect())
    out.print(f"ready: {store.database_url()}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the store to the newest schema."""
    db_init()


@db_app.command("check")
def db_check() -> None:
    """Recompute balances and member states from the journal and settlements; exit 1 on
    any difference."""
    from gongji.ledger import check

    found = check.problems(_store())
    for problem in found:
        typer.echo(problem, err=True)
    if found:
        raise typer.Exit(1)
    out.print("ledger consistent: entries balance, balances and member states recompute")


@member_app.command("add")
def member_add(
    region: str = typer.Argument(..., help="Policy pack id."),
    member_file: str = typer.Argument(..., help="Member YAML/JSON (as in a scenario), or -."),
) -> None:
    """Register a member, with their opening account balance."""
    from gongji.ledger import members

    _run(lambda db: {"added": members.add_member(db, region, _document(member_file))})


@member_app.command("show")
def member_show(member_id: str = typer.Argument(..., help="Member id.")) -> None:
    """A member: record, balances, this year's accumulators, earlier years, family."""
    from gongji.ledger import views

    _run(views.member_show, member_id)


@member_app.command("retire")
def member_retire(
    member_id: str = typer.Argument(..., help="Member id."),
    processed: str = typer.Option(..., "--processed", help="Day retirement was processed."),
) -> None:
    """The retirement switch (X-2, JMS-10b, NY-11): the pack gives when it takes effect."""
    from gongji.ledger import members

    _run(members.retire, member_id, _day(processed, "processed"))


def import_records(
    kind: str = typer.Argument(
        ..., help="members | institutions | contributions | bindings | filings | stays | arrears"
    ),
    csv_file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with a header."),
) -> None:
    """Import records from CSV, all or nothing; a bad row is reported by its line."""
    from gongji.ledger import imports

    db = _store()
    rows = max(0, sum(1 for _ in csv_file.open(encoding="utf-8-sig")) - 1)
    try:
        with _progress() as bar:
            task = bar.add_task(f"importing {kind}", total=rows)
            count = imports.import_csv(db, kind, csv_file, lambda n: bar.advance(task, n))
    except imports.ImportFailed as exc:
        for error in exc.errors:
            typer.echo(error, err=True)
        typer.echo(f"{exc}", err=True)
        raise typer.Exit(2) from None
    except InputError as exc:
        fail(exc)
    out.print(f"imported {count} {kind}")


def settle(
    visit_file: str = typer.Argument(..., help="Visit YAML/JSON (as in a scenario), or -."),
    member: str = typer.Option(..., "--member", help="Member id."),
    txn: str = typer.Option(..., "--txn", help="Transaction id: a retry returns the first result."),
) -> None:
    """Settle one visit against the store, exactly once."""
    from gongji.ledger import settlement

    def settled(db) -> dict:
        answer = settlement.settle(db, txn, member, _document(visit_file))
        return {**answer, "trace": settlement.explain_answer(answer)}

    _run(settled)


def cancel(txn: str = typer.Argument(..., help="Transaction id of the settlement.")) -> None:
    """Cancel a member's latest settlement; accumulators and account restored to the fen."""
    from gongji.ledger import settlement

    _run(settlement.cancel, txn)


@account_app.command("show")
def account_show(member_id: str = typer.Argument(..., help="Member id.")) -> None:
    """The account's balance, frozen amount and journal."""
    from gongji.ledger import views

    _run(views.account_show, member_id)


@account_app.command("credit")
def account_credit(
    region: str = typer.Argument(..., help="Policy pack id."),
    month: str = typer.Argument(..., help="YYYY-MM"),
) -> None:
    """Monthly crediting (X-4): contributions paid for the month, retirees' standard."""
    _batch(
        "crediting",
        lambda db, tick: accounts().credit_month(db, region, _day(month, "month"), tick),
    )


@account_app.command("back-credit")
def account_back_credit(region: str = typer.Argument(..., help="Policy pack id.")) -> None:
    """Credit the difference where a month's standard is now higher than credited (JMS-10a)."""
    _batch("back-credit", lambda db, tick: accounts().back_credit(db, region, tick))


@account_app.command("premium")
def account_premium(
    member_id: str = typer.Argument(..., help="Member id."),
    amount: str = typer.Option(..., "--amount", help="Yuan."),
    purpose: str = typer.Option(..., "--purpose", help="e.g. family_resident_premium"),
    on: str = typer.Option(..., "--on", help="Day of the application."),
    op: str = typer.Option(..., "--op", help="Operation id: a retry changes nothing."),
) -> None:
    """Pay a premium from the account, where the region allows it (X-4; frozen: XSBN-26)."""
    _run(accounts().pay_premium, op, member_id, _fen(amount, "amount"), purpose, _day(on, "on"))


@account_app.command("transfer-frozen")
def account_transfer_frozen(
    today: str = typer.Option(..., "--today", help="The run's day (by the 10th: XSBN-26)."),
) -> None:
    """Transfer every premium frozen before this month."""
    _run(accounts().settle_freezes, _day(today, "today"))


@account_app.command("release")
def account_release(freeze_id: int = typer.Argument(..., help="Freeze id.")) -> None:
    """Give a frozen premium back to the account (not collected)."""
    _run(accounts().release_freeze, freeze_id)


@account_app.command("close")
def account_close(
    member_id: str = typer.Argument(..., help="Member id."),
    reason: str = typer.Option(
        ..., "--reason", help="transfer | refund | death | emigration | withdrawal"
    ),
    on: str = typer.Option(..., "--on", help="Day."),
) -> None:
    """Pay out or transfer the balance in one sum and close the member (JMS-12, KF-18, ...)."""
    _run(accounts().close_account, member_id, reason, _day(on, "on"))


@year_app.command("rollover")
def year_rollover(year: int = typer.Argument(..., help="The new year.")) -> None:
    """Keep last year's accumulators and start every member's new year (X-1)."""
    from gongji.ledger import year as year_ops

    _run(year_ops.rollover, year)


def _progress() -> Progress:
    """A progress bar on stderr, for people at a terminal only (logs and pipes stay clean)."""
    err = Console(stderr=True)
    return Progress(console=err, transient=True, disable=not err.is_terminal)


def accounts():
    from gongji.ledger import accounts as module

    return module


def _batch(what: str, action) -> None:
    db = _store()
    try:
        with _progress() as bar:
            task = bar.add_task(what, total=None)
            emit(action(db, lambda n: bar.advance(task, n)))
    except InputError as exc:
        fail(exc)


def demo(
    path: Path = typer.Option(Path("gongji-demo.db"), "--db", help="The demo store (replaced)."),
    no_serve: bool = typer.Option(False, "--no-serve", help="Prepare and settle; do not serve."),
) -> None:
    """A demo on the embedded store: sample institutions and members, three visits settled,
    then the service on 127.0.0.1:8000 (Ctrl-C stops it)."""
    import os

    from gongji.demo import CONSOLE_USER, HOSPITAL, prepare

    token, answers, password = prepare(path)
    for a in answers:
        out.print(
            f"{a['visit_id']}  total {a['total']}  fund {a['fund_pay']}  account "
            f"{a['account_pay']}  cash {a['cash_pay']}  ({a['policy_version']}; "
            + ", ".join(s["rule"] for s in a["trace"])
            + ")",
            soft_wrap=True,
        )
    out.print(f"store: sqlite:///{path}   token for {HOSPITAL}: {token}", soft_wrap=True)
    out.print(f"console login: user {CONSOLE_USER}  password {password}", soft_wrap=True)
    if no_serve:
        return
    out.print(
        "try: curl -s localhost:8000/v1/visits -H 'Authorization: Bearer "
        f"{token}'   (docs: http://127.0.0.1:8000/docs, console: http://127.0.0.1:8000/console/)",
        soft_wrap=True,
    )
    os.environ["GONGJI_DATABASE_URL"] = f"sqlite:///{path}"
    serve(workers=1)


def serve(
    workers: int = typer.Option(1, "--workers", help="Processes (each with its own writer)."),
) -> None:
    """Run the HTTP service (GONGJI_HOST, GONGJI_PORT, GONGJI_DATABASE_URL, ...)."""
    import uvicorn

    from gongji.service.settings import from_env

    _store()
    settings = from_env()
    uvicorn.run(
        "gongji.service.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        access_log=False,  # the service writes its own, without personal data
        log_level="warning",
    )


@credential_app.command("issue")
def credential_issue(
    institution: str = typer.Option(None, "--institution", help="Its registered code."),
    bureau: bool = typer.Option(False, "--bureau", help="A bureau credential (reads all)."),
    label: str = typer.Option("", "--label", help="Who holds it."),
) -> None:
    """Issue a credential; the token is printed once and stored only as a hash."""
    from gongji.service import auth

    if bureau == (institution is not None):
        fail(InputError("institution", "give --institution CODE or --bureau"))
    try:
        token = auth.issue(_store(), institution, label or (institution or "bureau"))
    except InputError as exc:
        fail(exc)
    typer.echo(token)


@credential_app.command("revoke")
def credential_revoke(credential_id: int = typer.Argument(..., help="Credential id.")) -> None:
    """Revoke a credential (refused within a second)."""
    from gongji.service import auth

    _run(lambda db: auth.revoke(db, credential_id) or {"revoked": credential_id})
