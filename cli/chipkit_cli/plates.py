"""`chipkit plates`: household register in, print-ready door plates out."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from chipkit_cli._common import EXIT_FAIL, EXIT_OK, fail, handle_errors, open_keyring

HELP = """Print door plates for every household of a register (CSV or XLSX).

\b
REGISTER  household register: CSV (UTF-8, UTF-8 with BOM or GB18030/GBK; detected)
          or XLSX. Columns by English or Chinese name, e.g. household_id/户号,
          village_code/村代码 (required), village_name/村名, house_no/门牌号,
          grid/网格, worker/网格员, worker_phone/联系电话, head/户主.

\b
Writes into OUT: the plates (PDF sheets, or one PNG/SVG per household),
manifest.json, manifest.csv and rejected.csv (the rejected rows as they are in
the register, plus reason, detail and row columns: fix them and feed the file
back as a register). The CSV files are UTF-8 with a byte-order mark (BOM), so
Excel on Chinese Windows opens them with the right characters.
Households that already hold a live plate are never given a second one: their
plate is kept (or re-rendered with the same token); --reissue mints a new plate
and revokes the old serial.

\b
--check REGISTER: a dry run. Lists every row a batch would reject; spends no
serial and writes no plate. --keys (optional) also checks households against
the plates already issued; --out (optional) writes OUT/rejected.csv, nothing else.

\b
Printed on the plate: district, township, village name, house number, grid,
grid worker and phone, plate serial. Never by default: the household head's
name and the household id (--print-head / --print-household-id).

