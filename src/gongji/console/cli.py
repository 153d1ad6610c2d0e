"""`gongji staff add|disable`: console accounts (the first administrator is made here)."""

import sys

import typer

from gongji.commands import emit, fail, store
from gongji.errors import InputError

staff_app = typer.Typer(
    no_args_is_help=True, help="经办人员及其角色 (console staff and their roles)."
)


def register(app: typer.Typer) -> None:
    app.add_typer(staff_app, name="staff")


@staff_app.command("add")
def staff_add(
    username: str = typer.Argument(..., help="Login name (letters, digits, _)."),
    name: str = typer.Option(..., "--name", help="The person's name, shown on the pages."),
    role: str = typer.Option("viewer", "--role", help="viewer | operator | admin"),
    password: str = typer.Option(
        None,
        "--password",
        envvar="GONGJI_STAFF_PASSWORD",
        help="At least 10 characters (asked for at a terminal if not given).",
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin's first line (scripts)."
    ),
) -> None:
    """新增工作人员（记入审计日志）。
    Add a staff member; recorded in the audit log."""
    from gongji.console import auth

    password = _password(password, password_stdin)
    try:
        auth.add_staff(store(), username, name, role, password, "cli")
    except InputError as exc:
        fail(exc)
    emit({"added": username, "role": role})


def _password(given: str | None, from_stdin: bool) -> str:
    """The password: from stdin's first line (a script, no terminal), as given, or asked
    for twice at a terminal; without any of these, one line saying how to give it."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if given is not None:
        return given
    if not sys.stdin.isatty():
        fail(
            InputError(
                "password",
                "没有终端可输入密码 no terminal to ask at: pipe it to --password-stdin "
                "(or set GONGJI_STAFF_PASSWORD)",
            )
        )
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@staff_app.command("disable")
def staff_disable(username: str = typer.Argument(..., help="Login name.")) -> None:
    """停用工作人员并结束其会话（记入审计日志）。
    Disable a staff member and end their sessions; recorded in the audit log."""
    from gongji.console import auth

    try:
        auth.disable(store(), username, "cli")
    except InputError as exc:
        fail(exc)
    emit({"disabled": username})
