"""The service's commands: `gongji serve`, `gongji demo`, `gongji credential
issue|list|revoke`."""

import json
from pathlib import Path

import typer

from gongji.commands import console as out
from gongji.commands import emit, fail, run, store
from gongji.errors import InputError
from gongji.money import fmt

credential_app = typer.Typer(no_args_is_help=True, help="服务凭证 (credentials for the service).")


def register(app: typer.Typer) -> None:
    app.add_typer(credential_app, name="credential")
    app.command()(serve)
    app.command()(demo)


def demo(
    path: Path = typer.Option(Path("gongji-demo.db"), "--db", help="The demo store (replaced)."),
    no_serve: bool = typer.Option(False, "--no-serve", help="Prepare and settle; do not serve."),
) -> None:
    """演示：示例机构与参保人，结算三次就诊，然后启动服务。
    A demo on the embedded store: sample institutions and members, three visits settled,
    then the service on 127.0.0.1:8000 (Ctrl-C stops it)."""
    import os

    from gongji.demo import CONSOLE_USER, HOSPITAL, prepare, sample_member
    from gongji.labels import version

    issued, answers, password = prepare(path)
    token = issued.token
    for a in answers:
        out().print(
            f"{a.visit_id}  总额 {fmt(a.total)}  统筹 {fmt(a.fund_pay)}  账户 "
            f"{fmt(a.account_pay)}  现金 {fmt(a.cash_pay)}  ({version(a.policy_version)}; "
            + ", ".join(s.rule for s in a.trace)
            + ")",
            soft_wrap=True,
        )
    out().print(
        f"数据库 (store): sqlite:///{path}   {HOSPITAL} 的令牌 (token): {token}", soft_wrap=True
    )
    out().print(
        f"{HOSPITAL} 的 HIS 签名凭据 (an HIS's signing): paasid {issued.paasid}  secret "
        f"{issued.secret}  (凭证 credential {issued.id}：gongji credential list, revoke)",
        soft_wrap=True,
        markup=False,
    )
    member = sample_member()
    out().print(
        f"示例参保人 (sample member) {member['id']}（{member['name']}）："
        f"身份证号 (ID number) {member['certno']}",
        soft_wrap=True,
    )
    _print_members()
    out().print(
        f"管理后台登录 (console login)：用户名 user {CONSOLE_USER}  密码 password {password}",
        soft_wrap=True,
        markup=False,
    )
    if no_serve:
        return
    from gongji.demo import signed_1101

    out().print(
        "试一试，像医院 HIS 那样签名调用 1101（按身份证号）(try, as a hospital's HIS would):",
        soft_wrap=True,
    )
    print(signed_1101(issued, member["certno"], "http://127.0.0.1:8000"), flush=True)
    out().print(
        "试一试 (try): curl -s localhost:8000/v1/visits -H 'Authorization: Bearer "
        f"{token}'   (接口文档 docs: http://127.0.0.1:8000/docs，管理后台 console: "
        "http://127.0.0.1:8000/console/)",
        soft_wrap=True,
    )
    os.environ["GONGJI_DATABASE_URL"] = f"sqlite:///{path}"
    serve(workers=1)


def _print_members() -> None:
    """Every demo member, with the ID number and card a hospital would identify them by (a
    line each: a table would cut the numbers short in a narrow terminal or a log)."""
    from gongji.demo import sample_members
    from gongji.labels import label

    out().print("演示参保人 demo members (编号、姓名、统筹地区、人员类别、身份证号、社保卡号):")
    for m in sample_members():
        card = f"  社保卡 card {m['card_no']}" if m["card_no"] else ""
        out().print(
            f"  {m['id']}  {m['name']}  {label(m['region'])} {m['region']}  {label(m['type'])}  "
            f"身份证号 ID number {m['certno']}{card}",
            soft_wrap=True,
            markup=False,
        )


def serve(
    workers: int = typer.Option(1, "--workers", help="Processes (each with its own writer)."),
) -> None:
    """启动 HTTP 服务。
    Run the HTTP service (GONGJI_HOST, GONGJI_PORT, GONGJI_DATABASE_URL, ...)."""
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
    """签发凭证（令牌只显示一次）。
    Issue a credential; the token is printed once and stored only as a hash. The paasid
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
        f"凭证 credential {issued.id}  paasid: {issued.paasid}  secret: {issued.secret}", err=True
    )


@credential_app.command("list")
def credential_list(
    institution: str = typer.Option(None, "--institution", help="Only this institution's."),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """凭证列表（编号供 revoke 使用；不显示令牌和密钥）。
    The credentials issued (id, institution, label, paasid, issued, revoked): the id is
    what `credential revoke` takes. Tokens and secrets are never shown."""
    from gongji.service import auth

    listed = [
        {**c, "issued": _time(c["issued"]), "revoked": _time(c["revoked"])}
        for c in auth.list_credentials(store(), institution)
    ]
    if as_json:
        emit(listed)
        return
    if not listed:
        whose = f"机构 {institution} " if institution else ""
        typer.echo(
            f"{whose}尚无凭证：用 gongji credential issue --institution 机构编码（或 --bureau）"
            "签发 (no credentials yet: issue one with gongji credential issue --institution CODE"
            " or --bureau)"
        )
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
    """吊销凭证。
    Revoke a credential (refused within a second)."""
    from gongji.service import auth

    run(lambda db: auth.revoke(db, credential_id) or {"revoked": credential_id})
