"""Shared CLI plumbing: error reporting, exit codes, passphrases, JSON output."""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from chipkit.errors import ChipkitError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAIL = 1  # the command ran; the answer is negative (invalid chip, rejected rows, ...)
EXIT_USAGE = 2  # bad invocation or unusable input (click uses 2 for usage errors too)


def fail(message: str, code: int = EXIT_USAGE) -> None:
    """Print ``chipkit: error: message`` on stderr and exit."""
    click.echo(f"chipkit: error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn chipkit errors and OS errors into one clear line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            try:
                return func(*args, **kwargs)
            except ChipkitError as e:
                fail(str(e))
            except ValueError as e:
                fail(str(e))
            except FileNotFoundError as e:
                fail(f"{e.filename}: no such file or directory")
            except PermissionError as e:
                fail(f"{e.filename}: permission denied")
            except OSError as e:
                fail(f"{getattr(e, 'filename', '') or ''}: {e.strerror or e}")
            except KeyboardInterrupt:
                click.echo("chipkit: interrupted", err=True)
                sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _show_warning(
    message: Any, category: Any, filename: Any, lineno: Any, file: Any = None, line: Any = None
) -> None:
    click.echo(f"chipkit: warning: {message}", err=True)


def get_passphrase(confirm: bool = False) -> str | None:
    """The keyring passphrase: $CHIPKIT_PASSPHRASE, else a hidden prompt on a terminal."""
    env = os.environ.get("CHIPKIT_PASSPHRASE")
    if env:
        return env
    if not sys.stdin.isatty():
        return None
    return click.prompt(
        "Keyring passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )


_OFFICE_META = "chipkit.office"
OFFICE_HELP = (
    "Fingerprint of the issuing office a verifier bundle must be signed by "
    "(printed by `chipkit keys export-verifier`; default: $CHIPKIT_OFFICE)."
)


def _store_office(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[_OFFICE_META] = value


def office_option(f: F) -> F:
    """The ``--office FINGERPRINT`` option of every command that loads a verifier bundle.

    The value is kept in the click context and used by ``open_verifier``, so commands
    need no extra parameter.
    """
    return click.option(
        "--office",
        metavar="FINGERPRINT",
        envvar="CHIPKIT_OFFICE",
        expose_value=False,
        callback=_store_office,
        help=OFFICE_HELP,
    )(f)


def pinned_office(office: str | None = None) -> str | None:
    """The office to pin: ``office``, else ``--office`` of this command, else $CHIPKIT_OFFICE."""
    ctx = click.get_current_context(silent=True)
    return (
        office
        or (ctx.meta.get(_OFFICE_META) if ctx is not None else None)
        or os.environ.get("CHIPKIT_OFFICE")
        or None
    )


def open_verifier(path: Path, max_age_days: int | None = 90, office: str | None = None) -> Any:
    """Load a Verifier from a bundle file or keyring directory (prompting for a passphrase).

    A bundle is pinned to the office fingerprint given by ``office``, ``--office`` or
    $CHIPKIT_OFFICE; warnings (unpinned, stale bundle) are printed as one
    ``chipkit: warning:`` line each.
    """
    from datetime import timedelta

    from chipkit import Verifier
    from chipkit.errors import WrongPassphrase

    max_age = timedelta(days=max_age_days) if max_age_days is not None else None
    office = pinned_office(office)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            v = Verifier.load(
                path,
                passphrase=os.environ.get("CHIPKIT_PASSPHRASE"),
                max_age=max_age,
                office_fingerprint=office,
            )
        except WrongPassphrase:
            if os.environ.get("CHIPKIT_PASSPHRASE") or not sys.stdin.isatty():
                raise
            v = Verifier.load(
                path, passphrase=get_passphrase(), max_age=max_age, office_fingerprint=office
            )
    for w in caught:
        click.echo(f"chipkit: warning: {w.message}", err=True)
    return v


def open_keyring(path: Path) -> Any:
    """Open an issuing keyring, prompting for the passphrase if needed."""
    from chipkit.errors import WrongPassphrase
    from chipkit.keys import Keyring

    try:
        return Keyring.open(path, os.environ.get("CHIPKIT_PASSPHRASE"))
    except WrongPassphrase:
        if os.environ.get("CHIPKIT_PASSPHRASE") or not sys.stdin.isatty():
            raise
        return Keyring.open(path, get_passphrase())


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


KEYS_OPTION_HELP = "Issuing keyring directory, or a verifier bundle file."
