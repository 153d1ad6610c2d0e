"""`gongji staff add|disable`: console accounts (the first administrator is made here)."""

import typer

from gongji.commands import emit, fail, store
from gongji.errors import InputError

staff_app = typer.Typer(no_args_is_help=True, help="Console staff (经办人员) and their roles.")


def register(app: typer.Typer) -> None:
    app.add_typer(staff_app, name="staff")


@staff_app.command("add")
def staff_add(
    username: str = typer.Argument(..., help="Login name (letters, digits, _)."),
    name: str = typer.Option(..., "--name", help="The person's name, shown on the pages."),
    role: str = typer.Option("viewer", "--role", help="viewer | operator | admin"),
    password: str = typer.Option(
        ...,
        "--password",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="GONGJI_STAFF_PASSWORD",
        help="At least 10 characters (prompted if not given).",
    ),
) -> None:
    """Add a staff member; recorded in the audit log."""
    from gongji.console import auth

    try:
        auth.add_staff(store(), username, name, role, password, "cli")
    except InputError as exc:
        fail(exc)
    emit({"added": username, "role": role})


@staff_app.command("disable")
def staff_disable(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Disable a staff member and end their sessions; recorded in the audit log."""
    from gongji.console import auth

    try:
        auth.disable(store(), username, "cli")
    except InputError as exc:
        fail(exc)
    emit({"disabled": username})
