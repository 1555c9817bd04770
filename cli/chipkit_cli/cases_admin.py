"""`chipkit cases report|audit|sweep|workers|households`: assessment, audit, who is who."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chipkit_cli._cases_common import _out, _service, _when, db_option, json_option
from chipkit_cli._common import EXIT_FAIL, echo_json, handle_errors
from chipkit_cli.cases import cases


@cases.command()
@click.option(
    "--level",
    required=True,
    type=click.Choice(["grid", "village", "town", "district", "worker"]),
    help="One row per unit of this level.",
)
@click.option("--scope", help="Only within this unit (a village, town or district id).")
@click.option("--since", help="Start of the period (ISO date, UTC; default 30 days ago).")
@click.option("--until", help="End of the period, exclusive (default now).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to a file. A CSV file starts with a UTF-8 BOM, so Excel (also on Chinese "
    "Windows) opens it correctly.",
)
@click.option(
    "--excel",
    is_flag=True,
    help="CSV on standard output also starts with a UTF-8 BOM (for `> file.csv` opened in Excel).",
)
@db_option
@json_option
@handle_errors
def report(
    level: str,
    scope: str | None,
    since: str | None,
    until: str | None,
    fmt: str,
    out: Path | None,
    excel: bool,
    db_url: str | None,
    as_json: bool,
) -> None:
    """Assessment: cases by type and state, median/P90 time to accept and resolve, SLA breach,
    reopen, claimed vs resident-confirmed resolution, mean rating (only with >= 5 ratings),
    visit coverage. CSV cells are formula-safe."""
    svc = _service(db_url)
    rep = svc.report(
        level, scope=scope, since=_when(since, "--since"), until=_when(until, "--until")
    )
    if as_json:
        fmt = "json"
    text = {"table": rep.to_table, "csv": rep.to_csv, "json": rep.to_json}[fmt]()
    bom = "\ufeff" if fmt == "csv" else ""
    if out is not None:
        body = text if text.endswith("\n") else text + "\n"
        out.write_text(bom + body, encoding="utf-8")
        click.echo(f"wrote {out} ({len(rep.rows)} rows)", err=True)
    else:
        click.echo((bom if excel else "") + text.rstrip("\n"))


@cases.command()
@db_option
@json_option
@handle_errors
def audit(db_url: str | None, as_json: bool) -> None:
    """Verify the hash-chained audit log and replay it against the case, rating and visit
    rows: name the first broken link and every case whose row differs from its events.
    Exit 1 if anything is wrong."""
    svc = _service(db_url)
    rep = svc.audit_verify()
    if as_json:
        echo_json(rep.to_dict())
    else:
        if rep.chain_ok:
            line = f"audit chain ok: {rep.events} events"
        else:
            line = (
                f"audit chain BROKEN at event {rep.first_broken}: {rep.reason} "
                f"({rep.events} events verified before it)"
            )
        if rep.divergent:
            line += f"; {rep.divergent} case/visit rows DIFFER from their events:"
        elif rep.chain_ok:
            line += "; every case, rating and visit row matches its events"
        click.echo(line)
        for msg in rep.divergences:
            click.echo(f"  {msg}")
        if rep.divergent > len(rep.divergences):
            click.echo(f"  ... and {rep.divergent - len(rep.divergences)} more")
    if not rep.ok:
        sys.exit(EXIT_FAIL)


@cases.command()
@db_option
@json_option
@handle_errors
def sweep(db_url: str | None, as_json: bool) -> None:
    """Run the SLA timers (breach -> record + escalate) and close expired rating windows.

    Run it periodically (cron or a systemd timer)."""
    svc = _service(db_url)
    done = svc.sweep()
    lines = [
        f"case {d['case']}: {d['action']}"
        + (f" -> escalated to {d['escalated_to']}" if d.get("escalated_to") else "")
        + (
            f" (no active {d['escalated_to']} officer: it stays with its worker)"
            if "officer" in d
            else ""
        )
        for d in done
    ]
    _out(done, as_json, "\n".join(lines) or "nothing due")


@cases.command()
@click.option("--unit", help="Only this unit and below (district, town, village or grid id).")
@click.option(
    "--role",
    type=click.Choice(["grid", "village", "town", "district"]),
    help="Only grid workers, or officers of one level.",
)
@db_option
@json_option
@handle_errors
def workers(unit: str | None, role: str | None, db_url: str | None, as_json: bool) -> None:
    """List workers and officers: the ids other commands take (--worker, --by, --to).

    A grid worker's id comes from the register's worker id column, or is
    `<village code>-<grid>-<name>` (e.g. 330703003201-一网格-杜德明) when the register names
    the worker only."""
    svc = _service(db_url)
    rows = svc.list_workers(unit=unit, role=role)
    _out(
        rows,
        as_json,
        "\n".join(
            f"{w['id']}  {w['name'] or '-'}  {w['role']}  {w['unit_id']}"
            + ("" if w["active"] else "  (inactive)")
            for w in rows
        )
        or "(no workers)",
    )


@cases.command()
@click.option("--worker", help="Only the households linked to this worker.")
@click.option("--unit", help="Only this unit and below (district, town, village or grid id).")
@click.option("--limit", type=click.IntRange(1, 100000), default=10000, show_default=True)
@db_option
@json_option
@handle_errors
def households(
    worker: str | None, unit: str | None, limit: int, db_url: str | None, as_json: bool
) -> None:
    """List households with their grid and linked worker (the ids --household takes)."""
    svc = _service(db_url)
    rows = svc.list_households(worker_id=worker, unit=unit, limit=limit)
    _out(
        rows,
        as_json,
        "\n".join(
            f"{h['id']}  {h['grid_id']}  worker {h['worker_id'] or '(none)'}  {h['address'] or '-'}"
            for h in rows
        )
        or "(no households)",
    )
