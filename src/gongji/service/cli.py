"""The service's commands: `gongji serve`, `gongji demo`, `gongji credential
issue|list|revoke`."""

import json
from pathlib import Path

import typer

from gongji.commands import console as out
from gongji.commands import emit, fail, run, store
from gongji.errors import InputError
from gongji.money import fmt

credential_app = typer.Typer(no_args_is_help=True, help="Credentials for the service.")


def register(app: typer.Typer) -> None:
    app.add_typer(credential_app, name="credential")
    app.command()(serve)
    app.command()(demo)


def demo(
    path: Path = typer.Option(Path("gongji-demo.db"), "--db", help="The demo store (replaced)."),
    no_serve: bool = typer.Option(False, "--no-serve", help="Prepare and settle; do not serve."),
) -> None:
    """A demo on the embedded store: sample institutions and members, three visits settled,
    then the service on 127.0.0.1:8000 (Ctrl-C stops it)."""
    import os

    from gongji.demo import CONSOLE_USER, HOSPITAL, prepare, sample_member

    issued, answers, password = prepare(path)
    token = issued.token
    for a in answers:
        out().print(
            f"{a.visit_id}  total {fmt(a.total)}  fund {fmt(a.fund_pay)}  account "
            f"{fmt(a.account_pay)}  cash {fmt(a.cash_pay)}  ({a.policy_version}; "
            + ", ".join(s.rule for s in a.trace)
            + ")",
            soft_wrap=True,
        )
    out().print(f"store: sqlite:///{path}   token for {HOSPITAL}: {token}", soft_wrap=True)
    out().print(
        f"an HIS's signing for {HOSPITAL}: paasid {issued.paasid}  secret {issued.secret}"
        f"  (credential {issued.id}: gongji credential list, revoke)",
        soft_wrap=True,
    )
    member = sample_member()
    out().print(
        f"sample member {member['id']} ({member['name']}): ID number {member['certno']}",
        soft_wrap=True,
    )
    _print_members()
    out().print(f"console login: user {CONSOLE_USER}  password {password}", soft_wrap=True)
    if no_serve:
        return
    from gongji.demo import signed_1101

    out().print("try, as a hospital's HIS would (signed 1101 by the ID number):", soft_wrap=True)
    print(signed_1101(issued, member["certno"], "http://127.0.0.1:8000"), flush=True)
    out().print(
        "try: curl -s localhost:8000/v1/visits -H 'Authorization: Bearer "
        f"{token}'   (docs: http://127.0.0.1:8000/docs, console: http://127.0.0.1:8000/console/)",
        soft_wrap=True,
    )
    os.environ["GONGJI_DATABASE_URL"] = f"sqlite:///{path}"
    serve(workers=1)


def _print_members() -> None:
    """Every demo member, with the ID number and card a hospital would identify them by (a
    line each: a table would cut the numbers short in a narrow terminal or a log)."""
    from gongji.demo import sample_members

    out().print("演示参保人 demo members (id, name, region, type, ID number, card):")
    for m in sample_members():
        card = f"  card {m['card_no']}" if m["card_no"] else ""
        out().print(
            f"  {m['id']}  {m['name']}  {m['region']}  {m['type']}  ID number {m['certno']}{card}",
            soft_wrap=True,
            markup=False,
        )


def serve(
    workers: int = typer.Option(1, "--workers", help="Processes (each with its own writer)."),
) -> None:
    """Run the HTTP service (GONGJI_HOST, GONGJI_PORT, GONGJI_DATABASE_URL, ...)."""
    import uvicorn

    from gongji.service.settings import from_env

    store()
    settings = from_env()
    uvicorn.run(
        "gongji.web:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        access_log=False,  # the service writes its own, without personal data
        log_level="warning",
        **settings.proxy_options(),  # forwarded headers: from GONGJI_TRUSTED_PROXIES only
    )


@credential_app.command("issue")
def credential_issue(
    institution: str = typer.Option(None, "--institution", help="Its registered code."),
    bureau: bool = typer.Option(False, "--bureau", help="A bureau credential (reads all)."),
    label: str = typer.Option("", "--label", help="Who holds it."),
    as_json: bool = typer.Option(False, "--json", help="Print token, paasid and secret as JSON."),
    paasid: str = typer.Option(None, "--paasid", help="Its x-tif-paasid (default: a new one)."),
    secret: str = typer.Option(None, "--secret", help="Its signing secret (default: new)."),
) -> None:
    """Issue a credential; the token is printed once and stored only as a hash. The paasid
    and secret an HIS signs its requests with (x-tif-* headers) go to stderr (or, with
    --json, all three to stdout: {"institution", "token", "paasid", "secret"})."""
    from gongji.service import auth

    if bureau == (institution is not None):
        fail(InputError("institution", "give --institution CODE or --bureau"))
    try:
        issued = auth.issue_credential(
            store(), institution, label or (institution or "bureau"), paasid, secret
        )
    except InputError as exc:
        fail(exc)
    if as_json:
        shown = {"institution": institution, "token": issued.token, "paasid": issued.paasid,
                 "secret": issued.secret}  # fmt: skip
        typer.echo(json.dumps(shown))
        return
    typer.echo(issued.token)
    typer.echo(
        f"credential {issued.id}  paasid: {issued.paasid}  secret: {issued.secret}", err=True
    )


@credential_app.command("list")
def credential_list(
    institution: str = typer.Option(None, "--institution", help="Only this institution's."),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """The credentials issued (id, institution, label, paasid, issued, revoked): the id is
    what `credential revoke` takes. Tokens and secrets are never shown."""
    from gongji.service import auth

    listed = [
        {**c, "issued": _time(c["issued"]), "revoked": _time(c["revoked"])}
        for c in auth.list_credentials(store(), institution)
    ]
    if as_json:
        emit(listed)
        return
    heads = ("编号 id", "机构 institution", "名称 label", "paasid", "签发 issued", "吊销 revoked")
    rows = [
        (str(c["id"]), c["institution"] or "医保局 bureau", c["label"], c["paasid"] or "",
         c["issued"], c["revoked"] or "")
        for c in listed
    ]  # fmt: skip
    # columns aligned as a terminal shows them (a Chinese character is two cells wide), and
    # whole: no table cut to the 80 columns Rich assumes for a log or a pipe
    from rich.cells import cell_len

    widths = [max(cell_len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]
    for r in [heads, *rows]:
        cells = [v + " " * (w - cell_len(v)) for v, w in zip(r, widths, strict=True)]
        typer.echo("  ".join(cells).rstrip())


def _time(moment) -> str | None:
    """2026-11-29 20:09:21: to the second, as people read a time."""
    return None if moment is None else moment.isoformat(sep=" ", timespec="seconds")


@credential_app.command("revoke")
def credential_revoke(credential_id: int = typer.Argument(..., help="Credential id.")) -> None:
    """Revoke a credential (refused within a second)."""
    from gongji.service import auth

    run(lambda db: auth.revoke(db, credential_id) or {"revoked": credential_id})
