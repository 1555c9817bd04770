"""`chipkit serve`: the district service on uvicorn, and `chipkit households pins`."""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from chipkit_cli._common import EXIT_USAGE, fail, handle_errors, office_option, pinned_office

DEMO_DB = Path("demo-out/cases.sqlite")
DEMO_KEYS = Path("demo-out/keys")
CONFIG_ENV = "CHIPKIT_SERVE_CONFIG"


def demo_or(db: str | None) -> str | None:
    """The database of `chipkit serve`, `chipkit users` and `chipkit households pins`: --db,
    else $CHIPKIT_DB, else the demo district's after `make demo`, else chipkit-cases.sqlite."""
    if db is None and not os.environ.get("CHIPKIT_DB") and DEMO_DB.exists():
        return str(DEMO_DB)
    return db


def _defaults(db: str | None, keys: Path | None, bundle: Path | None) -> tuple[Any, Any, Any]:
    """No flags after `make demo`: serve the demo district (demo-out/)."""
    if demo_or(db) != db:
        db = demo_or(db)
        if keys is None and bundle is None and DEMO_KEYS.is_dir():
            keys = DEMO_KEYS
    return db, keys, bundle


@click.command("serve")
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    envvar="CHIPKIT_DB",
    help="SQLite file or postgresql:// URL (default: demo-out/cases.sqlite after "
    "`make demo`, else $CHIPKIT_DB or chipkit-cases.sqlite).",
)
@click.option(
    "--keys",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Issuing keyring directory (passphrase from $CHIPKIT_PASSPHRASE).",
)
@click.option(
    "--bundle",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Verifier bundle (verification only; pin it with $CHIPKIT_OFFICE).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes (use PostgreSQL for more than one).",
)
@click.option(
    "--public-url",
    metavar="URL",
    help="The address users reach, e.g. https://jd.example.cn (https: Secure cookies, HSTS).",
)
@click.option(
    "--trusted-proxy",
    "trusted",
    multiple=True,
    metavar="ADDR",
    help="Reverse proxy address whose X-Forwarded-For/-Proto are believed (repeatable).",
)
@click.option(
    "--max-upload-mb",
    default=20,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="Largest accepted upload.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Uploads and job outputs (default: beside the SQLite file, else ./chipkit-serve-data; "
    "shared storage when several hosts serve).",
)
@click.option(
    "--http",
    "http_parser",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "httptools", "h11"]),
    help="uvicorn's HTTP parser: auto takes httptools (C, installed with the serve extra), "
    "else h11 (pure Python).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@office_option
@handle_errors
def serve(
    db_url: str | None,
    keys: Path | None,
    bundle: Path | None,
    host: str,
    port: int,
    workers: int,
    public_url: str | None,
    trusted: tuple[str, ...],
    max_upload_mb: int,
    data_dir: Path | None,
    http_parser: str,
    log_level: str,
) -> None:
    """Run the district service (JSON API, OpenAPI at /openapi.json, docs at /api/docs).

    \b
    chipkit serve                                # after `make demo`: the demo district
    chipkit serve --db postgresql://ck@db/ck --keys KEYS --workers 4 \\
        --public-url https://jd.example.cn --trusted-proxy 127.0.0.1

    Accounts: `chipkit users add|from-register|passwd|disable|list`. Residents open a
    household session with their door chip; PIN slips come with the plates (`chipkit
    plates --db`, the clerk console) or from `chipkit households pins`.
    """
    try:
        import uvicorn  # noqa: F401 - the serve extra is installed
    except ImportError:
        fail("the service needs its extra: pip install 'chipkit[serve]' (make demo installs it)")

    from chipkit.cases.db import normalise_url, redact

    if http_parser == "httptools" and importlib.util.find_spec("httptools") is None:
        fail("--http httptools: httptools is not installed (pip install 'chipkit[serve]')")
    if keys and bundle:
        fail("give --keys or --bundle, not both")
    if public_url and not public_url.lower().startswith(("http://", "https://")):
        fail(f"--public-url {public_url}: must start with http:// or https://")
    db_url, keys, bundle = _defaults(db_url, keys, bundle)
    url = normalise_url(db_url)
    if workers > 1 and url.startswith("sqlite"):
        click.echo(
            "chipkit: warning: several workers on SQLite serialise their writes; "
            "use PostgreSQL for a district server",
            err=True,
        )
    cfg = {
        "db": url,
        "keys": str(keys) if keys else None,
        "bundle": str(bundle) if bundle else None,
        "public_url": public_url,
        "trusted_proxies": list(trusted),
        "max_upload": max_upload_mb * 1024 * 1024,
        "office": pinned_office(),
        "data_dir": str(data_dir.absolute()) if data_dir else None,
    }
    # check everything opens before forking workers (one clear line instead of N tracebacks)
    from chipkit.serve.store import open_database
    from chipkit.serve.trust import load_verifier

    db = open_database(url, create=False)  # a mistyped --db never serves a new empty district
    from chipkit.serve import Accounts

    if not Accounts(db).all():
        click.echo(
            "chipkit: no staff accounts yet: `chipkit users from-register --out FILE.csv` "
            "(or `chipkit users add`); residents need PIN slips: `chipkit households pins`",
            err=True,
        )
    db.dispose()
    verifier = load_verifier(_config(cfg))
    _check_port(host, port)  # before saying "listening": a busy port is one line, exit 2
    # the settings go to worker processes in a private file, not in their environment
    fd, path = tempfile.mkstemp(prefix="chipkit-serve-", suffix=".json")
    os.fchmod(fd, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f)
    os.environ[CONFIG_ENV] = path
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - display only
    click.echo(
        f"chipkit: serving {redact(url)} "
        f"({'keys ' + str(keys or bundle) if verifier else 'no keys: chips cannot be checked'})"
    )
    click.echo(
        f"chipkit: listening on http://{shown}:{port}  (API docs: /api/docs)"
        + (f", public address {public_url}" if public_url else "")
    )
    sys.stdout.flush()
    try:
        from chipkit.serve.runner import run

        run(
            "chipkit_cli.serve:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            http=http_parser,
            proxy_headers=False,
            server_header=False,
            date_header=True,
        )
    finally:
        Path(path).unlink(missing_ok=True)


