"""The service's commands: `gongji serve`, `gongji demo`, `gongji credential issue|revoke`."""

import json
from pathlib import Path

import typer

from gongji.commands import console as out
from gongji.commands import fail, run, store
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

    from gongji.demo import CONSOLE_USER, HOSPITAL, prepare, sample_member, signed_1101

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
        f"an HIS's signing for {HOSPITAL}: paasid {issued.paasid}  secret {issued.secret}",
        soft_wrap=True,
    )
    member = sample_member()
    out().print(
        f"sample member {member['id']} ({member['name']}): ID number {member['certno']}",
        soft_wrap=True,
    )
    out().print(f"console login: user {CONSOLE_USER}  password {password}", soft_wrap=True)
    if no_serve:
        return
    out().print("try, as a hospital's HIS would (signed 1101 by the ID number):", soft_wrap=True)
    print(signed_1101(issued, member["certno"], "http://127.0.0.1:8000"), flush=True)
    out().print(
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
    typer.echo(f"paasid: {issued.paasid}  secret: {issued.secret}", err=True)


@credential_app.command("revoke")
def credential_revoke(credential_id: int = typer.Argument(..., help="Credential id.")) -> None:
    """Revoke a credential (refused within a second)."""
    from gongji.service import auth

    run(lambda db: auth.revoke(db, credential_id) or {"revoked": credential_id})