\b
PIN slips: with --db (the service's database, or $CHIPKIT_DB) every household
with a plate in OUT that holds no PIN yet (new, or its PIN cleared by a revoke)
gets a household PIN (only its Argon2id hash is stored) and its slip in
OUT/pin-slips.pdf (10 per A4 page; or --slips csv), mode 0600: hand each slip to
its household with the plate, never print the PIN on it. A re-run that makes
slips writes a new file (pin-slips-2.pdf, pin-slips-3.pdf ...; the summary names
it): an earlier slips file is never replaced. A household that
already holds a PIN keeps it (its slip stays valid; no new slip; the summary
counts them); --new-pins replaces those PINs too (their old slips stop working).
The PINs are issued after the plates are written (a failed batch issues none);
if the slips cannot be written no PIN changes. Without --db no slip is made
(re-run with --db later; `chipkit households pins` REPLACES the PINs of the
households it selects); --no-pins makes no PIN at all.

\b
Exit codes: 0 every row has a plate (--check: every row is good) and, with --db,
its slip; 1 some rows were rejected (listed with row, column and reason; the good
rows were still issued) or some households got no slip (listed); 2 usage or input
error (nothing usable, no keyring, no CJK font, ...); 130 interrupted (a re-run
completes the batch).
"""


@click.command("plates", help=HELP)
@click.argument("register", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--keys",
    "keys_dir",
    type=click.Path(path_type=Path),
    help="Issuing keyring directory (required, except with --check).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (required, except with --check).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Dry run: list every bad row; no serial spent, no plate written "
    "(with --out: OUT/rejected.csv only).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["pdf", "png", "svg"]), default="pdf", show_default=True
)
@click.option(
    "--carrier",
    type=click.Choice(["snowflake", "qr"]),
    default="snowflake",
    show_default=True,
    help="The symbol: chipkit's hexagonal snowflake (read by chipkit's scanner and its /scan "
    "page), or QR (also read by stock phone cameras; needed for --url-prefix).",
)
@click.option(
    "--ec",
    "ec_level",
    type=click.Choice(["Q", "H"]),
    default="Q",
    show_default=True,
    help="QR error correction.",
)
@click.option(
    "--sheet",
    type=click.Choice(["a4", "a3"]),
    default="a4",
    show_default=True,
    help="PDF sheet (A4 4-up, A3 8-up).",
)
@click.option(
    "--dpi", type=click.IntRange(72, 2400), default=300, show_default=True, help="PNG resolution."
)
@click.option(
    "--vector-symbol",
    is_flag=True,
    help="PDF: draw QR modules as vector paths (default: an exact 1-bit image mask, "
    "one sample per module, never interpolated; faster).",
)
@click.option(
    "--reissue",
    is_flag=True,
    help="Mint new plates for households that hold one; revoke the old serials.",
)
@click.option(
    "--font",
    "font_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CJK TrueType font (.ttf/.ttc); default: found on the system or $CHIPKIT_FONT.",
)
@click.option(
    "--url-prefix",
    help="Put the chip behind a URL, e.g. HTTPS://JD.EXAMPLE.CN/C/ (upper case), so a stock "
    "phone camera opens it; needs --carrier qr.",
)
@click.option(
    "--expires",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Expiry date printed into the chip (YYYY-MM-DD).",
)
@click.option("--encoding", help="Force the CSV encoding instead of detecting it (e.g. gb18030).")
@click.option("--sheet-name", help="XLSX worksheet (default: the first).")
@click.option(
    "--print-head", is_flag=True, help="Also print the household head's name (off by default)."
)
@click.option(
    "--print-household-id", is_flag=True, help="Also print the household id (off by default)."
)
@click.option(
    "-j", "--jobs", type=click.IntRange(1, 64), help="Worker processes (default: all cores)."
)
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    envvar="CHIPKIT_DB",
    help="The service's database (SQLite file or postgresql:// URL; $CHIPKIT_DB): a PIN "
    "for each household that holds none (kept otherwise), slips in a new OUT/pin-slips[-N].pdf.",
)
@click.option(
    "--slips",
    "slips_fmt",
    type=click.Choice(["pdf", "csv"]),
    default="pdf",
    show_default=True,
    help="PIN slips file: pdf (10 per A4 page) or csv (UTF-8 with BOM).",
)
@click.option("--no-pins", is_flag=True, help="Make no PIN and no slip, even with --db.")
@click.option(
    "--new-pins",
    is_flag=True,
    help="With --db: also replace the PINs households already hold (new slips; their old "
    "slips stop working). Default: a household's PIN is kept.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no per-row report.")
@handle_errors
def plates(
    register: Path,
    keys_dir: Path | None,
    out: Path | None,
    check: bool,
    fmt: str,
    carrier: str,
    ec_level: str,
    sheet: str,
    dpi: int,
    vector_symbol: bool,
    reissue: bool,
    font_path: Path | None,
    url_prefix: str | None,
    expires: object,
    encoding: str | None,
    sheet_name: str | None,
    print_head: bool,
    print_household_id: bool,
    jobs: int | None,
    db_url: str | None,
    slips_fmt: str,
    no_pins: bool,
    new_pins: bool,
    quiet: bool,
) -> None:
    from chipkit.fonts import find_cjk_font
    from chipkit.plates import BatchOptions, run_batch
    from chipkit.plates.carriers import get_carrier
    from chipkit.register import ALL_FIELDS, DEFAULT_USE, read_register
    from chipkit.token import today_utc

    if check:
        use = ALL_FIELDS if print_head else DEFAULT_USE
        reg = read_register(register, encoding=encoding, sheet=sheet_name, use=use)
        _check(register, keys_dir, out, reissue, quiet, reg, sheet_name)
        return
    if keys_dir is None or out is None:
        fail("--keys and --out are required (or use --check for a dry run)")
    assert keys_dir is not None and out is not None
    if new_pins and (no_pins or not db_url):
        fail("--new-pins needs --db (or $CHIPKIT_DB) and contradicts --no-pins")
    # Fail fast on everything that would stop the batch, before touching anything.
    if url_prefix is not None and carrier != "qr":
        fail(
            "--url-prefix needs --carrier qr (a snowflake carries the binary chip, "
            "not a URL a phone camera could open)"
        )
    get_carrier(carrier, ec_level=ec_level)
    font = find_cjk_font(font_path)
    use = ALL_FIELDS if print_head else DEFAULT_USE  # the head is validated only if printed
    reg = read_register(register, encoding=encoding, sheet=sheet_name, use=use)
    _echo_register(register, reg, quiet)
    kr = open_keyring(keys_dir)
    db = None if no_pins or not db_url else _open_db(db_url)
    exp = expires.date() if isinstance(expires, datetime) else None
    if exp is not None and exp <= today_utc():
        fail("--expires must be in the future")
    opts = BatchOptions(
        out=out,
        fmt=fmt,
        carrier=carrier,
        ec_level=ec_level,
        sheet=sheet,
        dpi=dpi,
        reissue=reissue,
        url_prefix=url_prefix,
        expires=exp,
        show_head=print_head,
        show_household_id=print_household_id,
        jobs=jobs,
        font=font,
        pdf_vector=vector_symbol,
        register_sheet=sheet_name,
    )
    bar = _Progress(enabled=not quiet and sys.stderr.isatty())
    try:
        result = run_batch(reg, kr, opts, progress=bar.update)
    finally:
        bar.close()
    slips, all_slips = _slips(db, result.out, slips_fmt, font_path, no_pins, new_pins)
    _summary(register, result, font, quiet, slips)
    sys.exit(EXIT_FAIL if result.rejected or not all_slips else EXIT_OK)


def _open_db(url: str) -> Any:
    """The service's database, opened before any plate is printed (fail fast)."""
    try:
        from chipkit.serve.store import open_database
    except ImportError:
        fail("PIN slips need the service's extra: pip install 'chipkit[serve]'")
    return open_database(url, create=False)


def _slips(
    db: Any, out: Path, fmt: str, font: Path | None, no_pins: bool, new_pins: bool
) -> tuple[str, bool]:
    """New PINs and slips for the households with a plate in OUT that hold none (all with
    --new-pins) -> (the summary's clause, whether every household that has a plate there
    holds a PIN; True when none asked)."""
    if db is None:
        if no_pins:
            return "PINs unchanged (--no-pins)", True
        return (
            "no PIN slips made (no --db): run again with --db URL (PINs households hold are "
            "kept), or `chipkit households pins --db URL --household ID --out FILE` "
            "(replaces their PINs)",
            True,
        )
    from chipkit.serve.slips import SlipsError, issue_slips, plate_households
    from chipkit_cli.users import _by

    hids = plate_households(out)
    try:
        res = issue_slips(
            db, hids, out, fmt=fmt, by=_by(), font=str(font) if font else None, new_pins=new_pins
        )
    except SlipsError as e:
        return f"NO PIN slips for {len(hids)} households: {e}", False
    finally:
        db.dispose()
    return res.note(), not res.not_in_db


def _summary(register: Path, result: Any, font: Any, quiet: bool, slips: str) -> None:
    """The rejected rows and the one summary line (stderr)."""
    for p in result.problems:
        if not quiet:
            click.echo(f"  rejected: {register}: {p}", err=True)
    c = result.counts
    new = c["issued"] + c["reissued"] + c["reprinted"]
    click.echo(
        f"batch {result.batch}: {c['issued']} issued, {c['reissued']} reissued, "
        f"{c['reprinted']} reprinted, {c['existing']} already present, "
        f"{result.rejected} rejected; {new} plate{'' if new == 1 else 's'} rendered in {result.seconds:.1f} s"
        + (f" ({new / result.seconds:.0f}/s)" if new and result.seconds else "")
        + f"; font {font}; manifest {result.manifest_json}"
        + (f"; rejected rows in {result.rejected_csv}" if result.rejected else "")
        + f"; {slips}",
        err=True,
    )
    if any(result.recovered.values()):
        click.echo(f"recovered from an interrupted run: {result.recovered}", err=True)


def _echo_register(path: Path, reg: Any, quiet: bool) -> None:
    if not quiet:
        click.echo(f"register {path}: {reg.summary()}", err=True)
        if reg.ignored_columns:
            click.echo(f"  ignored columns: {', '.join(reg.ignored_columns)}", err=True)
        for w in reg.warnings:  # a formula's saved value used, an unused field dropped
            click.echo(f"  warning: {path}: {w}", err=True)
    if not reg.households and not reg.problems:
        fail(f"{path}: no household rows")


def _check(
    register: Path,
    keys_dir: Path | None,
    out: Path | None,
    reissue: bool,
    quiet: bool,
    reg: Any,
    sheet_name: str | None,
) -> None:
    """--check: every bad row, no serial spent, nothing written but OUT/rejected.csv."""
    from chipkit.plates import check_register

    _echo_register(register, reg, quiet)
    if keys_dir is not None and not keys_dir.is_dir():
        fail(f"{keys_dir}: no such keyring directory")
    res = check_register(reg, keys_dir, reissue=reissue, report_dir=out, sheet=sheet_name)
    for p in res.problems:
        click.echo(f"  rejected: {register}: {p}", err=True)
    click.echo(
        f"check {register}: {res.households} rows would get a plate, "
        f"{len(res.problems)} rejected; nothing issued"
        + (f"; rejected rows in {res.rejected_csv}" if res.rejected_csv else ""),
        err=True,
    )
    sys.exit(EXIT_FAIL if res.problems else EXIT_OK)


class _Progress:
    """A click progress bar on a terminal; nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.pos = 0

    def update(self, done: int, total: int) -> None:
        if not self.enabled or total == 0:
            return
        if self.bar is None:
            self.bar = click.progressbar(
                length=total, label="plates", file=sys.stderr, show_pos=True, show_eta=True
            )
            self.bar.__enter__()
        self.bar.update(done - self.pos)
        self.pos = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