def _check_port(host: str, port: int) -> None:
    """Fail in one line when the address cannot be bound (another server holds the port)."""
    import socket

    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
            s.bind(addr)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            fail(f"{host}:{port} is in use (another server?); choose another --port")
        fail(f"{host}:{port}: cannot listen there ({e.strerror or e})")


def _config(cfg: dict[str, Any]) -> Any:
    from chipkit.serve import ServeConfig

    return ServeConfig(
        db=cfg["db"],
        keys=Path(cfg["keys"]) if cfg.get("keys") else None,
        bundle=Path(cfg["bundle"]) if cfg.get("bundle") else None,
        public_url=cfg.get("public_url"),
        trusted_proxies=tuple(cfg.get("trusted_proxies") or ()),
        max_upload=int(cfg.get("max_upload") or 20 * 1024 * 1024),
        office=cfg.get("office"),
        data_dir=Path(cfg["data_dir"]) if cfg.get("data_dir") else None,
    )


def app_from_env() -> Any:
    """The factory uvicorn's worker processes call (settings from the private file)."""
    from chipkit.serve import create_app

    path = os.environ.get(CONFIG_ENV)
    if not path:
        sys.exit(EXIT_USAGE)
    with open(path, encoding="utf-8") as f:
        return create_app(_config(json.load(f)))


@click.group("households")
def households() -> None:
    """Household credentials for the service (PIN slips)."""


@households.command("pins")
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    envvar="CHIPKIT_DB",
    help="The cases database ($CHIPKIT_DB; after `make demo` demo-out/cases.sqlite).",
)
@click.option("--village", metavar="CODE", help="Only this village's households.")
@click.option("--household", "hids", multiple=True, metavar="ID", help="Only these households.")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="A new file for the slips: .csv (UTF-8 with BOM) or .pdf (10 per A4 page); an "
    "existing file is refused (never overwritten).",
)
@click.option(
    "--font",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="CJK font for the PDF.",
)
@handle_errors
def pins(
    db_url: str | None, village: str | None, hids: tuple[str, ...], out: Path, font: Path | None
) -> None:
    """REPLACE household PINs: new PINs and paper slips (old slips stop working).

    \b
    This command DOES replace PINs: every household it selects (--household, else
    every household of --village, else EVERY household in the database) gets a new
    PIN, and the PIN it held stops working at once: its old slip is useless. This is
    unlike `chipkit plates --db`, which keeps the PIN a household holds and makes
    slips only for households without one (unless its --new-pins). Use this for a
    household whose slip was lost or seen by someone else, or that has none yet.

    \b
    The slips go to a new file (an existing OUT is refused: an earlier slips file is
    never overwritten), mode 0600, written before any PIN changes: a failed write
    changes no PIN. Hand each slip to its household with the plate; never print the
    PIN on the plate. Only the Argon2id hashes are kept in the database.
    """
    from chipkit.serve.slips import replace_pins_to_file
    from chipkit.serve.store import open_database

    if out.suffix.lower() not in (".csv", ".pdf"):
        fail(f"{out}: the slips file must end in .csv or .pdf")
    if not out.parent.is_dir():
        fail(f"{out.parent}: no such folder")
    if out.is_dir():
        fail(f"{out}: a folder, not a slips file name")
    db = open_database(demo_or(db_url), create=False)
    from chipkit_cli.users import _by

    fnt = str(font) if font else None
    made = replace_pins_to_file(db, out, list(hids) or None, village=village, by=_by(), font=fnt)
    if not made:
        fail("no households matched (import the register first)", 1)
    click.echo(
        f"chipkit: {len(made)} new PINs (any PIN they held was replaced: its old slip stopped "
        f"working); their slips in {out} (mode 0600: hand each to its household)"
    )
