"""`chipkit users`: staff accounts of the district service."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from chipkit_cli._common import echo_json, fail, handle_errors

DB = click.option(
    "--db",
    "db_url",
    metavar="URL",
    envvar="CHIPKIT_DB",
    help="SQLite file or postgresql:// URL ($CHIPKIT_DB; after `make demo` the demo "
    "district's demo-out/cases.sqlite, as `chipkit serve`).",
)


def _accounts(db_url: str | None):  # type: ignore[no-untyped-def]
    from chipkit.serve import Accounts
    from chipkit.serve.store import open_database
    from chipkit_cli.serve import demo_or

    return Accounts(open_database(demo_or(db_url), create=False))


def _by() -> str:
    """The audit actor of a change made at the server's shell: the operating-system user."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


def _password(confirm: bool = True) -> str:
    env = os.environ.get("CHIPKIT_USER_PASSWORD")
    if env:
        return env
    if not sys.stdin.isatty():
        fail("no password: set $CHIPKIT_USER_PASSWORD or run on a terminal")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=confirm, err=True))


@click.group("users")
def users() -> None:
    """Staff accounts: grid workers, officers, clerks, admins.

    \b
    chipkit users from-register --out initial-passwords.csv   one per register worker
    chipkit users add chen --worker 330703100201-第一网格-陈晓琳
    chipkit users add clerk1 --role clerk --unit 330703100201
    chipkit users add root --role admin
    chipkit users passwd chen ; chipkit users disable chen ; chipkit users list
    Passwords: prompted, or $CHIPKIT_USER_PASSWORD (at least 10 characters).
    """


@users.command("add")
@DB
@click.argument("username")
@click.option(
    "--worker",
    "worker_id",
    metavar="ID",
    help="Register worker id (role and unit from the register).",
)
@click.option(
    "--role",
    type=click.Choice(["clerk", "admin"]),
    help="For accounts that are not register workers.",
)
@click.option("--unit", "unit_id", metavar="VILLAGE", help="A clerk's village code.")
@click.option("--name", "display_name", default="", help="Display name.")
@handle_errors
def add(
    db_url: str | None,
    username: str,
    worker_id: str | None,
    role: str | None,
    unit_id: str | None,
    display_name: str,
) -> None:
    """Create an account."""
    if not worker_id and not role:
        fail("give --worker ID (grid worker or officer), or --role clerk|admin")
    acc = _accounts(db_url)
    u = acc.add(
        username,
        _password(),
        worker_id=worker_id,
        role=role,
        unit_id=unit_id,
        display_name=display_name,
        by=_by(),
    )
    click.echo(
        f"chipkit: user {u.username} ({u.role}{' of ' + u.unit_id if u.unit_id else ''}) created"
    )


@users.command("from-register")
@DB
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="CSV of the new accounts' initial passwords (mode 0600; hand out, then delete).",
)
@handle_errors
def from_register(db_url: str | None, out: Path) -> None:
    """An account for every register worker that has none (user name = worker id)."""
    import csv

    if not out.parent.is_dir():
        fail(f"{out.parent}: no such folder")
    made = _accounts(db_url).from_register(by=_by())
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["username", "role", "unit", "initial_password"])
        for u, pw in made:
            w.writerow([u.username, u.role, u.unit_id or "", pw])
    click.echo(f"chipkit: {len(made)} account(s) created; initial passwords in {out}")


@users.command("passwd")
@DB
@click.argument("username")
@handle_errors
def passwd(db_url: str | None, username: str) -> None:
    """Set a new password (ends the user's sessions)."""
    acc = _accounts(db_url)
    acc.get(username)
    acc.set_password(username, _password(), by=_by())
    click.echo(f"chipkit: password of {username} changed")


@users.command("disable")
@DB
@click.argument("username")
@click.option("--enable", is_flag=True, help="Re-enable instead.")
@handle_errors
def disable(db_url: str | None, username: str, enable: bool) -> None:
    """Disable an account (ends its sessions, revokes its API tokens)."""
    _accounts(db_url).set_active(username, enable, by=_by())
    click.echo(f"chipkit: user {username} {'enabled' if enable else 'disabled'}")


@users.command("list")
@DB
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def list_users(db_url: str | None, as_json: bool) -> None:
    """List accounts."""
    for u in _accounts(db_url).all():
        if as_json:
            echo_json(u.public())
        else:
            state = "" if u.active else "  (disabled)"
            click.echo(f"{u.username}\t{u.role}\t{u.unit_id or '-'}\t{u.display_name}{state}")
