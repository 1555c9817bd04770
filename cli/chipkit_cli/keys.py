"""`chipkit keys ...`, `chipkit seal`, `chipkit verify`, `chipkit revoke`."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from chipkit_cli._common import (
    EXIT_FAIL,
    KEYS_OPTION_HELP,
    echo_json,
    fail,
    get_passphrase,
    handle_errors,
    office_option,
    open_keyring,
    open_verifier,
)

if TYPE_CHECKING:  # pragma: no cover
    from chipkit.keys import KeyInfo

DIR = click.Path(path_type=Path, file_okay=False)


@click.group()
def keys() -> None:
    """Create and manage issuing keyrings and verifier bundles."""


@keys.command("init")
@click.argument("directory", type=DIR)
@click.option(
    "--no-passphrase", is_flag=True, help="Store private keys unencrypted (demos and tests only)."
)
@click.option("--name", default="", help="Issuing office name, recorded in exported bundles.")
@handle_errors
def keys_init(directory: Path, no_passphrase: bool, name: str) -> None:
    """Create a new issuing keyring in DIRECTORY.

    Makes an Ed25519 signing key, an AES-SIV read key and an office key (signs verifier
    bundles), each with a key id. Private keys are encrypted with a passphrase taken from
    $CHIPKIT_PASSPHRASE or asked for on the terminal. Never overwrites a keyring.
    """
    if no_passphrase:
        passphrase = None
        click.echo(
            "chipkit: warning: private keys stored WITHOUT a passphrase: for demos and tests only",
            err=True,
        )
    else:
        passphrase = get_passphrase(confirm=True)
        if not passphrase:
            fail(
                "no passphrase: set CHIPKIT_PASSPHRASE, run on a terminal, or pass --no-passphrase"
            )
    from chipkit.keys import Keyring

    kr = Keyring.init(directory, passphrase, name=name)
    for k in kr.list_keys():
        click.echo(_key_line(k))
    click.echo(f"keyring created in {directory} (keep it offline and backed up)")


def _key_line(k: KeyInfo) -> str:
    kind = k.kind
    cur = "current" if k.current else "retired"
    kid = k.kid if k.kid is not None else 0
    if kind == "signing":
        window = f"{k.not_before} .. {k.not_after or 'open'} (UTC)"
        return f"signing  kid={kid:<5} {cur:<8} issue dates {window}"
    if kind == "read":
        scope = f"village {k.village}" if k.village else ("default" if k.current else "old default")
        return f"read     kid={kid:<5} {scope}"
    return f"office   fingerprint {k.fingerprint}"


@keys.command("list")
@click.argument("directory", type=DIR)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per key.")
@handle_errors
def keys_list(directory: Path, as_json: bool) -> None:
    """List the keys of a keyring (ids, windows, scopes; never secrets)."""
    kr = open_keyring(directory)
    for k in kr.list_keys():
        click.echo(_key_json(k) if as_json else _key_line(k))
    if not as_json:
        click.echo(f"revoked plates: {len(kr.revoked)}")


def _key_json(k: KeyInfo) -> str:
    import json
    from dataclasses import asdict

    return json.dumps(asdict(k))


@keys.command("rotate")
@click.argument("directory", type=DIR)
@handle_errors
def keys_rotate(directory: Path) -> None:
    """Make a new current signing key and default read key (and a new read key for every
    village that has its own).

    Old public keys and read keys stay, so plates already on doors keep verifying; the
    old signing key's window closes today. Export a new verifier bundle afterwards.
    """
    kr = open_keyring(directory)
    before = {k.kid for k in kr.list_keys() if k.kind == "read"}
    sk, rk = kr.rotate()
    villages = ", ".join(
        f"kid={k.kid} for village {k.village}"
        for k in kr.list_keys()
        if k.kind == "read" and k.village and k.kid not in before
    )
    more = f", new village read keys {villages}" if villages else ""
    click.echo(
        f"new signing key kid={sk}, new read key kid={rk}{more}; export a new verifier bundle"
    )


@keys.command("retire")
@click.argument("directory", type=DIR)
@click.argument("kid", type=click.IntRange(1, 65535))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def keys_retire(directory: Path, kid: int, yes: bool) -> None:
    """Withdraw a leaked signing key KID for good.

    Plates it signed stop verifying (status unknown_key) once devices get the next
    bundle: re-issue them. The current key cannot be retired; rotate first.
    """
    if not yes and not click.confirm(
        f"Retire signing key {kid}? Its plates stop verifying", err=True
    ):
        fail("not confirmed", EXIT_FAIL)
    kr = open_keyring(directory)
    kr.retire_signing_key(kid)
    click.echo(f"signing key {kid} retired; export a new verifier bundle and re-issue its plates")


@keys.command("add-read-key")
@click.argument("directory", type=DIR)
@click.option("--village", required=True, help="12-digit village division code.")
@handle_errors
def keys_add_read_key(directory: Path, village: str) -> None:
    """Add a read key for one village: its new plates can be read only with that key."""
    kr = open_keyring(directory)
    kid = kr.add_read_key(village)
    click.echo(f"read key kid={kid} for village {village}")


@keys.command("restored")
@click.argument("directory", type=DIR)
@handle_errors
def keys_restored(directory: Path) -> None:
    """Accept a keyring in DIRECTORY deliberately restored from an older backup.

    chipkit remembers, per machine and user (in $CHIPKIT_STATE_DIR, default
    ~/.local/state/chipkit/keyrings.json), the highest next serial, bundle counter and
    the revocations it has seen of each keyring, and refuses a keyring that went back.
    This command moves the next serial and the bundle counter up to what was seen here
    (new plates never reuse a printed serial; devices accept the next bundle) and
    re-applies the remembered revocations (reason "re-applied after restore"). Nothing
    else changes. Export a new verifier bundle afterwards.
    """
    from chipkit.errors import WrongPassphrase
    from chipkit.keys import Keyring

    try:
        done = Keyring.accept_restore(directory)  # passphrase from $CHIPKIT_PASSPHRASE
    except WrongPassphrase:
        if os.environ.get("CHIPKIT_PASSPHRASE") or not sys.stdin.isatty():
            raise
        done = Keyring.accept_restore(directory, get_passphrase())
    click.echo(str(done))


@keys.command("export-verifier")
@click.argument("directory", type=DIR)
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--village",
    default=None,
    help="Only what that village's plates need: its read keys, its revocations.",
)
@click.option(
    "--valid-days",
    type=click.IntRange(1, 3650),
    default=180,
    show_default=True,
    help="Hard expiry: the bundle refuses to verify this many days after export.",
)
@handle_errors
def keys_export_verifier(directory: Path, out: Path, village: str | None, valid_days: int) -> None:
    """Write a signed verifier bundle OUT for scanning devices.

    It holds public keys, read keys, the revocation list, an increasing counter and a
    hard expiry; no signing key, so it can verify and read plates but never seal them.
    It contains read keys: give it only to trusted devices. With --village it holds
    only that village's own read keys, the default read keys and signing keys its
    issued plates (in the keyring's ledger) were sealed with, the current signing key,
    and only that village's revocations.
    """
    from datetime import timedelta

    from chipkit.issuance import village_key_use
    from chipkit.plates.ledger import Ledger

    kr = open_keyring(directory)
    used = village_key_use(Ledger(kr.path), village) if village else None
    info = kr.export_verifier(out, village=village, valid_for=timedelta(days=valid_days), used=used)
    expires = info.expires.date().isoformat() if info.expires else "never"
    click.echo(
        f"verifier bundle {out}: counter {info.counter}, expires {expires}, "
        f"office {info.office_fingerprint}"
    )
    click.echo(
        f"devices pin it: export CHIPKIT_OFFICE={info.office_fingerprint}  (or --office)", err=True
    )


@click.command()
@click.option(
    "--keys",
    "keys_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Issuing keyring directory.",
)
@click.option(
    "--household", required=True, help="Household id from the register (1-32 of 0-9 A-Z a-z -)."
)
@click.option("--village", required=True, help="12-digit village division code.")
@click.option(
    "--expires", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Expiry date YYYY-MM-DD."
)
@click.option(
    "--url-prefix", default=None, help="Upper-case URL prefix, e.g. HTTPS://JD.EXAMPLE.CN/C/."
)
@click.option(
    "--reissue",
    is_flag=True,
    help="The household already has a live plate: revoke it and mint a new one.",
)
@handle_errors
def seal(
    keys_dir: Path,
    household: str,
    village: str,
    expires: datetime | None,
    url_prefix: str | None,
    reissue: bool,
) -> None:
    """Seal one chip and print its token text on one line.

    The chip is a plate like any other: it is recorded in the keyring's issuance ledger
    (issued.jsonl), and a household that already holds a live plate is refused unless
    --reissue, which revokes the old serial. Issue dates are UTC dates.
    """
    from chipkit.issuance import seal_recorded

    kr = open_keyring(keys_dir)
    exp = expires.date() if expires is not None else None
    done = seal_recorded(
        kr, household, village, expires=exp, url_prefix=url_prefix, reissue=reissue
    )
    click.echo(done.text)
    click.echo(f"serial {done.claims.serial}", err=True)
    if done.superseded is not None:
        click.echo(
            f"revoked serial {done.superseded} (reissued); export a new verifier bundle", err=True
        )


@click.command()
@click.option(
    "--keys", "keys_path", required=True, type=click.Path(path_type=Path), help=KEYS_OPTION_HELP
)
@click.argument("token", required=False)
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON object (status, claims, error)."
)
@click.option(
    "--max-bundle-age", default=90, show_default=True, help="Warn when the bundle is older (days)."
)
@office_option
@handle_errors
def verify(keys_path: Path, token: str | None, as_json: bool, max_bundle_age: int) -> None:
    """Verify one chip TOKEN (or '-' to read it from standard input).

    A chip text contains spaces and characters such as $ and %: put it in single quotes
    on the command line, or pipe it in with '-'.

    Prints the claims. Exit 0 valid, 1 not valid (revoked, expired, unknown key,
    invalid; the reason on stderr or in the JSON), 2 usage error.
    """
    if token is None or token == "-":
        token = sys.stdin.readline().rstrip("\r\n")
    v = open_verifier(keys_path, max_bundle_age)
    result = v.check(token)
    if as_json:
        echo_json(result.to_dict())
    elif result.claims is not None:
        c = result.claims
        click.echo(f"status:       {result.status.value}")
        click.echo(f"household_id: {c.household_id}")
        click.echo(f"village:      {c.village}")
        click.echo(f"serial:       {c.serial}")
        click.echo(f"issued:       {c.issued.isoformat()}")
        click.echo(f"expires:      {c.expires.isoformat() if c.expires else '-'}")
        click.echo(f"key ids:      signing {result.sign_key_id}, read {result.read_key_id}")
    if not result.ok:
        if not as_json:
            click.echo(f"chipkit: {result.status.value}: {result.reason}", err=True)
        sys.exit(EXIT_FAIL)


@click.command()
@click.argument("directory", type=DIR)
@click.argument("serials", nargs=-1, type=click.IntRange(1, 2**32 - 1))
@click.option(
    "--household",
    "households",
    multiple=True,
    help="Revoke every live plate of this household id (repeatable).",
)
@click.option("--reason", required=True, help="Why: lost, replaced, moved out, ...")
@click.option(
    "--unlisted",
    is_flag=True,
    help="Also accept serials this keyring reserved that its ledger does not list "
    "(chips made before the ledger existed).",
)
@handle_errors
def revoke(
    directory: Path,
    serials: tuple[int, ...],
    households: tuple[str, ...],
    reason: str,
    unlisted: bool,
) -> None:
    """Revoke plates by SERIAL, or every live plate of a --household.

    Only serials this keyring issued (listed in its ledger, issued.jsonl) are accepted:
    an unknown serial is refused, naming it, and nothing is revoked. Prints each plate
    revoked. Carried in the next exported verifier bundle.
    """
    from chipkit.issuance import revoke_checked

    if not serials and not households:
        fail("give the SERIALs to revoke, or --household ID")
    kr = open_keyring(directory)
    result = revoke_checked(kr, serials, reason, households=households, allow_unlisted=unlisted)
    for p in result.revoked:
        who = f" household {p.household_id} village {p.village}" if p.household_id else ""
        click.echo(f"revoked serial {p.serial}{who}")
    for s in result.already:
        click.echo(f"serial {s} was already revoked")
    n = len(result.revoked)
    click.echo(f"revoked {n} plate{'' if n == 1 else 's'}; export a new verifier bundle")


__all__ = ["keys", "revoke", "seal", "verify"]
